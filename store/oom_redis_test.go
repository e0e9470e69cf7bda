package store_test

import (
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// TestRedisDrainsWhenOutOfMemory is finding 7 of issue 8: with maxmemory
// and noeviction at the limit Redis refuses scripts that write; claims and
// settles (and update handling, linking) must keep working so that the
// queue drains, while an enqueue is refused with ErrUnavailable. Before the
// fix the claim failed with "OOM command not allowed".
func TestRedisDrainsWhenOutOfMemory(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{Args: []string{"--maxmemory", "4mb", "--maxmemory-policy", "noeviction"}})
	client := srv.Client(t)
	st := store.NewRedis(client, "oom")
	q := st.Queue()
	t0 := time.Now().Truncate(time.Millisecond)
	ids := []string{"a", "b", "c"}
	for i, id := range ids {
		mustEnqueue(t, q, notif(id, "u", int64(10+i), t0))
	}
	if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: "tok", UserID: "w", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Fill Redis to its limit: big values, then ever smaller ones, until
	// even a small write is refused.
	n := 0
	for _, size := range []int{64 << 10, 4 << 10, 256, 16} {
		val := strings.Repeat("x", size)
		for ; ; n++ {
			err := client.Set(qctx(t), fmt.Sprintf("junk:%d", n), val, 0).Err()
			if err != nil {
				if !strings.Contains(err.Error(), "OOM") {
					t.Fatalf("filling: %v", err)
				}
				break
			}
			if n > 1_000_000 {
				t.Fatal("never reached maxmemory")
			}
		}
	}
	if err := client.Set(qctx(t), "probe", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("a small SET after filling = %v, want OOM", err)
	}
	if _, _, err := q.Enqueue(qctx(t), notif("d", "u", 20, t0), qOpts); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Enqueue under OOM = %v, want ErrUnavailable", err)
	}
	if _, err := q.Get(qctx(t), "d"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused record: Get = %v, want ErrNotFound", err)
	}
	// Claims and settles drain the queue.
	if got := drainOrder(t, q, t0); len(got) != len(ids) {
		t.Fatalf("drained %v under OOM, want %v", got, ids)
	}
	for _, id := range ids {
		if n := mustGet(t, q, id); n.State != delivery.StateSent {
			t.Fatalf("%s = %+v, want SENT", id, n)
		}
	}
	// Update handling and linking too.
	if s, err := st.ClaimUpdate(qctx(t), 1, time.Minute); err != nil || s != store.UpdateClaimed {
		t.Fatalf("ClaimUpdate under OOM = %v, %v", s, err)
	}
	if err := st.CompleteUpdate(qctx(t), 1, time.Hour); err != nil {
		t.Fatalf("CompleteUpdate under OOM = %v", err)
	}
	if _, err := st.ConsumeLinkToken(qctx(t), "tok", 77, "w", time.Now()); err != nil {
		t.Fatalf("ConsumeLinkToken under OOM = %v", err)
	}
}

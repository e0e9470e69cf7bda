package store_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// waitCase is one write checked by TestRedisWaitReplicas: it returns the
// write's error under the store's wait setting.
type waitCase struct {
	name  string
	write func(t *testing.T, st *store.Redis, id string) error
}

var waitWrites = []waitCase{
	{"enqueue", func(t *testing.T, st *store.Redis, id string) error {
		_, _, err := st.Queue().Enqueue(qctx(t), notif(id, "u", 1, time.Now()), qOpts)
		return err
	}},
	{"enqueue linked", func(t *testing.T, st *store.Redis, id string) error {
		_, _, err := st.Queue().EnqueueLinked(qctx(t), notif(id, "linked", 0, time.Now()), qOpts)
		return err
	}},
	{"consume link token", func(t *testing.T, st *store.Redis, id string) error {
		tok := "tok-" + id
		if err := st.PutLinkToken(qctx(t), store.LinkToken{Token: tok, UserID: "u-" + id, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		_, err := st.ConsumeLinkToken(qctx(t), tok, 5, "user", time.Now())
		return err
	}},
}

// checkWaits runs every write of waitWrites under WAIT n, expecting
// success or ErrUnavailable.
func checkWaits(t *testing.T, st *store.Redis, n int, wantOK bool, tag string) {
	t.Helper()
	// A loaded machine may take a while to acknowledge (and the replica
	// to finish its first sync): a generous bound where success is due,
	// a short one where the refusal is.
	timeout := 300 * time.Millisecond
	if wantOK {
		timeout = 10 * time.Second
	}
	st.SetWaitReplicas(n, timeout)
	for _, w := range waitWrites {
		err := w.write(t, st, fmt.Sprintf("%s-%s-%d", tag, w.name, n))
		if wantOK && err != nil {
			t.Errorf("%s with WAIT %d: %v, want success", w.name, n, err)
		}
		if !wantOK && !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with WAIT %d: %v, want ErrUnavailable", w.name, n, err)
		}
	}
}

// TestRedisWaitReplicas is finding 13 of issue 8: with
// NOTIFIER_REDIS_WAIT_REPLICAS=N the writes that accept a notification or
// consume a token wait for N replicas and answer UNAVAILABLE when fewer
// acknowledged in time. Against a real primary with a real replica
// (Sentinel) and a Cluster without replicas.
func TestRedisWaitReplicas(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		set := redistest.StartSentinel(t)
		st := openTopology(t, set.URL(), "w")
		mustLink(t, st, "linked", 9)
		checkWaits(t, st, 1, true, "up")
		checkWaits(t, st, 2, false, "two") // more than there are
		// Detach the replica: the primary has none left.
		primary := set.DataClient(t, set.MasterAddr(t))
		info, err := primary.Info(qctx(t), "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`slave0:ip=([^,]+),port=(\d+)`).FindStringSubmatch(info)
		if m == nil {
			t.Fatalf("no replica in %q", info)
		}
		replica := set.DataClient(t, m[1]+":"+m[2])
		if err := replica.Do(qctx(t), "REPLICAOF", "NO", "ONE").Err(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			info, err := primary.Info(qctx(t), "replication").Result()
			if err == nil && regexp.MustCompile(`connected_slaves:0`).MatchString(info) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica still connected: %q, %v", info, err)
			}
			time.Sleep(20 * time.Millisecond) // polling with a deadline
		}
		checkWaits(t, st, 1, false, "down")
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t)
		st := openTopology(t, c.URL(), store.KeyPrefix(c.URL()))
		mustLink(t, st, "linked", 9)
		checkWaits(t, st, 0, true, "off")
		checkWaits(t, st, 1, false, "none") // no replicas in this cluster
	})
}

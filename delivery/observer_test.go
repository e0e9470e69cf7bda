package delivery_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
)

// recObserver records the events it is told about.
type recObserver struct {
	mu     sync.Mutex
	events []string
}

func (o *recObserver) add(e string) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
}

func (o *recObserver) Accepted()                { o.add("accepted") }
func (o *recObserver) Finished(state, r string) { o.add("finished " + state + " " + r) }
func (o *recObserver) Ambiguous()               { o.add("ambiguous") }
func (o *recObserver) Reply(outcome string)     { o.add("reply " + outcome) }
func (o *recObserver) RateLimited(ra time.Duration) {
	o.add(fmt.Sprintf("429 %v", ra))
}

// count returns how many times event was recorded.
func (o *recObserver) count(event string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, e := range o.events {
		if e == event {
			n++
		}
	}
	return n
}

func (o *recObserver) snapshot() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events)
}

// timeoutOnce makes the first send to chat fail like a request whose
// answer never came.
type timeoutOnce struct {
	next delivery.Sender
	chat int64
	once sync.Once
}

func (s *timeoutOnce) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	fired := false
	if p.ChatID == s.chat {
		s.once.Do(func() { fired = true })
	}
	if fired {
		return telegram.Message{}, fmt.Errorf("sendMessage: %w", context.DeadlineExceeded)
	}
	return s.next.SendMessage(ctx, p)
}

func TestObserver(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			h := newHarness(t, b, testConfig())
			h.stop() // restart with an observer and a sender that times out once
			obs := &recObserver{}
			d := delivery.New(testConfig(), b.q, &timeoutOnce{next: h.tg.Client(), chat: 11}, nil)
			d.SetObserver(obs)
			h.d = d
			t.Cleanup(h.run(d))

			h.link("ok", 10)
			h.link("slow", 11)
			h.tg.FailNext("sendMessage", 1, 429, "", 1)
			ids := []string{
				h.enqueue(delivery.Request{UserID: "ok", ChatID: 10, Text: "one", IdempotencyKey: "k"}).ID,
				h.enqueue(delivery.Request{UserID: "ok", ChatID: 10, Text: "two"}).ID,
				h.enqueue(delivery.Request{UserID: "slow", ChatID: 11, Text: "late"}).ID,
				h.enqueue(delivery.Request{UserID: "nobody", ChatID: 12, Text: "lost"}).ID,
			}
			if _, dup, err := d.Enqueue(ctxT(t), delivery.Request{UserID: "ok", ChatID: 10, Text: "one", IdempotencyKey: "k"}); err != nil || !dup {
				t.Fatalf("duplicate Enqueue = %v, %v", dup, err)
			}
			for _, id := range ids {
				waitFinal(t, d, id)
			}
			waitFor(t, "every event", func() bool { return len(obs.snapshot()) >= 4+4+2 })
			want := map[string]int{
				"accepted": 4, "finished sent ": 3, "finished failed not_linked": 1, "ambiguous": 1, "429 1s": 1,
			}
			for e, n := range want {
				if got := obs.count(e); got != n {
					t.Errorf("%q reported %d times, want %d; events %q", e, got, n, obs.snapshot())
				}
			}
			st := d.Stats()
			if st.Enqueued != 4 || st.Sent != 3 || st.Failed[delivery.ReasonNotLinked] != 1 || st.Ambiguous != 1 || st.RateLimited != 1 {
				t.Errorf("stats %+v disagree with the observer", st)
			}
			d.SetObserver(nil) // back to none: must not panic
			h.enqueue(delivery.Request{UserID: "ok", ChatID: 10, Text: "three"})
		})
	}
}

func TestDispatcherBacklog(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			d := delivery.New(testConfig(), b.q, nil, nil) // not running: nothing leaves
			if n, oldest, err := d.Backlog(ctxT(t)); err != nil || n != 0 || !oldest.IsZero() {
				t.Fatalf("empty Backlog = %d, %v, %v", n, oldest, err)
			}
			first, _, err := d.Enqueue(ctxT(t), delivery.Request{UserID: "u", ChatID: 1, Text: "a"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.Enqueue(ctxT(t), delivery.Request{UserID: "v", ChatID: 2, Text: "b"}); err != nil {
				t.Fatal(err)
			}
			n, oldest, err := d.Backlog(ctxT(t))
			if err != nil || n != 2 || !oldest.Equal(first.CreatedAt.Truncate(time.Millisecond)) && !oldest.Equal(first.CreatedAt) {
				t.Fatalf("Backlog = %d, %v, %v; want 2, %v", n, oldest, err, first.CreatedAt)
			}
		})
	}
}

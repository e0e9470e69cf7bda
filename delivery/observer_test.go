package delivery_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
)

// recObserver records the events it is told about: the notifications'
// events (and the auth events) in order, and every event counted, for
// stats.
type recObserver struct {
	mu     sync.Mutex
	events []string
	counts map[string]int64
	failed map[string]int64
}

var _ delivery.Observer = (*recObserver)(nil)

func (o *recObserver) add(e string) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
	o.inc(e)
}

// inc counts an event without recording it in the list.
func (o *recObserver) inc(kind string) {
	o.mu.Lock()
	if o.counts == nil {
		o.counts = map[string]int64{}
	}
	o.counts[kind]++
	o.mu.Unlock()
}

func (o *recObserver) Accepted() { o.add("accepted") }
func (o *recObserver) Finished(state, r string) {
	if state == delivery.FinishedFailed {
		o.mu.Lock()
		if o.failed == nil {
			o.failed = map[string]int64{}
		}
		o.failed[r]++
		o.mu.Unlock()
	}
	o.add("finished " + state + " " + r)
}
func (o *recObserver) Ambiguous()           { o.add("ambiguous") }
func (o *recObserver) Reply(outcome string) { o.add("reply " + outcome) }
func (o *recObserver) RateLimited(ra time.Duration) {
	o.inc("429")
	o.add(fmt.Sprintf("429 %v", ra))
}
func (o *recObserver) AuthFailed(reason string) { o.inc("auth failed"); o.add("auth failed " + reason) }
func (o *recObserver) AuthRecovered()           { o.add("auth recovered") }
func (o *recObserver) Duplicate()               { o.inc("duplicate") }
func (o *recObserver) PartSent()                { o.inc("part sent") }
func (o *recObserver) Retried()                 { o.inc("retried") }
func (o *recObserver) Fallback()                { o.inc("fallback") }
func (o *recObserver) Migrated()                { o.inc("migrated") }
func (o *recObserver) LeaseLost()               { o.inc("lease lost") }

// stats are the counts of a recObserver (the former Dispatcher.Stats).
type stats struct {
	Enqueued, Duplicates, Sent, PartsSent int64
	Failed                                map[string]int64
	Retries, RateLimited, Ambiguous       int64
	Fallbacks, Migrated, LeaseLost        int64
	AuthFailures                          int64
}

// stats returns the counts so far.
func (o *recObserver) stats() stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.counts
	return stats{
		Enqueued: c["accepted"], Duplicates: c["duplicate"], Sent: c["finished sent "] + c["reply sent"],
		PartsSent: c["part sent"], Failed: maps.Clone(o.failed), Retries: c["retried"], RateLimited: c["429"],
		Ambiguous: c["ambiguous"], Fallbacks: c["fallback"], Migrated: c["migrated"], LeaseLost: c["lease lost"],
		AuthFailures: c["auth failed"],
	}
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
	delivery.Sender // the wrapped sender (photos and documents pass through)
	chat            int64
	once            sync.Once
}

func (s *timeoutOnce) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	fired := false
	if p.ChatID == s.chat {
		s.once.Do(func() { fired = true })
	}
	if fired {
		return telegram.Message{}, fmt.Errorf("sendMessage: %w", context.DeadlineExceeded)
	}
	return s.Sender.SendMessage(ctx, p)
}

func TestObserver(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			h := newHarness(t, b, testConfig())
			h.stop() // restart with an observer and a sender that times out once
			obs := &recObserver{}
			d := delivery.New(testConfig(), b.q, &timeoutOnce{Sender: h.tg.Client(), chat: 11}, nil)
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
			st := obs.stats()
			if st.Enqueued != 4 || st.Duplicates != 1 || st.Sent != 3 || st.Failed[delivery.ReasonNotLinked] != 1 || st.Ambiguous != 1 || st.RateLimited != 1 {
				t.Errorf("stats %+v disagree with the events", st)
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

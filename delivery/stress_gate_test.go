package delivery_test

// Kill switches for the stress test's replicas. A replica's queue (with
// its links and limiter) and sender are wrapped in one gate; killing the
// replica closes the gate: every call it makes from then on (and every
// answer still on its way back) blocks until the end of the run, like a
// process that got kill -9. Nothing is released, drained or settled: its
// leases lapse and other replicas take the chats over.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
)

// errKilled is what a killed replica's calls return once the run is over.
var errKilled = errors.New("stress: replica was killed")

// gate freezes one replica.
type gate struct {
	mu       sync.Mutex
	dead     bool
	thaw     chan struct{} // closed at the end of the run
	thawOnce sync.Once
	inflight int // sendMessage calls in progress
	atKill   int // sendMessage calls in progress when the replica was killed
	// held are the chats the replica's workers hold (claimed, not yet
	// settled); frozen at the kill, they stay leased until the lease
	// lapses.
	held map[int64]bool
}

func newGate() *gate { return &gate{thaw: make(chan struct{}), held: map[int64]bool{}} }

// kill freezes the replica and returns the number of sends in flight and
// the chats its workers held.
func (g *gate) kill() (int, []int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.dead {
		g.dead = true
		g.atKill = g.inflight
	}
	var held []int64
	for c := range g.held {
		held = append(held, c)
	}
	return g.atKill, held
}

// hold records that the replica claimed chat (ok) or settled it.
func (g *gate) hold(chat int64, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ok {
		g.held[chat] = true
	} else {
		delete(g.held, chat)
	}
}

// release lets the frozen calls return errKilled (end of the run).
func (g *gate) release() { g.thawOnce.Do(func() { close(g.thaw) }) }

// pass blocks while the replica is dead (until release) and reports
// whether it was dead.
func (g *gate) pass() bool {
	g.mu.Lock()
	dead := g.dead
	g.mu.Unlock()
	if dead {
		<-g.thaw
	}
	return dead
}

// killedErr is errKilled wrapped as the store error kind the dispatcher
// gives up on fastest.
func killedErr(kind error) error { return fmt.Errorf("%w: %w", kind, errKilled) }

// gatedQueue is a delivery.Queue (with its links and limiter) behind a
// gate.
type gatedQueue struct {
	q delivery.Queue
	g *gate
}

var _ delivery.Queue = (*gatedQueue)(nil)

// call runs f behind the gate: a killed replica's call, or its answer,
// blocks until the end of the run and then fails with kind.
func (q *gatedQueue) call(kind error, f func() error) error {
	if q.g.pass() {
		return killedErr(kind)
	}
	err := f()
	if q.g.pass() {
		return killedErr(kind)
	}
	return err
}

func (q *gatedQueue) EnqueueLinked(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (got delivery.Notification, dup bool, err error) {
	err = q.call(delivery.ErrUnavailable, func() (err error) {
		got, dup, err = q.q.EnqueueLinked(ctx, n, opts)
		return err
	})
	return got, dup, err
}

func (q *gatedQueue) Pause(ctx context.Context, d time.Duration) error {
	return q.call(delivery.ErrUnavailable, func() error { return q.q.Pause(ctx, d) })
}

func (q *gatedQueue) Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (w, p time.Duration, err error) {
	err = q.call(delivery.ErrUnavailable, func() (err error) {
		w, p, err = q.q.Acquire(ctx, name, rate, burst, maxWait)
		return err
	})
	return w, p, err
}

func (q *gatedQueue) UnlinkBlocked(ctx context.Context, userID string, chatID int64) error {
	return q.call(delivery.ErrUnavailable, func() error { return q.q.UnlinkBlocked(ctx, userID, chatID) })
}

func (q *gatedQueue) Enqueue(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	if q.g.pass() {
		return delivery.Notification{}, false, killedErr(delivery.ErrUnavailable)
	}
	got, dup, err := q.q.Enqueue(ctx, n, opts)
	if q.g.pass() {
		return delivery.Notification{}, false, killedErr(delivery.ErrUnavailable)
	}
	return got, dup, err
}

func (q *gatedQueue) Claim(ctx context.Context, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	if q.g.pass() {
		return delivery.Claim{}, false, killedErr(delivery.ErrUnavailable)
	}
	c, ok, err := q.q.Claim(ctx, now, opts)
	if err == nil && ok {
		q.g.hold(c.ChatID, true)
	}
	if q.g.pass() {
		return delivery.Claim{}, false, killedErr(delivery.ErrUnavailable)
	}
	return c, ok, err
}

func (q *gatedQueue) Settle(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, retention time.Duration) error {
	if q.g.pass() {
		return killedErr(delivery.ErrLeaseLost)
	}
	err := q.q.Settle(ctx, c, o, now, retention)
	q.g.hold(c.ChatID, false)
	if q.g.pass() {
		return killedErr(delivery.ErrLeaseLost)
	}
	return err
}

func (q *gatedQueue) SettleAndClaim(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	if q.g.pass() {
		return delivery.Claim{}, false, killedErr(delivery.ErrLeaseLost)
	}
	next, ok, err := q.q.SettleAndClaim(ctx, c, o, now, opts)
	q.g.hold(c.ChatID, false)
	if err == nil && ok {
		q.g.hold(next.ChatID, true)
	}
	if q.g.pass() {
		return delivery.Claim{}, false, killedErr(delivery.ErrLeaseLost)
	}
	return next, ok, err
}

func (q *gatedQueue) Migrate(ctx context.Context, c delivery.Claim, newChat int64, now time.Time) error {
	if q.g.pass() {
		return killedErr(delivery.ErrLeaseLost)
	}
	err := q.q.Migrate(ctx, c, newChat, now)
	q.g.hold(c.ChatID, false)
	if q.g.pass() {
		return killedErr(delivery.ErrLeaseLost)
	}
	return err
}

func (q *gatedQueue) NextDue(ctx context.Context) (time.Time, bool, error) {
	if q.g.pass() {
		return time.Time{}, false, killedErr(delivery.ErrUnavailable)
	}
	at, ok, err := q.q.NextDue(ctx)
	if q.g.pass() {
		return time.Time{}, false, killedErr(delivery.ErrUnavailable)
	}
	return at, ok, err
}

func (q *gatedQueue) Get(ctx context.Context, id string) (delivery.Notification, error) {
	if q.g.pass() {
		return delivery.Notification{}, killedErr(delivery.ErrUnavailable)
	}
	return q.q.Get(ctx, id)
}

func (q *gatedQueue) Edit(ctx context.Context, e delivery.Edit) (delivery.Notification, error) {
	if q.g.pass() {
		return delivery.Notification{}, killedErr(delivery.ErrUnavailable)
	}
	return q.q.Edit(ctx, e)
}

func (q *gatedQueue) Delete(ctx context.Context, id string, now time.Time, retention time.Duration) (delivery.Notification, error) {
	if q.g.pass() {
		return delivery.Notification{}, killedErr(delivery.ErrUnavailable)
	}
	return q.q.Delete(ctx, id, now, retention)
}

func (q *gatedQueue) Summary(ctx context.Context, userID string) (delivery.UserSummary, error) {
	if q.g.pass() {
		return delivery.UserSummary{}, killedErr(delivery.ErrUnavailable)
	}
	return q.q.Summary(ctx, userID)
}

func (q *gatedQueue) Backlog(ctx context.Context) (int64, time.Time, error) {
	if q.g.pass() {
		return 0, time.Time{}, killedErr(delivery.ErrUnavailable)
	}
	return q.q.Backlog(ctx)
}

// gatedSender is a delivery.Sender behind a gate: a send in flight when
// the replica is killed may reach Telegram, but its answer never comes
// back.
type gatedSender struct {
	delivery.Sender // the wrapped sender (photos and documents pass through)
	g               *gate
}

func (s *gatedSender) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	s.g.mu.Lock()
	if s.g.dead {
		s.g.mu.Unlock()
		<-s.g.thaw
		return telegram.Message{}, errKilled
	}
	s.g.inflight++ // counted under the same lock as the check: kill sees it
	s.g.mu.Unlock()
	m, err := s.Sender.SendMessage(ctx, p)
	s.g.mu.Lock()
	s.g.inflight--
	s.g.mu.Unlock()
	if s.g.pass() {
		return telegram.Message{}, errKilled
	}
	return m, err
}

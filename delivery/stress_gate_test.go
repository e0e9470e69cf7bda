package delivery_test

// Kill switches for the stress test's replicas. A replica's queue,
// limiter, link store and sender are wrapped in one gate; killing the
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
	"github.com/tgnotify/tgnotify/store"
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

// gatedQueue is a delivery.Queue behind a gate. It forwards the optional
// methods the dispatcher looks for (Links, SharesLimiter) so that a gated
// Redis queue keeps the claim-time link check and slot reservation.
type gatedQueue struct {
	q     delivery.Queue
	g     *gate
	links store.Store // the gated link store handed to delivery.New
	inner store.Store // the link store q reads (to answer Links)
}

var _ delivery.Queue = (*gatedQueue)(nil)

func (q *gatedQueue) Links() store.Store {
	lq, ok := q.q.(interface{ Links() store.Store })
	if !ok || lq.Links() != q.inner {
		return nil
	}
	return q.links
}

func (q *gatedQueue) SharesLimiter(l any) bool {
	sq, ok := q.q.(interface{ SharesLimiter(any) bool })
	if !ok {
		return false
	}
	if gl, ok := l.(*gatedLimiter); ok {
		return sq.SharesLimiter(gl.lim)
	}
	return false
}

func (q *gatedQueue) Enqueue(ctx context.Context, n store.Notification, opts store.EnqueueOptions) (store.Notification, bool, error) {
	if q.g.pass() {
		return store.Notification{}, false, killedErr(store.ErrUnavailable)
	}
	got, dup, err := q.q.Enqueue(ctx, n, opts)
	if q.g.pass() {
		return store.Notification{}, false, killedErr(store.ErrUnavailable)
	}
	return got, dup, err
}

func (q *gatedQueue) Claim(ctx context.Context, now time.Time, opts store.ClaimOptions) (store.Claim, bool, error) {
	if q.g.pass() {
		return store.Claim{}, false, killedErr(store.ErrUnavailable)
	}
	c, ok, err := q.q.Claim(ctx, now, opts)
	if err == nil && ok {
		q.g.hold(c.ChatID, true)
	}
	if q.g.pass() {
		return store.Claim{}, false, killedErr(store.ErrUnavailable)
	}
	return c, ok, err
}

func (q *gatedQueue) Settle(ctx context.Context, c store.Claim, o store.Outcome, now time.Time, retention time.Duration) error {
	if q.g.pass() {
		return killedErr(store.ErrLeaseLost)
	}
	err := q.q.Settle(ctx, c, o, now, retention)
	q.g.hold(c.ChatID, false)
	if q.g.pass() {
		return killedErr(store.ErrLeaseLost)
	}
	return err
}

func (q *gatedQueue) SettleAndClaim(ctx context.Context, c store.Claim, o store.Outcome, now time.Time, opts store.ClaimOptions) (store.Claim, bool, error) {
	if q.g.pass() {
		return store.Claim{}, false, killedErr(store.ErrLeaseLost)
	}
	next, ok, err := q.q.SettleAndClaim(ctx, c, o, now, opts)
	q.g.hold(c.ChatID, false)
	if err == nil && ok {
		q.g.hold(next.ChatID, true)
	}
	if q.g.pass() {
		return store.Claim{}, false, killedErr(store.ErrLeaseLost)
	}
	return next, ok, err
}

func (q *gatedQueue) Migrate(ctx context.Context, c store.Claim, newChat int64, now time.Time) error {
	if q.g.pass() {
		return killedErr(store.ErrLeaseLost)
	}
	err := q.q.Migrate(ctx, c, newChat, now)
	q.g.hold(c.ChatID, false)
	if q.g.pass() {
		return killedErr(store.ErrLeaseLost)
	}
	return err
}

func (q *gatedQueue) NextDue(ctx context.Context) (time.Time, bool, error) {
	if q.g.pass() {
		return time.Time{}, false, killedErr(store.ErrUnavailable)
	}
	at, ok, err := q.q.NextDue(ctx)
	if q.g.pass() {
		return time.Time{}, false, killedErr(store.ErrUnavailable)
	}
	return at, ok, err
}

func (q *gatedQueue) Get(ctx context.Context, id string) (store.Notification, error) {
	if q.g.pass() {
		return store.Notification{}, killedErr(store.ErrUnavailable)
	}
	return q.q.Get(ctx, id)
}

func (q *gatedQueue) Summary(ctx context.Context, userID string) (store.UserSummary, error) {
	if q.g.pass() {
		return store.UserSummary{}, killedErr(store.ErrUnavailable)
	}
	return q.q.Summary(ctx, userID)
}

func (q *gatedQueue) Backlog(ctx context.Context) (int64, time.Time, error) {
	if q.g.pass() {
		return 0, time.Time{}, killedErr(store.ErrUnavailable)
	}
	return q.q.Backlog(ctx)
}

// gatedLimiter is a delivery.Limiter behind a gate.
type gatedLimiter struct {
	lim delivery.Limiter
	g   *gate
}

var _ delivery.Limiter = (*gatedLimiter)(nil)

func (l *gatedLimiter) Pause(ctx context.Context, d time.Duration) error {
	if l.g.pass() {
		return killedErr(store.ErrUnavailable)
	}
	err := l.lim.Pause(ctx, d)
	if l.g.pass() {
		return killedErr(store.ErrUnavailable)
	}
	return err
}

func (l *gatedLimiter) Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (time.Duration, time.Duration, error) {
	if l.g.pass() {
		return 0, 0, killedErr(store.ErrUnavailable)
	}
	w, p, err := l.lim.Acquire(ctx, name, rate, burst, maxWait)
	if l.g.pass() {
		return 0, 0, killedErr(store.ErrUnavailable)
	}
	return w, p, err
}

// gatedLinks is a link store behind a gate for the calls the dispatcher
// makes; the rest pass through.
type gatedLinks struct {
	store.Store
	g *gate
}

func (s *gatedLinks) GetLink(ctx context.Context, userID string) (store.Link, error) {
	if s.g.pass() {
		return store.Link{}, killedErr(store.ErrUnavailable)
	}
	l, err := s.Store.GetLink(ctx, userID)
	if s.g.pass() {
		return store.Link{}, killedErr(store.ErrUnavailable)
	}
	return l, err
}

func (s *gatedLinks) Unlink(ctx context.Context, userID string) error {
	if s.g.pass() {
		return killedErr(store.ErrUnavailable)
	}
	err := s.Store.Unlink(ctx, userID)
	if s.g.pass() {
		return killedErr(store.ErrUnavailable)
	}
	return err
}

func (s *gatedLinks) UpdateChatID(ctx context.Context, oldID, newID int64) ([]string, error) {
	if s.g.pass() {
		return nil, killedErr(store.ErrUnavailable)
	}
	users, err := s.Store.UpdateChatID(ctx, oldID, newID)
	if s.g.pass() {
		return nil, killedErr(store.ErrUnavailable)
	}
	return users, err
}

// gatedSender is a delivery.Sender behind a gate: a send in flight when
// the replica is killed may reach Telegram, but its answer never comes
// back.
type gatedSender struct {
	next delivery.Sender
	g    *gate
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
	m, err := s.next.SendMessage(ctx, p)
	s.g.mu.Lock()
	s.g.inflight--
	s.g.mu.Unlock()
	if s.g.pass() {
		return telegram.Message{}, errKilled
	}
	return m, err
}

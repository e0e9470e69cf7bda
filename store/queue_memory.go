package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"strconv"
	"time"
)

// MemoryQueue is the in-process notification queue for the embedded mode:
// the same semantics as [RedisQueue] (atomic enqueue with idempotency,
// per-chat FIFO backlogs, a schedule of chats, leases taken over after they
// expire, fencing tokens, retention) kept in maps under one mutex. Nothing
// survives a restart. Create it with [NewMemoryQueue].
type MemoryQueue struct {
	clock func() time.Time

	memGuard
	tokenSeq  uint64
	recs      map[string]*memRecord
	idem      map[string]memIdem
	queues    map[int64][]string
	sched     map[int64]time.Time
	notBefore map[int64]time.Time // idle chats' pacing: no send before this
	leases    map[int64]memLease
	users     map[string]*memSummary
	links     *Memory                // the links enqueues and claims read and migrations move
	lim       *MemoryLimiter         // the limit claims reserve in (lock order: mu, lim.mu, links.mu)
	migrated  map[int64]memMigration // leases moved by a migration (migrate_memory.go)
	pressSeen map[string]time.Time   // callback query id → expiry of its de-duplication (press.go)
	bcs       memBroadcasts          // broadcasts (broadcast_memory.go)
}

type memRecord struct {
	n       delivery.Notification
	expires time.Time
}

type memIdem struct {
	id      string
	expires time.Time
}

type memLease struct {
	token string
	until time.Time
}

type memSummary struct {
	queued, sent, failed int64
	cancelled            int64 // not reported: as in Redis
	last                 string
	expires              time.Time
}

var _ delivery.Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns an empty in-process queue whose record expiry
// follows now (time.Now when nil), with links of its own (an empty
// [Memory]: nobody is linked): NewMemoryWithClock(now).Queue(). The times
// given to Claim, Settle and the notifications' CreatedAt drive
// scheduling and leases.
func NewMemoryQueue(now func() time.Time) *MemoryQueue {
	return NewMemoryWithClock(now).Queue()
}

// newMemoryQueue returns an empty queue on links, with a limiter of its
// own, reading the time from now.
func newMemoryQueue(now func() time.Time, links *Memory) *MemoryQueue {
	return &MemoryQueue{
		clock:     now,
		memGuard:  memGuard{lastSweep: now()},
		recs:      make(map[string]*memRecord),
		idem:      make(map[string]memIdem),
		queues:    make(map[int64][]string),
		sched:     make(map[int64]time.Time),
		notBefore: make(map[int64]time.Time),
		leases:    make(map[int64]memLease),
		users:     make(map[string]*memSummary),
		links:     links,
		lim:       NewMemoryLimiter(now),
	}
}

// Pause stops every sender for at least d (after a 429): claims given a
// Limit and Acquire report the pause while it lasts.
func (m *MemoryQueue) Pause(ctx context.Context, d time.Duration) error { return m.lim.Pause(ctx, d) }

// Acquire takes a slot of the named limit in the budget the claims
// reserve in; see [MemoryLimiter.Acquire].
func (m *MemoryQueue) Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error) {
	return m.lim.Acquire(ctx, name, rate, burst, maxWait)
}

// UnlinkBlocked removes userID's link while it points at chatID (the chat
// answered 403) and appends USER_UNLINKED reason "blocked"; nil, changing
// nothing, when it does not.
func (m *MemoryQueue) UnlinkBlocked(ctx context.Context, userID string, chatID int64) error {
	if err := m.links.UnlinkFromChat(ctx, userID, chatID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// Close drops all state; later calls fail with ErrUnavailable.
func (m *MemoryQueue) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	clear(m.recs)
	clear(m.idem)
	clear(m.queues)
	clear(m.sched)
	clear(m.leases)
	clear(m.users)
	return nil
}

// lock takes the mutex after checking ctx and the closed flag; the caller
// must unlock m.mu on success. It returns the clock's time.
func (m *MemoryQueue) lock(ctx context.Context, op string) (time.Time, error) {
	return m.memGuard.lock(ctx, op, "memory queue", m.clock, m.sweepLocked)
}

// sweepLocked drops expired records, idempotency keys and summaries.
func (m *MemoryQueue) sweepLocked(now time.Time) {
	for chat, nb := range m.notBefore {
		if !now.Before(nb) {
			delete(m.notBefore, chat)
		}
	}
	for id, r := range m.recs {
		if !now.Before(r.expires) {
			delete(m.recs, id)
		}
	}
	for k, e := range m.idem {
		if !now.Before(e.expires) {
			delete(m.idem, k)
		}
	}
	for u, s := range m.users {
		if !now.Before(s.expires) {
			delete(m.users, u)
		}
	}
}

// recLocked returns the live record id or nil.
func (m *MemoryQueue) recLocked(id string, now time.Time) *memRecord {
	r := m.recs[id]
	if r == nil {
		return nil
	}
	if !now.Before(r.expires) {
		delete(m.recs, id)
		return nil
	}
	return r
}

// summaryLocked returns the user's live summary, creating it.
func (m *MemoryQueue) summaryLocked(user string, now time.Time) *memSummary {
	s := m.users[user]
	if s == nil || !now.Before(s.expires) {
		s = &memSummary{}
		m.users[user] = s
	}
	return s
}

// idemKey is the map key of a user's idempotency key.
func idemKey(user, key string) string { return strconv.Itoa(len(user)) + ":" + user + ":" + key }

// Enqueue stores n (State QUEUED) at the tail of its chat's backlog (a
// reply at its head, see [delivery.Notification.Reply]) and
// schedules the chat now unless it is scheduled or leased already. When
// n.IdempotencyKey was used by n.UserID before and is still remembered,
// nothing is written and the earlier notification is returned with
// duplicate true (its record may have expired: then only ID is set).
func (m *MemoryQueue) Enqueue(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	clock, err := m.lock(ctx, "enqueue")
	if err != nil {
		return delivery.Notification{}, false, err
	}
	defer m.mu.Unlock()
	return m.enqueueLocked(clock, n, opts)
}

// EnqueueLinked is Enqueue to the chat n.UserID is linked to in the
// queue's links, read in the same step (n.ChatID is ignored; the returned
// notification carries the chat). When the user is not linked nothing is
// written and the error wraps delivery.ErrNotLinked and ErrNotFound.
func (m *MemoryQueue) EnqueueLinked(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	clock, err := m.lock(ctx, "enqueue")
	if err != nil {
		return delivery.Notification{}, false, err
	}
	defer m.mu.Unlock()
	chat, ok := m.linkedChatLocked(n.UserID)
	if !ok {
		return delivery.Notification{}, false, fmt.Errorf("store: link of user %q: %w: %w", n.UserID,
			delivery.ErrNotLinked, ErrNotFound)
	}
	n.ChatID = chat
	return m.enqueueLocked(clock, n, opts)
}

// linkedChatLocked returns the chat user is linked to in m's links.
func (m *MemoryQueue) linkedChatLocked(user string) (int64, bool) {
	m.links.mu.Lock()
	defer m.links.mu.Unlock()
	l, ok := m.links.links[user]
	return l.ChatID, ok
}

// enqueueLocked is Enqueue under the lock.
func (m *MemoryQueue) enqueueLocked(clock time.Time, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	k := ""
	if n.IdempotencyKey != "" {
		k = idemKey(n.UserID, n.IdempotencyKey)
		if e, ok := m.idem[k]; ok && clock.Before(e.expires) {
			if r := m.recLocked(e.id, clock); r != nil {
				return r.n.Clone(), true, nil
			}
			return delivery.Notification{ID: e.id}, true, nil
		}
	}
	if err := m.admitLocked(n.UserID, opts, clock); err != nil { // limits.go
		return delivery.Notification{}, false, err
	}
	if k != "" {
		m.idem[k] = memIdem{id: n.ID, expires: clock.Add(opts.IdempotencyTTL)}
	}
	n = n.Clone()
	n.State = delivery.StateQueued
	n.UpdatedAt = n.CreatedAt
	n.TextLen, n.TextSHA256 = textDigest(n.Parts)
	m.recs[n.ID] = &memRecord{n: n, expires: clock.Add(opts.Retention)}
	if n.Reply {
		m.queues[n.ChatID] = m.withReplyLocked(m.queues[n.ChatID], n.ID, clock)
	} else {
		m.queues[n.ChatID] = append(m.queues[n.ChatID], n.ID)
	}
	if _, leased := m.leases[n.ChatID]; !leased {
		if _, ok := m.sched[n.ChatID]; !ok {
			at := n.CreatedAt
			if nb, ok := m.notBefore[n.ChatID]; ok && nb.After(at) {
				at = nb
			}
			delete(m.notBefore, n.ChatID)
			m.sched[n.ChatID] = at
		}
	}
	if !n.Reply {
		s := m.summaryLocked(n.UserID, clock)
		s.queued++
		s.last = n.ID
		s.expires = clock.Add(opts.Retention)
	}
	return n.Clone(), false, nil
}

// withReplyLocked returns backlog q with the reply id at its head, or just
// behind the head when some parts of the head are sent already.
func (m *MemoryQueue) withReplyLocked(q []string, id string, clock time.Time) []string {
	if len(q) > 0 {
		if r := m.recLocked(q[0], clock); r != nil && r.n.NextPart > 0 {
			return append([]string{q[0], id}, q[1:]...)
		}
	}
	return append([]string{id}, q...)
}

// Claim first returns chats whose lease expired before now to the schedule
// (the visibility timeout), then leases the due chat with the earliest
// schedule time for opts.Lease and marks its head notification SENDING.
// ok is false when no chat is due, or when opts.Limit is given and the
// global pause is in force or no slot is to be had within opts.MaxWait
// (see delivery.Claim's Paused and Throttled). The claim reports the
// user's link (LinkedChat) and, with opts.Limit, the slot reserved
// (Reserved, Wait), read and taken in the same step.
func (m *MemoryQueue) Claim(ctx context.Context, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	clock, err := m.lock(ctx, "claim")
	if err != nil {
		return delivery.Claim{}, false, err
	}
	defer m.mu.Unlock()
	return m.claimLimitedLocked(clock, now, opts)
}

// claimLimitedLocked is Claim under the lock: the limit's gate, the claim,
// the link read and the reservation, with the limiter locked throughout.
func (m *MemoryQueue) claimLimitedLocked(clock, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	if opts.Limit.Rate <= 0 {
		c, ok := m.claimLocked(clock, now, opts.Lease, opts.Retention)
		if ok {
			c.LinkedChat = m.claimLinkLocked(c)
		}
		return c, ok, nil
	}
	T, tau, err := gcraParams(opts.Limit.Rate, opts.Limit.Burst)
	if err != nil {
		return delivery.Claim{}, false, fmt.Errorf("store: claim: %w", err)
	}
	l := m.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	lnow := l.clock()
	if p := l.paused.Sub(lnow); p > 0 {
		return delivery.Claim{Paused: p}, false, nil
	}
	if opts.MaxWait > 0 {
		if w := l.waitLocked(lnow, opts.Limit.Name, tau); w > opts.MaxWait {
			return delivery.Claim{Throttled: w - opts.MaxWait}, false, nil
		}
	}
	c, ok := m.claimLocked(clock, now, opts.Lease, opts.Retention)
	if !ok {
		return c, false, nil
	}
	c.LinkedChat = m.claimLinkLocked(c)
	n := c.Notification
	if !n.PaidBroadcast && (n.Reply || c.LinkedChat == c.ChatID) && (opts.MaxAge <= 0 || now.Sub(n.CreatedAt) < opts.MaxAge) {
		c.Reserved, c.Wait = true, l.reserveLocked(lnow, opts.Limit.Name, T, tau)
	}
	return c, true, nil
}

// claimLinkLocked returns the chat the claimed notification's user is
// linked to (0: not linked; always 0 for a reply, sent without a check).
func (m *MemoryQueue) claimLinkLocked(c delivery.Claim) int64 {
	if c.Notification.Reply {
		return 0
	}
	chat, _ := m.linkedChatLocked(c.Notification.UserID)
	return chat
}

// claimLocked is Claim under the lock.
func (m *MemoryQueue) claimLocked(clock, now time.Time, lease, retention time.Duration) (delivery.Claim, bool) {
	for chat, l := range m.leases {
		if !now.Before(l.until) {
			delete(m.leases, chat)
			m.sched[chat] = now
		}
	}
	for {
		chat, found := int64(0), false
		var best time.Time
		for c, at := range m.sched {
			if at.After(now) {
				continue
			}
			if !found || at.Before(best) || (at.Equal(best) && c < chat) {
				chat, best, found = c, at, true
			}
		}
		if !found {
			return delivery.Claim{}, false
		}
		q := m.queues[chat]
		if len(q) == 0 {
			delete(m.sched, chat)
			delete(m.queues, chat)
			continue
		}
		r := m.recLocked(q[0], clock)
		if r == nil { // expired record: drop it, keep the chat scheduled
			m.queues[chat] = q[1:]
			continue
		}
		delete(m.sched, chat)
		m.tokenSeq++
		c := delivery.Claim{ChatID: chat, Token: strconv.FormatUint(m.tokenSeq, 10), LeaseUntil: now.Add(lease)}
		m.leases[chat] = memLease{token: c.Token, until: c.LeaseUntil}
		if r.n.State == delivery.StateQueued {
			r.n.State = delivery.StateSending
			r.n.UpdatedAt = now
		}
		r.expires = clock.Add(retention)
		c.Notification = r.n.Clone()
		return c, true
	}
}

// removeID removes id from chat's backlog (normally its head).
func (m *MemoryQueue) removeIDLocked(chat int64, id string) {
	q := m.queues[chat]
	for i, v := range q {
		if v == id {
			q = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if len(q) == 0 {
		delete(m.queues, chat)
		return
	}
	m.queues[chat] = q
}

// checkLeaseLocked verifies that c still holds its chat's lease.
func (m *MemoryQueue) checkLeaseLocked(c delivery.Claim) error {
	if l, ok := m.leases[c.ChatID]; !ok || l.token != c.Token {
		return fmt.Errorf("store: chat %d: %w", c.ChatID, delivery.ErrLeaseLost)
	}
	return nil
}

// Settle applies o to the claimed notification, releases the lease and
// reschedules the chat at o.NextAt if its backlog is not empty. It fails
// with ErrLeaseLost (changing nothing) when c's lease was taken over.
func (m *MemoryQueue) Settle(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, retention time.Duration) error {
	clock, err := m.lock(ctx, "settle")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	return m.settleLocked(clock, c, o, now, retention)
}

// SettleAndClaim settles c like Settle and then, in the same step, claims
// the next due chat like Claim (at now, with opts). It fails with
// ErrLeaseLost, changing and claiming nothing, when c's lease was taken
// over; ok is false when it settled and no chat is due.
func (m *MemoryQueue) SettleAndClaim(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	if opts.Limit.Rate > 0 { // as Redis does, refuse bad limits before settling
		if _, _, err := gcraParams(opts.Limit.Rate, opts.Limit.Burst); err != nil {
			return delivery.Claim{}, false, fmt.Errorf("store: settle and claim: %w", err)
		}
	}
	clock, err := m.lock(ctx, "settle and claim")
	if err != nil {
		return delivery.Claim{}, false, err
	}
	defer m.mu.Unlock()
	if err := m.settleLocked(clock, c, o, now, opts.Retention); err != nil {
		return delivery.Claim{}, false, err
	}
	return m.claimLimitedLocked(clock, now, opts)
}

// settleLocked is Settle under the lock.
func (m *MemoryQueue) settleLocked(clock time.Time, c delivery.Claim, o delivery.Outcome, now time.Time, retention time.Duration) error {
	if o.Kind < delivery.OutcomePartSent || o.Kind > delivery.OutcomeOp {
		return fmt.Errorf("store: settle: unknown outcome kind %d", o.Kind)
	}
	c = m.followLocked(c, clock) // a migration may have moved the lease (migrate_memory.go)
	if err := m.checkLeaseLocked(c); err != nil {
		return err
	}
	delete(m.leases, c.ChatID)
	id := c.Notification.ID
	if r := m.recLocked(id, clock); r != nil && (o.Kind == delivery.OutcomeOp || r.n.State == delivery.StateCancelled) {
		if !settleOpLocked(&r.n, c, o, now) { // queue_edit_memory.go
			m.removeIDLocked(c.ChatID, id)
		}
		r.expires = clock.Add(retention)
	} else if r != nil {
		n := &r.n
		n.Attempts += o.Attempts
		n.Retries += o.Retries
		if o.LastError != "" {
			n.LastError = o.LastError
		}
		final := false     // SENT or FAILED by this outcome
		s := &memSummary{} // a reply, a broadcast's recipient are in no summary
		if !n.Reply && n.Broadcast == "" {
			s = m.summaryLocked(n.UserID, clock)
		}
		switch o.Kind {
		case delivery.OutcomePartSent:
			if o.Degraded != "" {
				n.Degraded = o.Degraded
			}
			if o.MediaFileID != "" {
				n.MediaFileID = o.MediaFileID
			}
			n.MessageIDs = append(n.MessageIDs, o.MessageID)
			n.NextPart++
			if n.NextPart >= len(n.Parts) {
				n.State, final = delivery.StateSent, true
				// textdrop.go; an edit that came in flight keeps it queued (queue_edit_memory.go)
				dropText(n)
				if !sentWithEditLocked(n, c) {
					m.removeIDLocked(c.ChatID, id)
				}
				s.queued--
				s.sent++
			} else {
				n.State = delivery.StateSending
			}
		case delivery.OutcomeRetry, delivery.OutcomeRelease:
			if n.NextPart == 0 {
				n.State = delivery.StateQueued
			}
			if m.bcCancelUnsentLocked(n, now, clock) { // broadcast_memory.go
				m.removeIDLocked(c.ChatID, id)
			}
		case delivery.OutcomeFail:
			n.State, final = delivery.StateFailed, true
			n.FailureReason = m.failureReasonLocked(n, o.Reason, clock)
			if n.Op == delivery.OpEdit {
				n.EditState, n.EditError = delivery.EditFailed, "the notification failed"
				dropOp(n)
			}
			m.removeIDLocked(c.ChatID, id)
			s.queued--
			s.failed++
		}
		n.UpdatedAt = now
		r.expires = clock.Add(retention)
		s.expires = clock.Add(retention)
		if final && n.Broadcast != "" {
			m.bcSettledLocked(n, now, clock) // its counts instead of an event (broadcast_memory.go)
		} else if final {
			m.appendEndLocked(n, c.ChatID, clock)
		}
	} else {
		m.removeIDLocked(c.ChatID, id)
	}
	if len(m.queues[c.ChatID]) > 0 {
		m.sched[c.ChatID] = o.NextAt
	} else if o.NextAt.After(now) {
		// Remember the pacing of an idle chat for its next notification.
		m.notBefore[c.ChatID] = o.NextAt
	}
	return nil
}

// failureReasonLocked is the failure reason recorded for n: ReasonUnlinked
// instead of delivery.ReasonNotLinked when the application unlinked n's
// user (UnlinkUser's marker), else reason.
func (m *MemoryQueue) failureReasonLocked(n *delivery.Notification, reason string, clock time.Time) string {
	if reason != delivery.ReasonNotLinked || n.Reply {
		return reason
	}
	m.links.mu.Lock()
	defer m.links.mu.Unlock()
	if m.links.unlinkedByAppLocked(n.UserID, clock) {
		return ReasonUnlinked
	}
	return reason
}

// appendEndLocked appends NOTIFICATION_SENT or NOTIFICATION_FAILED for n,
// which has just become SENT or FAILED on chat, unless it is a reply.
func (m *MemoryQueue) appendEndLocked(n *delivery.Notification, chat int64, clock time.Time) {
	if n.Reply {
		return
	}
	e := events.Event{Type: events.TypeNotificationSent, NotificationID: n.ID, UserID: n.UserID, ChatID: chat,
		State: int(n.State)}
	if n.State == delivery.StateFailed {
		e.Type, e.Reason = events.TypeNotificationFailed, n.FailureReason
	}
	m.links.ev.append(e, clock)
}

// NextDue returns the earliest time a chat becomes due (a schedule time or
// a lease expiry); ok is false when the queue is empty.
func (m *MemoryQueue) NextDue(ctx context.Context) (time.Time, bool, error) {
	if _, err := m.lock(ctx, "next due"); err != nil {
		return time.Time{}, false, err
	}
	defer m.mu.Unlock()
	var best time.Time
	found := false
	for _, at := range m.sched {
		if !found || at.Before(best) {
			best, found = at, true
		}
	}
	for _, l := range m.leases {
		if !found || l.until.Before(best) {
			best, found = l.until, true
		}
	}
	return best, found, nil
}

// Backlog returns the number of notifications QUEUED or SENDING across all
// chats and the CreatedAt of the oldest of them (zero when none). It walks
// the backlogs: O(n) under the lock.
func (m *MemoryQueue) Backlog(ctx context.Context) (int64, time.Time, error) {
	clock, err := m.lock(ctx, "backlog")
	if err != nil {
		return 0, time.Time{}, err
	}
	defer m.mu.Unlock()
	var (
		depth  int64
		oldest time.Time
	)
	for _, q := range m.queues {
		for _, id := range q {
			r := m.recLocked(id, clock)
			if r == nil || (r.n.State != delivery.StateQueued && r.n.State != delivery.StateSending) {
				continue // gone, or an operation on a finished one (queue_edit_memory.go)
			}
			depth++
			if oldest.IsZero() || r.n.CreatedAt.Before(oldest) {
				oldest = r.n.CreatedAt
			}
		}
	}
	return depth, oldest, nil
}

// Get returns the notification id or ErrNotFound.
func (m *MemoryQueue) Get(ctx context.Context, id string) (delivery.Notification, error) {
	clock, err := m.lock(ctx, "get notification")
	if err != nil {
		return delivery.Notification{}, err
	}
	defer m.mu.Unlock()
	r := m.recLocked(id, clock)
	if r == nil {
		return delivery.Notification{}, fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	}
	return r.n.Clone(), nil
}

// Summary returns the user's delivery summary (zero when none).
func (m *MemoryQueue) Summary(ctx context.Context, userID string) (delivery.UserSummary, error) {
	clock, err := m.lock(ctx, "summary")
	if err != nil {
		return delivery.UserSummary{}, err
	}
	defer m.mu.Unlock()
	s := m.users[userID]
	if s == nil || !clock.Before(s.expires) {
		return delivery.UserSummary{}, nil
	}
	out := delivery.UserSummary{Queued: max(s.queued, 0), Sent: s.sent, Failed: s.failed, LastID: s.last}
	if r := m.recLocked(s.last, clock); r != nil {
		out.LastState, out.LastUpdatedAt, out.LastError = r.n.State, r.n.UpdatedAt, r.n.LastError
	}
	return out, nil
}

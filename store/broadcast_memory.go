package store

// Broadcasts in memory: the same steps as broadcast_redis.go's scripts,
// under the queue's lock (the recipients' records live in the queue).

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
)

// memBroadcasts is the broadcast state of a MemoryQueue.
type memBroadcasts struct {
	byID map[string]*memBroadcast
	idem map[string]memIdem
}

// memBroadcast is one broadcast: Redis's hash, template, lists and zset.
type memBroadcast struct {
	b          broadcast.Broadcast
	msg        delivery.Notification
	recipients []string // not yet expanded
	seq        int64
	tat        float64              // next expansion slot, unix ms
	flight     map[string]time.Time // expanded, not settled → expanded at
	failures   []broadcast.Failure
	finishedEv bool
	retention  time.Duration
	expires    time.Time // zero while running
}

// bcLocked returns the broadcast state, creating it.
func (m *MemoryQueue) bcLocked() *memBroadcasts {
	if m.bcs.byID == nil {
		m.bcs = memBroadcasts{byID: map[string]*memBroadcast{}, idem: map[string]memIdem{}}
	}
	return &m.bcs
}

// bcGetLocked returns the live broadcast id, or nil.
func (m *MemoryQueue) bcGetLocked(id string, clock time.Time) *memBroadcast {
	b := m.bcLocked().byID[id]
	if b != nil && !b.expires.IsZero() && !clock.Before(b.expires) {
		delete(m.bcs.byID, id)
		return nil
	}
	return b
}

// CreateBroadcast stores a broadcast (see RedisQueue.CreateBroadcast).
func (m *MemoryQueue) CreateBroadcast(ctx context.Context, nb broadcast.New) (broadcast.Created, error) {
	id, err := newBroadcastID()
	if err != nil {
		return broadcast.Created{}, err
	}
	clock, err := m.lock(ctx, "create broadcast")
	if err != nil {
		return broadcast.Created{}, err
	}
	defer m.mu.Unlock()
	bcs := m.bcLocked()
	if nb.IdempotencyKey != "" {
		if e, ok := bcs.idem[nb.IdempotencyKey]; ok && clock.Before(e.expires) {
			var n int64
			if b := m.bcGetLocked(e.id, clock); b != nil {
				n = b.b.Recipients
			}
			return broadcast.Created{ID: e.id, Recipients: n, Existed: true}, nil
		}
		bcs.idem[nb.IdempotencyKey] = memIdem{id: id, expires: clock.Add(nb.IdempotencyTTL)}
	}
	rec := slices.Clone(nb.UserIDs)
	if nb.AllLinked {
		rec = m.linkedUsersLocked()
	}
	msg := nb.Message.Clone()
	msg.PaidBroadcast = nb.Paid
	msg.TextLen, msg.TextSHA256 = textDigest(msg.Parts)
	b := &memBroadcast{msg: msg, recipients: rec, flight: map[string]time.Time{}, retention: nb.Retention,
		b: broadcast.Broadcast{ID: id, State: broadcast.StateRunning, Recipients: int64(len(rec)),
			CreatedAt: time.UnixMilli(nb.CreatedAt.UnixMilli()), Rate: nb.Rate, Paid: nb.Paid,
			FailuresByReason: map[string]int64{}}}
	bcs.byID[id] = b
	m.bcCheckDoneLocked(b, nb.CreatedAt, clock)
	return broadcast.Created{ID: id, Recipients: b.b.Recipients}, nil
}

// linkedUsersLocked returns every linked user, sorted.
func (m *MemoryQueue) linkedUsersLocked() []string {
	m.links.mu.Lock()
	defer m.links.mu.Unlock()
	out := make([]string, 0, len(m.links.links))
	for u := range m.links.links {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// GetBroadcast returns the broadcast id, or ErrNotFound.
func (m *MemoryQueue) GetBroadcast(ctx context.Context, id string) (broadcast.Broadcast, error) {
	clock, err := m.lock(ctx, "get broadcast")
	if err != nil {
		return broadcast.Broadcast{}, err
	}
	defer m.mu.Unlock()
	b := m.bcGetLocked(id, clock)
	if b == nil {
		return broadcast.Broadcast{}, fmt.Errorf("store: broadcast %q: %w", id, ErrNotFound)
	}
	out := b.b
	out.FailuresByReason = make(map[string]int64, len(b.b.FailuresByReason))
	for k, v := range b.b.FailuresByReason {
		out.FailuresByReason[k] = v
	}
	return out, nil
}

// CancelBroadcast cancels a running broadcast (see bc_cancel.lua).
func (m *MemoryQueue) CancelBroadcast(ctx context.Context, id string, now time.Time) (broadcast.State, error) {
	clock, err := m.lock(ctx, "cancel broadcast")
	if err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	b := m.bcGetLocked(id, clock)
	if b == nil {
		return 0, fmt.Errorf("store: broadcast %q: %w", id, ErrNotFound)
	}
	if b.b.State != broadcast.StateRunning {
		return b.b.State, nil
	}
	c := int64(len(b.recipients))
	b.recipients = nil
	for nid := range b.flight {
		r := m.recLocked(nid, clock)
		if r == nil || (r.n.State == delivery.StateQueued && r.n.NextPart == 0) {
			if r != nil {
				m.removeIDLocked(r.n.ChatID, nid)
				delete(m.recs, nid)
			}
			delete(b.flight, nid)
			c++
		}
	}
	b.b.Cancelled += c
	b.b.State, b.b.FinishedAt = broadcast.StateCancelled, time.UnixMilli(now.UnixMilli())
	m.bcCheckDoneLocked(b, now, clock)
	return broadcast.StateCancelled, nil
}

// BroadcastFailures returns a page of failures (see RedisQueue's).
func (m *MemoryQueue) BroadcastFailures(ctx context.Context, id string, offset int64, limit int) ([]broadcast.Failure, int64, error) {
	clock, err := m.lock(ctx, "broadcast failures")
	if err != nil {
		return nil, 0, err
	}
	defer m.mu.Unlock()
	b := m.bcGetLocked(id, clock)
	if b == nil {
		return nil, 0, fmt.Errorf("store: broadcast %q: %w", id, ErrNotFound)
	}
	lo := min(max(offset, 0), int64(len(b.failures)))
	hi := min(lo+int64(limit), int64(len(b.failures)))
	var next int64
	if hi < int64(len(b.failures)) {
		next = hi
	}
	return slices.Clone(b.failures[lo:hi]), next, nil
}

// RunningBroadcasts returns the broadcasts with recipients left to expand.
func (m *MemoryQueue) RunningBroadcasts(ctx context.Context) ([]string, error) {
	clock, err := m.lock(ctx, "running broadcasts")
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	var out []string
	for id := range m.bcLocked().byID {
		if b := m.bcGetLocked(id, clock); b != nil && b.b.State == broadcast.StateRunning && len(b.recipients) > 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ExpandBroadcast runs one expansion step (see bc_expand.lua).
func (m *MemoryQueue) ExpandBroadcast(ctx context.Context, id string, now time.Time, window int, retention time.Duration) (broadcast.Expansion, error) {
	clock, err := m.lock(ctx, "expand broadcast")
	if err != nil {
		return broadcast.Expansion{}, err
	}
	defer m.mu.Unlock()
	b := m.bcGetLocked(id, clock)
	if b == nil || b.b.State != broadcast.StateRunning || len(b.recipients) == 0 {
		return broadcast.Expansion{Finished: true}, nil
	}
	window = max(window, 1)
	recent := 0
	for _, at := range b.flight {
		if now.Sub(at) <= 2*time.Second {
			recent++
		}
	}
	room := window - recent
	if room <= 0 {
		return broadcast.Expansion{Wait: 50 * time.Millisecond}, nil
	}
	ms, interval := float64(now.UnixMilli()), 1000/b.b.Rate
	tat := b.tat
	if tat == 0 {
		tat = ms
	}
	if tat > ms {
		return broadcast.Expansion{Wait: time.Duration(math.Ceil(tat-ms)) * time.Millisecond}, nil
	}
	base := math.Max(tat, ms-float64(window)*interval)
	k := min(room, len(b.recipients), int(math.Floor((ms-base)/interval))+1)
	b.tat = base + float64(k)*interval
	if b.b.StartedAt.IsZero() {
		b.b.StartedAt = time.UnixMilli(now.UnixMilli())
	}
	users := b.recipients[:k]
	b.recipients = b.recipients[k:]
	out := m.bcEnqueueLocked(b, users, now, clock, retention)
	out.Finished = len(b.recipients) == 0
	m.bcCheckDoneLocked(b, now, clock)
	return out, nil
}

// bcEnqueueLocked queues a record for each linked user of users and fails
// the others.
func (m *MemoryQueue) bcEnqueueLocked(b *memBroadcast, users []string, now, clock time.Time, retention time.Duration) broadcast.Expansion {
	var out broadcast.Expansion
	for _, u := range users {
		chat, ok := m.linkedChatLocked(u)
		if !ok {
			m.bcFailLocked(b, u, m.failureReasonLocked(&delivery.Notification{UserID: u}, delivery.ReasonNotLinked, clock))
			out.Failed++
			continue
		}
		b.seq++
		n := b.msg.Clone()
		n.ID, n.UserID, n.ChatID, n.Broadcast = fmt.Sprintf("%s.%d", b.b.ID, b.seq), u, chat, b.b.ID
		n.State, n.CreatedAt, n.UpdatedAt = delivery.StateQueued, time.UnixMilli(now.UnixMilli()), time.UnixMilli(now.UnixMilli())
		m.recs[n.ID] = &memRecord{n: n, expires: clock.Add(retention)}
		m.queues[chat] = append(m.queues[chat], n.ID)
		if _, leased := m.leases[chat]; !leased {
			if _, ok := m.sched[chat]; !ok {
				at := n.CreatedAt
				if nb, ok := m.notBefore[chat]; ok && nb.After(at) {
					at = nb
				}
				delete(m.notBefore, chat)
				m.sched[chat] = at
			}
		}
		b.flight[n.ID] = now
		out.Queued++
	}
	return out
}

// bcFailLocked counts user as failed for reason.
func (m *MemoryQueue) bcFailLocked(b *memBroadcast, user, reason string) {
	b.b.Failed++
	b.b.FailuresByReason[reason]++
	b.failures = append(b.failures, broadcast.Failure{UserID: user, Reason: reason})
}

// bcSettledLocked counts the end of n, a broadcast recipient's record
// that has just become SENT or FAILED, and drops the record.
func (m *MemoryQueue) bcSettledLocked(n *delivery.Notification, now, clock time.Time) {
	delete(m.recs, n.ID)
	b := m.bcGetLocked(n.Broadcast, clock)
	if b == nil {
		return
	}
	delete(b.flight, n.ID)
	if n.State == delivery.StateSent {
		b.b.Sent++
	} else {
		m.bcFailLocked(b, n.UserID, n.FailureReason)
	}
	m.bcCheckDoneLocked(b, now, clock)
}

// bcCheckDoneLocked ends b once nothing is pending (see lib/bc.lua).
func (m *MemoryQueue) bcCheckDoneLocked(b *memBroadcast, now, clock time.Time) {
	if b.finishedEv || b.b.Pending() > 0 {
		return
	}
	reason := "cancelled"
	if b.b.State == broadcast.StateRunning {
		b.b.State, b.b.FinishedAt, reason = broadcast.StateDone, time.UnixMilli(now.UnixMilli()), "done"
	}
	b.finishedEv = true
	if b.retention > 0 {
		b.expires = clock.Add(b.retention)
	}
	m.links.ev.append(events.Event{Type: events.TypeBroadcastFinished, BroadcastID: b.b.ID, Reason: reason}, clock)
}

// bcCancelUnsentLocked cancels n, a broadcast recipient's record given
// back unsent after its broadcast was cancelled while it was being sent
// (see lib/bc.lua's bc_cancel_unsent); the caller removes it from its
// backlog. It returns whether it did.
func (m *MemoryQueue) bcCancelUnsentLocked(n *delivery.Notification, now, clock time.Time) bool {
	if n.Broadcast == "" || n.NextPart != 0 {
		return false
	}
	b := m.bcGetLocked(n.Broadcast, clock)
	if b == nil || b.b.State != broadcast.StateCancelled {
		return false
	}
	delete(b.flight, n.ID)
	delete(m.recs, n.ID)
	b.b.Cancelled++
	m.bcCheckDoneLocked(b, now, clock)
	return true
}

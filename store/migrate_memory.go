package store

// Group migration in the embedded mode: the same semantics as
// migrate_redis.go. A [MemoryQueue] made by [Memory.Queue] knows its link
// store, so that a migration moves links, backlog, pacing and lease under
// both mutexes at once. Lock order: the queue's mutex before the links'.

import (
	"context"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"time"
)

// memMigration is the marker a migration leaves when it moves a lease:
// the chat the lease went to.
type memMigration struct {
	to      int64
	expires time.Time
}

// Queue returns the notification queue of m, on m's clock: one state for
// links, queue and limiter. Its enqueues and claims read m's links, its
// claims reserve in its own limiter, and its group migrations
// ([Memory.UpdateChatID] and [MemoryQueue.Migrate]) move the links of m
// and the chat's backlog, pacing and lease in one step. Closing m does not
// close the queue.
func (m *Memory) Queue() *MemoryQueue { return m.queue }

// Migrate atomically moves the claimed chat's whole backlog (in order, in
// front of newChat's backlog; the records' chat id set) and pacing to
// newChat, releases the lease and schedules newChat; a queue made by
// [Memory.Queue] moves the chat's links too. The lease may have followed
// an earlier migration of the chat to newChat. It fails with ErrLeaseLost,
// changing nothing, when the lease was taken over.
func (m *MemoryQueue) Migrate(ctx context.Context, c delivery.Claim, newChat int64, now time.Time) error {
	_, err := m.migrateChat(ctx, c.ChatID, newChat, c.Token, now)
	return err
}

// followLocked returns c with ChatID set to the chat its lease moved to
// when the chat migrated while c held it; c otherwise.
func (m *MemoryQueue) followLocked(c delivery.Claim, clock time.Time) delivery.Claim {
	if l, ok := m.leases[c.ChatID]; ok && l.token == c.Token {
		return c
	}
	if to, ok := m.migratedLocked(c.ChatID, clock); ok {
		if l, ok := m.leases[to]; ok && l.token == c.Token {
			c.ChatID = to
		}
	}
	return c
}

// migratedLocked returns the chat a lease of chat moved to, if any.
func (m *MemoryQueue) migratedLocked(chat int64, clock time.Time) (int64, bool) {
	mg, ok := m.migrated[chat]
	if !ok {
		return 0, false
	}
	if !clock.Before(mg.expires) {
		delete(m.migrated, chat)
		return 0, false
	}
	return mg.to, true
}

// migrateChat moves everything of chat oldID to newID (see
// migrate_redis.go): with token "" (the migration update) a lease held on
// oldID moves to newID; else the caller's lease, on oldID or followed to
// newID, is released. It returns the moved user ids.
func (m *MemoryQueue) migrateChat(ctx context.Context, oldID, newID int64, token string, now time.Time) ([]string, error) {
	clock, err := m.lock(ctx, "migrate chat")
	if err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	from, held := oldID, memLease{}
	if oldID != newID {
		if token != "" {
			if l, ok := m.leases[oldID]; !ok || l.token != token {
				to, ok := m.migratedLocked(oldID, clock)
				if l, leased := m.leases[newID]; !ok || to != newID || !leased || l.token != token {
					return nil, fmt.Errorf("store: migrate chat %d: %w", oldID, delivery.ErrLeaseLost)
				}
				from = newID
			}
		} else if l, ok := m.leases[oldID]; ok {
			if _, busy := m.leases[newID]; busy {
				return nil, fmt.Errorf("store: migrate chat %d to %d: %w", oldID, newID, ErrMigrationBusy)
			}
			held = l
		}
	}
	if _, err := m.links.lock(ctx, "migrate chat"); err != nil {
		return nil, err
	}
	defer m.links.mu.Unlock()
	users := m.links.moveChatLocked(oldID, newID)
	if oldID == newID {
		return users, nil
	}
	if from == oldID {
		moved := m.queues[oldID]
		delete(m.queues, oldID)
		for _, id := range moved {
			if r := m.recLocked(id, clock); r != nil {
				r.n.ChatID = newID
			}
		}
		if len(moved) > 0 {
			m.queues[newID] = append(moved, m.queues[newID]...)
		}
	}
	switch {
	case token != "":
		delete(m.leases, from)
	case held.token != "":
		delete(m.leases, oldID)
		delete(m.sched, newID)
		m.leases[newID] = held
		if m.migrated == nil {
			m.migrated = make(map[int64]memMigration)
		}
		m.migrated[oldID] = memMigration{to: newID, expires: clock.Add(migrationMarkerTTL)}
	}
	m.movePacingLocked(oldID, newID, now)
	return users, nil
}

// movePacingLocked moves the schedule and pacing of chat oldID to newID:
// the new chat is due no earlier than either chat was.
func (m *MemoryQueue) movePacingLocked(oldID, newID int64, now time.Time) {
	at := now
	later := func(t time.Time, ok bool) {
		if ok && t.After(at) {
			at = t
		}
	}
	t, ok := m.sched[oldID]
	later(t, ok)
	t, ok = m.sched[newID]
	later(t, ok)
	nbo, okO := m.notBefore[oldID]
	later(nbo, okO)
	nbn, okN := m.notBefore[newID]
	later(nbn, okN)
	delete(m.sched, oldID)
	if okO {
		if !okN || nbo.After(nbn) {
			m.notBefore[newID] = nbo
		}
		delete(m.notBefore, oldID)
	}
	if len(m.queues[newID]) > 0 {
		if _, leased := m.leases[newID]; !leased {
			m.sched[newID] = at
		}
	}
}

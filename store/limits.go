package store

// Admission control of the notification queue: the enqueue refuses a
// notification, atomically with the checks and writing nothing, while the
// user's backlog or the whole queue is at its limit
// (delivery.EnqueueOptions.MaxUserBacklog, MaxQueued; the errors are
// delivery.ErrBacklogFull and ErrQueueFull). Redis checks the user's
// summary field queued and ZCARD of <p>:pending in the enqueue script; the
// memory queue counts the same under its mutex.

import (
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"time"
)

// limitError is the error of an enqueue refused by limit ("user" or
// "queued").
func limitError(user string, limit any, opts delivery.EnqueueOptions) error {
	if limit == "user" {
		return fmt.Errorf("store: enqueue for user %q: %w (%d queued)", user, delivery.ErrBacklogFull, opts.MaxUserBacklog)
	}
	return fmt.Errorf("store: enqueue: %w (%d queued)", delivery.ErrQueueFull, opts.MaxQueued)
}

// admitLocked checks the limits of opts for one more notification of
// user. It counts the backlogs' entries: O(chats) under the lock, when
// MaxQueued is set.
func (m *MemoryQueue) admitLocked(user string, opts delivery.EnqueueOptions, clock time.Time) error {
	if opts.MaxUserBacklog > 0 {
		if s := m.users[user]; s != nil && clock.Before(s.expires) && s.queued >= opts.MaxUserBacklog {
			return limitError(user, "user", opts)
		}
	}
	if opts.MaxQueued > 0 {
		var total int64
		for _, q := range m.queues {
			total += int64(len(q))
		}
		if total >= opts.MaxQueued {
			return limitError(user, "queued", opts)
		}
	}
	return nil
}

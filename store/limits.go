package store

// Admission control of the notification queue: the enqueue refuses a
// notification, atomically with the checks and writing nothing, while the
// user's backlog or the whole queue is at its limit
// (EnqueueOptions.MaxUserBacklog, MaxQueued). Redis checks the user's
// summary field queued and ZCARD of <p>:pending in the enqueue script; the
// memory queue counts the same under its mutex.

import (
	"errors"
	"fmt"
	"time"
)

// Errors of an enqueue refused by a limit. Callers test them with errors.Is
// (the service answers RESOURCE_EXHAUSTED, HTTP 429, with a RetryInfo).
var (
	// ErrBacklogFull means the user has EnqueueOptions.MaxUserBacklog
	// notifications queued already.
	ErrBacklogFull = errors.New("user's backlog is full")
	// ErrQueueFull means the whole queue holds EnqueueOptions.MaxQueued
	// notifications.
	ErrQueueFull = errors.New("notification queue is full")
)

// limitError is the error of an enqueue refused by limit ("user" or
// "queued").
func limitError(user string, limit any, opts EnqueueOptions) error {
	if limit == "user" {
		return fmt.Errorf("store: enqueue for user %q: %w (%d queued)", user, ErrBacklogFull, opts.MaxUserBacklog)
	}
	return fmt.Errorf("store: enqueue: %w (%d queued)", ErrQueueFull, opts.MaxQueued)
}

// admitLocked checks the limits of opts for one more notification of
// user. It counts the backlogs' entries: O(chats) under the lock, when
// MaxQueued is set.
func (m *MemoryQueue) admitLocked(user string, opts EnqueueOptions, clock time.Time) error {
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

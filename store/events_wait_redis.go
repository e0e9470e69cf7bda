package store

// Redis.Wait without a connection per waiter: every waiter of one *Redis
// shares one watch loop, a goroutine that blocks in XREAD on the stream
// (one pooled connection, whatever the number of watchers) and wakes all
// the waiters whenever an entry is appended, by any replica. The loop runs
// while someone waits and ends soon after the last waiter left.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of the watch loop.
const (
	// watchBlock is one XREAD BLOCK of the loop; the loop notices within
	// it that nobody waits any more.
	watchBlock = 2 * time.Second
	// watchRetry is the pause after a failed XREAD.
	watchRetry = 200 * time.Millisecond
)

// eventWatch is the shared watch loop of one Redis.
type eventWatch struct {
	mu      sync.Mutex
	waiters int
	running bool
	wake    chan struct{} // closed (and replaced) when the loop learnt of a newer entry
	last    evID          // the newest entry the loop knows of
}

// subscribe registers a waiter, starts the loop when it is not running and
// returns the channel the loop closes next; release must be called once.
func (r *Redis) subscribe() (wake <-chan struct{}, release func()) {
	w := &r.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wake == nil {
		w.wake = make(chan struct{})
	}
	w.waiters++
	if !w.running {
		w.running = true
		go r.watchLoop()
	}
	return w.wake, func() {
		w.mu.Lock()
		w.waiters--
		w.mu.Unlock()
	}
}

// seen reports whether the loop knows of an entry after a, and else
// returns the channel it closes next.
func (w *eventWatch) seen(a evID) (bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return a.less(w.last), w.wake
}

// advance records the newest entry id and wakes every waiter.
func (w *eventWatch) advance(id string) {
	e, err := parseCursor(id)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil && w.last.less(e) {
		w.last = e
	}
	close(w.wake)
	w.wake = make(chan struct{})
}

// idle ends the loop when nobody waits; it reports whether it did.
func (w *eventWatch) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiters > 0 {
		return false
	}
	w.running = false
	return true
}

// watchLoop learns the newest entry, then blocks in XREAD after it and
// records every append, waking the waiters; each waiter compares its own
// cursor with the newest entry known, so a wake-up it does not need (the
// loop's start) costs it nothing. It ends when nobody waits (within
// watchBlock) or the client is closed.
func (r *Redis) watchLoop() {
	ctx := context.Background()
	last := ""
	for !r.watch.idle() {
		if last == "" {
			id, err := r.newestEvent(ctx)
			if err != nil {
				time.Sleep(watchRetry)
				continue
			}
			last = id
			r.watch.advance(id)
			continue
		}
		res, err := r.client.XRead(ctx, &redis.XReadArgs{Streams: []string{r.eventsKey(), last}, Count: 100,
			Block: watchBlock}).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case errors.Is(err, redis.ErrClosed):
			r.watch.mu.Lock()
			r.watch.running = false
			r.watch.mu.Unlock()
			return
		case err != nil:
			time.Sleep(watchRetry)
		case len(res) > 0 && len(res[0].Messages) > 0:
			last = res[0].Messages[len(res[0].Messages)-1].ID
			r.watch.advance(last)
		}
	}
}

// newestEvent returns the id of the newest entry ("0-0" when none).
func (r *Redis) newestEvent(ctx context.Context) (string, error) {
	msgs, err := r.client.XRevRangeN(ctx, r.eventsKey(), "+", "-", 1).Result()
	if err != nil {
		return "", unavailable("newest event", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// Wait blocks until an entry after the cursor after ("": any entry) is in
// the log, maxWait (at most 30 s) has passed, or ctx ends (then it returns
// ctx's error). The waiters of r share one watch loop blocked in XREAD (one
// pooled connection in all), which sees the entries every replica appends
// at once.
func (r *Redis) Wait(ctx context.Context, after string, maxWait time.Duration) error {
	var a evID
	if after != "" {
		var err error
		if a, err = parseCursor(after); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	wake, release := r.subscribe()
	defer release()
	newest, err := r.newestEvent(ctx)
	if err != nil {
		return err
	}
	if n, err := parseCursor(newest); err == nil && a.less(n) {
		return nil
	}
	timer := time.NewTimer(clampWait(maxWait))
	defer timer.Stop()
	for {
		select {
		case <-wake:
			var ok bool
			if ok, wake = r.watch.seen(a); ok {
				return nil
			}
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

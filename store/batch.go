package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// batcher groups concurrent calls into batches, so that calls made at the
// same time share one round trip to Redis (and one script run there).
// A call that finds fewer than maxRunning batches running starts one; the
// others queue and go into the next batch a running loop takes. An idle
// batcher holds no goroutine: a loop ends when the queue is empty. Under
// light load every call is a batch of one, sent at once; under load,
// batches grow to maxItems while the previous ones run.
type batcher[T, R any] struct {
	maxRunning int
	maxItems   int
	// run runs one batch and returns one result per item (in order), or an
	// error for the whole batch.
	run func(ctx context.Context, items []T) ([]R, error)

	mu      sync.Mutex
	queue   []*batchCall[T, R]
	running int
}

// batchCall is one call waiting in a batcher.
type batchCall[T, R any] struct {
	ctx  context.Context
	item T
	// state is callQueued until a loop takes the call into a batch
	// (callTaken) or its caller gives up waiting (callAbandoned).
	state atomic.Int32
	res   R
	err   error
	done  chan struct{}
}

// Call states.
const (
	callQueued int32 = iota
	callTaken
	callAbandoned
)

// newBatcher returns a batcher running up to maxRunning batches of up to
// maxItems items at once with run.
func newBatcher[T, R any](maxRunning, maxItems int, run func(context.Context, []T) ([]R, error)) *batcher[T, R] {
	return &batcher[T, R]{maxRunning: max(maxRunning, 1), maxItems: max(maxItems, 1), run: run}
}

// do runs item in a batch and returns its result. When ctx ends while the
// item is still queued, do returns ctx's error at once and the item is
// left out; once its batch is running, do waits for it (a batch is bounded
// by the client's own timeouts), so the caller learns what happened.
func (b *batcher[T, R]) do(ctx context.Context, item T) (R, error) {
	c := &batchCall[T, R]{ctx: ctx, item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	start := b.running < b.maxRunning
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.loop()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			var zero R
			return zero, ctx.Err()
		}
		<-c.done // taken (its batch is running) or dropped by the loop
	}
	return c.res, c.err
}

// loop runs batches until the queue is empty.
func (b *batcher[T, R]) loop() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), b.maxItems)
		batch := make([]*batchCall[T, R], 0, n)
		for _, c := range b.queue[:n] {
			if err := c.ctx.Err(); err != nil && c.state.CompareAndSwap(callQueued, callAbandoned) {
				c.err = err
				close(c.done)
				continue
			}
			if c.state.CompareAndSwap(callQueued, callTaken) {
				batch = append(batch, c)
			}
		}
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:])
		b.queue = b.queue[:rest]
		b.mu.Unlock()
		if len(batch) > 0 {
			b.runBatch(batch)
		}
	}
}

// runBatch runs batch and hands each call its result.
func (b *batcher[T, R]) runBatch(batch []*batchCall[T, R]) {
	items := make([]T, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	// The batch serves several callers: it must not end with the first
	// one's context, but keeps their values (request ids, trace spans).
	ctx := context.WithoutCancel(batch[0].ctx)
	res, err := b.run(ctx, items)
	for i, c := range batch {
		switch {
		case err != nil:
			c.err = err
		case i < len(res):
			c.res = res[i]
		default:
			c.err = fmt.Errorf("store: batch of %d items: %d results", len(batch), len(res))
		}
		close(c.done)
	}
}

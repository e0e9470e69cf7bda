package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/internal/poll"
)

// gatedRun is a batch function that records its batches and, while gate
// is not nil, waits for a value on it before each batch.
type gatedRun struct {
	gate chan struct{}

	mu      sync.Mutex
	batches [][]int
	running int
	maxRun  int
}

func (g *gatedRun) run(_ context.Context, items []int) ([]int, error) {
	g.mu.Lock()
	g.batches = append(g.batches, append([]int(nil), items...))
	g.running++
	g.maxRun = max(g.maxRun, g.running)
	g.mu.Unlock()
	if g.gate != nil {
		<-g.gate
	}
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
	out := make([]int, len(items))
	for i, v := range items {
		if v < 0 {
			return nil, errors.New("negative item")
		}
		out[i] = v * 10
	}
	return out, nil
}

func (g *gatedRun) snapshot() (batches [][]int, maxRun int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]int(nil), g.batches...), g.maxRun
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Eventually(t, 5*time.Second, what, cond)
}

func (b *batcher[T, R]) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

func (b *batcher[T, R]) runningLoops() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

func TestBatcherAlone(t *testing.T) {
	g := &gatedRun{}
	b := newBatcher(2, 8, g.run)
	for i := range 3 {
		got, err := b.do(context.Background(), i)
		if err != nil || got != i*10 {
			t.Fatalf("do(%d) = %d, %v; want %d", i, got, err, i*10)
		}
	}
	batches, _ := g.snapshot()
	if len(batches) != 3 {
		t.Errorf("sequential calls ran as %v, want one batch each", batches)
	}
	waitFor(t, "the loops to end", func() bool { return b.runningLoops() == 0 })
}

func TestBatcherGroupsConcurrentCalls(t *testing.T) {
	tests := []struct {
		name                 string
		maxRunning, maxItems int
		calls                int
	}{
		{"one loop", 1, 4, 10},
		{"two loops", 2, 4, 13},
		{"batches larger than the calls", 2, 64, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gatedRun{gate: make(chan struct{})}
			b := newBatcher(tt.maxRunning, tt.maxItems, g.run)
			type result struct {
				in, out int
				err     error
			}
			results := make(chan result, tt.calls)
			// Fill every loop with a first batch that waits at the gate,
			// then queue the rest behind them.
			for i := range tt.calls {
				go func() {
					out, err := b.do(context.Background(), i+1)
					results <- result{i + 1, out, err}
				}()
				if i < tt.maxRunning {
					waitFor(t, "a loop to take the call", func() bool {
						bs, _ := g.snapshot()
						return len(bs) == i+1
					})
				}
			}
			waitFor(t, "the calls to queue", func() bool { return b.queued() == max(tt.calls-tt.maxRunning, 0) })
			close(g.gate)
			for range tt.calls {
				r := <-results
				if r.err != nil || r.out != r.in*10 {
					t.Errorf("do(%d) = %d, %v; want %d", r.in, r.out, r.err, r.in*10)
				}
			}
			batches, maxRun := g.snapshot()
			seen := map[int]bool{}
			for _, bt := range batches {
				if len(bt) > tt.maxItems {
					t.Errorf("batch %v has more than %d items", bt, tt.maxItems)
				}
				for _, v := range bt {
					if seen[v] {
						t.Errorf("item %d ran twice", v)
					}
					seen[v] = true
				}
			}
			if len(seen) != tt.calls {
				t.Errorf("%d items ran, want %d", len(seen), tt.calls)
			}
			if maxRun > tt.maxRunning {
				t.Errorf("%d batches ran at once, want at most %d", maxRun, tt.maxRunning)
			}
			if want := tt.maxRunning + (tt.calls-tt.maxRunning+tt.maxItems-1)/tt.maxItems; len(batches) > want {
				t.Errorf("%d calls ran in %d batches %v, want at most %d", tt.calls, len(batches), batches, want)
			}
			waitFor(t, "the loops to end", func() bool { return b.runningLoops() == 0 })
		})
	}
}

func TestBatcherErrorGoesToItsBatchOnly(t *testing.T) {
	g := &gatedRun{gate: make(chan struct{})}
	b := newBatcher(1, 2, g.run)
	errs := make(chan error, 3)
	go func() { _, err := b.do(context.Background(), 1); errs <- err }()
	waitFor(t, "the first batch", func() bool { bs, _ := g.snapshot(); return len(bs) == 1 })
	go func() { _, err := b.do(context.Background(), -1); errs <- err }()
	go func() { _, err := b.do(context.Background(), 2); errs <- err }()
	waitFor(t, "two queued calls", func() bool { return b.queued() == 2 })
	close(g.gate)
	var failed int
	for range 3 {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d calls failed, want the 2 batched with the bad item", failed)
	}
}

func TestBatcherDropsCallsCancelledWhileQueued(t *testing.T) {
	g := &gatedRun{gate: make(chan struct{})}
	b := newBatcher(1, 8, g.run)
	first := make(chan error, 1)
	go func() { _, err := b.do(context.Background(), 1); first <- err }()
	waitFor(t, "the first batch", func() bool { bs, _ := g.snapshot(); return len(bs) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error, 1)
	go func() { _, err := b.do(ctx, 2); cancelled <- err }()
	waitFor(t, "the queued call", func() bool { return b.queued() == 1 })
	cancel()
	// It returns while the batch ahead of it still runs.
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call returned %v, want context.Canceled", err)
	}
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}
	batches, _ := g.snapshot()
	for _, bt := range batches {
		for _, v := range bt {
			if v == 2 {
				t.Errorf("the cancelled call's item ran in batch %v", bt)
			}
		}
	}
}

// TestBatcherCancelledCallsNeverHang races cancelled calls against the
// loops that take them: each must return, with its result or ctx's error.
func TestBatcherCancelledCallsNeverHang(t *testing.T) {
	g := &gatedRun{}
	b := newBatcher(2, 4, g.run)
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				cancel()
			} else {
				defer cancel()
			}
			got, err := b.do(ctx, i)
			if err == nil && got != i*10 || err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("do(%d) = %d, %v", i, got, err)
			}
		})
	}
	wg.Wait()
	waitFor(t, "the loops to end", func() bool { return b.runningLoops() == 0 })
}

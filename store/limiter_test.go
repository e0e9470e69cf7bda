package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// limiter is the method set shared by RedisLimiter and MemoryLimiter.
type limiter interface {
	Reserve(ctx context.Context, name string, rate float64, burst int) (time.Duration, error)
	Pause(ctx context.Context, d time.Duration) error
	Paused(ctx context.Context) (time.Duration, error)
	Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error)
}

var (
	_ limiter = (*store.RedisLimiter)(nil)
	_ limiter = (*store.MemoryLimiter)(nil)
)

// limiterBackend names a limiter implementation; pair returns two
// limiters sharing one budget.
type limiterBackend struct {
	name string
	pair func(t *testing.T) (limiter, limiter)
}

func TestLimiters(t *testing.T) {
	srv := redistest.Start(t)
	runLimiterContract(t, []limiterBackend{
		{"memory", func(t *testing.T) (limiter, limiter) { l := store.NewMemoryLimiter(nil); return l, l }},
		{"redis", func(t *testing.T) (limiter, limiter) {
			prefix := "rl" + t.Name()
			return store.NewRedis(srv.Client(t), prefix).Limiter(), store.NewRedis(srv.Client(t), prefix).Limiter()
		}},
	})
}

// runLimiterContract runs the limiter tests against every backend (the
// Sentinel and Cluster tests call it too).
func runLimiterContract(t *testing.T, backends []limiterBackend) {
	for _, b := range backends {
		t.Run(b.name+"/gcra admits burst then rate", func(t *testing.T) {
			l1, l2 := b.pair(t)
			const rate, burst, n = 100.0, 5, 60
			start := time.Now()
			var last, prevLo time.Duration
			for i := range n {
				l := l1
				if i%2 == 1 {
					l = l2 // two instances share one budget
				}
				before := time.Since(start)
				d, err := l.Reserve(qctx(t), "global", rate, burst)
				if err != nil {
					t.Fatal(err)
				}
				after := time.Since(start)
				if i < burst && d > 5*time.Millisecond {
					t.Fatalf("reservation %d within the burst waits %v", i, d)
				}
				// The slot lies in [before+d, after+d] (the limiter's clock
				// read it between the two): slots never go back in time,
				// however long the loop stalls between calls.
				if after+d+time.Millisecond < prevLo {
					t.Fatalf("reservation %d is at most at %v, before the previous slot's %v", i, after+d, prevLo)
				}
				last, prevLo = d, before+d
			}
			// Slot i is at (i-burst+1)/rate after the start: n slots need
			// (n-burst)/rate seconds; allow for the time the loop took.
			want := time.Duration(float64(n-burst) / rate * float64(time.Second))
			elapsed := time.Since(start)
			if got := last + elapsed; got < want-10*time.Millisecond || last > want+10*time.Millisecond {
				t.Fatalf("last slot after %v (+%v elapsed), want about %v", last, elapsed, want)
			}
			if _, err := l1.Reserve(qctx(t), "global", 0, 1); err == nil {
				t.Fatal("rate 0 accepted")
			}
		})
		t.Run(b.name+"/pause is shared and never shortened", func(t *testing.T) {
			l1, l2 := b.pair(t)
			if p, err := l2.Paused(qctx(t)); err != nil || p != 0 {
				t.Fatalf("Paused = %v, %v; want 0", p, err)
			}
			if err := l1.Pause(qctx(t), 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := l1.Pause(qctx(t), time.Second); err != nil {
				t.Fatal(err)
			}
			if p, err := l2.Paused(qctx(t)); err != nil || p < 9*time.Second || p > 10*time.Second {
				t.Fatalf("Paused = %v, %v; want about 10s", p, err)
			}
		})
		t.Run(b.name+"/acquire takes no slot beyond its max wait", func(t *testing.T) {
			// Finding 1 of the Hardening issue: a slot taken that its caller
			// cannot use pushed every later caller back, until nothing was
			// sent. Callers far beyond the limit must leave it untouched.
			l1, l2 := b.pair(t)
			const rate, burst, maxWait = 1.0, 2, 250 * time.Millisecond
			start := time.Now()
			// The burst's two slots are now; the third (1 s) is past the max wait.
			for i := range burst {
				if w, p, err := l1.Acquire(qctx(t), "mw", rate, burst, maxWait); err != nil || p != 0 || w > maxWait {
					t.Fatalf("Acquire %d = wait %v, paused %v, %v; want a slot within %v", i, w, p, err, maxWait)
				}
			}
			for i := 0; i < 1000 && time.Since(start) < 500*time.Millisecond; i++ {
				w, p, err := l2.Acquire(qctx(t), "mw", rate, burst, maxWait)
				if err != nil || p != 0 || w <= maxWait || w > time.Second {
					t.Fatalf("saturated Acquire %d = wait %v, paused %v, %v; want a wait in (%v, 1s] and no slot", i, w, p, err, maxWait)
				}
			}
			// The refused calls took nothing: the next slot is still the
			// third, 1 s after the start, not a thousand intervals later.
			if w, err := l1.Reserve(qctx(t), "mw", rate, burst); err != nil || w+time.Since(start) > 1100*time.Millisecond {
				t.Fatalf("Reserve after the refused Acquires = %v, %v; want the third slot (1 s after the start)", w, err)
			}
		})
		t.Run(b.name+"/acquire takes no slot while paused", func(t *testing.T) {
			l1, l2 := b.pair(t)
			const rate, burst = 10.0, 2
			for i := range burst {
				if w, p, err := l1.Acquire(qctx(t), "acq", rate, burst, time.Second); err != nil || p != 0 || w > 5*time.Millisecond {
					t.Fatalf("Acquire %d = wait %v, paused %v, %v; want a slot now", i, w, p, err)
				}
			}
			if err := l2.Pause(qctx(t), 200*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if w, p, err := l1.Acquire(qctx(t), "acq", rate, burst, time.Second); err != nil || w != 0 || p <= 0 || p > 200*time.Millisecond {
					t.Fatalf("Acquire while paused = wait %v, paused %v, %v; want the pause", w, p, err)
				}
			}
			// The burst is spent; the paused calls took nothing: the next
			// slot is one interval after the second.
			w, err := l2.Reserve(qctx(t), "acq", rate, burst)
			if err != nil || w > 100*time.Millisecond {
				t.Fatalf("Reserve after the paused Acquires = %v, %v; want at most one interval", w, err)
			}
			if _, _, err := l1.Acquire(qctx(t), "acq", -1, 1, time.Second); err == nil {
				t.Fatal("negative rate accepted")
			}
		})
	}
}

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
}

var (
	_ limiter = (*store.RedisLimiter)(nil)
	_ limiter = (*store.MemoryLimiter)(nil)
)

func TestLimiters(t *testing.T) {
	srv := redistest.Start(t)
	backends := []struct {
		name string
		// pair returns two limiters sharing one budget.
		pair func(t *testing.T) (limiter, limiter)
	}{
		{"memory", func(t *testing.T) (limiter, limiter) { l := store.NewMemoryLimiter(nil); return l, l }},
		{"redis", func(t *testing.T) (limiter, limiter) {
			prefix := "rl" + t.Name()
			return store.NewRedis(srv.Client(t), prefix).Limiter(), store.NewRedis(srv.Client(t), prefix).Limiter()
		}},
	}
	for _, b := range backends {
		t.Run(b.name+"/gcra admits burst then rate", func(t *testing.T) {
			l1, l2 := b.pair(t)
			const rate, burst, n = 100.0, 5, 60
			start := time.Now()
			var last time.Duration
			for i := range n {
				l := l1
				if i%2 == 1 {
					l = l2 // two instances share one budget
				}
				d, err := l.Reserve(qctx(t), "global", rate, burst)
				if err != nil {
					t.Fatal(err)
				}
				if i < burst && d > 5*time.Millisecond {
					t.Fatalf("reservation %d within the burst waits %v", i, d)
				}
				if d+time.Millisecond < last {
					t.Fatalf("reservation %d waits %v, less than the previous %v", i, d, last)
				}
				last = d
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
	}
}

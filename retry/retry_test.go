package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/retry"
)

func TestBackoffSteps(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		min, max time.Duration
		steps    []time.Duration // the step of each wait: the wait lies in [step/2, step]
	}{
		{"doubles up to the cap", 100 * time.Millisecond, time.Second,
			[]time.Duration{100, 200, 400, 800, 1000, 1000}},
		{"cap below the start", time.Second, 100 * time.Millisecond,
			[]time.Duration{1000, 1000}},
		{"cap not a power of two", 500 * time.Millisecond, 30 * time.Second,
			[]time.Duration{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for round := range 200 { // the jitter is random: sample it
				b := retry.New(tc.min, tc.max)
				for i, ms := range tc.steps {
					step := ms * time.Millisecond
					if got := b.Next(); got < step/2 || got > step {
						t.Fatalf("round %d, wait %d = %v, want within [%v, %v]", round, i, got, step/2, step)
					}
				}
			}
		})
	}
}

func TestBackoffReset(t *testing.T) {
	t.Parallel()
	b := retry.New(10*time.Millisecond, time.Second)
	for range 5 {
		b.Next()
	}
	b.Reset()
	if got := b.Next(); got < 5*time.Millisecond || got > 10*time.Millisecond {
		t.Fatalf("first wait after Reset = %v, want within [5ms, 10ms]", got)
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if !retry.Sleep(t.Context(), time.Millisecond) {
		t.Error("Sleep(live ctx, 1ms) = false, want true")
	}
	if !retry.Sleep(t.Context(), 0) {
		t.Error("Sleep(live ctx, 0) = false, want true")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if retry.Sleep(ctx, time.Hour) {
		t.Error("Sleep(ended ctx, 1h) = true, want false")
	}
	if retry.Sleep(ctx, 0) {
		t.Error("Sleep(ended ctx, 0) = true, want false")
	}
}

func TestDelayAndJitter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		min, max time.Duration
		n        int
		step     time.Duration
	}{
		{"first retry", 50 * time.Millisecond, 2 * time.Second, 0, 50 * time.Millisecond},
		{"third retry", 50 * time.Millisecond, 2 * time.Second, 2, 200 * time.Millisecond},
		{"capped", 50 * time.Millisecond, 2 * time.Second, 10, 2 * time.Second},
		{"shift overflow", time.Second, time.Hour, 100, time.Hour},
		{"negative count", time.Second, time.Hour, -1, time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for range 200 {
				if got := retry.Delay(tc.min, tc.max, tc.n); got < tc.step/2 || got > tc.step {
					t.Fatalf("Delay(%v, %v, %d) = %v, want within [%v, %v]", tc.min, tc.max, tc.n, got, tc.step/2, tc.step)
				}
				if got := retry.Jitter(tc.step); got < tc.step/2 || got > tc.step {
					t.Fatalf("Jitter(%v) = %v, want within [%v, %v]", tc.step, got, tc.step/2, tc.step)
				}
			}
		})
	}
	if got := retry.Jitter(1); got != 1 {
		t.Errorf("Jitter(1ns) = %v, want 1ns", got)
	}
}

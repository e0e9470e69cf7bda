package poll_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/internal/poll"
)

func TestUntil(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	cases := []struct {
		name    string
		cond    func(n int) (bool, error)
		timeout time.Duration
		wantErr error
		wantMsg string
	}{
		{name: "holds at once", cond: func(int) (bool, error) { return true, nil }, timeout: time.Second},
		{name: "holds on the third try", cond: func(n int) (bool, error) { return n >= 3, nil }, timeout: 10 * time.Second},
		{name: "condition error stops at once", cond: func(int) (bool, error) { return false, boom }, timeout: 10 * time.Second, wantErr: boom},
		{
			name: "timeout names what and the deadline", cond: func(int) (bool, error) { return false, nil },
			timeout: 20 * time.Millisecond, wantErr: context.DeadlineExceeded, wantMsg: "timed out after 20ms waiting for the thing",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			err := poll.Until(context.Background(), tc.timeout, "the thing", func() (bool, error) {
				n++
				return tc.cond(n)
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Until = %v, want %v", err, tc.wantErr)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Until = %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

func TestUntilContextCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	err := poll.Until(ctx, time.Minute, "the thing", func() (bool, error) {
		if calls.Add(1) == 2 {
			cancel()
		}
		return false, nil
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for the thing") {
		t.Fatalf("Until = %v, want context.Canceled waiting for the thing", err)
	}
}

func TestEventuallyHolds(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	poll.Eventually(t, 10*time.Second, "three increments", func() bool { return n.Load() == 3 })
}

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper()                        {}
func (f *fatalTB) Fatalf(format string, a ...any) { f.msg = fmt.Sprintf(format, a...) }

func TestEventuallyFailsWithWhatAndDeadline(t *testing.T) {
	t.Parallel()
	f := &fatalTB{TB: t}
	poll.Eventually(f, 10*time.Millisecond, "the impossible", func() bool { return false })
	if !strings.Contains(f.msg, "timed out after 10ms waiting for the impossible") {
		t.Fatalf("Eventually failed with %q, want what and the deadline", f.msg)
	}
}

package telegram_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// testToken is distinctive so that a leak into an error text is obvious.
const testToken = "987654321:SECRET-token-Must_Not_Leak"

func newFake(t *testing.T, opts ...fakebot.Option) (*fakebot.Server, *telegram.Client) {
	t.Helper()
	opts = append([]fakebot.Option{
		fakebot.WithToken(testToken),
		fakebot.WithWebhookRetry(5*time.Millisecond, 20*time.Millisecond),
	}, opts...)
	srv := fakebot.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv, telegram.NewClient(srv.URL(), srv.Token(), telegram.WithRequestTimeout(5*time.Second))
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// memOffsets is an in-memory OffsetStore that records every save.
type memOffsets struct {
	mu      sync.Mutex
	offset  int64
	history []int64
	failSet int // the next failSet saves fail
	changed chan struct{}
}

func newMemOffsets() *memOffsets { return &memOffsets{changed: make(chan struct{})} }

// waitOffset waits until the saved offset is want.
func (m *memOffsets) waitOffset(t *testing.T, ctx context.Context, want int64) {
	t.Helper()
	for {
		m.mu.Lock()
		got, ch := m.offset, m.changed
		m.mu.Unlock()
		if got == want {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("offset = %d, want %d: %v", got, want, ctx.Err())
		}
	}
}

func (m *memOffsets) PollOffset(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.offset, nil
}

func (m *memOffsets) SetPollOffset(_ context.Context, o int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSet > 0 {
		m.failSet--
		return errors.New("store down")
	}
	m.offset = o
	m.history = append(m.history, o)
	if m.changed != nil {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return nil
}

// recorder is an UpdateHandler that records update ids and can fail.
type recorder struct {
	mu    sync.Mutex
	ids   []int64
	fail  map[int64]int // update id -> remaining failures
	calls int
	seen  chan int64
}

func newRecorder() *recorder {
	return &recorder{fail: map[int64]int{}, seen: make(chan int64, 1000)}
}

func (r *recorder) HandleUpdate(_ context.Context, u telegram.Update) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail[u.UpdateID] > 0 {
		r.fail[u.UpdateID]--
		r.seen <- -u.UpdateID
		return errors.New("handler: transient failure")
	}
	r.ids = append(r.ids, u.UpdateID)
	r.seen <- u.UpdateID
	return nil
}

func (r *recorder) handled() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.ids...)
}

// waitHandled waits until the handler has succeeded n times in total.
func (r *recorder) waitHandled(t *testing.T, ctx context.Context, n int) []int64 {
	t.Helper()
	for {
		if got := r.handled(); len(got) >= n {
			return got
		}
		select {
		case <-r.seen:
		case <-ctx.Done():
			t.Fatalf("handled %v, want %d updates: %v", r.handled(), n, ctx.Err())
		}
	}
}

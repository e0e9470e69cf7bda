package telegram_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tgnotify/tgnotify/telegram"
)

type runningPoller struct {
	cancel context.CancelFunc
	done   chan error
}

func startPoller(t *testing.T, c *telegram.Client, st telegram.OffsetStore, h telegram.UpdateHandler, log *zap.Logger, opts ...telegram.PollerOption) *runningPoller {
	t.Helper()
	opts = append([]telegram.PollerOption{
		telegram.WithPollTimeout(time.Second),
		telegram.WithBackoff(5*time.Millisecond, 40*time.Millisecond),
	}, opts...)
	p := telegram.NewPoller(c, st, h, log, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	rp := &runningPoller{cancel: cancel, done: make(chan error, 1)}
	go func() { rp.done <- p.Run(ctx) }()
	t.Cleanup(func() { rp.stop(t) })
	return rp
}

// stop cancels Run and checks it returns nil promptly.
func (rp *runningPoller) stop(t *testing.T) {
	t.Helper()
	if rp.cancel == nil {
		return
	}
	rp.cancel()
	rp.cancel = nil
	select {
	case err := <-rp.done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
}

func TestPollerInOrderAndOffsets(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	u1 := srv.Start(1, "a", "T1")
	u2 := srv.SendText(1, "a", "hello")
	u3 := srv.Block(1)
	st := newMemOffsets()
	rec := newRecorder()
	rp := startPoller(t, c, st, rec, nil, telegram.WithAllowedUpdates("message", "my_chat_member"))

	got := rec.waitHandled(t, ctx, 3)
	if !slices.Equal(got, []int64{u1.UpdateID, u2.UpdateID, u3.UpdateID}) {
		t.Errorf("handled %v, want %v", got, []int64{u1.UpdateID, u2.UpdateID, u3.UpdateID})
	}
	rp.stop(t)
	st.mu.Lock()
	hist := slices.Clone(st.history)
	st.mu.Unlock()
	if !slices.Equal(hist, []int64{u1.UpdateID + 1, u2.UpdateID + 1, u3.UpdateID + 1}) {
		t.Errorf("saved offsets %v, want one save per update", hist)
	}
}

func TestPollerResumesWithoutReplay(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	st := newMemOffsets()
	rec1 := newRecorder()
	u1 := srv.Start(1, "a", "")
	u2 := srv.SendText(1, "a", "x")
	rp := startPoller(t, c, st, rec1, nil)
	rec1.waitHandled(t, ctx, 2)
	rp.stop(t)

	u3 := srv.SendText(1, "a", "y")
	rec2 := newRecorder()
	startPoller(t, c, st, rec2, nil)
	got := rec2.waitHandled(t, ctx, 1)
	if !slices.Equal(got, []int64{u3.UpdateID}) {
		t.Errorf("after restart handled %v, want only %d (before: %d, %d)", got, u3.UpdateID, u1.UpdateID, u2.UpdateID)
	}
	st.waitOffset(t, ctx, u3.UpdateID+1)
}

func TestPollerRetriesFailedUpdate(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	u1 := srv.Start(1, "a", "")
	u2 := srv.SendText(1, "a", "x")
	u3 := srv.SendText(1, "a", "y")
	st := newMemOffsets()
	rec := newRecorder()
	rec.fail[u2.UpdateID] = 2
	core, logs := observer.New(zap.DebugLevel)
	startPoller(t, c, st, rec, zap.New(core))

	got := rec.waitHandled(t, ctx, 3)
	if !slices.Equal(got, []int64{u1.UpdateID, u2.UpdateID, u3.UpdateID}) {
		t.Errorf("handled %v: the failed update must be retried before the next one", got)
	}
	rec.mu.Lock()
	calls := rec.calls
	rec.mu.Unlock()
	if calls != 5 {
		t.Errorf("handler calls = %d, want 5", calls)
	}
	if n := logs.FilterMessageSnippet("handling update failed").Len(); n != 2 {
		t.Errorf("%d failure logs, want 2", n)
	}
}

func TestPollerOffsetSaveFailure(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	u1 := srv.Start(1, "a", "")
	u2 := srv.SendText(1, "a", "x")
	st := newMemOffsets()
	st.failSet = 2
	rec := newRecorder()
	startPoller(t, c, st, rec, nil)
	got := rec.waitHandled(t, ctx, 2)
	if !slices.Equal(got, []int64{u1.UpdateID, u2.UpdateID}) {
		t.Errorf("handled %v", got)
	}
	st.waitOffset(t, ctx, u2.UpdateID+1)
}

func TestPollerConflictLoggedAndBackedOff(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	if err := c.SetWebhook(ctx, telegram.SetWebhookParams{URL: "https://example.invalid/hook"}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	rec := newRecorder()
	startPoller(t, c, newMemOffsets(), rec, zap.New(core))
	if err := srv.WaitForCalls(ctx, "getUpdates", 4); err != nil {
		t.Fatal(err)
	}
	conflicts := logs.FilterMessageSnippet("conflict").All()
	if len(conflicts) < 3 {
		t.Fatalf("%d conflict logs, want at least 3", len(conflicts))
	}
	if !strings.Contains(conflicts[0].Message, "deleteWebhook") || !strings.Contains(conflicts[0].Message, "another instance") {
		t.Errorf("log %q does not explain the conflict", conflicts[0].Message)
	}
	var prev time.Duration
	for i, e := range conflicts[:3] {
		d, ok := e.ContextMap()["backoff"].(time.Duration)
		if !ok || d <= 0 {
			t.Fatalf("log %d has no backoff: %v", i, e.ContextMap())
		}
		if d < prev {
			t.Errorf("backoff decreased: %v then %v", prev, d)
		}
		prev = d
	}
	// Once the webhook is gone, polling recovers.
	if err := c.DeleteWebhook(ctx, false); err != nil {
		t.Fatal(err)
	}
	u := srv.Start(3, "c", "")
	if got := rec.waitHandled(t, ctx, 1); got[0] != u.UpdateID {
		t.Errorf("handled %v", got)
	}
}

func TestPollerRetryAfter(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	srv.FailNext("getUpdates", 1, 429, "", 1)
	u := srv.Start(1, "a", "")
	core, logs := observer.New(zap.DebugLevel)
	rec := newRecorder()
	start := time.Now()
	startPoller(t, c, newMemOffsets(), rec, zap.New(core))
	rec.waitHandled(t, ctx, 1)
	if el := time.Since(start); el < time.Second {
		t.Errorf("handled after %v, want the 1s retry_after honoured", el)
	}
	limited := logs.FilterMessageSnippet("rate limited").All()
	if len(limited) != 1 || limited[0].ContextMap()["backoff"] != time.Second {
		t.Errorf("rate-limit logs = %v", limited)
	}
	_ = u
}

func TestPollerTemporaryErrorsBackOff(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	srv.FailNext("getUpdates", 3, 502, "Bad Gateway", 0)
	srv.FailNextHTML("getUpdates", 1, 502)
	u := srv.Start(1, "a", "")
	rec := newRecorder()
	core, logs := observer.New(zap.DebugLevel)
	startPoller(t, c, newMemOffsets(), rec, zap.New(core))
	if got := rec.waitHandled(t, ctx, 1); got[0] != u.UpdateID {
		t.Errorf("handled %v", got)
	}
	if n := logs.FilterMessageSnippet("getUpdates failed").Len(); n != 4 {
		t.Errorf("%d failure logs, want 4", n)
	}
}

func TestPollerStopsOnCancelDuringLongPoll(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	rp := startPoller(t, c, newMemOffsets(), newRecorder(), nil, telegram.WithPollTimeout(30*time.Second))
	if err := srv.WaitForCalls(ctx, "getUpdates", 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rp.stop(t)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Run took %v to stop", el)
	}
}

// TestPollerSurvivesRevokedToken: a 401 from getUpdates (the token was
// revoked for a while) is reported and retried with backoff, and polling
// resumes by itself once the token works again. Before finding 2 of issue 8
// was fixed, Run returned at the first 401 and no update was ever fetched
// again until a restart.
func TestPollerSurvivesRevokedToken(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	srv.SetTokenRevoked(true)
	var (
		mu      sync.Mutex
		reports []error
	)
	lastReport := func() (error, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(reports) == 0 {
			return nil, 0
		}
		return reports[len(reports)-1], len(reports)
	}
	core, logs := observer.New(zap.DebugLevel)
	rec := newRecorder()
	rp := startPoller(t, c, newMemOffsets(), rec, zap.New(core), telegram.WithPollTimeout(30*time.Second),
		telegram.WithAuthReport(func(err error) {
			mu.Lock()
			reports = append(reports, err)
			mu.Unlock()
		}))
	if err := srv.WaitForCalls(ctx, "getUpdates", 4); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-rp.done:
		rp.cancel = nil
		t.Fatalf("Run returned %v while the token was revoked; want it to keep retrying", err)
	default:
	}
	if err, n := lastReport(); !telegram.IsUnauthorized(err) || n < 3 {
		t.Fatalf("last of %d reports = %v, want the 401 reported at each attempt", n, err)
	}
	if n := logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("rejected the bot token").Len(); n != 1 {
		t.Errorf("%d error logs for the revoked token, want 1 (once per outage)", n)
	}
	srv.SetTokenRevoked(false)
	// The recovery is seen without waiting for an update (no long poll
	// while the token is rejected).
	for err, _ := lastReport(); err != nil; err, _ = lastReport() {
		select {
		case <-ctx.Done():
			t.Fatalf("last report = %v, want nil once getUpdates works again", err)
		case <-time.After(10 * time.Millisecond): // polling with a deadline
		}
	}
	u := srv.Start(1, "a", "")
	if got := rec.waitHandled(t, ctx, 1); got[0] != u.UpdateID {
		t.Fatalf("handled %v, want %d", got, u.UpdateID)
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), testToken) {
			t.Fatalf("token in log %q %v", e.Message, e.ContextMap())
		}
	}
}

func TestTwoPollersConflict(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	core, logs := observer.New(zap.DebugLevel)
	startPoller(t, c, newMemOffsets(), newRecorder(), zap.New(core), telegram.WithPollTimeout(5*time.Second))
	startPoller(t, c, newMemOffsets(), newRecorder(), zap.New(core), telegram.WithPollTimeout(5*time.Second))
	for logs.FilterMessageSnippet("conflict").Len() == 0 {
		if err := srv.WaitForCalls(ctx, "getUpdates", srv.Calls("getUpdates")+1); err != nil {
			t.Fatal(err)
		}
	}
	e := logs.FilterMessageSnippet("conflict").All()[0]
	if err, _ := e.ContextMap()["error"].(string); !strings.Contains(err, "terminated by other getUpdates") {
		t.Errorf("conflict log error = %v", e.ContextMap())
	}
}

package webhook_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
)

const waitLong = 10 * time.Second

// storedCursor returns the pusher's stored cursor.
func storedCursor(t *testing.T, st webhook.Store) (string, bool) {
	t.Helper()
	c, ok, err := st.EventWebhookCursor(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c, ok
}

// waitCursor waits until the stored cursor is want.
func waitCursor(t *testing.T, st webhook.Store, want string) {
	t.Helper()
	poll.Eventually(t, waitLong, "stored cursor "+strconv.Quote(want), func() bool {
		c, ok := storedCursor(t, st)
		return ok && c == want
	})
}

func TestSignatureVerifiesFromTheDocs(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	log, st := newFakeLog(), store.NewMemory()
	run(t, newPusher(t, rcv, log, st, nil))
	waitCursor(t, st, "")
	log.addN(3)
	poll.Eventually(t, waitLong, "3 events accepted", func() bool { return rcv.count() == 3 })
	if rcv.badSigs != 0 {
		t.Fatalf("%d requests failed verification", rcv.badSigs)
	}

	// The verifier refuses what it must (so the check above can fail).
	body := []byte(`{"events":[]}`)
	now := time.Now()
	good := webhook.Sign([]byte(testSecret), now, body)
	tests := []struct {
		name, secret, header string
		body                 []byte
		ok                   bool
	}{
		{"good", testSecret, good, body, true},
		{"other secret", "other", good, body, false},
		{"tampered body", testSecret, good, []byte(`{"events":[{}]}`), false},
		{"stale", testSecret, webhook.Sign([]byte(testSecret), now.Add(-6*time.Minute), body), body, false},
		{"no v1", testSecret, strings.Split(good, ",")[0], body, false},
		{"garbage", testSecret, "v1=zz", body, false},
	}
	for _, tc := range tests {
		if err := verifySignature(tc.secret, tc.header, tc.body, now); (err == nil) != tc.ok {
			t.Errorf("%s: verify = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestFailingReceiverGetsEveryEventOnceInOrder(t *testing.T) {
	t.Parallel()
	// Three 500s, two timeouts, a 503 and a redirect, then it recovers.
	answers := []int{500, 500, 500, hang, hang, 503, 302}
	rcv := newReceiver(t, func(n int, _ string) int {
		if n <= len(answers) {
			return answers[n-1]
		}
		return 0
	})
	log, st, obs := newFakeLog(), store.NewMemory(), newRecObserver()
	run(t, newPusher(t, rcv, log, st, nil, webhook.WithObserver(obs)))
	waitCursor(t, st, "")
	log.addN(150)
	poll.Eventually(t, waitLong, "the first 150 accepted", func() bool { return rcv.count() >= 150 })
	log.addN(100)
	poll.Eventually(t, waitLong, "250 accepted", func() bool { return rcv.count() >= 250 })
	waitCursor(t, st, "250")
	if got := rcv.ids(); !slices.Equal(got, evIDs(1, 250)) {
		t.Fatalf("accepted %d events, not ev1…ev250 once each in order: %v", len(got), got)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	want := map[string]int{"500": 3, "timeout": 2, "503": 1, "302": 1}
	if len(obs.failed) != len(want) || obs.delivered != 250 {
		t.Fatalf("failures %v (want %v), delivered %d (want 250)", obs.failed, want, obs.delivered)
	}
	for k, v := range want {
		if obs.failed[k] != v {
			t.Fatalf("failures %v, want %v", obs.failed, want)
		}
	}
}

func TestNewWebhookStartsAtTheTailAndResumes(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	log, st := newFakeLog(), store.NewMemory()
	log.addN(3) // before the webhook was configured: never sent
	stop := run(t, newPusher(t, rcv, log, st, nil))
	waitCursor(t, st, "3")
	log.addN(2)
	poll.Eventually(t, waitLong, "ev4, ev5", func() bool { return rcv.count() == 2 })
	waitCursor(t, st, "5")
	stop()

	log.addN(2) // while no replica pushes
	run(t, newPusher(t, rcv, log, st, nil))
	poll.Eventually(t, waitLong, "ev6, ev7", func() bool { return rcv.count() >= 4 })
	waitCursor(t, st, "7")
	if got := rcv.ids(); !slices.Equal(got, evIDs(4, 7)) {
		t.Fatalf("accepted %v, want ev4…ev7", got)
	}
}

func TestCursorTooOldContinuesFromTheOldestRetained(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	log, st, obs := newFakeLog(), store.NewMemory(), newRecObserver()
	log.addN(5)
	stop := run(t, newPusher(t, rcv, log, st, nil))
	waitCursor(t, st, "5")
	stop()
	log.addN(5) // ev6…ev10
	log.trim(7) // ev1…ev7 trimmed: ev6 and ev7 are lost to the receiver
	run(t, newPusher(t, rcv, log, st, nil, webhook.WithObserver(obs)))
	waitCursor(t, st, "10")
	if got := rcv.ids(); !slices.Equal(got, evIDs(8, 10)) {
		t.Fatalf("accepted %v, want ev8…ev10", got)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.tooOld != 1 {
		t.Fatalf("CursorTooOld reported %d times, want 1", obs.tooOld)
	}
}

func TestTypesFilter(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	log, st := newFakeLog(), store.NewMemory()
	run(t, newPusher(t, rcv, log, st, []events.Type{events.TypeNotificationFailed, events.TypeButtonPressed}))
	waitCursor(t, st, "")
	log.add(time.Time{}, events.TypeUserLinked, events.TypeNotificationFailed, events.TypeNotificationSent,
		events.TypeButtonPressed, events.TypeUserUnlinked)
	waitCursor(t, st, "5") // past the skipped entries too
	if got := rcv.ids(); !slices.Equal(got, []string{"ev2", "ev4"}) {
		t.Fatalf("accepted %v, want ev2, ev4", got)
	}
}

func TestLag(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	failing := make(chan struct{})
	rcv := newReceiver(t, func(int, string) int {
		select {
		case <-failing:
			return 0
		default:
			return 500
		}
	})
	log, st := newFakeLog(), store.NewMemory()
	p := newPusher(t, rcv, log, st, nil, webhook.WithClock(func() time.Time { return t0.Add(90 * time.Second) }))
	run(t, p)
	waitCursor(t, st, "")
	if p.Lag() != 0 {
		t.Fatalf("Lag = %v with nothing pending, want 0", p.Lag())
	}
	log.add(t0, events.TypeUserLinked)
	poll.Eventually(t, waitLong, "lag of the unacknowledged event", func() bool { return p.Lag() == 90*time.Second })
	close(failing)
	waitCursor(t, st, "1")
	poll.Eventually(t, waitLong, "lag 0 once caught up", func() bool { return p.Lag() == 0 })
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  webhook.Config
	}{
		{"ftp url", webhook.Config{URL: "ftp://x.example/hook", Secret: testSecret}},
		{"no host", webhook.Config{URL: "https:///hook", Secret: testSecret}},
		{"not a url", webhook.Config{URL: "::", Secret: testSecret}},
		{"no secret", webhook.Config{URL: "https://x.example/hook"}},
		{"bad type", webhook.Config{URL: "https://x.example/hook", Secret: testSecret, Types: []events.Type{0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := webhook.New(tc.cfg, newFakeLog(), store.NewMemory(), simpleMarshal, zaptest.NewLogger(t)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := webhook.New(webhook.Config{URL: "http://x.example/hook", Secret: testSecret}, newFakeLog(),
		store.NewMemory(), simpleMarshal, zaptest.NewLogger(t)); err != nil {
		t.Fatalf("a good config refused: %v", err)
	}
}

// TestRunEndsWithItsContext: a stop with a request hanging ends within the
// request timeout, acknowledges nothing and gives the lease up.
func TestRunEndsWithItsContext(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, func(int, string) int { return hang })
	log, st := newFakeLog(), store.NewMemory()
	p := newPusher(t, rcv, log, st, nil, webhook.WithRequestTimeout(300*time.Millisecond))
	stop := run(t, p)
	waitCursor(t, st, "")
	log.addN(1)
	poll.Eventually(t, waitLong, "a request in flight", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.inFlight == 1
	})
	stop()
	if c, _ := storedCursor(t, st); c != "" {
		t.Fatalf("cursor = %q after an unanswered request, want \"\"", c)
	}
	// The lease was given up: another pusher takes it at once.
	if ok, err := st.AcquireLease(context.Background(), webhook.LeaseName, "other", time.Minute); err != nil || !ok {
		t.Fatalf("lease after Run = %v, %v; want released", ok, err)
	}
}

// TestShutdownFinishesTheBatchInFlight: a stop while the receiver is
// handling a batch lets the request finish and stores its cursor, so the
// next start re-sends nothing.
func TestShutdownFinishesTheBatchInFlight(t *testing.T) {
	t.Parallel()
	handling, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rcv := newReceiver(t, func(int, string) int {
		once.Do(func() { close(handling); <-release })
		return 0
	})
	log, st := newFakeLog(), store.NewMemory()
	stop := run(t, newPusher(t, rcv, log, st, nil, webhook.WithRequestTimeout(waitLong)))
	waitCursor(t, st, "")
	log.addN(3)
	<-handling
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned with a request in flight")
	case <-time.After(50 * time.Millisecond): // a bound on a wrong early return, not a synchronisation
	}
	close(release)
	<-stopped
	if c, _ := storedCursor(t, st); c != "3" {
		t.Fatalf("cursor = %q after the shutdown, want 3 (the batch in flight acknowledged)", c)
	}
	log.addN(1)
	run(t, newPusher(t, rcv, log, st, nil))
	waitCursor(t, st, "4")
	if got := rcv.ids(); !slices.Equal(got, evIDs(1, 4)) {
		t.Fatalf("accepted %v, want ev1…ev4 once each", got)
	}
}

// TestTrimmedWhileCaughtUp: the log trims the entry the cursor names (a
// quiet week, then an event) while the pusher is caught up: nothing was
// lost, so nothing is reported lost; the new event is pushed.
func TestTrimmedWhileCaughtUp(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, nil)
	log, st, obs := newFakeLog(), store.NewMemory(), newRecObserver()
	run(t, newPusher(t, rcv, log, st, nil, webhook.WithObserver(obs)))
	waitCursor(t, st, "")
	log.addN(1)
	waitCursor(t, st, "1")
	log.trim(1)
	log.addN(1)
	waitCursor(t, st, "2")
	if got := rcv.ids(); !slices.Equal(got, evIDs(1, 2)) {
		t.Fatalf("accepted %v, want ev1, ev2", got)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.tooOld != 0 {
		t.Fatalf("CursorTooOld reported %d times, want 0: nothing was lost", obs.tooOld)
	}
}

package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
)

const testSecret = "test-secret-0123456789abcdef"

// verifySignature is the Go snippet of docs/OPERATIONS.md ("Event
// webhooks"), as a receiver would write it: parse t and every v1, refuse a
// t more than 5 minutes away, compare HMAC-SHA256(secret, "<t>.<body>") in
// constant time.
func verifySignature(secret, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside the tolerance")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid v1 signature")
}

// wireEvent is the part of an event the test receiver reads.
type wireEvent struct {
	Cursor  string `json:"cursor"`
	EventID string `json:"event_id"`
	Type    string `json:"type"`
}

// simpleMarshal stands in for events/wire.MarshalBatch.
func simpleMarshal(evs []events.Event) ([]byte, error) {
	out := make([]wireEvent, len(evs))
	for i, e := range evs {
		out[i] = wireEvent{Cursor: e.Cursor, EventID: e.ID, Type: "EVENT_TYPE_" + e.Type.String()}
	}
	return json.Marshal(map[string][]wireEvent{"events": out})
}

// fakeLog is an events.Reader over a slice; cursors are sequence numbers
// ("1", "2", …), trimming drops the oldest (reported as the store does).
type fakeLog struct {
	mu     sync.Mutex
	evs    []events.Event // retained, oldest first
	first  int            // sequence number of evs[0]
	next   int            // sequence number of the next append
	notify chan struct{}  // closed at each append
}

var _ events.Reader = (*fakeLog)(nil)

func newFakeLog() *fakeLog { return &fakeLog{first: 1, next: 1, notify: make(chan struct{})} }

// add appends events of the types given at time at (now when zero).
func (l *fakeLog) add(at time.Time, types ...events.Type) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at.IsZero() {
		at = time.Now()
	}
	for _, typ := range types {
		seq := strconv.Itoa(l.next)
		l.evs = append(l.evs, events.Event{Cursor: seq, ID: "ev" + seq, Type: typ, UserID: "u", Time: at})
		l.next++
	}
	close(l.notify)
	l.notify = make(chan struct{})
}

// addN appends n USER_LINKED events.
func (l *fakeLog) addN(n int) {
	types := make([]events.Type, n)
	for i := range types {
		types[i] = events.TypeUserLinked
	}
	l.add(time.Time{}, types...)
}

// trim drops the n oldest retained events.
func (l *fakeLog) trim(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = l.evs[n:]
	l.first += n
}

func (l *fakeLog) Read(ctx context.Context, after string, f events.Filter, limit int) ([]events.Event, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if limit < 1 || limit > events.MaxRead {
		return nil, "", errors.New("bad limit")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	a := 0
	if after != "" {
		var err error
		if a, err = strconv.Atoi(after); err != nil || a < 0 || a >= l.next {
			return nil, "", events.ErrBadCursor
		}
		// As the store: the log does not remember which entries it
		// trimmed, so a cursor before the oldest retained entry (or, the
		// log being empty, before the last one made) is too old, even the
		// last trimmed entry's own.
		bound := l.first
		if len(l.evs) == 0 {
			bound = l.next - 1
		}
		if l.first > 1 && a < bound {
			oldest := ""
			if len(l.evs) > 0 {
				oldest = l.evs[0].Cursor
			}
			return nil, "", &events.CursorTooOldError{Oldest: oldest}
		}
	}
	var out []events.Event
	next := after
	for _, e := range l.evs[max(a-l.first+1, 0):] {
		if len(out) == limit {
			break
		}
		next = e.Cursor
		if f.Match(e) {
			out = append(out, e)
		}
	}
	return out, next, nil
}

func (l *fakeLog) Wait(ctx context.Context, after string, maxWait time.Duration) error {
	a, _ := strconv.Atoi(after)
	t := time.NewTimer(maxWait)
	defer t.Stop()
	for {
		l.mu.Lock()
		has, ch := l.next-1 > a, l.notify
		l.mu.Unlock()
		if has {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-ch:
		}
	}
}

// answer is what the receiver does with one request: accept (0), answer
// a status code, or hang until the pusher gives up (hang).
const hang = -1

// receiver is an httptest server playing the application: it verifies
// each request's signature (from the docs) and records the events of the
// requests it accepts.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	plan func(n int, from string) int // answer to request n (1-based) sent by from

	mu       sync.Mutex
	requests int
	accepted []wireEvent
	badSigs  int
	inFlight int
	overlaps int
	senders  []string // the sender of each accepted batch
}

func newReceiver(t *testing.T, plan func(n int, from string) int) *receiver {
	r := &receiver{t: t, plan: plan}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.inFlight++
	if r.inFlight > 1 {
		r.overlaps++
	}
	r.requests++
	n := r.requests
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.inFlight--; r.mu.Unlock() }()

	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" ||
		verifySignature(testSecret, req.Header.Get(webhook.SignatureHeader), body, time.Now()) != nil {
		r.mu.Lock()
		r.badSigs++
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	from := req.Header.Get("X-Test-Pusher")
	answer := 0
	if r.plan != nil {
		answer = r.plan(n, from)
	}
	switch {
	case answer == hang:
		<-req.Context().Done()
		return
	case answer != 0:
		w.WriteHeader(answer)
		return
	}
	var b struct{ Events []wireEvent }
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.accepted = append(r.accepted, b.Events...)
	r.senders = append(r.senders, from)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// ids returns the event ids accepted so far, in order.
func (r *receiver) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.accepted))
	for i, e := range r.accepted {
		out[i] = e.EventID
	}
	return out
}

func (r *receiver) count() int { return len(r.ids()) }

// evIDs returns "ev<from>" … "ev<to>".
func evIDs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, "ev"+strconv.Itoa(i))
	}
	return out
}

// recObserver records what a pusher reports.
type recObserver struct {
	mu        sync.Mutex
	delivered int
	failed    map[string]int
	tooOld    int
}

func newRecObserver() *recObserver { return &recObserver{failed: map[string]int{}} }

func (o *recObserver) Delivered(n int) { o.mu.Lock(); o.delivered += n; o.mu.Unlock() }
func (o *recObserver) Failed(s string) { o.mu.Lock(); o.failed[s]++; o.mu.Unlock() }
func (o *recObserver) CursorTooOld()   { o.mu.Lock(); o.tooOld++; o.mu.Unlock() }

// fastOpts make a pusher fast for tests: millisecond backoff, short
// timeout, lease and wait.
func fastOpts() []webhook.Option {
	return []webhook.Option{
		webhook.WithBackoff(time.Millisecond, 5*time.Millisecond),
		webhook.WithRequestTimeout(200 * time.Millisecond),
		webhook.WithLease(600*time.Millisecond, 100*time.Millisecond),
		webhook.WithWait(50 * time.Millisecond),
	}
}

// run starts p and returns a stop function that cancels it and waits for
// Run to return.
func run(t *testing.T, p *webhook.Pusher) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// newPusher builds a pusher to rcv's URL with the test secret.
func newPusher(t *testing.T, rcv *receiver, log events.Reader, st webhook.Store, types []events.Type, opts ...webhook.Option) *webhook.Pusher {
	t.Helper()
	cfg := webhook.Config{URL: rcv.srv.URL + "/hook", Secret: testSecret, Types: types}
	p, err := webhook.New(cfg, log, st, simpleMarshal, zaptest.NewLogger(t), append(fastOpts(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// taggedClient sends an X-Test-Pusher header naming the pusher.
func taggedClient(name string) *http.Client {
	return &http.Client{Transport: tagTransport{name: name}}
}

type tagTransport struct{ name string }

func (tt tagTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Test-Pusher", tt.name)
	return http.DefaultTransport.RoundTrip(req)
}

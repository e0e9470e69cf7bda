package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// rateKeysYAML has a key per kind of limit: "billing" (notify) may make 2
// calls at once, then one an hour; "ops" (both scopes) 1 at once, then 10
// a second; "web-frontend" (link) has no limit.
func rateKeysYAML(billingRate string) string {
	return `keys:
  - name: web-frontend
    sha256: "` + hashOf(secretLink) + `"
    scopes: [link]
  - name: billing
    sha256: "` + hashOf(secretNotify) + `"
    scopes: [notify]
` + billingRate + `
  - name: ops
    sha256: ` + hashOf(secretBoth) + `
    scopes: [link, notify]
    rate: 10/s
    burst: 1
`
}

const billingHourly = "    rate: 1/h\n    burst: 2"

// fakeClock is a settable clock for the Authenticator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newRateHarness is newHarness with a fake clock.
func newRateHarness(t *testing.T, doc string) (*harness, *fakeClock) {
	t.Helper()
	h := newHarness(t, mustParse(t, doc))
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	h.auth.now = clock.now
	return h, clock
}

// wantRateLimited checks err is RESOURCE_EXHAUSTED with a RetryInfo of
// retry.
func wantRateLimited(t *testing.T, err error, retry time.Duration) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("code %s (%v), want ResourceExhausted", st.Code(), err)
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			if got := ri.GetRetryDelay().AsDuration(); got != retry {
				t.Fatalf("RetryInfo delay %v, want %v", got, retry)
			}
			return
		}
	}
	t.Fatalf("no RetryInfo detail in %v", st.Details())
}

func notify(ctx context.Context, c notifierv1.NotifierServiceClient) error {
	_, err := c.Notify(ctx, &notifierv1.NotifyRequest{})
	return err
}

func TestRateLimitPerKey(t *testing.T) {
	h, clock := newRateHarness(t, rateKeysYAML(billingHourly))
	c := notifierv1.NewNotifierServiceClient(h.conn)
	ctx := t.Context()
	billing := withAuth(ctx, "Bearer "+secretNotify)
	ops := withAuth(ctx, "Bearer "+secretBoth)
	link := withAuth(ctx, "Bearer "+secretLink)

	for i := range 2 {
		if err := notify(billing, c); err != nil {
			t.Fatalf("billing call %d within its burst: %v", i+1, err)
		}
	}
	wantRateLimited(t, notify(billing, c), time.Hour)
	// A rejected call does not use up the next token.
	clock.advance(time.Hour - time.Second)
	wantRateLimited(t, notify(billing, c), time.Second)

	// Another key's budget is its own.
	if err := notify(ops, c); err != nil {
		t.Fatalf("ops while billing is limited: %v", err)
	}
	wantRateLimited(t, notify(ops, c), 100*time.Millisecond)
	// Every method of the key counts against the one budget.
	_, err := c.GetStatus(ops, &notifierv1.GetStatusRequest{})
	wantRateLimited(t, err, 100*time.Millisecond)
	clock.advance(100 * time.Millisecond)
	if _, err := c.GetStatus(ops, &notifierv1.GetStatusRequest{}); err != nil {
		t.Fatalf("ops after its refill: %v", err)
	}

	// A key without a rate is unlimited.
	for i := range 200 {
		if _, err := c.CreateLinkToken(link, &notifierv1.CreateLinkTokenRequest{}); err != nil {
			t.Fatalf("unlimited key, call %d: %v", i+1, err)
		}
	}

	clock.advance(time.Second)
	if err := notify(billing, c); err != nil {
		t.Fatalf("billing after an hour: %v", err)
	}

	// Calls rejected before the limit (bad key, missing scope) take no token.
	h2, _ := newRateHarness(t, rateKeysYAML(billingHourly))
	c2 := notifierv1.NewNotifierServiceClient(h2.conn)
	for range 5 {
		if _, err := c2.CreateLinkToken(billing, &notifierv1.CreateLinkTokenRequest{}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("billing without the link scope: %v", err)
		}
	}
	if err := notify(billing, c2); err != nil {
		t.Fatalf("billing after calls refused for scope: %v", err)
	}
}

// TestRateLimitReload checks that a reload keeps a key's bucket (neither
// refilled nor emptied), applies a changed rate, and lifts a removed one.
func TestRateLimitReload(t *testing.T) {
	h, clock := newRateHarness(t, rateKeysYAML(billingHourly))
	c := notifierv1.NewNotifierServiceClient(h.conn)
	billing := withAuth(t.Context(), "Bearer "+secretNotify)
	for range 2 {
		if err := notify(billing, c); err != nil {
			t.Fatal(err)
		}
	}
	wantRateLimited(t, notify(billing, c), time.Hour)

	h.auth.Swap(mustParse(t, rateKeysYAML(billingHourly)))
	wantRateLimited(t, notify(billing, c), time.Hour)

	h.auth.Swap(mustParse(t, rateKeysYAML("    rate: 10/s\n    burst: 2")))
	wantRateLimited(t, notify(billing, c), 100*time.Millisecond)
	clock.advance(100 * time.Millisecond)
	if err := notify(billing, c); err != nil {
		t.Fatalf("after the new rate's refill: %v", err)
	}

	h.auth.Swap(mustParse(t, rateKeysYAML("")))
	for i := range 50 {
		if err := notify(billing, c); err != nil {
			t.Fatalf("call %d after the rate was removed: %v", i+1, err)
		}
	}
}

// TestRateLimitREST checks that the REST mirror answers a call over the
// key's rate with HTTP 429 and the RetryInfo in the body.
func TestRateLimitREST(t *testing.T) {
	h, _ := newRateHarness(t, rateKeysYAML(billingHourly))
	mux := runtime.NewServeMux()
	if err := notifierv1.RegisterNotifierServiceHandlerClient(t.Context(), mux, notifierv1.NewNotifierServiceClient(h.conn)); err != nil {
		t.Fatal(err)
	}
	call := func(secret string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/users/u1/notifications", strings.NewReader(`{"text":"hi"}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
		rec := call(secretNotify)
		if rec.Code != want {
			t.Fatalf("call %d: status %d, want %d; body %s", i+1, rec.Code, want, rec.Body)
		}
		if want == http.StatusTooManyRequests && !strings.Contains(rec.Body.String(), "RetryInfo") {
			t.Fatalf("429 body without RetryInfo: %s", rec.Body)
		}
	}
	if rec := call(secretBoth); rec.Code != http.StatusOK {
		t.Fatalf("another key: status %d", rec.Code)
	}
}

// TestRateLimitRejectedCallsCostNothing checks that refused calls do not
// push the next free time out: after the refill exactly one call passes,
// however many were refused.
func TestRateLimitRejectedCallsCostNothing(t *testing.T) {
	h, clock := newRateHarness(t, rateKeysYAML(billingHourly))
	c := notifierv1.NewNotifierServiceClient(h.conn)
	billing := withAuth(t.Context(), "Bearer "+secretNotify)
	for range 2 {
		if err := notify(billing, c); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		if err := notify(billing, c); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("over the limit: %v", err)
		}
	}
	clock.advance(time.Hour)
	if err := notify(billing, c); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
	if err := notify(billing, c); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call after one refill: %v", err)
	}
}

func TestParseRate(t *testing.T) {
	one := func(n int) *int { return &n }
	cases := []struct {
		name      string
		spec      string
		burst     *int
		perSecond float64
		wantBurst int
		wantErr   string
	}{
		{"none", "", nil, 0, 0, ""},
		{"per second, default burst", "50/s", nil, 50, 50, ""},
		{"per minute", "600/m", nil, 10, 10, ""},
		{"per hour", "1000/h", one(5), 1000.0 / 3600, 5, ""},
		{"fraction", "0.5/s", nil, 0.5, 1, ""},
		{"blanks around", " 2/s ", one(3), 2, 3, ""},
		{"burst without rate", "", one(3), 0, 0, "burst without rate"},
		{"no unit", "50", nil, 0, 0, `invalid rate "50"`},
		{"unknown unit", "50/d", nil, 0, 0, `invalid rate "50/d"`},
		{"negative", "-1/s", nil, 0, 0, "invalid rate"},
		{"zero", "0/s", nil, 0, 0, "must be above 0"},
		{"too fast", "2000000/s", nil, 0, 0, "at most"},
		{"zero burst", "5/s", one(0), 0, 0, "invalid burst 0"},
		{"huge burst", "5/s", one(maxBurst + 1), 0, 0, "invalid burst"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseRate(tc.spec, tc.burst)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseRate(%q) error %v, want %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseRate(%q): %v", tc.spec, err)
			}
			if tc.spec == "" {
				if r != nil {
					t.Fatalf("no rate parsed as %+v", r)
				}
				return
			}
			if r.perSecond != tc.perSecond || r.burst != tc.wantBurst {
				t.Fatalf("parseRate(%q) = %v/s burst %d, want %v/s burst %d", tc.spec, r.perSecond, r.burst, tc.perSecond, tc.wantBurst)
			}
		})
	}
}

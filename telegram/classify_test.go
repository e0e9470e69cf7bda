package telegram_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
)

// TestClientOnlyJSONIsAVerdict sends through the fake Bot API answering
// the ways a proxy, a firewall or Telegram itself may answer, and checks
// how each answer is classified: only Telegram's JSON "ok":false answer is
// an *telegram.Error (a verdict on the chat); every other answer is an
// *telegram.HTTPError, temporary, matching none of the verdict predicates.
// Before finding 2 of issue 8 was fixed, an HTML 403 was IsBlocked (and
// unlinked the user) and HTML 404/407/408 pages were permanent failures.
func TestClientOnlyJSONIsAVerdict(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	srv.Start(3, "ok", "")
	srv.Start(1, "blocked", "")
	srv.Block(1)
	// A proxy page that echoes the request path, token included.
	echo := "<html><body>403 Forbidden: /bot" + testToken + "/sendMessage is blocked by policy</body></html>"

	tests := []struct {
		name  string
		setup func()
		chat  int64
		// verdict: an *telegram.Error is wanted; else an *telegram.HTTPError
		// with status.
		verdict                            bool
		status                             int
		blocked, notFound, auth, temporary bool
	}{
		{name: "html 403 from a waf", setup: func() { srv.FailNextHTML("sendMessage", 1, 403) }, status: 403, temporary: true},
		{name: "html 404", setup: func() { srv.FailNextHTML("sendMessage", 1, 404) }, status: 404, temporary: true},
		{name: "html 407 proxy auth", setup: func() { srv.FailNextHTML("sendMessage", 1, 407) }, status: 407, temporary: true},
		{name: "html 408", setup: func() { srv.FailNextHTML("sendMessage", 1, 408) }, status: 408, temporary: true},
		{name: "html 401", setup: func() { srv.FailNextHTML("sendMessage", 1, 401) }, status: 401, temporary: true},
		{name: "html 502", setup: func() { srv.FailNextHTML("sendMessage", 1, 502) }, status: 502, temporary: true},
		{name: "empty 403", setup: func() { srv.FailNextRaw("sendMessage", 1, 403, "", "") }, status: 403, temporary: true},
		{name: "empty 200", setup: func() { srv.FailNextRaw("sendMessage", 1, 200, "application/json", "") }, status: 200, temporary: true},
		{name: "page echoing the token", setup: func() { srv.FailNextRaw("sendMessage", 1, 403, "text/html", echo) }, status: 403, temporary: true},
		{name: "json without envelope", setup: func() {
			srv.FailNextRaw("sendMessage", 1, 403, "application/json", `{"message":"Forbidden","error_code":403}`)
		}, status: 403, temporary: true},
		{name: "json ok false alone", setup: func() { srv.FailNextRaw("sendMessage", 1, 403, "application/json", `{"ok":false}`) }, status: 403, temporary: true},
		{name: "large html page", setup: func() {
			srv.FailNextRaw("sendMessage", 1, 403, "text/html", "<html>"+strings.Repeat("Forbidden ", 100_000)+"</html>")
		}, status: 403, temporary: true},
		{name: "json 403 blocked", chat: 1, verdict: true, blocked: true},
		{name: "json 400 chat not found", chat: 999, verdict: true, notFound: true},
		{name: "json 401 revoked token", setup: func() { srv.SetTokenRevoked(true) }, verdict: true, auth: true},
		{name: "json 404 not found", setup: func() { srv.FailNext("sendMessage", 1, 404, "Not Found", 0) }, verdict: true, auth: true},
		{name: "json 502", setup: func() { srv.FailNext("sendMessage", 1, 502, "Bad Gateway", 0) }, verdict: true, temporary: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			t.Cleanup(func() { srv.SetTokenRevoked(false); srv.ClearFaults() })
			chat := tc.chat
			if chat == 0 {
				chat = 3
			}
			_, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: chat, Text: "hi"})
			if err == nil {
				t.Fatal("want an error")
			}
			var te *telegram.Error
			var he *telegram.HTTPError
			switch {
			case tc.verdict && !errors.As(err, &te):
				t.Fatalf("err = %v (%T), want *telegram.Error", err, err)
			case !tc.verdict && !errors.As(err, &he):
				t.Fatalf("err = %v (%T), want *telegram.HTTPError", err, err)
			case !tc.verdict && errors.As(err, &te):
				t.Fatalf("err = %v is also a *telegram.Error", err)
			}
			if he != nil {
				if he.StatusCode != tc.status || he.Method != "sendMessage" || len(he.Snippet) > telegram.MaxSnippetBytes {
					t.Errorf("HTTPError = %+v, want status %d, method sendMessage, snippet ≤ %d bytes",
						he, tc.status, telegram.MaxSnippetBytes)
				}
				if !errors.Is(err, telegram.ErrMalformedResponse) {
					t.Errorf("HTTPError %v does not wrap ErrMalformedResponse", err)
				}
			}
			if strings.Contains(err.Error(), testToken) || len(err.Error()) > 400 {
				t.Errorf("err text leaks the token or is too long (%d bytes): %q", len(err.Error()), err)
			}
			check := func(what string, got, want bool) {
				t.Helper()
				if got != want {
					t.Errorf("%s(%v) = %v, want %v", what, err, got, want)
				}
			}
			check("IsBlocked", telegram.IsBlocked(err), tc.blocked)
			check("IsChatNotFound", telegram.IsChatNotFound(err), tc.notFound)
			check("IsParseEntities", telegram.IsParseEntities(err), false)
			check("IsTooLong", telegram.IsTooLong(err), false)
			check("IsAuthFailure", telegram.IsAuthFailure(err), tc.auth)
			check("IsTemporary", telegram.IsTemporary(err), tc.temporary)
			if _, ok := telegram.RetryAfter(err); ok {
				t.Errorf("RetryAfter(%v) = true", err)
			}
			if _, ok := telegram.MigratedTo(err); ok {
				t.Errorf("MigratedTo(%v) = true", err)
			}
		})
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read int
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += n
	return n, err
}

func (b *countingBody) Close() error { return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestClientReadsLittleOfAnErrorPage checks that an answer that cannot be
// a Bot API response (it does not start with '{') is not read to the end:
// a 5 MiB error page costs at most a few hundred bytes.
func TestClientReadsLittleOfAnErrorPage(t *testing.T) {
	body := &countingBody{r: bytes.NewReader([]byte("<html>" + strings.Repeat("x", 5<<20) + "</html>"))}
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 403, Header: http.Header{"Content-Type": {"text/html"}}, Body: body, Request: r}, nil
	})}
	_, err := telegram.NewClient("http://tg.invalid", testToken, telegram.WithHTTPClient(hc)).GetMe(testCtx(t))
	var he *telegram.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 403 {
		t.Fatalf("err = %v, want an *HTTPError 403", err)
	}
	if body.read > 4096 {
		t.Errorf("read %d bytes of the error page, want at most 4 KiB", body.read)
	}
}

package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/ui"
)

// withKey returns a context presenting bearer as the API key or session.
func withKey(t testing.TB, bearer string) context.Context {
	return metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+bearer)
}

// startKeysHarness runs the service with API keys on (writeKeys: link-key,
// notify-key, events-key).
func startKeysHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	if o.env == nil {
		o.env = map[string]string{}
	}
	o.env["NOTIFIER_API_KEYS_FILE"] = writeKeys(t)
	return startHarness(t, o)
}

// mintSession mints a browser session for user with the link key.
func (h *harness) mintSession(user string, ttl time.Duration) string {
	h.t.Helper()
	req := &notifierv1.CreateBrowserSessionRequest{UserId: user}
	if ttl != 0 {
		req.Ttl = durationpb.New(ttl)
	}
	resp, err := h.client.CreateBrowserSession(withKey(h.t, "link-key"), req)
	if err != nil {
		h.t.Fatalf("CreateBrowserSession(%s): %v", user, err)
	}
	return resp.GetSessionToken()
}

// restAs is a REST call presenting bearer; it returns the status code and body.
func (h *harness) restAs(bearer, method, path, body string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

// sessionField is the field a refused CreateBrowserSession must name.
func sessionField(r *notifierv1.CreateBrowserSessionRequest) string {
	switch {
	case r.Bot != "":
		return "bot"
	case r.Ttl != nil:
		return "ttl"
	}
	return "user_id"
}

func TestCreateBrowserSessionBadInput(t *testing.T) {
	t.Parallel()
	h := startKeysHarness(t, harnessOpts{})
	cases := []struct {
		name string
		req  *notifierv1.CreateBrowserSessionRequest
		key  string
		want codes.Code
	}{
		{"default ttl", &notifierv1.CreateBrowserSessionRequest{UserId: "alice"}, "link-key", codes.OK},
		{"24 h", &notifierv1.CreateBrowserSessionRequest{UserId: "alice", Ttl: durationpb.New(24 * time.Hour)}, "link-key", codes.OK},
		{"over 24 h", &notifierv1.CreateBrowserSessionRequest{UserId: "alice", Ttl: durationpb.New(24*time.Hour + time.Second)}, "link-key", codes.InvalidArgument},
		{"negative ttl", &notifierv1.CreateBrowserSessionRequest{UserId: "alice", Ttl: durationpb.New(-time.Minute)}, "link-key", codes.InvalidArgument},
		{"empty user", &notifierv1.CreateBrowserSessionRequest{}, "link-key", codes.InvalidArgument},
		{"user too long", &notifierv1.CreateBrowserSessionRequest{UserId: strings.Repeat("u", 129)}, "link-key", codes.InvalidArgument},
		{"user with control character", &notifierv1.CreateBrowserSessionRequest{UserId: "a\x01b"}, "link-key", codes.InvalidArgument},
		{"notify key", &notifierv1.CreateBrowserSessionRequest{UserId: "alice"}, "notify-key", codes.PermissionDenied},
		{"unknown bot", &notifierv1.CreateBrowserSessionRequest{UserId: "alice", Bot: "nosuchbot"}, "link-key", codes.InvalidArgument},
		{"no key", &notifierv1.CreateBrowserSessionRequest{UserId: "alice"}, "", codes.Unauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := ctxT(t)
			if c.key != "" {
				ctx = withKey(t, c.key)
			}
			resp, err := h.client.CreateBrowserSession(ctx, c.req)
			if got := status.Code(err); got != c.want {
				t.Fatalf("code %s (%v), want %s", got, err, c.want)
			}
			if c.want == codes.InvalidArgument && !strings.Contains(status.Convert(err).Message(), sessionField(c.req)) {
				t.Errorf("message %q does not name the field", status.Convert(err).Message())
			}
			if c.want == codes.OK {
				ttl := 15 * time.Minute
				if c.req.Ttl != nil {
					ttl = c.req.Ttl.AsDuration()
				}
				if d := time.Until(resp.GetExpiresAt().AsTime()); d > ttl || d < ttl-time.Minute {
					t.Errorf("expires in %v, want about %v", d, ttl)
				}
			}
		})
	}
	if code, body := h.restAs("link-key", "POST", "/v1/users/alice/browser-session", `{"ttl":"90000s"}`); code != http.StatusBadRequest {
		t.Errorf("REST ttl 25 h: %d %s, want 400", code, body)
	}
}

// TestBrowserSessionScope: a session works for its user's six calls and
// nothing else; other users, other methods and Notify are 403; a tampered
// or expired token 401.
func TestBrowserSessionScope(t *testing.T) {
	t.Parallel()
	h := startKeysHarness(t, harnessOpts{})
	alice := h.mintSession("alice", 0)
	c := h.client
	ctx := withKey(t, alice)
	if _, err := c.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: "alice"}); err != nil {
		t.Fatalf("GetLinkURL: %v", err)
	}
	if _, err := c.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "alice"}); err != nil {
		t.Fatalf("CreateLinkToken: %v", err)
	}
	if _, err := c.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "alice"}); err != nil {
		t.Fatalf("GetStatus: %v", err)
	}
	if _, err := c.Unlink(ctx, &notifierv1.UnlinkRequest{UserId: "alice"}); err != nil {
		t.Fatalf("Unlink: %v", err)
	}
	ws, err := c.WatchStatus(ctx, &notifierv1.WatchStatusRequest{UserId: "alice"})
	if err == nil {
		_, err = ws.Recv()
	}
	if err != nil {
		t.Fatalf("WatchStatus: %v", err)
	}
	denied := map[string]error{}
	_, denied["GetStatus bob"] = c.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "bob"})
	_, denied["Unlink bob"] = c.Unlink(ctx, &notifierv1.UnlinkRequest{UserId: "bob"})
	_, denied["Notify alice"] = c.Notify(ctx, &notifierv1.NotifyRequest{UserId: "alice", Text: "hi"})
	_, denied["ListEvents"] = c.ListEvents(ctx, &notifierv1.ListEventsRequest{})
	_, denied["GetNotification"] = c.GetNotification(ctx, &notifierv1.GetNotificationRequest{NotificationId: "n1"})
	_, denied["CreateBrowserSession"] = c.CreateBrowserSession(ctx, &notifierv1.CreateBrowserSessionRequest{UserId: "alice"})
	if ws, err := c.WatchStatus(ctx, &notifierv1.WatchStatusRequest{UserId: "bob"}); err == nil {
		_, denied["WatchStatus bob"] = ws.Recv()
	}
	for what, err := range denied {
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s with alice's session: %v, want PERMISSION_DENIED", what, err)
		}
	}
	rest := []struct {
		bearer, method, path, body string
		want                       int
	}{
		{alice, "GET", "/v1/users/alice/status", "", 200},
		{alice, "GET", "/v1/users/alice/link-qr.svg", "", 200},
		{alice, "GET", "/v1/users/bob/status", "", 403},
		{alice, "GET", "/v1/users/bob/link-qr.png", "", 403},
		{alice, "POST", "/v1/users/alice/notifications", `{"text":"hi"}`, 403},
		{alice[:len(alice)-3] + "abc", "GET", "/v1/users/alice/status", "", 401},
		{alice + "x", "GET", "/v1/users/alice/link-qr.svg", "", 401},
		{"tgs1.e30.AAAA", "GET", "/v1/users/alice/status", "", 401},
		{"", "GET", "/v1/users/alice/link-qr.svg", "", 401},
	}
	for _, r := range rest {
		if code, body := h.restAs(r.bearer, r.method, r.path, r.body); code != r.want {
			t.Errorf("%s %s with %.12s…: %d %s, want %d", r.method, r.path, r.bearer, code, body, r.want)
		}
	}
	short := h.mintSession("alice", time.Second)
	eventually(t, 5*time.Second, "an expired session refused with 401", func() bool {
		code, _ := h.restAs(short, "GET", "/v1/users/alice/status", "")
		return code == http.StatusUnauthorized
	})
}

// statusWatcher collects the messages of one WatchStatus stream.
type statusWatcher struct {
	msgs chan *notifierv1.GetStatusResponse
	errc chan error
}

func watchStatus(t *testing.T, h *harness, ctx context.Context, user string) *statusWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	s, err := h.client.WatchStatus(ctx, &notifierv1.WatchStatusRequest{UserId: user})
	if err != nil {
		t.Fatalf("WatchStatus: %v", err)
	}
	w := &statusWatcher{msgs: make(chan *notifierv1.GetStatusResponse, 100), errc: make(chan error, 1)}
	go func() {
		for {
			m, err := s.Recv()
			if err != nil {
				w.errc <- err
				return
			}
			w.msgs <- m
		}
	}()
	return w
}

// next waits for a message with linked == want, skipping heartbeats of the
// other state, and returns how long it took.
func (w *statusWatcher) next(t *testing.T, want bool, within time.Duration) *notifierv1.GetStatusResponse {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-w.msgs:
			if m.GetLinked() == want {
				return m
			}
		case err := <-w.errc:
			t.Fatalf("WatchStatus ended: %v", err)
		case <-deadline:
			t.Fatalf("no status with linked=%v within %v", want, within)
		}
	}
}

// TestWatchStatus: the status at once, each change within 1 s (also when
// it happens on another replica sharing Redis), heartbeats while idle,
// and the REST mirror's newline-delimited JSON.
func TestWatchStatus(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			o := harnessOpts{env: map[string]string{"NOTIFIER_EVENT_HEARTBEAT": "300ms"}}
			if backend == "redis" {
				o.redisURL = redistest.Start(t).URL()
			}
			h := startHarness(t, o)
			watched := h // the replica that watches
			if backend == "redis" {
				watched = startHarness(t, o) // same Redis, its own fake Bot API
			}
			w := watchStatus(t, watched, ctxT(t), "wanda")
			if first := w.next(t, false, time.Second); first.GetDelivery() == nil {
				t.Fatalf("first status without delivery summary: %v", first)
			}
			start := time.Now()
			h.link("wanda", 7070)
			m := w.next(t, true, time.Second)
			if m.GetChatId() != 7070 || m.GetUsername() != "user7070" {
				t.Fatalf("linked status %v", m)
			}
			t.Logf("%s: linked seen %v after /start", backend, time.Since(start).Round(time.Millisecond))
			// Idle: heartbeats repeat the current status.
			for i := 0; i < 2; i++ {
				w.next(t, true, 2*time.Second)
			}
			start = time.Now()
			if _, err := h.client.Unlink(ctxT(t), &notifierv1.UnlinkRequest{UserId: "wanda"}); err != nil {
				t.Fatal(err)
			}
			w.next(t, false, time.Second)
			t.Logf("%s: unlinked seen %v after Unlink", backend, time.Since(start).Round(time.Millisecond))

			lines := restStatusWatch(t, watched, "/v1/users/wanda/status:watch", 2)
			if lines[0].GetLinked() || lines[1].GetLinked() {
				t.Fatalf("REST stream: %v", lines)
			}
		})
	}
}

// restStatusWatch reads n messages of a REST WatchStatus stream.
func restStatusWatch(t *testing.T, h *harness, path string, n int) []*notifierv1.GetStatusResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
	}
	var out []*notifierv1.GetStatusResponse
	sc := bufio.NewScanner(resp.Body)
	for len(out) < n && sc.Scan() {
		var line struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Result == nil {
			t.Fatalf("stream line %q: %v", sc.Bytes(), err)
		}
		var m notifierv1.GetStatusResponse
		if err := protojson.Unmarshal(line.Result, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, &m)
	}
	if len(out) < n {
		t.Fatalf("REST stream ended after %d of %d: %v", len(out), n, sc.Err())
	}
	return out
}

// TestWatchStatusEndsWithSession: a stream opened with a browser session
// ends (OK) when the session expires.
func TestWatchStatusEndsWithSession(t *testing.T) {
	t.Parallel()
	h := startKeysHarness(t, harnessOpts{env: map[string]string{"NOTIFIER_EVENT_HEARTBEAT": "200ms"}})
	tok := h.mintSession("sam", 2*time.Second)
	w := watchStatus(t, h, withKey(t, tok), "sam")
	start := time.Now()
	for {
		select {
		case <-w.msgs:
			continue
		case err := <-w.errc:
			if err != io.EOF {
				t.Fatalf("stream ended with %v, want a clean end", err)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Fatalf("stream ended %v after start, the session lasted 2 s", d)
			}
			return
		case <-time.After(6 * time.Second):
			t.Fatal("stream outlived its session")
		}
	}
}

var svgSize = regexp.MustCompile(`^<svg [^>]*width="(\d+)" height="(\d+)"`)

// TestQREndpoints: sizes, formats, bounds, headers, CORS, and that the
// PNG decodes to the user's live deep link.
func TestQREndpoints(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{env: map[string]string{"NOTIFIER_CORS_ORIGINS": "https://app.example.com"}})
	live, err := h.client.GetLinkURL(ctxT(t), &notifierv1.GetLinkURLRequest{UserId: "quinn"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query string
		want  int // size, or 0 for 400
	}{
		{"", 256}, {"?size=128", 128}, {"?size=1024", 1024}, {"?size=300", 300},
		{"?size=127", 0}, {"?size=1025", 0}, {"?size=abc", 0}, {"?size=", 0}, {"?size=-256", 0},
		{"?size=256&size=300", 0}, {"?size=99999999999999999999", 0},
	}
	for _, format := range []string{"png", "svg"} {
		for _, c := range cases {
			t.Run(format+c.query, func(t *testing.T) {
				req, _ := http.NewRequest("GET", h.base+"/v1/users/quinn/link-qr."+format+c.query, nil)
				req.Header.Set("Origin", "https://app.example.com")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if c.want == 0 {
					if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("size")) {
						t.Fatalf("%d %s, want 400 naming size", resp.StatusCode, body)
					}
					return
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				hd := resp.Header
				if hd.Get("Cache-Control") != "no-store" || hd.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
					t.Fatalf("headers %v", hd)
				}
				if format == "svg" {
					m := svgSize.FindSubmatch(body)
					if hd.Get("Content-Type") != "image/svg+xml" || m == nil || string(m[1]) != fmt.Sprint(c.want) || string(m[2]) != fmt.Sprint(c.want) {
						t.Fatalf("SVG %s %.120s", hd.Get("Content-Type"), body)
					}
					return
				}
				img, err := png.Decode(bytes.NewReader(body))
				if err != nil || hd.Get("Content-Type") != "image/png" {
					t.Fatalf("PNG %s: %v", hd.Get("Content-Type"), err)
				}
				if b := img.Bounds(); b.Dx() != c.want || b.Dy() != c.want {
					t.Fatalf("PNG is %v, want %d×%d", b, c.want, c.want)
				}
				if got := decodeQR(t, img); got != live.GetUrl() {
					t.Fatalf("QR says %q, want the live link %q", got, live.GetUrl())
				}
			})
		}
	}
	if code, body := h.restAs("", "GET", "/v1/users/"+strings.Repeat("u", 129)+"/link-qr.svg", ""); code != http.StatusBadRequest {
		t.Errorf("invalid user id: %d %s", code, body)
	}
}

// decodeQR reads the QR code in img.
func decodeQR(t testing.TB, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

// TestUIEndpoints: the component is served as JavaScript and small; the
// demo only in sandbox mode.
func TestUIEndpoints(t *testing.T) {
	t.Parallel()
	sb := startHarness(t, harnessOpts{sandbox: true})
	real := startHarness(t, harnessOpts{})
	for _, h := range []*harness{sb, real} {
		resp, err := http.Get(h.base + "/ui/tgnotify-connect.js")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || int(n) != ui.ComponentSize() {
			t.Fatalf("component: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), n)
		}
	}
	if n := ui.ComponentSize(); n > 16<<10 {
		t.Errorf("the component is %d bytes: keep it under 16 KiB (the docs quote its size)", n)
	}
	if code, _ := sb.rest("GET", "/demo", nil); code != http.StatusOK {
		t.Errorf("sandbox /demo: %d", code)
	}
	if code, _ := real.rest("GET", "/demo", nil); code != http.StatusNotFound {
		t.Errorf("/demo with a real bot: %d, want 404", code)
	}
}

package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
)

// chromiumPath finds Chromium. Without it browser tests skip loudly, and
// fail under CI=true (.ci/run installs Debian's chromium package).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but Chromium is not installed: the browser tests must run in CI (apt-get install chromium)")
	}
	t.Skip("SKIPPING BROWSER TEST: Chromium is not installed (apt-get install chromium); under CI=true this fails")
	return ""
}

// browser is one headless Chromium tab for a test.
type browser struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	log []string // console messages and exceptions, for failures
}

// newBrowser starts headless Chromium with a fresh profile and no network
// beyond what the page asks for.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 820),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, 90*time.Second)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			b.mu.Lock()
			t.Logf("browser console:\n%s", strings.Join(b.log, "\n"))
			b.mu.Unlock()
		}
		tcancel()
		cancel()
		acancel()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.log = append(b.log, m.String())
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression, awaiting a promise.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// do evaluates a JavaScript statement.
func (b *browser) do(expr string) {
	b.t.Helper()
	eval[chromedp.Void](b, expr)
}

// waitFor polls a boolean JavaScript expression until it holds and
// returns how long that took.
func (b *browser) waitFor(what, expr string, timeout time.Duration) time.Duration {
	b.t.Helper()
	start := time.Now()
	err := poll.Until(b.ctx, timeout, what, func() (bool, error) {
		return chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
	})
	if err != nil {
		b.t.Fatalf("%v", err)
	}
	return time.Since(start)
}

// screenshot saves the viewport as name in the test's artifact directory
// (kept with go test -artifacts) and returns the path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(b.t.ArtifactDir(), name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// shadow is the JavaScript of the element id's shadow root.
func shadow(id string) string { return "document.getElementById('" + id + "').shadowRoot" }

// statusText is the JavaScript of the element's status line.
func statusText(id string) string { return shadow(id) + ".querySelector('[part=status]').textContent" }

// recordEvents makes the page keep the component's DOM events in
// window.__ev.
const recordEvents = `window.__ev = []; for (const n of ['tgnotify-linked','tgnotify-unlinked','tgnotify-error'])
  document.addEventListener(n, (e) => __ev.push(n + ':' + (e.target.id || '') + ':' + (e.detail.status || '')));`

// shownQR draws the QR code the element shows on a canvas and decodes it.
func (b *browser) shownQR(id string) string {
	b.t.Helper()
	dataURL := eval[string](b, `(async () => { const img = `+shadow(id)+`.querySelector('img'); await img.decode();
	  const c = document.createElement('canvas'); c.width = c.height = 512; const g = c.getContext('2d');
	  g.fillStyle = '#fff'; g.fillRect(0, 0, 512, 512); g.drawImage(img, 0, 0, 512, 512); return c.toDataURL('image/png'); })()`)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURL, "data:image/png;base64,"))
	if err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatal(err)
	}
	return decodeQR(b.t, img)
}

// TestBrowserDemo plays the whole product in the sandbox's demo page:
// connect with the keyboard, press Start in the simulated chat, see
// "Connected as @…" within 2 s, send a notification over REST and see it
// arrive, disconnect, connect again and leave with /stop.
func TestBrowserDemo(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true})
	b := newBrowser(t)
	b.run("open /demo", chromedp.Navigate(h.base+"/demo"))
	b.do(recordEvents)
	b.waitFor("the component shows Connect and a QR code", `document.getElementById('connect').getAttribute('state') === 'unlinked' &&
	  `+shadow("connect")+`.querySelector('img').naturalWidth > 0`, 10*time.Second)

	live, err := h.client.GetLinkURL(ctxT(t), &notifierv1.GetLinkURLRequest{UserId: "demo-user"})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.shownQR("connect"); got != live.GetUrl() {
		t.Fatalf("the QR code shown says %q, want the live deep link %q", got, live.GetUrl())
	}
	b.screenshot("demo-unlinked.png")

	// Keyboard: focus the Connect button, press Enter.
	b.do(shadow("connect") + ".querySelector('[part=connect]').focus()")
	b.run("press Enter", chromedp.KeyEvent(kb.Enter))
	b.waitFor("the waiting state", statusText("connect")+".startsWith('Waiting for you to press Start')", 5*time.Second)
	connect := func() time.Duration {
		b.run("press START in the chat", chromedp.WaitVisible(chromedp.ID("start")), chromedp.Click(chromedp.ID("start")))
		d := b.waitFor(`"Connected as @demo_user"`, statusText("connect")+" === 'Connected as @demo_user'", 2*time.Second)
		t.Logf("connected shown %v after START", d.Round(time.Millisecond))
		return d
	}
	connect()
	b.waitFor("the welcome in the chat", `document.getElementById('log').innerText.includes("You're all set")`, 5*time.Second)

	text := fmt.Sprintf("Order %d has shipped", time.Now().UnixNano()%100000)
	b.run("send a notification", chromedp.SetValue(chromedp.ID("text"), text), chromedp.Click(chromedp.CSS("#send button")))
	b.waitFor("the notification in the chat", `document.getElementById('log').innerText.includes(`+fmt.Sprintf("%q", text)+`)`, 5*time.Second)
	b.screenshot("demo-connected.png")

	b.do(shadow("connect") + ".querySelector('[part=disconnect]').click()")
	b.waitFor("unlinked after Disconnect", `document.getElementById('connect').getAttribute('state') === 'unlinked' && __ev.includes('tgnotify-unlinked:connect:')`, 5*time.Second)
	st, err := h.client.GetStatus(ctxT(t), &notifierv1.GetStatusRequest{UserId: "demo-user"})
	if err != nil || st.GetLinked() {
		t.Fatalf("GetStatus after Disconnect: %v %v", st, err)
	}

	// Again, and leave from Telegram's side with /stop. A used link is not
	// offered again: the button waits for the fresh one.
	b.waitFor("Connect enabled with a fresh link", "!"+shadow("connect")+".querySelector('[part=connect]').disabled", 5*time.Second)
	b.do(shadow("connect") + ".querySelector('[part=connect]').click()")
	connect()
	b.run("send /stop", chromedp.WaitVisible(chromedp.ID("stop")), chromedp.Click(chromedp.ID("stop")))
	b.waitFor("unlinked after /stop", `document.getElementById('connect').getAttribute('state') === 'unlinked'`, 2*time.Second)
	evs := eval[[]string](b, "__ev")
	if want := []string{"tgnotify-linked:connect:", "tgnotify-unlinked:connect:", "tgnotify-linked:connect:", "tgnotify-unlinked:connect:"}; strings.Join(evs, ",") != strings.Join(want, ",") {
		t.Fatalf("DOM events %v, want %v", evs, want)
	}
}

// TestBrowserSession: with API keys on, a page of another origin (CORS)
// uses the component with a browser session for alice; it links and
// unlinks alice, and the same session cannot read bob's status.
func TestBrowserSession(t *testing.T) {
	t.Parallel()
	var page string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(site.Close)
	h := startKeysHarness(t, harnessOpts{sandbox: true, env: map[string]string{"NOTIFIER_CORS_ORIGINS": site.URL}})
	tok := h.mintSession("alice", 0)
	short := h.mintSession("carol", 3*time.Second)
	page = fmt.Sprintf(`<!doctype html><title>app</title><script>%[3]s</script><script type="module" src="%[1]s/ui/tgnotify-connect.js"></script>
<tgnotify-connect id="connect" api="%[1]s" user-id="alice" session-token="%[2]s" text-connect="Telegram verbinden"></tgnotify-connect>
<tgnotify-connect id="bob" api="%[1]s" user-id="bob" session-token="%[2]s"></tgnotify-connect>
<tgnotify-connect id="poller" no-stream api="%[1]s" user-id="alice" session-token="%[2]s"></tgnotify-connect>
<tgnotify-connect id="carol" api="%[1]s" user-id="carol" session-token="%[4]s"></tgnotify-connect>
<tgnotify-connect id="down" api="http://%[5]s" user-id="alice" session-token="%[2]s"></tgnotify-connect>
<script>document.addEventListener('tgnotify-open', (e) => { e.preventDefault(); window.__url = e.detail.url; });</script>`, h.base, tok, recordEvents, short, freeAddr(t))

	b := newBrowser(t)
	b.run("open the app's page", chromedp.Navigate(site.URL))
	b.waitFor("alice's component with its QR code", `document.getElementById('connect').getAttribute('state') === 'unlinked' &&
	  `+shadow("connect")+`.querySelector('img').naturalWidth > 0`, 10*time.Second)
	label := eval[string](b, shadow("connect")+".querySelector('[part=connect]').textContent")
	if label != "Telegram verbinden" {
		t.Errorf("button text %q, want the text-connect attribute's", label)
	}
	b.waitFor("bob's component says permission denied", `document.getElementById('bob').getAttribute('state') === 'error' &&
	  `+shadow("bob")+`.querySelector('[part=error]').textContent.includes('permission denied')`, 5*time.Second)
	b.waitFor("an unreachable service is said in words", shadow("down")+`.querySelector('[part=error]').textContent.startsWith('Cannot reach the notification service')`, 5*time.Second)
	code := eval[int](b, fmt.Sprintf(`fetch(%q, {headers: {Authorization: 'Bearer ' + %q}}).then((r) => r.status)`, h.base+"/v1/users/bob/status", tok))
	if code != http.StatusForbidden {
		t.Fatalf("alice's session reading bob's status: %d, want 403", code)
	}

	b.do(shadow("connect") + ".querySelector('[part=connect]').click()")
	b.waitFor("the deep link opened", "window.__url", 5*time.Second)
	deep := eval[string](b, "window.__url")
	u, err := url.Parse(deep)
	if err != nil {
		t.Fatal(err)
	}
	h.fake.Start(4242, "alice_tg", u.Query().Get("start")) // the user presses Start in Telegram
	d := b.waitFor(`"Connected as @alice_tg"`, statusText("connect")+" === 'Connected as @alice_tg'", 2*time.Second)
	t.Logf("connected shown %v after Start", d.Round(time.Millisecond))
	// Without streaming, polling every 2 s follows too.
	b.waitFor("the polling element connected", statusText("poller")+" === 'Connected as @alice_tg'", 2500*time.Millisecond)
	b.screenshot("session-connected.png")

	b.do(shadow("connect") + ".querySelector('[part=disconnect]').click()")
	b.waitFor("unlinked", `document.getElementById('connect').getAttribute('state') === 'unlinked'`, 5*time.Second)
	b.waitFor("the polling element unlinked", `document.getElementById('poller').getAttribute('state') === 'unlinked'`, 2500*time.Millisecond)
	st, err := h.client.GetStatus(withKey(t, "link-key"), &notifierv1.GetStatusRequest{UserId: "alice"})
	if err != nil || st.GetLinked() {
		t.Fatalf("GetStatus after Disconnect: %v %v", st, err)
	}
	// carol's session lasted 3 s: her stream ended, and the element says so.
	b.waitFor("carol's element says the session expired", `document.getElementById('carol').getAttribute('state') === 'error' &&
	  `+shadow("carol")+`.querySelector('[part=error]').textContent.includes('session has expired')`, 10*time.Second)
	evs := eval[[]string](b, "__ev")
	if !strings.Contains(strings.Join(evs, ","), "tgnotify-error:bob:403") {
		t.Errorf("events %v lack bob's tgnotify-error with status 403", evs)
	}
}

// TestBrowserLinkRefresh: the element replaces the link (and its QR code)
// before the link's token expires.
func TestBrowserLinkRefresh(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true, env: map[string]string{"LINK_TOKEN_TTL": "2s"}})
	b := newBrowser(t)
	b.run("open /demo", chromedp.Navigate(h.base+"/demo"))
	qrShown := shadow("connect") + ".querySelector('img').naturalWidth > 0"
	b.waitFor("a QR code", qrShown, 10*time.Second)
	first := b.shownQR("connect")
	var now string
	err := poll.Until(b.ctx, 8*time.Second, "a fresh QR code", func() (bool, error) {
		now = b.shownQR("connect")
		return now != first, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(now, "https://t.me/") {
		t.Fatalf("fresh QR says %q", now)
	}
}

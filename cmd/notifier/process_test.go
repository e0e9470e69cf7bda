//go:build linux

package main

// Process-level fault tests: they build the real binary and drive it as an
// operator and a client would (environment variables, gRPC on its port,
// /readyz, signals), against the fake Bot API running in this test process
// and a real redis-server with appendfsync always. Each test logs one line
//
//	RELIABILITY scenario=<name> key=value ...
//
// with its measured figures; docs/RELIABILITY.md quotes them. Set
// TGNOTIFY_PROCESS_RACE=1 to build the child with -race (slower; a data race
// in the child then fails the test).

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// pollEvery is the interval of every polling loop below (a polling
// interval, not a synchronisation sleep: each loop re-checks a condition and
// is bounded by a deadline).
const pollEvery = 20 * time.Millisecond

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// notifierBinary builds ./ (the notifier command) once per test binary and
// returns the executable's path.
func notifierBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			binErr = fmt.Errorf("the go command is not on PATH: %w", err)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "tgnotify-process-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "notifier")
		args := []string{"build", "-o", binPath}
		if os.Getenv("TGNOTIFY_PROCESS_RACE") == "1" {
			args = append(args, "-race")
		}
		cmd := exec.Command(goBin, append(args, ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// skipShort skips the process tests under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("process fault test: builds and runs the binary for seconds; skipped with -short")
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond every pollEvery until it holds; it fails the test with
// what after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// proc is the notifier binary running as a child process. Its stdout and
// stderr go to one log file, kept across restarts; the file's tail is
// printed when the test fails.
type proc struct {
	t        *testing.T
	env      map[string]string
	grpcAddr string
	httpAddr string
	logPath  string
	starts   int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// baseEnv is the configuration every scenario starts from: free loopback
// ports, the fake Bot API, Redis, JSON logs.
func baseEnv(t *testing.T, fake *fakebot.Server, redisURL string) map[string]string {
	return map[string]string{
		"NOTIFIER_GRPC_ADDR":  freeAddr(t),
		"NOTIFIER_HTTP_ADDR":  freeAddr(t),
		"REDIS_URL":           redisURL,
		"TELEGRAM_BOT_TOKEN":  fake.Token(),
		"TELEGRAM_API_URL":    fake.URL(),
		"NOTIFIER_LOG_LEVEL":  "info",
		"NOTIFIER_LOG_FORMAT": "json",
		// A real bot needs API keys or this explicit opt-out.
		"NOTIFIER_ALLOW_OPEN_API": "true",
	}
}

// startProc starts the binary with env (the child sees nothing else of this
// process's environment), registers its cleanup and waits for /readyz.
func startProc(t *testing.T, env map[string]string) *proc {
	t.Helper()
	p := &proc{
		t: t, env: env, grpcAddr: env["NOTIFIER_GRPC_ADDR"], httpAddr: env["NOTIFIER_HTTP_ADDR"],
		logPath: filepath.Join(t.TempDir(), "notifier.log"),
	}
	t.Cleanup(func() {
		p.kill()
		log := p.log()
		if os.Getenv("TGNOTIFY_PROCESS_RACE") == "1" && strings.Contains(log, "WARNING: DATA RACE") {
			t.Errorf("the child reported a data race:\n%s", tail(log, 16<<10))
		} else if t.Failed() {
			t.Logf("notifier log, warnings and errors (last 40):\n%s\nnotifier log (tail):\n%s", problems(log, 40), tail(log, 4<<10))
		}
	})
	p.start()
	return p
}

// start (re)starts the child with p.env and waits until /readyz answers 200.
func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		p.t.Fatal("start: the notifier is already running")
	}
	p.starts++
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== test: start #%d at %s\n", p.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(notifierBinary(p.t))
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	// If this test process dies without its cleanups, the kernel kills
	// the child too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.mu.Unlock()
		p.t.Fatalf("start notifier: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	p.waitReady(20 * time.Second)
}

// waitReady polls GET /readyz until it answers 200; it fails at once if the
// child exits.
func (p *proc) waitReady(timeout time.Duration) {
	p.t.Helper()
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	hc := &http.Client{Timeout: time.Second}
	waitFor(p.t, timeout, "GET /readyz = 200", func() bool {
		if p.exited() {
			p.t.Fatalf("notifier exited during start: %v", cmd.ProcessState)
		}
		return readyz(hc, p.httpAddr) == http.StatusOK
	})
}

// readyz returns /readyz's status code, or 0 when the request failed.
func readyz(hc *http.Client, addr string) int {
	resp, err := hc.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// exited reports whether the last started child has exited.
func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the running child.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		p.t.Fatal("signal: the notifier is not running")
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits up to timeout for the child to exit and returns its exit code
// (-1 when killed by a signal); ok is false on timeout.
func (p *proc) wait(timeout time.Duration) (code int, ok bool) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return 0, false
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return 0, false
	}
	p.mu.Lock()
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	return cmd.ProcessState.ExitCode(), true
}

// kill SIGKILLs the child, if running, and waits for it to exit.
func (p *proc) kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	if _, ok := p.wait(10 * time.Second); !ok {
		p.t.Errorf("notifier pid %d did not exit within 10s of SIGKILL", cmd.Process.Pid)
	}
}

// log returns the child's whole log.
func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// problems returns the last n lines of log at level warn or above, with the
// test's start markers (per-request access logs would drown them in a tail).
func problems(log string, n int) string {
	var out []string
	for _, ln := range strings.Split(log, "\n") {
		if strings.HasPrefix(ln, "=== test:") || strings.Contains(ln, `"level":"warn"`) ||
			strings.Contains(ln, `"level":"error"`) || strings.Contains(ln, `"level":"fatal"`) ||
			strings.HasPrefix(ln, "panic") || strings.HasPrefix(ln, "notifier:") {
			out = append(out, ln)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// dial returns a gRPC client of addr, closed when the test ends.
func dial(t *testing.T, addr string) notifierv1.NotifierServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return notifierv1.NewNotifierServiceClient(conn)
}

// rpcCtx bounds one RPC.
func rpcCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// user is an application user and the Telegram chat they link.
type user struct {
	id   string
	chat int64
}

func makeUsers(prefix string, n int, firstChat int64) []user {
	us := make([]user, n)
	for i := range us {
		us[i] = user{id: fmt.Sprintf("%s-user-%03d", prefix, i), chat: firstChat + int64(i)}
	}
	return us
}

// linkUsers walks the deep-link flow for every user (CreateLinkToken, the
// user presses Start at the fake, the service long-polls the update) and
// polls GetStatus until all are linked to their chats.
func linkUsers(t *testing.T, c notifierv1.NotifierServiceClient, fake *fakebot.Server, users []user) {
	t.Helper()
	for _, u := range users {
		ctx, cancel := rpcCtx()
		r, err := c.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: u.id})
		cancel()
		if err != nil {
			t.Fatalf("CreateLinkToken(%s): %v", u.id, err)
		}
		fake.Start(u.chat, fmt.Sprintf("tg%d", u.chat), r.GetToken())
	}
	pending := slices.Clone(users)
	waitFor(t, 20*time.Second, "every user linked (GetStatus)", func() bool {
		pending = slices.DeleteFunc(pending, func(u user) bool {
			ctx, cancel := rpcCtx()
			defer cancel()
			st, err := c.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: u.id})
			return err == nil && st.GetLinked() && st.GetChatId() == u.chat
		})
		return len(pending) == 0
	})
}

// ledger records what the service accepted: texts are unique, so a text
// seen at the fake names its notification.
type ledger struct {
	mu       sync.Mutex
	conflict []string // texts accepted twice under different ids
	byText   map[string]accepted
	perChat  map[int64][]string // texts in the order Notify accepted them
	ids      []string
	attempts map[codes.Code]int // Notify answers by code (OK included)
}

type accepted struct {
	id   string
	chat int64
	at   time.Time // when Notify answered
}

func newLedger() *ledger {
	return &ledger{byText: map[string]accepted{}, perChat: map[int64][]string{}, attempts: map[codes.Code]int{}}
}

func (l *ledger) accept(text, id string, chat int64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts[codes.OK]++
	if prev, ok := l.byText[text]; ok {
		if prev.id != id {
			l.conflict = append(l.conflict, fmt.Sprintf("%q as %s and %s", text, prev.id, id))
		}
		return // an idempotent retry
	}
	l.byText[text] = accepted{id: id, chat: chat, at: at}
	l.perChat[chat] = append(l.perChat[chat], text)
	l.ids = append(l.ids, id)
}

func (l *ledger) refused(c codes.Code) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts[c]++
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byText)
}

func (l *ledger) idList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids)
}

// notifyBurst sends perUser notifications to every user, users in parallel
// and each user's in sequence (so that their order is defined), with texts
// prefix-<user index>-<seq>. Every call must be accepted.
func notifyBurst(t *testing.T, c notifierv1.NotifierServiceClient, l *ledger, users []user, perUser int, prefix string) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for ui, u := range users {
		wg.Go(func() {
			for i := range perUser {
				text := fmt.Sprintf("%s-%03d-%04d", prefix, ui, i)
				ctx, cancel := rpcCtx()
				r, err := c.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.id, Text: text})
				cancel()
				if err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("Notify(%s, %q): %v", u.id, text, err)
					}
					return
				}
				l.accept(text, r.GetNotificationId(), u.chat, time.Now())
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
}

// deliveredCount counts the distinct texts with prefix the fake accepted.
func deliveredCount(fake *fakebot.Server, prefix string) int {
	seen := map[string]bool{}
	for _, m := range fake.AllMessages() {
		if strings.HasPrefix(m.Text, prefix) {
			seen[m.Text] = true
		}
	}
	return len(seen)
}

// tally is what the fake received compared with what was accepted.
type tally struct {
	accepted, delivered int
	lost                int // accepted, never delivered
	duplicates          int // deliveries beyond the first of a text
	unexpected          int // delivered texts that were never accepted
	orderViolations     int
	maxDelay            time.Duration // accepted → first delivery
	firstAt, lastAt     time.Time     // first and last delivery
	lostSample          []string
	orderSample         []string
	conflicts           []string
}

// analyze compares the fake's messages (texts with prefix) with l: loss,
// duplicates, per-chat order (a text may repeat immediately: a duplicate of
// a send in flight at a crash) and delay.
func analyze(l *ledger, msgs []fakebot.SentMessage, prefix string) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var tl tally
	tl.accepted = len(l.byText)
	tl.conflicts = slices.Clone(l.conflict)
	seen := map[string]int{}
	perChat := map[int64][]string{}
	for _, m := range msgs {
		if !strings.HasPrefix(m.Text, prefix) {
			continue
		}
		seen[m.Text]++
		perChat[m.ChatID] = append(perChat[m.ChatID], m.Text)
		if tl.firstAt.IsZero() || m.Time.Before(tl.firstAt) {
			tl.firstAt = m.Time
		}
		if m.Time.After(tl.lastAt) {
			tl.lastAt = m.Time
		}
		a, ok := l.byText[m.Text]
		if !ok {
			if seen[m.Text] == 1 {
				tl.unexpected++
			}
			continue
		}
		if seen[m.Text] == 1 {
			tl.delivered++
			tl.maxDelay = max(tl.maxDelay, m.Time.Sub(a.at))
		} else {
			tl.duplicates++
		}
	}
	for text := range l.byText {
		if seen[text] == 0 {
			tl.lost++
			if len(tl.lostSample) < 5 {
				tl.lostSample = append(tl.lostSample, text)
			}
		}
	}
	for chat, want := range l.perChat {
		got := perChat[chat]
		i := 0
		for _, text := range got {
			switch {
			case i < len(want) && text == want[i]:
				i++
			case i > 0 && text == want[i-1]: // immediate repeat of a duplicate
			case l.byText[text].id == "": // never accepted: not ordered
			default:
				tl.orderViolations++
				if len(tl.orderSample) < 3 {
					tl.orderSample = append(tl.orderSample, fmt.Sprintf("chat %d: got %q where %q was due", chat, text, want[min(i, len(want)-1)]))
				}
			}
		}
	}
	return tl
}

// rate is deliveries per second between the first and the last delivery.
func (tl tally) rate() float64 {
	d := tl.lastAt.Sub(tl.firstAt).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(tl.delivered+tl.duplicates-1) / d
}

// check fails the test on loss, excess duplicates or reordering.
func (tl tally) check(t *testing.T, maxDuplicates int) {
	t.Helper()
	if len(tl.conflicts) > 0 {
		t.Errorf("one text accepted under two notification ids: %v", tl.conflicts)
	}
	if tl.lost > 0 {
		t.Errorf("%d accepted notifications were never delivered (e.g. %v)", tl.lost, tl.lostSample)
	}
	if tl.duplicates > maxDuplicates {
		t.Errorf("%d duplicate deliveries, want at most %d", tl.duplicates, maxDuplicates)
	}
	if tl.orderViolations > 0 {
		t.Errorf("%d per-chat order violations: %v", tl.orderViolations, tl.orderSample)
	}
	if tl.unexpected > 0 {
		t.Errorf("%d delivered texts were never accepted", tl.unexpected)
	}
}

// finalStates polls GetNotification for ids until every one is SENT or
// FAILED, and returns the final records.
func finalStates(t *testing.T, c notifierv1.NotifierServiceClient, ids []string, timeout time.Duration) map[string]*notifierv1.GetNotificationResponse {
	t.Helper()
	out := make(map[string]*notifierv1.GetNotificationResponse, len(ids))
	pending := slices.Clone(ids)
	waitFor(t, timeout, fmt.Sprintf("%d notifications SENT or FAILED (GetNotification)", len(ids)), func() bool {
		var lastErr error
		pending, lastErr = sweepFinal(c, pending, out)
		if len(pending) > 0 && lastErr != nil {
			t.Logf("GetNotification: %v (%d pending)", lastErr, len(pending))
		}
		return len(pending) == 0
	})
	return out
}

// sweepFinal reads every pending notification once (16 at a time), puts
// those SENT or FAILED into out and returns the others, with the last
// GetNotification error seen.
func sweepFinal(c notifierv1.NotifierServiceClient, pending []string, out map[string]*notifierv1.GetNotificationResponse) (still []string, lastErr error) {
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, id := range pending {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := rpcCtx()
			r, err := c.GetNotification(ctx, &notifierv1.GetNotificationRequest{NotificationId: id})
			cancel()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				lastErr = err
				still = append(still, id)
			case r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_SENT,
				r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_FAILED:
				out[id] = r
			default:
				still = append(still, id)
			}
		})
	}
	wg.Wait()
	return still, lastErr
}

// outcomes counts final records: sent, and failed by reason.
func outcomes(recs map[string]*notifierv1.GetNotificationResponse) (sent int, failed map[string]int) {
	failed = map[string]int{}
	for _, r := range recs {
		if r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
			sent++
		} else {
			failed[r.GetFailureReason()]++
		}
	}
	return sent, failed
}

func formatReasons(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if k == "" {
			k = "(no reason)"
		}
		fmt.Fprintf(&b, "%s:%d", k, m[k])
	}
	return b.String()
}

// summaries adds up the users' delivery summaries (GetStatus).
func summaries(t *testing.T, c notifierv1.NotifierServiceClient, users []user) (queued, sent, failed int64) {
	t.Helper()
	for _, u := range users {
		ctx, cancel := rpcCtx()
		st, err := c.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: u.id})
		cancel()
		if err != nil {
			t.Fatalf("GetStatus(%s): %v", u.id, err)
		}
		queued += st.GetDelivery().GetQueued()
		sent += st.GetDelivery().GetSent()
		failed += st.GetDelivery().GetFailed()
	}
	return queued, sent, failed
}

// checkSummaries checks that the users' summaries count every accepted
// notification once: none queued, sent and failed as recorded.
func checkSummaries(t *testing.T, c notifierv1.NotifierServiceClient, users []user, sent int, failed map[string]int) {
	t.Helper()
	wantFailed := 0
	for _, n := range failed {
		wantFailed += n
	}
	q, s, f := summaries(t, c, users)
	if q != 0 || s != int64(sent) || f != int64(wantFailed) {
		t.Errorf("GetStatus summaries: queued %d, sent %d, failed %d; want 0, %d, %d", q, s, f, sent, wantFailed)
	}
}

// fastDelivery lifts Telegram's pacing for tests that do not measure it.
var fastDelivery = map[string]string{
	"NOTIFIER_GLOBAL_RATE":  "1000",
	"NOTIFIER_GLOBAL_BURST": "100",
	"NOTIFIER_CHAT_RATE":    "0",
}

// world is one service process on its own redis-server and fake Bot API,
// with users linked.
type world struct {
	rs   *redistest.Server
	fake *fakebot.Server
	p    *proc
	c    notifierv1.NotifierServiceClient
	us   []user
}

// startWorld starts redis-server, takes fake (closed at cleanup), starts the
// service with baseEnv plus settings (later maps win) and links users
// named prefix-N on chats from firstChat.
func startWorld(t *testing.T, fake *fakebot.Server, prefix string, users int, firstChat int64, settings ...map[string]string) *world {
	t.Helper()
	w := &world{rs: startRedis(t), fake: fake}
	t.Cleanup(fake.Close)
	env := baseEnv(t, fake, w.rs.URL())
	for _, m := range settings {
		for k, v := range m {
			env[k] = v
		}
	}
	w.p = startProc(t, env)
	w.c = dial(t, w.p.grpcAddr)
	w.us = makeUsers(prefix, users, firstChat)
	linkUsers(t, w.c, fake, w.us)
	return w
}

// startRedis starts a redis-server with the append-only file fsynced on
// every write.
func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	return redistest.StartWith(t, redistest.Options{AOF: true})
}

// TestKill9MidBurst SIGKILLs the process while it is sending a burst, starts
// it again on the same Redis and checks that nothing accepted is lost, that
// only sends in flight at the crash are duplicated and that per-chat order
// holds.
func TestKill9MidBurst(t *testing.T) {
	skipShort(t)
	const (
		users, perUser = 50, 20
		workers        = 8
		prefix         = "k9"
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 1001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":       strconv.Itoa(workers),
		"NOTIFIER_LEASE_TIMEOUT": "3s",
		"TELEGRAM_SEND_TIMEOUT":  "1s",
		"NOTIFIER_MIN_BACKOFF":   "50ms",
	})
	fake, p, c, us := w.fake, w.p, w.c, w.us

	fake.SetLatency(20 * time.Millisecond)
	l := newLedger()
	burstStart := time.Now()
	notifyBurst(t, c, l, us, perUser, prefix)
	burst := time.Since(burstStart)
	total := l.count()

	// Kill mid-delivery, once a quarter is out, at a moment when every
	// worker has a send in flight at Telegram (the worst case: each of
	// those may reach the chat without the service knowing).
	waitFor(t, 20*time.Second, "a quarter of the burst delivered and every worker sending", func() bool {
		return deliveredCount(fake, prefix+"-") >= total/4 && fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers
	})
	inFlight := fake.Calls("sendMessage") - len(fake.AllMessages())
	p.kill()
	killedAt := time.Now()
	atKill := deliveredCount(fake, prefix+"-")
	if atKill >= total {
		t.Fatalf("the whole burst was delivered before the kill; raise the fake's latency")
	}

	p.start()
	restartedAt := time.Now()
	c = dial(t, p.grpcAddr) // the old channel may be backing off its reconnects
	waitFor(t, 30*time.Second, "every accepted notification delivered after the restart", func() bool {
		return deliveredCount(fake, prefix+"-") >= total
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	// Update intake after the crash: the dead process's poller lease has
	// to lapse before the new one polls, so a new link waits for it.
	linkUsers(t, c, fake, makeUsers(prefix+"-late", 1, 1999))
	linkAfter := time.Since(restartedAt)
	t.Logf("RELIABILITY scenario=kill9 accepted=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d unexpected=%d order_violations=%d delivered_at_kill=%d inflight_at_kill=%d workers=%d burst_accept_ms=%d restart_ready_ms=%d max_delay_ms=%d rate_incl_crash_per_s=%.1f link_works_after_restart_ms=%d",
		tl.accepted, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.unexpected, tl.orderViolations,
		atKill, inFlight, workers, burst.Milliseconds(), restartedAt.Sub(killedAt).Milliseconds(), tl.maxDelay.Milliseconds(), tl.rate(),
		linkAfter.Milliseconds())
	tl.check(t, workers)
	if sent != total {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, total, formatReasons(failed))
	}
}

// TestSIGTERMDrains sends SIGTERM while sends are in flight: readiness goes
// at once, new calls are refused, the process exits 0 within the shutdown
// timeout, and a restart delivers the rest exactly once. In-flight sends
// either finish within the drain (slow Telegram) or, when Telegram hangs
// past the drain deadline, are cut and handed back unsent.
func TestSIGTERMDrains(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name string
		// hang makes every send hang (past the drain deadline) from just
		// before SIGTERM; otherwise sends take latency.
		hang    bool
		latency time.Duration
	}{
		{name: "inflight_finish", latency: 300 * time.Millisecond},
		{name: "inflight_cut", hang: true},
	} {
		t.Run(tc.name, func(t *testing.T) { testSIGTERMDrains(t, tc.name, tc.hang, tc.latency) })
	}
}

func testSIGTERMDrains(t *testing.T, name string, hang bool, latency time.Duration) {
	const (
		users, perUser  = 20, 10
		workers         = 8
		prefix          = "st"
		shutdownTimeout = 3 * time.Second // drain: 2/3 of it
		sendTimeout     = 5 * time.Second // longer than the drain: a hung send is cut by it
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 2001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":          strconv.Itoa(workers),
		"NOTIFIER_SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
		"TELEGRAM_SEND_TIMEOUT":     sendTimeout.String(),
	})
	rs, fake, p, c, us := w.rs, w.fake, w.p, w.c, w.us
	t.Cleanup(func() { fake.SetHang(false) })

	fake.SetLatency(latency)
	if hang {
		fake.SetLatency(20 * time.Millisecond)
	}
	l := newLedger()
	notifyBurst(t, c, l, us, perUser, prefix)
	total := l.count()
	waitFor(t, 10*time.Second, "two rounds of sends delivered, the next in flight", func() bool {
		return deliveredCount(fake, prefix+"-") >= 2*workers && (hang || fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers)
	})
	if hang {
		fake.SetHang(true)
		waitFor(t, 5*time.Second, "every worker's send hanging", func() bool {
			return fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers
		})
	}
	callsAtTerm := fake.Calls("sendMessage")
	inFlightAtTerm := callsAtTerm - len(fake.AllMessages())
	p.signal(syscall.SIGTERM)
	termAt := time.Now()

	// Readiness goes first.
	hc := &http.Client{Timeout: 2 * time.Second} // longer than /readyz's own 1 s store ping
	waitFor(t, 2*time.Second, "/readyz no longer 200 after SIGTERM", func() bool {
		return readyz(hc, p.httpAddr) != http.StatusOK
	})
	notReadyAfter := time.Since(termAt)

	// Notify calls after SIGTERM: answered OK only while the gRPC server
	// still finishes its graceful stop (those are durable and must be
	// delivered), then refused with UNAVAILABLE; nothing else.
	late, lateOK := 0, 0
	var refusedAfter time.Duration
	waitFor(t, shutdownTimeout, "Notify refused after SIGTERM", func() bool {
		u := us[late%len(us)]
		text := fmt.Sprintf("%s-late-%04d", prefix, late)
		late++
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := c.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.id, Text: text})
		cancel()
		switch status.Code(err) {
		case codes.OK:
			lateOK++
			l.accept(text, r.GetNotificationId(), u.chat, time.Now())
			return false
		case codes.Unavailable:
			refusedAfter = time.Since(termAt)
			return true
		default:
			t.Fatalf("Notify after SIGTERM: %v, want UNAVAILABLE", err)
			return false
		}
	})

	code, ok := p.wait(shutdownTimeout + 3*time.Second)
	exitAfter := time.Since(termAt)
	if !ok {
		t.Fatalf("the notifier did not exit within %v of SIGTERM", shutdownTimeout+3*time.Second)
	}
	if code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	deliveredAtExit := deliveredCount(fake, prefix+"-")
	drainedSends := fake.Calls("sendMessage") - callsAtTerm

	// A fresh client after the exit: connection refused → UNAVAILABLE.
	{
		c2 := dial(t, p.grpcAddr)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c2.Notify(ctx, &notifierv1.NotifyRequest{UserId: us[0].id, Text: prefix + "-after-exit"})
		cancel()
		if status.Code(err) != codes.Unavailable {
			t.Errorf("Notify after exit: %v, want UNAVAILABLE", err)
		}
	}
	// A graceful stop hands every lease back (the documented tgn:lease
	// set): the next start need not wait for a lease to expire.
	rc := rs.Client(t)
	ctx, cancel := rpcCtx()
	leased, err := rc.ZCard(ctx, "tgn:lease").Result()
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if leased != 0 {
		t.Errorf("%d chats still leased after a graceful stop", leased)
	}
	if tl := analyze(l, fake.AllMessages(), prefix+"-"); tl.duplicates > 0 {
		t.Errorf("%d duplicates before the restart", tl.duplicates)
	}

	fake.SetHang(false)
	fake.SetLatency(20 * time.Millisecond)
	restartAt := time.Now()
	p.start()
	c = dial(t, p.grpcAddr) // the old channel may be backing off its reconnects
	all := l.count()
	var resumeAfter time.Duration
	waitFor(t, 20*time.Second, "every accepted notification delivered after the restart", func() bool {
		n := deliveredCount(fake, prefix+"-")
		if resumeAfter == 0 && n > deliveredAtExit {
			resumeAfter = time.Since(restartAt)
		}
		return n >= all
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	t.Logf("RELIABILITY scenario=sigterm_%s accepted=%d accepted_after_sigterm=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d order_violations=%d inflight_at_sigterm=%d delivered_at_exit=%d sends_started_after_sigterm=%d not_ready_after_ms=%d refused_after_ms=%d exit_after_ms=%d exit_code=%d leased_after_exit=%d first_delivery_after_restart_ms=%d",
		name, tl.accepted, lateOK, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.orderViolations,
		inFlightAtTerm, deliveredAtExit, drainedSends, notReadyAfter.Milliseconds(), refusedAfter.Milliseconds(),
		exitAfter.Milliseconds(), code, leased, resumeAfter.Milliseconds())
	tl.check(t, 0)
	if total+lateOK != tl.accepted {
		t.Errorf("ledger: %d + %d accepted, tally %d", total, lateOK, tl.accepted)
	}
	if sent != tl.accepted {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, tl.accepted, formatReasons(failed))
	}
	if notReadyAfter > time.Second {
		t.Errorf("/readyz still 200 %v after SIGTERM", notReadyAfter)
	}
}

// call is one Notify call as the client saw it.
type call struct {
	start, end time.Time
	code       codes.Code
	text       string
}

// TestRedisRestartUnderLoad kills redis-server while clients keep calling
// Notify (retrying with the same idempotency key, as the API asks), checks
// that no call is answered OK while Redis is down, restarts Redis on its
// append-only file and checks that everything accepted is delivered: exactly
// once when Redis is back well within the lease of the sends in flight, at
// least once (duplicates only of those sends) when the outage outlasts it.
func TestRedisRestartUnderLoad(t *testing.T) {
	skipShort(t)
	const workers = 8
	for _, tc := range []struct {
		name string
		// hold keeps Redis down at least this long.
		hold          time.Duration
		lease         time.Duration // NOTIFIER_LEASE_TIMEOUT
		maxDuplicates int
	}{
		// The outage (about 1-2 s, plus up to 1 s for the Redis client to
		// dial again) is far shorter than the lease: every outcome is
		// recorded once Redis is back.
		{name: "short_outage", hold: 0, lease: 10 * time.Second, maxDuplicates: 0},
		// Longer than the lease: a worker that sent a message cannot record
		// it before its lease lapses, so the message is sent again after
		// Redis returns.
		{name: "outage_beyond_lease", hold: 4 * time.Second, lease: 3 * time.Second, maxDuplicates: workers},
	} {
		t.Run(tc.name, func(t *testing.T) { testRedisRestart(t, tc.name, workers, tc.hold, tc.lease, tc.maxDuplicates) })
	}
}

func testRedisRestart(t *testing.T, name string, workers int, hold, lease time.Duration, maxDuplicates int) {
	const (
		users  = 20
		prefix = "rr"
		pace   = 40 * time.Millisecond // between one user's calls
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 3001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":       strconv.Itoa(workers),
		"NOTIFIER_LEASE_TIMEOUT": lease.String(),
		"TELEGRAM_SEND_TIMEOUT":  "1s",
		"NOTIFIER_MIN_BACKOFF":   "50ms",
	})
	rs, fake, p, c, us := w.rs, w.fake, w.p, w.c, w.us
	fake.SetLatency(10 * time.Millisecond)

	l := newLedger()
	var (
		callsMu   sync.Mutex
		calls     []call
		dupAnswer atomic.Int32 // retries answered duplicate: the lost answer had been accepted
	)
	// stop: finish the notification in hand, then return; abort: return
	// now (the test is over).
	stop, abort := make(chan struct{}), make(chan struct{})
	genDeadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	for ui, u := range us {
		wg.Go(func() {
			tick := time.NewTicker(pace)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("%s-%03d-%04d", prefix, ui, seq)
				for { // retry with the same key until accepted
					select {
					case <-abort:
						return
					default:
					}
					if time.Now().After(genDeadline) {
						t.Errorf("%s: not accepted by the deadline", text)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					start := time.Now()
					r, err := c.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.id, Text: text, IdempotencyKey: text})
					end := time.Now()
					cancel()
					code := status.Code(err)
					callsMu.Lock()
					calls = append(calls, call{start: start, end: end, code: code, text: text})
					callsMu.Unlock()
					<-tick.C
					if code == codes.OK {
						if r.GetDuplicate() {
							dupAnswer.Add(1)
						}
						l.accept(text, r.GetNotificationId(), u.chat, end)
						break
					}
					l.refused(code)
				}
			}
		})
	}
	t.Cleanup(func() {
		close(abort)
		wg.Wait()
	})
	countSince := func(since time.Time, want codes.Code) int {
		callsMu.Lock()
		defer callsMu.Unlock()
		n := 0
		for _, c := range calls {
			if c.start.After(since) && c.code == want {
				n++
			}
		}
		return n
	}

	waitFor(t, 10*time.Second, "load running: 100 accepted, 50 delivered", func() bool {
		return l.count() >= 100 && deliveredCount(fake, prefix+"-") >= 50
	})
	acceptedBefore := l.count()
	rs.Stop()
	downAt := time.Now()
	hc := &http.Client{Timeout: 2 * time.Second} // longer than /readyz's own 1 s store ping
	var notReadyAfter time.Duration
	waitFor(t, hold+10*time.Second, "Notify refused and /readyz not 200 while Redis is down", func() bool {
		if notReadyAfter == 0 && readyz(hc, p.httpAddr) != http.StatusOK {
			notReadyAfter = time.Since(downAt)
		}
		return notReadyAfter > 0 && countSince(downAt, codes.Unavailable) >= 2*users && time.Since(downAt) >= hold
	})
	upAt := time.Now()
	rs.Restart()
	upReturned := time.Now()
	var firstOKAfter time.Duration
	waitFor(t, 15*time.Second, "100 more accepted after Redis returned", func() bool {
		if firstOKAfter == 0 && countSince(upReturned, codes.OK) > 0 {
			firstOKAfter = time.Since(upReturned)
		}
		return l.count() >= acceptedBefore+100
	})
	close(stop)
	wg.Wait()
	p.waitReady(10 * time.Second)

	// No call that began after Redis died and ended before it was restarted
	// may have been answered OK; every refusal must be UNAVAILABLE.
	callsMu.Lock()
	var okWhileDown, badCodes int
	var badSample []string
	for _, c := range calls {
		if c.code == codes.OK && c.start.After(downAt) && c.end.Before(upAt) {
			okWhileDown++
		}
		if c.code != codes.OK && c.code != codes.Unavailable {
			badCodes++
			if len(badSample) < 3 {
				badSample = append(badSample, fmt.Sprintf("%s: %v", c.text, c.code))
			}
		}
	}
	totalCalls := len(calls)
	callsMu.Unlock()
	if okWhileDown > 0 {
		t.Errorf("%d Notify calls answered OK while Redis was down", okWhileDown)
	}
	if badCodes > 0 {
		t.Errorf("%d Notify calls refused with a code other than UNAVAILABLE: %v", badCodes, badSample)
	}

	total := l.count()
	waitFor(t, lease+20*time.Second, "every accepted notification delivered", func() bool {
		return deliveredCount(fake, prefix+"-") >= total
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	l.mu.Lock()
	unavailable := l.attempts[codes.Unavailable]
	l.mu.Unlock()
	t.Logf("RELIABILITY scenario=redis_%s accepted=%d accepted_before_outage=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d unexpected=%d order_violations=%d notify_calls=%d unavailable=%d ok_while_down=%d other_codes=%d idempotent_replays=%d outage_ms=%d lease_ms=%d not_ready_after_ms=%d first_ok_after_restart_ms=%d max_delay_ms=%d",
		name, tl.accepted, acceptedBefore, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.unexpected, tl.orderViolations,
		totalCalls, unavailable, okWhileDown, badCodes, dupAnswer.Load(), upReturned.Sub(downAt).Milliseconds(),
		lease.Milliseconds(), notReadyAfter.Milliseconds(), firstOKAfter.Milliseconds(), tl.maxDelay.Milliseconds())
	tl.check(t, maxDuplicates)
	if sent != total {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, total, formatReasons(failed))
	}
}

// TestSIGTERMDuringRedisOutage sends SIGTERM while Redis is down and every
// worker has a send in flight. The process must still exit within
// NOTIFIER_SHUTDOWN_TIMEOUT (an orchestrator SIGKILLs it soon after); the
// outcomes it could not record are resent after the restart (at-least-once:
// duplicates only of those sends).
func TestSIGTERMDuringRedisOutage(t *testing.T) {
	skipShort(t)
	const (
		users, perUser  = 10, 10
		workers         = 8
		prefix          = "sr"
		shutdownTimeout = 3 * time.Second
		leaseTimeout    = 10 * time.Second
		margin          = 2 * time.Second
	)
	w := startWorld(t, fakebot.NewServer(), prefix, users, 6001, fastDelivery, map[string]string{
		"NOTIFIER_WORKERS":          strconv.Itoa(workers),
		"NOTIFIER_SHUTDOWN_TIMEOUT": shutdownTimeout.String(),
		"NOTIFIER_LEASE_TIMEOUT":    leaseTimeout.String(),
		"TELEGRAM_SEND_TIMEOUT":     "2s",
	})
	rs, fake, p, c, us := w.rs, w.fake, w.p, w.c, w.us
	fake.SetLatency(200 * time.Millisecond)
	l := newLedger()
	notifyBurst(t, c, l, us, perUser, prefix)
	waitFor(t, 10*time.Second, "a round delivered and every worker sending", func() bool {
		return deliveredCount(fake, prefix+"-") >= workers && fake.Calls("sendMessage")-len(fake.AllMessages()) >= workers
	})
	rs.Stop()
	p.signal(syscall.SIGTERM)
	termAt := time.Now()
	code, ok := p.wait(shutdownTimeout + margin)
	if !ok {
		t.Errorf("the notifier did not exit within NOTIFIER_SHUTDOWN_TIMEOUT (%v) + %v of SIGTERM while Redis was down", shutdownTimeout, margin)
		code, ok = p.wait(leaseTimeout + 5*time.Second)
		if !ok {
			t.Fatalf("the notifier did not exit within %v of SIGTERM", shutdownTimeout+margin+leaseTimeout+5*time.Second)
		}
	}
	exitAfter := time.Since(termAt)
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}

	rs.Restart()
	fake.SetLatency(0)
	p.start()
	c = dial(t, p.grpcAddr)
	total := l.count()
	waitFor(t, leaseTimeout+15*time.Second, "every accepted notification delivered after the restarts", func() bool {
		return deliveredCount(fake, prefix+"-") >= total
	})
	recs := finalStates(t, c, l.idList(), 15*time.Second)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	tl := analyze(l, fake.AllMessages(), prefix+"-")
	t.Logf("RELIABILITY scenario=sigterm_redis_down accepted=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d order_violations=%d exit_after_ms=%d exit_code=%d shutdown_timeout_ms=%d lease_timeout_ms=%d",
		tl.accepted, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.orderViolations,
		exitAfter.Milliseconds(), code, shutdownTimeout.Milliseconds(), leaseTimeout.Milliseconds())
	tl.check(t, workers)
	if sent != total {
		t.Errorf("%d of %d notifications SENT; failed: %s", sent, total, formatReasons(failed))
	}
}

// TestTelegramFaultsUnderLoad sends 300 notifications to 100 chats through
// a Bot API that enforces Telegram's limits, answers 502 to a fifth of the
// sends at random and 429 once: each is delivered exactly once or FAILED
// with a reason, and the service's own limits keep Telegram from answering
// 429 beyond the injected one.
func TestTelegramFaultsUnderLoad(t *testing.T) {
	skipShort(t)
	const (
		users, perUser = 100, 3
		prefix         = "tf"
	)
	w := startWorld(t, fakebot.NewServer(fakebot.WithSeed(20260101)), prefix, users, 4001, map[string]string{
		// Telegram's limits: the defaults, spelled out.
		"NOTIFIER_GLOBAL_RATE":  "30",
		"NOTIFIER_CHAT_RATE":    "1",
		"TELEGRAM_SEND_TIMEOUT": "2s",
		// Retry backoff 1 s doubling to 4 s (default cap 5 min), so that the
		// rare notification meeting five or six 502s in a row still finishes
		// within the test's time.
		"NOTIFIER_MAX_BACKOFF": "4s",
	})
	fake, c, us := w.fake, w.c, w.us

	fake.SetLimits(fakebot.Limits{Global: 30, PerChat: 1})
	fake.SetErrorRate("sendMessage", 0.2, http.StatusBadGateway)
	fake.FailNext("sendMessage", 1, http.StatusTooManyRequests, "", 1)
	calls0, r0 := fake.Calls("sendMessage"), fake.Count429()

	l := newLedger()
	start := time.Now()
	notifyBurst(t, c, l, us, perUser, prefix)
	total := l.count()
	recs := finalStates(t, c, l.idList(), 40*time.Second)
	elapsed := time.Since(start)
	sent, failed := outcomes(recs)
	checkSummaries(t, c, us, sent, failed)
	msgs := fake.AllMessages()
	tl := analyze(l, msgs, prefix+"-")
	sends := fake.Calls("sendMessage") - calls0
	n429 := fake.Count429() - r0
	errors5xx := sends - (tl.delivered + tl.duplicates) - n429

	// The busiest second at the fake, and the closest two messages to one
	// chat.
	var times []time.Time
	lastPerChat := map[int64]time.Time{}
	minGap := time.Duration(-1)
	for _, m := range msgs {
		if !strings.HasPrefix(m.Text, prefix+"-") {
			continue
		}
		times = append(times, m.Time)
		if prev, ok := lastPerChat[m.ChatID]; ok && (minGap < 0 || m.Time.Sub(prev) < minGap) {
			minGap = m.Time.Sub(prev)
		}
		lastPerChat[m.ChatID] = m.Time
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	// Goodput over the bulk of the run: the first 95% of deliveries (the
	// tail is a few notifications waiting out retry backoff).
	var rate95 float64
	if n := len(times) * 95 / 100; n > 1 {
		rate95 = float64(n-1) / times[n-1].Sub(times[0]).Seconds()
	}
	sendRate := float64(sends) / tl.lastAt.Sub(start).Seconds()
	peak := 0
	for i, j := 0, 0; i < len(times); i++ {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	var attempts, maxAttempts int
	for _, r := range recs {
		attempts += int(r.GetAttempts())
		maxAttempts = max(maxAttempts, int(r.GetAttempts()))
	}
	t.Logf("RELIABILITY scenario=telegram_faults accepted=%d delivered=%d sent_state=%d failed=%s lost=%d duplicates=%d order_violations=%d send_calls=%d errors_5xx=%d count_429=%d recorded_attempts=%d max_attempts_one=%d peak_per_1s=%d min_chat_gap_ms=%d delivered_rate_p95_per_s=%.1f delivered_rate_all_per_s=%.1f send_calls_per_s=%.1f elapsed_ms=%d max_delay_ms=%d",
		tl.accepted, tl.delivered, sent, formatReasons(failed), tl.lost, tl.duplicates, tl.orderViolations,
		sends, errors5xx, n429, attempts, maxAttempts, peak, minGap.Milliseconds(), rate95, tl.rate(), sendRate, elapsed.Milliseconds(), tl.maxDelay.Milliseconds())

	// Every notification is SENT and delivered once, or FAILED with a
	// reason and never delivered.
	for id, r := range recs {
		if r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_FAILED && r.GetFailureReason() == "" {
			t.Errorf("notification %s FAILED without a reason (last error %q)", id, r.GetLastError())
		}
	}
	failedTotal := 0
	for _, n := range failed {
		failedTotal += n
	}
	if tl.delivered != sent || sent+failedTotal != total {
		t.Errorf("delivered %d, SENT %d, FAILED %d, accepted %d", tl.delivered, sent, failedTotal, total)
	}
	tl.lost -= failedTotal // a FAILED notification is accounted for, not lost
	tl.check(t, 0)
	if n429 < 1 {
		t.Errorf("the injected 429 was not answered (%d 429s)", n429)
	}
	if n429 > 1 {
		t.Errorf("Telegram answered %d 429s, want only the injected one: the service exceeded a limit", n429)
	}
}

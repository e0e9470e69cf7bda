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
//
// This file holds the running-service helpers: the binary, the child
// process, its readiness and signals, and the gRPC client.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/freeport"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

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
		"NOTIFIER_GRPC_ADDR":  freeport.MustAddr(t),
		"NOTIFIER_HTTP_ADDR":  freeport.MustAddr(t),
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
	poll.Eventually(p.t, timeout, "GET /readyz = 200", func() bool {
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

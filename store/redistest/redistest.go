// Package redistest runs throwaway Redis deployments for tests: a single
// redis-server, a Sentinel set or a three-master Cluster, all on 127.0.0.1.
//
//	srv := redistest.Start(t)               // or StartWith(t, redistest.Options{AOF: true})
//	st := store.NewRedis(srv.Client(t), "test")
//	srv.Stop()                              // simulate an outage (SIGKILL)
//	srv.Restart()                           // same port and data directory
//
//	set := redistest.StartSentinel(t)       // primary + replica + sentinels
//	c, err := store.OpenRedis(ctx, set.URL()) // redis-sentinel://...
//	set.Failover(t)                         // SENTINEL FAILOVER, wait for the new primary
//
//	cl := redistest.StartCluster(t)         // three masters, all slots assigned
//	c, err := store.OpenRedis(ctx, cl.URL())  // redis-cluster://...
//
// Tools outside tests (cmd/notifier-bench) launch a server without a
// testing.TB and close it themselves:
//
//	srv, err := redistest.Launch(ctx, redistest.Options{Bin: "redis-server"})
//	defer srv.Close()                       // SIGKILL, then remove its data directory
//
// The redis-server binary must be on PATH (sentinels run as redis-sentinel
// when that is on PATH, else as redis-server --sentinel). When it is missing
// the test is skipped, unless the environment variable CI is true, in which
// case it fails.
package redistest

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/internal/freeport"
	"github.com/tgnotify/tgnotify/internal/poll"
)

const (
	// startTimeout bounds how long a start waits for the server to answer PING.
	startTimeout = 15 * time.Second
	// stopTimeout bounds how long Stop waits for the killed process to exit.
	stopTimeout = 10 * time.Second
	// startAttempts is how many free ports the first start tries.
	startAttempts = 5
	// logTail is how much of the server log is reported on failures.
	logTail = 4096
)

// Options configure a server started by [StartWith].
type Options struct {
	// AOF enables the append-only file with fsync on every write
	// (--appendonly yes --appendfsync always), so data survives Stop and
	// Restart. Without it the server keeps nothing across a restart.
	AOF bool
	// Fsync is the --appendfsync policy when AOF is set: "always" (the
	// default, for tests that crash the server) or "everysec" (as
	// production runs it, for benchmarks).
	Fsync string
	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	Args []string
	// Bin is the redis-server binary, looked up in PATH; empty means
	// "redis-server".
	Bin string
}

// Server is a redis-server child process listening on 127.0.0.1. Its methods
// are safe for concurrent use.
type Server struct {
	tb     testing.TB // nil for a server from [Launch]
	bin    string
	dir    string
	ownDir bool // dir was made by Launch; Close removes it
	opts   Options

	mu   sync.Mutex
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start starts a redis-server without persistence and stops it when the test
// ends. See [StartWith].
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith starts a redis-server configured by opts on a free 127.0.0.1 port
// with a fresh data directory, waits until it answers PING and registers a
// cleanup that kills it. A missing binary skips the test (fails it when the
// CI environment variable is true).
func StartWith(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin := requireBinary(tb, cmp.Or(opts.Bin, "redis-server"))
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), opts: opts}
	tb.Cleanup(func() {
		if tb.Failed() {
			if tail := s.logTail(); tail != "" {
				tb.Logf("redis-server log (tail):\n%s", tail)
			}
		}
		s.Stop()
	})
	if err := s.launch(tb.Context()); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return s
}

// Launch is [StartWith] for programs that are not tests: it starts a
// redis-server configured by opts on a free 127.0.0.1 port with a fresh
// temporary data directory and waits until it answers PING or ctx ends. A
// missing binary is an error. The caller must [Server.Close] it.
func Launch(ctx context.Context, opts Options) (*Server, error) {
	bin := cmp.Or(opts.Bin, "redis-server")
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("redistest: %s is needed on PATH: %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	s := &Server{bin: path, dir: dir, ownDir: true, opts: opts}
	if err := s.launch(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("redistest: %w", err)
	}
	return s, nil
}

// launch starts the server on a free port, trying up to startAttempts
// ports (another process may take one between the check and the start).
func (s *Server) launch(ctx context.Context) error {
	var lastErr error
	for range startAttempts {
		port, err := freeport.Port()
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.port = port
		lastErr = s.startLocked(ctx)
		s.mu.Unlock()
		if lastErr == nil || ctx.Err() != nil {
			break
		}
	}
	if lastErr != nil {
		return fmt.Errorf("start redis-server: %w\nlog tail:\n%s", lastErr, s.logTail())
	}
	return nil
}

// requireBinary returns the path of the named program (redis-server,
// redis-cli) on PATH. When it is missing it skips the test loudly, or fails
// it when the CI environment variable is true.
func requireBinary(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			tb.Fatalf("%s not on PATH and CI=true: install redis-server (Debian: apt-get install redis-server) (%v)", name, err)
		}
		tb.Skipf("%s not on PATH: SKIPPING real-Redis test %s; install redis-server (Debian: apt-get install redis-server)", name, tb.Name())
	}
	return bin
}

// logPath is the server's log file inside its data directory.
func (s *Server) logPath() string { return filepath.Join(s.dir, "redis.log") }

// startLocked launches the server on s.port and waits until it answers PING,
// for at most startTimeout. s.mu must be held and no process may be running.
func (s *Server) startLocked(ctx context.Context) error {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", s.dir,
		"--logfile", s.logPath(),
		"--daemonize", "no",
	}
	if s.opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", cmp.Or(s.opts.Fsync, "always"))
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.opts.Args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	addr := s.addrLocked()
	err := poll.Until(ctx, startTimeout, "redis-server on "+addr+" to answer PING", func() (bool, error) {
		select {
		case <-done:
			return false, fmt.Errorf("redis-server on %s exited during start: %v", addr, cmd.ProcessState)
		default:
		}
		return ping(addr) == nil, nil
	})
	if err != nil {
		s.reportKill(s.killLocked())
	}
	return err
}

// ping sends a raw RESP PING to addr with short timeouts and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line) // e.g. -LOADING while reading the AOF
	}
	return nil
}

// killLocked SIGKILLs the running process, if any, and waits for it to exit.
// s.mu must be held.
func (s *Server) killLocked() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Kill()
	var err error
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		err = fmt.Errorf("redistest: redis-server pid %d did not exit within %v of SIGKILL", s.cmd.Process.Pid, stopTimeout)
	}
	s.cmd, s.done = nil, nil
	return err
}

// reportKill fails the test of a server from StartWith when err is set; a
// launched server has no test to fail (its Close returns the error).
func (s *Server) reportKill(err error) {
	if err != nil && s.tb != nil {
		s.tb.Errorf("%v", err)
	}
}

// logTail returns the end of the server log.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return ""
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
	}
	return string(b)
}

func (s *Server) addrLocked() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Addr returns the server's host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrLocked()
}

// URL returns a redis:// URL for database 0 of the server.
func (s *Server) URL() string {
	return "redis://" + s.Addr() + "/0"
}

// Running reports whether the server process is up (it may still be
// starting or have crashed since the last check).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Client returns a go-redis client for the server with bounded timeouts; it
// is closed when tb ends (closing it earlier is fine).
func (s *Server) Client(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         s.Addr(),
		DialTimeout:  2 * time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		PoolTimeout:  3 * time.Second,
	})
	tb.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			tb.Logf("redistest: close client: %v", err)
		}
	})
	return c
}

// Stop kills the server with SIGKILL (a crash: no shutdown save) and waits
// for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reportKill(s.killLocked())
}

// Close stops the server and, for a server from [Launch], removes its data
// directory. It returns the failure to stop, if any.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.killLocked()
	if s.ownDir {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	return err
}

// Restart stops the server if it runs and starts it again on the same port
// and data directory, so an AOF-enabled server keeps its data. It waits until
// the server answers PING and fails the test otherwise; call it from the
// goroutine running the test that started the server, or use [Server.TryRestart]
// (a server from [Launch] has no test: use TryRestart).
func (s *Server) Restart() {
	if s.tb == nil {
		panic("redistest: Restart of a launched server; use TryRestart")
	}
	s.tb.Helper()
	if err := s.TryRestart(); err != nil {
		s.tb.Fatalf("redistest: %v", err)
	}
}

// TryRestart is Restart that returns the failure instead of failing the
// test. It retries for a while if the port is briefly unavailable.
func (s *Server) TryRestart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reportKill(s.killLocked())
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.startLocked(context.Background())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart redis-server: %w\nlog tail:\n%s", err, s.logTail())
		}
		time.Sleep(50 * time.Millisecond) // retry pause while the port is unavailable, not synchronisation
	}
}

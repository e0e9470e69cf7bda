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
// The redis-server binary must be on PATH (sentinels run as redis-sentinel
// when that is on PATH, else as redis-server --sentinel). When it is missing
// the test is skipped, unless the environment variable CI is true, in which
// case it fails.
package redistest

import (
	"bufio"
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
)

const (
	// startTimeout bounds how long a start waits for the server to answer PING.
	startTimeout = 15 * time.Second
	// stopTimeout bounds how long Stop waits for the killed process to exit.
	stopTimeout = 10 * time.Second
	// startAttempts is how many free ports the first start tries.
	startAttempts = 5
	// pollInterval is the pause between readiness probes.
	pollInterval = 10 * time.Millisecond
	// logTail is how much of the server log is reported on failures.
	logTail = 4096
)

// Options configure a server started by [StartWith].
type Options struct {
	// AOF enables the append-only file with fsync on every write
	// (--appendonly yes --appendfsync always), so data survives Stop and
	// Restart. Without it the server keeps nothing across a restart.
	AOF bool
	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	Args []string
}

// Server is a redis-server child process listening on 127.0.0.1. Its methods
// are safe for concurrent use.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	opts Options

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
	bin := requireBinary(tb, "redis-server")
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), opts: opts}
	tb.Cleanup(func() {
		if tb.Failed() {
			if tail := s.logTail(); tail != "" {
				tb.Logf("redis-server log (tail):\n%s", tail)
			}
		}
		s.Stop()
	})
	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		s.mu.Lock()
		s.port = port
		lastErr = s.startLocked(time.Now().Add(startTimeout))
		s.mu.Unlock()
		if lastErr == nil {
			return s
		}
	}
	tb.Fatalf("redistest: start redis-server: %v\nlog tail:\n%s", lastErr, s.logTail())
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

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logPath is the server's log file inside its data directory.
func (s *Server) logPath() string { return filepath.Join(s.dir, "redis.log") }

// startLocked launches the server on s.port and waits until it answers PING
// or deadline passes. s.mu must be held and no process may be running.
func (s *Server) startLocked(deadline time.Time) error {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", s.dir,
		"--logfile", s.logPath(),
		"--daemonize", "no",
	}
	if s.opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
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
	for {
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			return fmt.Errorf("redis-server on %s exited during start: %v", addr, cmd.ProcessState)
		default:
		}
		if err := ping(addr); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("redis-server on %s not ready by deadline: %w", addr, err)
		}
		time.Sleep(pollInterval)
	}
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
func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.tb.Errorf("redistest: redis-server pid %d did not exit within %v of SIGKILL", s.cmd.Process.Pid, stopTimeout)
	}
	s.cmd, s.done = nil, nil
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
	s.killLocked()
}

// Restart stops the server if it runs and starts it again on the same port
// and data directory, so an AOF-enabled server keeps its data. It waits until
// the server answers PING and fails the test otherwise; call it from the
// goroutine running the test that started the server, or use [Server.TryRestart].
func (s *Server) Restart() {
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
	s.killLocked()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.startLocked(deadline)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart redis-server: %w\nlog tail:\n%s", err, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

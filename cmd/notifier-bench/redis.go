package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of the redis-server child process.
const (
	redisStartTimeout = 15 * time.Second
	redisStopTimeout  = 10 * time.Second
	redisStartTries   = 5
	pollEvery         = 10 * time.Millisecond
)

// redisOptions select the redis-server a scenario runs against.
type redisOptions struct {
	// Bin is the redis-server binary; empty means "redis-server" from PATH.
	Bin string
	// AOF turns persistence on the way production runs it
	// (--appendonly yes --appendfsync everysec); otherwise the server keeps
	// nothing (--save "" --appendonly no).
	AOF bool
}

// persistence describes o for reports.
func (o redisOptions) persistence() string {
	if o.AOF {
		return "appendonly yes, appendfsync everysec"
	}
	return `save "", appendonly no`
}

// redisServer is a throwaway redis-server child process on a free
// 127.0.0.1 port with its own data directory.
type redisServer struct {
	cmd  *exec.Cmd
	done chan struct{}
	dir  string
	addr string
}

// startRedis starts redis-server as o says and waits until it answers PING.
func startRedis(ctx context.Context, o redisOptions) (*redisServer, error) {
	bin := o.Bin
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed on PATH (or -redis-server): %w", err)
	}
	dir, err := os.MkdirTemp("", "notifier-bench-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range redisStartTries {
		port, err := freePort()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		r, err := launchRedis(ctx, path, dir, port, o)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	tail := logTail(filepath.Join(dir, "redis.log"))
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("start redis-server: %w\nlog tail:\n%s", lastErr, tail)
}

// launchRedis runs one start attempt on port.
func launchRedis(ctx context.Context, bin, dir string, port int, o redisOptions) (*redisServer, error) {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no",
	}
	if o.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	} else {
		args = append(args, "--appendonly", "no")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	r := &redisServer{cmd: cmd, done: make(chan struct{}), dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	err := pollUntil(ctx, redisStartTimeout, "redis-server PING", func() (bool, error) {
		select {
		case <-r.done:
			return false, fmt.Errorf("redis-server on %s exited during start: %v", r.addr, cmd.ProcessState)
		default:
		}
		return pingRedis(r.addr) == nil, nil
	})
	if err != nil {
		r.kill()
		return nil, err
	}
	return r, nil
}

// URL is a redis:// URL for database 0.
func (r *redisServer) URL() string { return "redis://" + r.addr + "/0" }

// Client returns a go-redis client with bounded timeouts and pool size.
func (r *redisServer) Client(pool int) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         r.addr,
		PoolSize:     max(pool, 1),
		DialTimeout:  2 * time.Second,
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		PoolTimeout:  5 * time.Second,
	})
}

// kill SIGKILLs the server and waits (bounded) for it to exit.
func (r *redisServer) kill() {
	_ = r.cmd.Process.Kill()
	select {
	case <-r.done:
	case <-time.After(redisStopTimeout):
	}
}

// Stop kills the server and removes its data directory.
func (r *redisServer) Stop() {
	r.kill()
	_ = os.RemoveAll(r.dir)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pingRedis sends a raw RESP PING with short timeouts and expects +PONG.
func pingRedis(addr string) error {
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
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

// infoFields runs INFO section and returns its fields.
func infoFields(ctx context.Context, c *redis.Client, section string) (map[string]string, error) {
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("INFO %s: %w", section, err)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out, nil
}

// infoInt reads one integer field of INFO section.
func infoInt(ctx context.Context, c *redis.Client, section, field string) (int64, error) {
	f, err := infoFields(ctx, c, section)
	if err != nil {
		return 0, err
	}
	v, ok := f[field]
	if !ok {
		return 0, fmt.Errorf("INFO %s has no %s", section, field)
	}
	return strconv.ParseInt(v, 10, 64)
}

// pollUntil evaluates cond every pollEvery until it holds, it fails, ctx
// ends or timeout passes.
func pollUntil(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// redisUsage is a reading of a redis-server's work counters.
type redisUsage struct {
	commands int64
	cpu      float64 // seconds, user + system, main thread and others
}

// readRedisUsage reads INFO stats and INFO cpu.
func readRedisUsage(ctx context.Context, c *redis.Client) (redisUsage, error) {
	var u redisUsage
	st, err := infoFields(ctx, c, "stats")
	if err != nil {
		return u, err
	}
	cpu, err := infoFields(ctx, c, "cpu")
	if err != nil {
		return u, err
	}
	u.commands, _ = strconv.ParseInt(st["total_commands_processed"], 10, 64)
	us, _ := strconv.ParseFloat(cpu["used_cpu_user"], 64)
	sy, _ := strconv.ParseFloat(cpu["used_cpu_sys"], 64)
	u.cpu = us + sy
	return u, nil
}

// cmdStat is one line of INFO commandstats.
type cmdStat struct {
	calls, usec int64
}

// readCommandStats reads INFO commandstats (commands called from scripts
// included) keyed by command name.
func readCommandStats(ctx context.Context, c *redis.Client) (map[string]cmdStat, error) {
	f, err := infoFields(ctx, c, "commandstats")
	if err != nil {
		return nil, err
	}
	out := map[string]cmdStat{}
	for k, v := range f {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		var s cmdStat
		for kv := range strings.SplitSeq(v, ",") {
			key, val, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(val, 10, 64)
			switch key {
			case "calls":
				s.calls = n
			case "usec":
				s.usec = n
			}
		}
		out[name] = s
	}
	return out, nil
}

// commandShare is a command's share of redis-server's work per operation.
type commandShare struct {
	Command    string  `json:"command"`
	CallsPerOp float64 `json:"calls_per_op"`
	UsecPerOp  float64 `json:"usec_per_op"`
}

// topCommands returns the top n commands by time between two readings,
// per op operations.
func topCommands(before, after map[string]cmdStat, ops int64, n int) []commandShare {
	if ops <= 0 {
		return nil
	}
	var out []commandShare
	for name, a := range after {
		b := before[name]
		if a.calls == b.calls {
			continue
		}
		out = append(out, commandShare{
			Command:    name,
			CallsPerOp: math.Round(100*float64(a.calls-b.calls)/float64(ops)) / 100,
			UsecPerOp:  math.Round(100*float64(a.usec-b.usec)/float64(ops)) / 100,
		})
	}
	slices.SortFunc(out, func(x, y commandShare) int { return cmp.Compare(y.UsecPerOp, x.UsecPerOp) })
	return out[:min(n, len(out))]
}

// fmtCommands is a list of command shares on one line.
func fmtCommands(cs []commandShare) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %.2f calls %.1f µs", c.Command, c.CallsPerOp, c.UsecPerOp)
	}
	return strings.Join(parts, ", ")
}

package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/store/redistest"
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

// startRedis starts a throwaway redis-server (store/redistest's launcher)
// on a free 127.0.0.1 port as o says; Close kills it and removes its data.
func startRedis(ctx context.Context, o redisOptions) (*redistest.Server, error) {
	opts := redistest.Options{Bin: o.Bin}
	if o.AOF {
		opts.AOF, opts.Fsync = true, "everysec"
	}
	s, err := redistest.Launch(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (-redis-server names the binary)", err)
	}
	return s, nil
}

// redisClient returns a go-redis client for s with bounded timeouts and
// pool size.
func redisClient(s *redistest.Server, pool int) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         s.Addr(),
		PoolSize:     max(pool, 1),
		DialTimeout:  2 * time.Second,
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		PoolTimeout:  5 * time.Second,
	})
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

// redisReading is a reading of a redis-server's work counters: INFO stats,
// cpu and commandstats.
type redisReading struct {
	commands int64
	cpu      float64 // seconds, user + system, main thread and others
	cmds     map[string]cmdStat
}

// readRedis reads INFO stats, cpu and commandstats.
func readRedis(ctx context.Context, c *redis.Client) (redisReading, error) {
	var r redisReading
	st, err := infoFields(ctx, c, "stats")
	if err != nil {
		return r, err
	}
	cpu, err := infoFields(ctx, c, "cpu")
	if err != nil {
		return r, err
	}
	r.commands, _ = strconv.ParseInt(st["total_commands_processed"], 10, 64)
	us, _ := strconv.ParseFloat(cpu["used_cpu_user"], 64)
	sy, _ := strconv.ParseFloat(cpu["used_cpu_sys"], 64)
	r.cpu = us + sy
	r.cmds, err = readCommandStats(ctx, c)
	return r, err
}

// redisDelta is the work a redis-server did between readings; before and
// after sum the command stats at the start and end of each span.
type redisDelta struct {
	cpu           float64
	commands      int64
	before, after map[string]cmdStat
}

// since is the work done from r0 to r.
func (r redisReading) since(r0 redisReading) redisDelta {
	return redisDelta{cpu: r.cpu - r0.cpu, commands: r.commands - r0.commands, before: r0.cmds, after: r.cmds}
}

// add sums d and e, command stats included.
func (d *redisDelta) add(e redisDelta) {
	d.cpu += e.cpu
	d.commands += e.commands
	if d.before == nil {
		d.before, d.after = map[string]cmdStat{}, map[string]cmdStat{}
	}
	for name, v := range e.after {
		b, a := d.before[name], d.after[name]
		b.calls, b.usec = b.calls+e.before[name].calls, b.usec+e.before[name].usec
		a.calls, a.usec = a.calls+v.calls, a.usec+v.usec
		d.before[name], d.after[name] = b, a
	}
}

// top is the top n commands by time per op operations.
func (d redisDelta) top(ops int64, n int) []commandShare {
	return topCommands(d.before, d.after, ops, n)
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

package store

// Delivery keeps working when Redis refuses new writes. With maxmemory and
// the noeviction policy at the limit, Redis refuses every script that
// writes ("OOM command not allowed when used memory > 'maxmemory'"): one
// caller filling Redis would stop claims and settles, so nothing would
// drain. On Redis 7 and newer the scripts that drain the queue, handle
// updates or link a user (claim, settle, settle-and-claim, migrate, pace,
// backlog, update claim/complete/release, consume link token) run with the
// script flag allow-oom (a "#!lua flags=allow-oom" first line): they write
// little, and most of them free memory. The enqueue script has no flag, so
// under OOM an enqueue is refused (UNAVAILABLE) and writes nothing. Redis
// 6.2 has no script flags: there the plain scripts run and claims fail
// under OOM as before. The server version is read once (INFO server).

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Values of Redis.scriptFlags.
const (
	flagsUnknown int32 = iota
	flagsSupported
	flagsUnsupported
)

// oomScript is a script that runs with allow-oom where the server supports
// script flags (Redis 7+), as plain script elsewhere.
type oomScript struct {
	owner          *Redis
	plain, flagged *redis.Script
}

// newOOMScript returns the script store/lua/<name>.lua (see loadScript)
// as an oomScript of owner: the flagged variant is the same text after a
// "#!lua flags=allow-oom" first line.
func newOOMScript(owner *Redis, name string) *oomScript {
	src := scriptSource(name)
	return &oomScript{owner: owner, plain: redis.NewScript(src), flagged: redis.NewScript("#!lua flags=allow-oom\n" + src)}
}

// Run runs the script like redis.Script.Run.
func (s *oomScript) Run(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd {
	return s.pick(ctx).Run(ctx, c, keys, args...)
}

// pick returns the variant of the script the server runs.
func (s *oomScript) pick(ctx context.Context) *redis.Script {
	if s.owner.supportsScriptFlags(ctx) {
		return s.flagged
	}
	return s.plain
}

// supportsScriptFlags reports whether the server is Redis 7 or newer,
// reading INFO server once; when it cannot be read it answers false for
// now and asks again next time.
func (r *Redis) supportsScriptFlags(ctx context.Context) bool {
	switch r.scriptFlags.Load() {
	case flagsSupported:
		return true
	case flagsUnsupported:
		return false
	}
	info, err := r.client.Info(ctx, "server").Result()
	if err != nil {
		return false
	}
	v := flagsUnsupported
	if major, ok := redisMajor(info); ok && major >= 7 {
		v = flagsSupported
	}
	r.scriptFlags.Store(v)
	return v == flagsSupported
}

// redisMajor returns the major version in an INFO server answer.
func redisMajor(info string) (int, bool) {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			major, _, _ := strings.Cut(v, ".")
			n, err := strconv.Atoi(major)
			return n, err == nil
		}
	}
	return 0, false
}

// scriptFlagsState is embedded in Redis: the detected script flag support.
type scriptFlagsState struct {
	scriptFlags atomic.Int32
}

package metrics

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"
)

// RedisHook returns a go-redis hook (client.AddHook) that counts failed
// commands in tgnotify_redis_errors_total by command name (lower case),
// failed connection attempts as op "dial", and a failed pipeline without a
// failed command as op "pipeline". redis.Nil (no such key),
// redis.TxFailedErr (a WATCH conflict) and context cancellation by the
// caller are not errors. A dial failure is counted both as "dial" and as
// the command that needed the connection.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m: m} }

// redisHook is the hook returned by RedisHook.
type redisHook struct{ m *Metrics }

// redisFailed reports whether err is a real Redis error.
func redisFailed(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, redis.TxFailedErr) && !errors.Is(err, context.Canceled)
}

// DialHook counts failed connection attempts.
func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if redisFailed(err) {
			h.m.RedisError("dial")
		}
		return conn, err
	}
}

// ProcessHook counts failed commands.
func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if redisFailed(err) {
			h.m.RedisError(cmd.Name())
		}
		return err
	}
}

// ProcessPipelineHook counts the failed commands of a pipeline or
// transaction.
func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		counted := false
		for _, cmd := range cmds {
			if redisFailed(cmd.Err()) {
				h.m.RedisError(cmd.Name())
				counted = true
			}
		}
		if !counted && redisFailed(err) {
			h.m.RedisError("pipeline")
		}
		return err
	}
}

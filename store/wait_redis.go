package store

// Failover durability (opt-in). Redis replicates asynchronously: on a
// Sentinel or Cluster failover, writes the old primary acknowledged but had
// not yet sent to the promoted replica are lost. With
// [Redis.SetWaitReplicas] the writes that accept a notification (the
// enqueue script) and consume a link token are followed by WAIT n timeout
// on the same connection (one pipeline on the primary owning the keys: a
// Cluster's node for the prefix's hash slot), and the caller gets
// ErrUnavailable when fewer than n replicas acknowledged within the
// timeout. The write itself is not undone then: it is on the primary and
// may survive. A caller that retries should use an idempotency key.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNotAcknowledged is the cause of the ErrUnavailable of a write that
// fewer replicas than required acknowledged.
var errNotAcknowledged = errors.New("not acknowledged by enough replicas")

// SetWaitReplicas makes the writes that accept a notification or consume a
// link token wait until n replicas acknowledged them, at most timeout
// (n <= 0 turns it off, the default). Call it before r, or its queue, is
// used.
func (r *Redis) SetWaitReplicas(n int, timeout time.Duration) {
	r.waitReplicas, r.waitTimeout = max(n, 0), max(timeout, time.Millisecond)
}

// evalWait runs s and then WAIT on the same connection of the primary that
// owns keys[0]. It returns the script's command (its Err as Run's) and,
// separately, the error of the wait: nil once r.waitReplicas replicas
// acknowledged, else wrapping ErrUnavailable.
func (r *Redis) evalWait(ctx context.Context, op string, s *redis.Script, keys []string, args ...any) (*redis.Cmd, error) {
	pipelined := r.client.Pipelined
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			c := redis.NewCmd(ctx)
			c.SetErr(err)
			return c, unavailable(op, err)
		}
		pipelined = node.Pipelined
	}
	run := func(eval bool) (*redis.Cmd, *redis.Cmd) {
		var ev, w *redis.Cmd
		// Each command's error is read below; Exec's is the first of them.
		_, _ = pipelined(ctx, func(p redis.Pipeliner) error {
			if eval {
				ev = s.Eval(ctx, p, keys, args...)
			} else {
				ev = s.EvalSha(ctx, p, keys, args...)
			}
			w = p.Do(ctx, "WAIT", r.waitReplicas, r.waitTimeout.Milliseconds())
			return nil
		})
		return ev, w
	}
	ev, w := run(false)
	if redis.HasErrorPrefix(ev.Err(), "NOSCRIPT") {
		ev, w = run(true)
	}
	n, err := w.Int64()
	if err != nil {
		return ev, unavailable(op+": wait for replicas", err)
	}
	if n < int64(r.waitReplicas) {
		return ev, fmt.Errorf("store: %s: %w: %w (%d of %d within %v)", op, ErrUnavailable, errNotAcknowledged,
			n, r.waitReplicas, r.waitTimeout)
	}
	return ev, nil
}

package store

// Broadcasts in Redis: keys in keys.go, scripts store/lua/bc_*.lua with
// lib/bc.lua (whose bc_settled the settle of a recipient's record calls).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/delivery"
)

// bcStageTTL bounds the life of a staged recipient list whose create
// never ran (the process died between staging and creating).
const bcStageTTL = time.Hour

// bcStageChunk is how many ids one RPUSH of the staging stages;
// bcSnapshotBuckets how many link buckets one bc_snapshot.lua run reads.
const (
	bcStageChunk      = 10_000
	bcSnapshotBuckets = 512
)

// newBroadcastID returns a random broadcast id ("b" and 24 hex digits).
func newBroadcastID() (string, error) {
	id, err := newToken()
	if err != nil {
		return "", err
	}
	return "b" + id[:24], nil
}

// bcTemplate returns the record fields every recipient's record shares:
// the message's, without id, user and creation time, which expansion adds.
func bcTemplate(m delivery.Notification, paid bool) ([]any, error) {
	parts, err := json.Marshal(m.Parts)
	if err != nil {
		return nil, fmt.Errorf("store: broadcast: encode parts: %w", err)
	}
	m.TextLen, m.TextSHA256 = textDigest(m.Parts)
	m.IdempotencyKey, m.Reply, m.ReplyToID = "", false, ""
	all, _ := enqueueFields(m, string(parts), "0")
	out := make([]any, 0, len(all)+2)
	for i := 0; i+1 < len(all); i += 2 {
		switch all[i] {
		case "id", "user_id", "created_at":
			continue
		}
		out = append(out, all[i], all[i+1])
	}
	if paid {
		out = append(out, "paid", boolStr(true))
	}
	return out, nil
}

// CreateBroadcast stores a broadcast: its message once and its recipients
// as a list of ids (nb.UserIDs, or with nb.AllLinked a snapshot of every
// linked user taken by bc_snapshot.lua, a range of link buckets per run),
// staged first and made visible by one script with the idempotency key.
// A repeated idempotency key returns the earlier broadcast (Existed).
func (q *RedisQueue) CreateBroadcast(ctx context.Context, nb broadcast.New) (broadcast.Created, error) {
	id, err := newBroadcastID()
	if err != nil {
		return broadcast.Created{}, err
	}
	tmpl, err := bcTemplate(nb.Message, nb.Paid)
	if err != nil {
		return broadcast.Created{}, err
	}
	if c, ok, err := q.existingBroadcast(ctx, nb.IdempotencyKey); err != nil || ok {
		return c, err
	}
	staged := bcRecipientsKey(q.prefix, id)
	if err := q.stageRecipients(ctx, staged, nb); err != nil {
		return broadcast.Created{}, err
	}
	idem, idemTTL := bcIdemKey(q.prefix, ""), any("")
	if nb.IdempotencyKey != "" {
		idem, idemTTL = bcIdemKey(q.prefix, nb.IdempotencyKey), ttlMillis(nb.IdempotencyTTL)
	}
	keys := []string{bcKey(q.prefix, id), bcTemplateKey(q.prefix, id), staged, bcRunningKey(q.prefix), idem,
		q.owner.eventsKey()}
	args := []any{q.prefix, id, nb.CreatedAt.UnixMilli(), strconv.FormatFloat(nb.Rate, 'f', -1, 64),
		boolStr(nb.Paid), idemTTL, ttlMillis(nb.Retention)}
	args = append(append(args, q.owner.evArgs()...), tmpl...)
	res, err := q.bcScript("bc_create").Run(ctx, q.client, keys, args...).Slice()
	if err != nil {
		return broadcast.Created{}, unavailable("create broadcast", err)
	}
	if len(res) != 3 {
		return broadcast.Created{}, fmt.Errorf("store: create broadcast: unexpected reply %v", res)
	}
	gotID, _ := res[1].(string)
	n, _ := res[2].(int64)
	return broadcast.Created{ID: gotID, Recipients: n, Existed: res[0] == int64(0)}, nil
}

// existingBroadcast returns the broadcast of an idempotency key already
// used, before any recipient is staged: a retry of a 100,000-id or
// all_linked broadcast costs two reads, not a second snapshot. bc_create
// checks the key again, atomically, for two first calls at once.
func (q *RedisQueue) existingBroadcast(ctx context.Context, key string) (broadcast.Created, bool, error) {
	if key == "" {
		return broadcast.Created{}, false, nil
	}
	id, err := q.client.Get(ctx, bcIdemKey(q.prefix, key)).Result()
	if errors.Is(err, redis.Nil) {
		return broadcast.Created{}, false, nil
	}
	if err != nil {
		return broadcast.Created{}, false, unavailable("create broadcast", err)
	}
	b, err := q.GetBroadcast(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return broadcast.Created{}, false, nil // the key outlived its broadcast: bc_create decides
	}
	if err != nil {
		return broadcast.Created{}, false, err
	}
	return broadcast.Created{ID: id, Recipients: b.Recipients, Existed: true}, true, nil
}

// stageRecipients fills the staging list: the given ids in chunks, or the
// linked users bucket range by bucket range.
func (q *RedisQueue) stageRecipients(ctx context.Context, staged string, nb broadcast.New) error {
	if nb.AllLinked {
		snap := q.bcScript("bc_snapshot")
		for b := 0; b < linkBuckets; b += bcSnapshotBuckets {
			last := min(b+bcSnapshotBuckets, linkBuckets) - 1
			if err := snap.Run(ctx, q.client, []string{staged}, q.prefix, b, last, ttlMillis(bcStageTTL)).Err(); err != nil {
				return unavailable("snapshot linked users", err)
			}
		}
		return nil
	}
	_, err := q.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < len(nb.UserIDs); i += bcStageChunk {
			chunk := nb.UserIDs[i:min(i+bcStageChunk, len(nb.UserIDs))]
			vals := make([]any, len(chunk))
			for j, u := range chunk {
				vals[j] = u
			}
			p.RPush(ctx, staged, vals...)
		}
		p.PExpire(ctx, staged, bcStageTTL)
		return nil
	})
	if err != nil {
		return unavailable("stage broadcast recipients", err)
	}
	return nil
}

// bcScript returns the named broadcast script (loaded once per queue).
func (q *RedisQueue) bcScript(name string) *oomScript {
	q.bcOnce.Do(func() {
		q.bcScripts = map[string]*oomScript{}
		for _, n := range []string{"bc_create", "bc_snapshot", "bc_expand", "bc_cancel"} {
			q.bcScripts[n] = newOOMScript(q.owner, n)
		}
	})
	return q.bcScripts[name]
}

// GetBroadcast returns the broadcast id, or ErrNotFound.
func (q *RedisQueue) GetBroadcast(ctx context.Context, id string) (broadcast.Broadcast, error) {
	f, err := q.client.HGetAll(ctx, bcKey(q.prefix, id)).Result()
	if err != nil {
		return broadcast.Broadcast{}, unavailable("get broadcast", err)
	}
	if len(f) == 0 {
		return broadcast.Broadcast{}, fmt.Errorf("store: broadcast %q: %w", id, ErrNotFound)
	}
	return parseBroadcast(id, f), nil
}

// parseBroadcast decodes a broadcast hash (lib/bc.lua's fields).
func parseBroadcast(id string, f map[string]string) broadcast.Broadcast {
	num := func(k string) int64 {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		return v
	}
	ms := func(k string) time.Time {
		if f[k] == "" {
			return time.Time{}
		}
		return time.UnixMilli(num(k))
	}
	rate, _ := strconv.ParseFloat(f["rate"], 64)
	b := broadcast.Broadcast{ID: id, State: broadcast.State(num("st")), Recipients: num("n"), Sent: num("s"),
		Failed: num("f"), Cancelled: num("c"), CreatedAt: ms("created"), StartedAt: ms("started"),
		FinishedAt: ms("fin"), Rate: rate, Paid: f["paid"] == "1", FailuresByReason: map[string]int64{}}
	for k, v := range f {
		if r, ok := strings.CutPrefix(k, "fr:"); ok {
			b.FailuresByReason[r], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return b
}

// CancelBroadcast cancels a running broadcast (bc_cancel.lua) and returns
// its state after the call (that of a finished one unchanged).
func (q *RedisQueue) CancelBroadcast(ctx context.Context, id string, now time.Time) (broadcast.State, error) {
	keys := []string{bcKey(q.prefix, id), bcRecipientsKey(q.prefix, id), bcFlightKey(q.prefix, id),
		bcRunningKey(q.prefix), q.pendingKey(), q.owner.eventsKey()}
	args := append([]any{q.prefix, id, now.UnixMilli()}, q.owner.evArgs()...)
	st, err := q.bcScript("bc_cancel").Run(ctx, q.client, keys, args...).Int()
	if err != nil {
		return 0, unavailable("cancel broadcast", err)
	}
	if st == 0 {
		return 0, fmt.Errorf("store: broadcast %q: %w", id, ErrNotFound)
	}
	return broadcast.State(st), nil
}

// BroadcastFailures returns up to limit failures of broadcast id from
// offset on, and the offset of the next page (0 when this is the last).
func (q *RedisQueue) BroadcastFailures(ctx context.Context, id string, offset int64, limit int) ([]broadcast.Failure, int64, error) {
	pipe := q.client.Pipeline()
	exists := pipe.Exists(ctx, bcKey(q.prefix, id))
	rng := pipe.LRange(ctx, bcFailuresKey(q.prefix, id), offset, offset+int64(limit))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, unavailable("broadcast failures", err)
	}
	if exists.Val() == 0 {
		return nil, 0, fmt.Errorf("store: broadcast %q: %w", id, ErrNotFound)
	}
	return pageFailures(rng.Val(), offset, limit)
}

// pageFailures decodes "reason|user" entries: up to limit of them, and
// the next offset when there was one more.
func pageFailures(raw []string, offset int64, limit int) ([]broadcast.Failure, int64, error) {
	var next int64
	if len(raw) > limit {
		raw, next = raw[:limit], offset+int64(limit)
	}
	out := make([]broadcast.Failure, 0, len(raw))
	for _, e := range raw {
		reason, user, ok := strings.Cut(e, "|")
		if !ok {
			return nil, 0, fmt.Errorf("store: corrupt broadcast failure %q", e)
		}
		out = append(out, broadcast.Failure{UserID: user, Reason: reason})
	}
	return out, next, nil
}

// RunningBroadcasts returns the broadcasts with recipients left to expand.
func (q *RedisQueue) RunningBroadcasts(ctx context.Context) ([]string, error) {
	ids, err := q.client.SMembers(ctx, bcRunningKey(q.prefix)).Result()
	if err != nil {
		return nil, unavailable("running broadcasts", err)
	}
	return ids, nil
}

// ExpandBroadcast runs one expansion step of broadcast id (bc_expand.lua):
// the next recipients, as many as its rate and window allow, become
// records in their chats' backlogs in the same step as they leave the
// list. Records are kept for retention.
func (q *RedisQueue) ExpandBroadcast(ctx context.Context, id string, now time.Time, window int, retention time.Duration) (broadcast.Expansion, error) {
	keys := []string{bcKey(q.prefix, id), bcTemplateKey(q.prefix, id), bcRecipientsKey(q.prefix, id),
		bcFlightKey(q.prefix, id), bcRunningKey(q.prefix), q.schedKey(), q.leaseKey(), q.pendingKey(),
		q.owner.eventsKey()}
	args := append([]any{q.prefix, id, now.UnixMilli(), max(window, 1), ttlMillis(retention)}, q.owner.evArgs()...)
	res, err := q.bcScript("bc_expand").Run(ctx, q.client, keys, args...).Int64Slice()
	if err != nil {
		return broadcast.Expansion{}, unavailable("expand broadcast", err)
	}
	if len(res) != 4 {
		return broadcast.Expansion{}, fmt.Errorf("store: expand broadcast: unexpected reply %v", res)
	}
	return broadcast.Expansion{Queued: int(res[0]), Failed: int(res[1]), Wait: time.Duration(res[2]) * time.Millisecond,
		Finished: res[3] == 1}, nil
}

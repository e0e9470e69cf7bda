package store

// The notification queue in Redis. Its keys (<p>:n:<id> records,
// <p>:q:<chat> backlogs, <p>:sched, <p>:lease, <p>:leasetok, <p>:pending,
// <p>:us:<user> summaries, <p>:idem:..., <p>:nb:<chat> pacing and
// <p>:mig:<chat> markers) are laid out in keys.go; its scripts are
// store/lua/enqueue.lua, claim.lua, settle.lua, settle_claim.lua,
// backlog.lua, edit.lua and delete.lua (with lib/claim.lua, lib/settle.lua
// and lib/op.lua).
//
// Record fields: id, user_id, chat_id, parts (JSON array), nparts, parse_mode,
// disable_notification, plain_text_fallback, disable_link_preview,
// protect_content, reply_to (the id of the notification replied to),
// idem_key, state (1-4), attempts,
// retries, next_part, message_ids (comma-separated), last_error,
// failure_reason, degraded (how a sent part departed from the request:
// "parse_entities", "topic_fallback"), media_kind, media_url, media_file (the media sent as
// part 0, only when there is one), media_file_id (Telegram's file_id of the
// sent media), buttons (JSON rows of delivery.Button), callback_answer,
// presses (the latest button presses, one JSON delivery.ButtonPress per
// line, oldest first: press.go),
// topic_id (the forum topic, message_thread_id), no_topic_fallback,
// created_at, updated_at (unix ms), reply ("1" for a bot
// reply: head of the backlog, no link check, no summary); and for edits
// and deletions (delivery/edit.go, lib/op.lua): revision (missing: 1),
// edit_state (0-3), edit_error, deleted ("1"), delete_error, op (the
// pending operation: "edit" or "delete"), op_has_text ("1"), op_text,
// op_mode (the pending edit's text and parse mode), op_retries. State 5 is
// CANCELLED. A field at its zero
// value may be absent (enqueue writes only id, user_id, chat_id, parts,
// state, created_at and the fields that differ from their defaults): a
// missing nparts is 1, a missing number 0, a missing string "", a missing
// flag false, a missing updated_at created_at.
//
// Every operation is one Lua script, so enqueue (record + backlog + schedule
// + idempotency key + summary + pending), claim and settle are atomic. A
// chat is in at most one of sched and lease. Claims also read the claimed
// user's link (lib/link.lua's link_chat), so that the dispatcher
// need not read it again before sending, and, given ClaimOptions.Limit,
// check the limiter's pause and take a slot of its GCRA limit
// (<p>:pause, <p>:rl:<name>, see limiter_redis.go) in the same step.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisQueue is the notification queue in Redis, shared by every replica
// using the same prefix. Get it from [Redis.Queue].
type RedisQueue struct {
	client redis.UniversalClient
	prefix string
	owner  *Redis
	lim    *RedisLimiter // the limiter whose budget claims reserve in

	enqueue *redis.Script
	// enqueueBatch groups concurrent enqueues into one enqueue.lua run.
	enqueueBatch *batcher[enqueueItem, any]
	claim        *oomScript
	settle       *oomScript
	settleClaim  *oomScript
	backlog      *oomScript
	press        *redis.Script
	// edit and del are Edit's and Delete's scripts (queue_edit_redis.go).
	edit, del *redis.Script
	// bcScripts are the broadcast scripts (broadcast_redis.go).
	bcOnce    sync.Once
	bcScripts map[string]*oomScript
}

var _ delivery.Queue = (*RedisQueue)(nil)

// Queue returns the notification queue stored under r's prefix, on r's
// client (closing r closes it). Its enqueues and claims read the users'
// links of r, its claims reserve in the budget of r's [Redis.Limiter] and
// honour its pause, and its migrations move r's links.
func (r *Redis) Queue() *RedisQueue {
	q := &RedisQueue{
		client:      r.client,
		prefix:      r.prefix,
		owner:       r,
		lim:         r.Limiter(),
		enqueue:     loadScript("enqueue"),
		claim:       newOOMScript(r, "claim"),
		settle:      newOOMScript(r, "settle"),
		settleClaim: newOOMScript(r, "settle_claim"),
		backlog:     newOOMScript(r, "backlog"),
		press:       loadScript("press"),
		edit:        loadScript("edit"),
		del:         loadScript("delete"),
	}
	q.enqueueBatch = newBatcher(enqueueBatchesRunning, enqueueBatchItems, q.runEnqueue)
	return q
}

// Pause stops every sender of every replica for at least d (after a 429);
// see [RedisLimiter.Pause].
func (q *RedisQueue) Pause(ctx context.Context, d time.Duration) error { return q.lim.Pause(ctx, d) }

// Acquire takes a slot of the named limit in the budget the claims reserve
// in; see [RedisLimiter.Acquire].
func (q *RedisQueue) Acquire(ctx context.Context, name string, rate float64, burst int, maxWait time.Duration) (wait, paused time.Duration, err error) {
	return q.lim.Acquire(ctx, name, rate, burst, maxWait)
}

// UnlinkBlocked removes userID's link while it points at chatID (the chat
// answered 403) and appends USER_UNLINKED reason "blocked"; nil, changing
// nothing, when it does not.
func (q *RedisQueue) UnlinkBlocked(ctx context.Context, userID string, chatID int64) error {
	if err := q.owner.UnlinkFromChat(ctx, userID, chatID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Enqueue atomically stores n (State QUEUED) at the tail of its chat's
// backlog, schedules the chat unless it is scheduled or leased, remembers
// the idempotency key and counts it in the user's summary. When the key was
// used before, nothing is written and the earlier notification is returned
// with duplicate true (only ID is set when its record expired).
func (q *RedisQueue) Enqueue(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	return q.enqueueNotification(ctx, n, opts, false)
}

// EnqueueLinked is Enqueue to the chat n.UserID is linked to in the links
// of the queue's store, read in the same atomic step (n.ChatID is
// ignored; the returned notification carries the chat). When the user is
// not linked nothing is written and the error wraps delivery.ErrNotLinked
// and ErrNotFound.
func (q *RedisQueue) EnqueueLinked(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions) (delivery.Notification, bool, error) {
	return q.enqueueNotification(ctx, n, opts, true)
}

// enqueueItem is one notification of an enqueue batch: its keys (idem,
// record, backlog, summary) and arguments, as store/lua/enqueue.lua takes them.
type enqueueItem struct {
	keys [4]string
	args []any
}

// Enqueue batches: concurrent Notify calls share one script run. Two
// batches may run at once, so that one is built and answered while Redis
// runs the other.
const (
	enqueueBatchesRunning = 2
	enqueueBatchItems     = 64
)

// runEnqueue runs store/lua/enqueue.lua for items and returns each one's reply.
func (q *RedisQueue) runEnqueue(ctx context.Context, items []enqueueItem) ([]any, error) {
	keys := make([]string, 0, 3+4*len(items))
	keys = append(keys, q.schedKey(), q.leaseKey(), q.pendingKey())
	n := 1
	for _, it := range items {
		n += len(it.args)
	}
	args := make([]any, 0, n)
	args = append(args, q.prefix)
	for _, it := range items {
		keys = append(keys, it.keys[:]...)
		args = append(args, it.args...)
	}
	var cmd *redis.Cmd
	var waitErr error
	if q.owner.waitReplicas > 0 {
		cmd, waitErr = q.owner.evalWait(ctx, "enqueue", q.enqueue, keys, args...)
	} else {
		cmd = q.enqueue.Run(ctx, q.client, keys, args...)
	}
	res, err := cmd.Slice()
	if err != nil {
		return nil, unavailable("enqueue", err)
	}
	if len(res) != len(items) {
		return nil, unavailable("enqueue", fmt.Errorf("%d replies for %d notifications", len(res), len(items)))
	}
	if waitErr != nil { // the accepted ones are not acknowledged (wait_redis.go)
		for i, r := range res {
			if rr, _ := r.([]any); len(rr) > 0 && rr[0] == int64(1) {
				res[i] = waitErr
			}
		}
	}
	return res, nil
}

func (q *RedisQueue) enqueueNotification(ctx context.Context, n delivery.Notification, opts delivery.EnqueueOptions, linked bool) (delivery.Notification, bool, error) {
	parts, err := json.Marshal(n.Parts)
	if err != nil {
		return delivery.Notification{}, false, fmt.Errorf("store: enqueue: encode parts: %w", err)
	}
	n = n.Clone()
	n.State = delivery.StateQueued
	n.UpdatedAt = n.CreatedAt
	created := strconv.FormatInt(n.CreatedAt.UnixMilli(), 10)
	// Without an idempotency key, the idem key is a placeholder that is
	// never touched, in the prefix's hash slot: Redis Cluster rejects a
	// script whose keys are in different slots ("" has a slot of its own).
	idem, idemTTL := idemPlaceholderKey(q.prefix), any("")
	if n.IdempotencyKey != "" {
		idem, idemTTL = q.idemKey(n.UserID, n.IdempotencyKey), ttlMillis(opts.IdempotencyTTL)
	}
	// With linked, the chat is read by the script and the backlog key
	// derived there; the backlog key is then a placeholder in the
	// prefix's slot.
	chat, backlog := strconv.FormatInt(n.ChatID, 10), ""
	if linked {
		chat, backlog = "", backlogPlaceholderKey(q.prefix)
	} else {
		backlog = q.backlogKey(n.ChatID)
	}
	n.TextLen, n.TextSHA256 = textDigest(n.Parts)
	fields, kind := enqueueFields(n, string(parts), created)
	args := append([]any{n.ID, chat, created, idemTTL, ttlMillis(opts.Retention), n.UserID, kind, len(fields)}, fields...)
	args = append(args, max(opts.MaxUserBacklog, 0), max(opts.MaxQueued, 0))
	item := enqueueItem{keys: [4]string{idem, q.recordKey(n.ID), backlog, q.summaryKey(n.UserID)}, args: args}
	reply, err := q.enqueueBatch.do(ctx, item)
	if err == nil {
		err, _ = reply.(error) // not acknowledged by enough replicas
	}
	if err != nil {
		return delivery.Notification{}, false, err
	}
	return q.enqueueReply(ctx, n, reply, linked, opts)
}

// enqueueFields returns the new record's hash fields (fields at their zero
// value are left out, see the record's fields) and the backlog entry's kind
// ("r" for the bot's own replies).
func enqueueFields(n delivery.Notification, parts, created string) (fields []any, kind string) {
	fields = make([]any, 0, 32)
	fields = append(fields, "id", n.ID, "user_id", n.UserID, "parts", parts, "state", int(delivery.StateQueued),
		"created_at", created)
	if len(n.Parts) != 1 {
		fields = append(fields, "nparts", len(n.Parts))
	}
	if n.ParseMode != "" {
		fields = append(fields, "parse_mode", n.ParseMode)
	}
	if n.DisableNotification {
		fields = append(fields, "disable_notification", boolStr(true))
	}
	if n.PlainTextFallback {
		fields = append(fields, "plain_text_fallback", boolStr(true))
	}
	if n.IdempotencyKey != "" {
		fields = append(fields, "idem_key", n.IdempotencyKey)
	}
	if n.Degraded != "" {
		fields = append(fields, "degraded", n.Degraded)
	}
	if n.DisableLinkPreview {
		fields = append(fields, "disable_link_preview", boolStr(true))
	}
	if n.ProtectContent {
		fields = append(fields, "protect_content", boolStr(true))
	}
	if n.ReplyToID != "" {
		fields = append(fields, "reply_to", n.ReplyToID)
	}
	if n.Media.Kind != delivery.MediaNone {
		fields = append(fields, "media_kind", int(n.Media.Kind), "media_url", n.Media.URL, "media_file", n.Media.FileID)
	}
	if len(n.Buttons) > 0 {
		kb, _ := json.Marshal(n.Buttons) // strings only: cannot fail
		fields = append(fields, "buttons", string(kb))
	}
	if n.CallbackAnswer != "" {
		fields = append(fields, "callback_answer", n.CallbackAnswer)
	}
	if n.TopicID != 0 {
		fields = append(fields, "topic_id", n.TopicID)
	}
	if n.NoTopicFallback {
		fields = append(fields, "no_topic_fallback", boolStr(true))
	}
	if n.Reply {
		fields = append(fields, "reply", boolStr(true))
		kind = "r"
	}
	return append(fields, "text_len", n.TextLen, "text_sha256", n.TextSHA256), kind
}

// enqueueReply interprets the enqueue script's reply for n: the queued
// notification, or the earlier one with the same idempotency key (dup), or
// the error the script reported.
func (q *RedisQueue) enqueueReply(ctx context.Context, n delivery.Notification, reply any, linked bool, opts delivery.EnqueueOptions) (_ delivery.Notification, dup bool, err error) {
	res, _ := reply.([]any)
	code := int64(-1)
	if len(res) > 0 {
		code, _ = res[0].(int64)
	}
	switch {
	case code == 1 && len(res) == 3:
		if linked {
			s, _ := res[2].(string)
			if n.ChatID, err = strconv.ParseInt(s, 10, 64); err != nil || n.ChatID == 0 {
				return delivery.Notification{}, false, unavailable("enqueue", fmt.Errorf("unexpected linked chat %q", s))
			}
		}
		return n, false, nil
	case code == 2 && linked:
		return delivery.Notification{}, false, fmt.Errorf("store: link of user %q: %w: %w", n.UserID, delivery.ErrNotLinked, ErrNotFound)
	case code == 3 && len(res) == 2:
		return delivery.Notification{}, false, unavailable("enqueue", fmt.Errorf("%v", res[1]))
	case code == 4 && len(res) == 2:
		return delivery.Notification{}, false, limitError(n.UserID, res[1], opts)
	case code != 0 || len(res) != 2:
		return delivery.Notification{}, false, unavailable("enqueue", fmt.Errorf("unexpected script reply %v", res))
	}
	id, _ := res[1].(string)
	prev, err := q.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return delivery.Notification{ID: id}, true, nil
	}
	if err != nil {
		return delivery.Notification{}, false, err
	}
	return prev, true, nil
}

// newToken returns a random fencing token.
func newToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("store: random token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// claimArgs returns the claim function's arguments after the prefix and
// now: lease ms, token, retention ms, then the limit's.
func (q *RedisQueue) claimArgs(tok string, opts delivery.ClaimOptions) ([]any, error) {
	args := []any{ttlMillis(opts.Lease), tok, ttlMillis(opts.Retention)}
	if opts.Limit.Rate <= 0 {
		return append(args, "", "", 0, 0, 0, -1), nil
	}
	T, tau, err := gcraParams(opts.Limit.Rate, opts.Limit.Burst)
	if err != nil {
		return nil, err
	}
	maxWait := int64(-1)
	if opts.MaxWait > 0 {
		maxWait = opts.MaxWait.Microseconds()
	}
	return append(args, limitKey(q.prefix, opts.Limit.Name), pauseKey(q.prefix), T, tau, opts.MaxAge.Milliseconds(),
		maxWait), nil
}

// Claim first returns chats whose lease expired before now to the schedule
// (the visibility timeout), then leases the due chat with the earliest
// schedule time for opts.Lease and marks its head notification SENDING.
// ok is false when no chat is due, or when opts.Limit is given and the
// global pause is in force (then the returned Claim's Paused says for how
// long). The claim reports the user's link as read in the same step
// (LinkedChat) and, with opts.Limit, the slot reserved (Reserved, Wait).
func (q *RedisQueue) Claim(ctx context.Context, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	tok, err := newToken()
	if err != nil {
		return delivery.Claim{}, false, err
	}
	rest, err := q.claimArgs(tok, opts)
	if err != nil {
		return delivery.Claim{}, false, fmt.Errorf("store: claim: %w", err)
	}
	args := append([]any{q.prefix, now.UnixMilli()}, rest...)
	res, err := q.claim.Run(ctx, q.client, []string{q.schedKey(), q.leaseKey(), q.leaseTokKey(), q.pendingKey()},
		args...).StringSlice()
	if errors.Is(err, redis.Nil) {
		return delivery.Claim{}, false, nil
	}
	if err != nil {
		return delivery.Claim{}, false, unavailable("claim", err)
	}
	c, ok, err := parseClaim(res, tok, now, opts.Lease)
	if err != nil {
		return delivery.Claim{}, false, unavailable("claim", err)
	}
	return c, ok, nil
}

// parseClaim decodes the claim function's reply: {'p', pause ms}, {'r',
// throttle µs} or {chat, linked chat or empty, wait µs or empty, record field/value
// pairs...}.
func parseClaim(res []string, tok string, now time.Time, lease time.Duration) (delivery.Claim, bool, error) {
	if len(res) == 2 && res[0] == "p" {
		ms, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt pause: %w", err)
		}
		return delivery.Claim{Paused: time.Duration(ms) * time.Millisecond}, false, nil
	}
	if len(res) == 2 && res[0] == "r" {
		us, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt throttle: %w", err)
		}
		return delivery.Claim{Throttled: max(time.Duration(us)*time.Microsecond, time.Microsecond)}, false, nil
	}
	if len(res) < 3 || len(res)%2 != 1 {
		return delivery.Claim{}, false, fmt.Errorf("unexpected script reply of %d items", len(res))
	}
	c := delivery.Claim{Token: tok, LeaseUntil: now.Add(time.Duration(ttlMillis(lease)) * time.Millisecond)}
	var err error
	if c.ChatID, err = strconv.ParseInt(res[0], 10, 64); err != nil {
		return delivery.Claim{}, false, fmt.Errorf("corrupt chat id: %w", err)
	}
	if res[1] != "" {
		if c.LinkedChat, err = strconv.ParseInt(res[1], 10, 64); err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt linked chat id: %w", err)
		}
	}
	if res[2] != "" {
		us, err := strconv.ParseInt(res[2], 10, 64)
		if err != nil {
			return delivery.Claim{}, false, fmt.Errorf("corrupt reservation: %w", err)
		}
		c.Reserved, c.Wait = true, time.Duration(us)*time.Microsecond
	}
	fields := make(map[string]string, len(res)/2)
	for i := 3; i+1 < len(res); i += 2 {
		fields[res[i]] = res[i+1]
	}
	if c.Notification, err = parseRecord(fields); err != nil {
		return delivery.Claim{}, false, err
	}
	return c, true, nil
}

// parseRecord decodes a record hash.
func parseRecord(f map[string]string) (delivery.Notification, error) {
	num := func(k string) int64 {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		return v
	}
	n := delivery.Notification{
		ID:                  f["id"],
		UserID:              f["user_id"],
		ChatID:              num("chat_id"),
		ParseMode:           f["parse_mode"],
		DisableNotification: f["disable_notification"] == "1",
		PlainTextFallback:   f["plain_text_fallback"] == "1",
		DisableLinkPreview:  f["disable_link_preview"] == "1",
		ProtectContent:      f["protect_content"] == "1",
		ReplyToID:           f["reply_to"],
		Reply:               f["reply"] == "1",
		Broadcast:           f["bc"],
		PaidBroadcast:       f["paid"] == "1",
		IdempotencyKey:      f["idem_key"],
		State:               delivery.NotificationState(num("state")),
		Attempts:            int(num("attempts")),
		Retries:             int(num("retries")),
		NextPart:            int(num("next_part")),
		LastError:           f["last_error"],
		FailureReason:       f["failure_reason"],
		Degraded:            f["degraded"],
		Media: delivery.Media{Kind: delivery.MediaKind(num("media_kind")), URL: f["media_url"],
			FileID: f["media_file"]},
		MediaFileID:     f["media_file_id"],
		CallbackAnswer:  f["callback_answer"],
		TopicID:         num("topic_id"),
		NoTopicFallback: f["no_topic_fallback"] == "1",
		Changes:         parseChanges(f),
		CreatedAt:       time.UnixMilli(num("created_at")),
		UpdatedAt:       time.UnixMilli(num("created_at")),
	}
	if _, ok := f["updated_at"]; ok {
		n.UpdatedAt = time.UnixMilli(num("updated_at"))
	}
	if n.ID == "" {
		return delivery.Notification{}, errors.New("corrupt record: no id")
	}
	if err := parseParts(&n, f); err != nil {
		return delivery.Notification{}, err
	}
	if kb := f["buttons"]; kb != "" {
		if err := json.Unmarshal([]byte(kb), &n.Buttons); err != nil {
			return delivery.Notification{}, fmt.Errorf("corrupt record %s: buttons: %w", n.ID, err)
		}
	}
	if err := parsePresses(&n, f["presses"]); err != nil {
		return delivery.Notification{}, err
	}
	if ids := f["message_ids"]; ids != "" {
		for _, s := range strings.Split(ids, ",") {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return delivery.Notification{}, fmt.Errorf("corrupt record %s: message ids: %w", n.ID, err)
			}
			n.MessageIDs = append(n.MessageIDs, v)
		}
	}
	return n, nil
}

// outcomeName is the settle script's name of kind.
func outcomeName(kind delivery.OutcomeKind) (string, bool) {
	switch kind {
	case delivery.OutcomePartSent:
		return "sent", true
	case delivery.OutcomeRetry:
		return "retry", true
	case delivery.OutcomeFail:
		return "fail", true
	case delivery.OutcomeRelease:
		return "release", true
	case delivery.OutcomeOp:
		return "op", true
	}
	return "", false
}

// settleArgs returns the keys and arguments of the settle function.
func (q *RedisQueue) settleArgs(c delivery.Claim, o delivery.Outcome, now time.Time, retention time.Duration) ([]string, []any, error) {
	kind, ok := outcomeName(o.Kind)
	if !ok {
		return nil, nil, fmt.Errorf("store: settle: unknown outcome kind %d", o.Kind)
	}
	keys := []string{q.recordKey(c.Notification.ID), q.backlogKey(c.ChatID), q.schedKey(), q.leaseKey(),
		q.leaseTokKey(), q.pendingKey(), q.owner.eventsKey()}
	args := []any{q.prefix, strconv.FormatInt(c.ChatID, 10), c.Token, c.Notification.ID,
		now.UnixMilli(), kind, ttlMillis(retention), o.NextAt.UnixMilli(), o.MessageID, o.Attempts, o.Retries,
		o.LastError, o.Reason}
	return keys, args, nil
}

// settleTail returns the settle function's last arguments (settle.lua's
// ARGV[18..21]): the claim's revision and the operation's outcome.
func settleTail(c delivery.Claim, o delivery.Outcome) []any {
	return []any{c.Notification.Rev(), o.Op.Op, string(o.Op.Result), o.Op.Error}
}

// Settle applies o to the claimed notification, releases the lease and
// reschedules the chat at o.NextAt if its backlog is not empty, atomically;
// a notification (not a reply) that becomes SENT or FAILED appends
// NOTIFICATION_SENT or NOTIFICATION_FAILED in the same step (a failure
// "not_linked" of a user UnlinkUser unlinked is recorded "unlinked").
// It fails with ErrLeaseLost (changing nothing) when c's lease was taken
// over.
func (q *RedisQueue) Settle(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, retention time.Duration) error {
	keys, args, err := q.settleArgs(c, o, now, retention)
	if err != nil {
		return err
	}
	args = append(append(args, q.owner.evArgs()...), o.Degraded, o.MediaFileID)
	n, err := q.settle.Run(ctx, q.client, keys, append(args, settleTail(c, o)...)...).Int()
	if err != nil {
		return unavailable("settle", err)
	}
	if n == 0 {
		return fmt.Errorf("store: settle chat %d: %w", c.ChatID, delivery.ErrLeaseLost)
	}
	return nil
}

// SettleAndClaim settles c like Settle and then, in the same atomic step,
// claims the next due chat like Claim (at now, with opts). It fails with
// ErrLeaseLost, changing and claiming nothing, when c's lease was taken
// over; ok is false when it settled and claimed nothing (nothing due, or
// paused: see Claim). When it fails with ErrUnavailable the outcome may or
// may not have been recorded.
func (q *RedisQueue) SettleAndClaim(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	keys, args, err := q.settleArgs(c, o, now, opts.Retention)
	if err != nil {
		return delivery.Claim{}, false, err
	}
	tok, err := newToken()
	if err != nil {
		return delivery.Claim{}, false, err
	}
	rest, err := q.claimArgs(tok, opts)
	if err != nil {
		return delivery.Claim{}, false, fmt.Errorf("store: settle and claim: %w", err)
	}
	args = append(append(append(args, rest...), q.owner.evArgs()...), o.Degraded, o.MediaFileID)
	args = append(args, settleTail(c, o)...)
	res, err := q.settleClaim.Run(ctx, q.client, keys, args...).StringSlice()
	if err != nil {
		return delivery.Claim{}, false, unavailable("settle and claim", err)
	}
	switch {
	case len(res) == 0:
		return delivery.Claim{}, false, unavailable("settle and claim", errors.New("empty script reply"))
	case res[0] == "0":
		return delivery.Claim{}, false, fmt.Errorf("store: settle chat %d: %w", c.ChatID, delivery.ErrLeaseLost)
	case len(res) == 1:
		return delivery.Claim{}, false, nil
	}
	next, ok, err := parseClaim(res[1:], tok, now, opts.Lease)
	if err != nil {
		// The outcome is recorded; only the next claim is unreadable (its
		// lease expires and another worker takes it over).
		return delivery.Claim{}, false, nil
	}
	return next, ok, nil
}

// Migrate atomically moves the claimed chat's links, whole backlog (in
// order, in front of newChat's backlog; the records' chat id set) and
// pacing to newChat, releases the lease and schedules newChat (see
// migrate_redis.go). The lease may have followed an earlier migration of
// the chat to newChat. It fails with ErrLeaseLost, changing nothing, when
// the lease was taken over.
func (q *RedisQueue) Migrate(ctx context.Context, c delivery.Claim, newChat int64, now time.Time) error {
	_, err := q.owner.migrateChat(ctx, c.ChatID, newChat, c.Token, now)
	return err
}

// NextDue returns the earliest time a chat becomes due (a schedule time or
// a lease expiry); ok is false when nothing is scheduled or leased.
func (q *RedisQueue) NextDue(ctx context.Context) (time.Time, bool, error) {
	pipe := q.client.Pipeline()
	s := pipe.ZRangeWithScores(ctx, q.schedKey(), 0, 0)
	l := pipe.ZRangeWithScores(ctx, q.leaseKey(), 0, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return time.Time{}, false, unavailable("next due", err)
	}
	var best time.Time
	found := false
	for _, z := range append(s.Val(), l.Val()...) {
		at := time.UnixMilli(int64(z.Score))
		if !found || at.Before(best) {
			best, found = at, true
		}
	}
	return best, found, nil
}

// Backlog returns the number of notifications QUEUED or SENDING across all
// chats and the CreatedAt of the oldest of them (zero when none), in
// O(log n).
func (q *RedisQueue) Backlog(ctx context.Context) (int64, time.Time, error) {
	res, err := q.backlog.Run(ctx, q.client, []string{q.pendingKey()}, q.prefix).StringSlice()
	if err != nil {
		return 0, time.Time{}, unavailable("backlog", err)
	}
	if len(res) != 2 {
		return 0, time.Time{}, unavailable("backlog", fmt.Errorf("unexpected script reply %q", res))
	}
	depth, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil {
		return 0, time.Time{}, unavailable("backlog", fmt.Errorf("corrupt count: %w", err))
	}
	if depth == 0 || res[1] == "" {
		return depth, time.Time{}, nil
	}
	ms, err := strconv.ParseFloat(res[1], 64)
	if err != nil {
		return 0, time.Time{}, unavailable("backlog", fmt.Errorf("corrupt score: %w", err))
	}
	return depth, time.UnixMilli(int64(ms)), nil
}

// Get returns the notification id or ErrNotFound.
func (q *RedisQueue) Get(ctx context.Context, id string) (delivery.Notification, error) {
	f, err := q.client.HGetAll(ctx, q.recordKey(id)).Result()
	if err != nil {
		return delivery.Notification{}, unavailable("get notification", err)
	}
	if len(f) == 0 {
		return delivery.Notification{}, fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	}
	n, err := parseRecord(f)
	if err != nil {
		return delivery.Notification{}, unavailable("get notification", err)
	}
	return n, nil
}

// Summary returns the user's delivery summary (zero when none).
func (q *RedisQueue) Summary(ctx context.Context, userID string) (delivery.UserSummary, error) {
	v, err := q.client.HMGet(ctx, q.summaryKey(userID), "queued", "sent", "failed", "last").Result()
	if err != nil {
		return delivery.UserSummary{}, unavailable("summary", err)
	}
	str := func(x any) string { s, _ := x.(string); return s }
	num := func(x any) int64 { n, _ := strconv.ParseInt(str(x), 10, 64); return n }
	s := delivery.UserSummary{Queued: max(num(v[0]), 0), Sent: num(v[1]), Failed: num(v[2]), LastID: str(v[3])}
	if s.LastID == "" {
		return s, nil
	}
	r, err := q.client.HMGet(ctx, q.recordKey(s.LastID), "state", "updated_at", "last_error", "created_at").Result()
	if err != nil {
		return delivery.UserSummary{}, unavailable("summary", err)
	}
	if r[0] != nil {
		s.LastState = delivery.NotificationState(num(r[0]))
		updated := r[1]
		if updated == nil { // never changed since enqueue
			updated = r[3]
		}
		s.LastUpdatedAt = time.UnixMilli(num(updated))
		s.LastError = str(r[2])
	}
	return s, nil
}

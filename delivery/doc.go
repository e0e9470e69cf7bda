// Package delivery is tgnotify's reliable delivery engine: a durable,
// asynchronous notification queue with Telegram's rate limits enforced
// before Telegram enforces them, retries, idempotency, long-text splitting
// and delivery status.
//
//	q := st.Queue() // st is a *store.Redis or a *store.Memory: links, queue and limit in one state
//	d := delivery.New(delivery.DefaultConfig(), q, tgClient, logger)
//	go d.Run(ctx) // workers; on ctx end they drain within Config.DrainTimeout
//	n, dup, err := d.Enqueue(ctx, delivery.Request{UserID: "u1", ChatID: chat, Text: "hi", IdempotencyKey: "k1"})
//	n, err = d.Get(ctx, n.ID)
//
// # Data model
//
// Each chat has a FIFO backlog of notification ids; a schedule (sorted set
// chat → "may send at") lists the chats with work that are not being worked
// on; a lease set (chat → expiry) plus a lease-token hash lists the chats a
// worker holds. Records live in their own hash with a retention TTL. The
// Redis layout is documented in store/queue_redis.go; every operation is one
// Lua script, hence atomic, and store.MemoryQueue gives the same semantics
// in process. The model ([Notification], [Claim], [Outcome]) and the
// interface the queues implement ([Queue]) are declared here, in model.go
// and queue.go; the store package imports them. asynq and similar queues were not used: they have no per-key
// ordering.
//
// Enqueue writes, in one script: the record, the backlog entry, the chat in
// the schedule (score now, unless it is scheduled or leased already), the
// idempotency key and the user's summary counters. Notify can therefore
// answer QUEUED only when everything is durable; when Redis is down the
// script fails and Enqueue returns an error wrapping ErrUnavailable.
//
// Claim first returns chats whose lease expired to the schedule (the
// visibility timeout: the work of a dead worker is taken over after
// Config.LeaseTimeout), then leases the due chat with the earliest time and
// marks its head SENDING. The lease carries a random token; every settle
// checks it, so a late worker whose lease was taken over cannot record
// anything (fencing) and its outcome is dropped.
//
// One send costs one store round trip besides the sendMessage call:
// recording an outcome claims the worker's next chat in the same script
// (SettleAndClaim), and that claim also reads the user's link and
// reserves the global rate slot (below), with either backend. Enqueue also adds the id to a
// pending set (id → created_at) that the final settle removes, so
// [Dispatcher.Backlog] answers the queue depth and the oldest notification's
// age in O(log n) for the gauges.
//
// # Ordering and per-chat limits without head-of-line blocking
//
// Only the head of a chat's backlog is ever worked on and a chat is held by
// at most one worker, so messages to one chat leave in the order they were
// accepted (a retry keeps its place at the head). The per-chat limit is not
// a wait inside a worker: settling a sent part reschedules the chat at
// now + PrivateChatInterval (1 s) or GroupChatInterval (3 s, 20/min; chat
// ids < 0), and the worker moves on to whichever chat is due next. A busy
// chat therefore never holds up the others.
//
// # Global limit and 429
//
// Before every sendMessage the worker reserves a slot from a GCRA limiter in
// Redis (Lua using the Redis server's clock, so all replicas share one
// budget: Config.GlobalRate per second, Config.GlobalBurst at once). The
// claim reserves it, only for a notification that will be sent (linked
// user, younger than MaxAge); for a plain-text resend, or a slot gone
// stale, the worker calls the queue's [Limiter]. The limiter returns "not before T" and the worker waits on a
// context-aware timer. A 429 sets a global pause key with PX =
// retry_after; claims and reservations made while it lasts return the
// pause instead (a worker already holding a claim hands it back), every
// worker of the process then sleeps until it ends, the chat is
// rescheduled after retry_after, and 429s do not count as attempts (the
// notification is still bounded by MaxAge).
//
// # Errors
//
//   - 5xx, network errors, timeouts, and answers that are not Telegram's
//     JSON (a proxy's HTML 403/404/407/408/502 page, an empty body:
//     telegram.HTTPError): retried with exponential backoff
//     (MinBackoff ×2 per retry, jitter in [d/2, d], capped at MaxBackoff) up
//     to MaxAttempts retries, then FAILED "max_attempts"; FAILED "expired"
//     once older than MaxAge.
//   - Telegram's JSON 401 (token revoked) or 404 (wrong base URL):
//     telegram.IsAuthFailure. Nothing is failed or unlinked and the retry
//     does not count against MaxAttempts: every send of this process pauses
//     (1 s, doubling to 30 s, with jitter), [Dispatcher.AuthFailure] reports
//     it and the [Observer] is told (AuthFailed), until a send succeeds again.
//   - Telegram's JSON 403 (blocked, user deactivated, kicked): FAILED "blocked" and the user
//     is unlinked; their other queued notifications then fail "not_linked"
//     without calling Telegram.
//   - 400 chat not found: FAILED "chat_not_found"; message is too long:
//     "too_long"; can't parse entities: resent once without parse_mode and
//     with the markup stripped ([StripMarkup]) when the request asked for
//     PlainTextFallback, the record then Degraded "parse_entities"; else
//     FAILED "parse_entities" with Telegram's description. Other 4xx:
//     FAILED "rejected". [Expand] fills a text's {{name}} placeholders with
//     values escaped for its parse mode, so values cannot cause the error.
//   - 400 with migrate_to_chat_id: the links and the chat's whole backlog
//     move atomically to the supergroup (Queue.Migrate), in front of the
//     new chat's backlog, and the head is resent there.
//   - Before each send the user's link is checked (read by the claim):
//     unlinked, or linked to another chat now, fails "not_linked" without
//     calling Telegram.
//
// # Ambiguous sends and crash safety
//
// The Bot API has no idempotency key, so a send that timed out or whose
// connection broke after the request was written may have been delivered.
// Policy: retry (at-least-once; a rare duplicate beats a lost message). Such
// sends are reported to Observer.Ambiguous. Likewise after kill -9 the chats the
// dead process held are taken over after LeaseTimeout and their heads
// resent: duplicates are limited to messages in flight at the crash (at most
// Workers per process). Nothing accepted is lost as long as Redis keeps its
// data (use appendonly with fsync).
//
// Run drains on context end: workers stop claiming, in-flight sends get
// Config.DrainTimeout to finish and be recorded; sends cut by the deadline
// are released (the lease is handed back at once rather than waiting for
// expiry) so another replica or the next start resends them.
//
// When Redis is down, Enqueue fails with an error wrapping ErrUnavailable, workers back
// off (50 ms doubling to 2 s, jittered) and resume by themselves; an outcome
// that cannot be recorded is retried until the lease would expire, after
// which the notification is sent again (another at-least-once case).
//
// # Idempotency
//
// The key <user, idempotency_key> is written in the same script as the
// record (SET only if it does not exist, checked first), so concurrent
// duplicates return the same notification id and only one is queued. Keys
// are kept Config.IdempotencyTTL (default 25 h, at least 24 h and MaxAge).
//
// # Long text
//
// [Split] cuts text longer than 4096 UTF-16 code units (after entity
// parsing) at paragraph, line or word boundaries, never inside a surrogate
// pair, an escape, an HTML tag or entity; HTML elements are closed and
// reopened across a cut; Markdown is cut only outside entities. All parts
// are stored in the record and sent in order, each one spaced by the
// per-chat interval; GetNotification reports their message ids. With
// LongTextReject, Enqueue returns ErrTooLong instead.
//
// # Status
//
// [Dispatcher.SetObserver] reports delivery events as they happen (the
// metrics feed on them; tests record them).
//
// # Deciding and recording
//
// A worker's round (worker.go) takes a claim (from the last settle, or a
// fresh Claim), checks it (sendable), waits for its slot (waitToSend) and
// sends. A pure function, classify (decide.go), turns the answer into a
// decision (sent, plain-text fallback, auth pause, 429, migrate, fail with
// a reason, retry, release); record (record.go) is the one place that
// carries it out: the pause, the unlink after a 403, the migration, and the
// outcome settled. The global pause and the saturated limit reach the
// workers by one route, the sendGate (gate.go), whatever their source (a
// 429, an auth failure, another replica's pause seen by a claim or an
// Acquire).
//
// Records hold state (QUEUED, SENDING, SENT, FAILED, CANCELLED), attempts (sendMessage
// calls), retries, last error, failure reason, message ids and times; they
// expire Config.Retention after their last change. A per-user summary hash
// counts queued (QUEUED or SENDING), sent and failed notifications and
// remembers the last one; its counts cover the summary's lifetime (it
// expires Retention after the user's last change).
//
// # Edits and deletions
//
// [Dispatcher.Edit] and [Dispatcher.Delete] (edit.go) change a notification
// after Notify: before it is sent an edit replaces what will be sent and a
// delete makes it CANCELLED (never sent); once sent, the edit or delete of
// its message is a pending operation on the record whose id goes through
// the chat's backlog again, claimed and rate limited like a send and
// carried out by edit_worker.go (editMessageText / editMessageCaption /
// editMessageReplyMarkup / deleteMessages). CANCELLED counts as neither
// sent nor failed and emits no event. Operations skip the link check and
// MaxAge (the message is there, whoever is linked now).
//
// Clocks: schedule and lease times come from the replicas' clocks (keep
// them NTP-synchronised); the global limiter and the pause use Redis's.
package delivery

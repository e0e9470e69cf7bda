package delivery

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

// Outcomes given to [Observer.Reply].
const (
	ReplyQueued     = "queued"
	ReplySuppressed = "suppressed"
	ReplySent       = "sent"
	ReplyFailed     = "failed"
)

// Reply is a message of the bot's own to one chat: the welcome after a
// link, the answers to /start and /stop.
type Reply struct {
	// ChatID is the chat it answers.
	ChatID int64
	// Text is plain text.
	Text string
	// Once, when not empty, names the reply so that the same reply goes to
	// the chat at most once per the chat's interval: a chat that sends
	// /start junk ten times a second gets one answer, and cannot make the
	// bot exceed Telegram's per-chat limit (which would pause every send).
	Once string
}

// EnqueueReply queues r at the head of its chat's backlog (behind a
// notification whose first parts are sent already), so that it is sent by
// the workers like any notification: within the global limit and the
// chat's pacing, retried, its 429 pausing every send. Update handling thus
// never calls Telegram itself. Notifications the application sends after
// the call go out after the reply. queued is false when r.Once suppressed
// it.
func (d *Dispatcher) EnqueueReply(ctx context.Context, r Reply) (queued bool, err error) {
	switch {
	case r.ChatID == 0:
		return false, fmt.Errorf("%w: reply: chat id is zero", ErrInvalidRequest)
	case strings.TrimSpace(r.Text) == "":
		return false, fmt.Errorf("%w: reply: text is empty", ErrInvalidRequest)
	}
	parts, err := Split(r.Text, "", telegram.MaxMessageLen)
	if err != nil {
		return false, fmt.Errorf("delivery: reply: %w", err)
	}
	id, err := newID()
	if err != nil {
		return false, err
	}
	n := Notification{ID: id, ChatID: r.ChatID, Parts: parts, Reply: true, CreatedAt: d.now()}
	// Replies count against the global queued limit (a flood of updates
	// cannot grow the queue without bound) but not a user's backlog.
	opts := EnqueueOptions{Retention: d.cfg.Retention, IdempotencyTTL: time.Millisecond, MaxQueued: d.cfg.MaxQueued}
	if r.Once != "" {
		n.IdempotencyKey = "reply:" + strconv.FormatInt(r.ChatID, 10) + ":" + r.Once
		opts.IdempotencyTTL = d.chatInterval(r.ChatID)
	}
	if _, dup, err := d.q.Enqueue(ctx, n, opts); err != nil {
		return false, fmt.Errorf("delivery: enqueue reply: %w", err)
	} else if dup {
		d.observer().Reply(ReplySuppressed)
		return false, nil
	}
	d.observer().Reply(ReplyQueued)
	d.signal()
	return true, nil
}

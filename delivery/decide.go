package delivery

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

// verdict is what the answer to one send decides.
type verdict int

// Verdicts.
const (
	// verdictSent: Telegram accepted the part.
	verdictSent verdict = iota + 1
	// verdictFallback: resend the part as plain text (can't parse
	// entities, and the request allows it).
	verdictFallback
	// verdictAuthPause: Telegram rejects the bot itself; pause every send
	// and retry, failing nothing.
	verdictAuthPause
	// verdictRateLimited: 429; pause every send for RetryAfter and retry.
	verdictRateLimited
	// verdictMigrate: the group became the supergroup NewChat; move there.
	verdictMigrate
	// verdictFail: FAILED with Reason (and, with Unlink, the user's link
	// to the chat removed).
	verdictFail
	// verdictRetry: a temporary failure; retry with backoff (bounded by
	// MaxAttempts and MaxAge).
	verdictRetry
	// verdictRelease: the drain deadline cut the send; give the work back
	// untouched.
	verdictRelease
	// verdictTopicFallback: the forum topic is gone or closed; resend the
	// part to the group's main chat with a note naming the topic.
	verdictTopicFallback
)

// sendResult is what classify looks at: the answer to one send and the
// circumstances it came in.
type sendResult struct {
	// Err is the send's error (nil: sent).
	Err error
	// CanFallback reports that the part has a parse mode and the request
	// asked for PlainTextFallback.
	CanFallback bool
	// Reply reports a bot reply (its chat is not unlinked on 403: the
	// my_chat_member update that comes with the block does that).
	Reply bool
	// Stopping reports that the worker's context ended (a send cancelled
	// by it is not a verdict on the message).
	Stopping bool
	// Cut reports that the drain deadline cut the send.
	Cut bool
	// FellBack reports that the send was the plain-text resend of a part
	// Telegram could not parse.
	FellBack bool
	// InTopic reports that the send named a forum topic
	// (message_thread_id); NoTopicFallback that the request forbids the
	// fallback to the group's main chat.
	InTopic, NoTopicFallback bool
	// TopicFellBack reports that the notification went to the group's
	// main chat instead of its topic (this send or an earlier part).
	TopicFellBack bool
}

// decision is classify's answer.
type decision struct {
	Verdict verdict
	// Reason is the failure reason (verdictFail).
	Reason string
	// Unlink removes the user's link to the chat (verdictFail, 403).
	Unlink bool
	// Desc is the error recorded as LastError: Telegram's description, or
	// the transport error.
	Desc string
	// RetryAfter is Telegram's retry_after (verdictRateLimited).
	RetryAfter time.Duration
	// NewChat is the supergroup (verdictMigrate).
	NewChat int64
	// Ambiguous reports that the failed send may nevertheless have
	// reached Telegram (a retry may cause a duplicate).
	Ambiguous bool
	// Degraded is recorded with a sent part (verdictSent after a
	// plain-text resend: DegradedParseEntities).
	Degraded string
}

// classify decides what follows a send. It is pure: the caller carries
// the decision out (record.go).
func classify(r sendResult) decision {
	err := r.Err
	if err == nil {
		if r.TopicFellBack {
			return decision{Verdict: verdictSent, Degraded: DegradedTopicFallback}
		}
		if r.FellBack {
			return decision{Verdict: verdictSent, Degraded: DegradedParseEntities}
		}
		return decision{Verdict: verdictSent}
	}
	dec := decision{Desc: err.Error()}
	var te *telegram.Error
	if errors.As(err, &te) {
		dec.Desc = te.Description
	}
	fail := func(reason string) decision {
		dec.Verdict, dec.Reason = verdictFail, reason
		return dec
	}
	retryAfter, limited := telegram.RetryAfter(err)
	newChat, migrated := telegram.MigratedTo(err)
	switch {
	case telegram.IsParseEntities(err) && r.CanFallback:
		dec.Verdict = verdictFallback
	case telegram.IsTopicGone(err) && r.InTopic && r.NoTopicFallback:
		return fail(ReasonTopicNotFound)
	case telegram.IsTopicGone(err) && r.InTopic:
		dec.Verdict = verdictTopicFallback
	case telegram.IsAuthFailure(err): // the bot is rejected, not the chat
		dec.Verdict = verdictAuthPause
	case limited:
		dec.Verdict, dec.RetryAfter = verdictRateLimited, retryAfter
	case migrated:
		dec.Verdict, dec.NewChat = verdictMigrate, newChat
	case telegram.IsBlocked(err):
		dec.Unlink = !r.Reply
		return fail(ReasonBlocked)
	case telegram.IsChatNotFound(err):
		return fail(ReasonChatNotFound)
	case telegram.IsParseEntities(err):
		return fail(ReasonParseEntities)
	case telegram.IsTooLong(err):
		return fail(ReasonTooLong)
	case telegram.IsBadMedia(err):
		return fail(ReasonBadMedia)
	case !telegram.IsTemporary(err) && !(errors.Is(err, context.Canceled) && r.Stopping):
		return fail(ReasonRejected)
	default:
		dec.Ambiguous = ambiguous(err)
		dec.Verdict = verdictRetry
		if r.Cut { // shutdown cut the send: give the work back untouched
			dec.Verdict = verdictRelease
		}
	}
	return dec
}

// ambiguous reports whether a failed send may nevertheless have reached
// Telegram: a timeout or a connection cut after the request was written.
func ambiguous(err error) bool {
	var te *telegram.Error
	if errors.As(err, &te) {
		return false
	}
	var he *telegram.HTTPError
	if errors.As(err, &he) { // a proxy's page: 502/504 may come after it forwarded the request
		return he.StatusCode == 502 || he.StatusCode == 504
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") {
		return false
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &ne) && ne.Timeout()) || strings.Contains(msg, "reset") || strings.Contains(msg, "timeout")
}

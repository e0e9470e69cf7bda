package telegram

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrMalformedResponse is wrapped by the errors of requests whose answer was
// not a Bot API response: not JSON, no "ok" field, or too large, whatever
// the HTTP status ([*HTTPError] wraps it). Such answers come from proxies,
// load balancers or firewalls in front of the Bot API and count as
// temporary.
var ErrMalformedResponse = errors.New("telegram: malformed response")

// Error is Telegram's own verdict on a request: the JSON answer
// {"ok":false,"error_code":N,"description":"...","parameters":{...}}. Only
// such an answer is an *Error; any other HTTP answer (an HTML error page, an
// empty body, JSON without the Bot API envelope) is an [*HTTPError], which
// says nothing about the chat or the message.
//
// Match errors with the predicates ([IsBlocked], [IsChatNotFound], ...) that
// look at Code plus a description substring: the exact descriptions are not a
// stable contract.
type Error struct {
	// Code is the error_code, for example 400, 403 or 429 (the HTTP status
	// when the answer has a description but no error_code).
	Code int
	// Description is the human-readable description, for example
	// "Forbidden: bot was blocked by the user".
	Description string
	// RetryAfter is parameters.retry_after: how long the bot must wait
	// before the next request after a 429.
	RetryAfter time.Duration
	// MigrateToChatID is parameters.migrate_to_chat_id: the supergroup the
	// target group was upgraded to.
	MigrateToChatID int64
	// Method is the Bot API method that failed, for example "sendMessage".
	// It is not part of Error().
	Method string
}

// Error returns "telegram: <code> <description>", for example
// "telegram: 403 Forbidden: bot was blocked by the user".
func (e *Error) Error() string {
	return fmt.Sprintf("telegram: %d %s", e.Code, e.Description)
}

func (e *Error) has(code int, substrings ...string) bool {
	if e == nil || e.Code != code {
		return false
	}
	if len(substrings) == 0 {
		return true
	}
	d := strings.ToLower(e.Description)
	for _, s := range substrings {
		if strings.Contains(d, s) {
			return true
		}
	}
	return false
}

// Blocked reports whether the bot can no longer write to the chat: any 403,
// such as "bot was blocked by the user", "user is deactivated", "bot was
// kicked from the group chat" or "bot can't initiate conversation with a
// user".
func (e *Error) Blocked() bool { return e.has(403) }

// Deactivated reports a 403 "user is deactivated": the account was deleted.
func (e *Error) Deactivated() bool { return e.has(403, "deactivated") }

// Temporary reports whether retrying the same request later may succeed:
// 429 and 5xx answers.
func (e *Error) Temporary() bool {
	return e != nil && (e.Code == 429 || e.Code >= 500)
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsBlocked reports whether err is a 403: the user blocked the bot, deleted
// their account, or the bot may not start the conversation. The chat should
// be unlinked rather than retried. See [Error.Blocked].
func IsBlocked(err error) bool { return asError(err).Blocked() }

// IsChatNotFound reports a 400 "chat not found": the chat id is unknown to
// the bot (the user never started it, or the id is wrong).
func IsChatNotFound(err error) bool { return asError(err).has(400, "chat not found") }

// IsParseEntities reports a 400 "can't parse entities": the MarkdownV2 or
// HTML markup of the text is invalid.
func IsParseEntities(err error) bool {
	return asError(err).has(400, "can't parse entities", "parse entities")
}

// IsTopicGone reports Telegram's 400 about a forum topic a send named
// (message_thread_id) that cannot take messages: "message thread not
// found" (deleted, or never existed) or "TOPIC_CLOSED".
func IsTopicGone(err error) bool {
	return asError(err).has(400, "message thread not found", "topic_closed")
}

// IsTooLong reports a 400 "message is too long": the text exceeds
// [MaxMessageLen] UTF-16 code units after entity parsing.
func IsTooLong(err error) bool { return asError(err).has(400, "too long") }

// IsBadMedia reports a 400 about a media file Telegram cannot use: "wrong
// file identifier/HTTP URL specified" or "failed to get HTTP URL content".
func IsBadMedia(err error) bool {
	return asError(err).has(400, "wrong file identifier", "failed to get http url content")
}

// IsConflict reports a 409: getUpdates while a webhook is set, or a second
// concurrent getUpdates with the same token.
func IsConflict(err error) bool { return asError(err).has(409) }

// IsUnauthorized reports a 401: the bot token is invalid or revoked.
func IsUnauthorized(err error) bool { return asError(err).has(401) }

// IsAuthFailure reports Telegram's answer that the bot itself is wrong, not
// the chat or the message: a 401 "Unauthorized" (the token is invalid or
// was revoked) or a 404 "Not Found" (Telegram's answer for a malformed token
// or an unknown method: the base URL or the token is wrong). Every request
// of the client fails the same way until the token or the base URL is
// fixed, so the caller should pause and retry later rather than fail or
// unlink anything. An HTML 401 or 404 page from a proxy is an [*HTTPError]
// and does not count.
func IsAuthFailure(err error) bool {
	e := asError(err)
	return e.has(401) || e.has(404)
}

// RetryAfter reports whether err is a 429 and, if so, how long the bot must
// wait. It uses parameters.retry_after, falls back to the number in a
// "retry after N" description and to one second when neither is present.
func RetryAfter(err error) (time.Duration, bool) {
	e := asError(err)
	if !e.has(429) {
		return 0, false
	}
	if e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	d := strings.ToLower(e.Description)
	if i := strings.Index(d, "retry after "); i >= 0 {
		f := strings.Fields(d[i+len("retry after "):])
		if len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
				return time.Duration(n) * time.Second, true
			}
		}
	}
	return time.Second, true
}

// MigratedTo reports whether err says the target group was upgraded to a
// supergroup, and returns the new chat id to use instead.
func MigratedTo(err error) (int64, bool) {
	e := asError(err)
	if e == nil || e.MigrateToChatID == 0 {
		return 0, false
	}
	return e.MigrateToChatID, true
}

// IsTemporary reports whether retrying the request later may succeed: 5xx
// and 429 answers, answers that are not Bot API responses ([*HTTPError],
// whatever their status: a proxy's HTML 403 is not Telegram's), timeouts
// and network errors. A
// cancelled context is not temporary. Note that a sendMessage that timed out
// may nevertheless have been delivered: the Bot API has no idempotency key.
func IsTemporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if e := asError(err); e != nil {
		return e.Temporary()
	}
	var he *HTTPError
	if errors.As(err, &he) || errors.Is(err, ErrMalformedResponse) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return true
	}
	var te *transportError
	return errors.As(err, &te)
}

// HTTPError is an HTTP answer that is not a Bot API response: an HTML error
// page from a proxy, load balancer or firewall in front of the Bot API (403,
// 404, 407, 408, 502, ...), an empty body, or JSON without the {"ok":...}
// envelope. It is a transport fault, not Telegram's verdict: [IsTemporary]
// holds, and the predicates on Telegram's answers ([IsBlocked],
// [IsChatNotFound], [IsAuthFailure], ...) never match it. It wraps
// [ErrMalformedResponse].
//
// The client reads at most a few hundred bytes of a body that cannot be a
// Bot API response and keeps a short, token-free excerpt of it.
type HTTPError struct {
	// Method is the Bot API method called, for example "sendMessage".
	Method string
	// StatusCode is the HTTP status, for example 403 or 502.
	StatusCode int
	// ContentType is the Content-Type header of the answer (cut short).
	ContentType string
	// Snippet is the start of the body: at most [MaxSnippetBytes] bytes,
	// whitespace collapsed, the bot token removed.
	Snippet string
}

// MaxSnippetBytes bounds [HTTPError.Snippet].
const MaxSnippetBytes = 160

// Error returns, for example, `telegram: sendMessage: HTTP 403 Forbidden
// (text/html) is not a Bot API response: "<html> <head><title>403
// Forbidden</title>..."`.
func (e *HTTPError) Error() string {
	status := strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		status += " " + t
	}
	ct := e.ContentType
	if ct == "" {
		ct = "no content type"
	}
	body := "empty body"
	if e.Snippet != "" {
		body = strconv.Quote(e.Snippet)
	}
	return fmt.Sprintf("telegram: %s: HTTP %s (%s) is not a Bot API response: %s", e.Method, status, ct, body)
}

// Unwrap returns [ErrMalformedResponse].
func (e *HTTPError) Unwrap() error { return ErrMalformedResponse }

// Temporary reports true: the answer came from something in front of the
// Bot API, and the same request may well succeed later.
func (e *HTTPError) Temporary() bool { return true }

// transportError is a request failure below HTTP (DNS, connect, TLS, reset,
// timeout) whose text has been scrubbed of the bot token.
type transportError struct {
	msg     string
	timeout bool
	cause   error // context.Canceled / context.DeadlineExceeded or nil
}

// Error returns the scrubbed failure text.
func (e *transportError) Error() string { return e.msg }

// Timeout reports whether the failure was a timeout (net.Error style).
func (e *transportError) Timeout() bool { return e.timeout }

// Temporary completes the net.Error interface: transport failures are
// worth retrying.
func (e *transportError) Temporary() bool { return true }

// Unwrap exposes context errors only, so that errors.Is(err,
// context.Canceled) works without reaching an error text holding the token.
func (e *transportError) Unwrap() error { return e.cause }

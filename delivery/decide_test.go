package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tgErr := func(code int, desc string) error {
		return fmt.Errorf("sendMessage: %w", &telegram.Error{Code: code, Description: desc, Method: "sendMessage"})
	}
	tests := []struct {
		name string
		in   sendResult
		want decision
	}{
		{"sent", sendResult{}, decision{Verdict: verdictSent}},
		{"sent as plain text after a parse error", sendResult{FellBack: true, CanFallback: true},
			decision{Verdict: verdictSent, Degraded: DegradedParseEntities}},
		{"429 with retry_after",
			sendResult{Err: &telegram.Error{Code: 429, Description: "Too Many Requests: retry after 3", RetryAfter: 3 * time.Second}},
			decision{Verdict: verdictRateLimited, RetryAfter: 3 * time.Second, Desc: "Too Many Requests: retry after 3"}},
		{"429 without retry_after", sendResult{Err: tgErr(429, "Too Many Requests")},
			decision{Verdict: verdictRateLimited, RetryAfter: time.Second, Desc: "Too Many Requests"}},
		{"502 from telegram", sendResult{Err: tgErr(502, "Bad Gateway")},
			decision{Verdict: verdictRetry, Desc: "Bad Gateway"}},
		{"timeout", sendResult{Err: fmt.Errorf("sendMessage: %w", context.DeadlineExceeded)},
			decision{Verdict: verdictRetry, Ambiguous: true, Desc: "sendMessage: context deadline exceeded"}},
		{"connection cut", sendResult{Err: fmt.Errorf("sendMessage: %w", io.ErrUnexpectedEOF)},
			decision{Verdict: verdictRetry, Ambiguous: true, Desc: "sendMessage: unexpected EOF"}},
		{"proxy 502 page", sendResult{Err: &telegram.HTTPError{StatusCode: 502}},
			decision{Verdict: verdictRetry, Ambiguous: true, Desc: (&telegram.HTTPError{StatusCode: 502}).Error()}},
		{"timeout cut by the drain deadline", sendResult{Err: context.Canceled, Stopping: true, Cut: true},
			decision{Verdict: verdictRelease, Ambiguous: true, Desc: "context canceled"}},
		{"403 blocked", sendResult{Err: tgErr(403, "Forbidden: bot was blocked by the user")},
			decision{Verdict: verdictFail, Reason: ReasonBlocked, Unlink: true, Desc: "Forbidden: bot was blocked by the user"}},
		{"403 to a reply", sendResult{Err: tgErr(403, "Forbidden: bot was blocked by the user"), Reply: true},
			decision{Verdict: verdictFail, Reason: ReasonBlocked, Desc: "Forbidden: bot was blocked by the user"}},
		{"chat not found", sendResult{Err: tgErr(400, "Bad Request: chat not found")},
			decision{Verdict: verdictFail, Reason: ReasonChatNotFound, Desc: "Bad Request: chat not found"}},
		{"parse error", sendResult{Err: tgErr(400, "Bad Request: can't parse entities: x")},
			decision{Verdict: verdictFail, Reason: ReasonParseEntities, Desc: "Bad Request: can't parse entities: x"}},
		{"parse error with fallback", sendResult{Err: tgErr(400, "Bad Request: can't parse entities: x"), CanFallback: true},
			decision{Verdict: verdictFallback, Desc: "Bad Request: can't parse entities: x"}},
		{"topic gone", sendResult{Err: tgErr(400, "Bad Request: message thread not found"), InTopic: true},
			decision{Verdict: verdictTopicFallback, Desc: "Bad Request: message thread not found"}},
		{"topic closed", sendResult{Err: tgErr(400, "Bad Request: TOPIC_CLOSED"), InTopic: true},
			decision{Verdict: verdictTopicFallback, Desc: "Bad Request: TOPIC_CLOSED"}},
		{"topic gone without fallback", sendResult{Err: tgErr(400, "Bad Request: message thread not found"), InTopic: true, NoTopicFallback: true},
			decision{Verdict: verdictFail, Reason: ReasonTopicNotFound, Desc: "Bad Request: message thread not found"}},
		{"topic closed without fallback", sendResult{Err: tgErr(400, "Bad Request: TOPIC_CLOSED"), InTopic: true, NoTopicFallback: true},
			decision{Verdict: verdictFail, Reason: ReasonTopicNotFound, Desc: "Bad Request: TOPIC_CLOSED"}},
		{"topic error on a send without a topic", sendResult{Err: tgErr(400, "Bad Request: message thread not found")},
			decision{Verdict: verdictFail, Reason: ReasonRejected, Desc: "Bad Request: message thread not found"}},
		{"sent to the main chat after the topic was gone", sendResult{TopicFellBack: true, InTopic: false},
			decision{Verdict: verdictSent, Degraded: DegradedTopicFallback}},
		{"topic fallback takes precedence over a plain-text resend", sendResult{TopicFellBack: true, FellBack: true},
			decision{Verdict: verdictSent, Degraded: DegradedTopicFallback}},
		{"too long", sendResult{Err: tgErr(400, "Bad Request: message is too long")},
			decision{Verdict: verdictFail, Reason: ReasonTooLong, Desc: "Bad Request: message is too long"}},
		{"caption too long", sendResult{Err: tgErr(400, "Bad Request: message caption is too long")},
			decision{Verdict: verdictFail, Reason: ReasonTooLong, Desc: "Bad Request: message caption is too long"}},
		{"wrong file id", sendResult{Err: tgErr(400, "Bad Request: wrong file identifier/HTTP URL specified")},
			decision{Verdict: verdictFail, Reason: ReasonBadMedia, Desc: "Bad Request: wrong file identifier/HTTP URL specified"}},
		{"url not fetched", sendResult{Err: tgErr(400, "Bad Request: failed to get HTTP URL content")},
			decision{Verdict: verdictFail, Reason: ReasonBadMedia, Desc: "Bad Request: failed to get HTTP URL content"}},
		{"other 400", sendResult{Err: tgErr(400, "Bad Request: something")},
			decision{Verdict: verdictFail, Reason: ReasonRejected, Desc: "Bad Request: something"}},
		{"migrated", sendResult{Err: &telegram.Error{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateToChatID: -100123}},
			decision{Verdict: verdictMigrate, NewChat: -100123, Desc: "Bad Request: group chat was upgraded to a supergroup chat"}},
		{"401 auth failure", sendResult{Err: tgErr(401, "Unauthorized")},
			decision{Verdict: verdictAuthPause, Desc: "Unauthorized"}},
		{"404 auth failure", sendResult{Err: tgErr(404, "Not Found")},
			decision{Verdict: verdictAuthPause, Desc: "Not Found"}},
		{"cancelled while stopping is not a verdict", sendResult{Err: context.Canceled, Stopping: true},
			decision{Verdict: verdictRetry, Ambiguous: true, Desc: "context canceled"}},
		{"connection refused", sendResult{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}},
			decision{Verdict: verdictRetry, Desc: "dial tcp: connection refused"}},
		{"cancelled otherwise is rejected", sendResult{Err: context.Canceled},
			decision{Verdict: verdictFail, Reason: ReasonRejected, Desc: "context canceled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := classify(tc.in); got != tc.want {
				t.Fatalf("classify(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

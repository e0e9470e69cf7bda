package telegram_test

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

func TestErrorPredicates(t *testing.T) {
	e := func(code int, desc string) error { return &telegram.Error{Code: code, Description: desc} }
	wrapped := func(err error) error { return fmt.Errorf("notify: %w", err) }
	tests := []struct {
		name                                                string
		err                                                 error
		blocked, notFound, parse, tooLong, conflict, unauth bool
		auth, temporary                                     bool
	}{
		{name: "blocked", err: e(403, "Forbidden: bot was blocked by the user"), blocked: true},
		{name: "deactivated", err: e(403, "Forbidden: user is deactivated"), blocked: true},
		{name: "kicked", err: e(403, "Forbidden: bot was kicked from the group chat"), blocked: true},
		{name: "can't initiate", err: e(403, "Forbidden: bot can't initiate conversation with a user"), blocked: true},
		{name: "other 403", err: e(403, "Forbidden: something new"), blocked: true},
		{name: "chat not found", err: e(400, "Bad Request: chat not found"), notFound: true},
		{name: "chat not found upper case", err: wrapped(e(400, "Bad Request: Chat Not Found")), notFound: true},
		{name: "parse entities", err: e(400, "Bad Request: can't parse entities: Character '-' is reserved and must be escaped with the preceding '\\'"), parse: true},
		{name: "too long", err: e(400, "Bad Request: message is too long"), tooLong: true},
		{name: "thread not found", err: e(400, "Bad Request: message thread not found")},
		{name: "conflict", err: e(409, "Conflict: terminated by other getUpdates request"), conflict: true},
		{name: "unauthorized", err: wrapped(e(401, "Unauthorized")), unauth: true, auth: true},
		{name: "json 404 not found", err: e(404, "Not Found"), auth: true},
		{name: "html 403", err: wrapped(&telegram.HTTPError{StatusCode: 403, ContentType: "text/html"}), temporary: true},
		{name: "html 401", err: &telegram.HTTPError{StatusCode: 401}, temporary: true},
		{name: "html 404", err: &telegram.HTTPError{StatusCode: 404}, temporary: true},
		{name: "429", err: e(429, "Too Many Requests: retry after 3"), temporary: true},
		{name: "500", err: e(500, "Internal Server Error"), temporary: true},
		{name: "502", err: e(502, "Bad Gateway"), temporary: true},
		{name: "malformed", err: fmt.Errorf("x: %w", telegram.ErrMalformedResponse), temporary: true},
		{name: "deadline", err: fmt.Errorf("x: %w", context.DeadlineExceeded), temporary: true},
		{name: "canceled", err: fmt.Errorf("x: %w", context.Canceled)},
		{name: "net error", err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}, temporary: true},
		{name: "unexpected EOF", err: io.ErrUnexpectedEOF, temporary: true},
		{name: "plain error", err: errors.New("boom")},
		{name: "nil", err: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, got, want bool) {
				t.Helper()
				if got != want {
					t.Errorf("%s(%v) = %v, want %v", what, tc.err, got, want)
				}
			}
			check("IsBlocked", telegram.IsBlocked(tc.err), tc.blocked)
			check("IsChatNotFound", telegram.IsChatNotFound(tc.err), tc.notFound)
			check("IsParseEntities", telegram.IsParseEntities(tc.err), tc.parse)
			check("IsTooLong", telegram.IsTooLong(tc.err), tc.tooLong)
			check("IsConflict", telegram.IsConflict(tc.err), tc.conflict)
			check("IsUnauthorized", telegram.IsUnauthorized(tc.err), tc.unauth)
			check("IsAuthFailure", telegram.IsAuthFailure(tc.err), tc.auth)
			check("IsTemporary", telegram.IsTemporary(tc.err), tc.temporary)
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want time.Duration
		ok   bool
	}{
		{"parameter", &telegram.Error{Code: 429, Description: "Too Many Requests: retry after 17", RetryAfter: 17 * time.Second}, 17 * time.Second, true},
		{"thousands", &telegram.Error{Code: 429, RetryAfter: 3600 * time.Second}, time.Hour, true},
		{"description only", &telegram.Error{Code: 429, Description: "Too Many Requests: retry after 5"}, 5 * time.Second, true},
		{"nothing", &telegram.Error{Code: 429, Description: "Too Many Requests"}, time.Second, true},
		{"wrapped", fmt.Errorf("send: %w", &telegram.Error{Code: 429, RetryAfter: 2 * time.Second}), 2 * time.Second, true},
		{"not 429", &telegram.Error{Code: 400, RetryAfter: time.Second}, 0, false},
		{"nil", nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := telegram.RetryAfter(tc.err)
			if got != tc.want || ok != tc.ok {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestErrorMethods(t *testing.T) {
	e := &telegram.Error{Code: 403, Description: "Forbidden: user is deactivated"}
	if e.Error() != "telegram: 403 Forbidden: user is deactivated" {
		t.Errorf("Error() = %q", e.Error())
	}
	if !e.Blocked() || !e.Deactivated() || e.Temporary() {
		t.Errorf("Blocked/Deactivated/Temporary = %v/%v/%v", e.Blocked(), e.Deactivated(), e.Temporary())
	}
	if id, ok := telegram.MigratedTo(&telegram.Error{Code: 400, MigrateToChatID: -100123}); !ok || id != -100123 {
		t.Errorf("MigratedTo = %d, %v", id, ok)
	}
	if _, ok := telegram.MigratedTo(errors.New("x")); ok {
		t.Error("MigratedTo(plain error) = true")
	}
}

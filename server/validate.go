package server

import (
	"unicode"
	"unicode/utf8"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram"
)

// Limits on request fields. Every string the API accepts is bounded.
const (
	// MaxUserIDLen is the longest user_id, in characters.
	MaxUserIDLen = 128
	// MaxIdempotencyKeyLen is the longest idempotency_key, in characters.
	MaxIdempotencyKeyLen = 128
	// MaxTextLen is the longest message Telegram accepts, in UTF-16 code
	// units after entity parsing.
	MaxTextLen = 4096
	// MaxRawTextBytes bounds formatted text before entity parsing.
	MaxRawTextBytes = 64 << 10
)

// validateID checks a caller-chosen identifier: 1..maxLen printable
// characters of valid UTF-8.
func validateID(field, v string, maxLen int, required bool) error {
	if v == "" {
		if required {
			return invalid(field, "must not be empty")
		}
		return nil
	}
	if !utf8.ValidString(v) {
		return invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > maxLen {
		return invalid(field, "must be at most %d characters, got %d", maxLen, n)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return invalid(field, "must contain only printable characters (found %U)", r)
		}
	}
	return nil
}

func validateUserID(userID string) error {
	return validateID("user_id", userID, MaxUserIDLen, true)
}

// parseModes maps the API's enum to the Bot API's parse_mode strings.
var parseModes = map[notifierv1.ParseMode]string{
	notifierv1.ParseMode_PARSE_MODE_UNSPECIFIED: "",
	notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2: "MarkdownV2",
	notifierv1.ParseMode_PARSE_MODE_HTML:        "HTML",
	notifierv1.ParseMode_PARSE_MODE_MARKDOWN:    "Markdown",
}

// validateText checks a message body and returns the Bot API parse_mode.
// Every text is bounded in bytes; with reject set, plain text longer than
// one message is refused here (formatted text is measured after entity
// parsing by the delivery engine, which refuses it too).
func validateText(text string, mode notifierv1.ParseMode, reject bool) (string, error) {
	pm, ok := parseModes[mode]
	if !ok {
		return "", invalid("parse_mode", "unknown value %d", int32(mode))
	}
	if !utf8.ValidString(text) {
		return "", invalid("text", "must be valid UTF-8")
	}
	if isBlank(text) {
		return "", invalid("text", "must not be empty")
	}
	if len(text) > MaxRawTextBytes {
		return "", invalid("text", "must be at most %d bytes", MaxRawTextBytes)
	}
	if reject && pm == "" {
		if n := telegram.UTF16Len(text); n > MaxTextLen {
			return "", invalid("text", "must be at most %d characters as Telegram counts them (UTF-16 code units), got %d; use LONG_TEXT_POLICY_SPLIT to send it as several messages", MaxTextLen, n)
		}
	}
	return pm, nil
}

func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

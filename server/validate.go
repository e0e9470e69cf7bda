package server

import (
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/delivery"
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

// expandValues checks the values of a text's {{name}} placeholders
// (at most delivery.MaxValues, names of 1-64 A-Za-z0-9_, values of valid
// UTF-8 up to delivery.MaxValueLen bytes) and returns the text with them
// filled in, escaped for the Bot API parse_mode pm, checked again like the
// text itself (reject as in validateText). A placeholder without a value
// or a value no placeholder uses is a *delivery.PlaceholderError (toStatus
// names it). text must have passed validateText.
func expandValues(text, pm string, values map[string]string, reject bool) (string, error) {
	if len(values) > delivery.MaxValues {
		return "", invalid("values", "must hold at most %d values, got %d", delivery.MaxValues, len(values))
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names) // the first bad one is named, the same every time
	for _, name := range names {
		if !delivery.ValidValueName(name) {
			return "", invalid("values", "name %s must be 1-%d characters of A-Za-z0-9_", shortQuote(name), delivery.MaxValueNameLen)
		}
		v := values[name]
		field := "values[" + name + "]"
		if !utf8.ValidString(v) {
			return "", invalid(field, "must be valid UTF-8")
		}
		if len(v) > delivery.MaxValueLen {
			return "", invalid(field, "must be at most %d bytes, got %d", delivery.MaxValueLen, len(v))
		}
	}
	expanded, err := delivery.Expand(text, pm, values)
	if err != nil {
		return "", err
	}
	if len(values) == 0 {
		return expanded, nil
	}
	if len(expanded) > MaxRawTextBytes {
		return "", invalid("text", "must be at most %d bytes with its values filled in, got %d", MaxRawTextBytes, len(expanded))
	}
	if _, err := validateText(expanded, reverseParseMode(pm), reject); err != nil {
		return "", err
	}
	return expanded, nil
}

// reverseParseMode returns the API's enum of a Bot API parse_mode.
func reverseParseMode(pm string) notifierv1.ParseMode {
	for k, v := range parseModes {
		if v == pm {
			return k
		}
	}
	return notifierv1.ParseMode_PARSE_MODE_UNSPECIFIED
}

// shortQuote quotes s for an error message, cut to 70 bytes.
func shortQuote(s string) string {
	if len(s) > 70 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}

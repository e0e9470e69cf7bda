package telegram

import (
	"strings"
	"unicode/utf8"
)

// UTF16Len returns the length of s in UTF-16 code units, the unit Telegram
// uses for message length limits and entity offsets: characters outside the
// Basic Multilingual Plane (most emoji) count twice. Invalid UTF-8 bytes
// count one each.
func UTF16Len(s string) int {
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if r >= 0x10000 && r <= utf8.MaxRune {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// ValidParseMode reports whether mode is a parse mode sendMessage accepts:
// "" (plain text), "MarkdownV2", "HTML" or the legacy "Markdown", matched
// case-insensitively like the Bot API does.
func ValidParseMode(mode string) bool {
	switch strings.ToLower(mode) {
	case "", "markdownv2", "html", "markdown":
		return true
	}
	return false
}

// EscapeMarkdownV2 escapes every character that is reserved in MarkdownV2
// (and the backslash) so that s is sent literally with parse_mode
// "MarkdownV2". It is meant for text outside code, pre and link URLs.
func EscapeMarkdownV2(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if strings.ContainsRune("_*[]()~`>#+-=|{}.!\\", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// EscapeHTML escapes <, > and & (and ") so that s is sent literally with
// parse_mode "HTML".
func EscapeHTML(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

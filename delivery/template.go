package delivery

// Templating: {{name}} placeholders replaced by values escaped for the
// parse mode, so that a value can never break the formatting; and the
// markup stripped from a text for the plain-text fallback.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/telegram"
)

// Bounds of templating.
const (
	// MaxValueNameLen is the longest placeholder name, in bytes
	// (A-Za-z0-9_).
	MaxValueNameLen = 64
	// MaxValues is the most values one text may be given.
	MaxValues = 100
	// MaxValueLen is the longest value, in bytes.
	MaxValueLen = 4096
)

// DegradedParseEntities is Notification.Degraded when Telegram could not
// parse a part's formatting and it was sent as plain text with the markup
// stripped (PlainTextFallback).
const DegradedParseEntities = "parse_entities"

// DegradedTopicFallback is Notification.Degraded when the forum topic it
// was meant for (TopicID) was gone or closed and it went to the group's
// main chat instead, with a note naming the topic ([TopicNote]). It takes
// precedence over DegradedParseEntities.
const DegradedTopicFallback = "topic_fallback"

// ErrPlaceholder is wrapped by every *PlaceholderError.
var ErrPlaceholder = errors.New("delivery: placeholder mismatch")

// PlaceholderError reports a placeholder of the text without a value
// (Missing) or a value no placeholder uses.
type PlaceholderError struct {
	Name    string
	Missing bool
}

// Error says which.
func (e *PlaceholderError) Error() string {
	if e.Missing {
		return fmt.Sprintf("placeholder {{%s}} has no value", e.Name)
	}
	return fmt.Sprintf("value %q is not used by any {{%s}} placeholder of the text", e.Name, e.Name)
}

// Unwrap returns ErrPlaceholder.
func (e *PlaceholderError) Unwrap() error { return ErrPlaceholder }

// ValidValueName reports whether name may name a placeholder: 1 to
// MaxValueNameLen of A-Za-z0-9_.
func ValidValueName(name string) bool {
	if name == "" || len(name) > MaxValueNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// placeholderAt returns the name and end of the placeholder {{name}} at
// s[i], if there is one.
func placeholderAt(s string, i int) (name string, end int, ok bool) {
	if !strings.HasPrefix(s[i:], "{{") {
		return "", 0, false
	}
	j := i + 2
	for j < len(s) && j-i-2 <= MaxValueNameLen && isNameByte(s[j]) {
		j++
	}
	if j == i+2 || j-i-2 > MaxValueNameLen || !strings.HasPrefix(s[j:], "}}") {
		return "", 0, false
	}
	return s[i+2 : j], j + 2, true
}

// Expand replaces every {{name}} placeholder of text (name: 1-64 of
// A-Za-z0-9_; anything else between braces is text) by values[name],
// escaped for parseMode where the placeholder stands: in MarkdownV2 every
// reserved character is escaped (inside code and pre only ` and \, inside a
// link's URL only ) and \); in HTML < > & " and '; in legacy Markdown
// _ * ` [ outside an entity, and inside bold, italic or code the entity's
// own marker is closed, escaped and reopened; plain text takes the value
// verbatim. A placeholder without a value, or a value no placeholder
// uses, is a *PlaceholderError (the first in name order for unused
// values). Expand is pure; it checks no bounds (the caller does).
func Expand(text, parseMode string, values map[string]string) (string, error) {
	if len(values) == 0 && !strings.Contains(text, "{{") {
		return text, nil
	}
	mode := tokenizerMode(parseMode)
	tz := tokenizer{s: text, mode: mode}
	tz.reset()
	var (
		b    strings.Builder
		used = make(map[string]bool, len(values))
		last atom // the atom holding byte i (or the last one before it)
		from = 0
	)
	b.Grow(len(text))
	for i := 0; i < len(text); i++ {
		if text[i] != '{' {
			continue
		}
		name, end, ok := placeholderAt(text, i)
		if !ok {
			continue
		}
		v, ok := values[name]
		if !ok {
			return "", &PlaceholderError{Name: name, Missing: true}
		}
		used[name] = true
		for tz.pos <= i {
			if a, more := tz.next(); more {
				last = a
			} else {
				break
			}
		}
		inTag := mode == modeHTML && last.start < i && i < last.end
		b.WriteString(text[from:i])
		b.WriteString(escapeValue(v, mode, &tz.md, inTag))
		from = end
		for tz.pos < end {
			tz.next()
		}
		i = end - 1
	}
	if len(used) != len(values) {
		return "", &PlaceholderError{Name: firstUnused(values, used)}
	}
	b.WriteString(text[from:])
	return b.String(), nil
}

// firstUnused returns the smallest name of values not in used.
func firstUnused(values map[string]string, used map[string]bool) string {
	best := ""
	for k := range values {
		if !used[k] && (best == "" || k < best) {
			best = k
		}
	}
	return best
}

// tokenizerMode maps a parse mode to the tokenizer's (plain when unknown).
func tokenizerMode(parseMode string) int {
	switch strings.ToLower(parseMode) {
	case "html":
		return modeHTML
	case "markdownv2":
		return modeMarkdownV2
	case "markdown":
		return modeMarkdown
	}
	return modePlain
}

// escapeValue escapes v for mode in the markup state st (inTag: inside an
// HTML tag, i.e. an attribute value).
func escapeValue(v string, mode int, st *mdState, inTag bool) string {
	switch mode {
	case modeHTML:
		s := telegram.EscapeHTML(v)
		if inTag {
			s = strings.ReplaceAll(s, "'", "&#39;")
		}
		return s
	case modeMarkdownV2:
		switch {
		case st.code || st.pre:
			return backslash(v, "`\\")
		case st.url:
			return backslash(v, ")\\")
		}
		return telegram.EscapeMarkdownV2(v)
	case modeMarkdown:
		return escapeLegacy(v, st)
	}
	return v
}

// backslash puts a backslash before every character of v in set.
func backslash(v, set string) string {
	var b strings.Builder
	b.Grow(len(v))
	for _, r := range v {
		if strings.ContainsRune(set, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeLegacy escapes v for legacy Markdown: outside an entity with a
// backslash; inside bold, italic or code (which know no escapes) the
// entity's marker in v closes the entity, is written escaped and reopens
// it.
func escapeLegacy(v string, st *mdState) string {
	closer := st.legacyCloser(true)
	switch closer {
	case "":
		if st.url {
			return v
		}
		return backslash(v, "_*`[")
	case "*", "_", "`":
		return strings.ReplaceAll(v, closer, closer+`\`+closer+closer)
	}
	return v // pre and link text: the marker cannot be written inside
}

// StripMarkup returns text as it reads without its parseMode markup, for a
// plain-text resend when Telegram could not parse it: markers (* _ __ ~ ||
// ` ``` > [ ]( ) and HTML tags go, the text of links stays and their URLs
// go, escapes (\.) and HTML character references (&lt;) are decoded. A
// marker that pairs with no other of its kind is kept as text (the "_" of
// "snake_case"). Plain text is returned unchanged.
func StripMarkup(text, parseMode string) string {
	mode := tokenizerMode(parseMode)
	if mode == modePlain || !utf8.ValidString(text) {
		return text
	}
	tz := tokenizer{s: text, mode: mode}
	tz.reset()
	// First pass: the last marker of each toggle kind that has an odd
	// count pairs with nothing.
	count, lastAt := map[string]int{}, map[string]int{}
	for {
		a, ok := tz.next()
		if !ok {
			break
		}
		if k := toggleKind(text, a, mode); k != "" {
			count[k]++
			lastAt[k] = a.start
		}
	}
	keep := map[int]bool{}
	for k, n := range count {
		if n%2 == 1 {
			keep[lastAt[k]] = true
		}
	}
	tz.reset()
	var b strings.Builder
	b.Grow(len(text))
	for {
		wasPre := tz.md.pre
		a, ok := tz.next()
		if !ok {
			break
		}
		s := text[a.start:a.end]
		switch {
		case mode != modeHTML && !wasPre && tz.md.pre:
			// A pre block's language line ("```go\n") is not shown.
			if lang, ok := preLanguageEnd(text, a.end); ok {
				for tz.pos < lang {
					tz.next()
				}
			}
			continue
		case mode == modeMarkdownV2 && s == "!" && strings.HasPrefix(text[a.end:], "["):
			continue // a custom emoji's "![👍](tg://emoji?id=...)"
		}
		b.WriteString(visibleText(s, a, mode, keep[a.start]))
	}
	return b.String()
}

// preLanguageEnd returns the end of the language line of a pre block whose
// text starts at text[i] (after its line break), if it has one: a word up
// to the first line break.
func preLanguageEnd(text string, i int) (int, bool) {
	nl := strings.IndexByte(text[i:], '\n')
	if nl <= 0 {
		return 0, false
	}
	if strings.ContainsAny(text[i:i+nl], " \t`\\") {
		return 0, false
	}
	return i + nl + 1, true
}

// toggleKind names the Markdown toggle marker a ("" for any other atom).
func toggleKind(text string, a atom, mode int) string {
	if mode == modeHTML || a.width != 0 || a.closing { // closing: the "||" that ends an expandable quote
		return ""
	}
	switch s := text[a.start:a.end]; s {
	case "*", "_", "~", "__", "||", "`", "```":
		return s
	}
	return ""
}

// visibleText is what atom a (of text s) shows in a plain message.
func visibleText(s string, a atom, mode int, keep bool) string {
	switch {
	case a.width == 0 && !keep:
		return "" // markup
	case mode == modeHTML && len(s) > 1 && s[0] == '&' && s[len(s)-1] == ';':
		if d, ok := decodeReference(s); ok {
			return d
		}
		return s
	case s[0] == '\\' && len(s) > 1:
		r, size := utf8.DecodeRuneInString(s[1:])
		if a.width > utf16Width(r) { // the backslash shows (in code, in legacy Markdown)
			return s
		}
		return s[1 : 1+size]
	}
	return s
}

// decodeReference decodes an HTML character reference as Telegram does
// (&lt; &gt; &amp; &quot; &#N; &#xN;).
func decodeReference(s string) (string, bool) {
	switch s {
	case "&lt;":
		return "<", true
	case "&gt;":
		return ">", true
	case "&amp;":
		return "&", true
	case "&quot;":
		return `"`, true
	}
	body := s[1 : len(s)-1]
	num, ok := strings.CutPrefix(body, "#")
	if !ok {
		return "", false
	}
	base := 10
	if h, hex := strings.CutPrefix(strings.ToLower(num), "x"); hex {
		num, base = h, 16
	}
	v, err := strconv.ParseUint(num, base, 32)
	if err != nil || v == 0 || !utf8.ValidRune(rune(v)) {
		return "", false
	}
	return string(rune(v)), true
}

package fakebot

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file approximates Telegram's text formatting parsers (MarkdownV2,
// legacy Markdown and HTML): it accepts what Telegram accepts in the common
// cases, rejects stray reserved characters, unbalanced markup and unknown
// tags with Telegram's error texts, and computes the plain text (whose
// length is what the 4096 limit applies to) and its entities.

// entityError is a markup error. Its text is Telegram's (capitalised, as it
// appears after "can't parse entities: "), hence not a fmt.Errorf.
type entityError struct{ msg string }

// Error returns Telegram's text.
func (e *entityError) Error() string { return e.msg }

func entityErrorf(format string, args ...any) error {
	return &entityError{msg: fmt.Sprintf(format, args...)}
}

// PlainText returns text as Telegram shows it once parseMode ("",
// "MarkdownV2", "HTML", "Markdown") is applied, with no length limit, or
// the error Telegram would answer (its description, such as "Bad Request:
// can't parse entities: ..."). Tests of code that writes markup use it as
// Telegram's parser.
func PlainText(text, parseMode string) (string, error) {
	plain, _, err := parseText(text, parseMode)
	if err != nil {
		return "", errors.New(err.description)
	}
	return plain, nil
}

// parseText applies parse_mode to text.
func parseText(text, mode string) (string, []wireEntity, *apiError) {
	var (
		plain string
		ents  []wireEntity
		err   error
	)
	switch strings.ToLower(mode) {
	case "":
		return text, nil, nil
	case "markdownv2":
		plain, ents, err = parseMarkdownV2(text)
	case "markdown":
		plain, ents, err = parseMarkdown(text)
	case "html":
		plain, ents, err = parseHTML(text)
	default:
		return "", nil, badRequest("unsupported parse_mode")
	}
	if err != nil {
		return "", nil, badRequest("can't parse entities: %s", err.Error())
	}
	return plain, ents, nil
}

// textBuilder accumulates plain text and tracks its length in UTF-16 units.
type textBuilder struct {
	b   strings.Builder
	u16 int
}

func (t *textBuilder) write(s string) {
	for _, r := range s {
		t.b.WriteRune(r)
		if r >= 0x10000 {
			t.u16 += 2
		} else {
			t.u16++
		}
	}
}

// writeRuneAt copies the rune at s[i] and returns its size in bytes.
func (t *textBuilder) writeRuneAt(s string, i int) int {
	_, size := utf8.DecodeRuneInString(s[i:])
	t.write(s[i : i+size])
	return size
}

// entityPriority orders entities sharing offset and length like TDLib.
func entityPriority(typ string) int {
	switch typ {
	case "blockquote", "expandable_blockquote":
		return 0
	case "pre":
		return 11
	case "code":
		return 20
	case "text_link", "custom_emoji":
		return 49
	case "bold":
		return 90
	case "italic":
		return 91
	case "underline":
		return 92
	case "strikethrough":
		return 93
	case "spoiler":
		return 94
	}
	return 50
}

func sortEntities(es []wireEntity) []wireEntity {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		if a.Length != b.Length {
			return a.Length > b.Length
		}
		return entityPriority(a.Type) < entityPriority(b.Type)
	})
	return es
}

// tdlibName is the entity type name TDLib uses in its error texts.
func tdlibName(typ string) string {
	switch typ {
	case "bold":
		return "Bold"
	case "italic":
		return "Italic"
	case "underline":
		return "Underline"
	case "strikethrough":
		return "Strikethrough"
	case "spoiler":
		return "Spoiler"
	case "text_link":
		return "TextUrl"
	case "custom_emoji":
		return "CustomEmoji"
	case "code":
		return "Code"
	case "pre":
		return "Pre"
	case "blockquote":
		return "BlockQuote"
	}
	return typ
}

// validLinkURL reports whether Telegram would keep a text link to u
// (invalid URLs silently lose their link).
func validLinkURL(u string) bool {
	if u == "" || strings.ContainsAny(u, " \n\t") {
		return false
	}
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https", "ftp", "ton":
		return p.Host != ""
	case "tg":
		return true
	case "":
		host, _, _ := strings.Cut(u, "/")
		return strings.Contains(host, ".") && !strings.HasPrefix(host, ".") && !strings.HasSuffix(host, ".")
	}
	return false
}

// customEmojiID validates a tg://emoji?id=N URL.
func customEmojiID(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || !strings.EqualFold(p.Scheme, "tg") {
		return "", entityErrorf("Custom emoji URL must have scheme tg")
	}
	host := p.Host
	if host == "" {
		host, _, _ = strings.Cut(p.Opaque, "?")
	}
	if !strings.EqualFold(strings.TrimSuffix(host, "/"), "emoji") {
		return "", entityErrorf(`Custom emoji URL must have host "emoji"`)
	}
	id := p.Query().Get("id")
	if id == "" {
		return "", entityErrorf("Custom emoji URL must have an emoji identifier")
	}
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return "", entityErrorf("Invalid custom emoji identifier specified")
	}
	return id, nil
}

const mdV2Reserved = "_*[]()~`>#+-=|{}.!"

func reservedError(c byte) error {
	return entityErrorf("Character '%c' is reserved and must be escaped with the preceding '\\'", c)
}

type mdOpen struct {
	typ     string
	start   int // UTF-16 offset in the plain text
	outByte int // byte offset in the plain text
	inByte  int // byte offset of the markup in the input
}

// parseMarkdownV2 parses Telegram's MarkdownV2: *bold*, _italic_,
// __underline__, ~strikethrough~, ||spoiler||, `code`, ```pre```,
// [text](url), ![emoji](tg://emoji?id=N), > blockquotes and backslash
// escapes of any ASCII character.
//
// Blockquotes follow TDLib (td/telegram/MessageEntity.cpp,
// parse_markdown_v2): a '>' may start a quote, or continue the open one, at
// the start of the text or after a line break, with only markers (such as
// the empty bold "**" of "**>") between; the quote is an entity like the
// others, so what opens inside it must close before it ends. A quote ends
// at the first line break not followed by '>' (the break belongs to it) or
// at the end of the text; "||" right before that end, opening no spoiler,
// makes it expandable. "**>" by itself is only an empty bold and a quote.
func parseMarkdownV2(text string) (string, []wireEntity, error) {
	var (
		out      textBuilder
		ents     []wireEntity
		stack    []mdOpen
		inQuote  bool // a blockquote is on the stack
		canQuote = true
	)
	add := func(typ string, start int, extra wireEntity) {
		if out.u16 > start {
			extra.Type, extra.Offset, extra.Length = typ, start, out.u16-start
			ents = append(ents, extra)
		}
	}
	notFound := func(o mdOpen) error {
		return entityErrorf("Can't find end of %s entity at byte offset %d", tdlibName(o.typ), o.inByte)
	}
	// endQuote closes the quote at the line break text[at] (which it
	// keeps): the top of the stack must be the quote, or the spoiler its
	// expandable mark opened right before the break.
	endQuote := func(at int) error {
		typ, n := "blockquote", len(stack)
		if top := stack[n-1]; top.typ != "blockquote" {
			if top.typ != "spoiler" || !(top.inByte == at-2 || top.inByte == at-3 && text[at-1] == '\r') {
				return notFound(top)
			}
			n--
			if stack[n-1].typ != "blockquote" {
				return notFound(stack[n-1])
			}
			typ = "expandable_blockquote"
		}
		out.write("\n")
		add(typ, stack[n-1].start, wireEntity{})
		stack, inQuote = stack[:n-1], false
		return nil
	}
	toggle := func(typ string, at int) {
		if n := len(stack); n > 0 && stack[n-1].typ == typ {
			add(typ, stack[n-1].start, wireEntity{})
			stack = stack[:n-1]
			return
		}
		stack = append(stack, mdOpen{typ: typ, start: out.u16, outByte: out.b.Len(), inByte: at})
	}
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == '\\':
			if i+1 < len(text) && text[i+1] >= 1 && text[i+1] <= 126 {
				out.write(text[i+1 : i+2])
				if text[i+1] != '\r' {
					canQuote = text[i+1] == '\n'
				}
				i += 2
			} else {
				out.write(`\`)
				canQuote = false
				i++
			}
		case c == '\n' && inQuote && (i+1 == len(text) || text[i+1] != '>'):
			if err := endQuote(i); err != nil {
				return "", nil, err
			}
			canQuote = true
			i++
		case c == '\n':
			out.write("\n")
			canQuote = true
			i++
		case c == '>':
			if !canQuote {
				return "", nil, reservedError(c)
			}
			if !inQuote {
				stack = append(stack, mdOpen{typ: "blockquote", start: out.u16, outByte: out.b.Len(), inByte: i})
				inQuote = true
			}
			i++
		case c == '`':
			n, err := mdV2Code(text, i, &out, &ents)
			if err != nil {
				return "", nil, err
			}
			if strings.Trim(text[i:n], "`\r") != "" {
				canQuote = false
			}
			i = n
		case c == '*':
			toggle("bold", i)
			i++
		case c == '_':
			if i+1 < len(text) && text[i+1] == '_' {
				toggle("underline", i)
				i += 2
			} else {
				toggle("italic", i)
				i++
			}
		case c == '~':
			toggle("strikethrough", i)
			i++
		case c == '|' && i+1 < len(text) && text[i+1] == '|':
			toggle("spoiler", i)
			i += 2
		case c == '[':
			stack = append(stack, mdOpen{typ: "text_link", start: out.u16, outByte: out.b.Len(), inByte: i})
			i++
		case c == '!' && i+1 < len(text) && text[i+1] == '[':
			stack = append(stack, mdOpen{typ: "custom_emoji", start: out.u16, outByte: out.b.Len(), inByte: i})
			i += 2
		case c == ']':
			n := len(stack)
			if n == 0 || (stack[n-1].typ != "text_link" && stack[n-1].typ != "custom_emoji") {
				return "", nil, reservedError(c)
			}
			open := stack[n-1]
			stack = stack[:n-1]
			i++
			var (
				link    string
				hasLink bool
			)
			if i < len(text) && text[i] == '(' {
				var b strings.Builder
				k := i + 1
				for k < len(text) && text[k] != ')' {
					if text[k] == '\\' && k+1 < len(text) {
						k++
					}
					b.WriteByte(text[k])
					k++
				}
				if k >= len(text) {
					if open.typ == "custom_emoji" {
						return "", nil, entityErrorf("Can't find end of a custom emoji URL at byte offset %d", i+1)
					}
					return "", nil, entityErrorf("Can't find end of a URL at byte offset %d", i+1)
				}
				link, hasLink = b.String(), true
				i = k + 1
			}
			if open.typ == "custom_emoji" {
				if !hasLink {
					return "", nil, entityErrorf("Custom emoji entity must contain a tg://emoji URL")
				}
				id, err := customEmojiID(link)
				if err != nil {
					return "", nil, err
				}
				add("custom_emoji", open.start, wireEntity{CustomEmojiID: id})
				continue
			}
			if !hasLink {
				link = out.b.String()[open.outByte:]
			}
			if validLinkURL(link) {
				add("text_link", open.start, wireEntity{URL: link})
			}
		case strings.IndexByte(mdV2Reserved, c) >= 0:
			return "", nil, reservedError(c)
		default:
			if c != '\r' {
				canQuote = false
			}
			i += out.writeRuneAt(text, i)
		}
	}
	if inQuote {
		// The quote ends with the text; so does a spoiler its mark opened.
		typ, n := "blockquote", len(stack)
		if top := stack[n-1]; top.typ == "spoiler" && top.inByte == len(text)-2 {
			stack, n, typ = stack[:n-1], n-1, "expandable_blockquote"
		}
		if stack[n-1].typ == "blockquote" {
			add(typ, stack[n-1].start, wireEntity{})
			stack = stack[:n-1]
		}
	}
	if n := len(stack); n > 0 {
		return "", nil, notFound(stack[n-1])
	}
	return out.b.String(), sortEntities(ents), nil
}

// mdV2Code parses `code` or ```pre``` starting at text[i] and returns the
// index after it. Inside, only '`' and '\' are escaped.
func mdV2Code(text string, i int, out *textBuilder, ents *[]wireEntity) (int, error) {
	pre := strings.HasPrefix(text[i:], "```")
	marker, typ := "`", "code"
	if pre {
		marker, typ = "```", "pre"
	}
	start := i + len(marker)
	end := -1
	for k := start; k < len(text); {
		if text[k] == '\\' && k+1 < len(text) && (text[k+1] == '`' || text[k+1] == '\\') {
			k += 2
			continue
		}
		if strings.HasPrefix(text[k:], marker) {
			end = k
			break
		}
		k++
	}
	if end < 0 {
		return 0, entityErrorf("Can't find end of %s entity at byte offset %d", tdlibName(typ), i)
	}
	body, lang := text[start:end], ""
	if pre {
		if nl := strings.IndexAny(body, "\n"); nl > 0 && !strings.ContainsAny(body[:nl], " \t\r`") {
			lang, body = body[:nl], body[nl+1:]
		}
	}
	body = strings.NewReplacer("\\`", "`", `\\`, `\`).Replace(body)
	s := out.u16
	out.write(body)
	if out.u16 > s {
		*ents = append(*ents, wireEntity{Type: typ, Offset: s, Length: out.u16 - s, Language: lang})
	}
	return end + len(marker), nil
}

// parseMarkdown parses the legacy Markdown mode: *bold*, _italic_, `code`,
// ```pre```, [text](url); no nesting, and only _ * ` [ can be escaped.
func parseMarkdown(text string) (string, []wireEntity, error) {
	var (
		out  textBuilder
		ents []wireEntity
	)
	notFound := func(at int) error {
		return entityErrorf("Can't find end of the entity starting at byte offset %d", at)
	}
	i := 0
	for i < len(text) {
		c := text[i]
		if c == '\\' && i+1 < len(text) && strings.IndexByte("_*`[", text[i+1]) >= 0 {
			out.write(text[i+1 : i+2])
			i += 2
			continue
		}
		if strings.IndexByte("_*`[", c) < 0 {
			i += out.writeRuneAt(text, i)
			continue
		}
		start := out.u16
		switch c {
		case '_', '*':
			k := strings.IndexByte(text[i+1:], c)
			if k < 0 {
				return "", nil, notFound(i)
			}
			out.write(text[i+1 : i+1+k])
			typ := "italic"
			if c == '*' {
				typ = "bold"
			}
			if out.u16 > start {
				ents = append(ents, wireEntity{Type: typ, Offset: start, Length: out.u16 - start})
			}
			i += k + 2
		case '`':
			marker, typ := "`", "code"
			if strings.HasPrefix(text[i:], "```") {
				marker, typ = "```", "pre"
			}
			k := strings.Index(text[i+len(marker):], marker)
			if k < 0 {
				return "", nil, notFound(i)
			}
			body, lang := text[i+len(marker):i+len(marker)+k], ""
			if typ == "pre" {
				if nl := strings.IndexByte(body, '\n'); nl > 0 && !strings.ContainsAny(body[:nl], " \t\r") {
					lang, body = body[:nl], body[nl+1:]
				}
			}
			out.write(body)
			if out.u16 > start {
				ents = append(ents, wireEntity{Type: typ, Offset: start, Length: out.u16 - start, Language: lang})
			}
			i += len(marker)*2 + k
		case '[':
			k := strings.IndexByte(text[i+1:], ']')
			if k < 0 {
				return "", nil, notFound(i)
			}
			label := text[i+1 : i+1+k]
			i += k + 2
			link := ""
			if i < len(text) && text[i] == '(' {
				e := strings.IndexByte(text[i+1:], ')')
				if e < 0 {
					return "", nil, notFound(i)
				}
				link = text[i+1 : i+1+e]
				i += e + 2
			}
			out.write(label)
			if out.u16 > start && validLinkURL(link) {
				ents = append(ents, wireEntity{Type: "text_link", Offset: start, Length: out.u16 - start, URL: link})
			}
		}
	}
	return out.b.String(), sortEntities(ents), nil
}

type htmlOpen struct {
	tag   string
	start int
	ent   wireEntity // Type "" when the tag makes no entity
}

// htmlEntityType maps supported tags to entity types.
func htmlEntityType(tag string) (string, bool) {
	switch tag {
	case "b", "strong":
		return "bold", true
	case "i", "em":
		return "italic", true
	case "u", "ins":
		return "underline", true
	case "s", "strike", "del":
		return "strikethrough", true
	case "tg-spoiler", "span":
		return "spoiler", true
	case "a":
		return "text_link", true
	case "code":
		return "code", true
	case "pre":
		return "pre", true
	case "blockquote":
		return "blockquote", true
	case "tg-emoji":
		return "custom_emoji", true
	}
	return "", false
}

// isHTMLSpace reports whether TDLib's HTML parser takes c as a space.
func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == 0
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// decodeHTMLEntity decodes the character reference at s[0] == '&'; ok is
// false when it is not one (the '&' is then literal).
func decodeHTMLEntity(s string) (string, int, bool) {
	semi := strings.IndexByte(s, ';')
	if semi < 2 || semi > 12 {
		return "", 0, false
	}
	name := s[1:semi]
	switch name {
	case "lt":
		return "<", semi + 1, true
	case "gt":
		return ">", semi + 1, true
	case "amp":
		return "&", semi + 1, true
	case "quot":
		return `"`, semi + 1, true
	}
	if name[0] == '#' {
		var (
			n   uint64
			err error
		)
		if len(name) > 1 && (name[1] == 'x' || name[1] == 'X') {
			n, err = strconv.ParseUint(name[2:], 16, 32)
		} else {
			n, err = strconv.ParseUint(name[1:], 10, 32)
		}
		if err != nil || n == 0 || n > utf8.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return "", 0, false
		}
		return string(rune(n)), semi + 1, true
	}
	return "", 0, false
}

// parseHTML parses Telegram's HTML mode: the tags b strong i em u ins s
// strike del span(class="tg-spoiler") tg-spoiler a(href) code pre
// blockquote tg-emoji, and the references &lt; &gt; &amp; &quot;
// &#N; &#xN;.
func parseHTML(text string) (string, []wireEntity, error) {
	var (
		out   textBuilder
		ents  []wireEntity
		stack []htmlOpen
	)
	i := 0
	for i < len(text) {
		c := text[i]
		if c == '&' {
			if s, n, ok := decodeHTMLEntity(text[i:]); ok {
				out.write(s)
				i += n
				continue
			}
			out.write("&")
			i++
			continue
		}
		if c != '<' {
			i += out.writeRuneAt(text, i)
			continue
		}
		begin := i
		if i+1 < len(text) && text[i+1] == '/' {
			// As TDLib: the name runs to a space or '>'; "</>" ends any tag.
			if len(stack) == 0 {
				return "", nil, entityErrorf("Unexpected end tag at byte offset %d", begin)
			}
			k := i + 2
			for k < len(text) && !isHTMLSpace(text[k]) && text[k] != '>' {
				k++
			}
			name := strings.ToLower(text[i+2 : k])
			for k < len(text) && isHTMLSpace(text[k]) {
				k++
			}
			if k >= len(text) || text[k] != '>' {
				return "", nil, entityErrorf("Unclosed end tag at byte offset %d", begin)
			}
			top := stack[len(stack)-1]
			if name != "" && name != top.tag {
				return "", nil, entityErrorf(`Unmatched end tag at byte offset %d, expected "</%s>", found "</%s>"`, begin, top.tag, name)
			}
			stack = stack[:len(stack)-1]
			if top.ent.Type != "" && out.u16 > top.start {
				e := top.ent
				e.Offset, e.Length = top.start, out.u16-top.start
				ents = append(ents, e)
			}
			i = k + 1
			continue
		}
		// As TDLib reads a start tag (td/telegram/MessageEntity.cpp,
		// parse_html): the name runs to a space or '>'; an attribute value
		// is a quoted string, which may hold '>', or a name token.
		k := i + 1
		for k < len(text) && !isHTMLSpace(text[k]) && text[k] != '>' {
			k++
		}
		if k >= len(text) {
			return "", nil, entityErrorf("Unclosed start tag at byte offset %d", begin)
		}
		name := strings.ToLower(text[i+1 : k])
		typ, ok := htmlEntityType(name)
		if !ok {
			return "", nil, entityErrorf("Unsupported start tag %q at byte offset %d", name, begin)
		}
		attrs := map[string]string{}
		for {
			for k < len(text) && isHTMLSpace(text[k]) {
				k++
			}
			if k >= len(text) {
				return "", nil, entityErrorf("Unclosed start tag at byte offset %d", begin)
			}
			if text[k] == '>' {
				k++
				break
			}
			a := k
			for k < len(text) && !isHTMLSpace(text[k]) && strings.IndexByte("=>/\"'", text[k]) < 0 {
				k++
			}
			attr := text[a:k]
			if attr == "" {
				return "", nil, entityErrorf("Empty attribute name in the tag %q at byte offset %d", name, begin)
			}
			for k < len(text) && isHTMLSpace(text[k]) {
				k++
			}
			if k >= len(text) {
				return "", nil, entityErrorf("Unclosed start tag %q at byte offset %d", name, begin)
			}
			if text[k] != '=' {
				attrs[attr] = ""
				continue
			}
			k++
			for k < len(text) && isHTMLSpace(text[k]) {
				k++
			}
			if k >= len(text) {
				return "", nil, entityErrorf("Unclosed start tag %q at byte offset %d", name, begin)
			}
			var val string
			if q := text[k]; q == '"' || q == '\'' {
				e := strings.IndexByte(text[k+1:], q)
				if e < 0 {
					return "", nil, entityErrorf("Unclosed start tag at byte offset %d", begin)
				}
				val = unescapeHTMLAttr(text[k+1 : k+1+e])
				k += e + 2
			} else {
				v := k
				for k < len(text) && (isAlnum(text[k]) || text[k] == '.' || text[k] == '-') {
					k++
				}
				if k < len(text) && !isHTMLSpace(text[k]) && text[k] != '>' {
					return "", nil, entityErrorf("Unexpected end of name token at byte offset %d", v)
				}
				val = strings.ToLower(text[v:k])
			}
			if k >= len(text) {
				return "", nil, entityErrorf("Unclosed start tag at byte offset %d", begin)
			}
			attrs[attr] = val
		}
		ent := wireEntity{Type: typ}
		switch name {
		case "span":
			if attrs["class"] != "tg-spoiler" {
				return "", nil, entityErrorf(`Tag "span" must have class "tg-spoiler" at byte offset %d`, begin)
			}
		case "a":
			href := attrs["href"]
			if validLinkURL(href) {
				ent.URL = href
			} else {
				ent.Type = ""
			}
		case "code":
			if n := len(stack); n > 0 && stack[n-1].tag == "pre" {
				if lang, ok := strings.CutPrefix(attrs["class"], "language-"); ok && stack[n-1].ent.Language == "" {
					stack[n-1].ent.Language = lang
				}
				ent.Type = "" // the pre carries it
			}
		case "blockquote":
			if _, ok := attrs["expandable"]; ok {
				ent.Type = "expandable_blockquote"
			}
		case "tg-emoji":
			id := attrs["emoji-id"]
			if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
				return "", nil, entityErrorf("Custom emoji entity must contain a valid custom emoji identifier")
			}
			ent.CustomEmojiID = id
		}
		stack = append(stack, htmlOpen{tag: name, start: out.u16, ent: ent})
		i = k
	}
	if n := len(stack); n > 0 {
		return "", nil, entityErrorf("Can't find end tag corresponding to start tag %q", stack[n-1].tag)
	}
	return out.b.String(), sortEntities(ents), nil
}

func unescapeHTMLAttr(v string) string {
	if !strings.Contains(v, "&") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		if v[i] == '&' {
			if s, n, ok := decodeHTMLEntity(v[i:]); ok {
				b.WriteString(s)
				i += n
				continue
			}
		}
		b.WriteByte(v[i])
		i++
	}
	return b.String()
}

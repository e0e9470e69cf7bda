package delivery

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors of [Split].
var (
	// ErrCannotSplit means the text is too long and has no place where it
	// may be cut (for example a MarkdownV2 code block longer than the
	// limit), or a single character exceeds the limit.
	ErrCannotSplit = errors.New("delivery: text cannot be split into messages")
	// ErrInvalidText means the text is empty, has no visible character
	// after entity parsing (only whitespace and markup), is not valid
	// UTF-8, or the limit is not positive.
	ErrInvalidText = errors.New("delivery: invalid text")
)

// Break priorities of a cut point: a cut after a paragraph break is
// preferred to one after a line break, then a space, then anywhere allowed.
const (
	brkNever     = -1
	brkHard      = 0
	brkWord      = 1
	brkLine      = 2
	brkParagraph = 3
)

// atom is an indivisible piece of the text: a rune, an escape sequence, an
// HTML tag or entity, or a markup marker.
type atom struct {
	start, end int  // byte range in the text
	width      int  // UTF-16 code units after entity parsing
	brk        int  // priority of a cut right after this atom
	visible    bool // shows a character other than whitespace
	closing    bool // ends markup: a cut right before it moves after it
}

// utf16Width is the number of UTF-16 code units of r.
func utf16Width(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}

// whitespaceBreak returns the break priority after rune r at byte i of s.
func whitespaceBreak(s string, i int, r rune) int {
	switch r {
	case '\n':
		if i > 0 && s[i-1] == '\n' {
			return brkParagraph
		}
		return brkLine
	case ' ', '\t':
		return brkWord
	}
	return brkHard
}

// Split cuts text into parts of at most limit UTF-16 code units each, as
// Telegram measures them (after entity parsing for parse modes
// "MarkdownV2", "HTML" and "Markdown"), preferring to cut after a paragraph
// break, then a line break, then a space, and never inside a character, a
// surrogate pair, an escape sequence, an HTML tag (quoted attribute values
// may hold '>') or entity.
//
// No part is only whitespace after entity parsing (Telegram rejects such a
// message as empty): whitespace that a cut would leave alone joins the
// part before or after it when it fits, else it is dropped (Telegram trims
// it from a message anyway). Plain text parts therefore concatenate back
// to text but for such dropped whitespace, and the visible texts of markup
// parts concatenate back to the visible text of the whole in the same way.
// HTML parts are closed and reopened across a cut (a part ends with the
// closing tags of the elements still open and the next part starts with
// their opening tags), so every part is well-formed. Markdown parts are cut
// only outside any inline entity; when no such place exists within the
// limit Split returns ErrCannotSplit. A MarkdownV2 blockquote may be cut: the
// part before the cut ends the quote (with the "||" mark when the quote is
// expandable) and the part after reopens it with ">". Lengths after entity
// parsing are approximated from the markup, erring on the long side. A
// text that fits is returned as the only part; a text without any visible
// character is ErrInvalidText.
//
// Split allocates little beyond its result: it tokenizes the text as it
// goes rather than keeping a token per character.
func Split(text, parseMode string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit %d", ErrInvalidText, limit)
	}
	if text == "" {
		return nil, fmt.Errorf("%w: empty text", ErrInvalidText)
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidText)
	}
	if parseMode == "" && len(text) <= limit {
		// Fast path for the common short plain text: a rune takes at
		// least as many bytes as UTF-16 units, so it fits.
		if strings.IndexFunc(text, isVisible) < 0 {
			return nil, fmt.Errorf("%w: no visible text", ErrInvalidText)
		}
		return []string{text}, nil
	}
	tz := tokenizer{s: text}
	switch strings.ToLower(parseMode) {
	case "":
		tz.mode = modePlain
	case "html":
		tz.mode = modeHTML
	case "markdownv2":
		tz.mode = modeMarkdownV2
	case "markdown":
		tz.mode = modeMarkdown
	default:
		return nil, fmt.Errorf("%w: unknown parse mode %q", ErrInvalidText, parseMode)
	}
	tz.reset()
	total, visible := 0, false
	for {
		a, ok := tz.next()
		if !ok {
			break
		}
		total += a.width
		visible = visible || a.visible
	}
	if !visible {
		return nil, fmt.Errorf("%w: no visible text", ErrInvalidText)
	}
	if total <= limit {
		return []string{text}, nil
	}
	tz.reset()
	pieces, err := cutPieces(&tz, limit)
	if err != nil {
		return nil, err
	}
	pieces = joinBlank(pieces, limit)
	if tz.mode == modeMarkdownV2 {
		escapeMovedQuoteMarks(text, pieces)
	}
	return renderPieces(text, pieces), nil
}

// piece is a part being built: the byte range of text it holds, the
// markup written before and after that range so that the part stands on
// its own, its UTF-16 width and whether it shows anything but whitespace.
type piece struct {
	start, end     int
	prefix, closer string
	closerBeforeLF bool // the closer goes before the final line break
	width          int
	visible        bool
}

// cutPoint is a place where a part may end.
type cutPoint struct {
	pos, width int // byte offset in the text; width of the part up to it
	visible    bool
}

// cutPieces cuts the text of tz (reset) into pieces of at most limit.
func cutPieces(tz *tokenizer, limit int) ([]piece, error) {
	var (
		pieces  []piece
		prefix  string
		saved   []tagRef // the open HTML tags at the start of the part
		quoteAt = -1     // start of the last quote whose kind is known
		quoteX  bool     // whether that quote is expandable
	)
	for tz.pos < len(tz.s) {
		start, startMD := tz.pos, tz.md
		saved = append(saved[:0], tz.open...)
		var best [brkParagraph + 1]cutPoint
		latest := cutPoint{pos: -1}
		w, vis, atEnd := 0, false, false
		for {
			a, ok := tz.next()
			if !ok {
				atEnd = true
				break
			}
			if w+a.width > limit {
				break
			}
			w += a.width
			vis = vis || a.visible
			if a.brk >= brkHard {
				best[a.brk] = cutPoint{pos: a.end, width: w, visible: vis}
				latest = best[a.brk]
			}
		}
		if atEnd {
			pieces = append(pieces, piece{start: start, end: len(tz.s), prefix: prefix, width: w, visible: vis})
			break
		}
		cut := cutPoint{pos: -1}
		for b := brkParagraph; b >= brkWord; b-- {
			if best[b].pos > start && best[b].width*2 >= limit {
				cut = best[b]
				break
			}
		}
		if cut.pos < 0 {
			cut = latest
		}
		if cut.pos <= start {
			return nil, fmt.Errorf("%w: no allowed cut within %d UTF-16 units at byte %d", ErrCannotSplit, limit, start)
		}
		// Tokenize again from the part's start to the cut, for the markup
		// state there, and keep closing markup right after the cut in
		// this part.
		tz.pos, tz.md, tz.open = start, startMD, append(tz.open[:0], saved...)
		for tz.pos < cut.pos {
			tz.next()
		}
		for tz.closingNext() {
			tz.next()
		}
		p := piece{start: start, end: tz.pos, prefix: prefix, width: cut.width, visible: cut.visible}
		switch tz.mode {
		case modeHTML:
			p.closer, prefix = tz.htmlReopen()
		case modeMarkdownV2:
			if tz.md.quote == quoteOpen && tz.md.quoteStart != quoteAt {
				quoteAt, quoteX = tz.md.quoteStart, tz.quoteExpandable()
			}
			p.closer, p.closerBeforeLF, prefix = tz.quoteReopen(quoteX)
		default:
			prefix = ""
		}
		pieces = append(pieces, p)
	}
	return pieces, nil
}

// joinBlank merges each whitespace-only piece into the piece before it,
// else the one after it, when the result fits in limit, and drops it
// otherwise. At least one piece is visible. A merged piece keeps the
// prefix of its first piece and the closer of its last: the markup added
// between them at the cut is no longer needed.
func joinBlank(pieces []piece, limit int) []piece {
	out := pieces[:0:0]
	for i := 0; i < len(pieces); i++ {
		p := pieces[i]
		switch {
		case p.visible:
			out = append(out, p)
		case len(out) > 0 && out[len(out)-1].end == p.start && out[len(out)-1].width+p.width <= limit:
			last := &out[len(out)-1]
			last.end, last.closer, last.closerBeforeLF = p.end, p.closer, p.closerBeforeLF
			last.width += p.width
		case i+1 < len(pieces) && p.width+pieces[i+1].width <= limit:
			next := &pieces[i+1]
			next.start, next.prefix = p.start, p.prefix
			next.width += p.width
		}
	}
	return out
}

// renderPieces writes out the text of each piece.
// escapeMovedQuoteMarks escapes a literal '>' that a cut moved from the
// middle of a line to the start of a part, where Telegram would read it
// as a blockquote mark (and a part of only ">" as empty), also right after
// the ">" that reopens a quote the cut went through. The escape adds
// no width after entity parsing.
func escapeMovedQuoteMarks(text string, pieces []piece) {
	for i := range pieces {
		p := &pieces[i]
		if p.start > 0 && p.start < len(text) && text[p.start] == '>' && text[p.start-1] != '\n' {
			p.prefix += `\` // after a reopened quote's ">", if any
		}
	}
}

func renderPieces(text string, pieces []piece) []string {
	parts := make([]string, len(pieces))
	for i, p := range pieces {
		body := text[p.start:p.end]
		if p.prefix == "" && p.closer == "" {
			parts[i] = body
			continue
		}
		tail := ""
		if p.closerBeforeLF {
			body, tail = body[:len(body)-1], "\n"
		}
		var b strings.Builder
		b.Grow(len(p.prefix) + len(body) + len(p.closer) + len(tail))
		b.WriteString(p.prefix)
		b.WriteString(body)
		b.WriteString(p.closer)
		b.WriteString(tail)
		parts[i] = b.String()
	}
	return parts
}

// isVisible reports whether r shows in a plain-text message.
func isVisible(r rune) bool { return !unicode.IsSpace(r) }

// Parse modes of a tokenizer.
const (
	modePlain = iota
	modeHTML
	modeMarkdownV2
	modeMarkdown
)

// tokenizer yields the atoms of a text one at a time, keeping only the
// markup state (open HTML tags, open Markdown entities) between them.
type tokenizer struct {
	s    string
	mode int
	pos  int
	open []tagRef // HTML: the open tags, innermost last
	md   mdState  // Markdown
}

// tagRef is an open HTML tag: the byte range of its start tag and of its
// name.
type tagRef struct {
	start, nameEnd, end int
}

// reset moves the tokenizer to the start of its text.
func (t *tokenizer) reset() {
	t.pos, t.open, t.md = 0, t.open[:0], mdState{canQuote: true}
}

// next returns the next atom and advances past it; false at the end.
func (t *tokenizer) next() (atom, bool) {
	if t.pos >= len(t.s) {
		return atom{}, false
	}
	var a atom
	switch t.mode {
	case modeHTML:
		a = t.nextHTML()
	case modeMarkdownV2, modeMarkdown:
		a = t.nextMarkdown()
	default:
		r, size := utf8.DecodeRuneInString(t.s[t.pos:])
		a = atom{start: t.pos, end: t.pos + size, width: utf16Width(r), brk: whitespaceBreak(t.s, t.pos, r), visible: isVisible(r)}
	}
	t.pos = a.end
	return a, true
}

// closingNext reports whether the next atom is closing markup.
func (t *tokenizer) closingNext() bool {
	switch t.mode {
	case modeHTML:
		_, ok := htmlEndTag(t.s, t.pos)
		return ok
	case modeMarkdownV2:
		return t.quoteMarkAt(t.pos)
	}
	return false
}

// nextHTML tokenizes Telegram HTML: tags are zero-width atoms that push
// and pop the open tags, entities are one atom of their decoded width.
func (t *tokenizer) nextHTML() atom {
	s, i := t.s, t.pos
	switch s[i] {
	case '<':
		if end, ok := htmlEndTag(s, i); ok {
			name := s[i+2 : htmlNameEnd(s, i+2)]
			for k := len(t.open) - 1; k >= 0; k-- {
				if o := t.open[k]; name == "" || strings.EqualFold(s[o.start+1:o.nameEnd], name) {
					t.open = t.open[:k]
					break
				}
			}
			return atom{start: i, end: end, brk: brkHard, closing: true}
		}
		if nameEnd, end := htmlStartTag(s, i); end > 0 {
			t.open = append(t.open, tagRef{start: i, nameEnd: nameEnd, end: end})
			return atom{start: i, end: end, brk: brkNever}
		}
	case '&':
		if w, n, vis := htmlEntity(s[i:]); n > 0 {
			return atom{start: i, end: i + n, width: w, brk: brkHard, visible: vis}
		}
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return atom{start: i, end: i + size, width: utf16Width(r), brk: whitespaceBreak(s, i, r), visible: !unicode.IsSpace(r)}
}

// htmlReopen returns the closing tags of the open elements (innermost
// first) and their start tags to reopen them (outermost first).
func (t *tokenizer) htmlReopen() (closers, openers string) {
	if len(t.open) == 0 {
		return "", ""
	}
	var c, o strings.Builder
	for k := len(t.open) - 1; k >= 0; k-- {
		name := t.s[t.open[k].start+1 : t.open[k].nameEnd]
		c.WriteString("</")
		for j := 0; j < len(name); j++ {
			b := name[j]
			if b >= 'A' && b <= 'Z' {
				b += 'a' - 'A'
			}
			c.WriteByte(b)
		}
		c.WriteByte('>')
	}
	for _, tag := range t.open {
		o.WriteString(t.s[tag.start:tag.end])
	}
	return c.String(), o.String()
}

// isHTMLSpace reports whether Telegram's HTML parser takes c as a space.
func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == 0
}

// htmlNameEnd returns the end of the tag name starting at s[i]: Telegram
// reads it up to a space or '>'.
func htmlNameEnd(s string, i int) int {
	for i < len(s) && !isHTMLSpace(s[i]) && s[i] != '>' {
		i++
	}
	return i
}

// htmlEndTag returns the end of the end tag ("</b>", "</b >", "</>") at
// s[i], if there is one.
func htmlEndTag(s string, i int) (int, bool) {
	if !strings.HasPrefix(s[i:], "</") {
		return 0, false
	}
	k := htmlNameEnd(s, i+2)
	if k > i+2 && !isTagName(s[i+2:k]) {
		return 0, false
	}
	for k < len(s) && isHTMLSpace(s[k]) {
		k++
	}
	if k >= len(s) || s[k] != '>' {
		return 0, false
	}
	return k + 1, true
}

// htmlStartTag returns the end of the name and of the start tag at s[i]
// (end 0 when there is none), reading attributes as Telegram does: a
// quoted value runs to its closing quote, '>' included.
func htmlStartTag(s string, i int) (nameEnd, end int) {
	nameEnd = htmlNameEnd(s, i+1)
	if !isTagName(s[i+1 : nameEnd]) {
		return 0, 0
	}
	k := nameEnd
	for {
		for k < len(s) && isHTMLSpace(s[k]) {
			k++
		}
		if k >= len(s) {
			return 0, 0
		}
		if s[k] == '>' {
			return nameEnd, k + 1
		}
		a := k
		for k < len(s) && !isHTMLSpace(s[k]) && !strings.ContainsRune("=>/\"'", rune(s[k])) {
			k++
		}
		if k == a {
			return 0, 0
		}
		for k < len(s) && isHTMLSpace(s[k]) {
			k++
		}
		if k >= len(s) || s[k] != '=' {
			continue
		}
		k++
		for k < len(s) && isHTMLSpace(s[k]) {
			k++
		}
		if k >= len(s) {
			return 0, 0
		}
		if q := s[k]; q == '"' || q == '\'' {
			e := strings.IndexByte(s[k+1:], q)
			if e < 0 {
				return 0, 0
			}
			k += e + 2
			continue
		}
		for k < len(s) && !isHTMLSpace(s[k]) && s[k] != '>' {
			k++
		}
	}
}

// isTagName reports whether s is a tag name.
func isTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// htmlEntity recognises an entity (&amp; &#123; &#x1F600;) at the start of
// s and returns its decoded UTF-16 width, byte length (0 when none) and
// whether it shows a character other than whitespace (named entities are
// taken as visible).
func htmlEntity(s string) (int, int, bool) {
	j := strings.IndexByte(s, ';')
	if j < 2 || j > 32 {
		return 0, 0, false
	}
	body := s[1:j]
	if num, ok := strings.CutPrefix(body, "#"); ok {
		base := 10
		if len(num) > 0 && (num[0] == 'x' || num[0] == 'X') {
			num, base = num[1:], 16
		}
		v, err := strconv.ParseUint(num, base, 32)
		if err != nil {
			return 0, 0, false
		}
		vis := v > unicode.MaxRune || !unicode.IsSpace(rune(v))
		if v >= 0x10000 {
			return 2, j + 1, vis
		}
		return 1, j + 1, vis
	}
	for _, c := range []byte(body) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return 0, 0, false
		}
	}
	return 1, j + 1, true
}

// Markdown toggles (bits of mdState.toggles).
const (
	mdBold = 1 << iota
	mdItalic
	mdUnderline
	mdStrike
	mdSpoiler
)

// Blockquote states of a MarkdownV2 tokenizer.
const (
	quoteNone   = iota
	quoteOpen   // inside a "> " blockquote
	quoteEnding // after the "||" that makes it expandable, before its line break
)

// mdState is the entity state of a Markdown tokenizer.
type mdState struct {
	toggles    uint8 // mdBold | mdItalic ...
	code       bool  // inside `code`
	pre        bool  // inside ```pre```
	url        bool  // inside ( ) after ]
	linkText   int   // depth inside [ ]
	canQuote   bool  // a '>' here starts or continues a blockquote
	quote      int   // quoteNone, quoteOpen, quoteEnding
	quoteStart int   // byte offset of the '>' that opened the quote
}

// inside reports whether any inline entity is open.
func (st *mdState) inside() bool {
	return st.toggles != 0 || st.code || st.pre || st.linkText > 0 || st.url
}

// legacyCloser returns the marker that closes the entity open in legacy
// Markdown ("" when none, or in MarkdownV2, or inside a link's URL).
func (st *mdState) legacyCloser(legacy bool) string {
	switch {
	case !legacy || st.url:
		return ""
	case st.pre:
		return "```"
	case st.code:
		return "`"
	case st.linkText > 0:
		return "]"
	case st.toggles&mdBold != 0:
		return "*"
	case st.toggles&mdItalic != 0:
		return "_"
	}
	return ""
}

// quoteEndsAt reports whether a blockquote ends at s[i]: a line break not
// followed by '>' (outside code), or the end of the text.
func quoteEndsAt(s string, i int) bool {
	return i >= len(s) || s[i] == '\n' && (i+1 == len(s) || s[i+1] != '>')
}

// quoteMarkAt reports whether s[i:] starts with the "||" that makes the
// open MarkdownV2 blockquote expandable: one that opens no spoiler and
// ends the quote's last line (Telegram also takes "||\r\n").
func (t *tokenizer) quoteMarkAt(i int) bool {
	st, s := &t.md, t.s
	if t.mode != modeMarkdownV2 || st.quote != quoteOpen || st.toggles&mdSpoiler != 0 || st.code || st.pre || st.url ||
		!strings.HasPrefix(s[i:], "||") {
		return false
	}
	j := i + 2
	if j < len(s) && s[j] == '\r' && j+1 < len(s) && s[j+1] == '\n' {
		j++
	}
	return quoteEndsAt(s, j)
}

// quoteExpandable reports whether the blockquote open at the tokenizer's
// position ends with the expandable mark, reading ahead to its end.
func (t *tokenizer) quoteExpandable() bool {
	ahead := tokenizer{s: t.s, mode: t.mode, pos: t.pos, md: t.md}
	for ahead.md.quote == quoteOpen {
		if _, ok := ahead.next(); !ok {
			break
		}
	}
	return ahead.md.quote == quoteEnding
}

// quoteReopen returns the markup that ends an open MarkdownV2 blockquote
// at a cut at the tokenizer's position, whether it goes before the line
// break that ends the part, and the markup that reopens the quote after
// the cut.
func (t *tokenizer) quoteReopen(expandable bool) (closer string, beforeLF bool, opener string) {
	s, i := t.s, t.pos
	if t.md.quote != quoteOpen || quoteEndsAt(s, i) {
		// Not in a quote, or only its ending line break (and the mark,
		// already in this part) is left.
		return "", false, ""
	}
	if expandable {
		closer = "||"
	}
	if lineBreakBefore(s, i) {
		// The mark must end the line; the next line starts with its own '>'.
		return closer, true, ""
	}
	return closer, false, ">"
}

// lineBreakBefore reports whether s[i-1] is a line break that is not
// escaped (an odd run of backslashes before it escapes it).
func lineBreakBefore(s string, i int) bool {
	if i == 0 || s[i-1] != '\n' {
		return false
	}
	n := 0
	for k := i - 2; k >= 0 && s[k] == '\\'; k-- {
		n++
	}
	return n%2 == 0
}

// nextMarkdown tokenizes MarkdownV2 (legacy Markdown in mode modeMarkdown)
// as Telegram does: markers are zero-width, escapes are one atom, and cuts
// are allowed only where no inline entity is open.
func (t *tokenizer) nextMarkdown() atom {
	s, i := t.s, t.pos
	r, size := utf8.DecodeRuneInString(s[i:])
	if closer := t.md.legacyCloser(t.mode == modeMarkdown); closer != "" && !strings.HasPrefix(s[i:], closer) {
		// Legacy entities do not nest and know no escapes: all but the
		// closing marker is text.
		return t.mdAtom(i+size, utf16Width(r), brkHard)
	}
	if r == '\\' && i+1 < len(s) {
		return t.mdEscape()
	}
	if a, ok := t.mdMarker(r, size); ok {
		return a
	}
	return t.mdText(r, size)
}

// mdAtom returns the Markdown atom from the tokenizer's position to end, of
// the given width: it allows the break plainBrk only outside entities and
// outside a blockquote's ending mark.
func (t *tokenizer) mdAtom(end, width, plainBrk int) atom {
	s, i := t.s, t.pos
	brk := plainBrk
	if t.md.inside() || t.md.quote == quoteEnding {
		brk = brkNever
	}
	vis := false
	if width > 0 {
		r, _ := utf8.DecodeRuneInString(s[i:end])
		if r == '\\' && end-i > 1 {
			r, _ = utf8.DecodeRuneInString(s[i+1 : end])
		}
		vis = width > utf16Width(r) || !unicode.IsSpace(r) // a backslash shown in code is visible
	}
	return atom{start: i, end: end, width: width, brk: brk, visible: vis}
}

// mdEscape returns the escape (a backslash and the character after it) at
// the tokenizer's position.
func (t *tokenizer) mdEscape() atom {
	s, i, st := t.s, t.pos, &t.md
	r2, size2 := utf8.DecodeRuneInString(s[i+1:])
	w := utf16Width(r2)
	if (st.code || st.pre) && r2 != '`' && r2 != '\\' {
		w++ // the backslash stays visible in code
	} else if t.mode == modeMarkdown && !strings.ContainsRune("_*`[", r2) {
		w++ // legacy Markdown escapes only these: the backslash shows
	}
	if r2 != '\r' {
		st.canQuote = r2 == '\n'
	}
	return t.mdAtom(i+1+size2, w, brkHard)
}

// mdMarker returns the marker atom at the tokenizer's position, whose first
// rune is r of size bytes, updating the open entities; ok is false when r is
// text there.
func (t *tokenizer) mdMarker(r rune, size int) (_ atom, ok bool) {
	s, i, st := t.s, t.pos, &t.md
	legacy := t.mode == modeMarkdown
	rest := s[i:]
	switch {
	case st.pre:
		if strings.HasPrefix(rest, "```") {
			st.pre = false
			return t.mdAtom(i+3, 0, brkHard), true
		}
	case st.code:
		if r == '`' {
			st.code = false
			return t.mdAtom(i+1, 0, brkHard), true
		}
	case st.url:
		if r == ')' {
			st.url = false
			return t.mdAtom(i+1, 0, brkHard), true
		}
		return t.mdAtom(i+size, 0, brkNever), true
	case strings.HasPrefix(rest, "```"):
		st.pre = true
		return t.mdAtom(i+3, 0, brkNever), true
	case r == '`':
		st.code = true
		return t.mdAtom(i+1, 0, brkNever), true
	case r == '[':
		st.linkText++
		return t.mdAtom(i+1, 0, brkNever), true
	case r == ']' && st.linkText > 0:
		st.linkText--
		if strings.HasPrefix(s[i+1:], "(") {
			st.url = true
			return t.mdAtom(i+2, 0, brkNever), true
		}
		return t.mdAtom(i+1, 0, brkHard), true
	case t.quoteMarkAt(i):
		st.quote = quoteEnding
		if st.inside() {
			return atom{start: i, end: i + 2, brk: brkNever}, true // markup Telegram rejects anyway
		}
		return atom{start: i, end: i + 2, brk: brkHard, closing: true}, true
	case !legacy && (strings.HasPrefix(rest, "__") || strings.HasPrefix(rest, "||")):
		if rest[0] == '_' {
			st.toggles ^= mdUnderline
		} else {
			st.toggles ^= mdSpoiler
		}
		return t.mdAtom(i+2, 0, brkHard), true
	case r == '*' || r == '_' || (!legacy && r == '~'):
		switch r {
		case '*':
			st.toggles ^= mdBold
		case '_':
			st.toggles ^= mdItalic
		default:
			st.toggles ^= mdStrike
		}
		return t.mdAtom(i+1, 0, brkHard), true
	case !legacy && r == '>' && st.canQuote:
		if st.quote == quoteNone {
			st.quote, st.quoteStart = quoteOpen, i
		}
		return t.mdAtom(i+1, 0, brkNever), true
	}
	return atom{}, false
}

// mdText returns the character of text r (of size bytes) at the tokenizer's
// position, tracking where a blockquote may start or ends.
func (t *tokenizer) mdText(r rune, size int) atom {
	s, i, st := t.s, t.pos, &t.md
	switch {
	case st.code || st.pre || t.mode == modeMarkdown:
		if r != '\r' {
			st.canQuote = false
		}
	case r == '\n':
		st.canQuote = true
		if st.quote != quoteNone && quoteEndsAt(s, i) {
			st.quote = quoteNone
		}
	case r != '\r':
		st.canQuote = false
	}
	return t.mdAtom(i+size, utf16Width(r), whitespaceBreak(s, i, r))
}

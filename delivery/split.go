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
	closing    bool
	open       *tagStack // HTML tags open after this atom
}

// tagStack is an immutable stack of open HTML tags.
type tagStack struct {
	name, raw string
	parent    *tagStack
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
// surrogate pair, an escape sequence, an HTML tag or entity.
//
// No part is only whitespace after entity parsing (Telegram rejects such a
// message as empty): whitespace that a cut would leave alone joins the
// part before or after it when it fits, else it is dropped (Telegram trims
// it from a message anyway). Plain text parts therefore concatenate back
// to text but for such dropped whitespace. HTML parts are closed and
// reopened across a cut (a part ends with the closing tags of the elements
// still open and the next part starts with their opening tags), so every
// part is well-formed. Markdown parts are cut only outside any entity;
// when no such place exists within the limit Split returns ErrCannotSplit.
// Lengths after entity parsing are approximated from the markup, erring on
// the long side. A text that fits is returned as the only part; a text
// without any visible character is ErrInvalidText.
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
	var atoms []atom
	html := false
	switch strings.ToLower(parseMode) {
	case "":
		atoms = plainAtoms(text)
	case "html":
		atoms, html = htmlAtoms(text), true
	case "markdownv2":
		atoms = markdownAtoms(text, false)
	case "markdown":
		atoms = markdownAtoms(text, true)
	default:
		return nil, fmt.Errorf("%w: unknown parse mode %q", ErrInvalidText, parseMode)
	}
	total, visible := 0, false
	for _, a := range atoms {
		total += a.width
		visible = visible || a.visible
	}
	if !visible {
		return nil, fmt.Errorf("%w: no visible text", ErrInvalidText)
	}
	if total <= limit {
		return []string{text}, nil
	}
	var parts []piece
	prefix := ""
	start := 0
	for start < len(atoms) {
		var best [brkParagraph + 1]int
		var bestW [brkParagraph + 1]int
		latest := -1
		w, end := 0, start
		for end < len(atoms) && w+atoms[end].width <= limit {
			w += atoms[end].width
			end++
			if b := atoms[end-1].brk; b >= brkHard {
				best[b], bestW[b] = end, w
				latest = end
			}
		}
		if end == len(atoms) {
			parts = append(parts, newPiece(prefix+text[atoms[start].start:], atoms[start:]))
			break
		}
		cut := -1
		for b := brkParagraph; b >= brkWord; b-- {
			if best[b] > start && bestW[b]*2 >= limit {
				cut = best[b]
				break
			}
		}
		if cut < 0 {
			cut = latest
		}
		if cut <= start {
			return nil, fmt.Errorf("%w: no allowed cut within %d UTF-16 units at byte %d", ErrCannotSplit, limit, atoms[start].start)
		}
		// Keep closing tags right after the cut in this part.
		for cut < len(atoms) && atoms[cut].closing {
			cut++
		}
		part := prefix + text[atoms[start].start:atoms[cut-1].end]
		prefix = ""
		if html {
			var closers, openers []string
			for t := atoms[cut-1].open; t != nil; t = t.parent {
				closers = append(closers, "</"+t.name+">")
				openers = append([]string{t.raw}, openers...)
			}
			part += strings.Join(closers, "")
			prefix = strings.Join(openers, "")
		}
		parts = append(parts, newPiece(part, atoms[start:cut]))
		start = cut
	}
	return joinBlank(parts, limit), nil
}

// piece is a part being built: its text, UTF-16 width and whether it shows
// anything but whitespace.
type piece struct {
	text    string
	width   int
	visible bool
}

// newPiece returns the piece of text made of atoms.
func newPiece(text string, atoms []atom) piece {
	p := piece{text: text}
	for _, a := range atoms {
		p.width += a.width
		p.visible = p.visible || a.visible
	}
	return p
}

// joinBlank merges each whitespace-only piece into the piece before it,
// else the one after it, when the result fits in limit, and drops it
// otherwise. At least one piece is visible.
func joinBlank(pieces []piece, limit int) []string {
	var out []piece
	for i := 0; i < len(pieces); i++ {
		p := pieces[i]
		switch {
		case p.visible:
			out = append(out, p)
		case len(out) > 0 && out[len(out)-1].width+p.width <= limit:
			last := &out[len(out)-1]
			last.text += p.text
			last.width += p.width
		case i+1 < len(pieces) && p.width+pieces[i+1].width <= limit:
			next := &pieces[i+1]
			next.text = p.text + next.text
			next.width += p.width
		}
	}
	parts := make([]string, len(out))
	for i, p := range out {
		parts[i] = p.text
	}
	return parts
}

// plainAtoms makes one atom per rune.
func plainAtoms(s string) []atom {
	atoms := make([]atom, 0, len(s))
	for i, r := range s {
		size := utf8.RuneLen(r)
		atoms = append(atoms, atom{start: i, end: i + size, width: utf16Width(r), brk: whitespaceBreak(s, i, r),
			visible: isVisible(r)})
	}
	return atoms
}

// isVisible reports whether r shows in a plain-text message.
func isVisible(r rune) bool { return !unicode.IsSpace(r) }

// htmlAtoms tokenizes Telegram HTML: tags are zero-width atoms that push
// and pop the open-tag stack, entities are one atom of their decoded width.
func htmlAtoms(s string) []atom {
	var atoms []atom
	var open *tagStack
	for i := 0; i < len(s); {
		c := s[i]
		if c == '<' {
			if j := strings.IndexByte(s[i:], '>'); j > 1 {
				raw := s[i : i+j+1]
				body := raw[1 : len(raw)-1]
				if name, ok := strings.CutPrefix(body, "/"); ok && isTagName(name) {
					name = strings.ToLower(strings.TrimSpace(name))
					for t := open; t != nil; t = t.parent {
						if t.name == name {
							open = t.parent
							break
						}
					}
					atoms = append(atoms, atom{start: i, end: i + j + 1, brk: brkHard, closing: true, open: open})
					i += j + 1
					continue
				}
				if name := tagName(body); name != "" {
					open = &tagStack{name: name, raw: raw, parent: open}
					atoms = append(atoms, atom{start: i, end: i + j + 1, brk: brkNever, open: open})
					i += j + 1
					continue
				}
			}
		}
		if c == '&' {
			if w, n, vis := htmlEntity(s[i:]); n > 0 {
				atoms = append(atoms, atom{start: i, end: i + n, width: w, brk: brkHard, visible: vis, open: open})
				i += n
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		atoms = append(atoms, atom{start: i, end: i + size, width: utf16Width(r), brk: whitespaceBreak(s, i, r),
			visible: !unicode.IsSpace(r), open: open})
		i += size
	}
	return atoms
}

// isTagName reports whether s (the text after "</") is a tag name.
func isTagName(s string) bool {
	s = strings.TrimSpace(s)
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

// tagName returns the lower-case name of an opening tag body ("b",
// `a href="..."`), or "" when body is not one.
func tagName(body string) string {
	end := len(body)
	for i, c := range []byte(body) {
		if c == ' ' || c == '\t' || c == '\n' {
			end = i
			break
		}
	}
	if end == 0 || !isTagName(body[:end]) {
		return ""
	}
	return strings.ToLower(body[:end])
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
		if h, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
			num, base = h, 16
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

// mdState is the entity state of a Markdown tokenizer.
type mdState struct {
	toggles  map[string]bool // "*", "_", "__", "~", "||"
	code     bool            // inside `code`
	pre      bool            // inside ```pre```
	linkText int             // depth inside [ ]
	url      bool            // inside ( ) after ]
}

// inside reports whether any entity is open.
func (st *mdState) inside() bool {
	if st.code || st.pre || st.linkText > 0 || st.url {
		return true
	}
	for _, on := range st.toggles {
		if on {
			return true
		}
	}
	return false
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
	case st.toggles["*"]:
		return "*"
	case st.toggles["_"]:
		return "_"
	}
	return ""
}

// markdownAtoms tokenizes MarkdownV2 (legacy Markdown when legacy): markers
// are zero-width, escapes are one atom, and cuts are allowed only where no
// entity is open.
func markdownAtoms(s string, legacy bool) []atom {
	st := mdState{toggles: map[string]bool{}}
	var atoms []atom
	add := func(start, end, width int, plainBrk int) {
		brk := plainBrk
		if st.inside() {
			brk = brkNever
		}
		vis := false
		if width > 0 {
			r, _ := utf8.DecodeRuneInString(s[start:end])
			if r == '\\' && end-start > 1 {
				r, _ = utf8.DecodeRuneInString(s[start+1 : end])
			}
			vis = width > utf16Width(r) || !unicode.IsSpace(r) // a backslash shown in code is visible
		}
		atoms = append(atoms, atom{start: start, end: end, width: width, brk: brk, visible: vis})
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		rest := s[i:]
		if closer := st.legacyCloser(legacy); closer != "" && !strings.HasPrefix(rest, closer) {
			// Legacy entities do not nest and know no escapes: all but
			// the closing marker is text.
			add(i, i+size, utf16Width(r), brkHard)
			i += size
			continue
		}
		switch {
		case r == '\\' && i+1 < len(s):
			r2, size2 := utf8.DecodeRuneInString(s[i+1:])
			w := utf16Width(r2)
			if (st.code || st.pre) && r2 != '`' && r2 != '\\' {
				w++ // the backslash stays visible in code
			} else if legacy && !strings.ContainsRune("_*`[", r2) {
				w++ // legacy Markdown escapes only these: the backslash shows
			}
			add(i, i+1+size2, w, brkHard)
			i += 1 + size2
			continue
		case st.pre:
			if strings.HasPrefix(rest, "```") {
				st.pre = false
				add(i, i+3, 0, brkHard)
				i += 3
				continue
			}
		case st.code:
			if r == '`' {
				st.code = false
				add(i, i+1, 0, brkHard)
				i++
				continue
			}
		case st.url:
			if r == ')' {
				st.url = false
				add(i, i+1, 0, brkHard)
				i++
				continue
			}
			add(i, i+size, 0, brkNever)
			i += size
			continue
		case strings.HasPrefix(rest, "```"):
			st.pre = true
			add(i, i+3, 0, brkNever)
			i += 3
			continue
		case r == '`':
			st.code = true
			add(i, i+1, 0, brkNever)
			i++
			continue
		case r == '[':
			st.linkText++
			add(i, i+1, 0, brkNever)
			i++
			continue
		case r == ']' && st.linkText > 0:
			st.linkText--
			if strings.HasPrefix(s[i+1:], "(") {
				st.url = true
				add(i, i+2, 0, brkNever)
				i += 2
				continue
			}
			add(i, i+1, 0, brkHard)
			i++
			continue
		case !legacy && (strings.HasPrefix(rest, "__") || strings.HasPrefix(rest, "||")):
			m := rest[:2]
			st.toggles[m] = !st.toggles[m]
			add(i, i+2, 0, brkHard)
			i += 2
			continue
		case r == '*' || r == '_' || (!legacy && r == '~'):
			m := string(r)
			st.toggles[m] = !st.toggles[m]
			add(i, i+1, 0, brkHard)
			i++
			continue
		case !legacy && r == '>' && (i == 0 || s[i-1] == '\n'):
			add(i, i+1, 0, brkNever)
			i++
			continue
		}
		add(i, i+size, utf16Width(r), whitespaceBreak(s, i, r))
		i += size
	}
	return atoms
}

package delivery_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

var (
	splitSeed  = flag.Uint64("split.seed", 0, "seed of TestSplitProperties (0: $SPLIT_SEED, else the time)")
	splitTexts = flag.Int("split.texts", 60, "texts per parse mode in TestSplitProperties")
)

// TestSplitProperties splits seeded random valid HTML and MarkdownV2 texts
// (nested entities, links with '>' and ')' in their URLs, escapes,
// blockquotes, expandable blockquotes, code and pre blocks, emoji and
// surrogate pairs) of up to 64 KiB and checks, for each:
//   - every part has at most 4096 UTF-16 units once parsed;
//   - every part parses (the fake Bot API stands in for Telegram);
//   - the parts' visible texts, concatenated, are the whole's visible text
//     less some whitespace: Split never adds, drops or reorders a visible
//     character, and drops whitespace only where a cut left a piece of
//     nothing but whitespace that fits with neither neighbour.
//
// The seed is logged; replay a failure with -split.seed=N (or SPLIT_SEED=N).
func TestSplitProperties(t *testing.T) {
	seed := *splitSeed
	if seed == 0 {
		if v, err := strconv.ParseUint(os.Getenv("SPLIT_SEED"), 10, 64); err == nil {
			seed = v
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	t.Logf("seed %d (replay: go test ./delivery -run TestSplitProperties -split.seed=%d)", seed, seed)
	deadline := time.Now().Add(6 * time.Second)
	texts, parts, total := 0, 0, 0
	defer func() { t.Logf("%d texts, %d bytes, %d parts", texts, total, parts) }()
	for _, mode := range []string{"HTML", "MarkdownV2"} {
		rng := rand.New(rand.NewPCG(seed, uint64(len(mode))))
		for n := 0; n < *splitTexts && time.Now().Before(deadline); n++ {
			size := 1 + rng.IntN(64<<10)
			if n%2 == 0 {
				size = 1 + rng.IntN(6000) // more texts near the limit
			}
			g := &markupGen{rng: rng, mode: mode}
			text := g.text(size)
			parts += checkSplitProperties(t, seed, n, text, mode)
			texts, total = texts+1, total+len(text)
			if t.Failed() {
				return
			}
		}
	}
}

// checkSplitProperties checks the properties of TestSplitProperties on one
// text and returns the number of parts.
func checkSplitProperties(t *testing.T, seed uint64, n int, text, mode string) int {
	t.Helper()
	whole, err := fakebot.PlainText(text, mode)
	if err != nil {
		t.Fatalf("seed %d text %d (%s, %d bytes): the generator made invalid markup: %v\n%s", seed, n, mode, len(text), err, clip(text))
	}
	parts, err := delivery.Split(text, mode, telegram.MaxMessageLen)
	if err != nil {
		t.Fatalf("seed %d text %d (%s, %d bytes): Split: %v", seed, n, mode, len(text), err)
	}
	var joined strings.Builder
	for i, p := range parts {
		plain, desc := sendPlain(p, mode)
		if desc != "" {
			t.Fatalf("seed %d text %d (%s): part %d of %d: %s\n%s", seed, n, mode, i, len(parts), desc, clip(p))
		}
		if u := telegram.UTF16Len(plain); u > telegram.MaxMessageLen {
			t.Fatalf("seed %d text %d (%s): part %d has %d UTF-16 units", seed, n, mode, i, u)
		}
		joined.WriteString(plain)
	}
	if at, ok := lessWhitespace(whole, joined.String()); !ok {
		t.Fatalf("seed %d text %d (%s): parts' visible text differs from the whole's at rune %d:\nwhole %q\nparts %q",
			seed, n, mode, at, clip(string([]rune(whole)[max(0, at-40):])), clip(string([]rune(joined.String())[max(0, at-40):])))
	}
	return len(parts)
}

// lessWhitespace reports whether got is want with some whitespace removed
// (nothing else); when not, it returns the rune index in want where they
// part.
func lessWhitespace(want, got string) (int, bool) {
	w, g := []rune(want), []rune(got)
	i := 0
	for _, r := range g {
		for i < len(w) && w[i] != r && unicode.IsSpace(w[i]) {
			i++
		}
		if i == len(w) || w[i] != r {
			return i, false
		}
		i++
	}
	for ; i < len(w); i++ {
		if !unicode.IsSpace(w[i]) {
			return i, false
		}
	}
	return 0, true
}

// clip shortens s for a failure message.
func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// sendPlain sends text to the oracle and returns the message's text as
// Telegram shows it, or Telegram's error description.
func sendPlain(text, mode string) (string, string) {
	o := theOracle()
	body, err := json.Marshal(telegram.SendMessageParams{ChatID: 1, Text: text, ParseMode: mode})
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/bot"+o.srv.Token()+"/sendMessage", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	o.h.ServeHTTP(rec, req)
	var r struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
		Result      struct {
			Text string `json:"text"`
		} `json:"result"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		return "", "unreadable answer: " + rec.Body.String()
	}
	if !r.OK {
		return "", r.Description
	}
	return r.Result.Text, ""
}

// markupGen generates valid Telegram HTML or MarkdownV2.
type markupGen struct {
	rng  *rand.Rand
	mode string
	b    strings.Builder
}

// Words of the generated texts: scripts, emoji (surrogate pairs, modifiers,
// ZWJ sequences) and a long word that forces a cut inside a word.
var genWords = []string{"alpha", "beta", "gamma", "delta", "notification", "сообщение", "日本語", "é", "😀", "👍🏽",
	"👨‍👩‍👧", "🏟", "x", "42", "supercalifragilisticexpialidociousandthensomemore"}

// text returns a text of about size bytes: paragraphs, blockquotes and pre
// blocks.
func (g *markupGen) text(size int) string {
	g.b.Reset()
	prevExpandable := false
	for g.b.Len() < size {
		if g.b.Len() > 0 {
			if g.rng.IntN(3) == 0 && !prevExpandable {
				g.b.WriteString("\n")
			} else {
				g.b.WriteString("\n\n")
			}
		}
		prevExpandable = false
		switch g.rng.IntN(6) {
		case 0, 1:
			prevExpandable = g.quote(size - g.b.Len())
		case 2:
			g.pre()
		default:
			lines := 1 + g.rng.IntN(4)
			for l := range lines {
				if l > 0 {
					g.b.WriteString("\n")
				}
				g.inline(3, 1+g.rng.IntN(30))
			}
		}
	}
	return g.b.String()
}

// quote writes a blockquote of lines (a long one now and then, longer than
// a message); it reports whether it is expandable.
func (g *markupGen) quote(room int) bool {
	lines := 1 + g.rng.IntN(6)
	if g.rng.IntN(8) == 0 {
		lines = 20 + g.rng.IntN(max(1, room/60))
	}
	expandable := g.rng.IntN(2) == 0
	if g.mode == "HTML" {
		if expandable {
			g.b.WriteString("<blockquote expandable>")
		} else {
			g.b.WriteString("<blockquote>")
		}
		for l := range lines {
			if l > 0 {
				g.b.WriteString("\n")
			}
			g.inline(2, 1+g.rng.IntN(12))
		}
		g.b.WriteString("</blockquote>")
		return false
	}
	if expandable && g.rng.IntN(2) == 0 {
		g.b.WriteString("**")
	}
	for l := range lines {
		if l > 0 {
			g.b.WriteString("\n")
		}
		g.b.WriteString(">")
		g.inline(2, 1+g.rng.IntN(12))
	}
	if expandable {
		g.b.WriteString("||")
	}
	return expandable
}

// pre writes a short code block.
func (g *markupGen) pre() {
	var code strings.Builder
	for range 1 + g.rng.IntN(5) {
		code.WriteString("x := a<b && c>d /* `q` \\ */ 😀\n")
	}
	body := code.String()
	if g.mode == "HTML" {
		g.b.WriteString(`<pre><code class="language-go">`)
		g.b.WriteString(strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(body))
		g.b.WriteString("</code></pre>")
		return
	}
	g.b.WriteString("```go\n")
	g.b.WriteString(strings.NewReplacer("\\", `\\`, "`", "\\`").Replace(body))
	g.b.WriteString("```")
}

// Inline entities of each mode: the markup before and after.
var (
	genHTMLTags = [][2]string{{"<b>", "</b>"}, {"<strong>", "</strong>"}, {"<i>", "</i>"}, {"<em>", "</em>"},
		{"<u>", "</u>"}, {"<ins>", "</ins>"}, {"<s>", "</s>"}, {"<del>", "</del>"}, {"<tg-spoiler>", "</tg-spoiler>"},
		{`<span class="tg-spoiler">`, "</span>"}, {`<a href="https://x.example/?q=a>b&amp;c=(d)">`, "</a>"},
		{`<a href='https://x.example/p>"q"'>`, "</a>"}, {`<code>`, "</code>"}}
	genMDTags = [][2]string{{"*", "*"}, {"_", "_"}, {"__", "__"}, {"~", "~"}, {"||", "||"},
		{"[", `](https://x.example/?q=a>b&c=\(d\))`}, {"[", "](https://x.example/)"}}
)

// inline writes n tokens of inline text, entities nested up to depth. Every
// entity holds words first and last, so no markers touch (MarkdownV2's
// "___" is ambiguous).
func (g *markupGen) inline(depth, n int) {
	for k := range n {
		if k > 0 {
			g.b.WriteString(" ")
		}
		switch r := g.rng.IntN(10); {
		case r == 0 && depth > 0:
			g.entity(depth - 1)
		case r == 1:
			g.code()
		case r == 2:
			g.escape()
		default:
			g.word()
		}
	}
}

// entity writes an inline entity around a few tokens.
func (g *markupGen) entity(depth int) {
	tags := genMDTags
	if g.mode == "HTML" {
		tags = genHTMLTags
	}
	tag := tags[g.rng.IntN(len(tags))]
	g.b.WriteString(tag[0])
	g.word()
	if tag[0] == "<code>" {
		g.b.WriteString("</code>")
		return
	}
	if n := g.rng.IntN(4); n > 0 {
		g.b.WriteString(" ")
		g.inline(depth, n)
	}
	g.b.WriteString(" ")
	g.word()
	g.b.WriteString(tag[1])
}

// word writes a word (escaped as the mode needs).
func (g *markupGen) word() {
	g.b.WriteString(genWords[g.rng.IntN(len(genWords))])
}

// code writes inline code.
func (g *markupGen) code() {
	if g.mode == "HTML" {
		g.b.WriteString("<code>a &lt;b&gt; &amp; `c`</code>")
		return
	}
	g.b.WriteString("`a <b> \\` \\\\ c.`")
}

// escape writes characters that need escaping, and character references.
func (g *markupGen) escape() {
	if g.mode == "HTML" {
		g.b.WriteString([]string{"&lt;", "&gt;", "&amp;", "&quot;", "&#128512;", "&#x41;", "a>b", "AT&T"}[g.rng.IntN(8)])
		return
	}
	g.b.WriteString([]string{`\.`, `\!`, `\>`, `\-`, `\(`, `\)`, `\_`, `\*`, `\|`, `\\`, `\#`, `1\.0`}[g.rng.IntN(12)])
}

package delivery_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

func ExampleSplit() {
	parts, err := delivery.Split("first paragraph\n\nsecond one is here", "", 24)
	if err != nil {
		panic(err)
	}
	for _, p := range parts {
		fmt.Printf("%q\n", p)
	}
	// Output:
	// "first paragraph\n\n"
	// "second one is here"
}

func ExampleSplit_html() {
	parts, err := delivery.Split("<b>bold words &amp; more</b>", "HTML", 12)
	if err != nil {
		panic(err)
	}
	for _, p := range parts {
		fmt.Printf("%q\n", p)
	}
	// Output:
	// "<b>bold words </b>"
	// "<b>&amp; more</b>"
}

func TestSplit(t *testing.T) {
	emoji := "😀" // 2 UTF-16 units
	tests := []struct {
		name, text, mode string
		limit            int
		want             []string
		wantErr          error
	}{
		{"fits", "hello", "", 5, []string{"hello"}, nil},
		{"word boundary", "hello brave world", "", 12, []string{"hello brave ", "world"}, nil},
		{"line beats word", "aaaa bbbb\ncc dd ee", "", 14, []string{"aaaa bbbb\n", "cc dd ee"}, nil},
		{"hard cut", "abcdefghij", "", 4, []string{"abcd", "efgh", "ij"}, nil},
		{"surrogate pair kept", "a" + emoji + emoji, "", 2, []string{"a", emoji, emoji}, nil},
		{"rune too wide", emoji, "", 1, nil, delivery.ErrCannotSplit},
		{"markdownv2 escape kept", `aaa\.bbb`, "MarkdownV2", 4, []string{`aaa\.`, "bbb"}, nil},
		{"markdownv2 entity not cut", "*bold text* tail", "MarkdownV2", 11, []string{"*bold text* ", "tail"}, nil},
		{"markdownv2 entity too long", "*aaaa bbbb*", "MarkdownV2", 5, nil, delivery.ErrCannotSplit},
		{"markdownv2 link url is free", "[ab](http://example.com/very/long) cd", "MarkdownV2", 3, []string{"[ab](http://example.com/very/long) ", "cd"}, nil},
		{"html entity kept", "ab&amp;cd", "HTML", 3, []string{"ab&amp;", "cd"}, nil},
		{"html reopen", `<a href="x">one two</a>`, "HTML", 4, []string{`<a href="x">one </a>`, `<a href="x">two</a>`}, nil},
		{"html nested", "<b><i>aa bb</i></b>", "HTML", 3, []string{"<b><i>aa </i></b>", "<b><i>bb</i></b>"}, nil},
		{"invalid utf8", "a\xffb", "", 10, nil, delivery.ErrInvalidText},
		{"bad limit", "a", "", 0, nil, delivery.ErrInvalidText},
		{"only whitespace", " \n\t ", "", 10, nil, delivery.ErrInvalidText},
		{"only no-break spaces", "\u00a0\u2003", "", 10, nil, delivery.ErrInvalidText},
		{"fits in bytes", "héllo", "", 6, []string{"héllo"}, nil},
		{"fits in units, not in bytes", "ééé", "", 3, []string{"ééé"}, nil},
		{"surrogate pair at the byte limit", emoji, "", 4, []string{emoji}, nil},
		{"only markup and whitespace", "<b> </b>&#32;&#x0a;", "HTML", 10, nil, delivery.ErrInvalidText},
		{"only markdown markers", "* *_\\ _", "MarkdownV2", 10, nil, delivery.ErrInvalidText},
		{"trailing whitespace after a cut is dropped", "aaaa  ", "", 4, []string{"aaaa"}, nil},
		{"trailing whitespace joins the last part", "aaa bbb  ", "", 6, []string{"aaa ", "bbb  "}, nil},
		{"blank paragraph is dropped", "aaaa\n\nbbbb", "", 4, []string{"aaaa", "bbbb"}, nil},
		{"leading whitespace joins the next part", "  \n\naaa bbbbbbb", "", 8, []string{"  \n\naaa ", "bbbbbbb"}, nil},
		{"leading whitespace too long is dropped", "  \n\naaaaaa", "", 8, []string{"aaaaaa"}, nil},
		{"html blank part joins", "<b>aaaa </b>bb", "HTML", 4, []string{"<b>aaaa</b>", "<b> </b>bb"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := delivery.Split(tc.text, tc.mode, tc.limit)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Split err = %v, want %v", err, tc.wantErr)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Fatalf("Split = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitLongTextPrefersParagraphs(t *testing.T) {
	para := strings.Repeat("word ", 300) // 1500 units
	text := strings.Join([]string{para, para, para, para}, "\n\n")
	parts, err := delivery.Split(text, "", telegram.MaxMessageLen)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || strings.Join(parts, "") != text {
		t.Fatalf("got %d parts", len(parts))
	}
	if !strings.HasSuffix(parts[0], "\n\n") {
		t.Fatalf("first part does not end at a paragraph: %q", parts[0][len(parts[0])-10:])
	}
}

// botOracle asks the fake Bot API, in process, what Telegram would answer
// to a sendMessage.
type botOracle struct {
	srv *fakebot.Server
	h   http.Handler
}

var (
	oracleOnce sync.Once
	oracle     *botOracle
)

// theOracle returns the shared oracle (one fake server per process).
func theOracle() *botOracle {
	oracleOnce.Do(func() {
		srv := fakebot.NewServer()
		srv.SendText(1, "u", "hi") // the bot knows chat 1
		oracle = &botOracle{srv: srv, h: srv.Handler()}
	})
	return oracle
}

// send returns Telegram's error description for text, "" when accepted.
func (o *botOracle) send(text, mode string) string {
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
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		return "unreadable answer: " + rec.Body.String()
	}
	if r.OK {
		return ""
	}
	return r.Description
}

// checkParts verifies the invariants of a successful split: parts are
// valid, fit, are not whitespace only for Telegram, and, when Telegram
// parses the whole text, each part parses too (no cut inside a tag, an
// entity or an escape).
func checkParts(t *testing.T, text, mode string, limit int, parts []string) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatal("no parts")
	}
	whole := theOracle().send(text, mode)
	wholeParses := !strings.Contains(whole, "can't parse entities")
	for i, p := range parts {
		if p == "" {
			t.Fatalf("part %d empty", i)
		}
		if !utf8.ValidString(p) {
			t.Fatalf("part %d invalid UTF-8", i)
		}
		if mode == "" && telegram.UTF16Len(p) > limit {
			t.Fatalf("part %d has %d UTF-16 units > %d", i, telegram.UTF16Len(p), limit)
		}
		if mode != "" && len(parts) > 1 {
			// Each part must itself fit when split again.
			again, err := delivery.Split(p, mode, limit)
			if !wholeParses && errors.Is(err, delivery.ErrInvalidText) {
				// Markup Telegram rejects anyway (an unterminated "<" may
				// swallow the closing tags added after it): no claim.
			} else if err != nil || len(again) != 1 {
				t.Fatalf("part %d %q does not fit in %d: %v %q", i, p, limit, err, again)
			}
		}
		desc := theOracle().send(p, mode)
		if strings.Contains(desc, "text is empty") && !strings.Contains(whole, "text is empty") {
			t.Fatalf("part %d %q is empty for Telegram: %s", i, p, desc)
		}
		if wholeParses && strings.Contains(desc, "can't parse entities") {
			t.Fatalf("part %d %q of a text Telegram parses does not parse: %s", i, p, desc)
		}
	}
	if mode == "" {
		joined := strings.Join(parts, "")
		if strings.Join(strings.Fields(joined), "") != strings.Join(strings.Fields(text), "") {
			t.Fatalf("concatenation differs beyond whitespace")
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("hello brave new world", "", 5)
	f.Add("para one\n\npara two\nline three", "", 9)
	f.Add("😀😀a😀 b", "", 3)
	f.Add(`*bold* _it_ \. [link](http://x) `+"`code`", "MarkdownV2", 6)
	f.Add("<b>bold <i>it</i></b> &amp; <a href=\"u\">link</a>", "HTML", 4)
	f.Add("*bold* _it_ [l](u) `c`", "Markdown", 4)
	f.Add("aaaa   \n\n   \n bbbb  ", "", 4)
	f.Add("<b>aa </b>   <i> b</i>&#32;&#32;c", "HTML", 3)
	f.Fuzz(func(t *testing.T, text, mode string, limit int) {
		if limit <= 0 || limit > 5000 || !utf8.ValidString(text) {
			return
		}
		switch mode {
		case "", "MarkdownV2", "HTML", "Markdown":
		default:
			return
		}
		parts, err := delivery.Split(text, mode, limit)
		if strings.TrimSpace(text) == "" {
			if !errors.Is(err, delivery.ErrInvalidText) {
				t.Fatalf("blank text: %v, want ErrInvalidText", err)
			}
			return
		}
		if errors.Is(err, delivery.ErrInvalidText) {
			// Only whitespace and markup: Telegram must find it empty too
			// (or reject its markup).
			if d := theOracle().send(text, mode); !strings.Contains(d, "text is empty") && !strings.Contains(d, "can't parse entities") {
				t.Fatalf("Split says no visible text, Telegram answers %q", d)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, delivery.ErrCannotSplit) {
				t.Fatalf("unexpected error %v", err)
			}
			if mode == "" && limit >= 2 {
				t.Fatalf("plain text with limit %d cannot be split: %v", limit, err)
			}
			return
		}
		checkParts(t, text, mode, limit, parts)
	})
}

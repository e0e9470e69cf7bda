package fakebot

import (
	"reflect"
	"testing"
)

type markupCase struct {
	name  string
	in    string
	plain string
	ents  []wireEntity
	err   string // error text without the "Bad Request: can't parse entities: " prefix
}

func runMarkup(t *testing.T, parse func(string) (string, []wireEntity, error), tests []markupCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain, ents, err := parse(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("parse(%q) error = %v, want %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.in, err)
			}
			if plain != tc.plain {
				t.Errorf("plain = %q, want %q", plain, tc.plain)
			}
			if len(ents) == 0 && len(tc.ents) == 0 {
				return
			}
			if !reflect.DeepEqual(ents, tc.ents) {
				t.Errorf("entities = %+v, want %+v", ents, tc.ents)
			}
		})
	}
}

func e(typ string, off, n int) wireEntity { return wireEntity{Type: typ, Offset: off, Length: n} }

func TestParseMarkdownV2(t *testing.T) {
	runMarkup(t, parseMarkdownV2, []markupCase{
		{name: "plain", in: "plain text", plain: "plain text"},
		{name: "empty", in: "", plain: ""},
		{name: "styles", in: "*bold* _italic_ __under__ ~strike~ ||spoiler||",
			plain: "bold italic under strike spoiler",
			ents:  []wireEntity{e("bold", 0, 4), e("italic", 5, 6), e("underline", 12, 5), e("strikethrough", 18, 6), e("spoiler", 25, 7)}},
		{name: "escapes", in: `Version 1\.0\-beta\! \(\#42\) \\ \_ \*`, plain: `Version 1.0-beta! (#42) \ _ *`},
		{name: "nested", in: "*bold _italic bold_*", plain: "bold italic bold",
			ents: []wireEntity{e("bold", 0, 16), e("italic", 5, 11)}},
		{name: "italic underline ambiguity", in: "🏟 🏟_🏟 __🏟___", plain: "🏟 🏟🏟 🏟",
			ents: []wireEntity{e("italic", 5, 5), e("underline", 8, 2)}},
		{name: "escaped star inside italic", in: `🏟 🏟_abac \* asd _`, plain: "🏟 🏟abac * asd ",
			ents: []wireEntity{e("italic", 5, 11)}},
		{name: "code with escapes", in: "`a \\` b . -`", plain: "a ` b . -", ents: []wireEntity{e("code", 0, 9)}},
		{name: "pre with language", in: "```go\nx := 1\n```", plain: "x := 1\n",
			ents: []wireEntity{{Type: "pre", Offset: 0, Length: 7, Language: "go"}}},
		{name: "empty code is dropped", in: "a``", plain: "a"},
		{name: "link", in: `[site](https://example.com/a\)b)`, plain: "site",
			ents: []wireEntity{{Type: "text_link", Offset: 0, Length: 4, URL: "https://example.com/a)b"}}},
		{name: "link without url", in: `[telegram\.org]`, plain: "telegram.org",
			ents: []wireEntity{{Type: "text_link", Offset: 0, Length: 12, URL: "telegram.org"}}},
		{name: "invalid link url is dropped", in: "[ ](as)", plain: " "},
		{name: "custom emoji", in: "![👍](tg://emoji?id=5368324170671202286)", plain: "👍",
			ents: []wireEntity{{Type: "custom_emoji", Offset: 0, Length: 2, CustomEmojiID: "5368324170671202286"}}},
		{name: "blockquote", in: ">quoted\n>more\nafter", plain: "quoted\nmore\nafter",
			ents: []wireEntity{e("blockquote", 0, 12)}},
		{name: "expandable blockquote", in: "**>asd\n>q||e||w||\nasdad", plain: "asd\nqew\nasdad",
			ents: []wireEntity{e("expandable_blockquote", 0, 8), e("spoiler", 5, 1)}},
		// Blockquotes as TDLib reads them (td/telegram/MessageEntity.cpp).
		{name: "expandable by the mark alone", in: ">q||", plain: "q", ents: []wireEntity{e("expandable_blockquote", 0, 1)}},
		{name: "star star quote without the mark is plain", in: "**>q", plain: "q", ents: []wireEntity{e("blockquote", 0, 1)}},
		{name: "quote after markers", in: "~~>q\n>>r", plain: "q\nr", ents: []wireEntity{e("blockquote", 0, 3)}},
		{name: "quote inside underline", in: "__>q", err: "Can't find end of Underline entity at byte offset 0"},
		{name: "mark then a quote line is a spoiler", in: "**>a||\n>b", err: "Can't find end of Spoiler entity at byte offset 4"},
		{name: "bold across the quote end", in: ">*a\nb*", err: "Can't find end of Bold entity at byte offset 1"},
		{name: "bold across quote lines", in: ">*a\n>b*", plain: "a\nb",
			ents: []wireEntity{e("blockquote", 0, 3), e("bold", 0, 3)}},
		{name: "spoiler across quote lines", in: ">a ||b\n>c|| d", plain: "a b\nc d",
			ents: []wireEntity{e("blockquote", 0, 7), e("spoiler", 2, 3)}},
		{name: "escaped line break keeps the quote", in: ">a\\\nb", plain: "a\nb", ents: []wireEntity{e("blockquote", 0, 3)}},
		{name: "mark before CRLF", in: ">a||\r\nb", plain: "a\r\nb", ents: []wireEntity{e("expandable_blockquote", 0, 3)}},
		{name: "two quotes split by an empty bold", in: ">a\n**>b||", plain: "a\nb",
			ents: []wireEntity{e("blockquote", 0, 2), e("expandable_blockquote", 2, 1)}},
		{name: "quote after a carriage return", in: "a\r>b", err: `Character '>' is reserved and must be escaped with the preceding '\'`},
		{name: "quote after text", in: "a*>b*", err: `Character '>' is reserved and must be escaped with the preceding '\'`},
		{name: "non-ascii escape keeps backslash", in: `\➡️`, plain: `\➡️`},
		{name: "empty bold", in: "**", plain: ""},

		{name: "dot", in: "v1.0", err: `Character '.' is reserved and must be escaped with the preceding '\'`},
		{name: "dash", in: "a-b", err: `Character '-' is reserved and must be escaped with the preceding '\'`},
		{name: "greater mid-line", in: "a > b", err: `Character '>' is reserved and must be escaped with the preceding '\'`},
		{name: "stray bracket", in: "a ] b", err: `Character ']' is reserved and must be escaped with the preceding '\'`},
		{name: "stray paren", in: "f(x)", err: `Character '(' is reserved and must be escaped with the preceding '\'`},
		{name: "single pipe", in: "a|b", err: `Character '|' is reserved and must be escaped with the preceding '\'`},
		{name: "unclosed bold", in: "*bold", err: "Can't find end of Bold entity at byte offset 0"},
		{name: "unclosed italic after emoji", in: "🏟 🏟_abacaba", err: "Can't find end of Italic entity at byte offset 9"},
		{name: "crossed", in: "🏟 🏟_abac * asd _", err: "Can't find end of Italic entity at byte offset 21"},
		{name: "underscores", in: "🏟 🏟__🏟 _🏟___", err: "Can't find end of Italic entity at byte offset 23"},
		{name: "unclosed code", in: "🏟 🏟`", err: "Can't find end of Code entity at byte offset 9"},
		{name: "unclosed pre", in: "🏟 🏟```a", err: "Can't find end of Pre entity at byte offset 9"},
		{name: "unclosed spoiler", in: `🏟 🏟||test\|`, err: "Can't find end of Spoiler entity at byte offset 9"},
		{name: "unclosed link", in: "[abc", err: "Can't find end of TextUrl entity at byte offset 0"},
		{name: "unclosed url", in: `[telegram\.org](asd`, err: "Can't find end of a URL at byte offset 16"},
		{name: "emoji without url", in: "![👍]", err: "Custom emoji entity must contain a tg://emoji URL"},
		{name: "emoji bad scheme", in: "![👍](t://emoji?id=1234)", err: "Custom emoji URL must have scheme tg"},
	})
}

func TestParseHTML(t *testing.T) {
	runMarkup(t, parseHTML, []markupCase{
		{name: "styles", in: `<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del>`,
			plain: "bsieunskd",
			ents: []wireEntity{e("bold", 0, 1), e("bold", 1, 1), e("italic", 2, 1), e("italic", 3, 1), e("underline", 4, 1),
				e("underline", 5, 1), e("strikethrough", 6, 1), e("strikethrough", 7, 1), e("strikethrough", 8, 1)}},
		{name: "spoilers", in: `<tg-spoiler>a</tg-spoiler> <span class="tg-spoiler">b</span>`, plain: "a b",
			ents: []wireEntity{e("spoiler", 0, 1), e("spoiler", 2, 1)}},
		{name: "link with entity in href", in: `<a href="https://x.org/?a=1&amp;b=2">link</a>`, plain: "link",
			ents: []wireEntity{{Type: "text_link", Offset: 0, Length: 4, URL: "https://x.org/?a=1&b=2"}}},
		{name: "pre code language", in: `<pre><code class="language-go">x := 1</code></pre>`, plain: "x := 1",
			ents: []wireEntity{{Type: "pre", Offset: 0, Length: 6, Language: "go"}}},
		{name: "character references", in: `1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;q&quot; &#128077; &#x41;`, plain: `1 < 2 && 3 > 2 "q" 👍 A`},
		{name: "bare ampersand", in: "AT&T & co", plain: "AT&T & co"},
		{name: "upper-case tags", in: "<B>x</B>", plain: "x", ents: []wireEntity{e("bold", 0, 1)}},
		{name: "expandable blockquote", in: "<blockquote expandable>q</blockquote>", plain: "q",
			ents: []wireEntity{e("expandable_blockquote", 0, 1)}},
		{name: "custom emoji", in: `<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`, plain: "👍",
			ents: []wireEntity{{Type: "custom_emoji", Offset: 0, Length: 2, CustomEmojiID: "5368324170671202286"}}},
		{name: "markdown chars are plain", in: "v1.0-beta_2 *x*", plain: "v1.0-beta_2 *x*"},
		{name: "greater-than in a quoted href", in: `<a href="https://x.example/?q=a>b">l</a><a href='https://x.example/?q=c>d'>m</a>`, plain: "lm",
			ents: []wireEntity{{Type: "text_link", Offset: 0, Length: 1, URL: "https://x.example/?q=a>b"}, {Type: "text_link", Offset: 1, Length: 1, URL: "https://x.example/?q=c>d"}}},
		{name: "unquoted name token", in: "<span class=TG-spoiler>x</span>", plain: "x", ents: []wireEntity{e("spoiler", 0, 1)}},
		{name: "empty end tag", in: "<b>x</>", plain: "x", ents: []wireEntity{e("bold", 0, 1)}},

		{name: "unknown tag", in: "<x>", err: `Unsupported start tag "x" at byte offset 0`},
		{name: "br", in: "a <br/> b", err: `Unsupported start tag "br/" at byte offset 2`},
		{name: "bare less-than", in: "a < b", err: `Unsupported start tag "" at byte offset 2`},
		{name: "unmatched", in: "<b>x</i>", err: `Unmatched end tag at byte offset 4, expected "</b>", found "</i>"`},
		{name: "unclosed element", in: "<b>x", err: `Can't find end tag corresponding to start tag "b"`},
		{name: "unexpected end", in: "x</b>", err: "Unexpected end tag at byte offset 1"},
		{name: "unclosed start tag", in: "<b", err: "Unclosed start tag at byte offset 0"},
		{name: "start tag cut inside a quoted href", in: `<a href="https://x.example/?q=a>link</a>`, err: "Unclosed start tag at byte offset 0"},
		{name: "unquoted URL", in: `<a href=https://x.example>l</a>`, err: "Unexpected end of name token at byte offset 8"},
		{name: "span without class", in: "<span>x</span>", err: `Tag "span" must have class "tg-spoiler" at byte offset 0`},
	})
}

func TestParseMarkdownLegacy(t *testing.T) {
	runMarkup(t, parseMarkdown, []markupCase{
		{name: "styles", in: "*bold* _it_ `code` [t](http://x.org)", plain: "bold it code t",
			ents: []wireEntity{e("bold", 0, 4), e("italic", 5, 2), e("code", 8, 4), {Type: "text_link", Offset: 13, Length: 1, URL: "http://x.org"}}},
		{name: "escape", in: `snake\_case`, plain: "snake_case"},
		{name: "v2 reserved chars are plain", in: "1.0-beta! (x)", plain: "1.0-beta! (x)"},
		{name: "unclosed", in: "*unclosed", err: "Can't find end of the entity starting at byte offset 0"},
	})
}

func TestParseText(t *testing.T) {
	tests := []struct {
		mode, text, wantErr string
	}{
		{"", "*x*", ""},
		{"markdownv2", "*x*", ""},
		{"HTML", "<b>x</b>", ""},
		{"XML", "x", "Bad Request: unsupported parse_mode"},
		{"MarkdownV2", "a.b", `Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'`},
	}
	for _, tc := range tests {
		_, _, err := parseText(tc.text, tc.mode)
		got := ""
		if err != nil {
			got = err.description
		}
		if got != tc.wantErr {
			t.Errorf("parseText(%q, %q) = %q, want %q", tc.text, tc.mode, got, tc.wantErr)
		}
	}
}

func FuzzParseMarkdownV2(f *testing.F) {
	for _, s := range []string{"*a* _b_ __c__ ~d~ ||e||", "```go\nx\n```", "[a](b)", ">q\n**>x||", `\\\*`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, ents, err := parseMarkdownV2(s)
		if err != nil {
			return
		}
		n := 0
		for _, r := range plain {
			n++
			if r >= 0x10000 {
				n++
			}
		}
		for _, e := range ents {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > n {
				t.Fatalf("entity %+v out of %d units for %q", e, n, s)
			}
		}
	})
}

func FuzzParseHTML(f *testing.F) {
	for _, s := range []string{"<b>a</b> &lt; <a href=\"https://x.org\">l</a>", "<pre><code class=\"language-go\">x</code></pre>", "a < b", "&#128077;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, ents, err := parseHTML(s)
		if err != nil {
			return
		}
		n := 0
		for _, r := range plain {
			n++
			if r >= 0x10000 {
				n++
			}
		}
		for _, e := range ents {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > n {
				t.Fatalf("entity %+v out of %d units for %q", e, n, s)
			}
		}
	})
}

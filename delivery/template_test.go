package delivery_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// special holds every character MarkdownV2 reserves, the backslash, and
// HTML's.
const special = "_*[]()~`>#+-=|{}.!\\ <>&\"'"

func ExampleExpand() {
	text, err := delivery.Expand("*Deploy* of {{service}} took {{secs}}s", "MarkdownV2",
		map[string]string{"service": "api_v2", "secs": "1.5"})
	fmt.Println(text, err)
	_, err = delivery.Expand("Hello {{name}}", "HTML", nil)
	fmt.Println(err)
	// Output:
	// *Deploy* of api\_v2 took 1\.5s <nil>
	// placeholder {{name}} has no value
}

func ExampleStripMarkup() {
	fmt.Println(delivery.StripMarkup("*Deploy* of _api_ took 1.5s", "MarkdownV2"))
	fmt.Println(delivery.StripMarkup("<b>Deploy</b> of &lt;api&gt; took 1\\.5s", "HTML"))
	// Output:
	// Deploy of api took 1.5s
	// Deploy of <api> took 1\.5s
}

func TestExpand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, mode string
		values           map[string]string
		want             string
	}{
		{"plain verbatim", "hi {{a}}!", "", map[string]string{"a": special}, "hi " + special + "!"},
		{"no placeholders", "hi {{}} {x} {{a-b}}", "", nil, "hi {{}} {x} {{a-b}}"},
		{"repeated", "{{a}}{{a}}", "", map[string]string{"a": "x"}, "xx"},
		{"markdownv2 every reserved char", "*{{a}}*", "MarkdownV2", map[string]string{"a": "_*[]()~`>#+-=|{}.!\\"},
			`*\_\*\[\]\(\)\~\` + "`" + `\>\#\+\-\=\|\{\}\.\!\\*`},
		{"markdownv2 in code", "`{{a}}`", "MarkdownV2", map[string]string{"a": "a.b`c\\"}, "`a.b\\`c\\\\`"},
		{"markdownv2 in url", "[x](https://e.example/{{a}})", "MarkdownV2", map[string]string{"a": "p)q"},
			`[x](https://e.example/p\)q)`},
		{"html", "<b>{{a}}</b>", "HTML", map[string]string{"a": "<i>&\"'"}, "<b>&lt;i&gt;&amp;&quot;'</b>"},
		{"html attribute", `<a href="https://e.example/?q={{a}}">x</a>`, "HTML", map[string]string{"a": `"'&`},
			`<a href="https://e.example/?q=&quot;&#39;&amp;">x</a>`},
		{"legacy outside", "{{a}}", "Markdown", map[string]string{"a": "a_b*c`d[e"}, "a\\_b\\*c\\`d\\[e"},
		{"legacy in bold", "*{{a}}*", "Markdown", map[string]string{"a": "a*b_c"}, "*a*\\**b_c*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := delivery.Expand(tt.text, tt.mode, tt.values)
			if err != nil {
				t.Fatalf("Expand: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Expand = %q, want %q", got, tt.want)
			}
			if _, err := fakebot.PlainText(got, tt.mode); err != nil {
				t.Fatalf("expanded %q does not parse: %v", got, err)
			}
		})
	}
}

// TestExpandedValueReadsVerbatim checks that every special character of a
// value shows as itself once Telegram (the fake's parser) has parsed the
// expanded text.
func TestExpandedValueReadsVerbatim(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"", "MarkdownV2", "HTML", "Markdown"} {
		for _, tmpl := range []string{"v {{a}} end", "*{{a}}*", "_{{a}}_", "`{{a}}`"} {
			if mode == "" || mode == "HTML" {
				tmpl = strings.NewReplacer("*", "", "_", "", "`", "").Replace(tmpl)
			}
			for _, v := range []string{special, "snake_case", "1.5", "a*b", "x`y", "<b>&amp;"} {
				got, err := delivery.Expand(tmpl, mode, map[string]string{"a": v})
				if err != nil {
					t.Fatalf("%s %q: %v", mode, tmpl, err)
				}
				plain, err := fakebot.PlainText(got, mode)
				if err != nil {
					t.Fatalf("%s %q with %q: %q does not parse: %v", mode, tmpl, v, got, err)
				}
				wantPlain, _ := fakebot.PlainText(strings.ReplaceAll(tmpl, "{{a}}", "V"), mode)
				if want := strings.Replace(wantPlain, "V", v, 1); plain != want && !(mode == "Markdown" && strings.Contains(tmpl, "`")) {
					t.Errorf("%s %q with %q: reads %q, want %q", mode, tmpl, v, plain, want)
				}
			}
		}
	}
}

func TestExpandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		values     map[string]string
		wantName   string
		missing    bool
	}{
		{"missing", "hi {{name}}", nil, "name", true},
		{"missing second", "{{a}} {{b}}", map[string]string{"a": "1"}, "b", true},
		{"unused", "hi", map[string]string{"zz": "1", "name": "x"}, "name", false},
		{"unused beside used", "{{a}}", map[string]string{"a": "1", "b": "2"}, "b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := delivery.Expand(tt.text, "MarkdownV2", tt.values)
			var pe *delivery.PlaceholderError
			if !errors.As(err, &pe) || !errors.Is(err, delivery.ErrPlaceholder) {
				t.Fatalf("err = %v, want a PlaceholderError", err)
			}
			if pe.Name != tt.wantName || pe.Missing != tt.missing {
				t.Fatalf("err = %+v, want name %q missing %v", pe, tt.wantName, tt.missing)
			}
			if !strings.Contains(err.Error(), tt.wantName) {
				t.Fatalf("error %q does not name %q", err, tt.wantName)
			}
		})
	}
}

func TestValidValueName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{"a": true, "A_9": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "a-b": false, "a b": false, "é": false} {
		if got := delivery.ValidValueName(name); got != want {
			t.Errorf("ValidValueName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestStripMarkup(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, mode, want string }{
		{"plain unchanged", "*a* _b_ <b>", "", "*a* _b_ <b>"},
		{"markdownv2 issue example", "*Deploy* of _api_ took 1.5s", "MarkdownV2", "Deploy of api took 1.5s"},
		{"markdownv2 escapes", `a\_b\*c\[d\]e\(f\)g\~h\` + "`" + `i\>j\#k\+l\-m\=n\|o\{p\}q\.r\!s\\t`, "MarkdownV2",
			"a_b*c[d]e(f)g~h`i>j#k+l-m=n|o{p}q.r!s\\t"},
		{"markdownv2 link and styles", "__u__ ~s~ ||sp|| [text](https://e.example) `c.d`", "MarkdownV2", "u s sp text c.d"},
		{"markdownv2 quote", ">quoted\nnext", "MarkdownV2", "quoted\nnext"},
		{"markdownv2 lone underscore kept", "*bold* my_service", "MarkdownV2", "bold my_service"},
		{"markdownv2 pre with language", "```go\nfmt.Println(1)\n```", "MarkdownV2", "fmt.Println(1)\n"},
		{"markdownv2 expandable quote", "**>quote\n>more||", "MarkdownV2", "quote\nmore"},
		{"markdownv2 custom emoji", "![👍](tg://emoji?id=5368324170671202286) ok", "MarkdownV2", "👍 ok"},
		{"html pre with language", `<pre><code class="language-go">x &lt; y</code></pre>`, "HTML", "x < y"},
		{"html", `<b>Deploy</b> of <a href="https://e.example">api</a> &lt;x&gt; &amp; &quot;q&quot; &#65;&#x42;`, "HTML",
			`Deploy of api <x> & "q" AB`},
		{"html stray lt", "a < b <b>c</b>", "HTML", "a < b c"},
		{"legacy", "*bold* _it_ `code` [l](https://e.example) a\\_b", "Markdown", "bold it code l a_b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := delivery.StripMarkup(tt.text, tt.mode)
			if got != tt.want {
				t.Fatalf("StripMarkup = %q, want %q", got, tt.want)
			}
			for _, c := range []string{"<b>", "</b>", "&lt;", "\\."} {
				if tt.mode != "" && strings.Contains(got, c) {
					t.Fatalf("StripMarkup left markup %q in %q", c, got)
				}
			}
		})
	}
}

// FuzzExpand: Expand never panics, and when the template parses (with its
// placeholders as plain words) the expanded text parses too.
func FuzzExpand(f *testing.F) {
	f.Add("*{{a}}* and `{{a}}` [x](https://e.example/{{a}})", "MarkdownV2", special)
	f.Add("<b>{{a}}</b> <a href='https://e.example/{{a}}'>x</a>", "HTML", special)
	f.Add("{{a}}", "", special)
	f.Add("_{{a}}_ *{{a}}*", "Markdown", "a*b_c")
	f.Fuzz(func(t *testing.T, tmpl, mode, v string) {
		if len(tmpl) > 1024 || len(v) > 256 {
			return
		}
		got, err := delivery.Expand(tmpl, mode, map[string]string{"a": v})
		if !strings.Contains(tmpl, "{{a}}") {
			if err == nil {
				t.Fatalf("unused value accepted")
			}
			return
		}
		if err != nil {
			return // another placeholder without a value
		}
		_ = delivery.StripMarkup(got, mode)
		if m := strings.ToLower(mode); m != "markdownv2" && m != "html" {
			return // legacy Markdown cannot write every value inside pre or link text
		}
		if _, perr := fakebot.PlainText(strings.ReplaceAll(tmpl, "{{a}}", "V"), mode); perr != nil {
			return
		}
		if _, perr := fakebot.PlainText(got, mode); perr != nil {
			t.Fatalf("template %q parses, expanded %q does not: %v", tmpl, got, perr)
		}
	})
}

// FuzzStripMarkup: for a text Telegram (the fake's parser) accepts,
// StripMarkup reads exactly as the parsed message does; it never panics.
func FuzzStripMarkup(f *testing.F) {
	f.Add("*Deploy* of _api_ took 1\\.5s", "MarkdownV2")
	f.Add("```go\nx```\n**>q\n>r||", "MarkdownV2")
	f.Add("<b>x</b> &lt; <a href=\"https://e.example\">y</a>", "HTML")
	f.Add("*a* _b_ `c` [d](https://e.example)", "Markdown")
	f.Fuzz(func(t *testing.T, s, mode string) {
		got := delivery.StripMarkup(s, mode)
		if !utf8.ValidString(s) {
			return // refused before it is stored
		}
		plain, err := fakebot.PlainText(s, mode)
		if err != nil {
			return
		}
		if got != plain {
			t.Fatalf("%s %q: StripMarkup %q, Telegram reads %q", mode, s, got, plain)
		}
	})
}

package delivery_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/delivery"
)

// TestSplitKeepsMarkupValid is the regression test of finding 9 of issue 8:
// a '>' inside a quoted HTML attribute truncated the start tag reopened in
// the next part ("Unclosed start tag"), and the MarkdownV2 expandable
// blockquote's "||" mark was read as a spoiler, so a later part did not
// parse. Every part must parse on its own (the fake Bot API stands in for
// Telegram) and be what the table says.
func TestSplitKeepsMarkupValid(t *testing.T) {
	const href = `<a href="https://x.example/?q=a>b">`
	tests := []struct {
		name, text, mode string
		limit            int
		want             []string
	}{
		{"html > in a double-quoted href", href + "one two three four</a>", "HTML", 8,
			[]string{href + "one two </a>", href + "three </a>", href + "four</a>"}},
		{"html > in a single-quoted href", `<a href='https://x.example/?q=a>b'>one two</a>`, "HTML", 4,
			[]string{`<a href='https://x.example/?q=a>b'>one </a>`, `<a href='https://x.example/?q=a>b'>two</a>`}},
		{"html nested in a link with > and spaces around =", `<b><a href = "https://x.example/a>b" >one two</a></b>`, "HTML", 4,
			[]string{`<b><a href = "https://x.example/a>b" >one </a></b>`, `<b><a href = "https://x.example/a>b" >two</a></b>`}},
		{"markdownv2 expandable quote cut mid-line", "**>one two three||\nafter", "MarkdownV2", 8,
			[]string{"**>one two ||", ">three||\n", "after"}},
		{"markdownv2 expandable quote cut at a line break", "**>one two\n>three||\nafter ||spoiler|| end", "MarkdownV2", 12,
			[]string{"**>one two||\n", ">three||\n", "after ", "||spoiler|| end"}},
		{"markdownv2 expandable quote then a spoiler", "**>quoted line one\n>quoted line two||\nafter ||a hidden spoiler|| tail", "MarkdownV2", 24,
			[]string{"**>quoted line one||\n", ">quoted line two||\n", "after ||a hidden spoiler|| ", "tail"}},
		{"markdownv2 quote reopened mid-line", ">one two three\nafter", "MarkdownV2", 8,
			[]string{">one two ", ">three\n", "after"}},
		{"markdownv2 quote cut right before its mark", ">one two ||\nx", "MarkdownV2", 8,
			[]string{">one two ||", "\nx"}},
		{"markdownv2 mark with a spoiler before it", ">a ||b|| c d e f||", "MarkdownV2", 6,
			[]string{">a ||b|| c ||", ">d e f||"}},
		{"markdownv2 spoiler across quote lines is not a mark", ">a ||b\n>c|| d e", "MarkdownV2", 6,
			[]string{">a ||b\n>c|| ", ">d e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := theOracle().send(tc.text, tc.mode); d != "" {
				t.Fatalf("the whole text is not valid: %s", d)
			}
			got, err := delivery.Split(tc.text, tc.mode, tc.limit)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			for i, p := range got {
				if d := theOracle().send(p, tc.mode); d != "" {
					t.Errorf("part %d %q: %s", i, p, d)
				}
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Fatalf("Split =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestSplitLongExpandableQuote splits a quote longer than a message: each
// part is a valid expandable quote of its own.
func TestSplitLongExpandableQuote(t *testing.T) {
	text := "**" + strings.TrimSuffix(strings.Repeat(">a quoted line of words\n", 400), "\n") + "||\nend"
	parts, err := delivery.Split(text, "MarkdownV2", 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 3 {
		t.Fatalf("%d parts, want at least 3", len(parts))
	}
	for i, p := range parts {
		if d := theOracle().send(p, "MarkdownV2"); d != "" {
			t.Fatalf("part %d does not parse: %s", i, d)
		}
		if i < len(parts)-1 && !strings.HasSuffix(p, "||\n") && !strings.HasSuffix(p, "||") {
			t.Errorf("part %d does not end its quote with the expandable mark: ...%q", i, p[len(p)-10:])
		}
	}
}

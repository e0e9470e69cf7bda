package delivery_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
)

// splitInput returns a text of about n bytes in parse mode mode, made of
// paragraphs of words with the markup of that mode, as a service would
// send: bold, italic, links (with '>' and ')' in their URLs), entities or
// escapes, and blockquotes.
func splitInput(mode string, n int) string {
	var unit string
	switch mode {
	case "":
		unit = "Plain words of a notification, one line of many.\nAnother line here 😀 and more.\n\n"
	case "HTML":
		unit = `<b>Bold</b> words, <i>italic <u>nested</u></i> &amp; a <a href="https://x.example/?q=a>b">link text</a>.` + "\n" +
			"<blockquote>quoted words of a line</blockquote>\n\n"
	case "MarkdownV2":
		unit = `*Bold* words, _italic __nested___ \& a [link text](https://x.example/q\)b)\.` + "\n" +
			">quoted words of a line\n>second quoted line\n\n**>expandable quote\n>hidden line||\n\n"
	}
	var b strings.Builder
	b.Grow(n + len(unit))
	for b.Len() < n {
		b.WriteString(unit)
	}
	return b.String()
}

// splitCases are the 64 KiB inputs of the allocation test and benchmark:
// each mode's mixed text, and texts whose every part must be rebuilt (the
// whole text inside one HTML element, or one MarkdownV2 expandable quote).
func splitCases() []struct{ name, mode, text string } {
	const size = 64 << 10
	quote := strings.TrimSuffix(strings.Repeat(">a line of the one long quote, words 😀\n", size/40), "\n") + "||"
	return []struct{ name, mode, text string }{
		{"plain", "", splitInput("", size)},
		{"HTML", "HTML", splitInput("HTML", size)},
		{"MarkdownV2", "MarkdownV2", splitInput("MarkdownV2", size)},
		{"HTML_one_element", "HTML", `<blockquote expandable><b>` + strings.Repeat("words in bold &amp; quoted 😀 ", size/30) + "</b></blockquote>"},
		{"MarkdownV2_one_quote", "MarkdownV2", "**" + quote},
	}
}

// allocPerSplit returns the bytes allocated by one Split of text, the
// average over runs calls.
func allocPerSplit(t *testing.T, text, mode string, runs int) uint64 {
	t.Helper()
	if _, err := delivery.Split(text, mode, telegram.MaxMessageLen); err != nil {
		t.Fatalf("Split: %v", err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := delivery.Split(text, mode, telegram.MaxMessageLen); err != nil {
			t.Fatalf("Split: %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestSplitAllocationsBounded checks that splitting a 64 KiB text
// allocates a small multiple of its size (finding 7 of issue 8: about
// 17 MiB for one HTML or MarkdownV2 text before).
func TestSplitAllocationsBounded(t *testing.T) {
	const maxFactor = 8
	for _, tc := range splitCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := allocPerSplit(t, tc.text, tc.mode, 3)
			t.Logf("%s: %d input bytes, %d bytes allocated per Split (%.2f×)", tc.name, len(tc.text), got, float64(got)/float64(len(tc.text)))
			if got > uint64(maxFactor*len(tc.text)) {
				t.Fatalf("Split of %d bytes allocated %d bytes, want at most %d× the input", len(tc.text), got, maxFactor)
			}
		})
	}
}

func BenchmarkSplit(b *testing.B) {
	for _, tc := range splitCases() {
		b.Run(tc.name+"_64KiB", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.text)))
			for b.Loop() {
				if _, err := delivery.Split(tc.text, tc.mode, telegram.MaxMessageLen); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

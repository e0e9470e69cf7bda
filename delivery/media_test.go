package delivery

import (
	"strings"
	"testing"
)

// TestPlanParts checks the caption decision: with media the text is the
// caption when it fits 1024 UTF-16 units after entity parsing, else the
// media goes alone and the text follows, split at 4096.
func TestPlanParts(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("word ", 1000) // 5000 units: 2 message parts
	tests := []struct {
		name      string
		text, pm  string
		media     bool
		wantParts int
		caption   string // want parts[0] with media
	}{
		{"no media", "hello", "", false, 1, ""},
		{"no media, long", long, "", false, 2, ""},
		{"short caption", "hello", "", true, 1, "hello"},
		{"empty text", "", "", true, 1, ""},
		{"blank text", "  \n", "", true, 1, ""},
		{"caption at the limit", strings.Repeat("a", 1024), "", true, 1, strings.Repeat("a", 1024)},
		{"caption over the limit", strings.Repeat("a", 1025), "", true, 2, ""},
		{"UTF-16 units, not bytes or runes", strings.Repeat("😀", 512), "", true, 1, strings.Repeat("😀", 512)},
		{"one emoji over", strings.Repeat("😀", 513), "", true, 2, ""},
		{"markup not counted", "<b>" + strings.Repeat("a", 1024) + "</b>", "HTML", true, 1, "<b>" + strings.Repeat("a", 1024) + "</b>"},
		{"long text after the media", long, "", true, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parts, err := PlanParts(tt.text, tt.pm, tt.media)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tt.wantParts {
				t.Fatalf("%d parts, want %d", len(parts), tt.wantParts)
			}
			if tt.media && parts[0] != tt.caption {
				t.Fatalf("caption %q, want %q", parts[0], tt.caption)
			}
			if tt.media && tt.caption == "" && len(parts) > 1 {
				if got := strings.Join(parts[1:], ""); strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(tt.text), " ") {
					t.Fatalf("the text parts do not add up to the text")
				}
			}
		})
	}
}

func TestTextParts(t *testing.T) {
	t.Parallel()
	if textParts([]string{"", "a", "b"}, true) != 2 || textParts([]string{"a"}, true) != 0 || textParts([]string{"a", "b"}, false) != 2 {
		t.Fatal("textParts")
	}
}

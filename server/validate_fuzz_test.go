package server

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidate checks the request validators never panic and accept only
// what they promise.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"alice", "", " ", "a\x00b", strings.Repeat("x", 129), "пользователь", "\xff", "a\u200bb"} {
		f.Add(s, int32(0))
	}
	f.Fuzz(func(t *testing.T, s string, mode int32) {
		if err := validateUserID(s); err == nil {
			if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxUserIDLen {
				t.Fatalf("accepted user_id %q", s)
			}
		}
		_, _ = validateText(s, 0, false)
		_, _ = validateText(s, 2, true)
		if _, err := validateText(s, 1, false); err == nil {
			if out, err := expandValues(s, "MarkdownV2", map[string]string{"a": s}, false); err == nil {
				if _, err := validateText(out, 1, false); err != nil {
					t.Fatalf("expanded %q is not a valid text: %v", out, err)
				}
			}
		}
	})
}

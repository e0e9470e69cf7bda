package delivery

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckButtons(t *testing.T) {
	ok := Button{Text: "Ack", Callback: "ack"}
	full := make([]Button, MaxButtonsPerRow)
	for i := range full {
		full[i] = ok
	}
	tooMany := make([][]Button, 13) // 104 buttons
	for i := range tooMany {
		tooMany[i] = full
	}
	for _, tc := range []struct {
		name string
		rows [][]Button
		bad  bool
	}{
		{"none", nil, false},
		{"one of each", [][]Button{{ok, {Text: "Web", URL: "https://e.com"}}, {{Text: "Copy", CopyText: "x"}}}, false},
		{"full row", [][]Button{full}, false},
		{"empty row", [][]Button{{}}, true},
		{"nine", [][]Button{append(append([]Button(nil), full...), ok)}, true},
		{"over 100", tooMany, true},
		{"no text", [][]Button{{{Callback: "x"}}}, true},
		{"long text", [][]Button{{{Text: strings.Repeat("é", 65), Callback: "x"}}}, true},
		{"no action", [][]Button{{{Text: "x"}}}, true},
		{"two actions", [][]Button{{{Text: "x", URL: "https://e.com", Callback: "y"}}}, true},
		{"long callback", [][]Button{{{Text: "x", Callback: strings.Repeat("c", 257)}}}, true},
	} {
		err := CheckButtons(tc.rows)
		if (err != nil) != tc.bad || (err != nil && !errors.Is(err, ErrInvalidRequest)) {
			t.Errorf("%s: %v, want bad %v", tc.name, err, tc.bad)
		}
	}
}

// TestKeyboardOnLastPart checks that only the last part carries the
// keyboard (also the media when it is the only part).
func TestKeyboardOnLastPart(t *testing.T) {
	n := Notification{ID: "id1", Parts: []string{"a", "b", "c"}, Buttons: [][]Button{{{Text: "Ack", Callback: "ack"}}}}
	for part, want := range []bool{false, false, true} {
		n.NextPart = part
		p := sendParams(1, n, "", 0, false)
		if got := p.ReplyMarkup != nil; got != want {
			t.Errorf("part %d: keyboard %v, want %v", part, got, want)
		}
	}
	kb := sendParams(1, n, "", 0, false).ReplyMarkup
	if kb.InlineKeyboard[0][0].CallbackData != CallbackData("id1", 0, 0) {
		t.Fatalf("callback_data %q", kb.InlineKeyboard[0][0].CallbackData)
	}
	n.Buttons = nil
	if sendParams(1, n, "", 0, false).ReplyMarkup != nil {
		t.Fatal("a keyboard without buttons")
	}
}

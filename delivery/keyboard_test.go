package delivery

import (
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
)

func TestCallbackDataRoundTrip(t *testing.T) {
	id := strings.Repeat("f", 32)
	d := CallbackData(id, 12, 7)
	if len(d) > telegram.MaxCallbackData {
		t.Fatalf("callback data %q is %d bytes, over Telegram's %d", d, len(d), telegram.MaxCallbackData)
	}
	gotID, r, c, ok := ParseCallbackData(d)
	if !ok || gotID != id || r != 12 || c != 7 {
		t.Fatalf("ParseCallbackData(%q) = %q %d %d %v", d, gotID, r, c, ok)
	}
	for _, bad := range []string{"", "x", "n1:", "n1:id:1", "n1::1:2", "n1:id:a:2", "n1:id:-1:2", "n2:id:1:2", "n1:id:1:2:3"} {
		if _, _, _, ok := ParseCallbackData(bad); ok {
			t.Errorf("ParseCallbackData(%q) ok, want refused", bad)
		}
	}
}

func TestKeyboard(t *testing.T) {
	n := Notification{ID: "abc", Buttons: [][]Button{{{Text: "Yes", Callback: "yes-long-string"}, {Text: "Web", URL: "https://x.test"}},
		{{Text: "Copy", CopyText: "CODE"}}}}
	kb := Keyboard(n)
	if kb == nil || len(kb.InlineKeyboard) != 2 || len(kb.InlineKeyboard[0]) != 2 {
		t.Fatalf("keyboard = %+v", kb)
	}
	if b := kb.InlineKeyboard[0][0]; b.CallbackData != CallbackData("abc", 0, 0) || b.URL != "" || b.CopyText != nil {
		t.Errorf("callback button = %+v", b)
	}
	if b := kb.InlineKeyboard[0][1]; b.URL != "https://x.test" || b.CallbackData != "" {
		t.Errorf("url button = %+v", b)
	}
	if b := kb.InlineKeyboard[1][0]; b.CopyText == nil || b.CopyText.Text != "CODE" {
		t.Errorf("copy button = %+v", b)
	}
	if Keyboard(Notification{ID: "x"}) != nil {
		t.Error("keyboard of a notification without buttons is not nil")
	}
	if _, err := n.ButtonAt(1, 1); err == nil {
		t.Error("ButtonAt(1,1) found a button that does not exist")
	}
}

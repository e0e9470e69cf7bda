package telegram_test

import (
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
)

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"ascii", "hello", 5},
		{"latin", "héllo", 5},
		{"cyrillic", "привет", 6},
		{"cjk", "你好", 2},
		{"emoji", "😀", 2},
		{"flag", "🇺🇦", 4},
		{"emoji with variation selector", "➡️", 2},
		{"family zwj sequence", "👨‍👩‍👧", 8},
		{"invalid utf-8", "\xff\xfe", 2},
		{"max message of emoji", strings.Repeat("😀", 2048), 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := telegram.UTF16Len(tc.in); got != tc.want {
				t.Errorf("UTF16Len(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestValidParseMode(t *testing.T) {
	for mode, want := range map[string]bool{
		"": true, "MarkdownV2": true, "HTML": true, "Markdown": true, "html": true, "markdownv2": true,
		"XML": false, "Markdown2": false, " HTML": false,
	} {
		if got := telegram.ValidParseMode(mode); got != want {
			t.Errorf("ValidParseMode(%q) = %v, want %v", mode, got, want)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	srv, c := newFake(t)
	ctx := testCtx(t)
	srv.Start(5, "e", "")
	tests := []struct{ name, text string }{
		{"reserved", `_*[]()~` + "`" + `>#+-=|{}.!\`},
		{"prose", "Order #42 shipped (ETA: 2-3 days). Total = $10.50!"},
		{"html-ish", "<b>not bold</b> & \"quoted\""},
		{"emoji", "➡️ 🏟 done."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for mode, escaped := range map[string]string{
				telegram.ParseModeMarkdownV2: telegram.EscapeMarkdownV2(tc.text),
				telegram.ParseModeHTML:       telegram.EscapeHTML(tc.text),
			} {
				m, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 5, Text: escaped, ParseMode: mode})
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if m.Text != tc.text || len(m.Entities) != 0 {
					t.Errorf("%s: text %q entities %v, want %q unformatted", mode, m.Text, m.Entities, tc.text)
				}
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in, name, bot, args string
		ok                  bool
	}{
		{"/start", "start", "", "", true},
		{"/start abc_DEF-123", "start", "", "abc_DEF-123", true},
		{"/start@tgnotify_bot abc", "start", "tgnotify_bot", "abc", true},
		{"/stop  ", "stop", "", "", true},
		{"/start\nabc", "start", "", "abc", true},
		{"hello /start", "", "", "", false},
		{"/", "", "", "", false},
		{"/@bot", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, tc := range tests {
		name, bot, args, ok := telegram.ParseCommand(tc.in)
		if name != tc.name || bot != tc.bot || args != tc.args || ok != tc.ok {
			t.Errorf("ParseCommand(%q) = %q %q %q %v, want %q %q %q %v", tc.in, name, bot, args, ok, tc.name, tc.bot, tc.args, tc.ok)
		}
	}
}

package telegram_test

import (
	"strings"
	"testing"
	"unicode/utf8"

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
	t.Parallel()
	tests := []struct {
		desc                string
		in, name, bot, args string
		ok                  bool
	}{
		{"bare", "/start", "start", "", "", true},
		{"bare with argument", "/start abc_DEF-123", "start", "", "abc_DEF-123", true},
		{"addressed", "/start@tgnotify_bot abc", "start", "tgnotify_bot", "abc", true},
		{"trailing blanks", "/stop  ", "stop", "", "", true},
		{"argument on the next line", "/start\nabc", "start", "", "abc", true},
		{"addressed, argument on the next line", "/start@OurBot\ntok", "start", "OurBot", "tok", true},
		{"tab before argument", "/start\tabc", "start", "", "abc", true},
		{"CRLF before argument", "/start\r\nabc", "start", "", "abc", true},
		{"upper case name, bot as written", "/START@OurBot tok", "start", "OurBot", "tok", true},
		{"another bot", "/stop@SomeOtherBot", "stop", "SomeOtherBot", "", true},
		{"several blanks", "/start   a b  ", "start", "", "a b", true},
		{"not at the start", "hello /start", "", "", "", false},
		{"slash only", "/", "", "", "", false},
		{"slash then blank", "/ start", "", "", "", false},
		{"bot without name", "/@bot", "", "", "", false},
		{"empty mention", "/stop@", "", "", "", false},
		{"empty mention then argument", "/stop@ x", "", "", "", false},
		{"empty", "", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			name, bot, args, ok := telegram.ParseCommand(tc.in)
			if name != tc.name || bot != tc.bot || args != tc.args || ok != tc.ok {
				t.Errorf("ParseCommand(%q) = %q %q %q %v, want %q %q %q %v", tc.in, name, bot, args, ok, tc.name, tc.bot, tc.args, tc.ok)
			}
		})
	}
}

func TestCommandFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, bot, username string
		want                bool
	}{
		{"bare command is for us", "", "OurBot", true},
		{"our name", "OurBot", "OurBot", true},
		{"our name, other case", "ourbot", "OurBot", true},
		{"another bot", "SomeOtherBot", "OurBot", false},
		{"prefix of our name", "Our", "OurBot", false},
		{"our name unknown", "OurBot", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := telegram.CommandFor(tc.bot, tc.username); got != tc.want {
				t.Errorf("CommandFor(%q, %q) = %v, want %v", tc.bot, tc.username, got, tc.want)
			}
		})
	}
}

// FuzzParseCommand checks that ParseCommand never panics and that what it
// accepts is a command: a lower-case name without blanks or "@", and
// arguments that stay valid UTF-8.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/start abc", "/start@bot tok", "/stop", "/START  x y", "/", "/@", "hello", "/start\tx", "/start\nx", "/ start", "/stop@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		name, bot, args, ok := telegram.ParseCommand(text)
		if !ok {
			if name != "" || bot != "" || args != "" {
				t.Fatalf("not a command but name=%q bot=%q args=%q", name, bot, args)
			}
			return
		}
		if !strings.HasPrefix(text, "/") || name == "" || strings.ContainsAny(name, " \t\n@") || name != strings.ToLower(name) {
			t.Fatalf("ParseCommand(%q) = name %q", text, name)
		}
		if strings.ContainsAny(bot, " \t\n") {
			t.Fatalf("ParseCommand(%q) = bot %q", text, bot)
		}
		if utf8.ValidString(text) && !utf8.ValidString(args) {
			t.Fatalf("args of valid text became invalid UTF-8")
		}
	})
}

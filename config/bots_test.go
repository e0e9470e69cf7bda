package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/config"
)

// writeBots writes a bots file and returns its path.
func writeBots(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bots.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadBotsFile: NOTIFIER_BOTS_FILE is validated at start, each problem
// naming the bot and the field and never quoting a token; a good file
// yields the bots with the single-bot variables' defaults.
func TestLoadBotsFile(t *testing.T) {
	t.Parallel()
	const (
		tokA = "111:AAsecretA"
		tokB = "222:BBsecretB"
	)
	cases := []struct {
		name    string
		file    string
		env     map[string]string
		wantIDs []string // loads, with these bots in order
		wantErr []string // refused, naming all of these
	}{
		{name: "two bots", file: "bots:\n- {id: a, token: '" + tokA + "'}\n- {id: b, token: '" + tokB + "', global_rate: 5}\n",
			wantIDs: []string{"a", "b"}},
		{name: "env token defines default beside the file", env: map[string]string{"TELEGRAM_BOT_TOKEN": "333:CC"},
			file: "bots:\n- {id: a, token: '" + tokA + "'}\n", wantIDs: []string{"default", "a"}},
		{name: "file bot named default beside the env token", env: map[string]string{"TELEGRAM_BOT_TOKEN": "333:CC"},
			file: "bots:\n- {id: default, token: '" + tokA + "'}\n", wantErr: []string{`bot "default"`, "id", "TELEGRAM_BOT_TOKEN"}},
		{name: "file bot named default alone", file: "bots:\n- {id: default, token: '" + tokA + "'}\n", wantIDs: []string{"default"}},
		{name: "duplicate id", file: "bots:\n- {id: a, token: '" + tokA + "'}\n- {id: a, token: '" + tokB + "'}\n",
			wantErr: []string{`bot "a"`, "id", "duplicate"}},
		{name: "malformed token", file: "bots:\n- {id: a, token: 'no colon here'}\n", wantErr: []string{`bot "a"`, "token", "malformed"}},
		{name: "missing token", file: "bots:\n- {id: a}\n", wantErr: []string{`bot "a"`, "token", "required"}},
		{name: "webhook without secret", file: "bots:\n- {id: a, token: '" + tokA + "', webhook_url: 'https://x.example/telegram/webhook/a'}\n",
			wantErr: []string{`bot "a"`, "webhook_secret", "required"}},
		{name: "one token two bots", file: "bots:\n- {id: a, token: '" + tokA + "'}\n- {id: b, token: '" + tokA + "'}\n",
			wantErr: []string{`bot "b"`, "token", `bot "a"`}},
		{name: "bad id", file: "bots:\n- {id: 'Bad Id', token: '" + tokA + "'}\n", wantErr: []string{"Bad Id", "id", "a-z"}},
		{name: "bad proxy scheme", file: "bots:\n- {id: a, token: '" + tokA + "', proxy_url: 'ftp://p:1'}\n",
			wantErr: []string{`bot "a"`, "proxy_url", "ftp"}},
		{name: "proxy without port", file: "bots:\n- {id: a, token: '" + tokA + "', proxy_url: 'http://p'}\n",
			wantErr: []string{`bot "a"`, "proxy_url", "host:port"}},
		{name: "socks5 proxy with password", file: "bots:\n- {id: a, token: '" + tokA + "', proxy_url: 'socks5://u:pw@p:1080'}\n", wantIDs: []string{"a"}},
		{name: "bad api url", file: "bots:\n- {id: a, token: '" + tokA + "', api_url: 'ftp://x'}\n", wantErr: []string{`bot "a"`, "api_url"}},
		{name: "bad global rate", file: "bots:\n- {id: a, token: '" + tokA + "', global_rate: 0}\n", wantErr: []string{`bot "a"`, "global_rate"}},
		{name: "bad paid rate", file: "bots:\n- {id: a, token: '" + tokA + "', paid_broadcast_rate: 1001}\n", wantErr: []string{`bot "a"`, "paid_broadcast_rate"}},
		{name: "unknown field", file: "bots:\n- {id: a, token: '" + tokA + "', tokn: x}\n", wantErr: []string{"NOTIFIER_BOTS_FILE", "tokn"}},
		{name: "empty list", file: "bots: []\n", wantErr: []string{"NOTIFIER_BOTS_FILE", "bots"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NOTIFIER_BOTS_FILE": writeBots(t, tc.file), "NOTIFIER_ALLOW_OPEN_API": "true"}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := config.Load(config.MapLookup(env))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("loaded; want an error naming %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
				for _, sec := range []string{"AAsecretA", "BBsecretB"} {
					if strings.Contains(err.Error(), sec) {
						t.Errorf("error quotes a token: %q", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, b := range cfg.Bots {
				ids = append(ids, b.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.wantIDs, ",") {
				t.Fatalf("bots %v, want %v", ids, tc.wantIDs)
			}
			if cfg.Sandbox() {
				t.Fatal("a bots file runs the sandbox")
			}
		})
	}
}

// TestBotsFileDefaults: unset fields take the single-bot variables'
// values; set ones override them; the masked log holds no token.
func TestBotsFileDefaults(t *testing.T) {
	t.Parallel()
	file := writeBots(t, "bots:\n- {id: a, token: '111:AAsecretA', proxy_url: 'http://u:pw9secret@proxy:3128'}\n"+
		"- {id: b, token: '222:BBsecretB', global_rate: 5, api_url: 'http://localhost:8081/', welcome_message: hi b, paid_broadcast: true}\n")
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"NOTIFIER_BOTS_FILE": file, "NOTIFIER_ALLOW_OPEN_API": "true",
		"NOTIFIER_GLOBAL_RATE": "20", "WELCOME_MESSAGE": "hello", "TELEGRAM_API_URL": "https://relay.example",
	}))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cfg.Bot("a")
	b, _ := cfg.Bot("b")
	if a.GlobalRate != 20 || a.WelcomeMessage != "hello" || a.APIURL != "https://relay.example" || a.PaidBroadcast {
		t.Errorf("bot a = %+v, want the single-bot defaults", a)
	}
	if b.GlobalRate != 5 || b.WelcomeMessage != "hi b" || b.APIURL != "http://localhost:8081" || !b.PaidBroadcast {
		t.Errorf("bot b = %+v, want its own values", b)
	}
	line := logLine(t, cfg)
	for _, sec := range []string{"AAsecretA", "BBsecretB", "pw9secret"} {
		if strings.Contains(line, sec) {
			t.Errorf("log line holds %q: %s", sec, line)
		}
	}
	if !strings.Contains(line, `"id":"b"`) || !strings.Contains(line, "222:xxxxx") {
		t.Errorf("log line lacks the bots: %s", line)
	}
}

// TestSandboxBots: NOTIFIER_SANDBOX_BOTS=2 runs default and bot2.
func TestSandboxBots(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.MapLookup(map[string]string{"NOTIFIER_SANDBOX_BOTS": "2"}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Sandbox() || len(cfg.Bots) != 2 || cfg.Bots[0].ID != "default" || cfg.Bots[1].ID != "bot2" {
		t.Fatalf("sandbox %v, bots %+v", cfg.Sandbox(), cfg.Bots)
	}
}

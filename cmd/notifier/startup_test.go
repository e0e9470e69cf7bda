package main

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/internal/freeport"
)

// TestStartupMode runs the binary as a deployment would (issue 8, finding
// 3): a missing token beside production settings exits 1 naming
// TELEGRAM_BOT_TOKEN instead of starting the sandbox; with nothing set it
// is the sandbox.
func TestStartupMode(t *testing.T) {
	skipShort(t)
	t.Parallel()
	refusals := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"compose without the token secret", map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "TELEGRAM_BOT_TOKEN": ""},
			[]string{"TELEGRAM_BOT_TOKEN", "REDIS_URL"}},
		{"misspelt token variable", map[string]string{"TELEGRAM_BOT_TOKN": "123:abc"},
			[]string{"TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKN"}},
		{"real bot, open API", map[string]string{"TELEGRAM_BOT_TOKEN": "123:abc"},
			[]string{"NOTIFIER_API_KEYS_FILE", "NOTIFIER_ALLOW_OPEN_API"}},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NOTIFIER_GRPC_ADDR": freeport.MustAddr(t), "NOTIFIER_HTTP_ADDR": freeport.MustAddr(t)}
			for k, v := range c.env {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, notifierBinary(t))
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("err = %v, want exit status 1; output:\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not name %s:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "123:abc") {
				t.Errorf("output echoes a token:\n%s", out)
			}
		})
	}
	t.Run("nothing set is the sandbox", func(t *testing.T) {
		t.Parallel()
		p := startProc(t, map[string]string{"NOTIFIER_GRPC_ADDR": freeport.MustAddr(t), "NOTIFIER_HTTP_ADDR": freeport.MustAddr(t)})
		if !strings.Contains(p.log(), "SANDBOX MODE") {
			t.Fatalf("ready, but not the sandbox:\n%s", tail(p.log(), 4<<10))
		}
	})
}

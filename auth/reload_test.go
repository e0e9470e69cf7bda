package auth

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/metadata"

	"github.com/tgnotify/tgnotify/internal/poll"
)

// callerFor authenticates secret against a.
func callerFor(ctx context.Context, a *Authenticator, secret string) (string, error) {
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+secret))
	c, err := a.Authenticate(ctx)
	return c.Name, err
}

func TestReload(t *testing.T) {
	p := writeFile(t, "keys.yaml", testKeysYAML())
	ks, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	a := New(ks, zap.New(core))

	t.Run("bad file keeps old keys", func(t *testing.T) {
		if err := os.WriteFile(p, []byte("keys:\n  - name: x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Reload(p, a, zap.New(core)); err == nil {
			t.Fatal("Reload of a bad file succeeded")
		}
		if name, err := callerFor(t.Context(), a, secretLink); err != nil || name != "web-frontend" {
			t.Fatalf("old key after failed reload: %q, %v", name, err)
		}
		if logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("keeping the previous keys").Len() != 1 {
			t.Error("failed reload not logged as an error")
		}
	})

	t.Run("SIGHUP", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		WatchSIGHUP(ctx, p, a, zap.New(core))
		newSecret := "after-sighup-0123456789"
		doc := "keys:\n  - name: rotated\n    sha256: " + hashOf(newSecret) + "\n    scopes: [notify]\n"
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		poll.Eventually(t, 10*time.Second, "the new key to work", func() bool {
			name, err := callerFor(ctx, a, newSecret)
			return err == nil && name == "rotated"
		})
		if _, err := callerFor(ctx, a, secretLink); err == nil {
			t.Error("old key still works after reload")
		}
		reloaded := logs.FilterMessage("API keys reloaded").All()
		if len(reloaded) == 0 {
			t.Fatal("reload not logged")
		}
		fields := reloaded[len(reloaded)-1].ContextMap()
		if fields["keys"] != int64(1) {
			t.Errorf("logged keys = %v, want 1", fields["keys"])
		}
		for _, e := range logs.All() {
			for _, v := range e.ContextMap() {
				if s, ok := v.(string); ok && (s == hashOf(newSecret) || s == newSecret) {
					t.Errorf("log %q contains a key or hash", e.Message)
				}
			}
		}
	})

	t.Run("empty path is a no-op", func(t *testing.T) {
		WatchSIGHUP(t.Context(), "", a, nil)
	})
}

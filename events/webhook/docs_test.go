package webhook_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/events/webhook"
)

// docSnippet returns the first fenced block of docs/OPERATIONS.md's
// "Event webhooks" section opened by fence and containing marker.
func docSnippet(t *testing.T, fence, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "OPERATIONS.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Event webhooks\n")
	if !ok {
		t.Fatal(`docs/OPERATIONS.md has no "## Event webhooks" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	for _, block := range strings.Split(sec, "\n"+fence+"\n")[1:] {
		code, _, _ := strings.Cut(block, "\n```")
		if strings.Contains(code, marker) {
			return code
		}
	}
	t.Fatalf("no %s block with %q in the Event webhooks section", fence, marker)
	return ""
}

// TestDocsShellVerification runs the documented openssl lines against a
// body the pusher's Sign signed, and against tampered input.
func TestDocsShellVerification(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	script := docSnippet(t, "```sh", "openssl dgst")
	body := []byte(`{"events":[{"cursor":"1764600000000-0","event_id":"ev-1764600000000-0","type":"EVENT_TYPE_USER_LINKED"}]}`)
	now := time.Now()
	tests := []struct {
		name, secret, header string
		body                 []byte
		want                 string
	}{
		{"signed", testSecret, webhook.Sign([]byte(testSecret), now, body), body, "valid"},
		{"other secret", "another-secret-0123456789", webhook.Sign([]byte(testSecret), now, body), body, "INVALID"},
		{"tampered body", testSecret, webhook.Sign([]byte(testSecret), now, body), append([]byte(" "), body...), "INVALID"},
		{"stale", testSecret, webhook.Sign([]byte(testSecret), now.Add(-10*time.Minute), body), body, "INVALID"},
		{"no header", testSecret, "", body, "INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "body.json"), tc.body, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), "sh", "-c", script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "HEADER="+tc.header, "SECRET="+tc.secret)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("sh: %v: %s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Fatalf("the documented check says %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDocsGoVerification checks that the documented Go verify is the one
// the test receiver uses (verifySignature in helpers_test.go).
func TestDocsGoVerification(t *testing.T) {
	t.Parallel()
	doc := docSnippet(t, "```go", "func verify(")
	src, err := os.ReadFile("helpers_test.go")
	if err != nil {
		t.Fatal(err)
	}
	body := func(s, name string) string {
		_, rest, ok := strings.Cut(s, "func "+name+"(secret, header string, body []byte, now time.Time) error {\n")
		if !ok {
			t.Fatalf("no func %s", name)
		}
		fn, _, _ := strings.Cut(rest, "\n}\n")
		return fn
	}
	if body(doc, "verify") != body(string(src), "verifySignature") {
		t.Fatal("the Go verify of docs/OPERATIONS.md differs from the test receiver's verifySignature: keep them equal")
	}
}

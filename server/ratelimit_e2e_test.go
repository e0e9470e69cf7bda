package server_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// TestAPIKeyRateLimits runs the service with a keys file in which "billing"
// may make 2 calls, then one an hour, and "web-frontend" has no rate. Over
// its rate a key gets RESOURCE_EXHAUSTED with RetryInfo on gRPC and 429
// with Retry-After on REST, the two transports sharing one budget; the
// other key is not affected.
func TestAPIKeyRateLimits(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	body := fmt.Sprintf(`keys:
  - name: web-frontend
    sha256: "%s"
    scopes: [link]
  - name: billing
    sha256: "%s"
    scopes: [notify]
    rate: 1/h
    burst: 2
`, sha("link-key"), sha("notify-key"))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, harnessOpts{env: map[string]string{"NOTIFIER_API_KEYS_FILE": path}})
	ctx := ctxT(t)
	billing := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer notify-key")
	status1 := func() error {
		_, err := h.client.GetStatus(billing, &notifierv1.GetStatusRequest{UserId: "u"})
		return err
	}
	rest := func(key string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, h.base+"/v1/users/u/status", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	// One call on each transport uses the burst of 2.
	if err := status1(); err != nil {
		t.Fatalf("gRPC within the burst: %v", err)
	}
	if resp := rest("notify-key"); resp.StatusCode != http.StatusOK {
		t.Fatalf("REST within the burst: %d", resp.StatusCode)
	}

	err := status1()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("gRPC over the rate: %v, want ResourceExhausted", err)
	}
	var retry time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri.GetRetryDelay().AsDuration()
		}
	}
	if retry < 59*time.Minute || retry > time.Hour {
		t.Fatalf("RetryInfo delay %v, want about an hour", retry)
	}

	resp := rest("notify-key")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("REST over the rate: %d, want 429", resp.StatusCode)
	}
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 3540 || secs > 3600 {
		t.Fatalf("Retry-After %q, want about 3600", resp.Header.Get("Retry-After"))
	}

	// The key without a rate is unlimited, and not slowed by billing's.
	link := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer link-key")
	for i := range 30 {
		if _, err := h.client.GetStatus(link, &notifierv1.GetStatusRequest{UserId: "u"}); err != nil {
			t.Fatalf("unlimited key, gRPC call %d: %v", i+1, err)
		}
		if resp := rest("link-key"); resp.StatusCode != http.StatusOK {
			t.Fatalf("unlimited key, REST call %d: %d", i+1, resp.StatusCode)
		}
	}
	if msg := st.Message(); !strings.Contains(msg, `"billing"`) || !strings.Contains(msg, "1/h") {
		t.Errorf("message %q does not name the key and its rate", msg)
	}
}

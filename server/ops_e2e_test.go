package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func writeKeys(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	body := fmt.Sprintf(`keys:
  - name: web-frontend
    sha256: "%s"
    scopes: [link]
  - name: billing
    sha256: "%s"
    scopes: [notify]
  - name: watcher
    sha256: "%s"
    scopes: [events]
`, sha("link-key"), sha("notify-key"), sha("events-key"))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAPIKeysEveryMethod(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{env: map[string]string{"NOTIFIER_API_KEYS_FILE": writeKeys(t),
		"NOTIFIER_EVENT_HEARTBEAT": "100ms"}}) // a REST watch answers its headers with the first heartbeat
	type call struct {
		name       string
		grpc       func(ctx context.Context) error
		method     string
		path, body string
		scopes     []string // keys that may call it
	}
	c := h.client
	calls := []call{
		{"CreateLinkToken", func(ctx context.Context) error {
			_, err := c.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "u"})
			return err
		}, "POST", "/v1/users/u/link-token", "{}", []string{"link-key"}},
		{"GetLinkURL", func(ctx context.Context) error {
			_, err := c.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: "u"})
			return err
		}, "GET", "/v1/users/u/link-url", "", []string{"link-key"}},
		{"Notify", func(ctx context.Context) error {
			_, err := c.Notify(ctx, &notifierv1.NotifyRequest{UserId: "u", Text: "hi"})
			return err
		}, "POST", "/v1/users/u/notifications", `{"text":"hi"}`, []string{"notify-key"}},
		{"GetStatus", func(ctx context.Context) error {
			_, err := c.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "u"})
			return err
		}, "GET", "/v1/users/u/status", "", []string{"link-key", "notify-key"}},
		{"GetNotification", func(ctx context.Context) error {
			_, err := c.GetNotification(ctx, &notifierv1.GetNotificationRequest{NotificationId: "n1"})
			return err
		}, "GET", "/v1/notifications/n1", "", []string{"notify-key"}},
		{"Unlink", func(ctx context.Context) error {
			_, err := c.Unlink(ctx, &notifierv1.UnlinkRequest{UserId: "u"})
			return err
		}, "DELETE", "/v1/users/u/link", "", []string{"link-key"}},
		{"ListEvents", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{})
			return err
		}, "GET", "/v1/events", "", []string{"events-key"}},
		{"WatchEvents", func(ctx context.Context) error {
			// A permitted stream runs until its context ends: take its first
			// message (a heartbeat, the log being empty) and drop it.
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			s, err := c.WatchEvents(ctx, &notifierv1.WatchEventsRequest{})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, "GET", "/v1/events:watch", "", []string{"events-key"}},
		{"CreateBrowserSession", func(ctx context.Context) error {
			_, err := c.CreateBrowserSession(ctx, &notifierv1.CreateBrowserSessionRequest{UserId: "u"})
			return err
		}, "POST", "/v1/users/u/browser-session", "{}", []string{"link-key"}},
		{"WatchStatus", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			s, err := c.WatchStatus(ctx, &notifierv1.WatchStatusRequest{UserId: "u"})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, "GET", "/v1/users/u/status:watch", "", []string{"link-key", "notify-key"}},
	}
	for _, cl := range calls {
		for _, key := range []string{"", "wrong-key", "link-key", "notify-key", "events-key"} {
			allowed := false
			for _, s := range cl.scopes {
				allowed = allowed || s == key
			}
			wantCode, wantHTTP := codes.OK, 0
			switch {
			case key == "" || key == "wrong-key":
				wantCode, wantHTTP = codes.Unauthenticated, http.StatusUnauthorized
			case !allowed:
				wantCode, wantHTTP = codes.PermissionDenied, http.StatusForbidden
			}
			t.Run(fmt.Sprintf("%s/key=%q", cl.name, key), func(t *testing.T) {
				ctx := ctxT(t)
				if key != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
				}
				got := status.Code(cl.grpc(ctx))
				if wantCode != codes.OK && got != wantCode {
					t.Errorf("gRPC: %s, want %s", got, wantCode)
				}
				if wantCode == codes.OK && (got == codes.Unauthenticated || got == codes.PermissionDenied) {
					t.Errorf("gRPC: %s for a key with the scope", got)
				}
				req, _ := http.NewRequest(cl.method, h.base+cl.path, strings.NewReader(cl.body))
				if key != "" {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if wantHTTP != 0 && resp.StatusCode != wantHTTP {
					t.Errorf("REST: %d, want %d", resp.StatusCode, wantHTTP)
				}
				if wantHTTP == 0 && (resp.StatusCode == 401 || resp.StatusCode == 403) {
					t.Errorf("REST: %d for a key with the scope", resp.StatusCode)
				}
			})
		}
	}
	// Health, reflection-free probes and the webhook need no API key.
	hc := healthpb.NewHealthClient(h.conn)
	if _, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without a key: %v", err)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		if code, _ := h.rest("GET", p, nil); code != http.StatusOK {
			t.Errorf("%s without a key: %d", p, code)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{env: map[string]string{"NOTIFIER_CORS_ORIGINS": "https://app.example.com"}})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", h.base+"/v1/users/u/notifications", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.com")
	if ok.StatusCode >= 300 || ok.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Fatalf("allowed preflight: %d %v", ok.StatusCode, ok.Header)
	}
	bad := preflight("https://evil.example.com")
	if bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed origin got CORS headers: %v", bad.Header)
	}
}

// testCA writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir and returns their paths.
func testCA(t *testing.T) (caFile, certFile, keyFile string, clientCert tls.Certificate, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tgnotify test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage) ([]byte, []byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), k
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sc, sk, _ := issue(2, x509.ExtKeyUsageServerAuth)
	certFile, keyFile = write("server.pem", sc), write("server.key", sk)
	cc, ck, _ := issue(3, x509.ExtKeyUsageClientAuth)
	clientCert, err = tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, clientCert, pool
}

func TestTLSAndMTLS(t *testing.T) {
	t.Parallel()
	caFile, certFile, keyFile, clientCert, pool := testCA(t)
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	env := map[string]string{
		"NOTIFIER_GRPC_ADDR": "127.0.0.1:0", "NOTIFIER_HTTP_ADDR": "127.0.0.1:0",
		"TELEGRAM_BOT_TOKEN": fake.Token(), "TELEGRAM_API_URL": fake.URL(), "NOTIFIER_ALLOW_OPEN_API": "true",
		"NOTIFIER_TLS_CERT_FILE": certFile, "NOTIFIER_TLS_KEY_FILE": keyFile, "NOTIFIER_GRPC_CLIENT_CA_FILE": caFile,
		"NOTIFIER_WEBHOOK_ADDR": "127.0.0.1:0",
	}
	app, stop := runApp(t, env)
	defer stop()

	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	eventually(t, 10*time.Second, "HTTPS /readyz", func() bool {
		resp, err := httpsClient.Get("https://" + app.HTTPAddr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if _, err := http.Get("http://" + app.HTTPAddr() + "/healthz"); err == nil {
		// A plaintext request to a TLS listener gets a 400 answer, never data.
		resp, _ := http.Get("http://" + app.HTTPAddr() + "/healthz")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plaintext HTTP served on the TLS listener: %s", body)
		}
	}
	// REST through TLS reaches the API via the in-process gateway.
	resp, err := httpsClient.Post("https://"+app.HTTPAddr()+"/v1/users/u/link-token", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("REST over TLS: %d", resp.StatusCode)
	}
	// The webhook's own listener serves the same certificate.
	resp, err = httpsClient.Get("https://" + app.WebhookAddr() + "/healthz")
	if err != nil {
		t.Fatalf("webhook listener over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook listener /healthz over TLS: %d", resp.StatusCode)
	}

	dial := func(certs []tls.Certificate) error {
		creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: certs})
		conn, err := grpc.NewClient(app.GRPCAddr(), grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = notifierv1.NewNotifierServiceClient(conn).GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "u"})
		return err
	}
	if err := dial([]tls.Certificate{clientCert}); err != nil {
		t.Fatalf("mTLS with a client certificate: %v", err)
	}
	if err := dial(nil); status.Code(err) != codes.Unavailable {
		t.Fatalf("mTLS without a client certificate: %v, want UNAVAILABLE (handshake refused)", err)
	}
}

func TestMetricsMove(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	scrape := func() string {
		resp, err := http.Get(h.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	h.link("mia", 4242)
	var body string
	for _, want := range []string{
		`tgnotify_links_total 1`,
		`grpc_server_handled_total{caller="anonymous",grpc_code="OK",grpc_method="CreateLinkToken",grpc_service="notifier.v1.NotifierService",grpc_type="unary"} 1`,
		`tgnotify_telegram_updates_received_total{kind="message",outcome="processed"} 1`,
		`tgnotify_telegram_api_calls_total{code="200",method="sendMessage"} 1`,
		`tgnotify_delivery_queue_depth 0`,
	} {
		// The reply reaches the chat a moment before the handler returns.
		eventually(t, 5*time.Second, "/metrics shows "+want, func() bool {
			body = scrape()
			return strings.Contains(body, want)
		})
	}
	r, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "mia", Text: "metered"})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFinal(r.GetNotificationId())
	for _, want := range []string{
		`tgnotify_notifications_accepted_total 1`,
		`tgnotify_notifications_finished_total{reason="none",state="sent"} 1`,
	} {
		eventually(t, 5*time.Second, "/metrics shows "+want, func() bool {
			body = scrape()
			return strings.Contains(body, want)
		})
	}
	if strings.Contains(body, h.fake.Token()) {
		t.Fatal("/metrics exposes the bot token")
	}
}

func TestReadinessFollowsRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	h := startHarness(t, harnessOpts{redisURL: rs.URL()})
	rs.Stop()
	eventually(t, 10*time.Second, "/readyz 503 with redis down", func() bool {
		code, _ := h.rest("GET", "/readyz", nil)
		return code == http.StatusServiceUnavailable
	})
	hc := healthpb.NewHealthClient(h.conn)
	eventually(t, 10*time.Second, "grpc health NOT_SERVING with redis down", func() bool {
		r, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{})
		return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	})
	if code, _ := h.rest("GET", "/healthz", nil); code != http.StatusOK {
		t.Fatalf("/healthz = %d: the process is up", code)
	}
	rs.Restart()
	h.waitReady()
	eventually(t, 10*time.Second, "grpc health SERVING again", func() bool {
		r, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{})
		return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})
}

func TestWebhookManagement(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{webhook: true, env: map[string]string{"TELEGRAM_WEBHOOK_MAX_CONNECTIONS": "7"}})
	info := h.fake.WebhookInfo()
	if info.MaxConnections != 7 || strings.Join(info.AllowedUpdates, ",") != "message,my_chat_member,callback_query" {
		t.Fatalf("webhook info %+v", info)
	}

	// Switching to polling deletes the webhook first, then polls.
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	h2 := startHarness(t, harnessOpts{webhook: true, fake: fake})
	h2.shutdown()
	if fake.WebhookInfo().URL == "" {
		t.Fatal("webhook not set by the first instance")
	}
	h3 := startHarness(t, harnessOpts{fake: fake})
	if fake.WebhookInfo().URL != "" {
		t.Fatal("polling instance did not delete the webhook")
	}
	h3.link("pat", 3131)
}

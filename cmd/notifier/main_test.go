package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/config"
)

// selfSigned writes a self-signed certificate for notifier.example.com (not
// for 127.0.0.1, like a real certificate for the service's public name) and
// returns its file and the key pair.
func selfSigned(t *testing.T, name string) (certFile string, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "notifier.example.com"},
		DNSNames:     []string{"notifier.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	certFile = filepath.Join(t.TempDir(), name+".pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return certFile, pair
}

// TestHealthcheckTLS runs `notifier healthcheck` against real listeners,
// plaintext and TLS (issue 8, finding 10: it always spoke http://, so the
// container health check failed whenever TLS was on).
func TestHealthcheckTLS(t *testing.T) {
	t.Parallel()
	servedFile, served := selfSigned(t, "served")
	otherFile, _ := selfSigned(t, "other")
	readyz := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
		})
	}
	start := func(t *testing.T, tlsOn bool, code int) string {
		srv := httptest.NewUnstartedServer(readyz(code))
		if tlsOn {
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{served}, MinVersion: tls.VersionTLS12}
			srv.StartTLS()
		} else {
			srv.Start()
		}
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	cases := []struct {
		name     string
		tls      bool
		code     int
		certFile string // NOTIFIER_TLS_CERT_FILE
		want     int
		stderr   string
	}{
		{name: "plaintext ready", code: http.StatusOK, want: 0},
		{name: "plaintext not ready", code: http.StatusServiceUnavailable, want: 1, stderr: "503"},
		{name: "tls ready", tls: true, code: http.StatusOK, certFile: servedFile, want: 0},
		{name: "tls not ready", tls: true, code: http.StatusServiceUnavailable, certFile: servedFile, want: 1, stderr: "503"},
		{name: "tls, a different certificate answers", tls: true, code: http.StatusOK, certFile: otherFile, want: 1, stderr: "NOTIFIER_TLS_CERT_FILE"},
		{name: "tls, unreadable certificate file", tls: true, code: http.StatusOK, certFile: filepath.Join(t.TempDir(), "missing.pem"), want: 1, stderr: "NOTIFIER_TLS_CERT_FILE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NOTIFIER_HTTP_ADDR": start(t, c.tls, c.code)}
			if c.certFile != "" {
				env["NOTIFIER_TLS_CERT_FILE"] = c.certFile
				env["NOTIFIER_TLS_KEY_FILE"] = "unused-by-the-healthcheck.pem"
			}
			var stderr strings.Builder
			if got := healthcheck(config.MapLookup(env), &stderr); got != c.want {
				t.Fatalf("healthcheck = %d, want %d (stderr: %s)", got, c.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("stderr = %q, want it to mention %q", stderr.String(), c.stderr)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	got := envNames([]string{"A=1", "TELEGRAM_X=", "B=x=y", "=weird", "noequals"})
	if want := []string{"A", "TELEGRAM_X", "B"}; !slices.Equal(got, want) {
		t.Fatalf("envNames = %v, want %v", got, want)
	}
}

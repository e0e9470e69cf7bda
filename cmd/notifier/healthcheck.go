package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/config"
)

// healthcheck asks the local HTTP listener's /readyz, for container health
// checks in images without curl. It reads the same variables as the server
// (NOTIFIER_HTTP_ADDR, NOTIFIER_TLS_CERT_FILE) and speaks HTTPS when the
// listener has TLS on. It returns the process exit code.
func healthcheck(lookup config.Lookup, stderr io.Writer) int {
	if err := checkReady(lookup); err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	return 0
}

func checkReady(lookup config.Lookup) error {
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	addr := get("NOTIFIER_HTTP_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("NOTIFIER_HTTP_ADDR=%q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme, transport := "http", http.DefaultTransport.(*http.Transport).Clone()
	if certFile := get("NOTIFIER_TLS_CERT_FILE"); certFile != "" {
		tc, err := pinnedTLS(certFile)
		if err != nil {
			return err
		}
		scheme, transport.TLSClientConfig = "https", tc
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: transport}
	defer c.CloseIdleConnections()
	resp, err := c.Get(scheme + "://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		return fmt.Errorf("GET /readyz: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %s", resp.Status)
	}
	return nil
}

// pinnedTLS trusts exactly the server's own certificate, read from the file
// the server serves (NOTIFIER_TLS_CERT_FILE). The healthcheck dials the
// listener by IP (usually 127.0.0.1), for which a certificate issued to the
// service's public name would fail hostname verification, and a
// self-signed one would fail chain verification; skipping verification
// instead would accept whatever answers on that port. Comparing the leaf
// byte for byte needs neither a CA nor a matching name, and accepts nothing
// else. (After the file is rotated the running server still serves the old
// certificate and the check fails, which restarts the container onto the
// new one: the server loads its certificate only at start.)
func pinnedTLS(certFile string) (*tls.Config, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("NOTIFIER_TLS_CERT_FILE: %w", err)
	}
	var leaf []byte
	for rest := raw; leaf == nil; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("NOTIFIER_TLS_CERT_FILE: no PEM certificate found")
		}
		if b.Type == "CERTIFICATE" {
			leaf = b.Bytes
		}
	}
	if _, err := x509.ParseCertificate(leaf); err != nil {
		return nil, fmt.Errorf("NOTIFIER_TLS_CERT_FILE: %w", err)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verification is not skipped: VerifyConnection below replaces the
		// name and chain checks with an exact match on the pinned leaf.
		InsecureSkipVerify: true, //nolint:gosec // pinned, see above
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return errors.New("the listener's certificate is not the one in NOTIFIER_TLS_CERT_FILE")
			}
			return nil
		},
	}, nil
}

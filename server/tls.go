package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
)

// LoadTLS builds the listeners' TLS configuration from the certificate and
// key files; with a client CA file the gRPC listener requires and verifies
// client certificates (mTLS). Without certificate files it returns nils:
// plaintext.
func LoadTLS(certFile, keyFile, clientCAFile string) (*tls.Config, credentials.TransportCredentials, error) {
	if certFile == "" {
		return nil, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("NOTIFIER_TLS_CERT_FILE/NOTIFIER_TLS_KEY_FILE: %w", err)
	}
	base := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	grpcTLS := base.Clone()
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("NOTIFIER_GRPC_CLIENT_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, errors.New("NOTIFIER_GRPC_CLIENT_CA_FILE: no PEM certificate found")
		}
		grpcTLS.ClientCAs = pool
		grpcTLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return base, credentials.NewTLS(grpcTLS), nil
}

// Package freeport finds TCP ports on 127.0.0.1 that are free, for tests
// and tools that start servers on fixed addresses (a child process, a
// restart on the same port).
//
//	addr := freeport.MustAddr(t) // "127.0.0.1:41234"
//	port, err := freeport.Port()
//
// The kernel picks the port and the listener is closed before it is
// returned, so another process may take it in between: callers that start
// a server on it retry with a new port when the start fails.
package freeport

import (
	"fmt"
	"net"
	"testing"
)

// Port returns a TCP port on 127.0.0.1 that was free a moment ago.
func Port() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("freeport: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr returns "127.0.0.1:port" with a port that was free a moment ago.
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(p)), nil
}

// MustAddr is [Addr] that fails tb when no port can be found.
func MustAddr(tb testing.TB) string {
	tb.Helper()
	a, err := Addr()
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

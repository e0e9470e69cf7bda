package freeport_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/tgnotify/tgnotify/internal/freeport"
)

func TestPortIsFreeOnLoopback(t *testing.T) {
	t.Parallel()
	p, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	if p <= 0 || p > 65535 {
		t.Fatalf("Port = %d, want 1-65535", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("listen on the returned port: %v", err)
	}
	_ = l.Close()
}

func TestMustAddr(t *testing.T) {
	t.Parallel()
	a := freeport.MustAddr(t)
	host, port, err := net.SplitHostPort(a)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("MustAddr = %q (%v), want 127.0.0.1:<port>", a, err)
	}
	l, err := net.Listen("tcp", a)
	if err != nil {
		t.Fatalf("listen on %s: %v", a, err)
	}
	_ = l.Close()
}

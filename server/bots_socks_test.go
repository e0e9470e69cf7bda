package server_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// socks5Proxy is a minimal SOCKS5 server (RFC 1928, with the
// username/password method of RFC 1929 when user is set): CONNECT only.
type socks5Proxy struct {
	ln         net.Listener
	user, pass string
	connects   atomic.Int64
	refused    atomic.Int64
}

func startSocks5(t *testing.T, user, pass string) *socks5Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &socks5Proxy{ln: ln, user: user, pass: pass}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *socks5Proxy) serve(c net.Conn) {
	defer c.Close()
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(c, hdr); err != nil || hdr[0] != 5 {
		return
	}
	if _, err := io.ReadFull(c, make([]byte, hdr[1])); err != nil {
		return
	}
	if p.user != "" {
		if _, err := c.Write([]byte{5, 2}); err != nil || !p.auth(c) {
			p.refused.Add(1)
			return
		}
	} else if _, err := c.Write([]byte{5, 0}); err != nil {
		return
	}
	target, ok := readSocksRequest(c)
	if !ok {
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		_, _ = c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	defer up.Close()
	p.connects.Add(1)
	if _, err := c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}); err != nil {
		return
	}
	go func() { _, _ = io.Copy(up, c) }()
	_, _ = io.Copy(c, up)
}

// auth reads RFC 1929's username/password and answers it.
func (p *socks5Proxy) auth(c net.Conn) bool {
	field := func() string {
		n := make([]byte, 1)
		if _, err := io.ReadFull(c, n); err != nil {
			return ""
		}
		b := make([]byte, n[0])
		if _, err := io.ReadFull(c, b); err != nil {
			return ""
		}
		return string(b)
	}
	ver := make([]byte, 1)
	if _, err := io.ReadFull(c, ver); err != nil || ver[0] != 1 {
		return false
	}
	u, pw := field(), field()
	ok := u == p.user && pw == p.pass
	status := byte(1)
	if ok {
		status = 0
	}
	_, _ = c.Write([]byte{1, status})
	return ok
}

// readSocksRequest reads a CONNECT request and returns its host:port.
func readSocksRequest(c net.Conn) (string, bool) {
	req := make([]byte, 4)
	if _, err := io.ReadFull(c, req); err != nil || req[0] != 5 || req[1] != 1 {
		return "", false
	}
	var host string
	switch req[3] {
	case 1:
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil {
			return "", false
		}
		host = net.IP(b).String()
	case 3:
		n := make([]byte, 1)
		if _, err := io.ReadFull(c, n); err != nil {
			return "", false
		}
		b := make([]byte, n[0])
		if _, err := io.ReadFull(c, b); err != nil {
			return "", false
		}
		host = string(b)
	default:
		return "", false
	}
	port := make([]byte, 2)
	if _, err := io.ReadFull(c, port); err != nil {
		return "", false
	}
	return net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port)))), true
}

// TestBotsProxyURLSocks5: a socks5:// proxy_url with user:password carries
// bot b's requests; the proxy here checks the credentials.
func TestBotsProxyURLSocks5(t *testing.T) {
	t.Parallel()
	proxy := startSocks5(t, "tguser", "pr0xy-pass")
	h, fakeB := startBots(t, botsOpts{bLine: fmt.Sprintf("proxy_url: 'socks5://tguser:pr0xy-pass@%s'", proxy.ln.Addr())})
	ctx := ctxT(t)
	h.linkOn(ctx, botB, fakeB, "hank", 1100)
	r := h.notify(&notifierv1.NotifyRequest{UserId: "hank", Text: "through socks5", Bot: botB})
	if got := h.waitFinal(r.GetNotificationId()); got.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("bot b behind socks5: %v, want SENT", got)
	}
	if proxy.connects.Load() == 0 {
		t.Fatal("no connection went through the socks5 proxy")
	}
	if proxy.refused.Load() != 0 {
		t.Fatalf("%d connections refused: the client did not send the credentials", proxy.refused.Load())
	}
}

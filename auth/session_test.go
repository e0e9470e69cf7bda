package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

var testSecret = []byte("unit-test-session-secret-0123456789abcdef")

func TestNewSessionsSecretLength(t *testing.T) {
	for _, n := range []int{0, 31, 1025} {
		if _, err := NewSessions(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte secret was accepted", n)
		}
	}
	for _, n := range []int{32, 1024} {
		if _, err := NewSessions(make([]byte, n)); err != nil {
			t.Errorf("a %d-byte secret: %v", n, err)
		}
	}
}

func TestSessionRoundTripAndTampering(t *testing.T) {
	s, err := NewSessions(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	tok, exp, err := s.Mint("alice", "default", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, SessionPrefix) || !exp.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("token %q expires %v", tok, exp)
	}
	got, err := s.Verify(tok)
	if err != nil || got.UserID != "alice" || got.Bot != "default" || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	other, _ := NewSessions([]byte(strings.Repeat("x", 40)))
	payload, sig, _ := strings.Cut(strings.TrimPrefix(tok, SessionPrefix), ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"u":"bob","b":"default","e":` + "9999999999999" + `}`))
	otherTok, _, _ := other.Mint("alice", "default", time.Hour)
	bad := map[string]string{
		"empty":             "",
		"no prefix":         strings.TrimPrefix(tok, SessionPrefix),
		"no signature":      SessionPrefix + payload,
		"other user":        SessionPrefix + forged + "." + sig,
		"flipped signature": tok[:len(tok)-2] + flip(tok[len(tok)-2:]),
		"other secret":      otherTok,
		"bad base64":        SessionPrefix + "!!!." + sig,
		"too long":          SessionPrefix + strings.Repeat("a", maxKeyLen) + "." + sig,
	}
	for name, b := range bad {
		if _, err := s.Verify(b); !errors.Is(err, ErrSessionInvalid) {
			t.Errorf("%s: Verify = %v, want ErrSessionInvalid", name, err)
		}
	}
	now = exp
	if _, err := s.Verify(tok); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("at expiry: %v, want ErrSessionExpired", err)
	}
}

func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// TestSessionAuthorization: with keys on, a session calls its methods for
// its user only; anything else is PERMISSION_DENIED, a bad token
// UNAUTHENTICATED.
func TestSessionAuthorization(t *testing.T) {
	ks, err := Parse([]byte(`keys: [{name: web, sha256: "` + hashOf("k") + `", scopes: [link]}]`))
	if err != nil {
		t.Fatal(err)
	}
	a := New(ks, nil)
	s, _ := NewSessions(testSecret)
	a.UseSessions(s)
	tok, _, _ := s.Mint("alice", "default", time.Minute)
	call := a.UnaryServerInterceptor()
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	cases := []struct {
		method string
		req    any
		bearer string
		want   codes.Code
	}{
		{"GetStatus", &notifierv1.GetStatusRequest{UserId: "alice"}, tok, codes.OK},
		{"GetLinkURL", &notifierv1.GetLinkURLRequest{UserId: "alice"}, tok, codes.OK},
		{"CreateLinkToken", &notifierv1.CreateLinkTokenRequest{UserId: "alice"}, tok, codes.OK},
		{"Unlink", &notifierv1.UnlinkRequest{UserId: "alice"}, tok, codes.OK},
		{"GetStatus", &notifierv1.GetStatusRequest{UserId: "bob"}, tok, codes.PermissionDenied},
		{"GetStatus", &notifierv1.GetStatusRequest{UserId: "alice", Bot: "default"}, tok, codes.OK},
		{"GetStatus", &notifierv1.GetStatusRequest{UserId: "alice", Bot: "shop"}, tok, codes.PermissionDenied},
		{"Unlink", &notifierv1.UnlinkRequest{UserId: "alice", Bot: "shop"}, tok, codes.PermissionDenied},
		{"Notify", &notifierv1.NotifyRequest{UserId: "alice"}, tok, codes.PermissionDenied},
		{"CreateBrowserSession", &notifierv1.CreateBrowserSessionRequest{UserId: "alice"}, tok, codes.PermissionDenied},
		{"ListEvents", &notifierv1.ListEventsRequest{UserId: "alice"}, tok, codes.PermissionDenied},
		{"GetStatus", &notifierv1.GetStatusRequest{UserId: "alice"}, tok + "x", codes.Unauthenticated},
		{"CreateBrowserSession", &notifierv1.CreateBrowserSessionRequest{UserId: "alice"}, "k", codes.OK},
	}
	for _, c := range cases {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+c.bearer))
		_, err := call(ctx, c.req, &grpc.UnaryServerInfo{FullMethod: notifierService + c.method}, ok)
		if got := status.Code(err); got != c.want {
			t.Errorf("%s(%v) with %.10s…: %v, want %s", c.method, c.req, c.bearer, err, c.want)
		}
	}
}

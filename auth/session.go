package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Browser session limits.
const (
	// SessionPrefix starts every session token; API keys never contain
	// its '.', so a bearer value with it is always read as a session.
	SessionPrefix = "tgs1."
	// DefaultSessionTTL is a session's lifetime when the caller gives none.
	DefaultSessionTTL = 15 * time.Minute
	// MaxSessionTTL is the longest session that may be minted.
	MaxSessionTTL = 24 * time.Hour
	// MinSessionSecret and MaxSessionSecret bound NOTIFIER_SESSION_SECRET,
	// in bytes.
	MinSessionSecret = 32
	MaxSessionSecret = 1024
	// SessionCallerName is the Caller.Name (logs, metric labels) of every
	// call made with a session token; no API key may take it.
	SessionCallerName = "browser-session"
)

// Errors of session verification; both are UNAUTHENTICATED to callers.
var (
	// ErrSessionInvalid: malformed, or its signature does not match.
	ErrSessionInvalid = errors.New("invalid session token")
	// ErrSessionExpired: well signed but past its expiry.
	ErrSessionExpired = errors.New("session token expired: ask the application for a new one")
)

// sessionMethods are the NotifierService methods a browser session may
// call, each for its own user only.
var sessionMethods = map[string]bool{
	"GetLinkURL":      true,
	"CreateLinkToken": true,
	"GetStatus":       true,
	"WatchStatus":     true,
	"Unlink":          true,
}

// Session is what a verified session token says.
type Session struct {
	// UserID is the one user the session may act for.
	UserID string
	// Bot names the bot the session is for ("default" until several bots
	// are served).
	Bot string
	// ExpiresAt is when the token stops working.
	ExpiresAt time.Time
}

// sessionPayload is the signed JSON part of a token.
type sessionPayload struct {
	User string `json:"u"`
	Bot  string `json:"b"`
	Exp  int64  `json:"e"` // Unix milliseconds
}

// Sessions mints and verifies browser session tokens:
// "tgs1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, payload))>".
// Replicas that share the secret accept each other's tokens.
type Sessions struct {
	secret []byte
	now    func() time.Time
}

// NewSessions returns a minter and verifier signing with secret, which must
// be MinSessionSecret to MaxSessionSecret bytes.
func NewSessions(secret []byte) (*Sessions, error) {
	if len(secret) < MinSessionSecret || len(secret) > MaxSessionSecret {
		return nil, fmt.Errorf("session secret: want %d to %d bytes, got %d", MinSessionSecret, MaxSessionSecret, len(secret))
	}
	return &Sessions{secret: append([]byte(nil), secret...), now: time.Now}, nil
}

// RandomSessions returns Sessions with a random secret of this process
// only: the wiring uses it when the API is open (where tokens are not
// checked) and no secret is configured.
func RandomSessions() (*Sessions, error) {
	b := make([]byte, MinSessionSecret)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("session secret: %w", err)
	}
	return NewSessions(b)
}

// Mint returns a token for user and bot that expires after ttl (cut to
// whole milliseconds), and its expiry.
func (s *Sessions) Mint(user, bot string, ttl time.Duration) (string, time.Time, error) {
	exp := s.now().Add(ttl).Truncate(time.Millisecond)
	body, err := json.Marshal(sessionPayload{User: user, Bot: bot, Exp: exp.UnixMilli()})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("encode session: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(body)
	return SessionPrefix + p + "." + base64.RawURLEncoding.EncodeToString(s.sign(p)), exp, nil
}

// sign is the HMAC-SHA256 of the encoded payload.
func (s *Sessions) sign(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(SessionPrefix))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Verify checks a token's signature (in constant time) and expiry.
func (s *Sessions) Verify(token string) (Session, error) {
	rest, ok := strings.CutPrefix(token, SessionPrefix)
	if !ok || len(token) > maxKeyLen {
		return Session{}, ErrSessionInvalid
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return Session{}, ErrSessionInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.sign(p)) {
		return Session{}, ErrSessionInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Session{}, ErrSessionInvalid
	}
	var sp sessionPayload
	if err := json.Unmarshal(body, &sp); err != nil || sp.User == "" || sp.Exp <= 0 {
		return Session{}, ErrSessionInvalid
	}
	exp := time.UnixMilli(sp.Exp)
	if !s.now().Before(exp) {
		return Session{}, ErrSessionExpired
	}
	return Session{UserID: sp.User, Bot: sp.Bot, ExpiresAt: exp}, nil
}

package server

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
)

// tokenBytes is the entropy of a link token: 192 bits, 32 base64url
// characters, well within Telegram's 64-character start parameter.
const tokenBytes = 24

// newToken returns a fresh random URL-safe token from crypto/rand.
func newToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// DeepLink returns the t.me link that opens the bot with the given start
// parameter.
func DeepLink(botUsername, token string) string {
	return "https://t.me/" + url.PathEscape(botUsername) + "?start=" + url.QueryEscape(token)
}

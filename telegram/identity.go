package telegram

import "sync"

// BotIdentity holds the bot's username once it is known (from configuration
// or from getMe). It is safe for concurrent use. The API (deep links) and
// update handling (commands addressed to a bot) read it; the wiring sets it.
type BotIdentity struct {
	mu       sync.RWMutex
	username string
}

// Set records the bot's username.
func (b *BotIdentity) Set(username string) {
	b.mu.Lock()
	b.username = username
	b.mu.Unlock()
}

// Username returns the bot's username and whether it is known.
func (b *BotIdentity) Username() (string, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.username, b.username != ""
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultBot is the id of the bot the single-bot variables
// (TELEGRAM_BOT_TOKEN, ...) define, and the bot of a request that names
// none.
const DefaultBot = "default"

// MaxBots bounds the bots of one deployment (each runs its own workers,
// poller and store prefix).
const MaxBots = 256

// maxBotsFileSize bounds NOTIFIER_BOTS_FILE.
const maxBotsFileSize = 1 << 20

// Bot is one bot of the deployment: its own token, identity, update intake
// (webhook or polling), limits, welcome, Bot API URL and proxy. Config.Bots
// holds the effective values (defaults filled in from the single-bot
// variables).
type Bot struct {
	// ID names the bot in requests (the rpcs' bot field), in the webhook
	// path and in its store prefix: [a-z0-9_-]{1,32}.
	ID string
	// Token is the BotFather token; empty only in the sandbox.
	Token string
	// Username is the bot's @username without '@'; empty: ask getMe.
	Username string
	// WebhookURL is where Telegram posts this bot's updates (empty: long
	// polling); WebhookSecret is then required.
	WebhookURL, WebhookSecret string
	// GlobalRate is this bot's own global send rate (messages a second).
	GlobalRate float64
	// PaidBroadcast allows allow_paid_broadcast for this bot.
	PaidBroadcast bool
	// PaidBroadcastRate is the rate of this bot's paid broadcasts
	// (Broadcast paid: true); 0 refuses them. Default:
	// NOTIFIER_PAID_BROADCAST_RATE; paid_broadcast_rate: 0 turns them off
	// for one bot.
	PaidBroadcastRate float64
	// WelcomeMessage is sent after a successful link.
	WelcomeMessage string
	// APIURL is the Bot API base URL (a local Bot API server or a relay).
	APIURL string
	// ProxyURL is the forward proxy to reach APIURL through (http, https or
	// socks5, with optional user:password); empty: HTTPS_PROXY/NO_PROXY.
	ProxyURL string
	// FromFile tells a bot of NOTIFIER_BOTS_FILE from the one of the
	// single-bot variables (for messages naming the setting to fix).
	FromFile bool
}

// Webhook reports whether the bot's updates arrive by webhook.
func (b Bot) Webhook() bool { return b.WebhookURL != "" }

// botIDRe is the form of a bot id.
var botIDRe = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// tokenRe is the form of a BotFather token: the bot's numeric id, a colon
// and the secret.
var tokenRe = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{1,128}$`)

// botsDoc is NOTIFIER_BOTS_FILE's document.
type botsDoc struct {
	Bots *[]fileBot `yaml:"bots"`
}

// fileBot is one entry of NOTIFIER_BOTS_FILE; unset fields take the
// single-bot variables' values.
type fileBot struct {
	ID             string   `yaml:"id"`
	Token          string   `yaml:"token"`
	Username       string   `yaml:"username"`
	WebhookURL     string   `yaml:"webhook_url"`
	WebhookSecret  string   `yaml:"webhook_secret"`
	GlobalRate     *float64 `yaml:"global_rate"`
	PaidBroadcast  *bool    `yaml:"paid_broadcast"`
	PaidRate       *float64 `yaml:"paid_broadcast_rate"`
	WelcomeMessage string   `yaml:"welcome_message"`
	APIURL         string   `yaml:"api_url"`
	ProxyURL       string   `yaml:"proxy_url"`
}

// ParseBots parses a bots document (YAML, a top-level "bots" list),
// strictly: unknown fields and more than one document are errors. Values
// are checked by [ValidateBots] once the defaults are filled in; def gives
// them (its ID is ignored).
func ParseBots(data []byte, def Bot) ([]Bot, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New(`empty document: expected a top-level "bots" list`)
	}
	var doc botsDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid YAML: more than one document")
	}
	if doc.Bots == nil || len(*doc.Bots) == 0 {
		return nil, errors.New(`missing or empty top-level "bots" list`)
	}
	bots := make([]Bot, 0, len(*doc.Bots))
	for _, fb := range *doc.Bots {
		b := Bot{
			ID: fb.ID, Token: strings.TrimSpace(fb.Token), Username: strings.TrimPrefix(fb.Username, "@"),
			WebhookURL: fb.WebhookURL, WebhookSecret: fb.WebhookSecret,
			GlobalRate: def.GlobalRate, PaidBroadcast: def.PaidBroadcast, PaidBroadcastRate: def.PaidBroadcastRate,
			WelcomeMessage: def.WelcomeMessage, APIURL: def.APIURL, ProxyURL: fb.ProxyURL, FromFile: true,
		}
		if fb.PaidRate != nil {
			b.PaidBroadcastRate = *fb.PaidRate
		}
		if fb.GlobalRate != nil {
			b.GlobalRate = *fb.GlobalRate
		}
		if fb.PaidBroadcast != nil {
			b.PaidBroadcast = *fb.PaidBroadcast
		}
		if strings.TrimSpace(fb.WelcomeMessage) != "" {
			b.WelcomeMessage = fb.WelcomeMessage
		}
		if fb.APIURL != "" {
			b.APIURL = strings.TrimRight(fb.APIURL, "/")
		}
		bots = append(bots, b)
	}
	return bots, nil
}

// readBotsFile reads path, bounded.
func readBotsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBotsFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBotsFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxBotsFileSize)
	}
	return data, nil
}

// ValidateBots checks every bot and their relations (distinct ids and
// tokens). Each error names the bot and the field and never quotes a
// token or secret. The first envBots bots come from the single-bot
// variables, which validateTelegram checks: only their relations to the
// others are checked here. sandbox allows empty tokens (the fake Bot API's).
func ValidateBots(bots []Bot, envBots int, sandbox bool) []error {
	var errs []error
	if len(bots) > MaxBots {
		errs = append(errs, fmt.Errorf("NOTIFIER_BOTS_FILE: %d bots, at most %d", len(bots), MaxBots))
	}
	ids := map[string]int{}
	tokens := map[string]string{}
	for i, b := range bots {
		name := fmt.Sprintf("bot #%d", i+1)
		if b.ID != "" {
			name = fmt.Sprintf("bot %q", b.ID)
		}
		bad := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("NOTIFIER_BOTS_FILE: %s: %s: %s", name, field, fmt.Sprintf(format, args...)))
		}
		if !botIDRe.MatchString(b.ID) {
			bad("id", "want 1-32 characters of a-z, 0-9, _ and -")
		} else if j, dup := ids[b.ID]; dup {
			if b.ID == DefaultBot {
				bad("id", "%q is the bot of TELEGRAM_BOT_TOKEN; unset TELEGRAM_BOT_TOKEN or rename the file's bot", DefaultBot)
			} else {
				bad("id", "duplicate, also bot #%d", j+1)
			}
		} else {
			ids[b.ID] = i
		}
		if i >= envBots {
			validateBotFields(b, sandbox, bad)
		}
		if b.Token != "" {
			if other, dup := tokens[b.Token]; dup {
				bad("token", "the same token as bot %q (one token, one bot)", other)
			} else {
				tokens[b.Token] = b.ID
			}
		}
	}
	return errs
}

// validateBotFields checks one bot's values, reporting through bad.
func validateBotFields(b Bot, sandbox bool, bad func(field, format string, args ...any)) {
	switch {
	case b.Token == "" && !sandbox:
		bad("token", "required")
	case b.Token != "" && !tokenRe.MatchString(b.Token):
		bad("token", "malformed (expected 123456:ABC... from BotFather)")
	}
	if b.Username != "" && !usernameRe.MatchString(b.Username) {
		bad("username", "%q: want 5-32 characters of A-Z, a-z, 0-9 and _", b.Username)
	}
	if b.WebhookURL != "" {
		if u, err := url.Parse(b.WebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("webhook_url", "want an https URL")
		}
		if b.WebhookSecret == "" {
			bad("webhook_secret", "required with webhook_url (generate one with: openssl rand -hex 32)")
		}
	}
	if b.WebhookSecret != "" && !secretRe.MatchString(b.WebhookSecret) {
		bad("webhook_secret", "want 1-256 characters of A-Z, a-z, 0-9, _ and -")
	}
	if b.GlobalRate < 0.1 || b.GlobalRate > 1000 {
		bad("global_rate", "%g: want a number between 0.1 and 1000", b.GlobalRate)
	}
	if b.PaidBroadcastRate < 0 || b.PaidBroadcastRate > 1000 {
		bad("paid_broadcast_rate", "%g: want 0 (no paid broadcasts) to 1000", b.PaidBroadcastRate)
	}
	if len(b.WelcomeMessage) > 4096 {
		bad("welcome_message", "must be at most 4096 characters")
	}
	if u, err := url.Parse(b.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("api_url", "want an http(s) URL")
	}
	if err := ValidateProxyURL(b.ProxyURL); err != nil {
		bad("proxy_url", "%v", err)
	}
}

// ValidateProxyURL checks a proxy URL: empty, or http://, https:// or
// socks5:// with a host and port, optional user:password, and no path,
// query or fragment. Its errors never quote the URL (it may hold a
// password).
func ValidateProxyURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL (want http://, https:// or socks5://[user:password@]host:port)")
	}
	switch u.Scheme {
	case "http", "https", "socks5":
	default:
		return fmt.Errorf("scheme %q: want http, https or socks5", u.Scheme)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return errors.New("want host:port")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want no path, query or fragment")
	}
	return nil
}

// Package config loads tgnotify's configuration from environment
// variables, once, into [Config]: defaults (the delivery engine's from
// delivery.DefaultConfig), every value parsed and then validated in one
// place, every problem reported at once naming its variable. Tests pass a
// map instead of the process environment; [Config] logs itself with its
// secrets masked.
//
//	cfg, err := config.Load(os.LookupEnv)
//	cfg, err := config.Load(config.MapLookup(map[string]string{"NOTIFIER_WORKERS": "4"}))
//	log.Info("configuration", zap.Object("config", cfg))
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/auth"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/store"
)

// Config is the service's whole configuration, loaded once from the
// environment by Load.
type Config struct {
	// GRPCAddr is the gRPC listen address (NOTIFIER_GRPC_ADDR, default ":9090").
	GRPCAddr string
	// HTTPAddr is the HTTP listen address for the REST mirror, health,
	// metrics, OpenAPI and, unless WebhookAddr is set, the webhook
	// (NOTIFIER_HTTP_ADDR, default ":8080").
	HTTPAddr string
	// WebhookAddr, when set, is the only listener serving the Telegram
	// webhook (and /healthz), so that the API listeners can stay private
	// (NOTIFIER_WEBHOOK_ADDR; empty: the webhook is on HTTPAddr).
	WebhookAddr string
	// RedisURL selects Redis (REDIS_URL); empty means the in-memory store.
	RedisURL string
	// BotToken is the BotFather token (TELEGRAM_BOT_TOKEN). Load
	// leaves it empty only for the sandbox (an in-process fake Bot API):
	// with NOTIFIER_SANDBOX=true, or when nothing production-like is set.
	BotToken string
	// APIURL is the Bot API base URL (TELEGRAM_API_URL).
	APIURL string
	// BotUsername is the bot's @username without '@'
	// (TELEGRAM_BOT_USERNAME); empty means ask getMe.
	BotUsername string
	// WebhookURL is the public HTTPS URL Telegram posts updates to
	// (TELEGRAM_WEBHOOK_URL); empty means long polling.
	WebhookURL string
	// WebhookSecret is checked against X-Telegram-Bot-Api-Secret-Token
	// (TELEGRAM_WEBHOOK_SECRET).
	WebhookSecret string
	// LinkTokenTTL is how long a deep-link token lives (LINK_TOKEN_TTL, default 1h).
	LinkTokenTTL time.Duration
	// WelcomeMessage is sent after a successful link (WELCOME_MESSAGE).
	WelcomeMessage string
	// LogLevel is debug, info, warn or error (NOTIFIER_LOG_LEVEL, default info).
	LogLevel string
	// LogFormat is json or console (NOTIFIER_LOG_FORMAT, default json).
	LogFormat string
	// ShutdownTimeout bounds graceful shutdown (NOTIFIER_SHUTDOWN_TIMEOUT, default 15s).
	ShutdownTimeout time.Duration
	// SendTimeout bounds one Bot API request (TELEGRAM_SEND_TIMEOUT, default
	// 5s: far above Telegram's usual sub-second latency, short enough that a
	// crashed replica's work is taken over within 3× of it).
	SendTimeout time.Duration
	// APIKeysFile names the callers' API keys file (NOTIFIER_API_KEYS_FILE);
	// empty runs the API open, which a real bot may do only with
	// AllowOpenAPI.
	APIKeysFile string
	// AllowOpenAPI lets a real bot run without API keys
	// (NOTIFIER_ALLOW_OPEN_API, default false).
	AllowOpenAPI bool
	// SessionSecret signs browser session tokens (NOTIFIER_SESSION_SECRET,
	// 32-1024 bytes; required with APIKeysFile; replicas share it). Empty
	// with an open API: a random secret of the process is used.
	SessionSecret string
	// CORSOrigins are the browser origins allowed to call the REST mirror
	// (NOTIFIER_CORS_ORIGINS, comma-separated; none by default).
	CORSOrigins []string
	// TLSCertFile and TLSKeyFile turn on TLS for both listeners
	// (NOTIFIER_TLS_CERT_FILE, NOTIFIER_TLS_KEY_FILE).
	TLSCertFile, TLSKeyFile string
	// GRPCClientCAFile requires gRPC clients to present a certificate signed
	// by this CA (NOTIFIER_GRPC_CLIENT_CA_FILE; needs TLS).
	GRPCClientCAFile string
	// WebhookMaxConnections is setWebhook's max_connections
	// (TELEGRAM_WEBHOOK_MAX_CONNECTIONS, 1-100, default 40).
	WebhookMaxConnections int
	// WebhookDropPending drops updates queued at Telegram when the webhook
	// is set (TELEGRAM_WEBHOOK_DROP_PENDING_UPDATES, default false).
	WebhookDropPending bool
	// EventWebhook is where the event log is pushed
	// (NOTIFIER_EVENT_WEBHOOK_URL, _SECRET, _TYPES; see eventhook.go); off
	// without a URL.
	EventWebhook webhook.Config
	// Delivery configures the delivery engine (workers, Telegram's limits,
	// retries, retention); see Load for the variables.
	Delivery delivery.Config
	// RedisWaitReplicas, when positive, makes the writes that accept a
	// notification or consume a link token wait until that many replicas
	// acknowledged them (WAIT), for at most RedisWaitTimeout, answering
	// UNAVAILABLE otherwise (NOTIFIER_REDIS_WAIT_REPLICAS, default 0;
	// NOTIFIER_REDIS_WAIT_TIMEOUT, default 500ms).
	RedisWaitReplicas int
	RedisWaitTimeout  time.Duration
	// Events configures the event log: message forwarding and retention
	// (see EventsConfig for the variables).
	Events EventsConfig
	// BotsFile names the YAML file of the deployment's bots
	// (NOTIFIER_BOTS_FILE); empty: the one bot of TELEGRAM_BOT_TOKEN.
	BotsFile string
	// SandboxBots is how many fake bots the sandbox runs
	// (NOTIFIER_SANDBOX_BOTS, 1-8, default 1): "default", "bot2", ...
	SandboxBots int
	// Bots are the effective bots: "default" from the single-bot variables
	// (when TELEGRAM_BOT_TOKEN is set, or there is no bots file), then the
	// file's, in its order. Every bot has its own store prefix, queue,
	// limits, update intake and Bot API client.
	Bots []Bot
}

// Sandbox reports whether the service runs with its own fake Bot API.
// Load allows an empty BotToken only when the sandbox was chosen
// explicitly (NOTIFIER_SANDBOX=true) or nothing production-like is set.
func (c Config) Sandbox() bool { return c.BotToken == "" && c.BotsFile == "" }

// Webhook reports whether updates arrive by webhook rather than polling.
func (c Config) Webhook() bool { return c.WebhookURL != "" }

// Lookup returns an environment variable's value and whether it is set, as
// os.LookupEnv does; tests pass a map-backed one.
type Lookup func(key string) (string, bool)

// MapLookup adapts a map to Lookup.
func MapLookup(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

var (
	secretRe   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	usernameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{3,31}$`)
)

// telegramVars are the TELEGRAM_* variables the service reads; any of them
// set (non-empty) says the deployment means a real bot.
var telegramVars = []string{
	"TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "TELEGRAM_BOT_USERNAME", "TELEGRAM_WEBHOOK_URL",
	"TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_SEND_TIMEOUT", "TELEGRAM_WEBHOOK_MAX_CONNECTIONS",
	"TELEGRAM_WEBHOOK_DROP_PENDING_UPDATES",
}

// Load reads and validates the configuration. It returns every
// problem at once, naming the variable. It is LoadFrom without the
// list of names: only the TELEGRAM_* variables the service reads count as
// production settings.
func Load(lookup Lookup) (Config, error) { return LoadFrom(lookup, nil) }

// LoadFrom is Load given also the names of every variable in
// the environment (os.Environ's NAME part; nil when unknown), so that a
// TELEGRAM_* variable the service does not read (a typo such as
// TELEGRAM_BOT_TOKN) still keeps the sandbox from starting by itself.
//
// Defaults come from one place: [delivery.DefaultConfig] for the delivery
// engine and Telegram's request timeout, the literals below for the rest.
// Reading collects parse errors; [validate] then checks the values and
// their relations, and the delivery settings are normalized as the engine
// would ([delivery.Config.Normalized]), so Config holds the effective
// values (the ones [Config.MarshalLogObject] logs).
func LoadFrom(lookup Lookup, names []string) (Config, error) {
	r := &reader{lookup: lookup}
	c := r.service()
	c.Delivery = r.delivery(c.SendTimeout, c.ShutdownTimeout)
	r.serving(&c)
	c.EventWebhook = r.eventWebhook()
	c.Events = r.events()
	if v, ok := lookup("WELCOME_MESSAGE"); ok && strings.TrimSpace(v) != "" {
		c.WelcomeMessage = v
	}
	r.bots(&c)
	r.errs = append(r.errs, checkMode(c, lookup, names, r.boolean)...)
	errs := append(r.errs, validate(c)...)
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	c.Delivery = c.Delivery.Normalized()
	return c, nil
}

// Defaults of the service's own admission and failover settings (issue
// 8, findings 7 and 13). The delivery engine's default is no limit: these
// are what the service turns on.
const (
	defaultMaxUserBacklog   = 10000
	defaultMaxQueued        = 1000000
	defaultRedisWaitTimeout = 500 * time.Millisecond
)

// reader reads typed variables through lookup, collecting every parse
// error, each naming its variable; an unparsable value takes the default.
type reader struct {
	lookup Lookup
	errs   []error
}

// get returns the trimmed value of key, or def when unset or blank.
func (r *reader) get(key, def string) string {
	if v, ok := r.lookup(key); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// dur reads a duration (Go syntax, or whole seconds) within [lo, hi].
func (r *reader) dur(key string, def, lo, hi time.Duration) time.Duration {
	v := r.get(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if n, nerr := strconv.Atoi(v); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil || d < lo || d > hi {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want a duration between %s and %s (e.g. 90s, 1h)", key, v, lo, hi))
		return def
	}
	return d
}

// num reads a number within [lo, hi].
func (r *reader) num(key string, def, lo, hi float64) float64 {
	v := r.get(key, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want a number between %g and %g", key, v, lo, hi))
		return def
	}
	return f
}

// boolean reads an optional true/false variable; set reports whether it
// was given.
func (r *reader) boolean(key string) (val, set bool) {
	v := r.get(key, "")
	if v == "" {
		return false, false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want true or false", key, v))
		return false, false
	}
	return b, true
}

// service reads the listeners, the store, the bot and the logs.
func (r *reader) service() Config {
	return Config{
		GRPCAddr:        r.get("NOTIFIER_GRPC_ADDR", ":9090"),
		HTTPAddr:        r.get("NOTIFIER_HTTP_ADDR", ":8080"),
		WebhookAddr:     r.get("NOTIFIER_WEBHOOK_ADDR", ""),
		RedisURL:        r.get("REDIS_URL", ""),
		BotToken:        r.get("TELEGRAM_BOT_TOKEN", ""),
		APIURL:          strings.TrimRight(r.get("TELEGRAM_API_URL", "https://api.telegram.org"), "/"),
		BotUsername:     strings.TrimPrefix(r.get("TELEGRAM_BOT_USERNAME", ""), "@"),
		WebhookURL:      r.get("TELEGRAM_WEBHOOK_URL", ""),
		WebhookSecret:   r.get("TELEGRAM_WEBHOOK_SECRET", ""),
		LinkTokenTTL:    r.dur("LINK_TOKEN_TTL", time.Hour, time.Second, 30*24*time.Hour),
		LogLevel:        strings.ToLower(r.get("NOTIFIER_LOG_LEVEL", "info")),
		LogFormat:       strings.ToLower(r.get("NOTIFIER_LOG_FORMAT", "json")),
		ShutdownTimeout: r.dur("NOTIFIER_SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute),
		SendTimeout:     r.dur("TELEGRAM_SEND_TIMEOUT", delivery.DefaultConfig().SendTimeout, time.Second, 5*time.Minute),
	}
}

// delivery reads the delivery engine's settings over its defaults; one
// Bot API timeout (sendTimeout) serves every request, and the engine
// drains within two thirds of the shutdown timeout.
func (r *reader) delivery(sendTimeout, shutdownTimeout time.Duration) delivery.Config {
	d := delivery.DefaultConfig()
	d.Workers = int(r.num("NOTIFIER_WORKERS", float64(d.Workers), 1, 1024))
	d.GlobalRate = r.num("NOTIFIER_GLOBAL_RATE", d.GlobalRate, 0.1, 1000)
	d.GlobalBurst = int(r.num("NOTIFIER_GLOBAL_BURST", float64(d.GlobalBurst), 1, 1000))
	if rate := r.num("NOTIFIER_CHAT_RATE", time.Second.Seconds()/d.PrivateChatInterval.Seconds(), 0, 100); rate > 0 {
		d.PrivateChatInterval = time.Duration(float64(time.Second) / rate)
	} else {
		d.PrivateChatInterval = time.Nanosecond
	}
	if rate := r.num("NOTIFIER_GROUP_RATE_PER_MINUTE", time.Minute.Seconds()/d.GroupChatInterval.Seconds(), 0, 6000); rate > 0 {
		d.GroupChatInterval = time.Duration(float64(time.Minute) / rate)
	} else {
		d.GroupChatInterval = time.Nanosecond
	}
	d.MaxAttempts = int(r.num("NOTIFIER_MAX_ATTEMPTS", float64(d.MaxAttempts), 1, 1000))
	d.MaxAge = r.dur("NOTIFIER_MAX_AGE", d.MaxAge, time.Second, 30*24*time.Hour)
	d.Retention = r.dur("NOTIFIER_RETENTION", d.Retention, time.Minute, 365*24*time.Hour)
	d.IdempotencyTTL = r.dur("NOTIFIER_IDEMPOTENCY_TTL", d.IdempotencyTTL, 24*time.Hour, 365*24*time.Hour)
	d.LeaseTimeout = r.dur("NOTIFIER_LEASE_TIMEOUT", d.LeaseTimeout, time.Second, time.Hour)
	d.MinBackoff = r.dur("NOTIFIER_MIN_BACKOFF", d.MinBackoff, time.Millisecond, time.Hour)
	d.MaxBackoff = r.dur("NOTIFIER_MAX_BACKOFF", d.MaxBackoff, time.Millisecond, 24*time.Hour)
	d.AllowPaidBroadcast, _ = r.boolean("NOTIFIER_PAID_BROADCAST")
	// Paid broadcasts (allow_paid_broadcast, up to 1000/s; 0: refused).
	d.PaidBroadcastRate = r.num("NOTIFIER_PAID_BROADCAST_RATE", 0, 0, 1000)
	d.SendTimeout = sendTimeout
	d.DrainTimeout = shutdownTimeout * 2 / 3
	d.MaxUserBacklog = int64(r.num("NOTIFIER_MAX_USER_BACKLOG", defaultMaxUserBacklog, 0, 1e9))
	d.MaxQueued = int64(r.num("NOTIFIER_MAX_QUEUED", defaultMaxQueued, 0, 1e12))
	return d
}

// serving reads Redis's replica waits, the API's keys, CORS and TLS, and
// the webhook's settings.
func (r *reader) serving(c *Config) {
	c.RedisWaitReplicas = int(r.num("NOTIFIER_REDIS_WAIT_REPLICAS", 0, 0, 100))
	c.RedisWaitTimeout = r.dur("NOTIFIER_REDIS_WAIT_TIMEOUT", defaultRedisWaitTimeout, time.Millisecond, time.Minute)
	c.APIKeysFile = r.get("NOTIFIER_API_KEYS_FILE", "")
	c.SessionSecret = r.get("NOTIFIER_SESSION_SECRET", "")
	c.TLSCertFile = r.get("NOTIFIER_TLS_CERT_FILE", "")
	c.TLSKeyFile = r.get("NOTIFIER_TLS_KEY_FILE", "")
	c.GRPCClientCAFile = r.get("NOTIFIER_GRPC_CLIENT_CA_FILE", "")
	if origins, err := auth.ParseOrigins(r.get("NOTIFIER_CORS_ORIGINS", "")); err != nil {
		r.errs = append(r.errs, fmt.Errorf("NOTIFIER_CORS_ORIGINS: %w", err))
	} else {
		c.CORSOrigins = origins
	}
	c.WebhookMaxConnections = 40
	if v := r.get("TELEGRAM_WEBHOOK_MAX_CONNECTIONS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			r.errs = append(r.errs, fmt.Errorf("TELEGRAM_WEBHOOK_MAX_CONNECTIONS=%q: want 1-100", v))
		} else {
			c.WebhookMaxConnections = n
		}
	}
	c.WebhookDropPending, _ = r.boolean("TELEGRAM_WEBHOOK_DROP_PENDING_UPDATES")
	c.AllowOpenAPI, _ = r.boolean("NOTIFIER_ALLOW_OPEN_API")
}

// validate checks the values read and their relations; it is the one
// place the configuration is judged. Its errors name the variable and
// never quote a secret.
func validate(c Config) []error {
	var errs []error
	if c.Delivery.MinBackoff > c.Delivery.MaxBackoff {
		errs = append(errs, errors.New("NOTIFIER_MIN_BACKOFF must not exceed NOTIFIER_MAX_BACKOFF"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("NOTIFIER_TLS_CERT_FILE and NOTIFIER_TLS_KEY_FILE must be set together"))
	}
	if c.GRPCClientCAFile != "" && c.TLSCertFile == "" {
		errs = append(errs, errors.New("NOTIFIER_GRPC_CLIENT_CA_FILE needs NOTIFIER_TLS_CERT_FILE and NOTIFIER_TLS_KEY_FILE"))
	}
	if len(c.WelcomeMessage) > 4096 {
		errs = append(errs, errors.New("WELCOME_MESSAGE: must be at most 4096 characters"))
	}
	errs = append(errs, validateAddrs(c)...)
	errs = append(errs, validateSessionSecret(c)...)
	errs = append(errs, validateEventWebhook(c.EventWebhook)...)
	if c.RedisURL != "" {
		if err := store.ValidateRedisURL(c.RedisURL); err != nil {
			errs = append(errs, fmt.Errorf("REDIS_URL: %w (forms: redis://[user:pass@]host:port[/db], rediss://..., redis-sentinel://host1:port1,host2:port2/<master>, redis-cluster://host1:port1,host2:port2)", err))
		}
	}
	envBots := len(c.Bots)
	if c.BotsFile != "" {
		envBots = 0
		if c.BotToken != "" {
			envBots = 1
		}
	}
	errs = append(errs, ValidateBots(c.Bots, envBots, c.Sandbox())...)
	return append(errs, validateTelegram(c)...)
}

// validateSessionSecret checks NOTIFIER_SESSION_SECRET: required when API
// keys are on (browser sessions must verify on every replica), and of a
// length an HMAC-SHA256 key should have.
func validateSessionSecret(c Config) []error {
	switch n := len(c.SessionSecret); {
	case n == 0 && c.APIKeysFile != "":
		return []error{errors.New("NOTIFIER_SESSION_SECRET: required with NOTIFIER_API_KEYS_FILE, the same on every replica (it signs browser sessions; generate one with: openssl rand -hex 32)")}
	case n != 0 && (n < auth.MinSessionSecret || n > auth.MaxSessionSecret):
		return []error{fmt.Errorf("NOTIFIER_SESSION_SECRET: want %d to %d bytes, got %d (generate one with: openssl rand -hex 32)",
			auth.MinSessionSecret, auth.MaxSessionSecret, n)}
	}
	return nil
}

// EnvBot is the bot "default" of the single-bot variables
// (TELEGRAM_BOT_TOKEN, TELEGRAM_BOT_USERNAME, ...), whose values are also
// the defaults of the bots file's bots.
func (c Config) EnvBot() Bot {
	return Bot{
		ID: DefaultBot, Token: c.BotToken, Username: c.BotUsername, WebhookURL: c.WebhookURL,
		WebhookSecret: c.WebhookSecret, GlobalRate: c.Delivery.GlobalRate, PaidBroadcast: c.Delivery.AllowPaidBroadcast,
		PaidBroadcastRate: c.Delivery.PaidBroadcastRate, WelcomeMessage: c.WelcomeMessage, APIURL: c.APIURL,
	}
}

// bots reads NOTIFIER_BOTS_FILE and NOTIFIER_SANDBOX_BOTS into c.Bots:
// the bot "default" of the single-bot variables (when TELEGRAM_BOT_TOKEN
// is set or there is no file), then the file's bots, whose unset fields
// take the single-bot variables' values.
func (r *reader) bots(c *Config) {
	c.BotsFile = r.get("NOTIFIER_BOTS_FILE", "")
	c.SandboxBots = int(r.num("NOTIFIER_SANDBOX_BOTS", 1, 1, 8))
	def := c.EnvBot()
	if c.BotToken != "" || c.BotsFile == "" {
		c.Bots = append(c.Bots, def)
	}
	if c.BotsFile == "" {
		if c.Sandbox() {
			for i := 2; i <= c.SandboxBots; i++ {
				b := def
				b.ID, b.Username, b.WebhookURL, b.WebhookSecret = fmt.Sprintf("bot%d", i), "", "", ""
				c.Bots = append(c.Bots, b)
			}
		}
		return
	}
	data, err := readBotsFile(c.BotsFile)
	if err == nil {
		var bots []Bot
		if bots, err = ParseBots(data, def); err == nil {
			c.Bots = append(c.Bots, bots...)
			return
		}
	}
	r.errs = append(r.errs, fmt.Errorf("NOTIFIER_BOTS_FILE %s: %w", c.BotsFile, err))
}

// Bot returns the bot named id.
func (c Config) Bot(id string) (Bot, bool) {
	for _, b := range c.Bots {
		if b.ID == id {
			return b, true
		}
	}
	return Bot{}, false
}

// validateAddrs checks the listen addresses: host:port, and distinct.
func validateAddrs(c Config) []error {
	var errs []error
	addrs := []struct{ key, val string }{{"NOTIFIER_GRPC_ADDR", c.GRPCAddr}, {"NOTIFIER_HTTP_ADDR", c.HTTPAddr}}
	if c.WebhookAddr != "" {
		addrs = append(addrs, struct{ key, val string }{"NOTIFIER_WEBHOOK_ADDR", c.WebhookAddr})
	}
	for i, a := range addrs {
		if _, _, err := net.SplitHostPort(a.val); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want host:port (e.g. :9090): %w", a.key, a.val, err))
		}
		for _, b := range addrs[:i] {
			if a.val == b.val && !strings.HasSuffix(a.val, ":0") {
				errs = append(errs, fmt.Errorf("%s and %s must differ (both %q)", b.key, a.key, a.val))
			}
		}
	}
	return errs
}

// validateTelegram checks the bot's settings and the log's.
func validateTelegram(c Config) []error {
	var errs []error
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("TELEGRAM_API_URL=%q: want an http(s) URL", c.APIURL))
	}
	if c.BotToken != "" && strings.ContainsAny(c.BotToken, " /?#\t\n") {
		errs = append(errs, errors.New("TELEGRAM_BOT_TOKEN: malformed (expected 123456:ABC... from BotFather)"))
	}
	if c.BotUsername != "" && !usernameRe.MatchString(c.BotUsername) {
		errs = append(errs, fmt.Errorf("TELEGRAM_BOT_USERNAME=%q: want 5-32 characters of A-Z, a-z, 0-9 and _", c.BotUsername))
	}
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("TELEGRAM_WEBHOOK_URL=%q: want an https URL", c.WebhookURL))
		}
		if c.WebhookSecret == "" {
			errs = append(errs, errors.New("TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_WEBHOOK_URL is set (generate one with: openssl rand -hex 32)"))
		}
	}
	if c.WebhookSecret != "" && !secretRe.MatchString(c.WebhookSecret) {
		errs = append(errs, errors.New("TELEGRAM_WEBHOOK_SECRET: want 1-256 characters of A-Z, a-z, 0-9, _ and -"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("NOTIFIER_LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("NOTIFIER_LOG_FORMAT=%q: want json or console", c.LogFormat))
	}
	return errs
}

// checkMode decides between the sandbox and a real bot, and whether a real
// bot may serve an open API (issue 8, findings 3 and 6). The sandbox drains
// whatever queue it is pointed at into a fake Bot API and serves /sandbox/*
// without authentication, so it never starts by accident beside production
// settings: a missing bot token then refuses to start.
func checkMode(c Config, lookup Lookup, names []string, boolean func(string) (bool, bool)) []error {
	var errs []error
	sandbox, sandboxSet := boolean("NOTIFIER_SANDBOX")
	if !c.Sandbox() {
		if sandboxSet && sandbox {
			errs = append(errs, errors.New("NOTIFIER_SANDBOX=true contradicts TELEGRAM_BOT_TOKEN: the sandbox runs its own fake Bot API; unset one of them"))
		} else if c.APIKeysFile == "" && !c.AllowOpenAPI {
			errs = append(errs, errors.New("a real bot (TELEGRAM_BOT_TOKEN) needs NOTIFIER_API_KEYS_FILE: without it anyone who reaches the API may link and notify; set NOTIFIER_ALLOW_OPEN_API=true to run it open on purpose"))
		}
		return errs
	}
	switch {
	case sandboxSet && sandbox:
		return nil
	case sandboxSet:
		return []error{errors.New("TELEGRAM_BOT_TOKEN: required with NOTIFIER_SANDBOX=false")}
	}
	if seen := productionSettings(lookup, names); len(seen) > 0 {
		return []error{fmt.Errorf("TELEGRAM_BOT_TOKEN: missing beside production settings (%s): refusing to start the sandbox (a fake Bot API); set TELEGRAM_BOT_TOKEN, or NOTIFIER_SANDBOX=true to run the sandbox on purpose",
			strings.Join(seen, ", "))}
	}
	return nil
}

// productionSettings names the set variables that mean a real deployment:
// REDIS_URL, NOTIFIER_API_KEYS_FILE and any TELEGRAM_* variable. A variable
// set to the empty string counts as unset (compose passes optional ones as
// ""), except TELEGRAM_BOT_TOKEN: passed but empty, it is a missing secret.
func productionSettings(lookup Lookup, names []string) []string {
	var seen []string
	if v, ok := lookup("TELEGRAM_BOT_TOKEN"); ok && strings.TrimSpace(v) == "" {
		seen = append(seen, "TELEGRAM_BOT_TOKEN set but empty")
	}
	candidates := append([]string{"REDIS_URL", "NOTIFIER_API_KEYS_FILE", "NOTIFIER_BOTS_FILE"}, telegramVars...)
	for _, n := range names {
		if strings.HasPrefix(n, "TELEGRAM_") && !slices.Contains(candidates, n) {
			candidates = append(candidates, n)
		}
	}
	for _, k := range candidates {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			seen = append(seen, k)
		}
	}
	return seen
}

package config

import (
	"net/url"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/tgnotify/tgnotify/delivery"
)

// masked replaces a secret in the logged configuration.
const masked = "xxxxx"

// MarshalLogObject logs the effective configuration with its secrets
// masked: the bot token keeps only its public bot id ("123456:xxxxx"), the
// webhook secret, the event webhook's secret and Redis passwords (in the
// URL's user info or in a *password* query parameter) become "xxxxx", as do
// the query values of the event webhook's URL, and no other value may
// quote either (a webhook URL holding the token, say). API keys are not
// part of the configuration: only the file's path is logged, never a key
// or its hash. The app logs it once at start:
//
//	log.Info("configuration", zap.Object("config", cfg))
func (c Config) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	s := c.scrubber()
	str := func(k, v string) { enc.AddString(k, s.Replace(v)) }
	str("grpc_addr", c.GRPCAddr)
	str("http_addr", c.HTTPAddr)
	str("webhook_addr", c.WebhookAddr)
	str("redis_url", maskURL(c.RedisURL))
	enc.AddInt("redis_wait_replicas", c.RedisWaitReplicas)
	enc.AddDuration("redis_wait_timeout", c.RedisWaitTimeout)
	enc.AddBool("sandbox", c.Sandbox())
	str("bot_token", maskToken(c.BotToken))
	str("api_url", maskURL(c.APIURL))
	str("bot_username", c.BotUsername)
	str("webhook_url", maskURL(c.WebhookURL))
	str("webhook_secret", maskSecret(c.WebhookSecret))
	enc.AddInt("webhook_max_connections", c.WebhookMaxConnections)
	enc.AddBool("webhook_drop_pending_updates", c.WebhookDropPending)
	enc.AddDuration("link_token_ttl", c.LinkTokenTTL)
	enc.AddInt("welcome_message_bytes", len(c.WelcomeMessage))
	str("log_level", c.LogLevel)
	str("log_format", c.LogFormat)
	enc.AddDuration("shutdown_timeout", c.ShutdownTimeout)
	enc.AddDuration("send_timeout", c.SendTimeout)
	str("api_keys_file", c.APIKeysFile)
	enc.AddBool("allow_open_api", c.AllowOpenAPI)
	str("session_secret", maskSecret(c.SessionSecret))
	str("cors_origins", strings.Join(c.CORSOrigins, ","))
	str("tls_cert_file", c.TLSCertFile)
	str("tls_key_file", c.TLSKeyFile)
	str("grpc_client_ca_file", c.GRPCClientCAFile)
	_ = enc.AddObject("event_webhook", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		marshalEventWebhook(enc, c.EventWebhook, s.Replace)
		return nil
	}))
	str("bots_file", c.BotsFile)
	_ = enc.AddArray("bots", zapcore.ArrayMarshalerFunc(func(arr zapcore.ArrayEncoder) error {
		for _, b := range c.Bots {
			_ = arr.AppendObject(zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
				marshalBot(enc, b, s.Replace)
				return nil
			}))
		}
		return nil
	}))
	if err := enc.AddObject("events", c.Events); err != nil {
		return err
	}
	return enc.AddObject("delivery", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		marshalDelivery(enc, c.Delivery)
		return nil
	}))
}

func marshalDelivery(enc zapcore.ObjectEncoder, d delivery.Config) {
	enc.AddInt("workers", d.Workers)
	enc.AddFloat64("global_rate", d.GlobalRate)
	enc.AddInt("global_burst", d.GlobalBurst)
	enc.AddDuration("private_chat_interval", d.PrivateChatInterval)
	enc.AddDuration("group_chat_interval", d.GroupChatInterval)
	enc.AddInt("max_attempts", d.MaxAttempts)
	enc.AddDuration("max_age", d.MaxAge)
	enc.AddDuration("retention", d.Retention)
	enc.AddDuration("idempotency_ttl", d.IdempotencyTTL)
	enc.AddDuration("lease_timeout", d.LeaseTimeout)
	enc.AddDuration("send_timeout", d.SendTimeout)
	enc.AddDuration("min_backoff", d.MinBackoff)
	enc.AddDuration("max_backoff", d.MaxBackoff)
	enc.AddDuration("drain_timeout", d.DrainTimeout)
	enc.AddDuration("poll_interval", d.PollInterval)
	enc.AddBool("allow_paid_broadcast", d.AllowPaidBroadcast)
	enc.AddFloat64("paid_broadcast_rate", d.PaidBroadcastRate)
	enc.AddInt64("max_user_backlog", d.MaxUserBacklog)
	enc.AddInt64("max_queued", d.MaxQueued)
}

// marshalBot logs one bot with its token, secret and proxy password
// masked.
func marshalBot(enc zapcore.ObjectEncoder, b Bot, scrub func(string) string) {
	str := func(k, v string) { enc.AddString(k, scrub(v)) }
	str("id", b.ID)
	str("token", maskToken(b.Token))
	str("username", b.Username)
	str("webhook_url", maskURL(b.WebhookURL))
	str("webhook_secret", maskSecret(b.WebhookSecret))
	enc.AddFloat64("global_rate", b.GlobalRate)
	enc.AddBool("paid_broadcast", b.PaidBroadcast)
	enc.AddInt("welcome_message_bytes", len(b.WelcomeMessage))
	str("api_url", maskURL(b.APIURL))
	str("proxy_url", maskURL(b.ProxyURL))
}

// scrubber removes the bot token and the webhook secrets, raw or escaped,
// from any logged value.
func (c Config) scrubber() *strings.Replacer {
	var pairs []string
	secrets := []string{c.BotToken, c.WebhookSecret, c.EventWebhook.Secret, c.SessionSecret}
	for _, b := range c.Bots {
		secrets = append(secrets, b.Token, b.WebhookSecret)
	}
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			pairs = append(pairs, form, masked)
		}
	}
	return strings.NewReplacer(pairs...)
}

// maskToken keeps a bot token's public bot id ("123456:..." → "123456:xxxxx").
func maskToken(tok string) string {
	if tok == "" {
		return ""
	}
	if id, _, ok := strings.Cut(tok, ":"); ok && id != "" && strings.Trim(id, "0123456789") == "" {
		return id + ":" + masked
	}
	return masked
}

func maskSecret(s string) string {
	if s == "" {
		return ""
	}
	return masked
}

// maskURL masks the password of a URL's user info and the values of its
// query parameters named like a password; a URL that does not parse is
// withheld whole but for its scheme.
func maskURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		if scheme, _, ok := strings.Cut(raw, "://"); ok && !strings.ContainsAny(scheme, ":@/") {
			return scheme + "://" + masked
		}
		return masked
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), masked)
	}
	if q := u.Query(); len(q) > 0 {
		changed := false
		for k, vs := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				for i := range vs {
					vs[i] = masked
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

package config

// The event webhook's settings (events/webhook): read by eventWebhook,
// judged by validateEventWebhook (called from validate, the one place),
// logged by marshalEventWebhook.

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
)

// Bounds of NOTIFIER_EVENT_WEBHOOK_SECRET.
const (
	minEventWebhookSecret = 16
	maxEventWebhookSecret = 1024
)

// eventWebhook reads NOTIFIER_EVENT_WEBHOOK_URL, _SECRET and _TYPES (a
// comma-separated list of event type names such as
// USER_LINKED,NOTIFICATION_FAILED, with or without the EVENT_TYPE_
// prefix, in any case; none: every type).
func (r *reader) eventWebhook() webhook.Config {
	c := webhook.Config{
		URL:    r.get("NOTIFIER_EVENT_WEBHOOK_URL", ""),
		Secret: r.get("NOTIFIER_EVENT_WEBHOOK_SECRET", ""),
	}
	for _, name := range strings.Split(r.get("NOTIFIER_EVENT_WEBHOOK_TYPES", ""), ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		t, ok := parseEventType(name)
		if !ok {
			r.errs = append(r.errs, fmt.Errorf("NOTIFIER_EVENT_WEBHOOK_TYPES: unknown event type %q (want some of %s)",
				name, strings.Join(eventTypeNames(), ", ")))
			continue
		}
		if !containsType(c.Types, t) {
			c.Types = append(c.Types, t)
		}
	}
	return c
}

// parseEventType returns the event type named name ("USER_LINKED" or
// "EVENT_TYPE_USER_LINKED", any case).
func parseEventType(name string) (events.Type, bool) {
	name = strings.TrimPrefix(strings.ToUpper(name), "EVENT_TYPE_")
	for t := events.TypeUserLinked; t.Valid(); t++ {
		if t.String() == name {
			return t, true
		}
	}
	return 0, false
}

// eventTypeNames lists the event types' names.
func eventTypeNames() []string {
	var out []string
	for t := events.TypeUserLinked; t.Valid(); t++ {
		out = append(out, t.String())
	}
	return out
}

func containsType(ts []events.Type, t events.Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// validateEventWebhook checks the event webhook's settings. Its errors
// quote neither the secret nor the URL (which may hold credentials).
func validateEventWebhook(c webhook.Config) []error {
	var errs []error
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("NOTIFIER_EVENT_WEBHOOK_URL: want an http(s) URL with a host (e.g. https://app.example.com/tgnotify/events)"))
		}
		if c.Secret == "" {
			errs = append(errs, errors.New("NOTIFIER_EVENT_WEBHOOK_SECRET: required when NOTIFIER_EVENT_WEBHOOK_URL is set: the events are signed with it (generate one with: openssl rand -hex 32)"))
		}
	}
	if c.Secret != "" && (len(c.Secret) < minEventWebhookSecret || len(c.Secret) > maxEventWebhookSecret) {
		errs = append(errs, fmt.Errorf("NOTIFIER_EVENT_WEBHOOK_SECRET: want %d to %d characters (generate one with: openssl rand -hex 32)",
			minEventWebhookSecret, maxEventWebhookSecret))
	}
	if c.URL == "" && (c.Secret != "" || len(c.Types) > 0) {
		errs = append(errs, errors.New("NOTIFIER_EVENT_WEBHOOK_SECRET and NOTIFIER_EVENT_WEBHOOK_TYPES need NOTIFIER_EVENT_WEBHOOK_URL"))
	}
	return errs
}

// marshalEventWebhook logs the event webhook's settings: the URL without
// its password or query values (and scrubbed of the other secrets), the
// secret masked.
func marshalEventWebhook(enc zapcore.ObjectEncoder, c webhook.Config, scrub func(string) string) {
	enc.AddString("url", scrub(maskURLQuery(c.URL)))
	enc.AddString("secret", maskSecret(c.Secret))
	names := make([]string, len(c.Types))
	for i, t := range c.Types {
		names[i] = t.String()
	}
	enc.AddString("types", strings.Join(names, ","))
}

// maskURLQuery is maskURL masking every query value too (a receiver's URL
// often carries a token there).
func maskURLQuery(raw string) string {
	m := maskURL(raw)
	u, err := url.Parse(m)
	if err != nil || u.RawQuery == "" {
		return m
	}
	q := u.Query()
	for _, vs := range q {
		for i := range vs {
			vs[i] = masked
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

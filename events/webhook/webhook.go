package webhook

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/events"
)

// Fixed parameters of the push.
const (
	// BatchSize is the most events one request carries.
	BatchSize = 100
	// RequestTimeout bounds one request, answer included.
	RequestTimeout = 10 * time.Second
	// MaxResponseRead is how much of an answer is read (and discarded).
	MaxResponseRead = 64 << 10
	// MinBackoff and MaxBackoff bound the waits between failed attempts.
	MinBackoff = time.Second
	MaxBackoff = 5 * time.Minute
	// LeaseName names the store's lease that one replica holds to push.
	LeaseName = "event_webhook"
	// LeaseTTL is the lease's expiry; it is renewed every LeaseRenew.
	LeaseTTL   = 10 * time.Second
	LeaseRenew = 3 * time.Second
	// SignatureHeader carries the request's signature.
	SignatureHeader = "Tgnotify-Signature"
	// waitMax bounds one Wait for new events before the log is read again.
	waitMax = 30 * time.Second
)

// Config is the event webhook's configuration (config.Config.EventWebhook).
type Config struct {
	// URL receives the POSTs (NOTIFIER_EVENT_WEBHOOK_URL: http or https);
	// empty turns the webhook off.
	URL string
	// Secret keys the HMAC-SHA256 signature (NOTIFIER_EVENT_WEBHOOK_SECRET;
	// required with URL).
	Secret string
	// Types, when not empty, are the only event types pushed
	// (NOTIFIER_EVENT_WEBHOOK_TYPES); the cursor moves past the others.
	Types []events.Type
}

// Enabled reports whether a webhook is configured.
func (c Config) Enabled() bool { return c.URL != "" }

// Store is what the pusher keeps in the store: its lease and its cursor.
type Store interface {
	// AcquireLease takes or renews the named lease for holder for ttl.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// EventWebhookCursor returns the stored cursor; ok is false when none
	// was ever stored.
	EventWebhookCursor(ctx context.Context) (cursor string, ok bool, err error)
	// SetEventWebhookCursorLeased stores the cursor only while holder
	// holds lease (an error otherwise).
	SetEventWebhookCursorLeased(ctx context.Context, lease, holder, cursor string) error
}

// Marshal encodes a batch as the request body, {"events":[…]} with the
// events in protojson (events/wire.MarshalBatch).
type Marshal func([]events.Event) ([]byte, error)

// Observer is told what the pusher does, for metrics. Its methods must be
// fast and safe for concurrent use.
type Observer interface {
	// Delivered: a batch of n events was acknowledged.
	Delivered(n int)
	// Failed: an attempt failed with status: the HTTP status code
	// ("500"), "timeout" or "error" (a transport error).
	Failed(status string)
	// CursorTooOld: the stored cursor had fallen out of the log; events
	// were lost to the receiver.
	CursorTooOld()
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) Delivered(int) {}
func (NopObserver) Failed(string) {}
func (NopObserver) CursorTooOld() {}

var _ Observer = NopObserver{}

// Pusher pushes the event log to one URL. Create it with [New], run it
// with [Pusher.Run].
type Pusher struct {
	url     string
	secret  []byte
	filter  events.Filter
	log     events.Reader
	st      Store
	marshal Marshal
	logger  *zap.Logger
	holder  string

	client                 *http.Client
	obs                    Observer
	now                    func() time.Time
	timeout                time.Duration
	minBackoff, maxBackoff time.Duration
	leaseTTL, leaseRenew   time.Duration
	wait                   time.Duration

	// oldest is the time (unix ns) of the oldest event not yet
	// acknowledged, 0 when caught up (Lag).
	oldest atomic.Int64
}

// Option changes a Pusher's defaults, for tests.
type Option func(*Pusher)

// WithHTTPClient sends through c (default: a client that follows no
// redirects; RequestTimeout applies either way).
func WithHTTPClient(c *http.Client) Option { return func(p *Pusher) { p.client = c } }

// WithObserver reports to o.
func WithObserver(o Observer) Option { return func(p *Pusher) { p.obs = o } }

// WithClock reads the time from now (signatures and Lag).
func WithClock(now func() time.Time) Option { return func(p *Pusher) { p.now = now } }

// WithRequestTimeout replaces RequestTimeout.
func WithRequestTimeout(d time.Duration) Option { return func(p *Pusher) { p.timeout = d } }

// WithBackoff replaces MinBackoff and MaxBackoff.
func WithBackoff(minWait, maxWait time.Duration) Option {
	return func(p *Pusher) { p.minBackoff, p.maxBackoff = minWait, maxWait }
}

// WithLease replaces LeaseTTL and LeaseRenew (renew < ttl); a replica
// without the lease tries to take it every renew.
func WithLease(ttl, renew time.Duration) Option {
	return func(p *Pusher) { p.leaseTTL, p.leaseRenew = ttl, renew }
}

// WithWait bounds one wait for new events (default 30 s).
func WithWait(d time.Duration) Option { return func(p *Pusher) { p.wait = d } }

// New returns a Pusher of the events log selects by cfg.Types to cfg.URL,
// keeping its lease and cursor in st. It refuses a URL that is not
// http(s) and an empty secret.
func New(cfg Config, log events.Reader, st Store, marshal Marshal, logger *zap.Logger, opts ...Option) (*Pusher, error) {
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("event webhook: the URL must be http(s)")
	}
	if cfg.Secret == "" {
		return nil, errors.New("event webhook: a secret is required")
	}
	for _, t := range cfg.Types {
		if !t.Valid() {
			return nil, fmt.Errorf("event webhook: unknown event type %d", t)
		}
	}
	holder, err := holderID()
	if err != nil {
		return nil, err
	}
	p := &Pusher{
		url: cfg.URL, secret: []byte(cfg.Secret), filter: events.Filter{Types: cfg.Types},
		log: log, st: st, marshal: marshal, logger: logger, holder: holder,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		obs: NopObserver{}, now: time.Now, timeout: RequestTimeout,
		minBackoff: MinBackoff, maxBackoff: MaxBackoff,
		leaseTTL: LeaseTTL, leaseRenew: LeaseRenew, wait: waitMax,
	}
	for _, o := range opts {
		o(p)
	}
	if p.leaseRenew <= 0 || p.leaseRenew >= p.leaseTTL {
		return nil, errors.New("event webhook: the lease renewal must be shorter than its TTL")
	}
	return p, nil
}

// holderID returns a random id naming this pusher as the lease's holder.
func holderID() (string, error) {
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		return "", fmt.Errorf("event webhook: random lease holder id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Lag returns the age of the oldest event not yet acknowledged: 0 when
// caught up or when this replica does not push.
func (p *Pusher) Lag() time.Duration {
	ns := p.oldest.Load()
	if ns == 0 {
		return 0
	}
	return max(p.now().Sub(time.Unix(0, ns)), 0)
}

// pending records the oldest event not yet acknowledged (zero: none).
func (p *Pusher) pending(t time.Time) {
	if t.IsZero() {
		p.oldest.Store(0)
		return
	}
	p.oldest.Store(max(t.UnixNano(), 1))
}

// Sign returns the SignatureHeader value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

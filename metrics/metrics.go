package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the service.
const namespace = "tgnotify"

// Label values used when a value is missing or not allowed.
const (
	valueNone  = "none"
	valueOther = "other"
)

// Kinds of Telegram update, for UpdateReceived.
const (
	KindMessage      = "message"
	KindMyChatMember = "my_chat_member"
	// KindCallbackQuery is a button press.
	KindCallbackQuery = "callback_query"
	KindOther         = "other"
)

// Outcomes of handling a Telegram update, for UpdateReceived.
const (
	OutcomeProcessed    = "processed"
	OutcomeDuplicate    = "duplicate"
	OutcomeIgnored      = "ignored"
	OutcomeError        = "error"
	OutcomeUnauthorized = "unauthorized"
)

// Limits on the distinct values of free-form labels.
const (
	maxCallers    = 32
	maxReasons    = 32
	maxStates     = 16
	maxRedisOps   = 64
	maxHTTPCodes  = 32
	maxLabelBytes = 64
)

// Metrics holds the service's Prometheus metrics and their registry.
// All methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	// grpc holds the standard gRPC server series (see newGRPCMetrics).
	grpc *grpcprom.ServerMetrics

	httpRequests *prometheus.CounterVec
	httpSeconds  *prometheus.HistogramVec

	updates       *prometheus.CounterVec
	links         prometheus.Counter
	unlinks       *prometheus.CounterVec
	notifAccepted prometheus.Counter
	notifFinished *prometheus.CounterVec
	ambiguous     prometheus.Counter
	botReplies    *prometheus.CounterVec

	tgCalls       *prometheus.CounterVec
	tgSeconds     *prometheus.HistogramVec
	tgRateLimited prometheus.Counter
	tgRetryAfter  prometheus.Histogram
	tgAuthFailed  *prometheus.CounterVec

	redisErrors *prometheus.CounterVec

	callers, unlinkReasons, states, finishReasons, redisOps, tgCodes *labelGuard
}

// New returns a Metrics with its own registry, holding the Go runtime and
// process collectors and every tgnotify metric.
func New() *Metrics {
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		grpc: newGRPCMetrics(),
		httpRequests: counterVec("http_requests_total",
			"HTTP requests served, by route and status code.", "route", "code"),
		httpSeconds: histogramVec("http_request_duration_seconds",
			"Time taken to serve HTTP requests, by route and status code.", prometheus.DefBuckets, "route", "code"),
		updates: counterVec("telegram_updates_received_total",
			"Telegram updates received (webhook or polling), by kind and outcome.", "kind", "outcome"),
		links: counter("links_total", "Users linked to a Telegram chat."),
		unlinks: counterVec("unlinks_total",
			"Users unlinked from a Telegram chat, by reason.", "reason"),
		notifAccepted: counter("notifications_accepted_total", "Notifications accepted by Notify."),
		notifFinished: counterVec("notifications_finished_total",
			"Notifications that reached a final state, by state and reason.", "state", "reason"),
		ambiguous: counter("notifications_ambiguous_sends_total",
			"Sends whose outcome is unknown (the request may have reached Telegram)."),
		botReplies: counterVec("bot_replies_total",
			"The bot's own replies (welcome, /start and /stop answers), by outcome: queued, suppressed (the same reply within the chat's interval), sent, failed.",
			"outcome"),
		tgCalls: counterVec("telegram_api_calls_total",
			"Telegram Bot API calls, by method and HTTP status code (0: transport error).", "method", "code"),
		tgSeconds: histogramVec("telegram_api_call_duration_seconds",
			"Duration of Telegram Bot API calls made through TelegramTransport, by method.",
			[]float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}, "method"),
		tgRateLimited: counter("telegram_rate_limited_total", "Telegram answers with 429 Too Many Requests."),
		tgRetryAfter: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "telegram_retry_after_seconds",
			Help:    "retry_after values that Telegram asked for with 429 answers.",
			Buckets: []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		tgAuthFailed: counterVec("telegram_auth_failures_total",
			"Telegram answers rejecting the bot itself (401: token invalid or revoked; 404: wrong Bot API URL), by method.",
			"method"),
		redisErrors: counterVec("redis_errors_total",
			"Redis command errors (not redis.Nil), by command or operation.", "op"),
		callers:       newLabelGuard(maxCallers),
		unlinkReasons: newLabelGuard(maxReasons),
		states:        newLabelGuard(maxStates),
		finishReasons: newLabelGuard(maxReasons),
		redisOps:      newLabelGuard(maxRedisOps),
		tgCodes:       newLabelGuard(maxHTTPCodes),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc, m.httpRequests, m.httpSeconds,
		m.updates, m.links, m.unlinks, m.notifAccepted, m.notifFinished, m.ambiguous, m.botReplies,
		m.tgCalls, m.tgSeconds, m.tgRateLimited, m.tgRetryAfter, m.tgAuthFailed, m.redisErrors,
	)
	for _, o := range replyOutcomes {
		m.botReplies.WithLabelValues(o)
	}
	for _, k := range updateKinds {
		for _, o := range updateOutcomes {
			m.updates.WithLabelValues(k, o)
		}
	}
	return m
}

// counter returns the tgnotify_<name> counter.
func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
}

// counterVec returns the tgnotify_<name> counter with the given labels.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
}

// histogramVec returns the tgnotify_<name> histogram with the given buckets
// and labels.
func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: name, Help: help, Buckets: buckets,
	}, labels)
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registerer returns the registry, for collectors added by other packages.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Gatherer returns the registry, for tests and custom exporters.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// updateKinds and updateOutcomes are the allowed label values of
// tgnotify_telegram_updates_received_total.
var (
	updateKinds    = []string{KindMessage, KindMyChatMember, KindCallbackQuery, KindOther}
	updateOutcomes = []string{OutcomeProcessed, OutcomeDuplicate, OutcomeIgnored, OutcomeError, OutcomeUnauthorized}
)

// oneOf returns v if it is in allowed, else "other".
func oneOf(v string, allowed []string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return valueOther
}

// UpdateReceived counts a Telegram update of kind (KindMessage,
// KindMyChatMember or KindOther) handled with outcome (OutcomeProcessed,
// OutcomeDuplicate, OutcomeIgnored, OutcomeError or OutcomeUnauthorized).
// Other values are counted as "other".
func (m *Metrics) UpdateReceived(kind, outcome string) {
	m.updates.WithLabelValues(oneOf(kind, updateKinds), oneOf(outcome, updateOutcomes)).Inc()
}

// Linked counts a user linked to a chat.
func (m *Metrics) Linked() { m.links.Inc() }

// Unlinked counts a user unlinked from a chat for reason (a constant such
// as "blocked" or "left").
func (m *Metrics) Unlinked(reason string) {
	m.unlinks.WithLabelValues(m.unlinkReasons.value(reason)).Inc()
}

// NotificationAccepted counts a notification accepted by Notify.
func (m *Metrics) NotificationAccepted() { m.notifAccepted.Inc() }

// NotificationFinished counts a notification that reached the final state
// (such as "delivered" or "failed") for reason (a constant; "" for none).
func (m *Metrics) NotificationFinished(state, reason string) {
	m.notifFinished.WithLabelValues(m.states.value(state), m.finishReasons.value(reason)).Inc()
}

// replyOutcomes are the outcome labels of bot_replies_total.
var replyOutcomes = []string{"queued", "suppressed", "sent", "failed"}

// BotReply counts a bot reply by outcome (one of replyOutcomes; others are
// ignored, so a label cannot grow without bound).
func (m *Metrics) BotReply(outcome string) {
	for _, o := range replyOutcomes {
		if o == outcome {
			m.botReplies.WithLabelValues(o).Inc()
			return
		}
	}
}

// AmbiguousSend counts a send whose outcome is unknown.
func (m *Metrics) AmbiguousSend() { m.ambiguous.Inc() }

// TelegramCall counts a Bot API call to method with HTTP status code (0 for
// a transport error). Methods outside the fixed list of methods the service
// uses are counted as "other". Calls made through TelegramTransport are
// counted by it; do not count them again.
func (m *Metrics) TelegramCall(method string, code int) {
	m.tgCalls.WithLabelValues(botMethod(method), m.tgCodes.value(strconv.Itoa(code))).Inc()
}

// RetryAfter records a 429 answer from Telegram that asked to wait seconds.
func (m *Metrics) RetryAfter(seconds float64) {
	m.tgRateLimited.Inc()
	m.tgRetryAfter.Observe(seconds)
}

// TelegramAuthFailure counts a Telegram answer to method (for example
// "sendMessage" or "getUpdates"; other names count as "other") that rejects
// the bot itself: a 401 (token invalid or revoked) or a 404 (wrong Bot API
// URL or token).
func (m *Metrics) TelegramAuthFailure(method string) {
	m.tgAuthFailed.WithLabelValues(botMethod(method)).Inc()
}

// RedisError counts a failed Redis command or operation op.
func (m *Metrics) RedisError(op string) {
	m.redisErrors.WithLabelValues(m.redisOps.value(strings.ToLower(op))).Inc()
}

// RegisterQueueGauges exposes the delivery queue's depth (items waiting) and
// the age in seconds of its oldest item, read from depth and oldestAge at
// each scrape. The functions must be fast and safe for concurrent use.
// Call it at most once: a second call panics, as a duplicate registration.
func (m *Metrics) RegisterQueueGauges(depth func() float64, oldestAge func() float64) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "delivery_queue_depth",
			Help: "Notifications waiting in the delivery queue.",
		}, depth),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "delivery_queue_oldest_age_seconds",
			Help: "Age of the oldest notification waiting in the delivery queue.",
		}, oldestAge),
	)
}

// labelGuard bounds the distinct values of a label: past limit values, new
// ones become "other".
type labelGuard struct {
	limit int
	mu    sync.Mutex
	seen  map[string]struct{}
}

// newLabelGuard returns a guard admitting up to limit distinct values.
func newLabelGuard(limit int) *labelGuard {
	return &labelGuard{limit: limit, seen: make(map[string]struct{})}
}

// value returns v, "none" for an empty v, or "other" for a value that is
// too long, not UTF-8, or beyond the limit.
func (g *labelGuard) value(v string) string {
	if v == "" {
		return valueNone
	}
	if len(v) > maxLabelBytes || !utf8.ValidString(v) {
		return valueOther
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.seen[v]; ok {
		return v
	}
	if len(g.seen) >= g.limit {
		return valueOther
	}
	g.seen[v] = struct{}{}
	return v
}

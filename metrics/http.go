package metrics

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// InstrumentHTTP wraps h, served under route (a fixed pattern such as
// "/v1/" or "/telegram/webhook", never a raw request path), so that its
// requests are counted in tgnotify_http_requests_total and timed in
// tgnotify_http_request_duration_seconds by route and status code.
func (m *Metrics) InstrumentHTTP(route string, h http.Handler) http.Handler {
	labels := prometheus.Labels{"route": route}
	counter := m.httpRequests.MustCurryWith(labels)
	duration := m.httpSeconds.MustCurryWith(labels)
	return promhttp.InstrumentHandlerDuration(duration, promhttp.InstrumentHandlerCounter(counter, h))
}

// botMethods maps the lower-cased names of the Bot API methods the service
// uses to their canonical spelling.
var botMethods = map[string]string{
	"getme":          "getMe",
	"sendmessage":    "sendMessage",
	"setwebhook":     "setWebhook",
	"deletewebhook":  "deleteWebhook",
	"getwebhookinfo": "getWebhookInfo",
	"getupdates":     "getUpdates",
}

// botMethod returns the canonical name of a Bot API method, or "other".
func botMethod(name string) string {
	if m, ok := botMethods[strings.ToLower(name)]; ok {
		return m
	}
	return valueOther
}

// methodFromPath returns the Bot API method of a request path of the form
// ".../bot<token>/<method>", or "other". The token never leaves this
// function: only a name from the fixed list is returned.
func methodFromPath(path string) string {
	path = strings.TrimSuffix(path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return valueOther
	}
	parent := path[:i]
	if !strings.HasPrefix(parent[strings.LastIndexByte(parent, '/')+1:], "bot") {
		return valueOther
	}
	return botMethod(path[i+1:])
}

// TelegramTransport wraps next (http.DefaultTransport if nil) so that every
// Bot API request, to a path ".../bot<token>/<method>", is counted in
// tgnotify_telegram_api_calls_total by method and HTTP status (0 when the
// transport fails) and timed in tgnotify_telegram_api_call_duration_seconds.
// The token is never recorded: the method label is one of a fixed list of
// Bot API method names or "other". It does not read the response body, so
// callers report 429 retry_after values with RetryAfter.
func (m *Metrics) TelegramTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &telegramTransport{next: next, m: m}
}

// telegramTransport is the RoundTripper returned by TelegramTransport.
type telegramTransport struct {
	next http.RoundTripper
	m    *Metrics
}

// RoundTrip performs the request with the wrapped transport and records it.
func (t *telegramTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := methodFromPath(req.URL.Path)
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	code := 0
	if err == nil {
		code = resp.StatusCode
	}
	t.m.tgSeconds.WithLabelValues(method).Observe(time.Since(start).Seconds())
	t.m.TelegramCall(method, code)
	return resp, err
}

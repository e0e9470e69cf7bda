package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tgnotify/tgnotify/auth"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/gen/openapi"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/ui"
)

// Bounds on HTTP request bodies.
const (
	maxRESTBody    = 256 << 10
	maxWebhookBody = 1 << 20
)

// HTTPDeps is what the HTTP side is built from.
type HTTPDeps struct {
	// DialGateway connects the REST gateway to a gRPC server of the
	// service (an in-memory listener carrying the same interceptors).
	DialGateway func(ctx context.Context) (net.Conn, error)
	// Metrics instruments every endpoint and serves /metrics.
	Metrics *metrics.Metrics
	// CORSOrigins are the browser origins allowed to call the REST mirror.
	CORSOrigins []string
	// Webhook is the Telegram webhook ([NewWebhookHandler], or
	// [NewBotsWebhook] for several bots), mounted at POST /telegram/webhook
	// and POST /telegram/webhook/{bot}; nil when it has its own listener
	// ([NewWebhookListenerHandler]).
	Webhook http.Handler
	// Ready reports readiness for /readyz (nil: ready).
	Ready func(ctx context.Context) error
	// Mount, when set, adds endpoints to the mux (the sandbox's).
	Mount func(mux *http.ServeMux)
}

// NewHTTPHandler builds the HTTP side: the REST mirror (grpc-gateway,
// calling the gRPC server over loopback so that both transports share one
// set of interceptors), the Telegram webhook unless it has its own
// listener (NOTIFIER_WEBHOOK_ADDR), health, OpenAPI and, in sandbox mode,
// the endpoints that play the Telegram user.
func NewHTTPHandler(ctx context.Context, d HTTPDeps) (http.Handler, error) {
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{},
		}),
		// Match routes on the path with %2F still encoded, so that a user id
		// holding "/" (sent as %2F) stays one path segment; the captured
		// value is then unescaped whole.
		runtime.WithUnescapingMode(runtime.UnescapingModeAllExceptSlash),
		runtime.WithErrorHandler(restErrorHandler),
		runtime.WithIncomingHeaderMatcher(func(k string) (string, bool) {
			if strings.EqualFold(k, requestIDHeader) {
				return requestIDHeader, true
			}
			return runtime.DefaultHeaderMatcher(k)
		}),
		runtime.WithOutgoingHeaderMatcher(func(k string) (string, bool) {
			if k == requestIDHeader {
				return "X-Request-Id", true
			}
			return runtime.MetadataHeaderPrefix + k, true
		}),
	)
	conn, err := grpc.NewClient("passthrough:///gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return d.DialGateway(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("gateway client: %w", err)
	}
	if err := notifierv1.RegisterNotifierServiceHandler(ctx, gw, conn); err != nil {
		return nil, fmt.Errorf("register gateway: %w", err)
	}

	m := d.Metrics
	mux := http.NewServeMux()
	mux.Handle("/v1/", m.InstrumentHTTP("rest", auth.CORS(d.CORSOrigins, restBodyLimit(validPath(longLived(gw))))))
	client := notifierv1.NewNotifierServiceClient(conn)
	for f := range qrFormats {
		mux.Handle("GET /v1/users/{user_id}/link-qr."+f, m.InstrumentHTTP("qr", auth.CORS(d.CORSOrigins, validPath(qrHandler(gw, client, f)))))
	}
	// The component is a module script: browsers fetch it in CORS mode,
	// so it answers the same origins as the API.
	mux.Handle("GET /ui/tgnotify-connect.js", m.InstrumentHTTP("ui", auth.CORS(d.CORSOrigins, ui.Component())))
	if d.Webhook != nil {
		mux.Handle("POST /telegram/webhook", m.InstrumentHTTP("webhook", d.Webhook))
		mux.Handle("POST /telegram/webhook/{bot}", m.InstrumentHTTP("webhook", d.Webhook))
	}
	mux.Handle("GET /healthz", m.InstrumentHTTP("healthz", http.HandlerFunc(healthz)))
	mux.Handle("GET /readyz", m.InstrumentHTTP("readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ready(r.Context(), d.Ready); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})))
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /openapi.json", m.InstrumentHTTP("openapi", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.NotifierJSON)
	})))
	if d.Mount != nil {
		d.Mount(mux)
	}
	mux.Handle("/", m.InstrumentHTTP("other", http.HandlerFunc(notFound)))
	return mux, nil
}

func ready(ctx context.Context, f func(context.Context) error) error {
	if f == nil {
		return nil
	}
	return f(ctx)
}

// NewWebhookListenerHandler is all the webhook listener
// (NOTIFIER_WEBHOOK_ADDR) serves: the webhook and /healthz, for a load
// balancer in front of it. Nothing of the API, metrics or readiness
// details is reachable there.
func NewWebhookListenerHandler(m *metrics.Metrics, webhook http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /telegram/webhook", m.InstrumentHTTP("webhook", webhook))
	mux.Handle("POST /telegram/webhook/{bot}", m.InstrumentHTTP("webhook", webhook))
	mux.Handle("GET /healthz", m.InstrumentHTTP("healthz", http.HandlerFunc(healthz)))
	mux.Handle("/", m.InstrumentHTTP("other", http.HandlerFunc(notFound)))
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint: " + r.Method + " " + r.URL.Path})
}

// NewWebhookHandler verifies Telegram's secret header and hands updates to
// h. Without a secret (TELEGRAM_WEBHOOK_SECRET) every delivery is refused.
func NewWebhookHandler(secret string, h telegram.UpdateHandler, log *zap.Logger) http.Handler {
	if secret == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "webhook disabled: TELEGRAM_WEBHOOK_SECRET is not set"})
		})
	}
	return telegram.NewWebhookHandler(secret, h,
		telegram.WithLogger(log), telegram.WithMaxBodyBytes(maxWebhookBody))
}

// watchPath is the REST route of WatchEvents (see notifier_http.yaml);
// WatchStatus's is /v1/users/{user_id}/status:watch.
const (
	watchPath       = "/v1/events:watch"
	statusWatchTail = "/status:watch"
)

// longLived lifts the HTTP server's read and write timeouts for the
// WatchEvents and WatchStatus streams, which lasts as long as its client wants (heartbeats
// keep it alive through proxies): with them, net/http would cut it after
// ReadTimeout (the connection's read deadline ends the request's context)
// or WriteTimeout. Every other route keeps them.
func longLived(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == watchPath || (strings.HasPrefix(r.URL.Path, "/v1/users/") && strings.HasSuffix(r.URL.Path, statusWatchTail)) {
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
		}
		next.ServeHTTP(w, r)
	})
}

// validPath refuses paths whose decoded form is not valid UTF-8 with 400 in
// the gateway's error shape (the gateway would fail to encode such a
// user_id into a gRPC request and answer 500).
func validPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !utf8.ValidString(r.URL.Path) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 3, "message": "invalid path: path parameters must be valid UTF-8", "details": []any{}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// NewHTTPServer returns the service's HTTP server for h, with its
// timeouts and header limit, serving TLS with tlsCfg when not nil.
func NewHTTPServer(h http.Handler, tlsCfg *tls.Config, log *zap.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log),
		TLSConfig:         tlsCfg,
	}
}

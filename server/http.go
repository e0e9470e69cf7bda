package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/gen/openapi"
	"github.com/tgnotify/tgnotify/telegram"
)

// Bounds on HTTP request bodies.
const (
	maxRESTBody    = 256 << 10
	maxWebhookBody = 1 << 20
)

// httpHandler builds the HTTP side: the REST mirror (grpc-gateway, calling
// the gRPC server over loopback so that both transports share one set of
// interceptors), the Telegram webhook, health, OpenAPI and, in sandbox mode,
// the endpoints that play the Telegram user.
func (a *App) httpHandler(ctx context.Context) (http.Handler, error) {
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{},
		}),
		runtime.WithUnescapingMode(runtime.UnescapingModeAllCharacters),
	)
	conn, err := grpc.NewClient(loopbackAddr(a.grpcLn.Addr()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("gateway client: %w", err)
	}
	if err := notifierv1.RegisterNotifierServiceHandler(ctx, gw, conn); err != nil {
		return nil, fmt.Errorf("register gateway: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", http.MaxBytesHandler(gw, maxRESTBody))
	mux.Handle("POST /telegram/webhook", a.webhookHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.NotifierJSON)
	})
	if a.sandbox != nil {
		a.mountSandbox(mux)
	}
	return mux, nil
}

// webhookHandler verifies Telegram's secret header and hands updates to the
// bot. Without TELEGRAM_WEBHOOK_SECRET every delivery is refused.
func (a *App) webhookHandler() http.Handler {
	if a.cfg.WebhookSecret == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "webhook disabled: TELEGRAM_WEBHOOK_SECRET is not set"})
		})
	}
	return telegram.NewWebhookHandler(a.cfg.WebhookSecret, a.updates,
		telegram.WithLogger(a.log.Named("webhook")), telegram.WithMaxBodyBytes(maxWebhookBody))
}

// loopbackAddr turns a listener address into one this process can dial.
func loopbackAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

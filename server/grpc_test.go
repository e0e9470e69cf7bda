package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tgnotify/tgnotify/auth"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/metrics"
)

// stubAPI answers GetStatus and panics on GetNotification.
type stubAPI struct {
	notifierv1.UnimplementedNotifierServiceServer
}

func (stubAPI) GetStatus(context.Context, *notifierv1.GetStatusRequest) (*notifierv1.GetStatusResponse, error) {
	return &notifierv1.GetStatusResponse{}, nil
}

func (stubAPI) GetNotification(context.Context, *notifierv1.GetNotificationRequest) (*notifierv1.GetNotificationResponse, error) {
	panic("boom")
}

// TestGRPCRequestLogAndMetrics: through the interceptor chain, every call
// (rejected ones too) gets one "finished call" entry with method, code,
// duration, request id and, once authenticated, the caller's name, and is
// counted in the standard gRPC series under the key it presents; the key
// itself appears in neither.
func TestGRPCRequestLogAndMetrics(t *testing.T) {
	t.Parallel()
	const key = "k3y-for-the-billing-service"
	sum := sha256.Sum256([]byte(key))
	keys, err := auth.Parse(fmt.Appendf(nil, "keys:\n  - name: billing\n    sha256: %q\n    scopes: [link, notify]\n", hex.EncodeToString(sum[:])))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	m := metrics.New()
	srv := newGRPCServer(grpcDeps{svc: stubAPI{}, health: health.NewServer(), log: zap.New(core),
		metrics: m, auth: auth.New(keys, zap.NewNop())})
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := notifierv1.NewNotifierServiceClient(conn)

	cases := []struct {
		name, key, requestID string
		call                 func(ctx context.Context) error
		method               string
		code                 codes.Code
		logCaller            string // "": no caller field
		metricCaller         string
	}{
		{"authenticated", key, "req-1", func(ctx context.Context) error {
			_, err := client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "u"})
			return err
		}, "GetStatus", codes.OK, "billing", "billing"},
		{"unknown key", "wrong-key", "req-2", func(ctx context.Context) error {
			_, err := client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "u"})
			return err
		}, "GetStatus", codes.Unauthenticated, "", "none"},
		{"panic in the handler", key, "req-3", func(ctx context.Context) error {
			_, err := client.GetNotification(ctx, &notifierv1.GetNotificationRequest{NotificationId: "n"})
			return err
		}, "GetNotification", codes.Internal, "billing", "billing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tc.key, requestIDHeader, tc.requestID)
			if err := tc.call(ctx); status.Code(err) != tc.code {
				t.Fatalf("call: %v, want %v", err, tc.code)
			}
			entries := logs.FilterField(zap.String("request_id", tc.requestID)).All()
			if len(entries) != 1 || entries[0].Message != "finished call" {
				t.Fatalf("request log entries with request_id %s: %v, want one \"finished call\"", tc.requestID, entries)
			}
			if want := logLevel(tc.code); zapLevel(want) != entries[0].Level {
				t.Errorf("level %v, want %v", entries[0].Level, zapLevel(want))
			}
			f := entries[0].ContextMap()
			if f["grpc.method"] != tc.method || f["grpc.service"] != "notifier.v1.NotifierService" || f["grpc.code"] != tc.code.String() {
				t.Errorf("fields %v, want method %s, code %v", f, tc.method, tc.code)
			}
			if _, ok := f["grpc.time_ms"]; !ok {
				t.Errorf("no grpc.time_ms in %v", f)
			}
			if got, _ := f["caller"].(string); got != tc.logCaller {
				t.Errorf("caller field %q, want %q", got, tc.logCaller)
			}
			if s := fmt.Sprint(f); strings.Contains(s, tc.key) {
				t.Errorf("request log holds the API key: %s", s)
			}
			labels := fmt.Sprintf(`grpc_code=%q,grpc_method=%q,grpc_service="notifier.v1.NotifierService",grpc_type="unary"`, tc.code, tc.method)
			if got := counterValue(t, m, "grpc_server_handled_total", `caller="`+tc.metricCaller+`",`+labels); got != 1 {
				t.Errorf("grpc_server_handled_total{caller=%q,%s} = %v, want 1", tc.metricCaller, labels, got)
			}
		})
	}
}

// counterValue returns the value of the counter name{labels} (labels as
// in the text format, sorted by name), 0 when absent.
func counterValue(t *testing.T, m *metrics.Metrics, name, labels string) float64 {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			var l []string
			for _, lp := range s.GetLabel() {
				l = append(l, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			if strings.Join(l, ",") == labels {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

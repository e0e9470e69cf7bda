package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/internal/freeport"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
)

// value returns the value of the series of metric name whose labels include
// want (a counter's value, a gauge's value, or a histogram's sample count),
// summed over matching series, and whether any matched.
func value(t *testing.T, m *Metrics, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var sum float64
	found := false
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, metric := range mf.GetMetric() {
			if !hasLabels(metric, want) {
				continue
			}
			found = true
			switch {
			case metric.Counter != nil:
				sum += metric.GetCounter().GetValue()
			case metric.Gauge != nil:
				sum += metric.GetGauge().GetValue()
			case metric.Histogram != nil:
				sum += float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, found
}

// hasLabels reports whether metric carries every label in want.
func hasLabels(metric *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		ok := false
		for _, lp := range metric.GetLabel() {
			if lp.GetName() == k && lp.GetValue() == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// mustValue is value that fails the test when no series matches.
func mustValue(t *testing.T, m *Metrics, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := value(t, m, name, want)
	if !ok {
		t.Fatalf("no series %s%v", name, want)
	}
	return v
}

// scrape fetches /metrics through Handler.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return string(body)
}

func TestRecordersMoveMetrics(t *testing.T) {
	m := New()
	m.RegisterQueueGauges(func() float64 { return 7 }, func() float64 { return 42.5 })
	cases := []struct {
		name   string
		record func()
		metric string
		labels map[string]string
		want   float64
	}{
		{"update processed", func() { m.UpdateReceived(KindMessage, OutcomeProcessed) }, "tgnotify_telegram_updates_received_total", map[string]string{"kind": "message", "outcome": "processed"}, 1},
		{"update unknown kind and outcome", func() { m.UpdateReceived("edited_message", "weird") }, "tgnotify_telegram_updates_received_total", map[string]string{"kind": "other", "outcome": "other"}, 1},
		{"linked", m.Linked, "tgnotify_links_total", nil, 1},
		{"unlinked", func() { m.Unlinked("blocked") }, "tgnotify_unlinks_total", map[string]string{"reason": "blocked"}, 1},
		{"accepted", m.NotificationAccepted, "tgnotify_notifications_accepted_total", nil, 1},
		{"finished", func() { m.NotificationFinished("failed", "chat_not_found") }, "tgnotify_notifications_finished_total", map[string]string{"state": "failed", "reason": "chat_not_found"}, 1},
		{"finished without reason", func() { m.NotificationFinished("delivered", "") }, "tgnotify_notifications_finished_total", map[string]string{"state": "delivered", "reason": "none"}, 1},
		{"ambiguous", m.AmbiguousSend, "tgnotify_notifications_ambiguous_sends_total", nil, 1},
		{"telegram call", func() { m.TelegramCall("SendMessage", 200) }, "tgnotify_telegram_api_calls_total", map[string]string{"method": "sendMessage", "code": "200"}, 1},
		{"telegram transport error", func() { m.TelegramCall("getUpdates", 0) }, "tgnotify_telegram_api_calls_total", map[string]string{"method": "getUpdates", "code": "0"}, 1},
		{"telegram unknown method", func() { m.TelegramCall("banChatMember", 400) }, "tgnotify_telegram_api_calls_total", map[string]string{"method": "other", "code": "400"}, 1},
		{"retry after counter", func() { m.RetryAfter(12) }, "tgnotify_telegram_rate_limited_total", nil, 1},
		{"retry after histogram", func() {}, "tgnotify_telegram_retry_after_seconds", nil, 1},
		{"redis error", func() { m.RedisError("GET") }, "tgnotify_redis_errors_total", map[string]string{"op": "get"}, 1},
		{"queue depth", func() {}, "tgnotify_delivery_queue_depth", nil, 7},
		{"queue oldest age", func() {}, "tgnotify_delivery_queue_oldest_age_seconds", nil, 42.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.record()
			if got := mustValue(t, m, tc.metric, tc.labels); got != tc.want {
				t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, got, tc.want)
			}
		})
	}

	t.Run("exposition", func(t *testing.T) {
		body := scrape(t, m)
		for _, want := range []string{
			`tgnotify_telegram_updates_received_total{kind="message",outcome="processed"} 1`,
			`tgnotify_telegram_updates_received_total{kind="my_chat_member",outcome="duplicate"} 0`,
			`tgnotify_links_total 1`,
			`tgnotify_telegram_api_calls_total{code="200",method="sendMessage"} 1`,
			`tgnotify_telegram_retry_after_seconds_bucket{le="30"} 1`,
			`tgnotify_delivery_queue_depth 7`,
			`go_goroutines `,
			`process_start_time_seconds `,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
	t.Run("second queue registration panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		m.RegisterQueueGauges(func() float64 { return 0 }, func() float64 { return 0 })
	})
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.Linked()
	if got := mustValue(t, b, "tgnotify_links_total", nil); got != 0 {
		t.Fatalf("second Metrics sees %v links", got)
	}
}

func TestLabelCardinalityIsBounded(t *testing.T) {
	m := New()
	for i := range 200 {
		m.Unlinked("reason-" + strconv.Itoa(i))
	}
	m.Unlinked(strings.Repeat("x", 100))
	m.Unlinked("\xff")
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "tgnotify_unlinks_total" {
			if n := len(mf.GetMetric()); n > maxReasons+1 {
				t.Errorf("%d series, want at most %d", n, maxReasons+1)
			}
		}
	}
	if got := mustValue(t, m, "tgnotify_unlinks_total", map[string]string{"reason": "other"}); got != 200-maxReasons+2 {
		t.Errorf("other = %v, want %d", got, 200-maxReasons+2)
	}
}

func TestInstrumentHTTP(t *testing.T) {
	m := New()
	h := m.InstrumentHTTP("/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	cases := []struct {
		name, path, code string
	}{
		{"ok", "/v1/users/u1/status", "200"},
		{"not found", "/v1/missing", "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
			labels := map[string]string{"route": "/v1/", "code": tc.code}
			if got := mustValue(t, m, "tgnotify_http_requests_total", labels); got != 1 {
				t.Errorf("requests = %v", got)
			}
			if got := mustValue(t, m, "tgnotify_http_request_duration_seconds", labels); got != 1 {
				t.Errorf("duration samples = %v", got)
			}
		})
	}
}

// callerKey is the context key of the fake authentication in the gRPC test.
type callerKey struct{}

// fakeAuth rejects calls without metadata "x-caller" and otherwise stores
// the caller in the context, like auth.Authenticator.
func fakeAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadataFrom(ctx)
	if md == "" {
		return nil, status.Error(codes.Unauthenticated, "no caller")
	}
	return handler(context.WithValue(ctx, callerKey{}, md), req)
}

// stub answers Notify and fails GetStatus.
type stub struct {
	notifierv1.UnimplementedNotifierServiceServer
}

func (stub) Notify(context.Context, *notifierv1.NotifyRequest) (*notifierv1.NotifyResponse, error) {
	return &notifierv1.NotifyResponse{}, nil
}

func (stub) GetStatus(context.Context, *notifierv1.GetStatusRequest) (*notifierv1.GetStatusResponse, error) {
	return nil, status.Error(codes.NotFound, "no such user")
}

func TestGRPCInterceptors(t *testing.T) {
	m := New()
	// Like the service's, the caller function identifies the caller from
	// the call's metadata, before fakeAuth has run.
	caller := func(ctx context.Context) string {
		s, _ := metadataFrom(ctx)
		return s
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor(caller), fakeAuth),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor(caller)),
	)
	notifierv1.RegisterNotifierServiceServer(srv, stub{})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
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
		name   string
		call   func(ctx context.Context) error
		caller string
		method string
		code   string
	}{
		{"ok with caller", func(ctx context.Context) error {
			_, err := client.Notify(withCaller(ctx, "billing"), &notifierv1.NotifyRequest{})
			return err
		}, "billing", "Notify", "OK"},
		{"handler error", func(ctx context.Context) error {
			_, err := client.GetStatus(withCaller(ctx, "web-frontend"), &notifierv1.GetStatusRequest{})
			return err
		}, "web-frontend", "GetStatus", "NotFound"},
		{"rejected by auth still counted", func(ctx context.Context) error {
			_, err := client.Notify(ctx, &notifierv1.NotifyRequest{})
			return err
		}, "none", "Notify", "Unauthenticated"},
		{"unimplemented", func(ctx context.Context) error {
			_, err := client.GetLinkURL(withCaller(ctx, "ops"), &notifierv1.GetLinkURLRequest{})
			return err
		}, "ops", "GetLinkURL", "Unimplemented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_ = tc.call(t.Context())
			// The standard histogram has no grpc_code label: each case
			// is the only call of its method and caller.
			labels := map[string]string{"grpc_type": "unary", "grpc_service": "notifier.v1.NotifierService",
				"grpc_method": tc.method, "caller": tc.caller}
			if got := mustValue(t, m, "grpc_server_handling_seconds", labels); got != 1 {
				t.Errorf("handling samples = %v, want 1", got)
			}
			if got := mustValue(t, m, "grpc_server_started_total", labels); got != 1 {
				t.Errorf("started = %v, want 1", got)
			}
			labels["grpc_code"] = tc.code
			if got := mustValue(t, m, "grpc_server_handled_total", labels); got != 1 {
				t.Errorf("handled = %v, want 1", got)
			}
		})
	}

	t.Run("stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel()
		labels := map[string]string{"grpc_type": "server_stream", "grpc_service": "grpc.health.v1.Health",
			"grpc_method": "Watch", "grpc_code": "Canceled", "caller": "none"}
		poll.Eventually(t, 10*time.Second, "the canceled Watch to be counted", func() bool {
			v, ok := value(t, m, "grpc_server_handled_total", labels)
			return ok && v == 1
		})
	})
}

func TestTelegramTransport(t *testing.T) {
	const token = "123456789:AAE-secret_TOKEN-value"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sendMessage") {
			w.WriteHeader(http.StatusTooManyRequests)
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	m := New()
	client := &http.Client{Transport: m.TelegramTransport(nil)}
	cases := []struct {
		name, url, method, code string
	}{
		{"getMe", srv.URL + "/bot" + token + "/getMe", "getMe", "200"},
		{"lower-case method", srv.URL + "/bot" + token + "/getupdates?timeout=0", "getUpdates", "200"},
		{"rate limited", srv.URL + "/bot" + token + "/sendMessage", "sendMessage", "429"},
		{"base path prefix", srv.URL + "/tg/bot" + token + "/deleteWebhook", "deleteWebhook", "200"},
		{"unknown method", srv.URL + "/bot" + token + "/" + token, "other", "200"},
		{"file download", srv.URL + "/file/bot" + token + "/photos/getMe", "other", "200"},
		{"transport error", "http://127.0.0.1:1/bot" + token + "/setWebhook", "setWebhook", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := value(t, m, "tgnotify_telegram_api_calls_total", map[string]string{"method": tc.method, "code": tc.code})
			resp, err := client.Get(tc.url)
			if err == nil {
				resp.Body.Close()
			}
			after := mustValue(t, m, "tgnotify_telegram_api_calls_total", map[string]string{"method": tc.method, "code": tc.code})
			if after != before+1 {
				t.Errorf("calls{method=%s,code=%s} %v -> %v", tc.method, tc.code, before, after)
			}
		})
	}
	t.Run("token never exposed", func(t *testing.T) {
		body := scrape(t, m)
		for _, part := range []string{token, "AAE-secret", "123456789"} {
			if strings.Contains(body, part) {
				t.Errorf("/metrics contains %q", part)
			}
		}
	})
}

func TestMethodFromPath(t *testing.T) {
	cases := []struct{ path, want string }{
		{"/bot1:abc/getMe", "getMe"},
		{"/bot1:abc/SENDMESSAGE", "sendMessage"},
		{"/bot1:abc/getWebhookInfo/", "getWebhookInfo"},
		{"/bot1:abc/", "other"},
		{"/getMe", "other"},
		{"", "other"},
		{"/x/getMe", "other"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			if got := methodFromPath(tc.path); got != tc.want {
				t.Errorf("methodFromPath(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestRedisHook(t *testing.T) {
	m := New()
	hook := m.RedisHook()
	boom := errors.New("READONLY You can't write against a read only replica")
	cases := []struct {
		name string
		err  error
		op   string
		want float64
	}{
		{"real error counted", boom, "set", 1},
		{"redis.Nil not counted", redis.Nil, "get", 0},
		{"tx conflict not counted", redis.TxFailedErr, "exec", 0},
		{"caller cancel not counted", context.Canceled, "hget", 0},
		{"deadline counted", context.DeadlineExceeded, "hset", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			process := hook.ProcessHook(func(context.Context, redis.Cmder) error { return tc.err })
			cmd := redis.NewCmd(t.Context(), strings.ToUpper(tc.op), "k")
			if err := process(t.Context(), cmd); !errors.Is(err, tc.err) {
				t.Fatalf("hook changed the error: %v", err)
			}
			got, _ := value(t, m, "tgnotify_redis_errors_total", map[string]string{"op": tc.op})
			if got != tc.want {
				t.Errorf("errors{op=%s} = %v, want %v", tc.op, got, tc.want)
			}
		})
	}
	t.Run("pipeline", func(t *testing.T) {
		get := redis.NewStringCmd(t.Context(), "get", "a")
		get.SetErr(redis.Nil)
		incr := redis.NewIntCmd(t.Context(), "incr", "b")
		incr.SetErr(boom)
		pipe := hook.ProcessPipelineHook(func(context.Context, []redis.Cmder) error { return boom })
		_ = pipe(t.Context(), []redis.Cmder{get, incr})
		if got := mustValue(t, m, "tgnotify_redis_errors_total", map[string]string{"op": "incr"}); got != 1 {
			t.Errorf("incr errors = %v", got)
		}
		if _, ok := value(t, m, "tgnotify_redis_errors_total", map[string]string{"op": "pipeline"}); ok {
			t.Error("pipeline counted although a command was")
		}
	})
	t.Run("real client dial failure", func(t *testing.T) {
		addr := freeport.MustAddr(t) // nothing listens there
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
		defer rdb.Close()
		rdb.AddHook(hook)
		if err := rdb.Get(t.Context(), "k").Err(); err == nil {
			t.Fatal("Get on a closed port succeeded")
		}
		if got := mustValue(t, m, "tgnotify_redis_errors_total", map[string]string{"op": "dial"}); got < 1 {
			t.Errorf("dial errors = %v", got)
		}
		if got := mustValue(t, m, "tgnotify_redis_errors_total", map[string]string{"op": "get"}); got < 1 {
			t.Errorf("get errors = %v", got)
		}
	})
}

// withCaller adds the fake caller metadata to an outgoing context.
func withCaller(ctx context.Context, name string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-caller", name)
}

// metadataFrom returns the fake caller of an incoming context.
func metadataFrom(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get("x-caller")
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

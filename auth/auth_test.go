package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// Test keys. The secrets only ever appear here and in requests.
const (
	secretLink   = "link-secret-0123456789"
	secretNotify = "notify-secret-0123456789"
	secretBoth   = "both-secret-0123456789"
	secretWrong  = "wrong-secret-0123456789"
)

// hashOf returns the hex SHA-256 of s.
func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// testKeysYAML is a valid keys file with one key per scope combination; the
// notify key's hash is in upper case.
func testKeysYAML() string {
	return `keys:
  - name: web-frontend
    sha256: "` + hashOf(secretLink) + `"
    scopes: [link]
  - name: billing
    sha256: "` + strings.ToUpper(hashOf(secretNotify)) + `"
    scopes: [notify]
  - name: ops
    sha256: ` + hashOf(secretBoth) + `
    scopes: [link, notify]
`
}

// mustParse parses a keys document or fails the test.
func mustParse(t *testing.T, doc string) *KeySet {
	t.Helper()
	ks, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return ks
}

// stubServer answers every method with an empty response and records the
// caller name seen by the handler.
type stubServer struct {
	notifierv1.UnimplementedNotifierServiceServer
	mu      sync.Mutex
	callers []string
}

func (s *stubServer) record(ctx context.Context) {
	c, ok := CallerFromContext(ctx)
	name := "<none>"
	if ok {
		name = c.Name
	}
	s.mu.Lock()
	s.callers = append(s.callers, name)
	s.mu.Unlock()
}

func (s *stubServer) lastCaller() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.callers) == 0 {
		return ""
	}
	return s.callers[len(s.callers)-1]
}

func (s *stubServer) CreateLinkToken(ctx context.Context, _ *notifierv1.CreateLinkTokenRequest) (*notifierv1.CreateLinkTokenResponse, error) {
	s.record(ctx)
	return &notifierv1.CreateLinkTokenResponse{}, nil
}

func (s *stubServer) GetLinkURL(ctx context.Context, _ *notifierv1.GetLinkURLRequest) (*notifierv1.GetLinkURLResponse, error) {
	s.record(ctx)
	return &notifierv1.GetLinkURLResponse{}, nil
}

func (s *stubServer) Notify(ctx context.Context, _ *notifierv1.NotifyRequest) (*notifierv1.NotifyResponse, error) {
	s.record(ctx)
	return &notifierv1.NotifyResponse{}, nil
}

func (s *stubServer) GetStatus(ctx context.Context, _ *notifierv1.GetStatusRequest) (*notifierv1.GetStatusResponse, error) {
	s.record(ctx)
	return &notifierv1.GetStatusResponse{}, nil
}

func (s *stubServer) GetNotification(ctx context.Context, _ *notifierv1.GetNotificationRequest) (*notifierv1.GetNotificationResponse, error) {
	s.record(ctx)
	return &notifierv1.GetNotificationResponse{}, nil
}

// harness is a gRPC server with the auth interceptors on a bufconn, and a
// client connection to it.
type harness struct {
	auth *Authenticator
	stub *stubServer
	conn *grpc.ClientConn
	logs *observer.ObservedLogs
}

// newHarness starts the server with keys (nil: open mode).
func newHarness(t *testing.T, keys *KeySet) *harness {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	a := New(keys, zap.New(core))
	stub := &stubServer{}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	notifierv1.RegisterNotifierServiceServer(srv, stub)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &harness{auth: a, stub: stub, conn: conn, logs: logs}
}

// rpc is one NotifierService method called through the client.
type rpc struct {
	name string
	call func(ctx context.Context, c notifierv1.NotifierServiceClient) error
}

// allRPCs lists every NotifierService method.
var allRPCs = []rpc{
	{"CreateLinkToken", func(ctx context.Context, c notifierv1.NotifierServiceClient) error {
		_, err := c.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{})
		return err
	}},
	{"GetLinkURL", func(ctx context.Context, c notifierv1.NotifierServiceClient) error {
		_, err := c.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{})
		return err
	}},
	{"Notify", func(ctx context.Context, c notifierv1.NotifierServiceClient) error {
		_, err := c.Notify(ctx, &notifierv1.NotifyRequest{})
		return err
	}},
	{"GetStatus", func(ctx context.Context, c notifierv1.NotifierServiceClient) error {
		_, err := c.GetStatus(ctx, &notifierv1.GetStatusRequest{})
		return err
	}},
	{"GetNotification", func(ctx context.Context, c notifierv1.NotifierServiceClient) error {
		_, err := c.GetNotification(ctx, &notifierv1.GetNotificationRequest{})
		return err
	}},
}

// withAuth returns ctx with an outgoing authorization header, if any.
func withAuth(ctx context.Context, header string) context.Context {
	if header == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", header)
}

func TestInterceptorEveryMethod(t *testing.T) {
	h := newHarness(t, mustParse(t, testKeysYAML()))
	client := notifierv1.NewNotifierServiceClient(h.conn)

	// scopeOf tells which scope each method needs; GetStatus takes either.
	linkOK := map[string]bool{"CreateLinkToken": true, "GetLinkURL": true, "GetStatus": true}
	notifyOK := map[string]bool{"Notify": true, "GetNotification": true, "GetStatus": true}

	type keyCase struct {
		name       string
		header     string
		want       func(method string) codes.Code
		wantCaller string
		wantMsg    string
	}
	unauth := func(string) codes.Code { return codes.Unauthenticated }
	byScope := func(ok map[string]bool) func(string) codes.Code {
		return func(m string) codes.Code {
			if ok[m] {
				return codes.OK
			}
			return codes.PermissionDenied
		}
	}
	cases := []keyCase{
		{name: "no key", header: "", want: unauth, wantMsg: "missing API key: send 'authorization: Bearer <key>'"},
		{name: "empty bearer", header: "Bearer ", want: unauth, wantMsg: "missing API key"},
		{name: "basic scheme", header: "Basic " + secretLink, want: unauth, wantMsg: "missing API key"},
		{name: "wrong key", header: "Bearer " + secretWrong, want: unauth, wantMsg: "unknown API key"},
		{name: "hash instead of key", header: "Bearer " + hashOf(secretLink), want: unauth, wantMsg: "unknown API key"},
		{name: "link key", header: "Bearer " + secretLink, want: byScope(linkOK), wantCaller: "web-frontend", wantMsg: `API key "web-frontend" lacks scope "notify" required by `},
		{name: "notify key lower-case scheme", header: "bearer " + secretNotify, want: byScope(notifyOK), wantCaller: "billing", wantMsg: `API key "billing" lacks scope "link" required by `},
		{name: "both scopes", header: "BEARER " + secretBoth, want: func(string) codes.Code { return codes.OK }, wantCaller: "ops"},
	}
	for _, m := range allRPCs {
		for _, kc := range cases {
			t.Run(m.name+"/"+kc.name, func(t *testing.T) {
				err := m.call(withAuth(t.Context(), kc.header), client)
				want := kc.want(m.name)
				if got := status.Code(err); got != want {
					t.Fatalf("code = %v (%v), want %v", got, err, want)
				}
				switch want {
				case codes.OK:
					if got := h.stub.lastCaller(); got != kc.wantCaller {
						t.Errorf("handler saw caller %q, want %q", got, kc.wantCaller)
					}
				case codes.PermissionDenied:
					msg := status.Convert(err).Message()
					if !strings.HasPrefix(msg, kc.wantMsg) || !strings.HasSuffix(msg, m.name) {
						t.Errorf("message = %q, want %q…%s", msg, kc.wantMsg, m.name)
					}
				default:
					if msg := status.Convert(err).Message(); !strings.HasPrefix(msg, kc.wantMsg) {
						t.Errorf("message = %q, want prefix %q", msg, kc.wantMsg)
					}
				}
			})
		}
	}

	t.Run("logs never contain a key", func(t *testing.T) {
		for _, e := range h.logs.All() {
			line := e.Message
			for k, v := range e.ContextMap() {
				line += " " + k + "=" + stringify(v)
			}
			for _, s := range []string{secretLink, secretNotify, secretBoth, secretWrong, hashOf(secretLink)} {
				if strings.Contains(line, s) {
					t.Errorf("log %q contains a secret or hash", line)
				}
			}
		}
		if h.logs.FilterField(zap.String("caller", "web-frontend")).Len() == 0 {
			t.Errorf("no log names the caller web-frontend")
		}
	})
}

// stringify renders a log field value.
func stringify(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, x := range v {
			b.WriteString(stringify(x) + ",")
		}
		return b.String()
	default:
		return ""
	}
}

func TestExemptServicesNeedNoKey(t *testing.T) {
	h := newHarness(t, mustParse(t, testKeysYAML()))
	t.Run("health check", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(h.conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("status = %v", resp.GetStatus())
		}
	})
	t.Run("reflection stream", func(t *testing.T) {
		stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(t.Context())
		if err != nil {
			t.Fatalf("ServerReflectionInfo: %v", err)
		}
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
		}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		if !strings.Contains(strings.Join(names, " "), "notifier.v1.NotifierService") {
			t.Errorf("services = %v", names)
		}
	})
}

func TestOpenMode(t *testing.T) {
	h := newHarness(t, nil)
	if !h.auth.Open() {
		t.Fatal("Open() = false with no keys")
	}
	if h.logs.FilterLevelExact(zap.WarnLevel).FilterMessageSnippet("OPEN").Len() == 0 {
		t.Error("no loud warning about open mode")
	}
	client := notifierv1.NewNotifierServiceClient(h.conn)
	for _, m := range allRPCs {
		t.Run(m.name, func(t *testing.T) {
			if err := m.call(t.Context(), client); err != nil {
				t.Fatalf("call without key in open mode: %v", err)
			}
			if got := h.stub.lastCaller(); got != AnonymousName {
				t.Errorf("caller = %q, want %q", got, AnonymousName)
			}
		})
	}
}

func TestSwapReloadsKeys(t *testing.T) {
	h := newHarness(t, mustParse(t, testKeysYAML()))
	client := notifierv1.NewNotifierServiceClient(h.conn)
	ctx := withAuth(t.Context(), "Bearer "+secretLink)
	if err := allRPCs[0].call(ctx, client); err != nil {
		t.Fatalf("before swap: %v", err)
	}
	newKey := "rotated-secret-0123456789"
	h.auth.Swap(mustParse(t, `{"keys": [{"name": "web-frontend-2", "sha256": "`+hashOf(newKey)+`", "scopes": ["link"]}]}`))
	if err := allRPCs[0].call(ctx, client); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("old key after swap: %v, want Unauthenticated", err)
	}
	if err := allRPCs[0].call(withAuth(t.Context(), "Bearer "+newKey), client); err != nil {
		t.Fatalf("new key after swap on the same connection: %v", err)
	}
	if got := h.stub.lastCaller(); got != "web-frontend-2" {
		t.Errorf("caller = %q", got)
	}
	if h.auth.Open() {
		t.Error("Open() = true with keys")
	}
}

func TestEmptyKeyListAdmitsNobody(t *testing.T) {
	h := newHarness(t, mustParse(t, "keys: []\n"))
	client := notifierv1.NewNotifierServiceClient(h.conn)
	if err := allRPCs[3].call(withAuth(t.Context(), "Bearer "+secretBoth), client); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("err = %v, want Unauthenticated", err)
	}
}

// fakeStream is a grpc.ServerStream with a fixed context.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f fakeStream) Context() context.Context { return f.ctx }

func TestStreamInterceptor(t *testing.T) {
	a := New(mustParse(t, testKeysYAML()), nil)
	ic := a.StreamServerInterceptor()
	incoming := func(header string) context.Context {
		if header == "" {
			return t.Context()
		}
		return metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", header))
	}
	cases := []struct {
		name       string
		method     string
		header     string
		want       codes.Code
		wantCaller string
	}{
		{"no key", "/notifier.v1.NotifierService/Notify", "", codes.Unauthenticated, ""},
		{"wrong key", "/notifier.v1.NotifierService/Notify", "Bearer " + secretWrong, codes.Unauthenticated, ""},
		{"key without scope", "/notifier.v1.NotifierService/Notify", "Bearer " + secretLink, codes.PermissionDenied, ""},
		{"good key", "/notifier.v1.NotifierService/Notify", "Bearer " + secretNotify, codes.OK, "billing"},
		{"unknown method", "/notifier.v1.NotifierService/DeleteEverything", "Bearer " + secretBoth, codes.PermissionDenied, ""},
		{"other service", "/other.v1.Admin/Do", "Bearer " + secretBoth, codes.PermissionDenied, ""},
		{"health watch without key", "/grpc.health.v1.Health/Watch", "", codes.OK, ""},
		{"reflection v1alpha without key", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "", codes.OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotCaller string
			err := ic(nil, fakeStream{ctx: incoming(tc.header)}, &grpc.StreamServerInfo{FullMethod: tc.method},
				func(_ any, ss grpc.ServerStream) error {
					if c, ok := CallerFromContext(ss.Context()); ok {
						gotCaller = c.Name
					}
					return nil
				})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.want)
			}
			if gotCaller != tc.wantCaller {
				t.Errorf("caller = %q, want %q", gotCaller, tc.wantCaller)
			}
		})
	}
}

func TestAuthenticateMetadata(t *testing.T) {
	a := New(mustParse(t, testKeysYAML()), nil)
	cases := []struct {
		name string
		md   metadata.MD
		want codes.Code
	}{
		{"no metadata", nil, codes.Unauthenticated},
		{"two authorization values", metadata.Pairs("authorization", "Bearer "+secretLink, "authorization", "Bearer "+secretLink), codes.Unauthenticated},
		{"x-api-key is not accepted", metadata.Pairs("x-api-key", secretLink), codes.Unauthenticated},
		{"extra spaces", metadata.Pairs("authorization", "  Bearer   "+secretLink+"  "), codes.OK},
		{"very long key", metadata.Pairs("authorization", "Bearer "+strings.Repeat("x", 5000)), codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			_, err := a.Authenticate(ctx)
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

// TestRESTMirrorStatus checks that grpc-gateway forwards the Authorization
// header and maps the interceptor's codes to 401 and 403.
func TestRESTMirrorStatus(t *testing.T) {
	h := newHarness(t, mustParse(t, testKeysYAML()))
	mux := runtime.NewServeMux()
	if err := notifierv1.RegisterNotifierServiceHandlerClient(t.Context(), mux, notifierv1.NewNotifierServiceClient(h.conn)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		method string
		path   string
		header string
		want   int
	}{
		{"no key", http.MethodPost, "/v1/users/u1/link-token", "", http.StatusUnauthorized},
		{"wrong key", http.MethodPost, "/v1/users/u1/link-token", "Bearer " + secretWrong, http.StatusUnauthorized},
		{"key without scope", http.MethodPost, "/v1/users/u1/notifications", "Bearer " + secretLink, http.StatusForbidden},
		{"good key", http.MethodPost, "/v1/users/u1/link-token", "Bearer " + secretLink, http.StatusOK},
		{"status with notify key", http.MethodGet, "/v1/users/u1/status", "Bearer " + secretNotify, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{}"))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.want, rec.Body)
			}
		})
	}
}

func TestRequiredScopes(t *testing.T) {
	cases := []struct {
		method string
		want   string
		ok     bool
	}{
		{"/notifier.v1.NotifierService/CreateLinkToken", "link", true},
		{"/notifier.v1.NotifierService/GetLinkURL", "link", true},
		{"/notifier.v1.NotifierService/Notify", "notify", true},
		{"/notifier.v1.NotifierService/GetNotification", "notify", true},
		{"/notifier.v1.NotifierService/GetStatus", "link,notify", true},
		{"/notifier.v1.NotifierService/Unlink", "link", true},
		{"/notifier.v1.NotifierService/ListEvents", "events", true},
		{"/notifier.v1.NotifierService/WatchEvents", "events", true},
		{"/notifier.v1.NotifierService/Nope", "", false},
		{"/grpc.health.v1.Health/Check", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			s, ok := RequiredScopes(tc.method)
			var parts []string
			for _, x := range s {
				parts = append(parts, string(x))
			}
			if got := strings.Join(parts, ","); got != tc.want || ok != tc.ok {
				t.Errorf("RequiredScopes = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

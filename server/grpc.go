package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime/debug"
	"time"
	"unicode"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/tgnotify/tgnotify/auth"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/metrics"
)

// maxRecvMsgSize bounds a gRPC request: the largest valid one is a
// Broadcast with 100,000 user ids of up to 128 bytes (about 13 MiB); every
// other valid request (a 64 KiB text plus ids) is far below 256 KiB.
const maxRecvMsgSize = maxBroadcastBody

// requestIDHeader carries a caller's request id (gRPC metadata, and the
// HTTP header on REST); one is generated when absent.
const requestIDHeader = "x-request-id"

// grpcDeps is what every gRPC server of the service shares.
type grpcDeps struct {
	svc     notifierv1.NotifierServiceServer
	health  *health.Server
	log     *zap.Logger
	metrics *metrics.Metrics
	auth    *auth.Authenticator
}

// newGRPCServer builds a gRPC server with the API, grpc.health.v1 and server
// reflection. The interceptors, from go-grpc-middleware where it has them,
// run in this fixed order (STYLE.md item 12: metrics → logging → auth →
// recovery); the REST gateway reaches the service through a server built
// here too, so both transports pass the same chain:
//
//  1. metrics (go-grpc-middleware providers/prometheus: the standard
//     grpc_server_* series with a caller label; first, so that calls
//     rejected later are counted too)
//  2. request id (unary: from x-request-id metadata, else generated; echoed
//     back and put in the request log's fields)
//  3. request log (interceptors/logging through zapLogger: one "finished
//     call" entry with method, code, duration, caller, request id; never
//     payloads or metadata, so never a key)
//  4. API-key authentication and scopes (health and reflection exempt),
//     then the caller's name for the request log, then requests with
//     invalid UTF-8 strings are refused (see utf8Codec; on a stream, each
//     message received)
//  5. panic recovery (interceptors/recovery: a panic becomes INTERNAL and
//     is logged with its stack)
//
// Streams (WatchEvents) pass the same chain but the request id; no
// interceptor or server option puts a deadline on a call, so a stream
// lasts until the client goes or the server stops.
//
// The auth step stays the auth package's own interceptor: it checks scopes
// and rate limits by method, so go-grpc-middleware's auth interceptor would
// only wrap it (an AuthFunc calling grpc.Method) without removing code.
func newGRPCServer(d grpcDeps, opts ...grpc.ServerOption) *grpc.Server {
	recoveryOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		d.log.Error("panic in handler", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	// One entry per call, when it ends (the library's default also logs
	// "started call").
	logger := zapLogger(d.log)
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(logLevel)}
	caller := presentedCaller(d.auth)
	opts = append(opts,
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.ForceServerCodecV2(newUTF8Codec()),
		grpc.ConnectionTimeout(10*time.Second),
		// Reuse goroutines for incoming calls (a call finding every worker
		// busy still gets a goroutine of its own): a fresh goroutine's stack
		// would grow, by copying, through the interceptors and the Redis
		// client on most calls.
		grpc.NumStreamWorkers(streamWorkers),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 15 * time.Minute}),
		grpc.ChainUnaryInterceptor(
			d.metrics.UnaryServerInterceptor(caller),
			requestIDUnary,
			logging.UnaryServerInterceptor(logger, logOpts...),
			d.auth.UnaryServerInterceptor(),
			logCallerUnary,
			rejectInvalidUTF8,
			recovery.UnaryServerInterceptor(recoveryOpt),
		),
		grpc.ChainStreamInterceptor(
			d.metrics.StreamServerInterceptor(caller),
			logging.StreamServerInterceptor(logger, logOpts...),
			d.auth.StreamServerInterceptor(),
			logCallerStream,
			rejectInvalidUTF8Stream,
			recovery.StreamServerInterceptor(recoveryOpt),
		),
	)
	s := grpc.NewServer(opts...)
	notifierv1.RegisterNotifierServiceServer(s, d.svc)
	healthpb.RegisterHealthServer(s, d.health)
	reflection.Register(s)
	return s
}

// presentedCaller names, for the metrics' caller label, the API key a call
// presents: the metrics interceptor runs before authentication (so that
// rejected calls are counted), hence this looks the key up itself. Health,
// reflection and calls without a valid key count as "none"; in open mode
// every API call is "anonymous". A valid key refused for its scope or rate
// is counted under its name. The cost is a second SHA-256 of the key per
// call, a fraction of a microsecond.
func presentedCaller(a *auth.Authenticator) metrics.CallerFunc {
	return func(ctx context.Context) string {
		if m, ok := grpc.Method(ctx); !ok || auth.Exempt(m) {
			return ""
		}
		c, err := a.Authenticate(ctx)
		if err != nil {
			return ""
		}
		return c.Name
	}
}

// streamWorkers is the number of goroutines kept to serve incoming calls.
const streamWorkers = 128

// requestIDUnary puts a request id into the context and the response
// headers: the caller's own (up to 64 printable ASCII characters) or a new
// random one.
func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := ""
	if v := metadata.ValueFromIncomingContext(ctx, requestIDHeader); len(v) > 0 && validRequestID(v[0]) {
		id = v[0]
	}
	if id == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	// requestIDHeader is lower case already: no need for metadata.Pairs.
	_ = grpc.SetHeader(ctx, metadata.MD{requestIDHeader: {id}})
	return handler(logging.InjectLogField(ctx, "request_id", id), req)
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// zapLogger adapts l to go-grpc-middleware's logging interceptor, as in the
// library's zap example; the fields come as key, value pairs. Nothing is
// built when the entry's level is disabled.
func zapLogger(l *zap.Logger) logging.Logger {
	l = l.WithOptions(zap.AddCallerSkip(1))
	return logging.LoggerFunc(func(_ context.Context, lvl logging.Level, msg string, fields ...any) {
		ce := l.Check(zapLevel(lvl), msg)
		if ce == nil {
			return
		}
		f := make([]zap.Field, 0, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			key, _ := fields[i].(string)
			switch v := fields[i+1].(type) {
			case string:
				f = append(f, zap.String(key, v))
			case int:
				f = append(f, zap.Int(key, v))
			case bool:
				f = append(f, zap.Bool(key, v))
			default:
				f = append(f, zap.Any(key, v))
			}
		}
		ce.Write(f...)
	})
}

// zapLevel maps a logging interceptor level to zap's.
func zapLevel(lvl logging.Level) zapcore.Level {
	switch lvl {
	case logging.LevelDebug:
		return zapcore.DebugLevel
	case logging.LevelWarn:
		return zapcore.WarnLevel
	case logging.LevelError:
		return zapcore.ErrorLevel
	default:
		return zapcore.InfoLevel
	}
}

// logCallerUnary adds the authenticated caller's name (the API key's name,
// never the key) to the request log entry of the call. It runs after the
// auth interceptor, inside the logging one, whose fields it updates.
func logCallerUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	addLogCaller(ctx)
	return handler(ctx, req)
}

// logCallerStream is logCallerUnary for streaming calls.
func logCallerStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	addLogCaller(ss.Context())
	return handler(srv, ss)
}

// addLogCaller adds the caller of ctx, if any, to its logging fields. The
// logging interceptor reads them back when the call ends, in the call's
// goroutine, so the update needs no lock.
func addLogCaller(ctx context.Context) {
	if c, ok := auth.CallerFromContext(ctx); ok {
		logging.AddFields(ctx, logging.Fields{"caller", c.Name})
	}
}

// logLevel is the level of the request log entry of a call ending in c:
// error for INTERNAL, UNKNOWN and DATA_LOSS, warn for UNAVAILABLE and
// DEADLINE_EXCEEDED, else info.
func logLevel(c codes.Code) logging.Level {
	switch c {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return logging.LevelError
	case codes.Unavailable, codes.DeadlineExceeded:
		return logging.LevelWarn
	default:
		return logging.LevelInfo
	}
}

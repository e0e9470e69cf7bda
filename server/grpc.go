package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/tgnotify/tgnotify/auth"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/metrics"
)

// maxRecvMsgSize bounds a gRPC request; the largest valid request (a 64 KiB
// text plus ids) is far below it.
const maxRecvMsgSize = 256 << 10

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
// reflection. Interceptors run in this fixed order:
//
//  1. metrics (counts every call, rejected ones too)
//  2. request id (from x-request-id metadata, else generated; echoed back)
//  3. API-key authentication and scopes (health and reflection exempt),
//     then requests with invalid UTF-8 strings are refused (see utf8Codec)
//  4. caller name for metrics
//  5. request log (method, code, duration, caller, request id; no payloads)
//  6. panic recovery (a panic becomes INTERNAL and is logged with its stack)
func newGRPCServer(d grpcDeps, opts ...grpc.ServerOption) *grpc.Server {
	recoveryOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		d.log.Error("panic in handler", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
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
			d.metrics.UnaryServerInterceptor(),
			requestIDUnary,
			d.auth.UnaryServerInterceptor(),
			rejectInvalidUTF8,
			d.metrics.UnaryCallerInterceptor(),
			logUnary(d.log),
			recovery.UnaryServerInterceptor(recoveryOpt),
		),
		grpc.ChainStreamInterceptor(
			d.metrics.StreamServerInterceptor(),
			d.auth.StreamServerInterceptor(),
			d.metrics.StreamCallerInterceptor(),
			recovery.StreamServerInterceptor(recoveryOpt),
		),
	)
	s := grpc.NewServer(opts...)
	notifierv1.RegisterNotifierServiceServer(s, d.svc)
	healthpb.RegisterHealthServer(s, d.health)
	reflection.Register(s)
	return s
}

// streamWorkers is the number of goroutines kept to serve incoming calls.
const streamWorkers = 128

type requestIDKey struct{}

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
	return handler(context.WithValue(ctx, requestIDKey{}, id), req)
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

// logUnary returns the request log interceptor: one "finished call" entry
// per call, at error level for INTERNAL, UNKNOWN and DATA_LOSS, warn for
// UNAVAILABLE and DEADLINE_EXCEEDED, else info. Its fields are those of
// go-grpc-middleware's logging interceptor (FinishCall event): request_id,
// caller, protocol, grpc.component, grpc.service, grpc.method,
// grpc.method_type, peer.address, grpc.start_time, grpc.request.deadline,
// grpc.code, grpc.error, grpc.time_ms. Nothing is built when the entry's
// level is disabled.
func logUnary(l *zap.Logger) grpc.UnaryServerInterceptor {
	core := l.Core()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		code := status.Code(err)
		lvl := logLevel(code)
		if !core.Enabled(lvl) {
			return resp, err
		}
		ce := l.Check(lvl, "finished call")
		if ce == nil {
			return resp, err
		}
		dur := time.Since(start)
		f := make([]zap.Field, 0, 13)
		if id, ok := ctx.Value(requestIDKey{}).(string); ok {
			f = append(f, zap.String("request_id", id))
		}
		if c, ok := auth.CallerFromContext(ctx); ok {
			f = append(f, zap.String("caller", c.Name))
		}
		service, method, _ := strings.Cut(strings.TrimPrefix(info.FullMethod, "/"), "/")
		f = append(f, zap.String("protocol", "grpc"), zap.String("grpc.component", "server"),
			zap.String("grpc.service", service), zap.String("grpc.method", method),
			zap.String("grpc.method_type", "unary"))
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			f = append(f, zap.String("peer.address", p.Addr.String()))
		}
		f = append(f, zap.String("grpc.start_time", start.Format(time.RFC3339)))
		if dl, ok := ctx.Deadline(); ok {
			f = append(f, zap.String("grpc.request.deadline", dl.Format(time.RFC3339)))
		}
		f = append(f, zap.String("grpc.code", code.String()))
		if err != nil {
			f = append(f, zap.String("grpc.error", err.Error()))
		}
		ms := float32(dur.Nanoseconds()/1000) / 1000
		f = append(f, zap.String("grpc.time_ms", strconv.FormatFloat(float64(ms), 'g', -1, 32)))
		ce.Write(f...)
		return resp, err
	}
}

// logLevel is the level of the request log entry of a call ending in c.
func logLevel(c codes.Code) zapcore.Level {
	switch c {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return zapcore.ErrorLevel
	case codes.Unavailable, codes.DeadlineExceeded:
		return zapcore.WarnLevel
	default:
		return zapcore.InfoLevel
	}
}

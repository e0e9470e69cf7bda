package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// maxRecvMsgSize bounds a gRPC request; the largest valid request (a 64 KiB
// text plus ids) is far below it.
const maxRecvMsgSize = 256 << 10

// newGRPCServer builds the gRPC server with the API, grpc.health.v1 and
// server reflection. Interceptors run in this order: logging, then panic
// recovery (a panic becomes INTERNAL and is logged with its stack).
func newGRPCServer(svc notifierv1.NotifierServiceServer, hs *health.Server, log *zap.Logger) *grpc.Server {
	recoveryOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.Error("panic in handler", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(func(c codes.Code) logging.Level {
			switch c {
			case codes.Internal, codes.Unknown, codes.DataLoss:
				return logging.LevelError
			case codes.Unavailable, codes.DeadlineExceeded:
				return logging.LevelWarn
			default:
				return logging.LevelInfo
			}
		}),
	}
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.ConnectionTimeout(10*time.Second),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 15 * time.Minute}),
		grpc.ChainUnaryInterceptor(
			logging.UnaryServerInterceptor(zapLogger(log), logOpts...),
			recovery.UnaryServerInterceptor(recoveryOpt),
		),
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(recoveryOpt),
		),
	)
	notifierv1.RegisterNotifierServiceServer(s, svc)
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	return s
}

// zapLogger adapts zap to go-grpc-middleware's logging interface.
func zapLogger(l *zap.Logger) logging.Logger {
	return logging.LoggerFunc(func(_ context.Context, lvl logging.Level, msg string, fields ...any) {
		f := make([]zap.Field, 0, len(fields)/2)
		for i := 0; i+1 < len(fields); i += 2 {
			f = append(f, zap.Any(fmt.Sprint(fields[i]), fields[i+1]))
		}
		switch lvl {
		case logging.LevelDebug:
			l.Debug(msg, f...)
		case logging.LevelInfo:
			l.Info(msg, f...)
		case logging.LevelWarn:
			l.Warn(msg, f...)
		default:
			l.Error(msg, f...)
		}
	})
}

package metrics

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// callerSlotKey is the context key of the *callerSlot that the outer
// interceptors install.
type callerSlotKey struct{}

// callerSlot carries the caller name from the inner caller interceptor out
// to the outer metrics interceptor.
type callerSlot struct{ name atomic.Pointer[string] }

// UnaryServerInterceptor returns an interceptor that counts unary calls and
// measures their handling time. Put it first in the chain.
func (m *Metrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		slot := &callerSlot{}
		start := time.Now()
		resp, err := handler(context.WithValue(ctx, callerSlotKey{}, slot), req)
		m.observeGRPC(ctx, slot, info.FullMethod, err, time.Since(start))
		return resp, err
	}
}

// StreamServerInterceptor returns an interceptor that counts streaming calls
// and measures their duration. Put it first in the chain.
func (m *Metrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		slot := &callerSlot{}
		start := time.Now()
		ctx := ss.Context()
		err := handler(srv, &serverStream{ServerStream: ss, ctx: context.WithValue(ctx, callerSlotKey{}, slot)})
		m.observeGRPC(ctx, slot, info.FullMethod, err, time.Since(start))
		return err
	}
}

// UnaryCallerInterceptor returns an interceptor that reports the caller,
// named by CallerFunc on its context, to UnaryServerInterceptor. Put it
// after the interceptor that authenticates the caller.
func (m *Metrics) UnaryCallerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m.noteCaller(ctx)
		return handler(ctx, req)
	}
}

// StreamCallerInterceptor returns an interceptor that reports the caller,
// named by CallerFunc on its context, to StreamServerInterceptor. Put it
// after the interceptor that authenticates the caller.
func (m *Metrics) StreamCallerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		m.noteCaller(ss.Context())
		return handler(srv, ss)
	}
}

// noteCaller stores CallerFunc(ctx) in the slot of ctx, if both exist.
func (m *Metrics) noteCaller(ctx context.Context) {
	slot, ok := ctx.Value(callerSlotKey{}).(*callerSlot)
	if !ok || m.CallerFunc == nil {
		return
	}
	if name := m.CallerFunc(ctx); name != "" {
		slot.name.Store(&name)
	}
}

// observeGRPC records one finished call.
func (m *Metrics) observeGRPC(ctx context.Context, slot *callerSlot, fullMethod string, err error, d time.Duration) {
	service, method := splitMethod(fullMethod)
	code := status.Code(err).String()
	caller := ""
	if p := slot.name.Load(); p != nil {
		caller = *p
	} else if m.CallerFunc != nil {
		caller = m.CallerFunc(ctx)
	}
	m.grpcHandled.WithLabelValues(service, method, code, m.callers.value(caller)).Inc()
	m.grpcSeconds.WithLabelValues(service, method, code).Observe(d.Seconds())
}

// splitMethod splits "/package.Service/Method" into service and method.
func splitMethod(fullMethod string) (string, string) {
	s, m, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok {
		return "unknown", "unknown"
	}
	return s, m
}

// serverStream overrides the context of a grpc.ServerStream.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the overriding context.
func (s *serverStream) Context() context.Context { return s.ctx }

package metrics

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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

// grpcKey identifies the series of one call: method, code and caller (as
// reported, before the caller guard).
type grpcKey struct {
	fullMethod string
	code       codes.Code
	caller     string
}

// grpcSeries are the metrics of one grpcKey.
type grpcSeries struct {
	handled prometheus.Counter
	seconds prometheus.Observer
}

// maxGRPCSeries bounds the cache of grpcSeries (methods × codes × callers);
// beyond it, the label lookups are done per call.
const maxGRPCSeries = 4096

// observeGRPC records one finished call.
func (m *Metrics) observeGRPC(ctx context.Context, slot *callerSlot, fullMethod string, err error, d time.Duration) {
	code := status.Code(err)
	caller := ""
	if p := slot.name.Load(); p != nil {
		caller = *p
	} else if m.CallerFunc != nil {
		caller = m.CallerFunc(ctx)
	}
	m.grpcSeriesFor(grpcKey{fullMethod, code, caller}).observe(d)
}

func (s grpcSeries) observe(d time.Duration) {
	s.handled.Inc()
	s.seconds.Observe(d.Seconds())
}

// grpcSeriesFor returns the metrics of k, from the cache when it has them.
// The caller guard admits a caller once and for good (or never), so a
// cached caller label stays right.
func (m *Metrics) grpcSeriesFor(k grpcKey) grpcSeries {
	if v, ok := m.grpcCache.Load(k); ok {
		return v.(grpcSeries)
	}
	service, method := splitMethod(k.fullMethod)
	code := k.code.String()
	s := grpcSeries{
		handled: m.grpcHandled.WithLabelValues(service, method, code, m.callers.value(k.caller)),
		seconds: m.grpcSeconds.WithLabelValues(service, method, code),
	}
	if m.grpcCacheLen.Load() < maxGRPCSeries {
		if _, loaded := m.grpcCache.LoadOrStore(k, s); !loaded {
			m.grpcCacheLen.Add(1)
		}
	}
	return s
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

package metrics

import (
	"context"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// callerLabel is the label of the gRPC series naming the caller.
const callerLabel = "caller"

// CallerFunc names the caller of a gRPC call for the caller label. It runs
// on the incoming context before any other interceptor (metrics come
// first, so that rejected calls are counted too), so it must identify the
// caller from the call itself, such as the API key its metadata presents;
// "" means none. Its names must form a small set (such as API key names);
// past maxCallers distinct names the label reads "other".
type CallerFunc func(ctx context.Context) string

// newGRPCMetrics returns go-grpc-middleware's standard server metrics
// (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_handling_seconds, grpc_server_msg_received_total,
// grpc_server_msg_sent_total), each with the caller label added.
func newGRPCMetrics() *grpcprom.ServerMetrics {
	return grpcprom.NewServerMetrics(
		grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(prometheus.DefBuckets)),
		grpcprom.WithContextLabels(callerLabel),
	)
}

// UnaryServerInterceptor returns the interceptor that counts unary calls
// and measures their handling time, labelled with the caller named by
// caller (nil: "none"). Put it first in the chain.
func (m *Metrics) UnaryServerInterceptor(caller CallerFunc) grpc.UnaryServerInterceptor {
	return m.grpc.UnaryServerInterceptor(grpcprom.WithLabelsFromContext(m.callerLabels(caller)))
}

// StreamServerInterceptor returns the interceptor that counts streaming
// calls and their messages and measures their duration, labelled like
// UnaryServerInterceptor's. Put it first in the chain.
func (m *Metrics) StreamServerInterceptor(caller CallerFunc) grpc.StreamServerInterceptor {
	return m.grpc.StreamServerInterceptor(grpcprom.WithLabelsFromContext(m.callerLabels(caller)))
}

// callerLabels returns the context labels of a call: the caller, bounded by
// the caller guard ("none" when caller is nil or names nobody).
func (m *Metrics) callerLabels(caller CallerFunc) func(ctx context.Context) prometheus.Labels {
	return func(ctx context.Context) prometheus.Labels {
		name := ""
		if caller != nil {
			name = caller(ctx)
		}
		return prometheus.Labels{callerLabel: m.callers.value(name)}
	}
}

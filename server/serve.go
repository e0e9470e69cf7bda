package server

import (
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/tgnotify/tgnotify/auth"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/metrics"
)

// GRPCDeps is what every gRPC server of the service shares.
type GRPCDeps struct {
	// Service is the API ([NewService]).
	Service notifierv1.NotifierServiceServer
	// Health serves grpc.health.v1; the wiring flips it with readiness.
	Health *health.Server
	// Log receives the request log and recovered panics.
	Log *zap.Logger
	// Metrics counts every call.
	Metrics *metrics.Metrics
	// Auth checks API keys and scopes.
	Auth *auth.Authenticator
}

// NewGRPCServer builds a gRPC server with the API, grpc.health.v1, server
// reflection and the interceptors in their fixed order (see newGRPCServer).
// The public listener and the REST gateway's in-memory one each get one,
// from the same deps.
func NewGRPCServer(d GRPCDeps, opts ...grpc.ServerOption) *grpc.Server {
	return newGRPCServer(grpcDeps{svc: d.Service, health: d.Health, log: d.Log, metrics: d.Metrics, auth: d.Auth}, opts...)
}

// Package server is tgnotify's API edge: the notifier.v1 gRPC service
// ([Service]), request validation, the one mapping of errors to gRPC
// status codes (toStatus; REST codes follow through grpc-gateway), the
// gRPC servers with their interceptors ([NewGRPCServer]), the REST
// gateway and the HTTP mux ([NewHTTPHandler]), the Telegram webhook
// endpoint ([NewWebhookHandler]) and TLS for the listeners ([LoadTLS]).
//
// It declares what it needs from the rest of the service ([LinkStore],
// [Deliverer], [Identity]); the wiring (package app) builds it:
//
//	svc := server.NewService(st, dispatcher, identity, cfg.LinkTokenTTL, log)
//	grpcSrv := server.NewGRPCServer(server.GRPCDeps{Service: svc, Health: h, Log: log, Metrics: m, Auth: a})
//	handler, err := server.NewHTTPHandler(ctx, server.HTTPDeps{DialGateway: dial, Metrics: m, Webhook: wh})
package server

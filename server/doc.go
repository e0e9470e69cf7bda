// Package server is tgnotify's API edge: the notifier.v1 gRPC service
// ([Service]), request validation, the one mapping of errors to gRPC
// status codes (toStatus; REST codes follow through grpc-gateway), the
// gRPC servers with their interceptors ([NewGRPCServer]), the REST
// gateway and the HTTP mux ([NewHTTPHandler]), the Telegram webhook
// endpoint ([NewWebhookHandler]) and TLS for the listeners ([LoadTLS]).
// With several bots, [Bots] routes each request by its bot field to that
// bot's own [Service], and [NewBotsWebhook] each bot's webhook path
// (/telegram/webhook/<bot>) to its own handler and secret.
//
// It declares what it needs from the rest of the service ([LinkStore],
// [Deliverer], [Identity], and for Unlink and the event log [Events]:
// events.Reader, [Unlinker], [Replier]); the wiring (package app) builds
// it:
//
//	svc := server.NewService(st, dispatcher, identity, cfg.LinkTokenTTL,
//		server.Events{Log: st, Unlinker: st, Replier: dispatcher}, log)
//	bots := server.NewBots(map[string]*server.Service{"default": svc}, []string{"default"})
//	grpcSrv := server.NewGRPCServer(server.GRPCDeps{Service: bots, Health: h, Log: log, Metrics: m, Auth: a})
//	handler, err := server.NewHTTPHandler(ctx, server.HTTPDeps{DialGateway: dial, Metrics: m, Webhook: wh})
package server

// Package metrics exposes tgnotify's Prometheus metrics.
//
// New builds a Metrics with its own registry (never the global default
// one), holding the Go and process collectors and the service's own
// metrics. The gRPC series are go-grpc-middleware's standard ones
// (providers/prometheus), with a caller label added:
//
//	grpc_server_started_total{grpc_type,grpc_service,grpc_method,caller}
//	grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code,caller}
//	grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method,caller}     histogram
//	grpc_server_msg_received_total, grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method,caller}
//
// The service's own metrics are all prefixed "tgnotify_":
//
//	tgnotify_http_requests_total{route,code}
//	tgnotify_http_request_duration_seconds{route,code}                          histogram
//	tgnotify_telegram_updates_received_total{kind,outcome}
//	tgnotify_links_total
//	tgnotify_unlinks_total{reason}
//	tgnotify_notifications_accepted_total
//	tgnotify_notifications_finished_total{state,reason}
//	tgnotify_notifications_ambiguous_sends_total
//	tgnotify_telegram_api_calls_total{method,code}        code 0: transport error
//	tgnotify_telegram_api_call_duration_seconds{method}   histogram
//	tgnotify_telegram_rate_limited_total
//	tgnotify_telegram_retry_after_seconds                 histogram
//	tgnotify_redis_errors_total{op}
//	tgnotify_delivery_queue_depth                         only after RegisterQueueGauges
//	tgnotify_delivery_queue_oldest_age_seconds            only after RegisterQueueGauges
//	tgnotify_event_webhook_*                              only after RegisterEventWebhook (eventhook.go)
//
// Handler serves them for GET /metrics.
//
// # Cardinality
//
// Every label is bounded: gRPC methods are those registered on the server
// (grpc-go rejects unknown methods before interceptors run), update kinds
// and outcomes and Telegram methods are fixed lists (anything else becomes
// "other"), and free-form labels (caller, reason, state, op, code) keep at
// most a fixed number of distinct values each, after which new values are
// counted as "other". An empty value is recorded as "none". Pass constants,
// never user input, ids or error texts.
//
// # Wiring the gRPC interceptors
//
// Put UnaryServerInterceptor and StreamServerInterceptor first in the
// chain, so that calls rejected by later interceptors (such as API-key
// checks) are counted too. Because they run before authentication, the
// CallerFunc they take names the caller from the call itself, such as the
// API key it presents:
//
//	m := metrics.New()
//	caller := func(ctx context.Context) string {
//		c, err := a.Authenticate(ctx)
//		if err != nil {
//			return ""
//		}
//		return c.Name
//	}
//	grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor(caller), a.UnaryServerInterceptor())
//
// Calls without a valid key are counted with caller "none".
package metrics

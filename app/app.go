// Package app wires tgnotify together and runs it: [New] builds the store
// (Redis or in-memory), the Bot API client (or the sandbox's fake Bot
// API), the delivery dispatcher, update handling, the gRPC and HTTP
// servers and their listeners; [App.Run] serves until its context ends,
// takes the poller lease so that one replica long-polls, keeps readiness
// current and shuts down gracefully.
//
//	cfg, err := config.Load(os.LookupEnv)
//	a, err := app.New(ctx, cfg, log)
//	err = a.Run(ctx)
package app

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tgnotify/tgnotify/auth"
	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/sandbox"
	"github.com/tgnotify/tgnotify/server"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
	"github.com/tgnotify/tgnotify/ui"
	"github.com/tgnotify/tgnotify/updates"
)

// storage is what the wiring itself uses of the store: the poller lease
// and the offset it fences, readiness, and closing. The API, update
// handling and delivery are given the concrete store and declare their
// own needs ([server.LinkStore], [updates.Store]; delivery reads links through its queue).
type storage interface {
	// AcquireLease takes or renews the named lease for holder for ttl.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// PollOffset returns the saved getUpdates offset (0 when none).
	PollOffset(ctx context.Context) (int64, error)
	// SetPollOffsetLeased saves the offset only while holder holds lease.
	SetPollOffsetLeased(ctx context.Context, lease, holder string, offset int64) error
	// Ping reports whether the backing store is reachable.
	Ping(ctx context.Context) error
	// Close releases resources.
	Close() error
}

// allowedUpdates are the update kinds the service handles; Telegram sends
// no others.
var allowedUpdates = []string{"message", "my_chat_member", "callback_query"}

// App is the whole running service: one stack per bot (store, Bot API
// client, dispatcher, update intake, API service; bots.go), the API routed
// between them, the gRPC server and the HTTP server.
type App struct {
	cfg     config.Config
	log     *zap.Logger
	bots    []*botStack
	sandbox *fakebot.Server // the sandbox's fake Bot API (every fake bot's); nil with real bots
	svc     *server.Bots
	health  *health.Server
	metrics *metrics.Metrics
	auth    *auth.Authenticator
	// sessions mints and verifies browser session tokens.
	sessions *auth.Sessions

	grpcLn, httpLn net.Listener
	gwLn           *bufconn.Listener
	grpcSrv        *grpc.Server
	gwSrv          *grpc.Server
	httpSrv        *http.Server
	httpTLS        bool
	// webhookLn and webhookSrv serve the webhook on its own listener
	// (NOTIFIER_WEBHOOK_ADDR); nil when it is on the HTTP listener.
	webhookLn  net.Listener
	webhookSrv *http.Server

	draining atomic.Bool

	// hookMetrics are the event webhook's metrics, shared by the bots'
	// pushers (registered once).
	hookMetricsOnce sync.Once
	hookMetrics     *metrics.EventWebhook
}

// New wires the service from cfg: it opens the store, builds one stack per
// bot (bots.go; the sandbox's fake Bot API for bots without a token), and
// binds the listeners (so the addresses are known before Run).
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, metrics: metrics.New()}
	// The effective configuration, once, with its secrets masked.
	log.Info("configuration", zap.Object("config", cfg))
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	if err := a.openAuth(ctx); err != nil {
		return nil, err
	}
	rc, err := a.openRedis(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.newBots(rc); err != nil {
		if rc != nil {
			_ = rc.Close() // a bot that failed half-built holds no store of its own
		}
		return nil, err
	}
	services := map[string]*server.Service{}
	var order []string
	for _, s := range a.bots {
		services[s.cfg.ID] = s.svc
		order = append(order, s.cfg.ID)
	}
	a.svc = server.NewBots(services, order)
	(&backlogGauges{bots: a.bots}).register(a.metrics)
	if err := a.listen(); err != nil {
		return nil, err
	}
	if err := a.newServers(ctx, a.svc); err != nil {
		return nil, err
	}
	return a, nil
}

// openAuth loads the API keys (reloaded on SIGHUP) and names callers in
// the metrics.
func (a *App) openAuth(ctx context.Context) error {
	cfg, log := a.cfg, a.log
	var keys *auth.KeySet
	var err error
	if cfg.APIKeysFile != "" {
		if keys, err = auth.LoadFile(cfg.APIKeysFile); err != nil {
			return fmt.Errorf("NOTIFIER_API_KEYS_FILE: %w", err)
		}
	}
	a.auth = auth.New(keys, log.Named("auth"))
	if cfg.SessionSecret != "" {
		if a.sessions, err = auth.NewSessions([]byte(cfg.SessionSecret)); err != nil {
			return fmt.Errorf("NOTIFIER_SESSION_SECRET: %w", err)
		}
	} else {
		// Config refuses keys without a secret: the API is open here, so
		// tokens are not checked and a secret of this process will do.
		if a.sessions, err = auth.RandomSessions(); err != nil {
			return err
		}
		log.Info("NOTIFIER_SESSION_SECRET is not set: browser sessions are signed with a random secret of this process (the API is open, so they are not checked)")
	}
	a.auth.UseSessions(a.sessions)
	if cfg.APIKeysFile != "" {
		auth.WatchSIGHUP(ctx, cfg.APIKeysFile, a.auth, log.Named("auth"))
	}
	return nil
}

// consumers is the store as each of its consumers declares it.
type consumers struct {
	api     server.LinkStore
	updates updates.Store
	// The event log: read by the API, appended to by update handling
	// (forwarded texts), and the application's unlink.
	events    events.Reader
	appender  events.Appender
	unlinker  server.Unlinker
	chatUsers updates.ChatUsers
	// The event webhook's lease, cursor and log (eventhook.go).
	evhook eventWebhookStore
	// Broadcasts (broadcast.go).
	broadcasts broadcastStore
}

// eventStore is the store as the event log's consumers need it.
type eventStore interface {
	server.LinkStore
	updates.Store
	events.Reader
	events.Appender
	server.Unlinker
	updates.ChatUsers
	webhook.Store
	SetEventOptions(o store.EventOptions)
}

var (
	_ eventStore = (*store.Redis)(nil)
	_ eventStore = (*store.Memory)(nil)
)

// eventConsumers bounds st's event log by cfg and returns st as each
// consumer declares it.
func eventConsumers(st eventStore, cfg config.EventsConfig) consumers {
	st.SetEventOptions(store.EventOptions{MaxLen: cfg.MaxEvents, Retention: cfg.Retention})
	return consumers{api: st, updates: st, events: st, appender: st, unlinker: st, chatUsers: st, evhook: st}
}

// openRedis opens the Redis of REDIS_URL, shared by every bot's store;
// nil without REDIS_URL (each bot gets an in-memory store).
func (a *App) openRedis(ctx context.Context) (redis.UniversalClient, error) {
	if a.cfg.RedisURL == "" {
		a.log.Warn("REDIS_URL is not set: using the in-memory store; links, tokens and queued messages do not survive a restart")
		return nil, nil
	}
	rc, err := store.OpenRedis(ctx, a.cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("open redis: %w", err)
	}
	rc.AddHook(a.metrics.RedisHook())
	a.log.Info("using redis store", zap.Int("bots", len(effectiveBots(a.cfg))))
	return rc, nil
}

// listen binds the gRPC, HTTP and (when set) webhook listeners.
func (a *App) listen() (err error) {
	cfg := a.cfg
	if a.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen NOTIFIER_GRPC_ADDR %s: %w", cfg.GRPCAddr, err)
	}
	if a.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fmt.Errorf("listen NOTIFIER_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	if cfg.WebhookAddr != "" {
		if a.webhookLn, err = net.Listen("tcp", cfg.WebhookAddr); err != nil {
			return fmt.Errorf("listen NOTIFIER_WEBHOOK_ADDR %s: %w", cfg.WebhookAddr, err)
		}
	}
	return nil
}

// newServers builds the gRPC servers (public, and the gateway's in-memory
// one) and the HTTP servers (API, and the webhook's own when set).
func (a *App) newServers(ctx context.Context, svc *server.Bots) error {
	cfg, log := a.cfg, a.log
	a.health = health.NewServer()
	a.setServing(false)
	deps := server.GRPCDeps{Service: svc, Health: a.health, Log: log.Named("grpc"), Metrics: a.metrics, Auth: a.auth}
	tlsCfg, grpcCreds, err := server.LoadTLS(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.GRPCClientCAFile)
	if err != nil {
		return err
	}
	var grpcOpts []grpc.ServerOption
	if grpcCreds != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(grpcCreds))
	}
	a.grpcSrv = server.NewGRPCServer(deps, grpcOpts...)
	// The REST gateway reaches the same service, through the same
	// interceptors, over an in-memory connection: it needs neither the
	// public listener's TLS nor a client certificate.
	a.gwLn = bufconn.Listen(1 << 20)
	a.gwSrv = server.NewGRPCServer(deps)

	hooks := map[string]http.Handler{}
	for _, s := range a.bots {
		hooks[s.cfg.ID] = server.NewWebhookHandler(s.cfg.WebhookSecret, s.updates, s.log.Named("webhook"))
	}
	webhook := server.NewBotsWebhook(hooks)
	httpDeps := server.HTTPDeps{
		DialGateway: a.gwLn.DialContext,
		Metrics:     a.metrics,
		CORSOrigins: cfg.CORSOrigins,
		Ready:       a.ready,
	}
	if cfg.WebhookAddr == "" {
		httpDeps.Webhook = webhook
	}
	if a.sandbox != nil {
		fakes := map[string]*fakebot.Server{}
		for _, s := range a.bots {
			fakes[s.cfg.ID] = s.fake
		}
		sb := sandbox.NewBots(fakes)
		httpDeps.Mount = func(mux *http.ServeMux) {
			sb.Mount(mux)
			ui.MountDemo(mux) // the demo drives the sandbox: never with a real bot
		}
	}
	handler, err := server.NewHTTPHandler(ctx, httpDeps)
	if err != nil {
		return err
	}
	a.httpSrv = server.NewHTTPServer(handler, tlsCfg, log.Named("http"))
	a.httpTLS = tlsCfg != nil
	if a.webhookLn != nil {
		// The webhook listener serves the same certificate as the others
		// (TLS is on for every listener or for none; a TLS-terminating
		// proxy in front of a plaintext one is the usual shape). It gets
		// its own copy: net/http adds HTTP/2 to NextProtos in place.
		a.webhookSrv = server.NewHTTPServer(server.NewWebhookListenerHandler(a.metrics, webhook), tlsCfg.Clone(), log.Named("webhook_http"))
		if !a.anyWebhook() {
			log.Warn("NOTIFIER_WEBHOOK_ADDR is set but TELEGRAM_WEBHOOK_URL is not: updates arrive by long polling and the webhook listener receives nothing")
		}
	}
	return nil
}

// serveHTTP serves srv on ln, with TLS when the listeners have it.
func (a *App) serveHTTP(name string, srv *http.Server, ln net.Listener) error {
	if a.httpTLS {
		return serveErr(name, srv.ServeTLS(ln, "", ""))
	}
	return serveErr(name, srv.Serve(ln))
}

// GRPCAddr is the bound gRPC address.
func (a *App) GRPCAddr() string { return a.grpcLn.Addr().String() }

// HTTPAddr is the bound HTTP address.
func (a *App) HTTPAddr() string { return a.httpLn.Addr().String() }

// WebhookAddr is the bound address of the webhook's own listener, or ""
// when the webhook is served on the HTTP listener.
func (a *App) WebhookAddr() string {
	if a.webhookLn == nil {
		return ""
	}
	return a.webhookLn.Addr().String()
}

// Sandbox returns the in-process fake Bot API, or nil with a real bot.
// It is the first bot's; [App.SandboxBot] returns any bot's.
func (a *App) Sandbox() *fakebot.Server { return a.sandbox }

// SandboxBot returns the fake Bot API bot of the bot id, nil when there
// is none (no such bot, or a real one).
func (a *App) SandboxBot(id string) *fakebot.Server {
	for _, s := range a.bots {
		if s.cfg.ID == id {
			return s.fake
		}
	}
	return nil
}

// anyWebhook reports whether some bot receives its updates by webhook.
func (a *App) anyWebhook() bool {
	for _, s := range a.bots {
		if s.cfg.Webhook() {
			return true
		}
	}
	return false
}

// Run serves until ctx ends, then shuts down gracefully within
// cfg.ShutdownTimeout: readiness turns NOT_SERVING first, update intake
// stops, in-flight requests finish.
func (a *App) Run(ctx context.Context) error {
	defer a.closeAll()
	errc := make(chan error, 4)
	go func() { errc <- serveErr("grpc", a.grpcSrv.Serve(a.grpcLn)) }()
	go func() { errc <- serveErr("gateway grpc", a.gwSrv.Serve(a.gwLn)) }()
	go func() { errc <- a.serveHTTP("http", a.httpSrv, a.httpLn) }()
	if a.webhookSrv != nil {
		go func() { errc <- a.serveHTTP("webhook http", a.webhookSrv, a.webhookLn) }()
	}
	a.log.Info("serving", zap.String("grpc_addr", a.GRPCAddr()), zap.String("http_addr", a.HTTPAddr()),
		zap.String("webhook_addr", a.WebhookAddr()),
		zap.Bool("tls", a.httpTLS), zap.Bool("api_keys", !a.auth.Open()),
		zap.Int("bots", len(a.bots)), zap.Bool("webhook", a.anyWebhook()), zap.Bool("redis", a.cfg.RedisURL != ""))

	intakeCtx, stopIntake := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range a.bots {
		a.runBot(intakeCtx, s, &wg)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.watchReadiness(intakeCtx)
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info("shutting down", zap.Duration("timeout", a.cfg.ShutdownTimeout))
	a.draining.Store(true)
	a.setServing(false)
	stopIntake()
	// WatchEvents streams never end by themselves: end them (clients
	// reconnect elsewhere with their cursor) so that the servers can stop.
	a.svc.EndStreams()

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := a.httpSrv.Shutdown(sctx); err != nil {
		a.log.Warn("http shutdown", zap.Error(err))
	}
	if a.webhookSrv != nil {
		if err := a.webhookSrv.Shutdown(sctx); err != nil {
			a.log.Warn("webhook http shutdown", zap.Error(err))
		}
	}
	stopped := make(chan struct{})
	go func() { a.grpcSrv.GracefulStop(); a.gwSrv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		a.grpcSrv.Stop()
		a.gwSrv.Stop()
	}
	wg.Wait()
	a.log.Info("stopped")
	return runErr
}

func serveErr(name string, err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return fmt.Errorf("%s server: %w", name, err)
}

// newHolderID returns a random id naming this replica as a holder of the
// poller lease.
func newHolderID() (string, error) {
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		return "", fmt.Errorf("random lease holder id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// leasedOffsets saves the polling offset under the poller lease.
type leasedOffsets struct {
	st     storage
	holder string
}

func (o leasedOffsets) PollOffset(ctx context.Context) (int64, error) { return o.st.PollOffset(ctx) }

func (o leasedOffsets) SetPollOffset(ctx context.Context, offset int64) error {
	return o.st.SetPollOffsetLeased(ctx, pollLeaseName, o.holder, offset)
}

// readinessInterval is how often gRPC health follows readiness.
const readinessInterval = time.Second

// watchReadiness keeps grpc.health.v1 in step with /readyz: NOT_SERVING
// while the store is unreachable, SERVING again when it answers.
func (a *App) watchReadiness(ctx context.Context) {
	t := time.NewTicker(readinessInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.setServing(a.ready(ctx) == nil)
		}
	}
}

// setServing flips gRPC health for the whole server and the API service.
func (a *App) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok && !a.draining.Load() {
		st = healthpb.HealthCheckResponse_SERVING
	}
	a.health.SetServingStatus("", st)
	a.health.SetServingStatus("notifier.v1.NotifierService", st)
}

// ready reports whether the service can do its job: not draining, Telegram
// accepts every bot's token (no 401/404 on setup, polling or sends), the store
// answers and the bot is known.
func (a *App) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errors.New("draining")
	}
	for _, s := range a.bots {
		if err := s.telegramAuthErr(); err != nil {
			return a.botErr(s, err)
		}
		if !s.telegramReady.Load() {
			return a.botErr(s, errors.New("telegram bot not set up yet"))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	// The bots' Redis stores share one client: one ping answers for all.
	if err := a.bots[0].store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// botErr names the bot in a readiness reason when there are several.
func (a *App) botErr(s *botStack, err error) error {
	if len(a.bots) == 1 {
		return err
	}
	return fmt.Errorf("bot %q: %w", s.cfg.ID, err)
}

func (a *App) closeAll() {
	for _, ln := range []net.Listener{a.grpcLn, a.httpLn, a.webhookLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if a.gwLn != nil {
		_ = a.gwLn.Close()
	}
	for _, s := range a.bots {
		_ = s.store.Close() // the shared Redis client closes with the first
	}
	if a.sandbox != nil {
		a.sandbox.Close()
	}
}

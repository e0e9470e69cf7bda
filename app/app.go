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

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/tgnotify/tgnotify/auth"
	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/lease"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/retry"
	"github.com/tgnotify/tgnotify/sandbox"
	"github.com/tgnotify/tgnotify/server"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
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
var allowedUpdates = []string{"message", "my_chat_member"}

// App is the whole running service: store, Bot API client, update intake
// (webhook or poller), the gRPC server and the HTTP server.
type App struct {
	cfg     config.Config
	log     *zap.Logger
	store   storage
	queue   delivery.Queue
	disp    *delivery.Dispatcher
	client  *telegram.Client
	sandbox *fakebot.Server
	bot     *telegram.BotIdentity
	updates *updates.Handler
	svc     *server.Service
	health  *health.Server
	metrics *metrics.Metrics
	auth    *auth.Authenticator

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

	telegramReady atomic.Bool
	draining      atomic.Bool
	tgAuth        telegramAuth // 401/404 from Telegram (telegramauth.go)

	// bcRunner expands the running broadcasts (broadcast.go).
	bcRunner *broadcast.Runner

	// runEventWebhook starts the event webhook's pusher (eventhook.go).
	runEventWebhook func(context.Context, *sync.WaitGroup)
}

// New wires the service from cfg: it opens the store, starts the sandbox
// Bot API when there is no bot token, and binds both listeners (so the
// addresses are known before Run).
func New(ctx context.Context, cfg config.Config, log *zap.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, bot: &telegram.BotIdentity{}, metrics: metrics.New()}
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
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	a.newClient()

	a.disp = delivery.New(cfg.Delivery, a.queue, a.client, log.Named("delivery"))
	a.disp.SetObserver(deliveryMetrics{a.metrics})
	// Welcome and /stop replies are queued like notifications: they share
	// Telegram's budget, the chats' pacing, retries and 429 pauses.
	a.updates = updates.New(st.updates, a.disp, cfg.WelcomeMessage, a.metrics, log.Named("bot"))
	a.updates.SetIdentity(a.bot)
	if cfg.Events.ForwardMessages {
		a.updates.SetForwarding(st.appender, st.chatUsers)
	}
	(&backlogGauges{d: a.disp}).register(a.metrics)
	a.svc = server.NewService(st.api, a.disp, a.bot, cfg.LinkTokenTTL,
		server.Events{Log: st.events, Unlinker: st.unlinker, Replier: a.disp, Heartbeat: cfg.Events.Heartbeat}, log.Named("api"))
	a.newBroadcasts(st.broadcasts) // broadcast.go
	svc := a.svc

	if a.runEventWebhook, err = a.newEventWebhook(st.evhook); err != nil {
		return nil, err
	}
	if err := a.listen(); err != nil {
		return nil, err
	}
	if err := a.newServers(ctx, svc); err != nil {
		return nil, err
	}
	return a, nil
}

// openAuth loads the API keys (reloaded on SIGHUP) and names callers in
// the metrics.
func (a *App) openAuth(ctx context.Context) error {
	cfg, log := a.cfg, a.log
	var keys *auth.KeySet
	if cfg.APIKeysFile != "" {
		var err error
		if keys, err = auth.LoadFile(cfg.APIKeysFile); err != nil {
			return fmt.Errorf("NOTIFIER_API_KEYS_FILE: %w", err)
		}
	}
	a.auth = auth.New(keys, log.Named("auth"))
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

// openStore opens Redis, or the in-memory store without REDIS_URL, and
// returns it as each consumer's interface; the wiring keeps its own.
func (a *App) openStore(ctx context.Context) (consumers, error) {
	cfg, log := a.cfg, a.log
	if cfg.RedisURL == "" {
		log.Warn("REDIS_URL is not set: using the in-memory store; links, tokens and queued messages do not survive a restart")
		mem := store.NewMemory()
		a.store, a.queue = mem, mem.Queue()
		c := eventConsumers(mem, cfg.Events)
		c.broadcasts = mem.Queue()
		return c, nil
	}
	rc, err := store.OpenRedis(ctx, cfg.RedisURL)
	if err != nil {
		return consumers{}, fmt.Errorf("open redis: %w", err)
	}
	rc.AddHook(a.metrics.RedisHook())
	rs := store.NewRedis(rc, store.KeyPrefix(cfg.RedisURL))
	rs.SetWaitReplicas(cfg.RedisWaitReplicas, cfg.RedisWaitTimeout)
	q := rs.Queue()
	a.store, a.queue = rs, q
	log.Info("using redis store")
	c := eventConsumers(rs, cfg.Events)
	c.broadcasts = q
	return c, nil
}

// newClient builds the Bot API client, against the sandbox's fake Bot API
// when there is no bot token.
func (a *App) newClient() {
	cfg, log := a.cfg, a.log
	apiURL, token := cfg.APIURL, cfg.BotToken
	if cfg.Sandbox() {
		a.sandbox = fakebot.NewServer()
		apiURL, token = a.sandbox.URL(), a.sandbox.Token()
		log.Warn("TELEGRAM_BOT_TOKEN is not set: SANDBOX MODE with an in-process fake Bot API; play the user with POST /sandbox/start",
			zap.String("fake_bot_api", apiURL), zap.String("bot_username", a.sandbox.BotUsername()))
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = max(100, cfg.Delivery.Workers)
	a.client = telegram.NewClient(apiURL, token,
		telegram.WithRequestTimeout(cfg.SendTimeout),
		telegram.WithHTTPClient(&http.Client{Transport: a.metrics.TelegramTransport(transport)}))
	if cfg.BotUsername != "" {
		a.bot.Set(cfg.BotUsername)
	}
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
func (a *App) newServers(ctx context.Context, svc *server.Service) error {
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

	webhook := server.NewWebhookHandler(cfg.WebhookSecret, a.updates, log.Named("webhook"))
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
		httpDeps.Mount = sandbox.New(a.sandbox).Mount
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
		if !cfg.Webhook() {
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
func (a *App) Sandbox() *fakebot.Server { return a.sandbox }

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
		zap.Bool("webhook", a.cfg.Webhook()), zap.Bool("redis", a.cfg.RedisURL != ""))

	intakeCtx, stopIntake := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := a.disp.Run(intakeCtx); err != nil {
			a.log.Error("delivery stopped", zap.Error(err))
		}
	}()
	go func() {
		defer wg.Done()
		a.runTelegram(intakeCtx)
	}()
	go func() {
		defer wg.Done()
		a.watchReadiness(intakeCtx)
	}()
	a.runEventWebhook(intakeCtx, &wg)
	wg.Go(func() { _ = a.bcRunner.Run(intakeCtx) })

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

// runTelegram learns the bot's identity, configures update delivery
// (setWebhook, or deleteWebhook then long polling) and keeps at it with
// backoff while Telegram is unreachable.
func (a *App) runTelegram(ctx context.Context) {
	bo := retry.New(500*time.Millisecond, 30*time.Second)
	for ctx.Err() == nil {
		err := a.initTelegram(ctx)
		if err == nil {
			break
		}
		wait := bo.Next()
		switch {
		case telegram.IsAuthFailure(err):
			a.metrics.TelegramAuthFailure(telegramMethod(err))
			if noteAuth(&a.tgAuth.setup, err) {
				a.log.Error(telegramAuthProblem(err)+"; not ready, retrying", zap.Error(err), zap.Duration("backoff", wait))
			} else {
				a.log.Warn("telegram setup: still rejected; retrying", zap.Error(err), zap.Duration("backoff", wait))
			}
		default:
			a.log.Warn("telegram setup failed; retrying", zap.Error(err), zap.Duration("backoff", wait))
		}
		if !retry.Sleep(ctx, wait) {
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	if noteAuth(&a.tgAuth.setup, nil) {
		a.log.Info("Telegram accepts TELEGRAM_BOT_TOKEN again")
	}
	a.telegramReady.Store(true)
	a.setServing(a.ready(ctx) == nil)
	if a.cfg.Webhook() {
		return
	}
	a.pollWithLease(ctx)
}

// Polling lease: exactly one replica polls at a time.
const (
	pollLeaseName  = "poller"
	pollLeaseTTL   = 10 * time.Second
	pollLeaseRenew = 3 * time.Second
)

// pollWithLease long-polls only while this replica holds the poller lease
// in the store. It renews the lease; when renewal fails the poller stops,
// and the offset is written under a fencing check, so a replica that lost
// the lease can neither skip nor replay updates. Another replica takes over
// within pollLeaseTTL of the holder's death.
func (a *App) pollWithLease(ctx context.Context) {
	holder, err := newHolderID()
	if err != nil {
		a.log.Error("poller lease holder id", zap.Error(err))
		return
	}
	log := a.log.Named("poller")
	for ctx.Err() == nil {
		got, err := a.store.AcquireLease(ctx, pollLeaseName, holder, pollLeaseTTL)
		if err != nil || !got {
			if err != nil {
				log.Warn("poller lease", zap.Error(err))
			}
			if !retry.Sleep(ctx, time.Second) {
				return
			}
			continue
		}
		log.Info("holding the poller lease; polling")
		pctx, cancel := context.WithCancel(ctx)
		go lease.Keep(pctx, cancel, lease.Spec{Store: a.store, Name: pollLeaseName, Holder: holder,
			TTL: pollLeaseTTL, Renew: pollLeaseRenew, What: "poller"}, a.log)
		offsets := leasedOffsets{st: a.store, holder: holder}
		p := telegram.NewPoller(a.client, offsets, a.updates, log, telegram.WithAllowedUpdates(allowedUpdates...),
			telegram.WithAuthReport(func(err error) {
				if err != nil {
					a.metrics.TelegramAuthFailure("getUpdates")
				}
				noteAuth(&a.tgAuth.poll, err) // the poller logs the transitions
			}))
		err = p.Run(pctx)
		cancel()
		a.tgAuth.poll.Store(nil) // only a running poller knows
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = a.store.ReleaseLease(rctx, pollLeaseName, holder)
		rcancel()
		if err != nil {
			log.Error("poller stopped", zap.Error(err))
			return
		}
	}
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

func (a *App) initTelegram(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.SendTimeout)
	defer cancel()
	if _, ok := a.bot.Username(); !ok {
		me, err := a.client.GetMe(ctx)
		if err != nil {
			return fmt.Errorf("getMe: %w", err)
		}
		a.bot.Set(me.Username)
		a.log.Info("bot identified", zap.String("bot_username", me.Username))
	}
	if a.cfg.Webhook() {
		err := a.client.SetWebhook(ctx, telegram.SetWebhookParams{
			URL:                a.cfg.WebhookURL,
			SecretToken:        a.cfg.WebhookSecret,
			AllowedUpdates:     allowedUpdates,
			MaxConnections:     a.cfg.WebhookMaxConnections,
			DropPendingUpdates: a.cfg.WebhookDropPending,
		})
		if err != nil {
			return fmt.Errorf("setWebhook: %w", err)
		}
		a.log.Info("webhook set", zap.String("url", a.cfg.WebhookURL))
		if info, err := a.client.GetWebhookInfo(ctx); err == nil && (info.LastErrorMessage != "" || info.PendingUpdateCount > 0) {
			a.log.Warn("telegram reports webhook trouble or backlog",
				zap.String("last_error_message", info.LastErrorMessage), zap.Int("pending_update_count", info.PendingUpdateCount))
		}
		return nil
	}
	if err := a.client.DeleteWebhook(ctx, false); err != nil {
		return fmt.Errorf("deleteWebhook before polling: %w", err)
	}
	a.log.Info("long polling for updates (no TELEGRAM_WEBHOOK_URL)")
	return nil
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
// accepts the bot token (no 401/404 on setup, polling or sends), the store
// answers and the bot is known.
func (a *App) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errors.New("draining")
	}
	if err := a.telegramAuthErr(); err != nil {
		return err
	}
	if !a.telegramReady.Load() {
		return errors.New("telegram bot not set up yet")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
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
	if a.store != nil {
		_ = a.store.Close()
	}
	if a.sandbox != nil {
		a.sandbox.Close()
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tgnotify/tgnotify/app"
	"github.com/tgnotify/tgnotify/config"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// Bounds of the in-process service.
const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
	callTimeout  = 10 * time.Second
	linkTimeout  = 30 * time.Second
)

// serviceOptions configure one in-process service.
type serviceOptions struct {
	Redis redisOptions
	// Env overrides the benchmark's default environment (see startService).
	Env map[string]string
	// Tweak, if set, adjusts the loaded configuration before NewApp, for
	// settings the environment cannot express.
	Tweak func(*config.Config)
	// Shared, if set, is a running service whose redis-server and fake Bot
	// API this one uses (another replica); Close leaves them to Shared.
	Shared *service
}

// service is tgnotify running in this process: its own redis-server, a
// fake Bot API on loopback, app.App on 127.0.0.1:0, and a gRPC client.
type service struct {
	redis  *redistest.Server
	probe  *redis.Client // one connection to redis, for INFO readings
	fake   *fakebot.Server
	app    *app.App
	cfg    config.Config
	conn   *grpc.ClientConn
	client notifierv1.NotifierServiceClient

	cancel context.CancelFunc
	done   chan error
	// replica is set when redis and fake belong to another service.
	replica bool
}

// startService starts redis-server, the fake Bot API and the service with
// this environment (overridden by o.Env): REDIS_URL of the new server,
// TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL of the fake, NOTIFIER_GRPC_ADDR
// and NOTIFIER_HTTP_ADDR 127.0.0.1:0, NOTIFIER_LOG_LEVEL error,
// NOTIFIER_SHUTDOWN_TIMEOUT 5s. It returns once gRPC health says SERVING.
func startService(ctx context.Context, o serviceOptions) (_ *service, err error) {
	s := &service{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if o.Shared != nil {
		s.redis, s.probe, s.fake, s.replica = o.Shared.redis, o.Shared.probe, o.Shared.fake, true
	} else {
		if s.redis, err = startRedis(ctx, o.Redis); err != nil {
			return nil, err
		}
		s.probe = redisClient(s.redis, 1)
		s.fake = fakebot.NewServer()
	}
	env := map[string]string{
		"REDIS_URL":                 s.redis.URL(),
		"TELEGRAM_BOT_TOKEN":        s.fake.Token(),
		"TELEGRAM_API_URL":          s.fake.URL(),
		"NOTIFIER_ALLOW_OPEN_API":   "true",
		"NOTIFIER_GRPC_ADDR":        "127.0.0.1:0",
		"NOTIFIER_HTTP_ADDR":        "127.0.0.1:0",
		"NOTIFIER_LOG_LEVEL":        "error",
		"NOTIFIER_SHUTDOWN_TIMEOUT": "5s",
	}
	for k, v := range o.Env {
		env[k] = v
	}
	if s.cfg, err = config.Load(config.MapLookup(env)); err != nil {
		return nil, err
	}
	if o.Tweak != nil {
		o.Tweak(&s.cfg)
	}
	log, err := newLogger(s.cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if s.app, err = app.New(runCtx, s.cfg, log); err != nil {
		return nil, fmt.Errorf("app.New: %w", err)
	}
	if err := loopbackOnly(s.app.GRPCAddr()); err != nil {
		return nil, err
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.app.Run(runCtx) }()
	if s.conn, err = dial(s.app.GRPCAddr()); err != nil {
		return nil, err
	}
	s.client = notifierv1.NewNotifierServiceClient(s.conn)
	health := healthpb.NewHealthClient(s.conn)
	err = poll.Until(ctx, readyTimeout, "service SERVING", func() (bool, error) {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		defer ccancel()
		r, err := health.Check(cctx, &healthpb.HealthCheckRequest{})
		return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING, nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops the service (bounded by stopTimeout), the fake and
// redis-server. It is safe on a partly started service.
func (s *service) Close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.done != nil {
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
		}
	}
	if s.replica {
		return
	}
	if s.fake != nil {
		s.fake.Close()
	}
	if s.probe != nil {
		_ = s.probe.Close()
	}
	if s.redis != nil {
		_ = s.redis.Close()
	}
}

// sends is the number of sendMessage calls the fake has had.
func (s *service) sends() int { return s.fake.Calls("sendMessage") }

// linkFast links users straight through the store on the service's
// redis-server, conc at a time, as the memory scenario does (PutLinkToken
// + ConsumeLinkToken, the calls a real link makes, without the Bot API
// round trip and the welcome message). So that the fake knows each
// user's private chat (it refuses to write to unknown chats), every user
// first "unblocks" the bot: a my_chat_member update (kicked -> member)
// the service reads and ignores; linkFast waits until it has read them
// all.
func (s *service) linkFast(ctx context.Context, users []benchUser, conc int) error {
	for _, u := range users {
		s.fake.Unblock(u.Chat)
	}
	st := store.NewRedis(redisClient(s.redis, conc), store.KeyPrefix(s.redis.URL()))
	err := linkDirect(ctx, st, users, conc)
	_ = st.Close()
	if err != nil {
		return err
	}
	tc := s.fake.Client()
	return poll.Until(ctx, linkTimeout, "the service to read the my_chat_member updates", func() (bool, error) {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		wi, err := tc.GetWebhookInfo(cctx)
		return err == nil && wi.PendingUpdateCount == 0, nil
	})
}

// startLinked starts a service as o says with n bench users linked, 32 at
// a time, and reports how long that took on w as "<label>: linked ...".
// Users are linked through the store (linkFast), or the real way
// (linkUsers) when viaStart is set. On failure nothing is left running.
func startLinked(ctx context.Context, o serviceOptions, label string, n int, viaStart bool, w io.Writer) (*service, []benchUser, error) {
	svc, err := startService(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	users, link, how := makeUsers(n), svc.linkFast, " through the store"
	if viaStart {
		link, how = svc.linkUsers, ""
	}
	t0 := time.Now()
	if err := link(ctx, users, 32); err != nil {
		svc.Close()
		return nil, nil, fmt.Errorf("link users: %w", err)
	}
	fmt.Fprintf(w, "%s: linked %d users%s in %.1f s\n", label, len(users), how, time.Since(t0).Seconds())
	return svc, users, nil
}

// newLogger logs the service's messages at level and above to stderr.
func newLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("NOTIFIER_LOG_LEVEL: %w", err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.DisableStacktrace = true
	zc.Sampling = nil
	return zc.Build()
}

// loopbackOnly refuses addresses that are not on a loopback interface: the
// tool sends traffic to 127.0.0.1 only.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing non-loopback address %s", addr)
	}
	return nil
}

// dial opens a plaintext gRPC client connection to a loopback address.
func dial(addr string) (*grpc.ClientConn, error) {
	if err := loopbackOnly(addr); err != nil {
		return nil, err
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// benchUser is one application user linked to its own private chat.
type benchUser struct {
	ID       string
	Chat     int64
	Username string
}

// makeUsers returns n users with realistic sizes: 17-character ids,
// 10-digit chat ids (as Telegram's current user ids) and 17-character
// usernames.
func makeUsers(n int) []benchUser {
	users := make([]benchUser, n)
	for i := range users {
		users[i] = benchUser{
			ID:       fmt.Sprintf("bench-user-%06d", i),
			Chat:     5_000_000_000 + int64(i),
			Username: fmt.Sprintf("bench_user_%06d", i),
		}
	}
	return users
}

// linkUsers links every user the way a real one is linked, conc at a
// time: CreateLinkToken over gRPC, the user presses Start in the fake
// (delivered to the service by long polling), then GetStatus is polled
// until the user is linked to the right chat.
func (s *service) linkUsers(ctx context.Context, users []benchUser, conc int) error {
	return forEach(ctx, len(users), conc, func(ctx context.Context, i int) error { return s.linkOne(ctx, users[i]) })
}

func (s *service) linkOne(ctx context.Context, u benchUser) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	resp, err := s.client.CreateLinkToken(cctx, &notifierv1.CreateLinkTokenRequest{UserId: u.ID})
	cancel()
	if err != nil {
		return fmt.Errorf("CreateLinkToken(%s): %w", u.ID, err)
	}
	s.fake.Start(u.Chat, u.Username, resp.GetToken())
	return poll.Until(ctx, linkTimeout, "link of "+u.ID, func() (bool, error) {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		st, err := s.client.GetStatus(cctx, &notifierv1.GetStatusRequest{UserId: u.ID})
		if err != nil {
			return false, fmt.Errorf("GetStatus(%s): %w", u.ID, err)
		}
		return st.GetLinked() && st.GetChatId() == u.Chat, nil
	})
}

// benchTextPrefix starts the text of every notification the tool sends, so
// that welcome messages are told apart.
const benchTextPrefix = "bench "

// benchMessages returns the fake's messages sent by the benchmark.
func benchMessages(f *fakebot.Server) []fakebot.SentMessage {
	var out []fakebot.SentMessage
	for _, m := range f.AllMessages() {
		if strings.HasPrefix(m.Text, benchTextPrefix) {
			out = append(out, m)
		}
	}
	return out
}

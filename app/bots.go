package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/config"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events/webhook"
	"github.com/tgnotify/tgnotify/events/wire"
	"github.com/tgnotify/tgnotify/lease"
	"github.com/tgnotify/tgnotify/retry"
	"github.com/tgnotify/tgnotify/server"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
	"github.com/tgnotify/tgnotify/updates"
)

// botStack is everything one bot runs on: its store (its own key prefix,
// so its links, tokens, queue, limits, events and leases are its own), its
// Bot API client (its api_url and proxy), dispatcher (its global rate; its
// 429s pause only it), update handling, API service and event webhook
// pusher. The core packages know nothing of bots: each stack is one
// single-bot service, as before; server.Bots routes requests between them.
type botStack struct {
	cfg     config.Bot
	log     *zap.Logger
	store   storage
	queue   delivery.Queue
	presses updates.PressStore // the queue's button presses
	disp    *delivery.Dispatcher
	client  *telegram.Client
	fake    *fakebot.Server // the sandbox's fake bot; nil for a real one
	ident   *telegram.BotIdentity
	updates *updates.Handler
	svc     *server.Service
	pusher  *webhook.Pusher // nil without NOTIFIER_EVENT_WEBHOOK_URL
	// bcRunner expands the bot's running broadcasts (broadcast.go).
	bcRunner *broadcast.Runner

	telegramReady atomic.Bool
	tgAuth        telegramAuth // 401/404 from Telegram (telegramauth.go)
}

// effectiveBots returns cfg's bots; a Config built without config.Load
// (no Bots) has the one bot of its single-bot fields.
func effectiveBots(cfg config.Config) []config.Bot {
	if len(cfg.Bots) > 0 {
		return cfg.Bots
	}
	return []config.Bot{cfg.EnvBot()}
}

// newBots builds one stack per bot over the shared Redis client (nil: an
// in-memory store per bot).
func (a *App) newBots(rc redis.UniversalClient) error {
	for _, b := range effectiveBots(a.cfg) {
		s := &botStack{cfg: b, log: a.log.With(zap.String("bot", b.ID)), ident: &telegram.BotIdentity{}}
		st := a.openBotStore(s, rc)
		if err := a.newBotClient(s); err != nil {
			return err
		}
		dcfg := a.cfg.Delivery
		dcfg.GlobalRate, dcfg.AllowPaidBroadcast, dcfg.PaidBroadcastRate = b.GlobalRate, b.PaidBroadcast, b.PaidBroadcastRate
		s.disp = delivery.New(dcfg, s.queue, s.client, s.log.Named("delivery"))
		s.disp.SetObserver(deliveryMetrics{a.metrics})
		// Welcome and /stop replies are queued like notifications: they share
		// the bot's budget, the chats' pacing, retries and 429 pauses.
		s.updates = updates.New(st.updates, s.disp, b.WelcomeMessage, a.metrics, s.log.Named("bot"))
		s.updates.SetIdentity(s.ident)
		s.updates.SetCallbacks(s.presses, s.client)
		if a.cfg.Events.ForwardMessages {
			s.updates.SetForwarding(st.appender, st.chatUsers)
		}
		s.svc = server.NewService(st.api, s.disp, s.ident, a.cfg.LinkTokenTTL,
			server.Events{Log: st.events, Unlinker: st.unlinker, Replier: s.disp, Heartbeat: a.cfg.Events.Heartbeat}, s.log.Named("api"))
		s.svc.SetSessions(a.sessions)
		a.newBroadcasts(s, st.broadcasts) // broadcast.go
		if a.cfg.EventWebhook.Enabled() {
			p, err := webhook.New(a.cfg.EventWebhook, st.evhook, st.evhook, wire.MarshalBotBatch(b.ID),
				s.log.Named("event_webhook"), webhook.WithObserver(a.eventHookMetrics()))
			if err != nil {
				return err
			}
			s.pusher = p
		}
		a.bots = append(a.bots, s)
	}
	return nil
}

// openBotStore gives s its store: on Redis the shared client under the
// bot's prefix (store.BotPrefix: "default" keeps today's keys), else an
// in-memory store of its own.
func (a *App) openBotStore(s *botStack, rc redis.UniversalClient) consumers {
	if rc == nil {
		mem := store.NewMemory()
		q := mem.Queue()
		s.store, s.queue, s.presses = mem, q, q
		c := eventConsumers(mem, a.cfg.Events)
		c.broadcasts = q
		return c
	}
	rs := store.NewRedis(rc, store.BotPrefix(a.cfg.RedisURL, s.cfg.ID))
	rs.SetWaitReplicas(a.cfg.RedisWaitReplicas, a.cfg.RedisWaitTimeout)
	q := rs.Queue()
	s.store, s.queue, s.presses = rs, q, q
	c := eventConsumers(rs, a.cfg.Events)
	c.broadcasts = q
	return c
}

// newBotClient builds s's Bot API client: against the sandbox's fake Bot
// API when the bot has no token (the first bot starts the fake server,
// the others are further tokens on it), else against the bot's api_url,
// through its proxy_url (default: HTTPS_PROXY/NO_PROXY).
func (a *App) newBotClient(s *botStack) error {
	apiURL, token := s.cfg.APIURL, s.cfg.Token
	if token == "" {
		if a.sandbox == nil {
			a.sandbox = fakebot.NewServer()
			s.fake = a.sandbox
		} else {
			n := len(a.bots) + 1
			s.fake = a.sandbox.AddBot(fakebot.WithToken(fmt.Sprintf("%d:AAsandboxTokenOfBot%d", 100000000+n, n)),
				fakebot.WithBotUsername(fmt.Sprintf("tgnotify_test%d_bot", n)), fakebot.WithBotID(int64(100000000+n)))
		}
		apiURL, token = s.fake.URL(), s.fake.Token()
		s.log.Warn("no bot token: SANDBOX MODE with an in-process fake Bot API; play the user with POST /sandbox/start",
			zap.String("fake_bot_api", apiURL), zap.String("bot_username", s.fake.BotUsername()))
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = max(100, a.cfg.Delivery.Workers)
	if s.cfg.ProxyURL != "" {
		u, err := url.Parse(s.cfg.ProxyURL)
		if err != nil {
			return fmt.Errorf("bot %q: proxy_url: not a URL", s.cfg.ID)
		}
		transport.Proxy = http.ProxyURL(u)
	}
	s.client = telegram.NewClient(apiURL, token,
		telegram.WithRequestTimeout(a.cfg.SendTimeout),
		telegram.WithHTTPClient(&http.Client{Transport: a.metrics.TelegramTransport(transport)}))
	if s.cfg.Username != "" {
		s.ident.Set(s.cfg.Username)
	}
	return nil
}

// eventHookMetrics registers the event webhook's metrics once, for every
// bot's pusher; the lag is the largest of theirs.
func (a *App) eventHookMetrics() webhook.Observer {
	a.hookMetricsOnce.Do(func() {
		a.hookMetrics = a.metrics.RegisterEventWebhook(func() float64 {
			var lag time.Duration
			for _, s := range a.bots {
				if s.pusher != nil {
					lag = max(lag, s.pusher.Lag())
				}
			}
			return lag.Seconds()
		})
	})
	return a.hookMetrics
}

// runBot runs s's delivery, Telegram setup and polling, and event webhook
// until ctx ends.
func (a *App) runBot(ctx context.Context, s *botStack, wg *sync.WaitGroup) {
	wg.Go(func() { _ = s.bcRunner.Run(ctx) })
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := s.disp.Run(ctx); err != nil {
			s.log.Error("delivery stopped", zap.Error(err))
		}
	}()
	go func() {
		defer wg.Done()
		a.runTelegram(ctx, s)
	}()
	if s.pusher != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.pusher.Run(ctx); err != nil {
				s.log.Error("event webhook stopped", zap.Error(err))
			}
		}()
	}
}

// runTelegram learns the bot's identity, configures update delivery
// (setWebhook, or deleteWebhook then long polling) and keeps at it with
// backoff while Telegram is unreachable.
func (a *App) runTelegram(ctx context.Context, s *botStack) {
	bo := retry.New(500*time.Millisecond, 30*time.Second)
	for ctx.Err() == nil {
		err := a.initTelegram(ctx, s)
		if err == nil {
			break
		}
		wait := bo.Next()
		switch {
		case telegram.IsAuthFailure(err):
			a.metrics.TelegramAuthFailure(telegramMethod(err))
			if noteAuth(&s.tgAuth.setup, err) {
				s.log.Error(s.settingNames(telegramAuthProblem(err))+"; not ready, retrying", zap.Error(err), zap.Duration("backoff", wait))
			} else {
				s.log.Warn("telegram setup: still rejected; retrying", zap.Error(err), zap.Duration("backoff", wait))
			}
		default:
			s.log.Warn("telegram setup failed; retrying", zap.Error(err), zap.Duration("backoff", wait))
		}
		if !retry.Sleep(ctx, wait) {
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	if noteAuth(&s.tgAuth.setup, nil) {
		s.log.Info("Telegram accepts the bot token again")
	}
	s.telegramReady.Store(true)
	a.setServing(a.ready(ctx) == nil)
	if s.cfg.Webhook() {
		return
	}
	a.pollWithLease(ctx, s)
}

// Polling lease: exactly one replica polls a bot at a time. The name is
// within the bot's store prefix, so every bot has its own lease and
// several replicas share the polling of many bots.
const (
	pollLeaseName  = "poller"
	pollLeaseTTL   = 10 * time.Second
	pollLeaseRenew = 3 * time.Second
)

// pollWithLease long-polls only while this replica holds the bot's poller
// lease in the store. It renews the lease; when renewal fails the poller
// stops, and the offset is written under a fencing check, so a replica
// that lost the lease can neither skip nor replay updates. Another replica
// takes over within pollLeaseTTL of the holder's death.
func (a *App) pollWithLease(ctx context.Context, s *botStack) {
	holder, err := newHolderID()
	if err != nil {
		s.log.Error("poller lease holder id", zap.Error(err))
		return
	}
	log := s.log.Named("poller")
	for ctx.Err() == nil {
		got, err := s.store.AcquireLease(ctx, pollLeaseName, holder, pollLeaseTTL)
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
		go lease.Keep(pctx, cancel, lease.Spec{Store: s.store, Name: pollLeaseName, Holder: holder,
			TTL: pollLeaseTTL, Renew: pollLeaseRenew, What: "poller"}, s.log)
		offsets := leasedOffsets{st: s.store, holder: holder}
		p := telegram.NewPoller(s.client, offsets, s.updates, log, telegram.WithAllowedUpdates(allowedUpdates...),
			telegram.WithAuthReport(func(err error) {
				if err != nil {
					a.metrics.TelegramAuthFailure("getUpdates")
				}
				noteAuth(&s.tgAuth.poll, err) // the poller logs the transitions
			}))
		err = p.Run(pctx)
		cancel()
		s.tgAuth.poll.Store(nil) // only a running poller knows
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = s.store.ReleaseLease(rctx, pollLeaseName, holder)
		rcancel()
		if err != nil {
			log.Error("poller stopped", zap.Error(err))
			return
		}
	}
}

func (a *App) initTelegram(ctx context.Context, s *botStack) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.SendTimeout)
	defer cancel()
	if _, ok := s.ident.Username(); !ok {
		me, err := s.client.GetMe(ctx)
		if err != nil {
			return fmt.Errorf("getMe: %w", err)
		}
		s.ident.Set(me.Username)
		s.log.Info("bot identified", zap.String("bot_username", me.Username))
	}
	if s.cfg.Webhook() {
		err := s.client.SetWebhook(ctx, telegram.SetWebhookParams{
			URL:                s.cfg.WebhookURL,
			SecretToken:        s.cfg.WebhookSecret,
			AllowedUpdates:     allowedUpdates,
			MaxConnections:     a.cfg.WebhookMaxConnections,
			DropPendingUpdates: a.cfg.WebhookDropPending,
		})
		if err != nil {
			return fmt.Errorf("setWebhook: %w", err)
		}
		s.log.Info("webhook set", zap.String("url", s.cfg.WebhookURL))
		if info, err := s.client.GetWebhookInfo(ctx); err == nil && (info.LastErrorMessage != "" || info.PendingUpdateCount > 0) {
			s.log.Warn("telegram reports webhook trouble or backlog",
				zap.String("last_error_message", info.LastErrorMessage), zap.Int("pending_update_count", info.PendingUpdateCount))
		}
		return nil
	}
	if err := s.client.DeleteWebhook(ctx, false); err != nil {
		return fmt.Errorf("deleteWebhook before polling: %w", err)
	}
	s.log.Info("long polling for updates (no webhook_url)")
	return nil
}

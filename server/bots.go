package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tgnotify/tgnotify/auth"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store"
)

// DefaultBot is the bot of a request whose bot field is empty.
const DefaultBot = "default"

// maxBotLen bounds the bot field (ids are at most 32 characters; a longer
// value is refused without being quoted).
const maxBotLen = 32

// BotNotFoundError is a request naming a bot the deployment does not run.
type BotNotFoundError struct{ Bot string }

func (e *BotNotFoundError) Error() string {
	return fmt.Sprintf("unknown bot %q: not one of the deployment's bots (NOTIFIER_BOTS_FILE)", e.Bot)
}

// botStatus is the NOT_FOUND of an unknown bot, naming it.
func botStatus(e *BotNotFoundError) error {
	return withDetails(status.New(codes.NotFound, e.Error()),
		&errdetails.ResourceInfo{ResourceType: "bot", ResourceName: e.Bot, Description: "unknown bot"})
}

// Bots is the API of a deployment of several bots: each bot has a whole
// [Service] of its own (store prefix, dispatcher, limits, event log), and
// Bots routes each request by its bot field (empty: "default") to that
// bot's Service, after checking that the caller's API key may use the
// bot. Notification ids are global: GetNotification, EditNotification and
// DeleteNotification find the bot whose store holds the record. Events
// leave with their bot set. An rpc Bots does not route goes to the default
// bot's Service (the first bot when there is no "default").
type Bots struct {
	*Service
	bots  map[string]*Service
	order []string
}

var _ notifierv1.NotifierServiceServer = (*Bots)(nil)

// NewBots routes between services, keyed by bot id; order lists the ids
// in the order notification lookups try them. It panics when order is
// empty or names a bot services lacks (a wiring bug).
func NewBots(services map[string]*Service, order []string) *Bots {
	if len(order) == 0 {
		panic("server.NewBots: no bots")
	}
	for _, id := range order {
		if services[id] == nil {
			panic("server.NewBots: no service for bot " + id)
		}
	}
	def := services[DefaultBot]
	if def == nil {
		def = services[order[0]]
	}
	return &Bots{Service: def, bots: services, order: order}
}

// pick returns the service of bot (empty: DefaultBot) if the caller may use it.
func (b *Bots) pick(ctx context.Context, bot string) (*Service, error) {
	if bot == "" {
		bot = DefaultBot
	}
	if len(bot) > maxBotLen {
		return nil, toStatus(invalid("bot", "at most %d characters", maxBotLen))
	}
	s := b.bots[bot]
	if s == nil {
		return nil, botStatus(&BotNotFoundError{Bot: bot})
	}
	if err := allowBot(ctx, bot); err != nil {
		return nil, err
	}
	return s, nil
}

// allowBot refuses a caller whose API key is limited to other bots.
func allowBot(ctx context.Context, bot string) error {
	c, ok := auth.CallerFromContext(ctx)
	if !ok || c.AllowsBot(bot) {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "API key %q may not use bot %q", c.Name, bot)
}

// byNotification returns the service of the bot whose store holds the
// notification id; the default service when none does (it answers
// NOT_FOUND), so that validation and errors stay the Service's.
func (b *Bots) byNotification(ctx context.Context, id string) (*Service, error) {
	if validateID("notification_id", id, MaxIdempotencyKeyLen, true) != nil {
		return b.Service, nil
	}
	return b.byRecord(ctx, func(s *Service) error {
		_, err := s.delivery.Get(ctx, id)
		return err
	})
}

// byRecord returns the service of the first bot whose store has the
// record get looks up (get answers an error wrapping store.ErrNotFound
// when it does not); the default service when none does. Ids of
// notifications and broadcasts are global: they name no bot.
func (b *Bots) byRecord(ctx context.Context, get func(*Service) error) (*Service, error) {
	if len(b.order) == 1 {
		return b.Service, nil
	}
	for _, bot := range b.order {
		s := b.bots[bot]
		err := get(s)
		switch {
		case err == nil:
			if err := allowBot(ctx, bot); err != nil {
				return nil, err
			}
			return s, nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, toStatus(err)
		}
	}
	return b.Service, nil
}

// CreateLinkToken routes NotifierService.CreateLinkToken by bot.
func (b *Bots) CreateLinkToken(ctx context.Context, req *notifierv1.CreateLinkTokenRequest) (*notifierv1.CreateLinkTokenResponse, error) {
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	return s.CreateLinkToken(ctx, req)
}

// GetLinkURL routes NotifierService.GetLinkURL by bot.
func (b *Bots) GetLinkURL(ctx context.Context, req *notifierv1.GetLinkURLRequest) (*notifierv1.GetLinkURLResponse, error) {
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	return s.GetLinkURL(ctx, req)
}

// Notify routes NotifierService.Notify by bot.
func (b *Bots) Notify(ctx context.Context, req *notifierv1.NotifyRequest) (*notifierv1.NotifyResponse, error) {
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	return s.Notify(ctx, req)
}

// GetStatus routes NotifierService.GetStatus by bot.
func (b *Bots) GetStatus(ctx context.Context, req *notifierv1.GetStatusRequest) (*notifierv1.GetStatusResponse, error) {
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	return s.GetStatus(ctx, req)
}

// Unlink routes NotifierService.Unlink by bot.
func (b *Bots) Unlink(ctx context.Context, req *notifierv1.UnlinkRequest) (*notifierv1.UnlinkResponse, error) {
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	return s.Unlink(ctx, req)
}

// CreateBrowserSession routes NotifierService.CreateBrowserSession by bot.
// A session for an unknown bot is INVALID_ARGUMENT (the Browser issue's
// contract), not the NOT_FOUND of the other rpcs.
func (b *Bots) CreateBrowserSession(ctx context.Context, req *notifierv1.CreateBrowserSessionRequest) (*notifierv1.CreateBrowserSessionResponse, error) {
	if bot := req.GetBot(); bot != "" && len(bot) <= maxBotLen && b.bots[bot] == nil {
		return nil, toStatus(invalid("bot", "no bot %q is configured", bot))
	}
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	return s.CreateBrowserSession(ctx, req)
}

// WatchStatus routes NotifierService.WatchStatus by bot.
func (b *Bots) WatchStatus(req *notifierv1.WatchStatusRequest, stream notifierv1.NotifierService_WatchStatusServer) error {
	s, err := b.pick(stream.Context(), req.GetBot())
	if err != nil {
		return err
	}
	return s.WatchStatus(req, stream)
}

// ListEvents routes NotifierService.ListEvents by bot: the bot's own log,
// each event marked with the bot.
func (b *Bots) ListEvents(ctx context.Context, req *notifierv1.ListEventsRequest) (*notifierv1.ListEventsResponse, error) {
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	resp, err := s.ListEvents(ctx, req)
	if err != nil {
		return nil, err
	}
	bot := botOrDefault(req.GetBot())
	for _, ev := range resp.GetEvents() {
		ev.Bot = bot
	}
	return resp, nil
}

// WatchEvents routes NotifierService.WatchEvents by bot: the bot's own
// log, each event marked with the bot.
func (b *Bots) WatchEvents(req *notifierv1.WatchEventsRequest, stream notifierv1.NotifierService_WatchEventsServer) error {
	s, err := b.pick(stream.Context(), req.GetBot())
	if err != nil {
		return err
	}
	return s.WatchEvents(req, botEvents{NotifierService_WatchEventsServer: stream, bot: botOrDefault(req.GetBot())})
}

// botEvents marks each streamed event with its bot (a heartbeat too: it
// says which bot's stream is alive).
type botEvents struct {
	notifierv1.NotifierService_WatchEventsServer
	bot string
}

func (s botEvents) Send(ev *notifierv1.Event) error {
	ev.Bot = s.bot
	return s.NotifierService_WatchEventsServer.Send(ev)
}

func botOrDefault(bot string) string {
	if bot == "" {
		return DefaultBot
	}
	return bot
}

// GetNotification finds the notification's bot and asks its service.
func (b *Bots) GetNotification(ctx context.Context, req *notifierv1.GetNotificationRequest) (*notifierv1.GetNotificationResponse, error) {
	s, err := b.byNotification(ctx, req.GetNotificationId())
	if err != nil {
		return nil, err
	}
	return s.GetNotification(ctx, req)
}

// EditNotification finds the notification's bot and asks its service.
func (b *Bots) EditNotification(ctx context.Context, req *notifierv1.EditNotificationRequest) (*notifierv1.EditNotificationResponse, error) {
	s, err := b.byNotification(ctx, req.GetNotificationId())
	if err != nil {
		return nil, err
	}
	return s.EditNotification(ctx, req)
}

// DeleteNotification finds the notification's bot and asks its service.
func (b *Bots) DeleteNotification(ctx context.Context, req *notifierv1.DeleteNotificationRequest) (*notifierv1.DeleteNotificationResponse, error) {
	s, err := b.byNotification(ctx, req.GetNotificationId())
	if err != nil {
		return nil, err
	}
	return s.DeleteNotification(ctx, req)
}

// EndStreams ends every bot's streams (see [Service.EndStreams]).
func (b *Bots) EndStreams() {
	for _, s := range b.bots {
		s.EndStreams()
	}
}

// NewBotsWebhook routes Telegram's webhook deliveries by path: POST
// /telegram/webhook/<bot> to that bot's handler (each checks its own
// secret), POST /telegram/webhook to the bot "default". An unknown bot is
// 404 with nothing done.
func NewBotsWebhook(handlers map[string]http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bot := r.PathValue("bot")
		if bot == "" {
			bot = DefaultBot
		}
		h := handlers[bot]
		if h == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no webhook for this bot"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Broadcast routes NotifierService.Broadcast by bot.
func (b *Bots) Broadcast(ctx context.Context, req *notifierv1.BroadcastRequest) (*notifierv1.BroadcastResponse, error) {
	s, err := b.pick(ctx, req.GetBot())
	if err != nil {
		return nil, err
	}
	return s.Broadcast(ctx, req)
}

// byBroadcast returns the service of the bot whose store holds broadcast
// id; the default bot's when none does, which then answers NOT_FOUND.
func (b *Bots) byBroadcast(ctx context.Context, id string) (*Service, error) {
	if validateBroadcastID(id) != nil {
		return b.Service, nil
	}
	return b.byRecord(ctx, func(s *Service) error {
		if s.bc == nil {
			return store.ErrNotFound
		}
		_, err := s.bc.st.GetBroadcast(ctx, id)
		return err
	})
}

// GetBroadcast routes NotifierService.GetBroadcast to the broadcast's bot.
func (b *Bots) GetBroadcast(ctx context.Context, req *notifierv1.GetBroadcastRequest) (*notifierv1.GetBroadcastResponse, error) {
	s, err := b.byBroadcast(ctx, req.GetBroadcastId())
	if err != nil {
		return nil, err
	}
	return s.GetBroadcast(ctx, req)
}

// CancelBroadcast routes NotifierService.CancelBroadcast to the
// broadcast's bot.
func (b *Bots) CancelBroadcast(ctx context.Context, req *notifierv1.CancelBroadcastRequest) (*notifierv1.CancelBroadcastResponse, error) {
	s, err := b.byBroadcast(ctx, req.GetBroadcastId())
	if err != nil {
		return nil, err
	}
	return s.CancelBroadcast(ctx, req)
}

// ListBroadcastFailures routes NotifierService.ListBroadcastFailures to
// the broadcast's bot.
func (b *Bots) ListBroadcastFailures(ctx context.Context, req *notifierv1.ListBroadcastFailuresRequest) (*notifierv1.ListBroadcastFailuresResponse, error) {
	s, err := b.byBroadcast(ctx, req.GetBroadcastId())
	if err != nil {
		return nil, err
	}
	return s.ListBroadcastFailures(ctx, req)
}

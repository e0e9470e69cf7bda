package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// Sender is what the service needs from the Bot API client to deliver a
// message.
type Sender interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
}

// Identity tells the bot's username once it is known, to build deep links
// (*telegram.BotIdentity provides it).
type Identity interface {
	Username() (string, bool)
}

// LinkStore is what the service needs from storage: link tokens and links
// (*store.Redis and *store.Memory provide it).
type LinkStore interface {
	// PutLinkToken stores tok and makes it the user's live token.
	PutLinkToken(ctx context.Context, tok store.LinkToken) error
	// UserLinkToken returns the user's live token or store.ErrNotFound.
	UserLinkToken(ctx context.Context, userID string) (store.LinkToken, error)
	// GetLink returns the user's link or store.ErrNotFound.
	GetLink(ctx context.Context, userID string) (store.Link, error)
}

// Deliverer is what the service needs from the delivery engine
// (*delivery.Dispatcher).
type Deliverer interface {
	// EnqueueLinked enqueues to the chat the user is linked to (the link
	// read with the enqueue) or fails with delivery.ErrNotLinked.
	EnqueueLinked(ctx context.Context, r delivery.Request) (delivery.Notification, bool, error)
	Get(ctx context.Context, id string) (delivery.Notification, error)
	Summary(ctx context.Context, userID string) (delivery.UserSummary, error)
	Editor // edit.go
}

var _ Deliverer = (*delivery.Dispatcher)(nil)

// Service implements notifier.v1.NotifierService.
type Service struct {
	notifierv1.UnimplementedNotifierServiceServer

	store    LinkStore
	delivery Deliverer
	bot      Identity
	tokenTTL time.Duration
	events   Events
	sessions SessionMinter
	log      *zap.Logger
	now      func() time.Time
	// streams ends when EndStreams is called; WatchEvents streams end
	// with it.
	streams    context.Context
	endStreams context.CancelFunc
	// bc serves the broadcast rpcs (broadcast.go; nil until EnableBroadcasts).
	bc *broadcasts
}

// NewService builds the API service. tokenTTL is how long a link token
// lives; notifications are handed to d; ev serves Unlink and the event
// log (ListEvents, WatchEvents).
func NewService(st LinkStore, d Deliverer, bot Identity, tokenTTL time.Duration, ev Events, log *zap.Logger) *Service {
	streams, end := context.WithCancel(context.Background())
	return &Service{store: st, delivery: d, bot: bot, tokenTTL: tokenTTL, events: ev, log: log, now: time.Now,
		streams: streams, endStreams: end}
}

// CreateLinkToken implements NotifierService.CreateLinkToken.
func (s *Service) CreateLinkToken(ctx context.Context, req *notifierv1.CreateLinkTokenRequest) (*notifierv1.CreateLinkTokenResponse, error) {
	kind, err := chatKind(req.GetChatKind())
	if err != nil {
		return nil, toStatus(err)
	}
	tok, url, err := s.mintToken(ctx, req.GetUserId(), kind)
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.CreateLinkTokenResponse{Token: tok.Token, Url: url, ExpiresAt: timestamppb.New(tok.ExpiresAt)}, nil
}

// GetLinkURL implements NotifierService.GetLinkURL: the user's live token
// when it is of the kind asked for, else a new one.
func (s *Service) GetLinkURL(ctx context.Context, req *notifierv1.GetLinkURLRequest) (*notifierv1.GetLinkURLResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	kind, err := chatKind(req.GetChatKind())
	if err != nil {
		return nil, toStatus(err)
	}
	username, ok := s.bot.Username()
	if !ok {
		return nil, toStatus(ErrBotUnknown)
	}
	tok, err := s.store.UserLinkToken(ctx, req.GetUserId())
	// A token about to expire is not worth handing out: mint a fresh one.
	if err == nil && tok.Kind == kind && tok.ExpiresAt.Sub(s.now()) > s.tokenTTL/10 {
		return &notifierv1.GetLinkURLResponse{Url: deepLink(username, tok), Token: tok.Token, ExpiresAt: timestamppb.New(tok.ExpiresAt)}, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, toStatus(fmt.Errorf("look up live token: %w", err))
	}
	tok, url, err := s.mintToken(ctx, req.GetUserId(), kind)
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.GetLinkURLResponse{Url: url, Token: tok.Token, ExpiresAt: timestamppb.New(tok.ExpiresAt)}, nil
}

func (s *Service) mintToken(ctx context.Context, userID string, kind store.ChatKind) (store.LinkToken, string, error) {
	if err := validateUserID(userID); err != nil {
		return store.LinkToken{}, "", err
	}
	username, ok := s.bot.Username()
	if !ok {
		return store.LinkToken{}, "", ErrBotUnknown
	}
	t, err := newToken()
	if err != nil {
		return store.LinkToken{}, "", fmt.Errorf("mint token: %w", err)
	}
	tok := store.LinkToken{Token: t, UserID: userID, ExpiresAt: s.now().Add(s.tokenTTL).Truncate(time.Millisecond), Kind: kind}
	if err := s.store.PutLinkToken(ctx, tok); err != nil {
		return store.LinkToken{}, "", fmt.Errorf("save token: %w", err)
	}
	return tok, deepLink(username, tok), nil
}

// GetStatus implements NotifierService.GetStatus.
func (s *Service) GetStatus(ctx context.Context, req *notifierv1.GetStatusRequest) (*notifierv1.GetStatusResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	resp := &notifierv1.GetStatusResponse{}
	link, err := s.store.GetLink(ctx, req.GetUserId())
	switch {
	case err == nil:
		resp.Linked, resp.ChatId, resp.Username, resp.LinkedAt = true, link.ChatID, link.Username, timestamppb.New(link.LinkedAt)
		resp.ChatKind, resp.ChatTitle = apiChatKind(link.ChatKind), link.ChatTitle
	case !errors.Is(err, store.ErrNotFound):
		return nil, toStatus(fmt.Errorf("get link: %w", err))
	}
	sum, err := s.delivery.Summary(ctx, req.GetUserId())
	if err != nil {
		return nil, toStatus(err)
	}
	resp.Delivery = &notifierv1.DeliverySummary{
		Queued: sum.Queued, Sent: sum.Sent, Failed: sum.Failed,
		LastNotificationId: sum.LastID, LastError: sum.LastError,
	}
	if sum.LastID != "" {
		resp.Delivery.LastState = notifierv1.NotificationState(sum.LastState)
		if !sum.LastUpdatedAt.IsZero() {
			resp.Delivery.LastUpdatedAt = timestamppb.New(sum.LastUpdatedAt)
		}
	}
	return resp, nil
}

// Notify implements NotifierService.Notify: it validates the request,
// records the notification durably and answers QUEUED; workers send it.
func (s *Service) Notify(ctx context.Context, req *notifierv1.NotifyRequest) (*notifierv1.NotifyResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	policy, ok := longTextPolicies[req.GetLongText()]
	if !ok {
		return nil, toStatus(invalid("long_text", "unknown value %d", int32(req.GetLongText())))
	}
	media, err := validateMedia(req.GetMedia())
	if err != nil {
		return nil, toStatus(err)
	}
	hasMedia := media.Kind != delivery.MediaNone
	parseMode, err := validateBody(req.GetText(), req.GetParseMode(), policy == delivery.LongTextReject, hasMedia)
	if err != nil {
		return nil, toStatus(err)
	}
	text, err := expandValues(req.GetText(), parseMode, req.GetValues(), policy == delivery.LongTextReject)
	if err != nil {
		return nil, toStatus(err)
	}
	if err := validateID("idempotency_key", req.GetIdempotencyKey(), MaxIdempotencyKeyLen, false); err != nil {
		return nil, toStatus(err)
	}
	buttons, err := validateButtons(req.GetButtons())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := validateCallbackAnswer(req.GetCallbackAnswer()); err != nil {
		return nil, toStatus(err)
	}
	if err := s.checkReplyTo(ctx, req.GetUserId(), req.GetReplyToNotificationId()); err != nil {
		return nil, toStatus(err)
	}
	if err := s.checkTopic(ctx, req.GetUserId(), req.GetTopicId()); err != nil {
		return nil, toStatus(err)
	}
	r := delivery.Request{
		UserID:              req.GetUserId(),
		Text:                text,
		ParseMode:           parseMode,
		DisableNotification: req.GetDisableNotification(),
		PlainTextFallback:   req.GetPlainTextFallback(),
		DisableLinkPreview:  req.GetDisableLinkPreview(),
		ProtectContent:      req.GetProtectContent(),
		ReplyToID:           req.GetReplyToNotificationId(),
		IdempotencyKey:      req.GetIdempotencyKey(),
		LongText:            policy,
		Media:               media,
		Buttons:             buttons,
		CallbackAnswer:      req.GetCallbackAnswer(),
		TopicID:             req.GetTopicId(),
		NoTopicFallback:     req.GetNoTopicFallback(),
	}
	// One store call: the link is read with the enqueue.
	n, dup, err := s.delivery.EnqueueLinked(ctx, r)
	if errors.Is(err, delivery.ErrNotLinked) {
		return nil, toStatus(ErrNotLinked)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.NotifyResponse{
		NotificationId: n.ID,
		State:          notifierv1.NotificationState(n.State),
		MessageIds:     n.MessageIDs,
		Duplicate:      dup,
		Parts:          int32(len(n.Parts)),
	}, nil
}

// checkReplyTo checks reply_to_notification_id before anything is stored:
// empty, or a notification of userID that is still kept (NOT_FOUND when
// it is unknown or expired, INVALID_ARGUMENT when it is another user's).
// A bot reply is nobody's notification: NOT_FOUND.
func (s *Service) checkReplyTo(ctx context.Context, userID, id string) error {
	const field = "reply_to_notification_id"
	if id == "" {
		return nil
	}
	if err := validateID(field, id, MaxIdempotencyKeyLen, true); err != nil {
		return err
	}
	orig, err := s.delivery.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && orig.Reply:
		return fmt.Errorf("%w: %s %q", ErrReplyToNotFound, field, id)
	case err != nil:
		return err
	case orig.UserID != userID:
		return invalid(field, "is a notification of another user")
	}
	return nil
}

// GetNotification implements NotifierService.GetNotification.
func (s *Service) GetNotification(ctx context.Context, req *notifierv1.GetNotificationRequest) (*notifierv1.GetNotificationResponse, error) {
	if err := validateID("notification_id", req.GetNotificationId(), MaxIdempotencyKeyLen, true); err != nil {
		return nil, toStatus(err)
	}
	n, err := s.delivery.Get(ctx, req.GetNotificationId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.GetNotificationResponse{
		NotificationId: n.ID,
		UserId:         n.UserID,
		State:          notifierv1.NotificationState(n.State),
		Attempts:       int32(n.Attempts),
		LastError:      n.LastError,
		MessageIds:     n.MessageIDs,
		Parts:          int32(len(n.Parts)),
		CreatedAt:      timestamppb.New(n.CreatedAt),
		UpdatedAt:      timestamppb.New(n.UpdatedAt),
		ChatId:         n.ChatID,
		IdempotencyKey: n.IdempotencyKey,
		FailureReason:  n.FailureReason,
		Degraded:       n.Degraded,
		MediaFileId:    n.MediaFileID,
		ButtonPresses:  buttonPresses(n.Presses),
		Revision:       int32(n.Rev()),
		EditState:      notifierv1.EditState(n.EditState),
		EditError:      n.EditError,
		Deleted:        n.Deleted,
		DeleteError:    n.DeleteError,
	}, nil
}

// buttonPresses returns the record's presses as the API's.
func buttonPresses(ps []delivery.ButtonPress) []*notifierv1.ButtonPress {
	if len(ps) == 0 {
		return nil
	}
	out := make([]*notifierv1.ButtonPress, len(ps))
	for i, p := range ps {
		out[i] = &notifierv1.ButtonPress{Callback: p.Callback, Username: p.Username, PressedAt: timestamppb.New(p.At)}
	}
	return out
}

// longTextPolicies maps the API's enum to the engine's policy.
var longTextPolicies = map[notifierv1.LongTextPolicy]delivery.LongTextPolicy{
	notifierv1.LongTextPolicy_LONG_TEXT_POLICY_UNSPECIFIED: delivery.LongTextSplit,
	notifierv1.LongTextPolicy_LONG_TEXT_POLICY_SPLIT:       delivery.LongTextSplit,
	notifierv1.LongTextPolicy_LONG_TEXT_POLICY_REJECT:      delivery.LongTextReject,
}

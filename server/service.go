package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// Sender is what the service needs from the Bot API client to deliver a
// message.
type Sender interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
}

// BotIdentity holds the bot's username once it is known (from configuration
// or from getMe). It is safe for concurrent use.
type BotIdentity struct {
	mu       sync.RWMutex
	username string
}

// Set records the bot's username.
func (b *BotIdentity) Set(username string) {
	b.mu.Lock()
	b.username = username
	b.mu.Unlock()
}

// Username returns the bot's username and whether it is known.
func (b *BotIdentity) Username() (string, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.username, b.username != ""
}

// Service implements notifier.v1.NotifierService.
type Service struct {
	notifierv1.UnimplementedNotifierServiceServer

	store    store.Store
	sender   Sender
	bot      *BotIdentity
	tokenTTL time.Duration
	maxWait  time.Duration
	log      *zap.Logger
	now      func() time.Time
}

// NewService builds the API service. tokenTTL is how long a link token
// lives; maxRetryWait bounds how long Notify waits on Telegram's retry_after.
func NewService(st store.Store, sender Sender, bot *BotIdentity, tokenTTL, maxRetryWait time.Duration, log *zap.Logger) *Service {
	return &Service{store: st, sender: sender, bot: bot, tokenTTL: tokenTTL, maxWait: maxRetryWait, log: log, now: time.Now}
}

// CreateLinkToken implements NotifierService.CreateLinkToken.
func (s *Service) CreateLinkToken(ctx context.Context, req *notifierv1.CreateLinkTokenRequest) (*notifierv1.CreateLinkTokenResponse, error) {
	tok, url, err := s.mintToken(ctx, req.GetUserId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.CreateLinkTokenResponse{Token: tok.Token, Url: url, ExpiresAt: timestamppb.New(tok.ExpiresAt)}, nil
}

// GetLinkURL implements NotifierService.GetLinkURL: the user's live token,
// else a new one.
func (s *Service) GetLinkURL(ctx context.Context, req *notifierv1.GetLinkURLRequest) (*notifierv1.GetLinkURLResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	username, ok := s.bot.Username()
	if !ok {
		return nil, toStatus(ErrBotUnknown)
	}
	tok, err := s.store.UserLinkToken(ctx, req.GetUserId())
	// A token about to expire is not worth handing out: mint a fresh one.
	if err == nil && tok.ExpiresAt.Sub(s.now()) > s.tokenTTL/10 {
		return &notifierv1.GetLinkURLResponse{Url: DeepLink(username, tok.Token), Token: tok.Token, ExpiresAt: timestamppb.New(tok.ExpiresAt)}, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, toStatus(fmt.Errorf("look up live token: %w", err))
	}
	tok, url, err := s.mintToken(ctx, req.GetUserId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.GetLinkURLResponse{Url: url, Token: tok.Token, ExpiresAt: timestamppb.New(tok.ExpiresAt)}, nil
}

func (s *Service) mintToken(ctx context.Context, userID string) (store.LinkToken, string, error) {
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
	tok := store.LinkToken{Token: t, UserID: userID, ExpiresAt: s.now().Add(s.tokenTTL).Truncate(time.Millisecond)}
	if err := s.store.PutLinkToken(ctx, tok); err != nil {
		return store.LinkToken{}, "", fmt.Errorf("save token: %w", err)
	}
	return tok, DeepLink(username, t), nil
}

// GetStatus implements NotifierService.GetStatus.
func (s *Service) GetStatus(ctx context.Context, req *notifierv1.GetStatusRequest) (*notifierv1.GetStatusResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	link, err := s.store.GetLink(ctx, req.GetUserId())
	if errors.Is(err, store.ErrNotFound) {
		return &notifierv1.GetStatusResponse{Linked: false}, nil
	}
	if err != nil {
		return nil, toStatus(fmt.Errorf("get link: %w", err))
	}
	return &notifierv1.GetStatusResponse{
		Linked:   true,
		ChatId:   link.ChatID,
		Username: link.Username,
		LinkedAt: timestamppb.New(link.LinkedAt),
	}, nil
}

// Notify implements NotifierService.Notify: it sends the message at once.
func (s *Service) Notify(ctx context.Context, req *notifierv1.NotifyRequest) (*notifierv1.NotifyResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	parseMode, err := validateText(req.GetText(), req.GetParseMode())
	if err != nil {
		return nil, toStatus(err)
	}
	if err := validateID("idempotency_key", req.GetIdempotencyKey(), MaxIdempotencyKeyLen, false); err != nil {
		return nil, toStatus(err)
	}
	link, err := s.store.GetLink(ctx, req.GetUserId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, toStatus(ErrNotLinked)
	}
	if err != nil {
		return nil, toStatus(fmt.Errorf("get link: %w", err))
	}
	id, err := newToken()
	if err != nil {
		return nil, toStatus(err)
	}
	msg, err := s.send(ctx, link, telegram.SendMessageParams{
		ChatID:              link.ChatID,
		Text:                req.GetText(),
		ParseMode:           parseMode,
		DisableNotification: req.GetDisableNotification(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.NotifyResponse{
		NotificationId: id,
		State:          notifierv1.NotificationState_NOTIFICATION_STATE_SENT,
		MessageIds:     []int64{msg.MessageID},
	}, nil
}

// send calls sendMessage, waiting out Telegram's retry_after (within the
// request's deadline and maxWait) and unlinking users who blocked the bot.
func (s *Service) send(ctx context.Context, link store.Link, p telegram.SendMessageParams) (telegram.Message, error) {
	for {
		msg, err := s.sender.SendMessage(ctx, p)
		if err == nil {
			return msg, nil
		}
		var tgErr *telegram.Error
		if errors.As(err, &tgErr) && tgErr.Code == 403 {
			if uerr := s.store.Unlink(ctx, link.UserID); uerr != nil && !errors.Is(uerr, store.ErrNotFound) {
				s.log.Warn("unlink after 403 failed", zap.String("user_id", link.UserID), zap.Error(uerr))
			}
			s.log.Info("user blocked the bot; unlinked", zap.String("user_id", link.UserID), zap.String("reason", tgErr.Description))
			return telegram.Message{}, &BlockedError{UserID: link.UserID, Err: tgErr}
		}
		wait, ok := telegram.RetryAfter(err)
		if !ok {
			return telegram.Message{}, fmt.Errorf("sendMessage: %w", err)
		}
		if wait > s.maxWait {
			return telegram.Message{}, fmt.Errorf("sendMessage: retry_after %s exceeds the wait limit: %w", wait, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return telegram.Message{}, fmt.Errorf("sendMessage: retry_after %s exceeds the request deadline: %w", wait, err)
		}
		s.log.Info("telegram rate limit; waiting", zap.Duration("retry_after", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return telegram.Message{}, ctx.Err()
		case <-t.C:
		}
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tgnotify/tgnotify/auth"
	"github.com/tgnotify/tgnotify/events"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// watchLookback is how far before "now" WatchStatus starts to follow the
// event log, so that a replica whose clock is ahead of the log's (Redis
// stamps entries with its own clock) misses no change; changes that far
// back only make it compare the status once more.
const watchLookback = 5 * time.Second

// ErrNoSessions means the service was built without a session minter.
var ErrNoSessions = errors.New("browser sessions are not configured")

// SessionMinter mints browser session tokens (*auth.Sessions provides it).
type SessionMinter interface {
	Mint(user, bot string, ttl time.Duration) (string, time.Time, error)
}

// SetSessions makes CreateBrowserSession mint with m. Call it before
// serving.
func (s *Service) SetSessions(m SessionMinter) { s.sessions = m }

// CreateBrowserSession implements NotifierService.CreateBrowserSession.
func (s *Service) CreateBrowserSession(_ context.Context, req *notifierv1.CreateBrowserSessionRequest) (*notifierv1.CreateBrowserSessionResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	ttl := auth.DefaultSessionTTL
	if req.Ttl != nil {
		if err := req.GetTtl().CheckValid(); err != nil {
			return nil, toStatus(invalid("ttl", "%v", err))
		}
		ttl = req.GetTtl().AsDuration()
		if ttl < time.Second || ttl > auth.MaxSessionTTL {
			return nil, toStatus(invalid("ttl", "must be 1s to %v (unset: %v), got %v", auth.MaxSessionTTL, auth.DefaultSessionTTL, ttl))
		}
	}
	if s.sessions == nil {
		return nil, toStatus(ErrNoSessions)
	}
	bot := req.GetBot()
	if bot == "" {
		bot = DefaultBot
	}
	tok, exp, err := s.sessions.Mint(req.GetUserId(), bot, ttl)
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.CreateBrowserSessionResponse{SessionToken: tok, ExpiresAt: timestamppb.New(exp)}, nil
}

// WatchStatus implements NotifierService.WatchStatus: the status at once,
// then again after each USER_LINKED or USER_UNLINKED event of the user
// (from any replica, through the event log) that changed it, and as a
// heartbeat while idle. A stream authorised by a browser session ends,
// without error, when the session expires.
func (s *Service) WatchStatus(req *notifierv1.WatchStatusRequest, stream notifierv1.NotifierService_WatchStatusServer) error {
	if err := validateUserID(req.GetUserId()); err != nil {
		return toStatus(err)
	}
	if s.events.Log == nil {
		return toStatus(ErrNoEventLog)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()
	sess, bySession := auth.SessionFromContext(ctx)
	if bySession {
		var end context.CancelFunc
		ctx, end = context.WithDeadline(ctx, sess.ExpiresAt)
		defer end()
	}
	err := s.watchStatus(ctx, req.GetUserId(), stream.Send)
	switch {
	case stream.Context().Err() != nil:
	case s.streams.Err() != nil:
		err = ErrShuttingDown
	case bySession && !s.now().Before(sess.ExpiresAt):
		return nil // the session is over: so is its stream
	}
	return toStatus(err)
}

// watchStatus sends the status of user, then follows the event log.
func (s *Service) watchStatus(ctx context.Context, user string, send func(*notifierv1.GetStatusResponse) error) error {
	hb := s.events.Heartbeat
	if hb <= 0 {
		hb = DefaultHeartbeat
	}
	f := events.Filter{UserID: user, Types: []events.Type{events.TypeUserLinked, events.TypeUserUnlinked}}
	cursor := fmt.Sprintf("%d-0", max(s.now().Add(-watchLookback).UnixMilli(), 0))
	last, err := s.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: user})
	if err != nil {
		return err
	}
	if err := send(last); err != nil {
		return err
	}
	lastSent := s.now()
	for {
		wait := hb - s.now().Sub(lastSent)
		changed := false
		if wait > 0 {
			if err := s.events.Log.Wait(ctx, cursor, wait); err != nil {
				return err
			}
			evs, next, err := s.events.Log.Read(ctx, cursor, f, events.MaxRead)
			var tooOld *events.CursorTooOldError
			switch {
			case errors.As(err, &tooOld):
				// Trimmed past the cursor: start over from the oldest
				// entry, and look at the status again.
				cursor, changed = "", true
			case err != nil:
				return fmt.Errorf("read events: %w", err)
			default:
				changed = len(evs) > 0
				if next != "" {
					cursor = next
				}
			}
			if !changed {
				continue
			}
		}
		cur, err := s.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: user})
		if err != nil {
			return err
		}
		if changed && sameLink(cur, last) {
			continue
		}
		if err := send(cur); err != nil {
			return err
		}
		last, lastSent = cur, s.now()
	}
}

// sameLink reports whether a and b describe the same link (or both none).
func sameLink(a, b *notifierv1.GetStatusResponse) bool {
	return a.GetLinked() == b.GetLinked() && a.GetChatId() == b.GetChatId() && a.GetUsername() == b.GetUsername() &&
		a.GetLinkedAt().AsTime().Equal(b.GetLinkedAt().AsTime())
}

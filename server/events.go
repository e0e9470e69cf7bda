package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/wire"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// GoodbyeMessage is what the bot tells a chat that Unlink with
// say_goodbye disconnected.
const GoodbyeMessage = "You were disconnected by the application. You will no longer receive notifications here."

// Limits of the event rpcs.
const (
	// DefaultEventsLimit is ListEvents' page size when limit is 0.
	DefaultEventsLimit = 100
	// MaxCursorLen bounds after_cursor (a stream entry id is at most 41
	// characters).
	MaxCursorLen = 64
	// maxEventTypes bounds the types filter (there are 6 types; a few
	// repeats are tolerated).
	maxEventTypes = 32
	// DefaultHeartbeat is how often an idle WatchEvents stream gets a
	// heartbeat, so proxies keep it open.
	DefaultHeartbeat = 15 * time.Second
)

// Errors of the event rpcs.
var (
	// ErrShuttingDown ends WatchEvents streams when the service stops; the
	// client reconnects (to another replica) with its last cursor.
	ErrShuttingDown = errors.New("server shutting down: reconnect with the last cursor received")
	// ErrNoEventLog means the service was built without an event log.
	ErrNoEventLog = errors.New("the event log is not configured")
)

// Unlinker removes a user's link for the application (Unlink) and appends
// its USER_UNLINKED event with reason "app" in the same step; queued
// notifications of the user then fail "unlinked" (*store.Redis and
// *store.Memory provide it).
type Unlinker interface {
	// UnlinkUser removes the user's link and returns the chat it was to;
	// wasLinked is false (and nothing changes) when there was none.
	UnlinkUser(ctx context.Context, userID string) (chatID int64, wasLinked bool, err error)
}

// Replier queues the bot's own messages (*delivery.Dispatcher provides
// it): Unlink's goodbye goes the way of every reply.
type Replier interface {
	EnqueueReply(ctx context.Context, r delivery.Reply) (queued bool, err error)
}

var _ Replier = (*delivery.Dispatcher)(nil)

// Events is what the event rpcs (Unlink, ListEvents, WatchEvents) are
// built from.
type Events struct {
	// Log reads the event log (the store implements events.Reader).
	Log events.Reader
	// Unlinker removes links for Unlink.
	Unlinker Unlinker
	// Replier queues Unlink's goodbye.
	Replier Replier
	// Heartbeat is the idle interval after which WatchEvents sends a
	// heartbeat; DefaultHeartbeat when 0 (tests shorten it).
	Heartbeat time.Duration
}

// Unlink implements NotifierService.Unlink.
func (s *Service) Unlink(ctx context.Context, req *notifierv1.UnlinkRequest) (*notifierv1.UnlinkResponse, error) {
	if err := validateUserID(req.GetUserId()); err != nil {
		return nil, toStatus(err)
	}
	if s.events.Unlinker == nil {
		return nil, toStatus(ErrNoEventLog)
	}
	chatID, was, err := s.events.Unlinker.UnlinkUser(ctx, req.GetUserId())
	if err != nil {
		return nil, toStatus(fmt.Errorf("unlink user: %w", err))
	}
	if was {
		s.log.Info("user unlinked", zap.String("user_id", req.GetUserId()), zap.String("reason", events.ReasonApp))
	}
	if was && req.GetSayGoodbye() && chatID != 0 && s.events.Replier != nil {
		// The link is gone either way; a goodbye that cannot be queued is
		// logged, not an error of the call.
		if _, err := s.events.Replier.EnqueueReply(ctx, delivery.Reply{ChatID: chatID, Text: GoodbyeMessage}); err != nil {
			s.log.Warn("cannot queue the goodbye", zap.Int64("chat_id", chatID), zap.Error(err))
		}
	}
	return &notifierv1.UnlinkResponse{WasLinked: was}, nil
}

// ListEvents implements NotifierService.ListEvents.
func (s *Service) ListEvents(ctx context.Context, req *notifierv1.ListEventsRequest) (*notifierv1.ListEventsResponse, error) {
	limit := int(req.GetLimit())
	switch {
	case limit == 0:
		limit = DefaultEventsLimit
	case limit < 1 || limit > events.MaxRead:
		return nil, toStatus(invalid("limit", "must be 1 to %d (0: %d), got %d", events.MaxRead, DefaultEventsLimit, limit))
	}
	f, err := eventQuery(req.GetAfterCursor(), req.GetTypes(), req.GetUserId())
	if err != nil {
		return nil, toStatus(err)
	}
	if s.events.Log == nil {
		return nil, toStatus(ErrNoEventLog)
	}
	evs, next, err := s.events.Log.Read(ctx, req.GetAfterCursor(), f, limit)
	if err != nil {
		return nil, toStatus(fmt.Errorf("read events: %w", err))
	}
	resp := &notifierv1.ListEventsResponse{Events: make([]*notifierv1.Event, 0, len(evs)), NextCursor: next}
	for _, e := range evs {
		resp.Events = append(resp.Events, wire.ToProto(e))
	}
	return resp, nil
}

// WatchEvents implements NotifierService.WatchEvents: the events after
// the cursor, then live ones, with a heartbeat while idle, until the client
// goes or the service stops ([Service.EndStreams]).
func (s *Service) WatchEvents(req *notifierv1.WatchEventsRequest, stream notifierv1.NotifierService_WatchEventsServer) error {
	f, err := eventQuery(req.GetAfterCursor(), req.GetTypes(), req.GetUserId())
	if err != nil {
		return toStatus(err)
	}
	if s.events.Log == nil {
		return toStatus(ErrNoEventLog)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()
	err = s.watch(ctx, req.GetAfterCursor(), f, stream.Send)
	if s.streams.Err() != nil && stream.Context().Err() == nil {
		err = ErrShuttingDown
	}
	return toStatus(err)
}

// watch sends the events after cursor that pass f, then waits for more;
// after heartbeat without anything sent it sends a heartbeat. It returns
// when ctx ends or a send or read fails.
func (s *Service) watch(ctx context.Context, cursor string, f events.Filter, send func(*notifierv1.Event) error) error {
	hb := s.events.Heartbeat
	if hb <= 0 {
		hb = DefaultHeartbeat
	}
	lastSent := s.now()
	for {
		evs, next, err := s.events.Log.Read(ctx, cursor, f, events.MaxRead)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		for _, e := range evs {
			if err := send(wire.ToProto(e)); err != nil {
				return err
			}
		}
		if len(evs) > 0 {
			lastSent = s.now()
		}
		if next != "" {
			cursor = next
		}
		if len(evs) == events.MaxRead {
			continue // more is waiting: read on at once
		}
		wait := hb - s.now().Sub(lastSent)
		if wait <= 0 {
			if err := send(&notifierv1.Event{}); err != nil {
				return err
			}
			lastSent, wait = s.now(), hb
		}
		if err := s.events.Log.Wait(ctx, cursor, wait); err != nil {
			return err
		}
	}
}

// EndStreams ends every WatchEvents stream, now and later, with
// UNAVAILABLE: the wiring calls it when the service stops, so that
// graceful shutdown does not wait for streams that never end by
// themselves. Clients reconnect with their last cursor.
func (s *Service) EndStreams() { s.endStreams() }

// eventQuery validates the selection of ListEvents and WatchEvents and
// returns its filter.
func eventQuery(cursor string, types []notifierv1.EventType, userID string) (events.Filter, error) {
	if err := validateID("after_cursor", cursor, MaxCursorLen, false); err != nil {
		return events.Filter{}, err
	}
	if err := validateID("user_id", userID, MaxUserIDLen, false); err != nil {
		return events.Filter{}, err
	}
	if len(types) > maxEventTypes {
		return events.Filter{}, invalid("types", "at most %d entries, got %d", maxEventTypes, len(types))
	}
	f := events.Filter{UserID: userID}
	for _, t := range types {
		et, ok := wire.TypeFromProto(t)
		if !ok {
			return events.Filter{}, invalid("types", "unknown or unspecified event type %d", int32(t))
		}
		if !slices.Contains(f.Types, et) {
			f.Types = append(f.Types, et)
		}
	}
	return f, nil
}

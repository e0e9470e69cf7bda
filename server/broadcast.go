package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store"
)

// Broadcasts is what the broadcast rpcs need from storage
// (*store.RedisQueue and *store.MemoryQueue provide it).
type Broadcasts interface {
	CreateBroadcast(ctx context.Context, nb broadcast.New) (broadcast.Created, error)
	GetBroadcast(ctx context.Context, id string) (broadcast.Broadcast, error)
	CancelBroadcast(ctx context.Context, id string, now time.Time) (broadcast.State, error)
	BroadcastFailures(ctx context.Context, id string, offset int64, limit int) ([]broadcast.Failure, int64, error)
}

// BroadcastOptions are the broadcast rpcs' settings.
type BroadcastOptions struct {
	// GlobalRate is the bot's global rate: a broadcast's default and
	// maximum rate. PaidRate is the rate of paid broadcasts (0: paid
	// broadcasts are not configured).
	GlobalRate, PaidRate float64
	// Retention is how long a finished broadcast is kept; IdempotencyTTL
	// how long its idempotency key is remembered.
	Retention, IdempotencyTTL time.Duration
	// Kick, when set, is called after a broadcast was created (the
	// broadcast.Runner's Kick).
	Kick func()
}

// broadcasts is the service's broadcast part (nil: not enabled).
type broadcasts struct {
	st  Broadcasts
	opt BroadcastOptions
}

// failuresPage is the page size of ListBroadcastFailures.
const failuresPage = 1000

// EnableBroadcasts serves the broadcast rpcs from st.
func (s *Service) EnableBroadcasts(st Broadcasts, o BroadcastOptions) {
	s.bc = &broadcasts{st: st, opt: o}
}

func (s *Service) broadcasts() (*broadcasts, error) {
	if s.bc == nil {
		return nil, status.Error(codes.Unimplemented, "broadcasts are not enabled")
	}
	return s.bc, nil
}

// Broadcast implements NotifierService.Broadcast: validates everything,
// then stores the broadcast in one step (nothing is stored for bad input).
func (s *Service) Broadcast(ctx context.Context, req *notifierv1.BroadcastRequest) (*notifierv1.BroadcastResponse, error) {
	bc, err := s.broadcasts()
	if err != nil {
		return nil, err
	}
	nb, err := bc.validate(req)
	if err != nil {
		return nil, toStatus(err)
	}
	nb.CreatedAt = s.now()
	c, err := bc.st.CreateBroadcast(ctx, nb)
	if err != nil {
		return nil, toStatus(err)
	}
	if bc.opt.Kick != nil && !c.Existed {
		bc.opt.Kick()
	}
	return &notifierv1.BroadcastResponse{BroadcastId: c.ID, Recipients: c.Recipients}, nil
}

// validate checks a BroadcastRequest and returns the broadcast to create.
func (bc *broadcasts) validate(req *notifierv1.BroadcastRequest) (broadcast.New, error) {
	users, err := validateRecipients(req.GetUserIds(), req.GetAllLinked())
	if err != nil {
		return broadcast.New{}, err
	}
	rate, err := bc.validateRate(req.GetRate(), req.GetPaid())
	if err != nil {
		return broadcast.New{}, err
	}
	msg, err := validateBroadcastMessage(req)
	if err != nil {
		return broadcast.New{}, err
	}
	if err := validateID("idempotency_key", req.GetIdempotencyKey(), MaxIdempotencyKeyLen, false); err != nil {
		return broadcast.New{}, err
	}
	return broadcast.New{Message: msg, UserIDs: users, AllLinked: req.GetAllLinked(),
		IdempotencyKey: req.GetIdempotencyKey(), IdempotencyTTL: bc.opt.IdempotencyTTL, Rate: rate,
		Paid: req.GetPaid(), Retention: bc.opt.Retention}, nil
}

// validateRecipients checks user_ids / all_linked and returns the distinct
// ids in order.
func validateRecipients(ids []string, all bool) ([]string, error) {
	switch {
	case all && len(ids) > 0:
		return nil, invalid("user_ids", "give either user_ids or all_linked, not both")
	case all:
		return nil, nil
	case len(ids) == 0:
		return nil, invalid("user_ids", "give 1-%d user ids, or all_linked", broadcast.MaxRecipients)
	case len(ids) > broadcast.MaxRecipients:
		return nil, invalid("user_ids", "at most %d user ids per broadcast, got %d", broadcast.MaxRecipients, len(ids))
	}
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		if err := validateID(fmt.Sprintf("user_ids[%d]", i), id, MaxUserIDLen, true); err != nil {
			return nil, err
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out, nil
}

// validateRate returns the broadcast's rate: rate, or when 0 the bot's
// global rate (the paid rate with paid).
func (bc *broadcasts) validateRate(rate float64, paid bool) (float64, error) {
	limit := bc.opt.GlobalRate
	if paid {
		if bc.opt.PaidRate <= 0 {
			return 0, status.Error(codes.FailedPrecondition,
				"invalid paid: paid broadcasts are not configured for this bot (NOTIFIER_PAID_BROADCAST_RATE)")
		}
		limit = bc.opt.PaidRate
	}
	switch {
	case math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0:
		return 0, invalid("rate", "must be a positive number of sends per second (0: the bot's rate)")
	case rate == 0:
		return limit, nil
	case rate > limit:
		return 0, invalid("rate", "%g is above the bot's limit of %g per second", rate, limit)
	}
	return rate, nil
}

// validateBroadcastMessage checks the message fields as Notify does and
// returns the message, its text split into parts.
func validateBroadcastMessage(req *notifierv1.BroadcastRequest) (delivery.Notification, error) {
	media, err := validateMedia(req.GetMedia())
	if err != nil {
		return delivery.Notification{}, err
	}
	hasMedia := media.Kind != delivery.MediaNone
	parseMode, err := validateBody(req.GetText(), req.GetParseMode(), false, hasMedia)
	if err != nil {
		return delivery.Notification{}, err
	}
	text, err := expandValues(req.GetText(), parseMode, req.GetValues(), false)
	if err != nil {
		return delivery.Notification{}, err
	}
	buttons, err := validateButtons(req.GetButtons())
	if err != nil {
		return delivery.Notification{}, err
	}
	parts, err := delivery.PlanParts(text, parseMode, hasMedia)
	if err != nil {
		return delivery.Notification{}, err
	}
	return delivery.Notification{Parts: parts, ParseMode: parseMode, Media: media, Buttons: buttons,
		DisableNotification: req.GetDisableNotification()}, nil
}

// validateBroadcastID checks a broadcast_id.
func validateBroadcastID(id string) error {
	return validateID("broadcast_id", id, MaxIdempotencyKeyLen, true)
}

// broadcastNotFound is the NOT_FOUND of an unknown broadcast id.
func broadcastNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return status.Error(codes.NotFound, "broadcast_id: unknown broadcast (or it expired)")
	}
	return toStatus(err)
}

// GetBroadcast implements NotifierService.GetBroadcast.
func (s *Service) GetBroadcast(ctx context.Context, req *notifierv1.GetBroadcastRequest) (*notifierv1.GetBroadcastResponse, error) {
	bc, err := s.broadcasts()
	if err != nil {
		return nil, err
	}
	if err := validateBroadcastID(req.GetBroadcastId()); err != nil {
		return nil, toStatus(err)
	}
	b, err := bc.st.GetBroadcast(ctx, req.GetBroadcastId())
	if err != nil {
		return nil, broadcastNotFound(err)
	}
	return broadcastProto(b), nil
}

// broadcastProto renders b.
func broadcastProto(b broadcast.Broadcast) *notifierv1.GetBroadcastResponse {
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	return &notifierv1.GetBroadcastResponse{BroadcastId: b.ID, State: notifierv1.BroadcastState(b.State),
		Recipients: b.Recipients, Sent: b.Sent, Failed: b.Failed, Pending: b.Pending(), Cancelled: b.Cancelled,
		FailuresByReason: b.FailuresByReason, CreatedAt: ts(b.CreatedAt), StartedAt: ts(b.StartedAt),
		FinishedAt: ts(b.FinishedAt)}
}

// CancelBroadcast implements NotifierService.CancelBroadcast.
func (s *Service) CancelBroadcast(ctx context.Context, req *notifierv1.CancelBroadcastRequest) (*notifierv1.CancelBroadcastResponse, error) {
	bc, err := s.broadcasts()
	if err != nil {
		return nil, err
	}
	if err := validateBroadcastID(req.GetBroadcastId()); err != nil {
		return nil, toStatus(err)
	}
	st, err := bc.st.CancelBroadcast(ctx, req.GetBroadcastId(), s.now())
	if err != nil {
		return nil, broadcastNotFound(err)
	}
	return &notifierv1.CancelBroadcastResponse{BroadcastId: req.GetBroadcastId(), State: notifierv1.BroadcastState(st)}, nil
}

// ListBroadcastFailures implements NotifierService.ListBroadcastFailures
// (pages of 1000; the page token is an offset this service made).
func (s *Service) ListBroadcastFailures(ctx context.Context, req *notifierv1.ListBroadcastFailuresRequest) (*notifierv1.ListBroadcastFailuresResponse, error) {
	bc, err := s.broadcasts()
	if err != nil {
		return nil, err
	}
	if err := validateBroadcastID(req.GetBroadcastId()); err != nil {
		return nil, toStatus(err)
	}
	var offset int64
	if t := req.GetPageToken(); t != "" {
		offset, err = strconv.ParseInt(t, 10, 64)
		if err != nil || offset <= 0 {
			return nil, toStatus(invalid("page_token", "not a token this service made (pass next_page_token)"))
		}
	}
	fs, next, err := bc.st.BroadcastFailures(ctx, req.GetBroadcastId(), offset, failuresPage)
	if err != nil {
		return nil, broadcastNotFound(err)
	}
	out := &notifierv1.ListBroadcastFailuresResponse{Failures: make([]*notifierv1.BroadcastFailure, len(fs))}
	for i, f := range fs {
		out.Failures[i] = &notifierv1.BroadcastFailure{UserId: f.UserID, FailureReason: f.Reason}
	}
	if next > 0 {
		out.NextPageToken = strconv.FormatInt(next, 10)
	}
	return out, nil
}

// maxBroadcastBody bounds a Broadcast request (gRPC or REST): 100,000 ids
// of up to 128 bytes, quoted, and the message.
const maxBroadcastBody = 16 << 20

// restBodyLimit bounds REST bodies: maxBroadcastBody for POST
// /v1/broadcasts, maxRESTBody for every other request.
func restBodyLimit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxRESTBody)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/broadcasts" {
			limit = maxBroadcastBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

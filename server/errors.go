package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// Domain errors of the service. They travel up wrapped with %w and are
// turned into gRPC status codes only by toStatus.
var (
	// ErrNotLinked means the user has no linked Telegram chat.
	ErrNotLinked = errors.New("user is not linked to a Telegram chat")
	// ErrBotUnknown means the bot's username is not known yet (getMe has not
	// answered), so no deep link can be built.
	ErrBotUnknown = errors.New("bot username not known yet (Telegram getMe has not answered)")
	// ErrReplyToNotFound means reply_to_notification_id names no
	// notification (unknown, or its record expired).
	ErrReplyToNotFound = errors.New("the notification to reply to is unknown or its record expired")
)

// InvalidArgumentError reports a bad request field.
type InvalidArgumentError struct {
	Field  string
	Reason string
}

func (e *InvalidArgumentError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) error {
	return &InvalidArgumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// backlogRetryDelay is the RetryInfo of an enqueue refused by a backlog
// limit: about the time a few sends take to free a slot.
const backlogRetryDelay = 5 * time.Second

// toStatus maps any error of the service to a gRPC status. It is the one
// place where domain, store and Telegram errors become status codes; the
// REST mirror's HTTP codes follow from these through grpc-gateway.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var (
		inv    *InvalidArgumentError
		tgErr  *telegram.Error
		tooOld *events.CursorTooOldError
		ph     *delivery.PlaceholderError
		nobot  *BotNotFoundError
	)
	switch {
	case errors.As(err, &nobot):
		return botStatus(nobot)
	case errors.As(err, &inv):
		st := status.New(codes.InvalidArgument, inv.Error())
		return withDetails(st, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: inv.Field, Description: inv.Reason},
		}})
	case errors.As(err, &ph):
		field := "values[" + ph.Name + "]" // a value no placeholder uses
		if ph.Missing {
			field = "text" // a placeholder without a value
		}
		return toStatus(&InvalidArgumentError{Field: field, Reason: ph.Error()})
	case errors.As(err, &tooOld):
		return withDetails(status.New(codes.OutOfRange, fmt.Sprintf(
			"after_cursor is older than the oldest retained event: events after it were trimmed; the oldest cursor still available is %q (or pass an empty after_cursor to read from the oldest retained event)",
			tooOld.Oldest)),
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "after_cursor", Description: "trimmed by retention; oldest cursor " + tooOld.Oldest}}})
	case errors.Is(err, events.ErrBadCursor):
		return toStatus(invalid("after_cursor", "not a cursor this service made (pass an event's cursor or a next_cursor)"))
	case errors.Is(err, ErrShuttingDown):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, ErrNoEventLog):
		return status.Error(codes.Unimplemented, err.Error())
	case errors.Is(err, ErrNotLinked):
		st := status.New(codes.FailedPrecondition, err.Error())
		return withDetails(st, &errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: "LINK", Subject: "user", Description: "the user must open their deep link and press Start first"},
		}})
	case errors.Is(err, delivery.ErrTooLong):
		return withDetails(status.New(codes.InvalidArgument, "invalid text: longer than one Telegram message (4096 UTF-16 code units after entity parsing); use LONG_TEXT_POLICY_SPLIT to send it as several messages"),
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "text", Description: "too long for LONG_TEXT_POLICY_REJECT"}}})
	case errors.Is(err, delivery.ErrCannotSplit), errors.Is(err, delivery.ErrInvalidText), errors.Is(err, delivery.ErrInvalidRequest):
		return withDetails(status.New(codes.InvalidArgument, "invalid text: "+err.Error()),
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "text", Description: err.Error()}}})
	case errors.Is(err, delivery.ErrBacklogFull), errors.Is(err, delivery.ErrQueueFull):
		// Admission control: nothing was accepted; a slot frees as sends
		// finish.
		return withDetails(status.New(codes.ResourceExhausted, err.Error()),
			&errdetails.RetryInfo{RetryDelay: durationpb.New(backlogRetryDelay)})
	case errors.Is(err, delivery.ErrNotEditable):
		return withDetails(status.New(codes.FailedPrecondition, err.Error()),
			&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
				{Type: "STATE", Subject: "notification", Description: err.Error()},
			}})
	case errors.Is(err, ErrReplyToNotFound):
		return withDetails(status.New(codes.NotFound, err.Error()),
			&errdetails.ResourceInfo{ResourceType: "notification", ResourceName: "reply_to_notification_id",
				Description: "unknown, or its record expired"})
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, "not found (unknown id, or its record expired)")
	case errors.Is(err, ErrBotUnknown):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, delivery.ErrUnavailable):
		return status.Error(codes.Unavailable, "storage unavailable, retry later")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.As(err, &tgErr):
		return telegramStatus(tgErr)
	case telegram.IsTemporary(err):
		return status.Error(codes.Unavailable, "telegram unreachable: "+err.Error())
	default:
		return status.Error(codes.Internal, "internal error")
	}
}

// telegramStatus maps a Bot API error answer to a status that carries
// Telegram's own description.
func telegramStatus(e *telegram.Error) error {
	msg := "telegram: " + e.Description
	switch {
	case e.Code == 429:
		st := status.New(codes.Unavailable, msg)
		return withDetails(st, &errdetails.RetryInfo{RetryDelay: durationpb.New(max(e.RetryAfter, time.Second))})
	case telegram.IsParseEntities(e), telegram.IsTooLong(e):
		return status.Error(codes.InvalidArgument, msg)
	case e.Code == 400 || e.Code == 403:
		return status.Error(codes.FailedPrecondition, msg)
	case e.Code == 401 || e.Code == 404:
		// The bot token is wrong: not the caller's fault.
		return status.Error(codes.Internal, "telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)")
	case e.Code >= 500:
		return status.Error(codes.Unavailable, msg)
	default:
		return status.Error(codes.Unknown, msg)
	}
}

// withDetails attaches an error detail; a failure to encode it leaves the
// plain status, which is still correct.
func withDetails(st *status.Status, d protoadapt.MessageV1) error {
	if ds, err := st.WithDetails(d); err == nil {
		return ds.Err()
	}
	return st.Err()
}

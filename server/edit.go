package server

import (
	"context"

	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// Editor is what the service needs from the delivery engine for
// EditNotification and DeleteNotification (*delivery.Dispatcher).
type Editor interface {
	Edit(ctx context.Context, r delivery.EditRequest) (delivery.Notification, error)
	Delete(ctx context.Context, id string) (delivery.Notification, error)
}

var _ Editor = (*delivery.Dispatcher)(nil)

// EditNotification implements NotifierService.EditNotification: before
// the notification is sent the edit replaces what will be sent; after, the
// sent message is edited through its chat's queue (delivery/edit.go). An
// empty text keeps the text (only the keyboard changes); an edit that
// changes nothing is INVALID_ARGUMENT.
func (s *Service) EditNotification(ctx context.Context, req *notifierv1.EditNotificationRequest) (*notifierv1.EditNotificationResponse, error) {
	r, err := editRequest(req)
	if err != nil {
		return nil, toStatus(err)
	}
	n, err := s.delivery.Edit(ctx, r)
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.EditNotificationResponse{NotificationId: n.ID, State: notifierv1.NotificationState(n.State),
		Revision: int32(n.Rev())}, nil
}

// editRequest validates an edit (everything but what depends on the
// record: its state, media and the fit of the new text).
func editRequest(req *notifierv1.EditNotificationRequest) (delivery.EditRequest, error) {
	if err := validateID("notification_id", req.GetNotificationId(), MaxIdempotencyKeyLen, true); err != nil {
		return delivery.EditRequest{}, err
	}
	buttons, err := validateButtons(req.GetButtons())
	if err != nil {
		return delivery.EditRequest{}, err
	}
	rows := req.GetButtons()
	switch {
	case req.GetClearButtons() && len(rows) > 0:
		return delivery.EditRequest{}, invalid("clear_buttons", "cannot be set together with buttons")
	case isBlank(req.GetText()) && len(rows) == 0 && !req.GetClearButtons():
		return delivery.EditRequest{}, invalid("text", "must not be empty unless the edit sets buttons or clear_buttons")
	}
	r := delivery.EditRequest{ID: req.GetNotificationId(), Buttons: buttons, ClearButtons: req.GetClearButtons()}
	if isBlank(req.GetText()) {
		if len(req.GetValues()) > 0 {
			return delivery.EditRequest{}, invalid("values", "given without a text")
		}
		if _, ok := parseModes[req.GetParseMode()]; !ok {
			return delivery.EditRequest{}, invalid("parse_mode", "unknown value %d", int32(req.GetParseMode()))
		}
		return r, nil
	}
	pm, err := validateText(req.GetText(), req.GetParseMode(), false)
	if err != nil {
		return delivery.EditRequest{}, err
	}
	text, err := expandValues(req.GetText(), pm, req.GetValues(), false)
	if err != nil {
		return delivery.EditRequest{}, err
	}
	r.Text, r.ParseMode = text, pm
	return r, nil
}

// DeleteNotification implements NotifierService.DeleteNotification: a
// notification not fully sent is CANCELLED (never sent); its sent
// messages are deleted through its chat's queue. Deleting twice is
// harmless; Telegram's refusal (48 h) is recorded as delete_error.
func (s *Service) DeleteNotification(ctx context.Context, req *notifierv1.DeleteNotificationRequest) (*notifierv1.DeleteNotificationResponse, error) {
	if err := validateID("notification_id", req.GetNotificationId(), MaxIdempotencyKeyLen, true); err != nil {
		return nil, toStatus(err)
	}
	n, err := s.delivery.Delete(ctx, req.GetNotificationId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &notifierv1.DeleteNotificationResponse{NotificationId: n.ID, State: notifierv1.NotificationState(n.State)}, nil
}

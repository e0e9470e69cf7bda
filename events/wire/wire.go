// Package wire converts the event log's model (events.Event) to its
// notifier.v1 wire form: the proto message the API streams, and the JSON
// batch the event webhook posts. Both use protojson with the proto field
// names, as the REST gateway does, so a receiver parses a webhook body and
// a REST response the same way.
//
//	pb := wire.ToProto(ev)                 // *notifierv1.Event
//	body, err := wire.MarshalBatch(evs)    // {"events":[…]}
package wire

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tgnotify/tgnotify/events"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// JSONOptions returns the protojson form REST and the webhook use: proto
// field names, zero values included (the REST gateway's marshaler options).
func JSONOptions() protojson.MarshalOptions {
	return protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
}

// ToProto returns e as a notifier.v1 Event. A zero Time stays unset.
func ToProto(e events.Event) *notifierv1.Event {
	pb := &notifierv1.Event{
		Cursor:         e.Cursor,
		EventId:        e.ID,
		Type:           notifierv1.EventType(e.Type),
		UserId:         e.UserID,
		ChatId:         e.ChatID,
		NotificationId: e.NotificationID,
		State:          notifierv1.NotificationState(e.State),
		Reason:         e.Reason,
		Callback:       e.Callback,
		Text:           e.Text,
		Username:       e.Username,
		BroadcastId:    e.BroadcastID,
	}
	if !e.Time.IsZero() {
		pb.Time = timestamppb.New(e.Time)
	}
	return pb
}

// TypeFromProto returns the model's type for a wire type and whether it is
// a known, specified one (EVENT_TYPE_UNSPECIFIED and unknown numbers are
// not).
func TypeFromProto(t notifierv1.EventType) (events.Type, bool) {
	et := events.Type(t)
	return et, et.Valid()
}

// MarshalBatch returns evs as the JSON object {"events":[…]}, each event in
// protojson with proto field names (as REST). An empty batch is
// {"events":[]}.
func MarshalBatch(evs []events.Event) ([]byte, error) { return marshalBatch(evs, "") }

// MarshalBotBatch returns MarshalBatch for the event log of bot: each
// event carries the bot's id.
func MarshalBotBatch(bot string) func([]events.Event) ([]byte, error) {
	return func(evs []events.Event) ([]byte, error) { return marshalBatch(evs, bot) }
}

func marshalBatch(evs []events.Event, bot string) ([]byte, error) {
	opts := JSONOptions()
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		pe := ToProto(e)
		pe.Bot = bot
		js, err := opts.Marshal(pe)
		if err != nil {
			return nil, fmt.Errorf("wire: marshal event %q: %w", e.ID, err)
		}
		b.Write(js)
	}
	b.WriteString(`]}`)
	return b.Bytes(), nil
}

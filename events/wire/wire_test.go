package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/events/wire"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

func TestToProtoCopiesEveryField(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 5000, time.UTC)
	e := events.Event{
		Cursor: "1-0", ID: "ev1", Type: events.TypeNotificationFailed, Time: at,
		UserID: "u1", ChatID: 42, NotificationID: "n1", State: 4, Reason: "blocked",
		Callback: "cb", Text: "hi", Username: "bob",
	}
	pb := wire.ToProto(e)
	want := &notifierv1.Event{
		Cursor: "1-0", EventId: "ev1", Type: notifierv1.EventType_EVENT_TYPE_NOTIFICATION_FAILED,
		UserId: "u1", ChatId: 42, NotificationId: "n1",
		State: notifierv1.NotificationState_NOTIFICATION_STATE_FAILED, Reason: "blocked",
		Callback: "cb", Text: "hi", Username: "bob",
	}
	if !pb.GetTime().AsTime().Equal(at) {
		t.Fatalf("time = %v, want %v", pb.GetTime().AsTime(), at)
	}
	pb.Time = nil
	if pb.String() != want.String() {
		t.Fatalf("ToProto = %v\nwant %v", pb, want)
	}
	if wire.ToProto(events.Event{}).Time != nil {
		t.Fatal("zero time should stay unset")
	}
}

func TestTypeFromProto(t *testing.T) {
	tests := []struct {
		name string
		in   notifierv1.EventType
		want events.Type
		ok   bool
	}{
		{"linked", notifierv1.EventType_EVENT_TYPE_USER_LINKED, events.TypeUserLinked, true},
		{"message", notifierv1.EventType_EVENT_TYPE_MESSAGE_RECEIVED, events.TypeMessageReceived, true},
		{"unspecified", notifierv1.EventType_EVENT_TYPE_UNSPECIFIED, 0, false},
		{"unknown", notifierv1.EventType(99), 99, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := wire.TypeFromProto(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("TypeFromProto(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
	// Every proto enum value but UNSPECIFIED maps to a valid model type.
	for n := range notifierv1.EventType_name {
		if _, ok := wire.TypeFromProto(notifierv1.EventType(n)); ok != (n != 0) {
			t.Errorf("EventType %d: ok = %v", n, ok)
		}
	}
}

func TestMarshalBatch(t *testing.T) {
	evs := []events.Event{
		{Cursor: "1-0", ID: "a", Type: events.TypeUserLinked, UserID: "u1", ChatID: 7, Time: time.Unix(1764600000, 0)},
		{Cursor: "2-0", ID: "b", Type: events.TypeUserUnlinked, UserID: "u1", Reason: events.ReasonStop},
	}
	body, err := wire.MarshalBatch(evs)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	if len(got.Events) != 2 {
		t.Fatalf("%d events, want 2: %s", len(got.Events), body)
	}
	var fields map[string]any
	if err := json.Unmarshal(got.Events[0], &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cursor", "event_id", "user_id", "chat_id", "notification_id", "type"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("field %q missing (proto names, zero values emitted): %s", k, got.Events[0])
		}
	}
	if fields["type"] != "EVENT_TYPE_USER_LINKED" || fields["time"] != "2025-12-01T14:40:00Z" {
		t.Errorf("type/time = %v/%v: %s", fields["type"], fields["time"], got.Events[0])
	}
	var back notifierv1.Event
	if err := protojson.Unmarshal(got.Events[1], &back); err != nil {
		t.Fatal(err)
	}
	if back.GetReason() != "stop" || back.GetEventId() != "b" {
		t.Errorf("round trip = %v", &back)
	}
	empty, err := wire.MarshalBatch(nil)
	if err != nil || string(empty) != `{"events":[]}` {
		t.Fatalf("empty batch = %s, %v", empty, err)
	}
}

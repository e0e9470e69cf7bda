package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// TestSendParams checks the sendMessage parameters of a part, as the Bot
// API receives them (JSON): the link preview and protect_content on every
// part, reply_parameters only where a reply target is given.
func TestSendParams(t *testing.T) {
	n := Notification{Parts: []string{"one", "two"}, ParseMode: "HTML", DisableNotification: true}
	rich := n
	rich.DisableLinkPreview, rich.ProtectContent, rich.ReplyToID = true, true, "orig"
	second := rich
	second.NextPart = 1
	tests := []struct {
		name    string
		n       Notification
		mode    string
		replyTo int64
		paid    bool
		want    string
	}{
		{"plain", n, "HTML", 0, false,
			`{"chat_id":7,"text":"one","parse_mode":"HTML","disable_notification":true}`},
		{"paid", n, "HTML", 0, true,
			`{"chat_id":7,"text":"one","parse_mode":"HTML","disable_notification":true,"allow_paid_broadcast":true}`},
		{"first part, reply", rich, "HTML", 41, false,
			`{"chat_id":7,"text":"one","parse_mode":"HTML","disable_notification":true,"link_preview_options":{"is_disabled":true},"protect_content":true,"reply_parameters":{"message_id":41,"allow_sending_without_reply":true}}`},
		{"first part, original not replied to", rich, "HTML", 0, false,
			`{"chat_id":7,"text":"one","parse_mode":"HTML","disable_notification":true,"link_preview_options":{"is_disabled":true},"protect_content":true}`},
		{"second part", second, "HTML", 0, false,
			`{"chat_id":7,"text":"two","parse_mode":"HTML","disable_notification":true,"link_preview_options":{"is_disabled":true},"protect_content":true}`},
		{"plain-text resend", rich, "", 41, false,
			`{"chat_id":7,"text":"one","disable_notification":true,"link_preview_options":{"is_disabled":true},"protect_content":true,"reply_parameters":{"message_id":41,"allow_sending_without_reply":true}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(sendParams(7, tc.n, tc.mode, tc.replyTo, tc.paid))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("params =\n%s, want\n%s", b, tc.want)
			}
		})
	}
}

// getQueue is a Queue whose Get answers from recs (err when set); the rest
// of Queue is not used.
type getQueue struct {
	Queue
	recs map[string]Notification
	err  error
}

func (q getQueue) Get(_ context.Context, id string) (Notification, error) {
	if q.err != nil {
		return Notification{}, q.err
	}
	n, ok := q.recs[id]
	if !ok {
		return Notification{}, fmt.Errorf("notification %q: not found", id)
	}
	return n, nil
}

// TestReplyTarget checks which message a first part replies to, read from
// the original's record at send time.
func TestReplyTarget(t *testing.T) {
	recs := map[string]Notification{
		"sent":    {ID: "sent", ChatID: 5, State: StateSent, MessageIDs: []int64{11, 12}},
		"midway":  {ID: "midway", ChatID: 5, State: StateSending, MessageIDs: []int64{21}},
		"failed":  {ID: "failed", ChatID: 5, State: StateFailed, MessageIDs: []int64{31}},
		"unsent":  {ID: "unsent", ChatID: 5, State: StateQueued},
		"elsewhr": {ID: "elsewhr", ChatID: 6, State: StateSent, MessageIDs: []int64{41}},
	}
	follow := func(replyTo string, next int) Claim {
		return Claim{ChatID: 5, Notification: Notification{ID: "f", ChatID: 5, Parts: []string{"a", "b"},
			ReplyToID: replyTo, NextPart: next}}
	}
	tests := []struct {
		name    string
		c       Claim
		err     error
		want    int64
		wantErr bool
	}{
		{"no reply", follow("", 0), nil, 0, false},
		{"sent original: its first message", follow("sent", 0), nil, 11, false},
		{"original mid-split: its first message", follow("midway", 0), nil, 21, false},
		{"second part: no reply", follow("sent", 1), nil, 0, false},
		{"failed original", follow("failed", 0), nil, 0, false},
		{"original without messages", follow("unsent", 0), nil, 0, false},
		{"original in another chat", follow("elsewhr", 0), nil, 0, false},
		{"expired original", follow("gone", 0), nil, 0, false},
		{"store down", follow("sent", 0), fmt.Errorf("get: %w", ErrUnavailable), 0, true},
		{"store down, no reply asked", follow("", 0), ErrUnavailable, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &worker{d: New(Config{}, getQueue{recs: recs, err: tc.err}, nil, nil), hard: context.Background()}
			got, err := w.replyTarget(tc.c)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("replyTarget = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("error %v does not wrap ErrUnavailable", err)
			}
		})
	}
}

package fakebot_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
)

// TestSendMessageRichParams checks link_preview_options, protect_content
// and reply_parameters: decoded in JSON bodies and as JSON-serialized form
// fields, refused with Telegram's errors when they cannot be parsed,
// recorded on the stored message and answered in the returned Message.
func TestSendMessageRichParams(t *testing.T) {
	srv, client := newServer(t)
	srv.Start(42, "alice", "") // message 1: the user's /start
	ctx := testCtx(t)
	base := srv.URL() + "/bot" + srv.Token() + "/sendMessage"
	post := func(t *testing.T, body string) (int, apiResp) {
		t.Helper()
		r, _ := http.NewRequest("POST", base, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return do(t, r)
	}
	form := func(t *testing.T, v url.Values) (int, apiResp) {
		t.Helper()
		r, _ := http.NewRequest("POST", base, strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, r)
	}

	first, err := client.SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "original",
		LinkPreviewOptions: &telegram.LinkPreviewOptions{IsDisabled: true}, ProtectContent: true})
	if err != nil {
		t.Fatal(err)
	}
	last := srv.Messages(42)[len(srv.Messages(42))-1]
	if last.MessageID != first.MessageID || last.LinkPreviewOptions == nil || !last.LinkPreviewOptions.IsDisabled ||
		!last.ProtectContent || last.ReplyParameters != nil || last.ReplyToMessageID != 0 {
		t.Fatalf("stored %+v", last)
	}

	// A reply to an existing message: recorded, and the Message says so.
	status, r := post(t, `{"chat_id":42,"text":"follow-up","reply_parameters":{"message_id":`+
		jsonInt(first.MessageID)+`,"allow_sending_without_reply":true}}`)
	var m struct {
		ReplyTo *struct {
			MessageID int64 `json:"message_id"`
		} `json:"reply_to_message"`
		Protected bool `json:"has_protected_content"`
	}
	if status != 200 || json.Unmarshal(r.Result, &m) != nil || m.ReplyTo == nil || m.ReplyTo.MessageID != first.MessageID || m.Protected {
		t.Fatalf("reply: %d %+v %s", status, r, r.Result)
	}
	last = srv.Messages(42)[len(srv.Messages(42))-1]
	if last.ReplyToMessageID != first.MessageID || last.ReplyParameters == nil ||
		*last.ReplyParameters != (telegram.ReplyParameters{MessageID: first.MessageID, AllowSendingWithoutReply: true}) {
		t.Fatalf("stored reply %+v", last)
	}
	// The user's own message can be replied to too (ids are per chat).
	if status, r := form(t, url.Values{"chat_id": {"42"}, "text": {"to the user"}, "reply_parameters": {`{"message_id":1}`},
		"protect_content": {"true"}}); status != 200 {
		t.Fatalf("reply to the user's message: %d %+v", status, r)
	}
	if last = srv.Messages(42)[len(srv.Messages(42))-1]; last.ReplyToMessageID != 1 || !last.ProtectContent {
		t.Fatalf("stored %+v", last)
	}

	// A message that is not in the chat: sent as no reply when allowed.
	if status, r := post(t, `{"chat_id":42,"text":"orphan","reply_parameters":{"message_id":999,"allow_sending_without_reply":true}}`); status != 200 ||
		strings.Contains(string(r.Result), "reply_to_message") {
		t.Fatalf("allowed without reply: %d %+v %s", status, r, r.Result)
	}
	if last = srv.Messages(42)[len(srv.Messages(42))-1]; last.Text != "orphan" || last.ReplyToMessageID != 0 || last.ReplyParameters == nil {
		t.Fatalf("stored %+v", last)
	}

	before := len(srv.Messages(42))
	for _, tc := range []struct {
		name, body, desc string
	}{
		{"reply not found", `{"chat_id":42,"text":"x","reply_parameters":{"message_id":999}}`,
			"Bad Request: message to be replied not found"},
		{"reply to another chat's id", `{"chat_id":42,"text":"x","reply_parameters":{"message_id":0}}`,
			"Bad Request: message to be replied not found"},
		{"reply parameters not JSON", `{"chat_id":42,"text":"x","reply_parameters":"{message_id:1"}`,
			"Bad Request: can't parse reply parameters JSON object"},
		{"reply parameters not an object", `{"chat_id":42,"text":"x","reply_parameters":5}`,
			"Bad Request: object expected as reply parameters"},
		{"link preview options not an object", `{"chat_id":42,"text":"x","link_preview_options":[]}`,
			"Bad Request: object expected as link preview options"},
		{"a flag that is not a Boolean", `{"chat_id":42,"text":"x","reply_parameters":{"message_id":1,"allow_sending_without_reply":"yes"}}`,
			`Bad Request: field "allow_sending_without_reply" must be of type Boolean`},
		{"is_disabled not a Boolean", `{"chat_id":42,"text":"x","link_preview_options":{"is_disabled":"1"}}`,
			`Bad Request: field "is_disabled" must be of type Boolean`},
		{"message_id not an Integer", `{"chat_id":42,"text":"x","reply_parameters":{"message_id":true}}`,
			`Bad Request: field "message_id" must be of type Integer`},
		{"link preview options not JSON", `{"chat_id":42,"text":"x","link_preview_options":"{is_disabled"}`,
			"Bad Request: can't parse link preview options JSON object"},
		{"protect_content not a Boolean", `{"chat_id":42,"text":"x","protect_content":"maybe"}`,
			`Bad Request: field "protect_content" must be of type Boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, r := post(t, tc.body)
			if status != 400 || r.OK || r.ErrorCode != 400 || r.Description != tc.desc {
				t.Fatalf("%d %+v, want 400 %q", status, r, tc.desc)
			}
		})
	}
	if status, r := form(t, url.Values{"chat_id": {"42"}, "text": {"x"}, "link_preview_options": {"nope"}}); status != 400 ||
		r.Description != "Bad Request: can't parse link preview options JSON object" {
		t.Fatalf("form: %d %+v", status, r)
	}
	if got := len(srv.Messages(42)); got != before {
		t.Fatalf("%d messages stored by refused sends", got-before)
	}
}

func jsonInt(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

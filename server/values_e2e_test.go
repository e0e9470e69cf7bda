package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// valueSpecials holds MarkdownV2's reserved characters, the backslash and
// HTML's.
const valueSpecials = "_*[]()~`>#+-=|{}.!\\ <>&\""

// TestNotifyValues drives NotifyRequest.values and the plain-text
// fallback end to end over gRPC and REST, on both backends: values with
// special characters arrive and parse, missing and unused placeholders are
// INVALID_ARGUMENT naming them with nothing stored, and a fallback sends
// the text without its markup and records degraded "parse_entities".
func TestNotifyValues(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		const chat = int64(14001)
		h.link("vera", chat)
		testValuesDelivered(t, h, chat)
		testValuesRefused(t, h, chat)
		testFallbackStripsMarkup(t, h, chat)
	})
}

// lastMessage returns the chat's last message after waiting for the
// notification to be SENT.
func (h *harness) lastMessage(id string, chat int64) fakebot.SentMessage {
	h.t.Helper()
	if r := h.waitFinal(id); r.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		h.t.Fatalf("notification %s: %v", id, r)
	}
	msgs := h.fake.Messages(chat)
	return msgs[len(msgs)-1]
}

func testValuesDelivered(t *testing.T, h *harness, chat int64) {
	for _, tc := range []struct {
		mode notifierv1.ParseMode
		text string
		want string // the text the user reads
	}{
		{notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2, "*Deploy* of {{svc}} took {{secs}}s", "Deploy of " + valueSpecials + " took 1.5s"},
		{notifierv1.ParseMode_PARSE_MODE_HTML, "<b>Deploy</b> of {{svc}} took {{secs}}s", "Deploy of " + valueSpecials + " took 1.5s"},
		{notifierv1.ParseMode_PARSE_MODE_UNSPECIFIED, "Deploy of {{svc}} took {{secs}}s", "Deploy of " + valueSpecials + " took 1.5s"},
	} {
		r := h.notify(&notifierv1.NotifyRequest{UserId: "vera", Text: tc.text, ParseMode: tc.mode,
			Values: map[string]string{"svc": valueSpecials, "secs": "1.5"}})
		m := h.lastMessage(r.GetNotificationId(), chat)
		if m.PlainText != tc.want {
			t.Fatalf("%s: the user reads %q, want %q (sent %q)", tc.mode, m.PlainText, tc.want, m.Text)
		}
		if tc.mode != notifierv1.ParseMode_PARSE_MODE_UNSPECIFIED && len(m.Entities) == 0 {
			t.Fatalf("%s: the markup was lost: %+v", tc.mode, m)
		}
	}
	// REST: the same, as JSON.
	code, body := h.rest("POST", "/v1/users/vera/notifications", map[string]any{
		"text": "<i>{{who}}</i> said hi", "parse_mode": "PARSE_MODE_HTML", "values": map[string]string{"who": "<Tom & Jerry>"}})
	if code != http.StatusOK {
		t.Fatalf("REST notify with values: %d %v", code, body)
	}
	id, _ := body["notification_id"].(string)
	if m := h.lastMessage(id, chat); m.PlainText != "<Tom & Jerry> said hi" {
		t.Fatalf("REST: the user reads %q (sent %q)", m.PlainText, m.Text)
	}
}

func testValuesRefused(t *testing.T, h *harness, chat int64) {
	ctx := ctxT(t)
	before, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "vera"})
	if err != nil {
		t.Fatal(err)
	}
	sentBefore := len(h.fake.Messages(chat))
	for _, tc := range []struct {
		name, text string
		values     map[string]string
		field      string
		names      string // what the description must name
	}{
		{"missing", "hi {{name}}", map[string]string{}, "text", "name"},
		{"missing one of two", "{{a}} {{b}}", map[string]string{"a": "1"}, "text", "b"},
		{"unused", "hi", map[string]string{"extra": "1"}, "values[extra]", "extra"},
		{"bad name", "hi {{x}}", map[string]string{"x": "1", "a-b": "2"}, "values", "a-b"},
		{"value too long", "{{x}}", map[string]string{"x": strings.Repeat("v", 4097)}, "values[x]", "4096"},
		{"expanded too long", strings.Repeat("{{x}}", 17), map[string]string{"x": strings.Repeat("v", 4096)}, "text", "bytes"},
	} {
		_, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "vera", Text: tc.text, Values: tc.values})
		wantCode(t, err, codes.InvalidArgument)
		var fv *errdetails.BadRequest_FieldViolation
		for _, d := range status.Convert(err).Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 {
				fv = br.GetFieldViolations()[0]
			}
		}
		if fv == nil || fv.GetField() != tc.field || !strings.Contains(fv.GetDescription(), tc.names) {
			t.Fatalf("%s: violation %v, want field %s naming %q (%v)", tc.name, fv, tc.field, tc.names, err)
		}
	}
	// REST: 400 naming the placeholder.
	code, body := h.rest("POST", "/v1/users/vera/notifications", map[string]any{"text": "hi {{who}}"})
	raw, _ := json.Marshal(body)
	if code != http.StatusBadRequest || !strings.Contains(string(raw), "{{who}}") {
		t.Fatalf("REST missing placeholder: %d %s", code, raw)
	}
	code, body = h.rest("POST", "/v1/users/vera/notifications", map[string]any{"text": "hi", "values": map[string]string{"unused": "x"}})
	raw, _ = json.Marshal(body)
	if code != http.StatusBadRequest || !strings.Contains(string(raw), "values[unused]") {
		t.Fatalf("REST unused value: %d %s", code, raw)
	}
	// Nothing was stored or sent.
	after, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "vera"})
	if err != nil {
		t.Fatal(err)
	}
	if b, a := before.GetDelivery(), after.GetDelivery(); a.GetLastNotificationId() != b.GetLastNotificationId() ||
		a.GetQueued()+a.GetSent()+a.GetFailed() != b.GetQueued()+b.GetSent()+b.GetFailed() {
		t.Fatalf("refused requests were stored: before %v, after %v", b, a)
	}
	if n := len(h.fake.Messages(chat)); n != sentBefore {
		t.Fatalf("refused requests were sent: %d messages, had %d", n, sentBefore)
	}
}

func testFallbackStripsMarkup(t *testing.T, h *harness, chat int64) {
	for _, tc := range []struct {
		mode       notifierv1.ParseMode
		text, want string
	}{
		// The '.' is not escaped: Telegram cannot parse it.
		{notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2, "*Deploy* of _api_ took 1.5s", "Deploy of api took 1.5s"},
		{notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2, "*Deploy* of {{svc}} took \\~1.5s", "Deploy of a.b took ~1.5s"},
		// Mismatched tags.
		{notifierv1.ParseMode_PARSE_MODE_HTML, "<b>Deploy</b> of <i>api</b> took &lt;2s&gt;", "Deploy of api took <2s>"},
	} {
		req := &notifierv1.NotifyRequest{UserId: "vera", Text: tc.text, ParseMode: tc.mode, PlainTextFallback: true}
		if strings.Contains(tc.text, "{{svc}}") {
			// A value is escaped, so only the template can be at fault.
			req.Text = strings.Replace(req.Text, "1.5s", "1.5s.", 1)
			req.Values = map[string]string{"svc": "a.b"}
			tc.want += "."
		}
		r := h.notify(req)
		m := h.lastMessage(r.GetNotificationId(), chat)
		if m.ParseMode != "" || m.Text != tc.want {
			t.Fatalf("%s fallback sent %q (parse_mode %q), want %q", tc.mode, m.Text, m.ParseMode, tc.want)
		}
		for _, c := range []string{"*", "_", "<b>", "</b>", "&lt;", "\\"} {
			if strings.Contains(m.Text, c) {
				t.Fatalf("fallback text %q holds markup %q", m.Text, c)
			}
		}
		g, err := h.client.GetNotification(ctxT(t), &notifierv1.GetNotificationRequest{NotificationId: r.GetNotificationId()})
		if err != nil || g.GetDegraded() != "parse_entities" {
			t.Fatalf("GetNotification = %v, %v; want degraded parse_entities", g, err)
		}
		code, body := h.rest("GET", "/v1/notifications/"+r.GetNotificationId(), nil)
		if code != http.StatusOK || body["degraded"] != "parse_entities" {
			t.Fatalf("REST GetNotification: %d %v", code, body)
		}
	}
	// A notification sent as asked is not degraded.
	r := h.notify(&notifierv1.NotifyRequest{UserId: "vera", Text: "*fine*", ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2,
		PlainTextFallback: true})
	if g := h.waitFinal(r.GetNotificationId()); g.GetDegraded() != "" {
		t.Fatal(fmt.Sprintf("degraded %q without a fallback", g.GetDegraded()))
	}
}

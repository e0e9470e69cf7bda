package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestRichFields drives disable_link_preview, protect_content and
// reply_to_notification_id over gRPC and REST against the fake Bot API, on
// both backends.
func TestRichFields(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		testRichFields(t, h)
	})
}

// sentFor returns the fake's messages of chat that carry the ids, in order.
func (h *harness) sentFor(chat int64, ids []int64) []fakebot.SentMessage {
	h.t.Helper()
	var out []fakebot.SentMessage
	for _, id := range ids {
		for _, m := range h.fake.Messages(chat) {
			if m.MessageID == id {
				out = append(out, m)
			}
		}
	}
	if len(out) != len(ids) {
		h.t.Fatalf("chat %d: %d of messages %v found", chat, len(out), ids)
	}
	return out
}

func testRichFields(t *testing.T, h *harness) {
	const chat, otherChat = int64(16001), int64(16002)
	h.link("rita", chat)
	h.link("sam", otherChat)
	sent := notifierv1.NotificationState_NOTIFICATION_STATE_SENT

	// The link preview and protect_content reach Telegram on every part.
	long := strings.Repeat(strings.Repeat("word ", 199)+"https://example.com/x\n\n", 5) // 2 parts
	orig := h.notify(&notifierv1.NotifyRequest{UserId: "rita", Text: long, DisableLinkPreview: true, ProtectContent: true})
	on := h.waitFinal(orig.GetNotificationId())
	if on.GetState() != sent || len(on.GetMessageIds()) < 2 {
		t.Fatalf("original: %v", on)
	}
	for i, m := range h.sentFor(chat, on.GetMessageIds()) {
		if m.LinkPreviewOptions == nil || !m.LinkPreviewOptions.IsDisabled || !m.ProtectContent || m.ReplyParameters != nil {
			t.Fatalf("original part %d: %+v", i, m)
		}
	}

	// A follow-up is a reply to the original's first message (its first
	// part only), the link preview left alone.
	fu := h.notify(&notifierv1.NotifyRequest{UserId: "rita", Text: long, ReplyToNotificationId: orig.GetNotificationId()})
	fn := h.waitFinal(fu.GetNotificationId())
	if fn.GetState() != sent {
		t.Fatalf("follow-up: %v", fn)
	}
	for i, m := range h.sentFor(chat, fn.GetMessageIds()) {
		wantReply := int64(0)
		if i == 0 {
			wantReply = on.GetMessageIds()[0]
			if m.ReplyParameters == nil || !m.ReplyParameters.AllowSendingWithoutReply || m.ReplyParameters.MessageID != wantReply {
				t.Fatalf("follow-up part 0 reply_parameters = %+v", m.ReplyParameters)
			}
		} else if m.ReplyParameters != nil {
			t.Fatalf("follow-up part %d has reply_parameters %+v", i, m.ReplyParameters)
		}
		if m.ReplyToMessageID != wantReply || m.LinkPreviewOptions != nil || m.ProtectContent {
			t.Fatalf("follow-up part %d: %+v", i, m)
		}
	}

	// The original not yet sent when the follow-up is accepted: the
	// follow-up still replies to its first message, known by send time.
	h.fake.FailNext("sendMessage", 2, 502, "Bad Gateway", 0)
	slow := h.notify(&notifierv1.NotifyRequest{UserId: "rita", Text: "slow original"})
	quick := h.notify(&notifierv1.NotifyRequest{UserId: "rita", Text: "quick follow-up", ReplyToNotificationId: slow.GetNotificationId()})
	sn, qn := h.waitFinal(slow.GetNotificationId()), h.waitFinal(quick.GetNotificationId())
	if sn.GetState() != sent || qn.GetState() != sent || sn.GetAttempts() != 3 {
		t.Fatalf("slow %v, quick %v", sn, qn)
	}
	if m := h.sentFor(chat, qn.GetMessageIds())[0]; m.ReplyToMessageID != sn.GetMessageIds()[0] {
		t.Fatalf("reply to a late original: %+v, want a reply to %d", m, sn.GetMessageIds()[0])
	}

	// The original FAILED: the follow-up goes without reply_parameters.
	bad := h.notify(&notifierv1.NotifyRequest{UserId: "rita", Text: "price 1-2", ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2})
	if bn := h.waitFinal(bad.GetNotificationId()); bn.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_FAILED {
		t.Fatalf("bad: %v", bn)
	}
	af := h.notify(&notifierv1.NotifyRequest{UserId: "rita", Text: "after a failure", ReplyToNotificationId: bad.GetNotificationId()})
	an := h.waitFinal(af.GetNotificationId())
	if m := h.sentFor(chat, an.GetMessageIds())[0]; an.GetState() != sent || m.ReplyParameters != nil || m.ReplyToMessageID != 0 {
		t.Fatalf("follow-up of a failed original: %v %+v", an, m)
	}

	testRichFieldsREST(t, h, chat, on.GetMessageIds()[0], orig.GetNotificationId())
	testReplyToRefused(t, h, otherChat, orig.GetNotificationId())
}

// testRichFieldsREST sends the three fields as proto names in a REST body.
func testRichFieldsREST(t *testing.T, h *harness, chat, origMsg int64, origID string) {
	code, body := h.rest("POST", "/v1/users/rita/notifications", map[string]any{"text": "over REST",
		"disable_link_preview": true, "protect_content": true, "reply_to_notification_id": origID})
	id, _ := body["notification_id"].(string)
	if code != http.StatusOK || id == "" {
		t.Fatalf("REST Notify = %d %v", code, body)
	}
	n := h.waitFinal(id)
	m := h.sentFor(chat, n.GetMessageIds())[0]
	if m.Text != "over REST" || m.LinkPreviewOptions == nil || !m.LinkPreviewOptions.IsDisabled || !m.ProtectContent ||
		m.ReplyToMessageID != origMsg {
		t.Fatalf("REST follow-up: %+v", m)
	}
}

// testReplyToRefused checks that a reply to an unknown id or to another
// user's notification is refused and leaves nothing behind.
func testReplyToRefused(t *testing.T, h *harness, samChat int64, ritasID string) {
	ctx := ctxT(t)
	before, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := len(h.fake.Messages(samChat))
	_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "sam", Text: "x", ReplyToNotificationId: "0123456789abcdef0123456789abcdef"})
	wantCode(t, err, codes.NotFound)
	if !strings.Contains(err.Error(), "reply_to_notification_id") {
		t.Errorf("NOT_FOUND does not name the field: %v", err)
	}
	_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "sam", Text: "x", ReplyToNotificationId: ritasID})
	wantCode(t, err, codes.InvalidArgument)
	_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "sam", Text: "x", ReplyToNotificationId: strings.Repeat("a", 129)})
	wantCode(t, err, codes.InvalidArgument)
	for _, tc := range []struct {
		id   string
		want int
	}{{"unknown", http.StatusNotFound}, {ritasID, http.StatusBadRequest}, {"bad\nid", http.StatusBadRequest}} {
		code, body := h.rest("POST", "/v1/users/sam/notifications", map[string]any{"text": "x", "reply_to_notification_id": tc.id})
		if code != tc.want || !strings.Contains(fmt.Sprint(body), "reply_to_notification_id") {
			t.Errorf("REST reply to %q = %d %v, want %d naming the field", tc.id, code, body, tc.want)
		}
	}
	after, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.GetDelivery(), after.GetDelivery()
	if a.GetQueued() != b.GetQueued() || a.GetSent() != b.GetSent() || a.GetFailed() != b.GetFailed() ||
		a.GetLastNotificationId() != b.GetLastNotificationId() {
		t.Fatalf("refused replies changed sam's summary: %v → %v", b, a)
	}
	// A later notification of sam's goes out: nothing refused went before it.
	ok := h.notify(&notifierv1.NotifyRequest{UserId: "sam", Text: "still fine"})
	h.waitFinal(ok.GetNotificationId())
	if got := h.fake.Messages(samChat)[msgs:]; len(got) != 1 || got[0].Text != "still fine" {
		t.Fatalf("sam's chat got %+v", got)
	}
}

// TestSandboxShowsRichFields checks that GET /sandbox/chats/{id}/messages
// shows the link preview, protect_content and the message replied to.
func TestSandboxShowsRichFields(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true})
	const chat = int64(16101)
	h.link("tess", chat)
	orig := h.notify(&notifierv1.NotifyRequest{UserId: "tess", Text: "deploy started"})
	on := h.waitFinal(orig.GetNotificationId())
	fu := h.notify(&notifierv1.NotifyRequest{UserId: "tess", Text: "deploy done", DisableLinkPreview: true, ProtectContent: true,
		ReplyToNotificationId: orig.GetNotificationId()})
	h.waitFinal(fu.GetNotificationId())
	code, body := h.rest("GET", fmt.Sprintf("/sandbox/chats/%d/messages", chat), nil)
	msgs, _ := body["messages"].([]any)
	if code != http.StatusOK || len(msgs) == 0 {
		t.Fatalf("messages %d %v", code, body)
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	if last["text"] != "deploy done" || last["link_preview_disabled"] != true || last["protect_content"] != true ||
		last["reply_to_message_id"] != float64(on.GetMessageIds()[0]) {
		t.Fatalf("sandbox shows %v", last)
	}
	if first, _ := msgs[len(msgs)-2].(map[string]any); first["reply_to_message_id"] != nil || first["protect_content"] != nil {
		t.Fatalf("sandbox shows %v for a plain message", first)
	}
}

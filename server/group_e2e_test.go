package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
	"github.com/tgnotify/tgnotify/updates"
)

// groupEnv lifts the 20-per-minute group pacing, which is tested on its
// own (delivery.TestChatIntervalGroups) and here would only slow.
var groupEnv = map[string]string{"NOTIFIER_GROUP_RATE_PER_MINUTE": "0"}

// forumID is a forum supergroup of the fake.
const forumID = int64(-1001234567890)

// groupToken mints a group link token for user over gRPC and checks its
// ?startgroup= link.
func (h *harness) groupToken(user string) string {
	h.t.Helper()
	resp, err := h.client.CreateLinkToken(ctxT(h.t), &notifierv1.CreateLinkTokenRequest{UserId: user,
		ChatKind: notifierv1.ChatKind_CHAT_KIND_GROUP})
	if err != nil {
		h.t.Fatalf("CreateLinkToken(group): %v", err)
	}
	want := "https://t.me/" + h.fake.BotUsername() + "?startgroup=" + resp.GetToken()
	if resp.GetUrl() != want || !tokenRe.MatchString(resp.GetToken()) {
		h.t.Fatalf("group link = %q, want %q", resp.GetUrl(), want)
	}
	return resp.GetToken()
}

// linkGroup links user to group (title) through a startgroup link and
// waits for the welcome in the group.
func (h *harness) linkGroup(user string, group int64, title string) {
	h.t.Helper()
	tok := h.groupToken(user)
	before := len(h.fake.Messages(group))
	h.fake.StartGroup(group, title, 5, "carol", tok)
	msgs, err := h.fake.WaitForMessages(ctxT(h.t), group, before+1)
	if err != nil {
		h.t.Fatalf("no welcome in the group: %v", err)
	}
	if got := msgs[len(msgs)-1].Text; got != updates.DefaultWelcomeMessage {
		h.t.Fatalf("reply in the group = %q, want the welcome", got)
	}
}

// status is GetStatus over gRPC.
func (h *harness) status(user string) *notifierv1.GetStatusResponse {
	h.t.Helper()
	st, err := h.client.GetStatus(ctxT(h.t), &notifierv1.GetStatusRequest{UserId: user})
	if err != nil {
		h.t.Fatalf("GetStatus(%s): %v", user, err)
	}
	return st
}

// TestGroupLinkTopicsAndRemoval walks the group flow end to end on both
// backends: a startgroup link links a forum supergroup (GetStatus tells
// kind and title), a notification goes into a topic, a closed topic falls
// back to the main chat with a note (degraded topic_fallback), a deleted
// one with no_topic_fallback fails topic_not_found, and removing the bot
// unlinks the group (reason removed, with its event).
func TestGroupLinkTopicsAndRemoval(t *testing.T) {
	t.Parallel()
	onBothBackendsWith(t, groupEnv, func(t *testing.T, h *harness) {
		const user = "team-ops"
		h.linkGroup(user, forumID, "Ops room")
		st := h.status(user)
		if !st.GetLinked() || st.GetChatId() != forumID || st.GetChatKind() != notifierv1.ChatKind_CHAT_KIND_GROUP ||
			st.GetChatTitle() != "Ops room" || st.GetUsername() != "carol" {
			t.Fatalf("GetStatus = %v, want the forum, kind group, title Ops room", st)
		}
		topic, err := h.fake.CreateTopic(forumID, "deploys")
		if err != nil {
			t.Fatal(err)
		}

		// Into the topic.
		n := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: user, Text: "v1 deployed", TopicId: topic}).GetNotificationId())
		if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || n.GetDegraded() != "" {
			t.Fatalf("topic send = %v", n)
		}
		last := lastMessage(t, h, forumID)
		if last.Text != "v1 deployed" || last.MessageThreadID != topic {
			t.Fatalf("sent %+v, want it in topic %d", last, topic)
		}

		// The topic closed: to the main chat with the note.
		if err := h.fake.CloseTopic(forumID, topic, true); err != nil {
			t.Fatal(err)
		}
		n = h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: user, Text: "v2 *deployed*", TopicId: topic,
			ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2}).GetNotificationId())
		if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || n.GetDegraded() != delivery.DegradedTopicFallback {
			t.Fatalf("closed topic send = %v, want SENT degraded topic_fallback", n)
		}
		last = lastMessage(t, h, forumID)
		if last.MessageThreadID != 0 || last.Text != delivery.TopicNote(topic)+"v2 *deployed*" ||
			!strings.Contains(last.PlainText, "topic "+itoa(topic)) {
			t.Fatalf("fallback message = %+v, want the note in the main chat", last)
		}

		// The topic deleted and no fallback asked for: FAILED.
		if err := h.fake.DeleteTopic(forumID, topic); err != nil {
			t.Fatal(err)
		}
		sent := len(h.fake.Messages(forumID))
		n = h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: user, Text: "v3", TopicId: topic, NoTopicFallback: true}).GetNotificationId())
		if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_FAILED || n.GetFailureReason() != delivery.ReasonTopicNotFound ||
			n.GetLastError() != "Bad Request: message thread not found" {
			t.Fatalf("no-fallback send = %v, want FAILED topic_not_found", n)
		}
		if got := len(h.fake.Messages(forumID)); got != sent {
			t.Fatalf("%d messages after a failed topic send, want %d", got, sent)
		}

		// The bot removed from the group: unlinked, reason removed.
		h.fake.RemoveFromGroup(forumID, 5, "carol", false)
		eventually(t, 10*time.Second, "group unlinked", func() bool { return !h.status(user).GetLinked() })
		evs, err := h.client.ListEvents(ctxT(t), &notifierv1.ListEventsRequest{UserId: user,
			Types: []notifierv1.EventType{notifierv1.EventType_EVENT_TYPE_USER_UNLINKED}})
		if err != nil || len(evs.GetEvents()) != 1 || evs.GetEvents()[0].GetReason() != "removed" ||
			evs.GetEvents()[0].GetChatId() != forumID {
			t.Fatalf("unlink events = %v, %v; want one with reason removed", evs.GetEvents(), err)
		}
		_, err = h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: user, Text: "x", TopicId: topic})
		wantCode(t, err, codes.FailedPrecondition)
	})
}

// TestGroupWrongKindToken checks that a token used in the other kind of
// chat links nothing, the bot says why in that chat, and the token still
// works where it belongs.
func TestGroupWrongKindToken(t *testing.T) {
	t.Parallel()
	onBothBackendsWith(t, groupEnv, func(t *testing.T, h *harness) {
		ctx := ctxT(t)
		// A private token used in a group.
		priv, err := h.client.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: "pat"})
		if err != nil || !strings.Contains(priv.GetUrl(), "?start=") {
			t.Fatalf("GetLinkURL = %v, %v", priv, err)
		}
		h.fake.StartGroup(-4101, "Wrong", 5, "carol", priv.GetToken())
		msgs, err := h.fake.WaitForMessages(ctx, -4101, 1)
		if err != nil || !strings.Contains(msgs[0].Text, "private chat") || !strings.Contains(msgs[0].Text, "Nothing was connected") {
			t.Fatalf("reply in the group = %+v, %v; want why nothing was linked", msgs, err)
		}
		if h.status("pat").GetLinked() {
			t.Fatal("a private token linked a group")
		}
		h.link("pat-other", 4102) // a private link works meanwhile
		before := len(h.fake.Messages(4101))
		h.fake.Start(4101, "pat", priv.GetToken()) // the token was kept
		if _, err := h.fake.WaitForMessages(ctx, 4101, before+1); err != nil {
			t.Fatal(err)
		}
		if st := h.status("pat"); !st.GetLinked() || st.GetChatId() != 4101 || st.GetChatKind() != notifierv1.ChatKind_CHAT_KIND_PRIVATE || st.GetChatTitle() != "" {
			t.Fatalf("GetStatus after the private start = %v", st)
		}

		// A group token used in a private chat.
		tok := h.groupToken("team")
		h.fake.Start(4103, "dan", tok)
		msgs, err = h.fake.WaitForMessages(ctx, 4103, 1)
		if err != nil || !strings.Contains(msgs[0].Text, "for a group") {
			t.Fatalf("reply in the private chat = %+v, %v", msgs, err)
		}
		if h.status("team").GetLinked() {
			t.Fatal("a group token linked a private chat")
		}
		// GetLinkURL hands the live group token out again, and it works.
		again, err := h.client.GetLinkURL(ctx, &notifierv1.GetLinkURLRequest{UserId: "team", ChatKind: notifierv1.ChatKind_CHAT_KIND_GROUP})
		if err != nil || again.GetToken() != tok {
			t.Fatalf("GetLinkURL(group) = %v, %v; want the live token %q", again, err, tok)
		}
		h.fake.StartGroup(-4104, "Team", 5, "carol", tok)
		eventually(t, 10*time.Second, "group linked", func() bool { return h.status("team").GetChatId() == -4104 })

		// A topic for a user linked to a private chat.
		_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "pat", Text: "x", TopicId: 3})
		wantCode(t, err, codes.InvalidArgument)
		if !strings.Contains(err.Error(), "topic_id") {
			t.Fatalf("error %v does not name topic_id", err)
		}
	})
}

// TestGroupMigrationKeepsGroupLink checks that a group linked by a
// startgroup link keeps working after it becomes a supergroup.
func TestGroupMigrationKeepsGroupLink(t *testing.T) {
	t.Parallel()
	onBothBackendsWith(t, groupEnv, func(t *testing.T, h *harness) {
		const user, oldID, newID = "team-mig", int64(-4201), int64(-1004201)
		h.linkGroup(user, oldID, "Small team")
		h.fake.MigrateChat(oldID, newID)
		eventually(t, 10*time.Second, "link moved", func() bool { return h.status(user).GetChatId() == newID })
		n := h.waitFinal(h.notify(&notifierv1.NotifyRequest{UserId: user, Text: "after the upgrade"}).GetNotificationId())
		if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || n.GetChatId() != newID {
			t.Fatalf("notification after migration = %v", n)
		}
		if st := h.status(user); st.GetChatKind() != notifierv1.ChatKind_CHAT_KIND_GROUP || st.GetChatTitle() != "Small team" {
			t.Fatalf("GetStatus after migration = %v", st)
		}
	})
}

// TestGroupREST checks the group fields over REST and the bad input: a
// chat_kind in the body and the query, the status fields, topic_id.
func TestGroupREST(t *testing.T) {
	t.Parallel()
	onBothBackendsWith(t, groupEnv, func(t *testing.T, h *harness) {
		code, body := h.rest(http.MethodPost, "/v1/users/rest-team/link-token", `{"chat_kind":"CHAT_KIND_GROUP"}`)
		u, _ := body["url"].(string)
		if code != http.StatusOK || !strings.Contains(u, "?startgroup=") {
			t.Fatalf("POST link-token (group) = %d %v", code, body)
		}
		code, body = h.rest(http.MethodGet, "/v1/users/rest-team/link-url?chat_kind=CHAT_KIND_GROUP", nil)
		if code != http.StatusOK || body["url"] != u {
			t.Fatalf("GET link-url?chat_kind=CHAT_KIND_GROUP = %d %v, want %s", code, body, u)
		}
		code, body = h.rest(http.MethodGet, "/v1/users/rest-team/link-url", nil)
		if p, _ := body["url"].(string); code != http.StatusOK || !strings.Contains(p, "?start=") {
			t.Fatalf("GET link-url (private) = %d %v", code, body)
		}
		tok := u[strings.Index(u, "=")+1:]
		tok, _ = url.QueryUnescape(tok)
		h.fake.StartGroup(forumID, "REST room", 5, "carol", tok)
		if _, err := h.fake.WaitForMessages(ctxT(t), forumID, 1); err != nil {
			t.Fatal(err)
		}
		code, body = h.rest(http.MethodGet, "/v1/users/rest-team/status", nil)
		if code != http.StatusOK || body["chat_kind"] != "CHAT_KIND_GROUP" || body["chat_title"] != "REST room" {
			t.Fatalf("GET status = %d %v", code, body)
		}
		topic, err := h.fake.CreateTopic(forumID, "alerts")
		if err != nil {
			t.Fatal(err)
		}
		code, body = h.rest(http.MethodPost, "/v1/users/rest-team/notifications", map[string]any{"text": "disk full", "topic_id": topic})
		id, _ := body["notification_id"].(string)
		if code != http.StatusOK || id == "" {
			t.Fatalf("POST notifications with topic_id = %d %v", code, body)
		}
		if n := h.waitFinal(id); n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || lastMessage(t, h, forumID).MessageThreadID != topic {
			t.Fatalf("REST topic send = %v", n)
		}

		bad := []struct {
			name, method, path string
			body               any
			field              string
		}{
			{"unknown chat_kind in the body", http.MethodPost, "/v1/users/rest-team/link-token", `{"chat_kind":7}`, "chat_kind"},
			{"unknown chat_kind in the query", http.MethodGet, "/v1/users/rest-team/link-url?chat_kind=9", nil, "chat_kind"},
			{"negative topic_id", http.MethodPost, "/v1/users/rest-team/notifications", `{"text":"x","topic_id":"-1"}`, "topic_id"},
			{"topic_id over 32 bits", http.MethodPost, "/v1/users/rest-team/notifications", `{"text":"x","topic_id":"4294967296"}`, "topic_id"},
		}
		for _, b := range bad {
			code, body := h.rest(b.method, b.path, b.body)
			if code != http.StatusBadRequest || !strings.Contains(strings.ToLower(body["message"].(string)), b.field) {
				t.Errorf("%s: %d %v, want 400 naming %s", b.name, code, body, b.field)
			}
		}
	})
}

// lastMessage is the last message the bot sent to chat.
func lastMessage(t *testing.T, h *harness, chat int64) fakebot.SentMessage {
	t.Helper()
	msgs := h.fake.Messages(chat)
	if len(msgs) == 0 {
		t.Fatalf("no message in chat %d", chat)
	}
	return msgs[len(msgs)-1]
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestGroupLinkWebhook checks the group link through the webhook (the
// other tests poll).
func TestGroupLinkWebhook(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{webhook: true, env: groupEnv})
	h.linkGroup("hook-team", -4301, "Hooked")
	if st := h.status("hook-team"); st.GetChatId() != -4301 || st.GetChatKind() != notifierv1.ChatKind_CHAT_KIND_GROUP || st.GetChatTitle() != "Hooked" {
		t.Fatalf("GetStatus = %v", st)
	}
	h.fake.RemoveFromGroup(-4301, 5, "carol", true)
	eventually(t, 10*time.Second, "group unlinked", func() bool { return !h.status("hook-team").GetLinked() })
}

// TestGroupTopicFallbackLongText checks a split text whose topic is gone:
// the first part goes to the main chat with the note, the later ones to
// the main chat without it, in order, and nothing is lost.
func TestGroupTopicFallbackLongText(t *testing.T) {
	t.Parallel()
	onBothBackendsWith(t, groupEnv, func(t *testing.T, h *harness) {
		const user = "team-long"
		h.linkGroup(user, forumID, "Ops")
		topic, err := h.fake.CreateTopic(forumID, "deploys")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.fake.DeleteTopic(forumID, topic); err != nil {
			t.Fatal(err)
		}
		text := strings.Repeat("line of a long deploy log\n", 400) // ~10 KB: 3 parts
		before := len(h.fake.Messages(forumID))
		r := h.notify(&notifierv1.NotifyRequest{UserId: user, Text: text, TopicId: topic})
		n := h.waitFinal(r.GetNotificationId())
		if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || n.GetDegraded() != delivery.DegradedTopicFallback || n.GetParts() < 3 {
			t.Fatalf("long fallback = %v", n)
		}
		msgs := h.fake.Messages(forumID)[before:]
		if len(msgs) != int(n.GetParts()) {
			t.Fatalf("%d messages, want %d", len(msgs), n.GetParts())
		}
		var got strings.Builder
		for i, m := range msgs {
			body := m.Text
			if i == 0 {
				var ok bool
				if body, ok = strings.CutPrefix(body, delivery.TopicNote(topic)); !ok {
					t.Fatalf("first part %q lacks the note", m.Text[:80])
				}
			} else if strings.Contains(m.Text, "Meant for topic") {
				t.Fatalf("part %d repeats the note", i)
			}
			if m.MessageThreadID != 0 {
				t.Fatalf("part %d sent into thread %d", i, m.MessageThreadID)
			}
			got.WriteString(body)
		}
		if strings.Join(strings.Fields(got.String()), " ") != strings.Join(strings.Fields(text), " ") {
			t.Fatal("the parts do not add up to the text")
		}
	})
}

// TestSandboxGroups walks the README's group example in the sandbox:
// startgroup, a topic, a send into it, a closed topic's fallback, removal.
func TestSandboxGroups(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true, env: groupEnv})
	_, tok := h.rest("POST", "/v1/users/ops/link-token", `{"chat_kind":"CHAT_KIND_GROUP"}`)
	code, out := h.rest("POST", "/sandbox/startgroup", map[string]any{"chat_id": forumID, "title": "Ops", "username": "carol", "token": tok["token"]})
	if reply, _ := out["reply"].(map[string]any); code != http.StatusOK || !strings.Contains(fmt.Sprint(reply["text"]), "all set") {
		t.Fatalf("sandbox startgroup %d %v", code, out)
	}
	code, out = h.rest("POST", "/sandbox/topic", map[string]any{"chat_id": forumID, "action": "create", "name": "deploys"})
	topic, _ := out["topic_id"].(float64)
	if code != http.StatusOK || topic == 0 {
		t.Fatalf("sandbox topic create %d %v", code, out)
	}
	code, out = h.rest("POST", "/v1/users/ops/notifications", map[string]any{"text": "v1", "topic_id": int64(topic)})
	if n := h.waitFinal(fmt.Sprint(out["notification_id"])); code != http.StatusOK || n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("notify %d %v", code, n)
	}
	code, msgs := h.rest("GET", "/sandbox/chats/"+itoa(forumID)+"/messages", nil)
	if code != http.StatusOK || !strings.Contains(fmt.Sprint(msgs["messages"]), "message_thread_id:"+itoa(int64(topic))) {
		t.Fatalf("messages %d %v", code, msgs)
	}
	if code, out := h.rest("POST", "/sandbox/topic", map[string]any{"chat_id": forumID, "action": "close", "topic_id": topic}); code != http.StatusOK {
		t.Fatalf("close %d %v", code, out)
	}
	code, out = h.rest("POST", "/v1/users/ops/notifications", map[string]any{"text": "v2", "topic_id": int64(topic)})
	if n := h.waitFinal(fmt.Sprint(out["notification_id"])); code != http.StatusOK || n.GetDegraded() != delivery.DegradedTopicFallback {
		t.Fatalf("fallback %d %v", code, n)
	}
	if code, out := h.rest("POST", "/sandbox/removegroup", map[string]any{"chat_id": forumID}); code != http.StatusOK {
		t.Fatalf("removegroup %d %v", code, out)
	}
	eventually(t, 10*time.Second, "unlinked", func() bool { return !h.status("ops").GetLinked() })
	for name, body := range map[string]string{"positive chat": `{"chat_id":5}`, "bad action": `{"chat_id":-5,"action":"x"}`,
		"unknown topic": `{"chat_id":-1001,"action":"close","topic_id":9}`, "unknown field": `{"chat_id":-5,"nope":1}`} {
		path := "/sandbox/topic"
		if name == "positive chat" {
			path = "/sandbox/startgroup"
		}
		if code, _ := h.rest("POST", path, body); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, code)
		}
	}
}

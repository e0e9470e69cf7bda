package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/updates"

	"google.golang.org/grpc/codes"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// waitState polls GetNotification until the notification reaches a final
// state and returns it.
func (h *harness) waitFinal(id string) *notifierv1.GetNotificationResponse {
	h.t.Helper()
	var last *notifierv1.GetNotificationResponse
	eventually(h.t, 15*time.Second, "notification "+id+" final", func() bool {
		r, err := h.client.GetNotification(ctxT(h.t), &notifierv1.GetNotificationRequest{NotificationId: id})
		if err != nil {
			h.t.Fatalf("GetNotification: %v", err)
		}
		last = r
		return r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_SENT ||
			r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_FAILED
	})
	return last
}

func (h *harness) notify(req *notifierv1.NotifyRequest) *notifierv1.NotifyResponse {
	h.t.Helper()
	r, err := h.client.Notify(ctxT(h.t), req)
	if err != nil {
		h.t.Fatalf("Notify: %v", err)
	}
	return r
}

func TestDeliveryLifecycle(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		testDeliveryLifecycle(t, h)
	})
}

func testDeliveryLifecycle(t *testing.T, h *harness) {
	const chat = int64(12001)
	h.link("gina", chat)
	ctx := ctxT(t)

	// Accepted means QUEUED; then SENT with Telegram's message id.
	r := h.notify(&notifierv1.NotifyRequest{UserId: "gina", Text: "one"})
	if r.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_QUEUED || r.GetNotificationId() == "" || r.GetParts() != 1 {
		t.Fatalf("Notify = %v, want QUEUED with an id", r)
	}
	n := h.waitFinal(r.GetNotificationId())
	if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || len(n.GetMessageIds()) != 1 ||
		n.GetAttempts() != 1 || n.GetUserId() != "gina" || n.GetChatId() != chat || n.GetCreatedAt() == nil || n.GetUpdatedAt() == nil {
		t.Fatalf("GetNotification = %v", n)
	}
	code, body := h.rest("GET", "/v1/notifications/"+r.GetNotificationId(), nil)
	if code != http.StatusOK || body["state"] != "NOTIFICATION_STATE_SENT" {
		t.Fatalf("REST GetNotification = %d %v", code, body)
	}
	_, err := h.client.GetNotification(ctx, &notifierv1.GetNotificationRequest{NotificationId: "nope"})
	wantCode(t, err, codes.NotFound)
	if code, _ := h.rest("GET", "/v1/notifications/nope", nil); code != http.StatusNotFound {
		t.Fatalf("REST unknown notification = %d", code)
	}

	// Idempotency: concurrent duplicates get one id and one message.
	before := len(h.fake.Messages(chat))
	ids := make(chan string, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "gina", Text: "once", IdempotencyKey: "order-42"})
			if err != nil {
				t.Errorf("Notify: %v", err)
				return
			}
			ids <- resp.GetNotificationId()
		}()
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("idempotent Notify returned %s and %s", first, id)
		}
	}
	h.waitFinal(first)
	dup := h.notify(&notifierv1.NotifyRequest{UserId: "gina", Text: "once", IdempotencyKey: "order-42"})
	if !dup.GetDuplicate() || dup.GetNotificationId() != first || dup.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("retry after delivery = %v", dup)
	}
	if got := len(h.fake.Messages(chat)) - before; got != 1 {
		t.Fatalf("idempotent key sent %d messages, want 1", got)
	}

	// Order per chat.
	var last string
	for i := range 10 {
		last = h.notify(&notifierv1.NotifyRequest{UserId: "gina", Text: fmt.Sprintf("seq %02d", i)}).GetNotificationId()
	}
	h.waitFinal(last)
	var seq []string
	for _, m := range h.fake.Messages(chat) {
		if strings.HasPrefix(m.Text, "seq ") {
			seq = append(seq, m.Text)
		}
	}
	for i, s := range seq {
		if s != fmt.Sprintf("seq %02d", i) {
			t.Fatalf("order: %v", seq)
		}
	}

	// Long text is split in order; with REJECT it is refused.
	long := strings.Repeat(strings.Repeat("word ", 199)+"end.\n\n", 10) // ~10k characters
	lr := h.notify(&notifierv1.NotifyRequest{UserId: "gina", Text: long})
	if lr.GetParts() < 3 {
		t.Fatalf("parts = %d, want ≥ 3", lr.GetParts())
	}
	ln := h.waitFinal(lr.GetNotificationId())
	if ln.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || len(ln.GetMessageIds()) != int(lr.GetParts()) {
		t.Fatalf("long text: %v", ln)
	}
	msgs := h.fake.Messages(chat)
	var joined strings.Builder
	for _, m := range msgs[len(msgs)-int(lr.GetParts()):] {
		joined.WriteString(m.Text)
	}
	if strings.Join(strings.Fields(joined.String()), " ") != strings.Join(strings.Fields(long), " ") {
		t.Fatal("split parts do not add up to the text")
	}
	_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "gina", Text: long, LongText: notifierv1.LongTextPolicy_LONG_TEXT_POLICY_REJECT})
	wantCode(t, err, codes.InvalidArgument)

	// Formatting Telegram cannot parse: FAILED with its description, or
	// sent as plain text when asked.
	bad := h.notify(&notifierv1.NotifyRequest{UserId: "gina", Text: "price 1-2", ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2})
	bn := h.waitFinal(bad.GetNotificationId())
	if bn.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_FAILED || bn.GetFailureReason() != "parse_entities" ||
		!strings.Contains(bn.GetLastError(), "can't parse entities") {
		t.Fatalf("bad markup: %v", bn)
	}
	fb := h.notify(&notifierv1.NotifyRequest{UserId: "gina", Text: "price 1-2", ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2, PlainTextFallback: true})
	if fn := h.waitFinal(fb.GetNotificationId()); fn.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("fallback: %v", fn)
	}

	// Status summary.
	st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "gina"})
	if err != nil {
		t.Fatal(err)
	}
	if d := st.GetDelivery(); d.GetSent() < 14 || d.GetFailed() != 1 || d.GetLastNotificationId() != fb.GetNotificationId() ||
		d.GetLastState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("delivery summary = %v", d)
	}

	// 403 at send time: FAILED "blocked", the user is unlinked.
	h.fake.FailNext("sendMessage", 1, 403, "Forbidden: bot was blocked by the user", 0)
	blk := h.notify(&notifierv1.NotifyRequest{UserId: "gina", Text: "are you there?"})
	if b := h.waitFinal(blk.GetNotificationId()); b.GetFailureReason() != "blocked" {
		t.Fatalf("blocked: %v", b)
	}
	if st, _ := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "gina"}); st.GetLinked() {
		t.Fatal("still linked after Telegram said the user blocked the bot")
	}
	_, err = h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "gina", Text: "hi"})
	wantCode(t, err, codes.FailedPrecondition)
}

func TestDeliveryRetriesAnd429(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	h.link("hank", 13001)
	h.fake.FailNext("sendMessage", 2, 502, "Bad Gateway", 0)
	r := h.notify(&notifierv1.NotifyRequest{UserId: "hank", Text: "after 5xx"})
	n := h.waitFinal(r.GetNotificationId())
	if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || n.GetAttempts() != 3 {
		t.Fatalf("after two 502s: %v, want SENT in 3 attempts", n)
	}
	h.fake.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 1", 1)
	start := time.Now()
	r = h.notify(&notifierv1.NotifyRequest{UserId: "hank", Text: "after 429"})
	n = h.waitFinal(r.GetNotificationId())
	if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT || time.Since(start) < time.Second {
		t.Fatalf("after 429: %v in %s, want SENT after retry_after (1s)", n, time.Since(start))
	}
	if len(h.fake.Messages(13001)) != 3 {
		t.Fatalf("messages = %d, want welcome + 2", len(h.fake.Messages(13001)))
	}
}

func TestNotifyUnavailableWithoutRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.StartWith(t, redistest.Options{AOF: true})
	h := startHarness(t, harnessOpts{redisURL: rs.URL()})
	h.link("ivan", 14001)
	rs.Stop()
	_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "ivan", Text: "hi"})
	wantCode(t, err, codes.Unavailable)
	if code, _ := h.rest("POST", "/v1/users/ivan/notifications", map[string]any{"text": "hi"}); code != http.StatusServiceUnavailable {
		t.Fatalf("REST with redis down = %d, want 503", code)
	}
	rs.Restart()
	eventually(t, 10*time.Second, "Notify works again", func() bool {
		_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "ivan", Text: "back"})
		return err == nil
	})
	ctx := ctxT(t)
	msgs, err := h.fake.WaitForMessages(ctx, 14001, 2)
	if err != nil || msgs[1].Text != "back" {
		t.Fatalf("after redis returned: %v %v", msgs, err)
	}
}

func TestPerChatLimitDoesNotBlockOtherChats(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{env: map[string]string{"NOTIFIER_CHAT_RATE": "1"}})
	h.link("busy", 15001)
	h.link("calm", 15002)
	const busy = 5 // 4 s of pacing: ample margin for the calm chat under load
	for i := range busy {
		h.notify(&notifierv1.NotifyRequest{UserId: "busy", Text: fmt.Sprintf("busy %d", i)})
	}
	calm := h.notify(&notifierv1.NotifyRequest{UserId: "calm", Text: "calm"})
	h.waitFinal(calm.GetNotificationId())
	// The calm chat's message went out while the busy chat still waits for
	// its 1 message/s pacing.
	if n := len(h.fake.Messages(15001)); n >= 1+busy {
		t.Fatalf("busy chat already got %d messages: the calm chat waited behind it", n)
	}
	ctx := ctxT(t)
	msgs, err := h.fake.WaitForMessages(ctx, 15001, 1+busy)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 1+busy; i++ {
		if gap := msgs[i].Time.Sub(msgs[i-1].Time); gap < 900*time.Millisecond {
			t.Fatalf("messages %d and %d to one chat %s apart, want ≥ 1s", i-1, i, gap)
		}
	}
}

// TestReply429PausesNotifications: a 429 answered to the welcome reply
// pauses the whole bot, so a notification accepted right after waits for
// retry_after instead of hitting Telegram again; the welcome, queued like
// a notification, is retried after the pause and still goes first.
func TestReply429PausesNotifications(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	ctx := ctxT(t)
	const retryAfter = 3
	h.fake.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 3", retryAfter)
	tok, err := h.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "ivy"})
	if err != nil {
		t.Fatal(err)
	}
	h.fake.Start(14001, "ivy", tok.GetToken())
	eventually(t, 10*time.Second, "ivy linked", func() bool {
		st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "ivy"})
		return err == nil && st.GetLinked()
	})
	eventually(t, 10*time.Second, "the welcome answered 429", func() bool { return h.fake.Calls("sendMessage") >= 1 })
	start := time.Now()
	r := h.notify(&notifierv1.NotifyRequest{UserId: "ivy", Text: "after the welcome's 429"})
	n := h.waitFinal(r.GetNotificationId())
	if n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("notification %v, want SENT", n)
	}
	// The pause began before start, so allow for the time linking took.
	if el := time.Since(start); el < retryAfter*time.Second/2 {
		t.Fatalf("sent %s after Notify, want it held by the %ds pause", el, retryAfter)
	}
	if got := h.fake.Calls("sendMessage"); got != 3 {
		t.Fatalf("%d sendMessage calls, want the failed welcome, its retry and the notification", got)
	}
	if msgs := h.fake.Messages(14001); len(msgs) != 2 || msgs[1].Text != "after the welcome's 429" {
		t.Fatalf("chat got %+v; want the welcome, then the notification", msgs)
	}
}

// TestFirstNotificationKeepsPacingAfterWelcome: a notification accepted
// right after the user linked waits for the chat's pacing (1 s) after the
// welcome reply, as Telegram's per-chat limit asks.
func TestFirstNotificationKeepsPacingAfterWelcome(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			o := harnessOpts{env: map[string]string{"NOTIFIER_CHAT_RATE": "1"}}
			if backend == "redis" {
				o.redisURL = redistest.Start(t).URL()
			}
			h := startHarness(t, o)
			const chat = 15501
			h.link("jay", chat)
			r := h.notify(&notifierv1.NotifyRequest{UserId: "jay", Text: "first"})
			if n := h.waitFinal(r.GetNotificationId()); n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
				t.Fatalf("notification %v, want SENT", n)
			}
			msgs := h.fake.Messages(chat)
			if len(msgs) != 2 {
				t.Fatalf("%d messages, want the welcome and the notification", len(msgs))
			}
			// The pacing starts just before the welcome leaves; allow for the
			// time it takes to reach the fake on a loaded machine. Without
			// the pacing the gap is a few milliseconds.
			if gap := msgs[1].Time.Sub(msgs[0].Time); gap < 500*time.Millisecond {
				t.Fatalf("notification %s after the welcome, want about 1 s", gap)
			}
		})
	}
}

// TestNotificationRightAfterLinkWaitsBehindWelcome: when the welcome has to
// wait for a global rate slot, a notification sent as soon as the user is
// linked still goes out a chat interval after the welcome, not between
// the link and the welcome.
func TestNotificationRightAfterLinkWaitsBehindWelcome(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{env: map[string]string{
		"NOTIFIER_CHAT_RATE": "1", "NOTIFIER_GLOBAL_RATE": "2", "NOTIFIER_GLOBAL_BURST": "1",
	}})
	ctx := ctxT(t)
	const chat = 15601
	tok, err := h.client.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: "kim"})
	if err != nil {
		t.Fatal(err)
	}
	// Another chat's reply takes the global slot, so the welcome waits.
	h.fake.Start(15602, "other", "")
	h.fake.Start(chat, "kim", tok.GetToken())
	eventually(t, 10*time.Second, "kim linked", func() bool {
		st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "kim"})
		return err == nil && st.GetLinked()
	})
	r := h.notify(&notifierv1.NotifyRequest{UserId: "kim", Text: "right after the link"})
	if n := h.waitFinal(r.GetNotificationId()); n.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("notification %v, want SENT", n)
	}
	msgs := h.fake.Messages(chat)
	if len(msgs) != 2 || msgs[0].Text != updates.DefaultWelcomeMessage {
		t.Fatalf("messages %+v, want the welcome then the notification", msgs)
	}
	if gap := msgs[1].Time.Sub(msgs[0].Time); gap < 700*time.Millisecond { // the old order gave 0.5 s
		t.Fatalf("notification %s after the welcome, want a chat interval (1 s)", gap)
	}
}

package server_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// waitBroadcast polls GetBroadcast until pending is 0 and the state is
// final, and returns it.
func (h *harness) waitBroadcast(id string) *notifierv1.GetBroadcastResponse {
	h.t.Helper()
	var last *notifierv1.GetBroadcastResponse
	eventually(h.t, 30*time.Second, "broadcast "+id+" finished", func() bool {
		r, err := h.client.GetBroadcast(ctxT(h.t), &notifierv1.GetBroadcastRequest{BroadcastId: id})
		if err != nil {
			h.t.Fatalf("GetBroadcast: %v", err)
		}
		last = r
		return r.GetPending() == 0 && r.GetState() != notifierv1.BroadcastState_BROADCAST_STATE_RUNNING
	})
	return last
}

// countText counts the messages with text in chat.
func (h *harness) countText(chat int64, text string) int {
	n := 0
	for _, m := range h.fake.Messages(chat) {
		if m.Text == text {
			n++
		}
	}
	return n
}

// events returns every event in the log.
func (h *harness) allEvents() []*notifierv1.Event {
	h.t.Helper()
	var out []*notifierv1.Event
	after := ""
	for {
		r, err := h.client.ListEvents(ctxT(h.t), &notifierv1.ListEventsRequest{AfterCursor: after, Limit: 1000})
		if err != nil {
			h.t.Fatalf("ListEvents: %v", err)
		}
		out = append(out, r.GetEvents()...)
		if len(r.GetEvents()) == 0 || r.GetNextCursor() == after {
			return out
		}
		after = r.GetNextCursor()
	}
}

func TestBroadcastE2E(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) { testBroadcast(t, h) })
}

func testBroadcast(t *testing.T, h *harness) {
	ctx := ctxT(t)
	const base = int64(31000)
	users := []string{"b1", "b2", "b3", "b4", "b5", "b6"}
	for i, u := range users {
		h.link(u, base+int64(i))
	}
	// b1 has transactional messages queued: the broadcast comes after them.
	var tx []string
	for i := range 3 {
		tx = append(tx, h.notify(&notifierv1.NotifyRequest{UserId: "b1", Text: fmt.Sprintf("tx%d", i)}).GetNotificationId())
	}
	req := &notifierv1.BroadcastRequest{UserIds: append(append([]string{}, users...), "ghost", "b2"),
		Text: "Release {{v}}", Values: map[string]string{"v": "1.2"}, IdempotencyKey: "rel-1.2"}
	r, err := h.client.Broadcast(ctx, req)
	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	if r.GetRecipients() != 7 || r.GetBroadcastId() == "" {
		t.Fatalf("Broadcast = %v, want 7 distinct recipients", r)
	}
	again, err := h.client.Broadcast(ctx, req)
	if err != nil || again.GetBroadcastId() != r.GetBroadcastId() || again.GetRecipients() != 7 {
		t.Fatalf("repeated idempotency key = %v %v, want the same broadcast", again, err)
	}
	b := h.waitBroadcast(r.GetBroadcastId())
	if b.GetState() != notifierv1.BroadcastState_BROADCAST_STATE_DONE || b.GetSent() != 6 || b.GetFailed() != 1 ||
		b.GetCancelled() != 0 || b.GetFailuresByReason()["not_linked"] != 1 || b.GetFinishedAt() == nil ||
		b.GetStartedAt() == nil || b.GetCreatedAt() == nil {
		t.Fatalf("GetBroadcast = %v", b)
	}
	for i := range users {
		if n := h.countText(base+int64(i), "Release 1.2"); n != 1 {
			t.Fatalf("chat %d got the broadcast %d times", base+int64(i), n)
		}
	}
	var b1 []string
	for _, m := range h.fake.Messages(base) {
		if m.Text != "" && !strings.Contains(m.Text, "linked") {
			b1 = append(b1, m.Text)
		}
	}
	if got := fmt.Sprint(b1[len(b1)-4:]); got != "[tx0 tx1 tx2 Release 1.2]" {
		t.Fatalf("b1's messages %v: the broadcast must come after its queued notifications", b1)
	}
	f, err := h.client.ListBroadcastFailures(ctx, &notifierv1.ListBroadcastFailuresRequest{BroadcastId: r.GetBroadcastId()})
	if err != nil || len(f.GetFailures()) != 1 || f.GetFailures()[0].GetUserId() != "ghost" ||
		f.GetFailures()[0].GetFailureReason() != "not_linked" || f.GetNextPageToken() != "" {
		t.Fatalf("ListBroadcastFailures = %v %v", f, err)
	}
	// Per-recipient sends make no events; the broadcast one.
	sent, finished := 0, 0
	for _, e := range h.allEvents() {
		switch e.GetType() {
		case notifierv1.EventType_EVENT_TYPE_NOTIFICATION_SENT:
			sent++
		case notifierv1.EventType_EVENT_TYPE_BROADCAST_FINISHED:
			finished++
			if e.GetBroadcastId() != r.GetBroadcastId() || e.GetReason() != "done" {
				t.Fatalf("BROADCAST_FINISHED = %v", e)
			}
		}
	}
	if sent != len(tx) || finished != 1 {
		t.Fatalf("%d NOTIFICATION_SENT (want %d, the transactional ones), %d BROADCAST_FINISHED (want 1)", sent, len(tx), finished)
	}
	testBroadcastBlocked(t, h, base, len(users))
	testBroadcastCancel(t, h)
	testBroadcastREST(t, h, r.GetBroadcastId())
	testBroadcastRefused(t, h)
}

// testBroadcastBlocked: a 403 during an all_linked broadcast unlinks the
// user (USER_UNLINKED) and counts under blocked; the rest continue.
func testBroadcastBlocked(t *testing.T, h *harness, base int64, linked int) {
	ctx := ctxT(t)
	h.fake.FailNext("sendMessage", 1, 403, "Forbidden: bot was blocked by the user", 0)
	r, err := h.client.Broadcast(ctx, &notifierv1.BroadcastRequest{AllLinked: true, Text: "all"})
	if err != nil || r.GetRecipients() != int64(linked) {
		t.Fatalf("all_linked Broadcast = %v %v, want %d recipients", r, err, linked)
	}
	b := h.waitBroadcast(r.GetBroadcastId())
	if b.GetSent() != int64(linked-1) || b.GetFailed() != 1 || b.GetFailuresByReason()["blocked"] != 1 {
		t.Fatalf("GetBroadcast = %v, want one blocked", b)
	}
	f, err := h.client.ListBroadcastFailures(ctx, &notifierv1.ListBroadcastFailuresRequest{BroadcastId: r.GetBroadcastId()})
	if err != nil || len(f.GetFailures()) != 1 {
		t.Fatalf("failures = %v %v", f, err)
	}
	blocked := f.GetFailures()[0].GetUserId()
	st, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: blocked})
	if err != nil || st.GetLinked() {
		t.Fatalf("blocked user %s: status %v %v, want unlinked", blocked, st, err)
	}
	unlinked := false
	for _, e := range h.allEvents() {
		if e.GetType() == notifierv1.EventType_EVENT_TYPE_USER_UNLINKED && e.GetUserId() == blocked && e.GetReason() == "blocked" {
			unlinked = true
		}
	}
	if !unlinked {
		t.Fatalf("no USER_UNLINKED blocked for %s", blocked)
	}
}

// testBroadcastCancel: a slow broadcast cancelled at once sends no more;
// the counts add up and freeze.
func testBroadcastCancel(t *testing.T, h *harness) {
	ctx := ctxT(t)
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("c%d", i)) // not linked: they fail at expansion
	}
	ids = append([]string{"b2", "b3", "b4", "b5", "b6"}, ids...)
	r, err := h.client.Broadcast(ctx, &notifierv1.BroadcastRequest{UserIds: ids, Text: "slow", Rate: 2})
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.client.CancelBroadcast(ctx, &notifierv1.CancelBroadcastRequest{BroadcastId: r.GetBroadcastId()})
	if err != nil || c.GetState() != notifierv1.BroadcastState_BROADCAST_STATE_CANCELLED {
		t.Fatalf("CancelBroadcast = %v %v", c, err)
	}
	b := h.waitBroadcast(r.GetBroadcastId())
	if b.GetState() != notifierv1.BroadcastState_BROADCAST_STATE_CANCELLED || b.GetCancelled() == 0 ||
		b.GetSent()+b.GetFailed()+b.GetCancelled() != int64(len(ids)) || b.GetPending() != 0 {
		t.Fatalf("after cancel: %v", b)
	}
	delivered := 0
	for i := range 6 {
		delivered += h.countText(31000+int64(i), "slow")
	}
	if int64(delivered) != b.GetSent() {
		t.Fatalf("%d delivered, sent %d", delivered, b.GetSent())
	}
	again, err := h.client.GetBroadcast(ctx, &notifierv1.GetBroadcastRequest{BroadcastId: r.GetBroadcastId()})
	if err != nil || !proto.Equal(again, b) {
		t.Fatalf("counts moved after the cancel: %v then %v (%v)", b, again, err)
	}
	c, err = h.client.CancelBroadcast(ctx, &notifierv1.CancelBroadcastRequest{BroadcastId: r.GetBroadcastId()})
	if err != nil || c.GetState() != notifierv1.BroadcastState_BROADCAST_STATE_CANCELLED {
		t.Fatalf("second cancel = %v %v", c, err)
	}
}

func testBroadcastREST(t *testing.T, h *harness, done string) {
	code, body := h.rest("POST", "/v1/broadcasts", map[string]any{"user_ids": []string{"b3"}, "text": "rest"})
	if code != http.StatusOK || body["broadcast_id"] == "" {
		t.Fatalf("POST /v1/broadcasts = %d %v", code, body)
	}
	code, body = h.rest("GET", "/v1/broadcasts/"+done, nil)
	if code != http.StatusOK || body["state"] != "BROADCAST_STATE_DONE" {
		t.Fatalf("GET broadcast = %d %v", code, body)
	}
	if code, body = h.rest("GET", "/v1/broadcasts/"+done+"/failures", nil); code != http.StatusOK {
		t.Fatalf("GET failures = %d %v", code, body)
	}
	if code, body = h.rest("POST", "/v1/broadcasts/"+done+":cancel", map[string]any{}); code != http.StatusOK ||
		body["state"] != "BROADCAST_STATE_DONE" {
		t.Fatalf("cancel a done broadcast = %d %v", code, body)
	}
	many := make([]string, 100_000) // the largest valid body: 100,000 ids
	for i := range many {
		many[i] = fmt.Sprintf("rest-user-%06d", i)
	}
	code, body = h.rest("POST", "/v1/broadcasts", map[string]any{"user_ids": many, "text": "many", "rate": 1})
	if code != http.StatusOK || body["recipients"] != "100000" {
		t.Fatalf("POST 100,000 ids = %d %v", code, body)
	}
	if code, body = h.rest("POST", "/v1/broadcasts/"+body["broadcast_id"].(string)+":cancel", map[string]any{}); code != http.StatusOK {
		t.Fatalf("cancel = %d %v", code, body)
	}
	if code, _ = h.rest("GET", "/v1/broadcasts/nope", nil); code != http.StatusNotFound {
		t.Fatalf("unknown broadcast = %d", code)
	}
}

func testBroadcastRefused(t *testing.T, h *harness) {
	tooMany := make([]string, 100_001)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("u", i)
	}
	for _, tc := range []struct {
		name  string
		req   *notifierv1.BroadcastRequest
		code  codes.Code
		field string
	}{
		{"neither", &notifierv1.BroadcastRequest{Text: "x"}, codes.InvalidArgument, "user_ids"},
		{"both", &notifierv1.BroadcastRequest{UserIds: []string{"a"}, AllLinked: true, Text: "x"}, codes.InvalidArgument, "user_ids"},
		{"too many", &notifierv1.BroadcastRequest{UserIds: tooMany, Text: "x"}, codes.InvalidArgument, "100000"},
		{"empty id", &notifierv1.BroadcastRequest{UserIds: []string{"a", ""}, Text: "x"}, codes.InvalidArgument, "user_ids[1]"},
		{"bad id", &notifierv1.BroadcastRequest{UserIds: []string{"a", "b", "x\x01"}, Text: "x"}, codes.InvalidArgument, "user_ids[2]"},
		{"negative rate", &notifierv1.BroadcastRequest{UserIds: []string{"a"}, Text: "x", Rate: -1}, codes.InvalidArgument, "rate"},
		{"rate above the bot's", &notifierv1.BroadcastRequest{UserIds: []string{"a"}, Text: "x", Rate: 5000}, codes.InvalidArgument, "rate"},
		{"paid not configured", &notifierv1.BroadcastRequest{UserIds: []string{"a"}, Text: "x", Paid: true}, codes.FailedPrecondition, "paid"},
		{"other bot", &notifierv1.BroadcastRequest{UserIds: []string{"a"}, Text: "x", Bot: "other"}, codes.NotFound, "bot"},
		{"no text", &notifierv1.BroadcastRequest{UserIds: []string{"a"}}, codes.InvalidArgument, "text"},
		{"unused value", &notifierv1.BroadcastRequest{UserIds: []string{"a"}, Text: "x", Values: map[string]string{"v": "1"}}, codes.InvalidArgument, "values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.Broadcast(ctxT(t), tc.req)
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %v does not name %s", err, tc.field)
			}
		})
	}
	for _, id := range []string{"", "nope"} {
		_, err := h.client.GetBroadcast(ctxT(t), &notifierv1.GetBroadcastRequest{BroadcastId: id})
		if status := map[string]codes.Code{"": codes.InvalidArgument, "nope": codes.NotFound}[id]; true {
			wantCode(t, err, status)
		}
	}
}

// TestBroadcastRandomInvariants runs seeded random broadcasts (explicit
// ids over linked and unlinked users, random 403s and 5xx, random
// cancels) and checks the invariants: the counts add up, each chat gets a
// broadcast at most once and exactly as many chats as were counted sent.
func TestBroadcastRandomInvariants(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 7))
		const base, n = int64(32000), 12
		for i := range n {
			h.link(fmt.Sprint("r", i), base+int64(i))
		}
		h.fake.SetErrorRate("sendMessage", 0.1, 500)
		t.Cleanup(func() { h.fake.SetErrorRate("sendMessage", 0, 0) })
		for round := range 4 {
			var ids []string
			for i := range n + 4 {
				if rng.IntN(3) > 0 {
					ids = append(ids, fmt.Sprint("r", i)) // r12.. are not linked
				}
			}
			if len(ids) == 0 {
				ids = []string{"r0"}
			}
			text := fmt.Sprint("round ", round)
			if rng.IntN(2) == 0 {
				h.fake.FailNext("sendMessage", 1, 403, "Forbidden: bot was blocked by the user", 0)
			}
			r, err := h.client.Broadcast(ctxT(t), &notifierv1.BroadcastRequest{UserIds: ids, Text: text, Rate: float64(1 + rng.IntN(50))})
			if err != nil {
				t.Fatal(err)
			}
			if rng.IntN(3) == 0 {
				if _, err := h.client.CancelBroadcast(ctxT(t), &notifierv1.CancelBroadcastRequest{BroadcastId: r.GetBroadcastId()}); err != nil {
					t.Fatal(err)
				}
			}
			b := h.waitBroadcast(r.GetBroadcastId())
			if b.GetSent()+b.GetFailed()+b.GetCancelled() != int64(len(ids)) || b.GetRecipients() != int64(len(ids)) {
				t.Fatalf("round %d: counts %v do not add up to %d", round, b, len(ids))
			}
			var byReason int64
			for _, v := range b.GetFailuresByReason() {
				byReason += v
			}
			delivered := 0
			for i := range n {
				c := h.countText(base+int64(i), text)
				if c > 1 {
					t.Fatalf("round %d: chat %d got it %d times", round, i, c)
				}
				delivered += c
			}
			if byReason != b.GetFailed() || int64(delivered) != b.GetSent() {
				t.Fatalf("round %d: %v, %d delivered", round, b, delivered)
			}
		}
	})
}

// TestBroadcastPaid: with NOTIFIER_PAID_BROADCAST_RATE, paid broadcasts
// are sent with allow_paid_broadcast (transactional sends are not), at a
// rate up to the paid one.
func TestBroadcastPaid(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			o := harnessOpts{env: map[string]string{"NOTIFIER_PAID_BROADCAST_RATE": "200", "NOTIFIER_GLOBAL_RATE": "30"}}
			if backend == "redis" {
				o.redisURL = redistest.Start(t).URL()
			}
			h := startHarness(t, o)
			const base = int64(33000)
			var ids []string
			for i := range 5 {
				ids = append(ids, fmt.Sprint("p", i))
				h.link(ids[i], base+int64(i))
			}
			_, err := h.client.Broadcast(ctxT(t), &notifierv1.BroadcastRequest{UserIds: ids, Text: "x", Paid: true, Rate: 201})
			wantCode(t, err, codes.InvalidArgument)
			r, err := h.client.Broadcast(ctxT(t), &notifierv1.BroadcastRequest{UserIds: ids, Text: "paid", Paid: true})
			if err != nil {
				t.Fatal(err)
			}
			tx := h.notify(&notifierv1.NotifyRequest{UserId: "p0", Text: "tx"})
			if b := h.waitBroadcast(r.GetBroadcastId()); b.GetSent() != 5 {
				t.Fatalf("paid broadcast %v", b)
			}
			h.waitFinal(tx.GetNotificationId())
			for i := range 5 {
				for _, m := range h.fake.Messages(base + int64(i)) {
					if (m.Text == "paid") != m.AllowPaidBroadcast {
						t.Fatalf("chat %d: %q sent with allow_paid_broadcast %v", i, m.Text, m.AllowPaidBroadcast)
					}
				}
			}
		})
	}
}

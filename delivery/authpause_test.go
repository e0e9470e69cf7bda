package delivery_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestProxyErrorPagesAreRetriedNotVerdicts: an answer that is not
// Telegram's JSON (an HTML page from a proxy or WAF, JSON without the Bot
// API envelope) says nothing about the chat, so the notification is retried
// and sent, and the user stays linked. Before finding 2 of issue 8 was
// fixed, the HTML 403 failed the notification "blocked" and unlinked the
// user, and the HTML 401/404/407/408 pages failed it "rejected".
func TestProxyErrorPagesAreRetriedNotVerdicts(t *testing.T) {
	tests := []struct {
		name  string
		fault func(tg *fakebot.Server)
	}{
		{"html 403 from a waf", func(tg *fakebot.Server) { tg.FailNextHTML("sendMessage", 1, 403) }},
		{"html 401", func(tg *fakebot.Server) { tg.FailNextHTML("sendMessage", 1, 401) }},
		{"html 404", func(tg *fakebot.Server) { tg.FailNextHTML("sendMessage", 1, 404) }},
		{"html 407 proxy auth", func(tg *fakebot.Server) { tg.FailNextHTML("sendMessage", 1, 407) }},
		{"html 408", func(tg *fakebot.Server) { tg.FailNextHTML("sendMessage", 1, 408) }},
		{"empty 403", func(tg *fakebot.Server) { tg.FailNextRaw("sendMessage", 1, 403, "", "") }},
		{"json 403 without envelope", func(tg *fakebot.Server) {
			tg.FailNextRaw("sendMessage", 1, 403, "application/json", `{"message":"Forbidden"}`)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxAttempts = 3
			h := newHarness(t, memoryBackend(t), cfg)
			h.link("u", 50)
			tc.fault(h.tg)
			n := waitFinal(t, h.d, h.enqueue(delivery.Request{UserID: "u", ChatID: 50, Text: "hi"}).ID)
			if n.State != delivery.StateSent || n.Retries != 1 || n.Attempts != 2 {
				t.Fatalf("notification %+v, want SENT after one retry", n)
			}
			if l, err := h.b.links.GetLink(ctxT(t), "u"); err != nil || l.ChatID != 50 {
				t.Fatalf("GetLink = %+v, %v; want the user still linked to 50", l, err)
			}
			if st := h.obs.stats(); len(st.Failed) != 0 || st.AuthFailures != 0 {
				t.Fatalf("stats %+v, want nothing failed and no auth failure", st)
			}
			if got := texts(h.tg, 50); fmt.Sprint(got) != "[hi]" {
				t.Fatalf("chat 50 got %v", got)
			}
		})
	}
}

// TestRevokedTokenPausesSendsAndResumes: while Telegram answers 401 (the
// token was revoked), nothing is failed or unlinked, the retries do not
// count against MaxAttempts, every send pauses between attempts, the
// dispatcher reports the failure; once the token works again, delivery
// resumes by itself, in order. Before finding 2 of issue 8 was fixed, the
// first 401 failed every notification "rejected".
func TestRevokedTokenPausesSendsAndResumes(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.MaxAttempts = 2
			h := newHarness(t, b, cfg)
			obs := h.obs
			h.link("u1", 51)
			h.link("u2", 52)
			h.tg.SetTokenRevoked(true)
			ids := []string{
				h.enqueue(delivery.Request{UserID: "u1", ChatID: 51, Text: "a1"}).ID,
				h.enqueue(delivery.Request{UserID: "u1", ChatID: 51, Text: "a2"}).ID,
				h.enqueue(delivery.Request{UserID: "u2", ChatID: 52, Text: "b1"}).ID,
			}
			anyFinal := func() bool {
				for _, id := range ids {
					if n, err := h.d.Get(ctxT(t), id); err == nil && (n.State == delivery.StateSent || n.State == delivery.StateFailed) {
						return true
					}
				}
				return false
			}
			// Several rounds of attempts, more than MaxAttempts per chat.
			waitFor(t, "six sends while revoked", func() bool { return h.tg.Calls("sendMessage") >= 6 || anyFinal() })
			for _, id := range ids {
				n, err := h.d.Get(ctxT(t), id)
				if err != nil || (n.State != delivery.StateQueued && n.State != delivery.StateSending) || n.Retries != 0 {
					t.Fatalf("while revoked: %+v, %v; want QUEUED (or SENDING) with no retry counted", n, err)
				}
			}
			for user, chat := range map[string]int64{"u1": 51, "u2": 52} {
				if l, err := h.b.links.GetLink(ctxT(t), user); err != nil || l.ChatID != chat {
					t.Fatalf("GetLink(%s) = %+v, %v; want still linked", user, l, err)
				}
			}
			if reason, failing := h.d.AuthFailure(); !failing || !strings.Contains(reason, "401") {
				t.Fatalf("AuthFailure = %q, %v; want the 401 reported", reason, failing)
			}
			if n := obs.count("auth failed telegram: 401 Unauthorized"); n == 0 {
				t.Fatalf("observer events %v lack the auth failure", obs.snapshot())
			}
			// The pause: after the first 401 only the sends already in flight
			// (at most one per worker) may start within its first 400 ms.
			calls := h.sender.calls()
			var first time.Time
			for _, c := range calls {
				if telegram.IsAuthFailure(c.err) && (first.IsZero() || c.end.Before(first)) {
					first = c.end
				}
			}
			during := 0
			for _, c := range calls {
				if c.start.After(first) && c.start.Before(first.Add(400*time.Millisecond)) {
					during++
				}
			}
			if during > cfg.Workers {
				t.Fatalf("%d sends within 400 ms of the first 401, want the pause honoured", during)
			}

			h.tg.SetTokenRevoked(false)
			for _, id := range ids {
				if n := waitFinal(t, h.d, id); n.State != delivery.StateSent || n.Retries != 0 {
					t.Fatalf("after the token works again: %+v, want SENT", n)
				}
			}
			if got := texts(h.tg, 51); fmt.Sprint(got) != "[a1 a2]" {
				t.Fatalf("chat 51 got %v, want [a1 a2]", got)
			}
			if reason, failing := h.d.AuthFailure(); failing {
				t.Fatalf("AuthFailure = %q, true after a successful send", reason)
			}
			st := h.obs.stats()
			if len(st.Failed) != 0 || st.AuthFailures < 6 {
				t.Fatalf("stats %+v, want nothing failed and every 401 counted", st)
			}
			if n := obs.count("auth recovered"); n != 1 {
				t.Fatalf("%d recoveries reported, want 1: %v", n, obs.snapshot())
			}
		})
	}
}

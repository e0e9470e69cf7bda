package store_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// queue is what the contract suites call: delivery's interface, which
// both queues satisfy (checked next to them).
type queue = delivery.Queue

const (
	qLease     = 10 * time.Second
	qRetention = time.Hour
)

var (
	qOpts      = delivery.EnqueueOptions{Retention: qRetention, IdempotencyTTL: 25 * time.Hour}
	qClaimOpts = delivery.ClaimOptions{Lease: qLease, Retention: qRetention}
)

func TestMemoryQueueContract(t *testing.T) {
	runQueueContract(t, func(t *testing.T) queue { return store.NewMemoryQueue(nil) })
}

func TestRedisQueueContract(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runQueueContract(t, func(t *testing.T) queue {
		st := store.NewRedis(srv.Client(t), fmt.Sprintf("q%d", n.Add(1)))
		return st.Queue()
	})
}

// qctx returns a context bounded for one test step.
func qctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// notif builds a notification.
func notif(id, user string, chat int64, at time.Time, parts ...string) delivery.Notification {
	if len(parts) == 0 {
		parts = []string{"text of " + id}
	}
	return delivery.Notification{ID: id, UserID: user, ChatID: chat, Parts: parts, ParseMode: "HTML", CreatedAt: at}
}

func mustEnqueue(t *testing.T, q queue, n delivery.Notification) {
	t.Helper()
	if _, dup, err := q.Enqueue(qctx(t), n, qOpts); err != nil || dup {
		t.Fatalf("Enqueue(%s) = dup %v, %v", n.ID, dup, err)
	}
}

func mustClaim(t *testing.T, q queue, now time.Time) delivery.Claim {
	t.Helper()
	c, ok, err := q.Claim(qctx(t), now, qClaimOpts)
	if err != nil || !ok {
		t.Fatalf("Claim(%v) = ok %v, %v; want a claim", now, ok, err)
	}
	return c
}

func mustNoClaim(t *testing.T, q queue, now time.Time) {
	t.Helper()
	c, ok, err := q.Claim(qctx(t), now, qClaimOpts)
	if err != nil || ok {
		t.Fatalf("Claim(%v) = %+v ok %v, %v; want none", now, c, ok, err)
	}
}

func mustSettle(t *testing.T, q queue, c delivery.Claim, o delivery.Outcome, now time.Time) {
	t.Helper()
	if err := q.Settle(qctx(t), c, o, now, qRetention); err != nil {
		t.Fatalf("Settle(%s, kind %d) = %v", c.Notification.ID, o.Kind, err)
	}
}

func mustGet(t *testing.T, q queue, id string) delivery.Notification {
	t.Helper()
	n, err := q.Get(qctx(t), id)
	if err != nil {
		t.Fatalf("Get(%s) = %v", id, err)
	}
	return n
}

// drainOrder claims and completes everything due at now (advancing time),
// returning the ids in the order they were sent.
func drainOrder(t *testing.T, q queue, now time.Time) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		c, ok, err := q.Claim(qctx(t), now, qClaimOpts)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ids
		}
		ids = append(ids, c.Notification.ID)
		mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, Attempts: 1, NextAt: now}, now)
	}
	t.Fatal("drain did not end")
	return nil
}

// checkBacklog fails unless the queue's backlog is depth notifications,
// the oldest created at oldest.
func checkBacklog(t *testing.T, q queue, depth int64, oldest time.Time) {
	t.Helper()
	d, o, err := q.Backlog(qctx(t))
	if err != nil || d != depth || !o.Equal(oldest) {
		t.Fatalf("Backlog = %d, %v, %v; want %d, %v", d, o, err, depth, oldest)
	}
}

func runQueueContract(t *testing.T, newQueue func(t *testing.T) queue) {
	t0 := time.Now().Truncate(time.Millisecond)
	tests := []struct {
		name string
		run  func(t *testing.T, q queue)
	}{
		{"a reply goes to the head of the backlog and into no summary", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("n1", "u1", 42, t0))
			mustEnqueue(t, q, notif("n2", "u1", 42, t0))
			r := delivery.Notification{ID: "r1", ChatID: 42, Parts: []string{"welcome"}, Reply: true, CreatedAt: t0}
			mustEnqueue(t, q, r)
			if got := mustGet(t, q, "r1"); !got.Reply || got.UserID != "" || got.State != delivery.StateQueued {
				t.Fatalf("reply record = %+v", got)
			}
			checkBacklog(t, q, 3, t0)
			if got := drainOrder(t, q, t0); !slices.Equal(got, []string{"r1", "n1", "n2"}) {
				t.Fatalf("sent %v, want the reply first", got)
			}
			s, err := q.Summary(qctx(t), "u1")
			if err != nil || s.Sent != 2 || s.Queued != 0 || s.LastID != "n2" {
				t.Fatalf("summary = %+v, %v; want the two notifications only", s, err)
			}
			if s, err := q.Summary(qctx(t), ""); err != nil || s != (delivery.UserSummary{}) {
				t.Fatalf("summary of the empty user = %+v, %v; want none", s, err)
			}
		}},
		{"a reply waits behind a head whose first part is sent", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("n1", "u1", 43, t0, "part one", "part two"))
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, Attempts: 1, NextAt: t0}, t0)
			mustEnqueue(t, q, delivery.Notification{ID: "r1", ChatID: 43, Parts: []string{"bye"}, Reply: true, CreatedAt: t0})
			if got := drainOrder(t, q, t0); !slices.Equal(got, []string{"n1", "r1"}) {
				t.Fatalf("sent %v, want n1's second part before the reply", got)
			}
		}},
		{"a part sent degraded records it, by Settle and SettleAndClaim", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("d1", "u1", 44, t0, "one", "two"))
			mustEnqueue(t, q, notif("d2", "u2", 45, t0))
			c := mustClaim(t, q, t0)
			if got := c.Notification.Degraded; got != "" {
				t.Fatalf("fresh record degraded %q", got)
			}
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, Attempts: 1,
				Degraded: delivery.DegradedParseEntities, NextAt: t0}, t0)
			if got := mustGet(t, q, c.Notification.ID); got.Degraded != delivery.DegradedParseEntities {
				t.Fatalf("after a degraded part: %+v", got)
			}
			for range 2 {
				c := mustClaim(t, q, t0)
				nc, _, err := q.SettleAndClaim(qctx(t), c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 2,
					Attempts: 1, Degraded: delivery.DegradedParseEntities, NextAt: t0}, t0, qClaimOpts)
				if err != nil {
					t.Fatal(err)
				}
				if nc.Notification.ID != "" {
					mustSettle(t, q, nc, delivery.Outcome{Kind: delivery.OutcomeRelease, NextAt: t0}, t0)
				}
			}
			for _, id := range []string{"d1", "d2"} {
				if got := mustGet(t, q, id); got.Degraded != delivery.DegradedParseEntities || got.State != delivery.StateSent {
					t.Fatalf("%s = %+v; want SENT degraded parse_entities", id, got)
				}
			}
		}},
		{"media persist, and the media's file_id is recorded by Settle and SettleAndClaim", func(t *testing.T, q queue) {
			m1 := notif("m1", "u1", 46, t0, "caption")
			m1.Media = delivery.Media{Kind: delivery.MediaPhoto, URL: "https://example.com/a.png"}
			m2 := notif("m2", "u2", 47, t0, "", "text after the document")
			m2.Media = delivery.Media{Kind: delivery.MediaDocument, FileID: "BQAC_x-1"}
			mustEnqueue(t, q, m1)
			mustEnqueue(t, q, m2)
			if got := mustGet(t, q, "m1"); got.Media != m1.Media || got.MediaFileID != "" {
				t.Fatalf("m1 = %+v", got)
			}
			if got := mustGet(t, q, "m2"); got.Media != m2.Media {
				t.Fatalf("m2 = %+v", got)
			}
			c := mustClaim(t, q, t0)
			want := map[string]string{c.Notification.ID: "file-" + c.Notification.ID}
			nc, _, err := q.SettleAndClaim(qctx(t), c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1,
				Attempts: 1, MediaFileID: want[c.Notification.ID], NextAt: t0}, t0, qClaimOpts)
			if err != nil || nc.Notification.ID == "" {
				t.Fatalf("settle and claim: %+v %v", nc, err)
			}
			want[nc.Notification.ID] = "file-" + nc.Notification.ID
			if nc.Notification.Media.Kind == delivery.MediaNone {
				t.Fatalf("claimed %+v without its media", nc.Notification)
			}
			mustSettle(t, q, nc, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 2, Attempts: 1,
				MediaFileID: want[nc.Notification.ID], NextAt: t0}, t0)
			for id, fid := range want {
				if got := mustGet(t, q, id); got.MediaFileID != fid {
					t.Fatalf("%s media_file_id %q, want %q", id, got.MediaFileID, fid)
				}
			}
		}},
		{"record round trip", func(t *testing.T, q queue) {
			bare := delivery.Notification{ID: "bare", UserID: "u1", ChatID: 42, Parts: []string{"hi"}, CreatedAt: t0}
			full := delivery.Notification{ID: "full", UserID: "u2", ChatID: -100, Parts: []string{"one", "two"},
				ParseMode: "MarkdownV2", DisableNotification: true, PlainTextFallback: true, IdempotencyKey: "k1",
				Degraded:           delivery.DegradedParseEntities,
				DisableLinkPreview: true, ProtectContent: true, ReplyToID: "bare",
				Buttons: [][]delivery.Button{{{Text: "Approve", Callback: "approve:42"}, {Text: "Docs", URL: "https://x.test"}},
					{{Text: "Copy", CopyText: "ABC-1"}}},
				CallbackAnswer: "Thanks!", TopicID: 77, NoTopicFallback: true,
				CreatedAt: t0.Add(time.Millisecond)}
			for _, n := range []delivery.Notification{bare, full} {
				mustEnqueue(t, q, n)
				want := withDigest(n)
				want.State, want.UpdatedAt = delivery.StateQueued, n.CreatedAt
				if got := mustGet(t, q, n.ID); !reflect.DeepEqual(got, want) {
					t.Errorf("Get(%s) =\n%+v, want\n%+v", n.ID, got, want)
				}
				s, err := q.Summary(qctx(t), n.UserID)
				if err != nil || s.Queued != 1 || s.LastID != n.ID || s.LastState != delivery.StateQueued ||
					!s.LastUpdatedAt.Equal(n.CreatedAt) || s.LastError != "" {
					t.Errorf("Summary(%s) = %+v, %v", n.UserID, s, err)
				}
			}
		}},
		{"enqueue claim complete", func(t *testing.T, q queue) {
			mustNoClaim(t, q, t0)
			mustEnqueue(t, q, notif("n1", "u1", 42, t0))
			if n := mustGet(t, q, "n1"); n.State != delivery.StateQueued || n.ChatID != 42 || n.ParseMode != "HTML" {
				t.Fatalf("after enqueue: %+v", n)
			}
			c := mustClaim(t, q, t0)
			if c.ChatID != 42 || c.Notification.ID != "n1" || c.Notification.State != delivery.StateSending {
				t.Fatalf("claim = %+v", c)
			}
			mustNoClaim(t, q, t0) // leased
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 7, Attempts: 1, NextAt: t0}, t0.Add(time.Second))
			n := mustGet(t, q, "n1")
			if n.State != delivery.StateSent || n.Attempts != 1 || len(n.MessageIDs) != 1 || n.MessageIDs[0] != 7 ||
				!n.UpdatedAt.Equal(t0.Add(time.Second)) || !n.CreatedAt.Equal(t0) {
				t.Fatalf("after settle: %+v", n)
			}
			mustNoClaim(t, q, t0.Add(time.Hour))
			s, err := q.Summary(qctx(t), "u1")
			if err != nil || s.Sent != 1 || s.Queued != 0 || s.LastID != "n1" || s.LastState != delivery.StateSent {
				t.Fatalf("Summary = %+v, %v", s, err)
			}
			if _, err := q.Get(qctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
			}
		}},
		{"multi-part waits for the chat interval", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("n1", "u1", 42, t0, "p1", "p2"))
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, Attempts: 1, NextAt: t0.Add(time.Second)}, t0)
			if n := mustGet(t, q, "n1"); n.State != delivery.StateSending || n.NextPart != 1 {
				t.Fatalf("after part 1: %+v", n)
			}
			due, ok, err := q.NextDue(qctx(t))
			if err != nil || !ok || !due.Equal(t0.Add(time.Second)) {
				t.Fatalf("NextDue = %v %v %v", due, ok, err)
			}
			mustNoClaim(t, q, t0.Add(999*time.Millisecond))
			c = mustClaim(t, q, t0.Add(time.Second))
			if c.Notification.NextPart != 1 {
				t.Fatalf("second claim: %+v", c.Notification)
			}
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 2, Attempts: 1, NextAt: t0}, t0)
			if n := mustGet(t, q, "n1"); n.State != delivery.StateSent || fmt.Sprint(n.MessageIDs) != "[1 2]" || n.Attempts != 2 {
				t.Fatalf("after part 2: %+v", n)
			}
		}},
		{"an idle chat keeps its pacing for the next notification", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("n1", "u1", 42, t0))
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, Attempts: 1, NextAt: t0.Add(10 * time.Second)}, t0)
			// The backlog is empty now; a new notification must still wait
			// for the chat's interval.
			mustEnqueue(t, q, notif("n2", "u1", 42, t0))
			mustNoClaim(t, q, t0.Add(5*time.Second))
			if c := mustClaim(t, q, t0.Add(10*time.Second)); c.Notification.ID != "n2" {
				t.Fatalf("claim = %+v", c)
			}
		}},
		{"retry keeps the head and its place", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a", "u1", 42, t0))
			mustEnqueue(t, q, notif("b", "u1", 42, t0))
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomeRetry, Attempts: 1, Retries: 1, LastError: "500 oops", NextAt: t0.Add(time.Minute)}, t0)
			n := mustGet(t, q, "a")
			if n.State != delivery.StateQueued || n.Retries != 1 || n.Attempts != 1 || n.LastError != "500 oops" {
				t.Fatalf("after retry: %+v", n)
			}
			mustNoClaim(t, q, t0.Add(time.Second))
			if got := drainOrder(t, q, t0.Add(time.Minute)); fmt.Sprint(got) != "[a b]" {
				t.Fatalf("order = %v", got)
			}
		}},
		{"fail removes it and frees the chat", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a", "u1", 42, t0))
			mustEnqueue(t, q, notif("b", "u1", 42, t0))
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomeFail, Attempts: 1, Reason: "blocked", LastError: "Forbidden", NextAt: t0}, t0)
			n := mustGet(t, q, "a")
			if n.State != delivery.StateFailed || n.FailureReason != "blocked" || n.LastError != "Forbidden" {
				t.Fatalf("after fail: %+v", n)
			}
			if c := mustClaim(t, q, t0); c.Notification.ID != "b" {
				t.Fatalf("next claim = %s", c.Notification.ID)
			}
			s, _ := q.Summary(qctx(t), "u1")
			if s.Failed != 1 || s.Queued != 1 || s.LastID != "b" {
				t.Fatalf("summary = %+v", s)
			}
		}},
		{"expired qLease is taken over and the stale worker is fenced", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a", "u1", 42, t0))
			old := mustClaim(t, q, t0)
			mustNoClaim(t, q, t0.Add(qLease-time.Millisecond))
			due, ok, _ := q.NextDue(qctx(t))
			if !ok || !due.Equal(t0.Add(qLease)) {
				t.Fatalf("NextDue = %v %v, want qLease expiry", due, ok)
			}
			nw := mustClaim(t, q, t0.Add(qLease))
			if nw.Notification.ID != "a" || nw.Token == old.Token {
				t.Fatalf("takeover claim = %+v", nw)
			}
			err := q.Settle(qctx(t), old, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0}, t0, qRetention)
			if !errors.Is(err, delivery.ErrLeaseLost) {
				t.Fatalf("stale Settle = %v, want ErrLeaseLost", err)
			}
			if err := q.Migrate(qctx(t), old, 43, t0); !errors.Is(err, delivery.ErrLeaseLost) {
				t.Fatalf("stale Migrate = %v, want ErrLeaseLost", err)
			}
			mustSettle(t, q, nw, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0}, t0)
			if n := mustGet(t, q, "a"); n.State != delivery.StateSent || len(n.MessageIDs) != 1 {
				t.Fatalf("after takeover: %+v", n)
			}
		}},
		{"release gives the chat back", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a", "u1", 42, t0))
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomeRelease, NextAt: t0}, t0)
			if n := mustGet(t, q, "a"); n.State != delivery.StateQueued {
				t.Fatalf("after release: %+v", n)
			}
			if c := mustClaim(t, q, t0); c.Notification.ID != "a" {
				t.Fatalf("claim after release = %+v", c)
			}
		}},
		{"per-chat order", func(t *testing.T, q queue) {
			var want []string
			for i := range 8 {
				id := fmt.Sprintf("n%d", i)
				want = append(want, id)
				mustEnqueue(t, q, notif(id, "u1", 42, t0))
			}
			if got := drainOrder(t, q, t0); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("order = %v, want %v", got, want)
			}
		}},
		{"a busy chat does not block others", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a1", "u1", 1, t0))
			mustEnqueue(t, q, notif("a2", "u1", 1, t0))
			mustEnqueue(t, q, notif("b1", "u2", 2, t0.Add(time.Millisecond)))
			ca := mustClaim(t, q, t0.Add(time.Millisecond))
			if ca.ChatID != 1 {
				t.Fatalf("first claim chat %d, want 1 (earliest)", ca.ChatID)
			}
			cb := mustClaim(t, q, t0.Add(time.Millisecond))
			if cb.ChatID != 2 {
				t.Fatalf("second claim chat %d, want 2", cb.ChatID)
			}
			// chat 1 sent and must wait a second; chat 2 continues meanwhile.
			mustSettle(t, q, ca, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0.Add(time.Second)}, t0)
			mustSettle(t, q, cb, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0}, t0)
			mustNoClaim(t, q, t0.Add(500*time.Millisecond))
			if c := mustClaim(t, q, t0.Add(time.Second)); c.Notification.ID != "a2" {
				t.Fatalf("claim = %s", c.Notification.ID)
			}
		}},
		{"idempotency key", func(t *testing.T, q queue) {
			n := notif("first", "u1", 42, t0)
			n.IdempotencyKey = "k"
			mustEnqueue(t, q, n)
			n2 := notif("second", "u1", 42, t0)
			n2.IdempotencyKey = "k"
			got, dup, err := q.Enqueue(qctx(t), n2, qOpts)
			if err != nil || !dup || got.ID != "first" || got.IdempotencyKey != "k" {
				t.Fatalf("duplicate Enqueue = %+v dup %v, %v", got, dup, err)
			}
			other := notif("third", "u2", 43, t0) // same key, other user
			other.IdempotencyKey = "k"
			mustEnqueue(t, q, other)
			if got := drainOrder(t, q, t0); len(got) != 2 {
				t.Fatalf("sent %v, want first and third", got)
			}
		}},
		{"50 concurrent duplicates make one notification", func(t *testing.T, q queue) {
			var wg sync.WaitGroup
			ids := make([]string, 50)
			errs := make([]error, 50)
			for i := range 50 {
				wg.Go(func() {
					n := notif(fmt.Sprintf("c%d", i), "u1", 42, t0)
					n.IdempotencyKey = "same"
					got, _, err := q.Enqueue(context.Background(), n, qOpts)
					ids[i], errs[i] = got.ID, err
				})
			}
			wg.Wait()
			for i := range 50 {
				if errs[i] != nil || ids[i] != ids[0] {
					t.Fatalf("call %d: id %q err %v; first id %q", i, ids[i], errs[i], ids[0])
				}
			}
			if got := drainOrder(t, q, t0); len(got) != 1 {
				t.Fatalf("sent %v, want one", got)
			}
			if s, _ := q.Summary(qctx(t), "u1"); s.Sent != 1 || s.Queued != 0 {
				t.Fatalf("summary = %+v", s)
			}
		}},
		{"migrate moves the backlog in order", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a1", "u1", -5, t0))
			mustEnqueue(t, q, notif("a2", "u1", -5, t0))
			mustEnqueue(t, q, notif("b1", "u2", -100777, t0.Add(time.Millisecond)))
			c := mustClaim(t, q, t0)
			if c.ChatID != -5 {
				t.Fatalf("claim chat %d", c.ChatID)
			}
			if err := q.Migrate(qctx(t), c, -100777, t0); err != nil {
				t.Fatal(err)
			}
			if n := mustGet(t, q, "a2"); n.ChatID != -100777 {
				t.Fatalf("a2 chat = %d", n.ChatID)
			}
			if got := drainOrder(t, q, t0.Add(time.Millisecond)); fmt.Sprint(got) != "[a1 a2 b1]" {
				t.Fatalf("order after migrate = %v", got)
			}
		}},
		{"backlog counts queued and sending notifications", func(t *testing.T, q queue) {
			checkBacklog(t, q, 0, time.Time{})
			mustEnqueue(t, q, notif("a", "u1", 1, t0, "a1", "a2"))
			mustEnqueue(t, q, notif("b", "u1", 1, t0.Add(time.Second)))
			mustEnqueue(t, q, notif("c", "u2", -2, t0.Add(2*time.Second)))
			dup := notif("a-again", "u1", 1, t0.Add(3*time.Second))
			dup.IdempotencyKey = "k"
			mustEnqueue(t, q, dup)
			dup.ID = "a-dup"
			if _, isDup, err := q.Enqueue(qctx(t), dup, qOpts); err != nil || !isDup {
				t.Fatalf("duplicate Enqueue = %v, %v", isDup, err)
			}
			checkBacklog(t, q, 4, t0)
			c := mustClaim(t, q, t0.Add(5*time.Second)) // a, SENDING
			checkBacklog(t, q, 4, t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0}, t0)
			checkBacklog(t, q, 4, t0) // one part of two sent
			c = mustClaim(t, q, t0.Add(5*time.Second))
			if c.Notification.ID != "a" {
				t.Fatalf("claim = %s, want a", c.Notification.ID)
			}
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 2, NextAt: t0}, t0)
			checkBacklog(t, q, 3, t0.Add(time.Second))
			c = mustClaim(t, q, t0.Add(5*time.Second))
			if c.Notification.ID != "b" {
				t.Fatalf("claim = %s, want b", c.Notification.ID)
			}
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomeRetry, Retries: 1, NextAt: t0}, t0)
			checkBacklog(t, q, 3, t0.Add(time.Second))
			c = mustClaim(t, q, t0.Add(5*time.Second))
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomeFail, Reason: "blocked", NextAt: t0.Add(time.Minute)}, t0)
			checkBacklog(t, q, 2, t0.Add(2*time.Second))
			c = mustClaim(t, q, t0.Add(5*time.Second))
			if c.ChatID != -2 {
				t.Fatalf("claim chat %d, want -2", c.ChatID)
			}
			if err := q.Migrate(qctx(t), c, -1002, t0); err != nil {
				t.Fatal(err)
			}
			checkBacklog(t, q, 2, t0.Add(2*time.Second))
			if got := drainOrder(t, q, t0.Add(time.Minute)); len(got) != 2 {
				t.Fatalf("drained %v, want c and a-again", got)
			}
			checkBacklog(t, q, 0, time.Time{})
		}},
		{"settle and claim in one step", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a1", "u1", 1, t0))
			mustEnqueue(t, q, notif("a2", "u1", 1, t0))
			mustEnqueue(t, q, notif("b1", "u2", 2, t0.Add(time.Millisecond)))
			ca := mustClaim(t, q, t0.Add(time.Millisecond))
			if ca.Notification.ID != "a1" {
				t.Fatalf("claim = %s, want a1", ca.Notification.ID)
			}
			// a1 sent; chat 1 waits a second, so the next claim is chat 2.
			cb, ok, err := q.SettleAndClaim(qctx(t), ca, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 5, Attempts: 1,
				NextAt: t0.Add(time.Second)}, t0.Add(time.Millisecond), qClaimOpts)
			if err != nil || !ok || cb.Notification.ID != "b1" || cb.ChatID != 2 || cb.Notification.State != delivery.StateSending ||
				cb.Token == "" || cb.Token == ca.Token || !cb.LeaseUntil.Equal(t0.Add(time.Millisecond+qLease)) {
				t.Fatalf("SettleAndClaim = %+v, %v, %v; want b1", cb, ok, err)
			}
			if n := mustGet(t, q, "a1"); n.State != delivery.StateSent || fmt.Sprint(n.MessageIDs) != "[5]" || n.Attempts != 1 {
				t.Fatalf("a1 after SettleAndClaim: %+v", n)
			}
			// The stale a1 claim is fenced and claims nothing.
			if _, ok, err := q.SettleAndClaim(qctx(t), ca, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 6, NextAt: t0},
				t0.Add(2*time.Second), qClaimOpts); !errors.Is(err, delivery.ErrLeaseLost) || ok {
				t.Fatalf("stale SettleAndClaim = %v, %v; want ErrLeaseLost", ok, err)
			}
			// b1 sent; chat 1 is not due before t0+1s: nothing claimed.
			_, ok, err = q.SettleAndClaim(qctx(t), cb, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0},
				t0.Add(2*time.Millisecond), qClaimOpts)
			if err != nil || ok {
				t.Fatalf("SettleAndClaim with nothing due = %v, %v", ok, err)
			}
			c := mustClaim(t, q, t0.Add(time.Second))
			if c.Notification.ID != "a2" {
				t.Fatalf("claim = %s, want a2", c.Notification.ID)
			}
		}},
		{"records expire after qRetention", func(t *testing.T, q queue) {
			n := notif("short", "u1", 42, time.Now())
			n.IdempotencyKey = "k"
			if _, _, err := q.Enqueue(qctx(t), n, delivery.EnqueueOptions{Retention: 150 * time.Millisecond, IdempotencyTTL: time.Hour}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err := q.Get(qctx(t), "short")
				if errors.Is(err, store.ErrNotFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("record still there after qRetention: %v", err)
				}
				time.Sleep(20 * time.Millisecond) // polling an expiry, not synchronisation
			}
			checkBacklog(t, q, 0, time.Time{})
			// The expired record is skipped by Claim; the key still dedupes.
			mustNoClaim(t, q, time.Now())
			n2 := notif("again", "u1", 42, time.Now())
			n2.IdempotencyKey = "k"
			got, dup, err := q.Enqueue(qctx(t), n2, qOpts)
			if err != nil || !dup || got.ID != "short" {
				t.Fatalf("Enqueue after expiry = %+v %v %v", got, dup, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newQueue(t)) })
	}
}

package store_test

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestMemoryEditContract(t *testing.T) {
	runEditContract(t, func(t *testing.T) queue { return store.NewMemoryQueue(nil) })
}

func TestRedisEditContract(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runEditContract(t, func(t *testing.T) queue {
		return store.NewRedis(srv.Client(t), fmt.Sprintf("e%d", n.Add(1))).Queue()
	})
}

// textEdit is an edit of id to the one-message text.
func textEdit(id, text string, at time.Time) delivery.Edit {
	return delivery.Edit{ID: id, HasText: true, Parts: []string{text}, Fits: true, Text: text, ParseMode: "HTML",
		Now: at, Retention: qRetention}
}

func mustEdit(t *testing.T, q queue, e delivery.Edit) delivery.Notification {
	t.Helper()
	n, err := q.Edit(qctx(t), e)
	if err != nil {
		t.Fatalf("Edit(%s) = %v", e.ID, err)
	}
	return n
}

func mustDelete(t *testing.T, q queue, id string, at time.Time) delivery.Notification {
	t.Helper()
	n, err := q.Delete(qctx(t), id, at, qRetention)
	if err != nil {
		t.Fatalf("Delete(%s) = %v", id, err)
	}
	return n
}

// sent settles c's part as sent with message id msg.
func sent(msg int64, at time.Time) delivery.Outcome {
	return delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: msg, Attempts: 1, NextAt: at}
}

// opDone settles claim c's operation with result r.
func opOutcome(c delivery.Claim, r delivery.OpResult, desc string, at time.Time) delivery.Outcome {
	n := c.Notification
	return delivery.Outcome{Kind: delivery.OutcomeOp, NextAt: at,
		Op: delivery.OpOutcome{Op: n.Op, Result: r, Error: desc, Revision: n.Rev()}}
}

func runEditContract(t *testing.T, newQueue func(t *testing.T) queue) {
	t0 := time.Now().Truncate(time.Millisecond)
	tests := []struct {
		name string
		run  func(t *testing.T, q queue)
	}{
		{"an edit before sending replaces what is sent, re-split, with no operation", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("a", "u1", 42, t0))
			e := delivery.Edit{ID: "a", HasText: true, Parts: []string{"one", "two"}, Text: "one two", ParseMode: "",
				SetButtons: true, Buttons: [][]delivery.Button{{{Text: "Go", URL: "https://x.test"}}}, Now: t0,
				Retention: qRetention}
			got := mustEdit(t, q, e)
			if got.Rev() != 2 || got.EditState != delivery.EditApplied || got.Op != "" ||
				!slices.Equal(got.Parts, []string{"one", "two"}) || got.ParseMode != "" || len(got.Buttons) != 1 {
				t.Fatalf("after the edit: %+v", got)
			}
			c := mustClaim(t, q, t0)
			if c.Notification.Parts[0] != "one" || c.Notification.Rev() != 2 {
				t.Fatalf("claimed %+v", c.Notification)
			}
		}},
		{"an edit while the one message is claimed is applied after it is sent", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("b", "u1", 43, t0))
			c := mustClaim(t, q, t0)
			got := mustEdit(t, q, textEdit("b", "new", t0))
			if got.EditState != delivery.EditPending || got.Op != delivery.OpEdit || got.Parts[0] != "new" {
				t.Fatalf("edit while claimed: %+v", got)
			}
			mustSettle(t, q, c, sent(7, t0), t0) // the old text went out
			if got := mustGet(t, q, "b"); got.State != delivery.StateSent || got.Op != delivery.OpEdit {
				t.Fatalf("after the send: %+v", got)
			}
			checkBacklog(t, q, 0, time.Time{})
			oc := mustClaim(t, q, t0)
			if n := oc.Notification; n.Op != delivery.OpEdit || !n.OpHasText || n.OpText != "new" ||
				!slices.Equal(n.MessageIDs, []int64{7}) {
				t.Fatalf("operation claimed: %+v", n)
			}
			mustSettle(t, q, oc, opOutcome(oc, delivery.OpDone, "", t0), t0)
			if got := mustGet(t, q, "b"); got.EditState != delivery.EditApplied || got.Op != "" || got.Rev() != 2 {
				t.Fatalf("after the edit: %+v", got)
			}
			mustNoClaim(t, q, t0)
		}},
		{"an edit claimed before its settle was sent with it: applied, no operation", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("c", "u1", 44, t0))
			c := mustClaim(t, q, t0)
			mustEdit(t, q, textEdit("c", "new", t0))
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomeRetry, NextAt: t0}, t0)
			c = mustClaim(t, q, t0) // the retry sends the new text
			if c.Notification.Parts[0] != "new" {
				t.Fatalf("retry claimed %+v", c.Notification)
			}
			mustSettle(t, q, c, sent(1, t0), t0)
			if got := mustGet(t, q, "c"); got.EditState != delivery.EditApplied || got.Op != "" {
				t.Fatalf("after the send: %+v", got)
			}
			mustNoClaim(t, q, t0)
		}},
		{"edits after sending coalesce, the last wins, a newer one is not lost in flight", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("d", "u1", 45, t0))
			mustSettle(t, q, mustClaim(t, q, t0), sent(3, t0), t0)
			mustEdit(t, q, textEdit("d", "v2", t0))
			mustEdit(t, q, textEdit("d", "v3", t0))
			kb := mustEdit(t, q, delivery.Edit{ID: "d", SetButtons: true, Now: t0, Retention: qRetention})
			if kb.Rev() != 4 || kb.OpText != "v3" || !kb.OpHasText {
				t.Fatalf("a keyboard-only edit must keep the pending text: %+v", kb)
			}
			c := mustClaim(t, q, t0)
			mustEdit(t, q, textEdit("d", "v5", t0)) // while v3 is in flight
			mustSettle(t, q, c, opOutcome(c, delivery.OpDone, "", t0), t0)
			if got := mustGet(t, q, "d"); got.EditState != delivery.EditPending || got.Op != delivery.OpEdit {
				t.Fatalf("the newer edit was dropped: %+v", got)
			}
			c = mustClaim(t, q, t0)
			if c.Notification.OpText != "v5" {
				t.Fatalf("claimed %+v, want v5", c.Notification)
			}
			mustSettle(t, q, c, opOutcome(c, delivery.OpFailed, "Bad Request: message can't be edited", t0), t0)
			got := mustGet(t, q, "d")
			if got.EditState != delivery.EditFailed || got.EditError == "" || got.State != delivery.StateSent || got.Rev() != 5 {
				t.Fatalf("after the failed edit: %+v", got)
			}
			mustNoClaim(t, q, t0)
		}},
		{"an operation retried stays at the head of its chat", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("e", "u1", 46, t0))
			mustSettle(t, q, mustClaim(t, q, t0), sent(3, t0), t0)
			mustEdit(t, q, textEdit("e", "v2", t0))
			c := mustClaim(t, q, t0)
			o := opOutcome(c, delivery.OpRetry, "502", t0.Add(time.Second))
			o.Retries = 1
			mustSettle(t, q, c, o, t0)
			mustNoClaim(t, q, t0)
			c = mustClaim(t, q, t0.Add(time.Second))
			if c.Notification.OpRetries != 1 || c.Notification.Op != delivery.OpEdit {
				t.Fatalf("retried operation: %+v", c.Notification)
			}
		}},
		{"edits that cannot be", func(t *testing.T, q queue) {
			if _, err := q.Edit(qctx(t), textEdit("nope", "x", t0)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
			mustEnqueue(t, q, notif("f", "u1", 47, t0))
			mustSettle(t, q, mustClaim(t, q, t0), delivery.Outcome{Kind: delivery.OutcomeFail, Reason: "rejected", NextAt: t0}, t0)
			mustEnqueue(t, q, notif("s", "u1", 48, t0, "one", "two"))
			mustSettle(t, q, mustClaim(t, q, t0), sent(1, t0.Add(time.Hour)), t0) // its second part waits
			mustEnqueue(t, q, notif("l", "u1", 49, t0))
			mustSettle(t, q, mustClaim(t, q, t0), sent(1, t0), t0)
			mustEnqueue(t, q, notif("x", "u1", 50, t0))
			mustDelete(t, q, "x", t0)
			long := textEdit("l", "long", t0)
			long.Fits, long.Parts = false, []string{"lo", "ng"}
			for _, e := range []delivery.Edit{textEdit("f", "x", t0), textEdit("s", "x", t0), long, textEdit("x", "x", t0)} {
				if _, err := q.Edit(qctx(t), e); !errors.Is(err, delivery.ErrNotEditable) {
					t.Errorf("Edit(%s) = %v, want ErrNotEditable", e.ID, err)
				}
			}
			if got := mustGet(t, q, "l"); got.Rev() != 1 || got.Op != "" {
				t.Fatalf("a refused edit changed the record: %+v", got)
			}
		}},
		{"a delete before sending cancels: never claimed, out of the counts", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("g", "u1", 51, t0))
			got := mustDelete(t, q, "g", t0)
			if got.State != delivery.StateCancelled || got.Op != "" || got.Deleted {
				t.Fatalf("cancelled: %+v", got)
			}
			mustNoClaim(t, q, t0)
			checkBacklog(t, q, 0, time.Time{})
			s, err := q.Summary(qctx(t), "u1")
			if err != nil || s.Queued != 0 || s.Sent != 0 || s.Failed != 0 || s.LastState != delivery.StateCancelled {
				t.Fatalf("summary = %+v, %v", s, err)
			}
			if again := mustDelete(t, q, "g", t0); again.State != delivery.StateCancelled {
				t.Fatalf("deleting twice: %+v", again)
			}
			if _, err := q.Delete(qctx(t), "nope", t0, qRetention); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
		}},
		{"a delete while claimed: a retry drops it, a send is deleted", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("h", "u1", 52, t0))
			c := mustClaim(t, q, t0)
			mustDelete(t, q, "h", t0)
			mustSettle(t, q, c, delivery.Outcome{Kind: delivery.OutcomeRetry, NextAt: t0}, t0)
			if got := mustGet(t, q, "h"); got.State != delivery.StateCancelled {
				t.Fatalf("a settle resurrected it: %+v", got)
			}
			mustNoClaim(t, q, t0)

			mustEnqueue(t, q, notif("i", "u2", 53, t0))
			c = mustClaim(t, q, t0)
			mustDelete(t, q, "i", t0)
			mustSettle(t, q, c, sent(9, t0), t0)
			oc := mustClaim(t, q, t0)
			if n := oc.Notification; n.State != delivery.StateCancelled || n.Op != delivery.OpDelete ||
				!slices.Equal(n.MessageIDs, []int64{9}) {
				t.Fatalf("delete claimed: %+v", n)
			}
			mustSettle(t, q, oc, opOutcome(oc, delivery.OpDone, "", t0), t0)
			if got := mustGet(t, q, "i"); !got.Deleted || got.State != delivery.StateCancelled {
				t.Fatalf("after the delete: %+v", got)
			}
			s, _ := q.Summary(qctx(t), "u2")
			if s.Sent != 0 || s.Queued != 0 {
				t.Fatalf("summary %+v: a cancelled one counts as neither", s)
			}
		}},
		{"a delete mid-split never sends the rest and deletes what was sent", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("j", "u1", 54, t0, "one", "two", "three"))
			mustSettle(t, q, mustClaim(t, q, t0), sent(1, t0), t0)
			if got := mustDelete(t, q, "j", t0); got.State != delivery.StateCancelled || got.Op != delivery.OpDelete {
				t.Fatalf("mid-split: %+v", got)
			}
			c := mustClaim(t, q, t0)
			if c.Notification.Op != delivery.OpDelete {
				t.Fatalf("claimed %+v, want the delete", c.Notification)
			}
			mustSettle(t, q, c, opOutcome(c, delivery.OpDone, "", t0), t0)
			mustNoClaim(t, q, t0)
			if got := mustGet(t, q, "j"); !got.Deleted || got.NextPart != 1 {
				t.Fatalf("after: %+v", got)
			}
		}},
		{"a delete after sending, refused by Telegram, records why; twice is harmless", func(t *testing.T, q queue) {
			mustEnqueue(t, q, notif("k", "u1", 55, t0))
			mustSettle(t, q, mustClaim(t, q, t0), sent(4, t0), t0)
			mustEdit(t, q, textEdit("k", "v2", t0))
			got := mustDelete(t, q, "k", t0)
			if got.State != delivery.StateSent || got.Op != delivery.OpDelete || got.EditState != delivery.EditFailed {
				t.Fatalf("delete of a sent one: %+v", got)
			}
			mustDelete(t, q, "k", t0)
			c := mustClaim(t, q, t0)
			mustSettle(t, q, c, opOutcome(c, delivery.OpFailed, "Bad Request: message can't be deleted for everyone", t0), t0)
			mustNoClaim(t, q, t0)
			got = mustGet(t, q, "k")
			if got.Deleted || got.DeleteError == "" || got.Op != "" || got.State != delivery.StateSent {
				t.Fatalf("after the refusal: %+v", got)
			}
			s, _ := q.Summary(qctx(t), "u1")
			if s.Sent != 1 {
				t.Fatalf("summary %+v", s)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newQueue(t)) })
	}
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// bcBackend is a store with links, queue and broadcasts.
type bcBackend struct {
	links interface {
		PutLinkToken(ctx context.Context, tok store.LinkToken) error
		ConsumeLinkToken(ctx context.Context, token string, chatID int64, username string, now time.Time) (store.Link, error)
		Read(ctx context.Context, after string, f events.Filter, limit int) ([]events.Event, string, error)
	}
	q interface {
		delivery.Queue
		CreateBroadcast(ctx context.Context, nb broadcast.New) (broadcast.Created, error)
		GetBroadcast(ctx context.Context, id string) (broadcast.Broadcast, error)
		CancelBroadcast(ctx context.Context, id string, now time.Time) (broadcast.State, error)
		BroadcastFailures(ctx context.Context, id string, offset int64, limit int) ([]broadcast.Failure, int64, error)
		ExpandBroadcast(ctx context.Context, id string, now time.Time, window int, retention time.Duration) (broadcast.Expansion, error)
	}
}

func TestBroadcastContract(t *testing.T) {
	srv := redistest.Start(t)
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			var b bcBackend
			if name == "memory" {
				m := store.NewMemory()
				b.links, b.q = m, m.Queue()
			} else {
				r := store.NewRedis(srv.Client(t), "bct")
				b.links, b.q = r, r.Queue()
			}
			testBroadcastContract(t, b)
		})
	}
}

func testBroadcastContract(t *testing.T, b bcBackend) {
	ctx := qctx(t)
	t0 := time.UnixMilli(time.Now().UnixMilli())
	for i := range 3 {
		tok := fmt.Sprint("tok", i)
		if err := b.links.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: fmt.Sprint("u", i), ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.links.ConsumeLinkToken(ctx, tok, int64(700+i), "", t0); err != nil {
			t.Fatal(err)
		}
	}
	msg := delivery.Notification{Parts: []string{"hello"}, ParseMode: "HTML",
		Buttons: [][]delivery.Button{{{Text: "Open", URL: "https://example.com"}}}}
	c, err := b.q.CreateBroadcast(ctx, broadcast.New{Message: msg, UserIDs: []string{"u0", "u1", "u2", "ghost"}, Rate: 10,
		CreatedAt: t0, Retention: time.Hour, IdempotencyKey: "k", IdempotencyTTL: time.Hour})
	if err != nil || c.Recipients != 4 || c.Existed {
		t.Fatalf("create = %+v %v", c, err)
	}
	if again, err := b.q.CreateBroadcast(ctx, broadcast.New{Message: msg, UserIDs: []string{"u0"}, Rate: 10, CreatedAt: t0,
		IdempotencyKey: "k", IdempotencyTTL: time.Hour}); err != nil || again.ID != c.ID || !again.Existed || again.Recipients != 4 {
		t.Fatalf("same key = %+v %v", again, err)
	}
	expand := func(at time.Time, want int) {
		t.Helper()
		e, err := b.q.ExpandBroadcast(ctx, c.ID, at, 2, time.Hour)
		if err != nil || e.Queued+e.Failed != want {
			t.Fatalf("expand at +%v = %+v %v, want %d", at.Sub(t0), e, err, want)
		}
	}
	expand(t0, 1)                            // the rate: one at once
	expand(t0.Add(10*time.Millisecond), 0)   // ... the next after 100 ms
	expand(t0.Add(time.Second), 1)           // the window: 2 unsettled
	expand(t0.Add(1100*time.Millisecond), 0) // full
	cl, ok, err := b.q.Claim(ctx, t0.Add(time.Second), qClaimOpts)
	if err != nil || !ok || cl.Notification.Broadcast != c.ID || cl.Notification.UserID != "u0" ||
		len(cl.Notification.Buttons) != 1 || cl.Notification.Parts[0] != "hello" {
		t.Fatalf("claim = %+v %v %v", cl, ok, err)
	}
	mustSettle(t, b.q, cl, delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, NextAt: t0.Add(time.Second)}, t0.Add(time.Second))
	if _, err := b.q.Get(ctx, cl.Notification.ID); err == nil {
		t.Fatal("a settled recipient's record is kept")
	}
	// The queued recipient's record is no notification of the caller's:
	// Edit and Delete do not find it (its counts stay the broadcast's).
	queuedID := ""
	for k := range 4 {
		if id := fmt.Sprintf("%s.%d", c.ID, k); id != cl.Notification.ID {
			if _, err := b.q.Get(ctx, id); err == nil {
				queuedID = id
			}
		}
	}
	if queuedID == "" {
		t.Fatal("no queued recipient record found")
	}
	if _, err := b.q.Delete(ctx, queuedID, t0.Add(time.Second), time.Hour); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete(recipient %s) = %v, want ErrNotFound", queuedID, err)
	}
	if _, err := b.q.Edit(ctx, delivery.Edit{ID: queuedID, HasText: true, Parts: []string{"x"}, Text: "x", Fits: true,
		Now: t0.Add(time.Second), Retention: time.Hour}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Edit(recipient %s) = %v, want ErrNotFound", queuedID, err)
	}
	if n, err := b.q.Get(ctx, queuedID); err != nil || n.State != delivery.StateQueued {
		t.Fatalf("recipient after a refused delete = %+v %v, want QUEUED", n, err)
	}
	if st, err := b.q.CancelBroadcast(ctx, c.ID, t0.Add(1500*time.Millisecond)); err != nil || st != broadcast.StateCancelled {
		t.Fatalf("cancel = %v %v", st, err)
	}
	got, err := b.q.GetBroadcast(ctx, c.ID)
	if err != nil || got.State != broadcast.StateCancelled || got.Sent != 1 || got.Cancelled != 3 || got.Pending() != 0 ||
		got.FinishedAt.IsZero() || got.StartedAt != t0 || !got.CreatedAt.Equal(t0) {
		t.Fatalf("after cancel %+v %v", got, err)
	}
	mustNoClaim(t, b.q, t0.Add(2*time.Second)) // u1's queued record went with the cancel
	expand(t0.Add(3*time.Second), 0)

	// A second one: ghost fails at expansion, u2 fails blocked; DONE.
	c2, err := b.q.CreateBroadcast(ctx, broadcast.New{Message: msg, UserIDs: []string{"ghost", "u2"}, Rate: 10, CreatedAt: t0, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := b.q.ExpandBroadcast(ctx, c2.ID, t0.Add(5*time.Second), 2, time.Hour); err != nil || e.Failed != 1 || e.Finished {
		t.Fatalf("expand = %+v %v", e, err)
	}
	if e, err := b.q.ExpandBroadcast(ctx, c2.ID, t0.Add(5100*time.Millisecond), 2, time.Hour); err != nil || e.Queued != 1 || !e.Finished {
		t.Fatalf("expand = %+v %v", e, err)
	}
	cl = mustClaim(t, b.q, t0.Add(5100*time.Millisecond))
	mustSettle(t, b.q, cl, delivery.Outcome{Kind: delivery.OutcomeFail, Reason: delivery.ReasonBlocked, NextAt: t0.Add(5 * time.Second)}, t0.Add(5*time.Second))
	got, err = b.q.GetBroadcast(ctx, c2.ID)
	if err != nil || got.State != broadcast.StateDone || got.Failed != 2 || got.FailuresByReason[delivery.ReasonBlocked] != 1 ||
		got.FailuresByReason[delivery.ReasonNotLinked] != 1 {
		t.Fatalf("second %+v %v", got, err)
	}
	fs, next, err := b.q.BroadcastFailures(ctx, c2.ID, 0, 1)
	if err != nil || len(fs) != 1 || fs[0] != (broadcast.Failure{UserID: "ghost", Reason: "not_linked"}) || next != 1 {
		t.Fatalf("failures page 1 = %v %d %v", fs, next, err)
	}
	fs, next, err = b.q.BroadcastFailures(ctx, c2.ID, next, 1)
	if err != nil || len(fs) != 1 || fs[0].UserID != "u2" || next != 0 {
		t.Fatalf("failures page 2 = %v %d %v", fs, next, err)
	}
	evs, _, err := b.links.Read(ctx, "", events.Filter{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var finished []string
	for _, e := range evs {
		switch e.Type {
		case events.TypeBroadcastFinished:
			finished = append(finished, e.BroadcastID+":"+e.Reason)
		case events.TypeNotificationSent, events.TypeNotificationFailed:
			t.Fatalf("a broadcast recipient wrote %v", e)
		}
	}
	if fmt.Sprint(finished) != fmt.Sprint([]string{c.ID + ":cancelled", c2.ID + ":done"}) {
		t.Fatalf("BROADCAST_FINISHED events %v", finished)
	}
	testBroadcastCancelInFlight(t, b, t0.Add(10*time.Second), msg)
	if _, err := b.q.GetBroadcast(ctx, "nope"); err == nil {
		t.Fatal("unknown broadcast found")
	}
}

// testBroadcastCancelInFlight: a recipient being sent when its broadcast
// is cancelled, given back unsent (a retry), is cancelled, not resent.
func testBroadcastCancelInFlight(t *testing.T, b bcBackend, at time.Time, msg delivery.Notification) {
	ctx := qctx(t)
	c, err := b.q.CreateBroadcast(ctx, broadcast.New{Message: msg, UserIDs: []string{"u1"}, Rate: 10, CreatedAt: at, Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := b.q.ExpandBroadcast(ctx, c.ID, at, 2, time.Hour); err != nil || e.Queued != 1 {
		t.Fatalf("expand = %+v %v", e, err)
	}
	cl := mustClaim(t, b.q, at)
	if _, err := b.q.CancelBroadcast(ctx, c.ID, at); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.q.GetBroadcast(ctx, c.ID); got.Pending() != 1 || got.Cancelled != 0 {
		t.Fatalf("in flight at the cancel: %+v", got)
	}
	mustSettle(t, b.q, cl, delivery.Outcome{Kind: delivery.OutcomeRetry, Attempts: 1, NextAt: at}, at)
	got, err := b.q.GetBroadcast(ctx, c.ID)
	if err != nil || got.Cancelled != 1 || got.Pending() != 0 || got.Sent != 0 {
		t.Fatalf("after the retry: %+v %v", got, err)
	}
	mustNoClaim(t, b.q, at.Add(time.Minute))
}

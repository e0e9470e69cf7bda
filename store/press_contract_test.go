package store_test

// The button press contract, run over both backends: a press is recorded
// once per callback query id, in the record (the latest 20, oldest first)
// and as BUTTON_PRESSED in the event log in one step; a press of an
// unknown or expired notification is the event alone; bad presses are
// refused.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// pressQueue is what the suite needs of a backend's queue.
type pressQueue interface {
	delivery.Queue
	RecordPress(ctx context.Context, p delivery.Press) (bool, error)
}

type pressBackend struct {
	q   pressQueue
	log events.Reader
}

func TestMemoryPressContract(t *testing.T) {
	runPressContract(t, func(t *testing.T) pressBackend {
		m := store.NewMemory()
		return pressBackend{q: m.Queue(), log: m}
	})
}

func TestRedisPressContract(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runPressContract(t, func(t *testing.T) pressBackend {
		st := store.NewRedis(srv.Client(t), fmt.Sprintf("pr%d", n.Add(1)))
		return pressBackend{q: st.Queue(), log: st}
	})
}

func runPressContract(t *testing.T, newBackend func(t *testing.T) pressBackend) {
	tests := []struct {
		name string
		run  func(t *testing.T, b pressBackend)
	}{
		{"recorded once with its event", testPressOnce},
		{"keeps the latest 20", testPressKeepsLatest},
		{"unknown notification: event only", testPressUnknown},
		{"concurrent redeliveries", testPressConcurrent},
		{"bad presses refused", testPressBad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newBackend(t)) })
	}
}

func press(q, id, user, cb string, at time.Time) delivery.Press {
	return delivery.Press{QueryID: q, NotificationID: id, UserID: user, ChatID: 42,
		ButtonPress: delivery.ButtonPress{Callback: cb, Username: "ann", TelegramUserID: 42, At: at}}
}

func pressEvents(t *testing.T, r events.Reader) []events.Event {
	t.Helper()
	evs, _, err := r.Read(qctx(t), "", events.Filter{Types: []events.Type{events.TypeButtonPressed}}, events.MaxRead)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return evs
}

func testPressOnce(t *testing.T, b pressBackend) {
	at := time.UnixMilli(1764600000123)
	mustEnqueue(t, b.q, notif("n1", "u1", 42, at))
	p := press("q1", "n1", "u1", "approve:7", at.Add(time.Second))
	for i, want := range []bool{true, false, false} {
		got, err := b.q.RecordPress(qctx(t), p)
		if err != nil || got != want {
			t.Fatalf("RecordPress #%d = %v, %v; want %v", i+1, got, err, want)
		}
	}
	n, err := b.q.Get(qctx(t), "n1")
	if err != nil {
		t.Fatal(err)
	}
	want := delivery.ButtonPress{Callback: "approve:7", Username: "ann", TelegramUserID: 42, At: at.Add(time.Second)}
	if len(n.Presses) != 1 || n.Presses[0].Callback != want.Callback || n.Presses[0].Username != want.Username ||
		n.Presses[0].TelegramUserID != 42 || !n.Presses[0].At.Equal(want.At) {
		t.Fatalf("presses = %+v, want [%+v]", n.Presses, want)
	}
	evs := pressEvents(t, b.log)
	if len(evs) != 1 {
		t.Fatalf("%d BUTTON_PRESSED events, want 1: %+v", len(evs), evs)
	}
	e := evs[0]
	if e.NotificationID != "n1" || e.UserID != "u1" || e.ChatID != 42 || e.Callback != "approve:7" ||
		e.Username != "ann" || !e.Time.Equal(want.At) {
		t.Fatalf("event = %+v", e)
	}
}

func testPressKeepsLatest(t *testing.T, b pressBackend) {
	at := time.UnixMilli(1764600000000)
	mustEnqueue(t, b.q, notif("n1", "u1", 42, at))
	for i := range 25 {
		p := press("q"+strconv.Itoa(i), "n1", "u1", "cb"+strconv.Itoa(i), at.Add(time.Duration(i)*time.Second))
		if ok, err := b.q.RecordPress(qctx(t), p); err != nil || !ok {
			t.Fatalf("RecordPress %d = %v, %v", i, ok, err)
		}
	}
	n, err := b.q.Get(qctx(t), "n1")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Presses) != delivery.MaxPresses {
		t.Fatalf("%d presses kept, want %d", len(n.Presses), delivery.MaxPresses)
	}
	for i, p := range n.Presses {
		if want := "cb" + strconv.Itoa(i+5); p.Callback != want {
			t.Fatalf("presses[%d] = %q, want %q (the latest 20, oldest first)", i, p.Callback, want)
		}
	}
	if got := len(pressEvents(t, b.log)); got != 25 {
		t.Fatalf("%d events, want 25 (the log keeps every press)", got)
	}
}

func testPressUnknown(t *testing.T, b pressBackend) {
	at := time.UnixMilli(1764600000000)
	// No notification (its record expired): the event alone.
	p := press("q1", "", "", "", at)
	if ok, err := b.q.RecordPress(qctx(t), p); err != nil || !ok {
		t.Fatalf("RecordPress = %v, %v", ok, err)
	}
	if ok, err := b.q.RecordPress(qctx(t), p); err != nil || ok {
		t.Fatalf("RecordPress again = %v, %v; want false", ok, err)
	}
	// A notification id whose record is gone creates no record.
	if ok, err := b.q.RecordPress(qctx(t), press("q2", "gone", "u1", "x", at)); err != nil || !ok {
		t.Fatalf("RecordPress(gone) = %v, %v", ok, err)
	}
	if _, err := b.q.Get(qctx(t), "gone"); err == nil {
		t.Fatal("a press created a record")
	}
	evs := pressEvents(t, b.log)
	if len(evs) != 2 || evs[0].NotificationID != "" || evs[0].ChatID != 42 || evs[0].Username != "ann" {
		t.Fatalf("events = %+v", evs)
	}
}

func testPressConcurrent(t *testing.T, b pressBackend) {
	at := time.UnixMilli(1764600000000)
	mustEnqueue(t, b.q, notif("n1", "u1", 42, at))
	var wg sync.WaitGroup
	var recorded atomic.Int64
	for range 8 {
		wg.Go(func() {
			ok, err := b.q.RecordPress(qctx(t), press("same", "n1", "u1", "cb", at))
			if err != nil {
				t.Errorf("RecordPress: %v", err)
			}
			if ok {
				recorded.Add(1)
			}
		})
	}
	wg.Wait()
	n, err := b.q.Get(qctx(t), "n1")
	if err != nil {
		t.Fatal(err)
	}
	if recorded.Load() != 1 || len(n.Presses) != 1 || len(pressEvents(t, b.log)) != 1 {
		t.Fatalf("recorded %d times, %d presses, want once", recorded.Load(), len(n.Presses))
	}
}

func testPressBad(t *testing.T, b pressBackend) {
	at := time.UnixMilli(1764600000000)
	long := func(n int) string { return string(make([]byte, n)) }
	for name, p := range map[string]delivery.Press{
		"no query id":       press("", "n1", "u1", "cb", at),
		"long query id":     press(long(65), "n1", "u1", "cb", at),
		"long callback":     press("q", "n1", "u1", long(257), at),
		"no time":           press("q", "n1", "u1", "cb", time.Time{}),
		"long username":     {QueryID: "q", ButtonPress: delivery.ButtonPress{Username: long(65), At: at}},
		"long notification": press("q", long(2000), "u1", "cb", at),
	} {
		if ok, err := b.q.RecordPress(qctx(t), p); err == nil || ok {
			t.Errorf("%s: RecordPress = %v, %v; want an error", name, ok, err)
		}
	}
	if got := len(pressEvents(t, b.log)); got != 0 {
		t.Fatalf("%d events after refused presses", got)
	}
}

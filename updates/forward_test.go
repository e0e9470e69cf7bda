package updates

import (
	"context"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// recordingLog is an events.Appender that keeps what it is given.
type recordingLog struct {
	mu  sync.Mutex
	evs []events.Event
}

func (l *recordingLog) Append(_ context.Context, e events.Event) (events.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	return e, nil
}

func (l *recordingLog) all() []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]events.Event(nil), l.evs...)
}

func TestForwardMessages(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	putToken(t, st, "u1", "tok1")
	putToken(t, st, "u2", "tok2")
	off := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
	on := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
	log := &recordingLog{}
	on.SetForwarding(log, st)

	id := int64(0)
	send := func(h *Handler, chat int64, chatType, text string) {
		t.Helper()
		id++
		if err := h.HandleUpdate(t.Context(), textUpdate(id, chat, chatType, text)); err != nil {
			t.Fatalf("HandleUpdate(%q): %v", text, err)
		}
	}
	send(on, 10, telegram.ChatTypePrivate, "/start tok1")
	send(on, 30, "group", "/start tok2")
	send(on, 20, telegram.ChatTypePrivate, "before anyone linked this chat")
	send(off, 10, telegram.ChatTypePrivate, "forwarding off: not recorded")
	send(on, 10, telegram.ChatTypePrivate, "/help") // a command
	send(on, 30, "group", "a group's text")
	send(on, 10, telegram.ChatTypePrivate, "hello bot")
	long := strings.Repeat("é", MaxForwardedText) + "😀"
	send(on, 10, telegram.ChatTypePrivate, long)

	got := log.all()
	if len(got) != 2 {
		t.Fatalf("%d events recorded, want 2 (the linked private chat's texts): %+v", len(got), got)
	}
	want := events.Event{Type: events.TypeMessageReceived, UserID: "u1", ChatID: 10, Text: "hello bot", Username: "alice"}
	if got[0] != want {
		t.Fatalf("event = %+v, want %+v", got[0], want)
	}
	if got[1].Text != long[:len(long)-len("😀")] {
		t.Fatalf("long text: %d UTF-16 units kept, want the first %d", telegram.UTF16Len(got[1].Text), MaxForwardedText)
	}
}

func TestBoundText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "hi", 5, "hi"},
		{"exact", "hello", 5, "hello"},
		{"cut", "hello!", 5, "hello"},
		{"surrogate pair kept whole", "ab😀", 3, "ab"},
		{"surrogate pair fits", "a😀", 3, "a😀"},
		{"multibyte BMP", "éééé", 2, "éé"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := boundText(tc.in, tc.max); got != tc.want {
				t.Fatalf("boundText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

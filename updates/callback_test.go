package updates

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// answers records answerCallbackQuery calls.
type answers struct {
	mu    sync.Mutex
	calls []telegram.AnswerCallbackQueryParams
	at    []time.Time
	got   chan struct{}
}

func newAnswers() *answers { return &answers{got: make(chan struct{}, 16)} }

func (a *answers) AnswerCallbackQuery(_ context.Context, p telegram.AnswerCallbackQueryParams) error {
	a.mu.Lock()
	a.calls = append(a.calls, p)
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
	a.got <- struct{}{}
	return nil
}

// wait returns the next answer, failing t after 5 s.
func (a *answers) wait(t *testing.T) (telegram.AnswerCallbackQueryParams, time.Time) {
	t.Helper()
	select {
	case <-a.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no answerCallbackQuery")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[len(a.calls)-1], a.at[len(a.at)-1]
}

// slowPresses is a PressStore whose Get waits for release.
type slowPresses struct {
	PressStore
	release chan struct{}
}

func (s slowPresses) Get(ctx context.Context, id string) (delivery.Notification, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return delivery.Notification{}, ctx.Err()
	}
	return s.PressStore.Get(ctx, id)
}

func pressUpdate(uid int64, qid string, chat int64, data string) telegram.Update {
	return telegram.Update{UpdateID: uid, CallbackQuery: &telegram.CallbackQuery{ID: qid, Data: data,
		From: telegram.User{ID: chat, Username: "ann"}, Message: &telegram.Message{MessageID: 1, Chat: telegram.Chat{ID: chat}}}}
}

func enqueueWithButtons(t *testing.T, q *store.MemoryQueue, id string, chat int64) {
	t.Helper()
	n := delivery.Notification{ID: id, UserID: "u1", ChatID: chat, Parts: []string{"x"}, CreatedAt: time.Now(),
		CallbackAnswer: "Thanks", Buttons: [][]delivery.Button{{{Text: "Ack", Callback: "ack"}, {Text: "Web", URL: "https://e.com"}}}}
	if _, _, err := q.Enqueue(t.Context(), n, delivery.EnqueueOptions{Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
}

// TestCallbackAnswerDoesNotWaitForASlowStore checks that a press is
// answered within a second however slow the store, and recorded once the
// store answers.
func TestCallbackAnswerDoesNotWaitForASlowStore(t *testing.T) {
	st := store.NewMemory()
	q := st.Queue()
	id := "0123456789abcdef0123456789abcdef"
	enqueueWithButtons(t, q, id, 42)
	slow := slowPresses{PressStore: q, release: make(chan struct{})}
	ans := newAnswers()
	bot := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
	bot.SetCallbacks(slow, ans)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- bot.HandleUpdate(t.Context(), pressUpdate(1, "q1", 42, delivery.CallbackData(id, 0, 0)))
	}()
	p, at := ans.wait(t)
	if d := at.Sub(start); d > time.Second || p.CallbackQueryID != "q1" || p.Text != "" {
		t.Fatalf("answered %+v after %v; want q1 within 1 s, without the toast", p, d)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n, err := q.Get(t.Context(), id)
	if err != nil || len(n.Presses) != 1 || n.Presses[0].Callback != "ack" || n.Presses[0].Username != "ann" {
		t.Fatalf("presses %+v, %v", n.Presses, err)
	}
}

// TestCallbackCases checks what is answered and what recorded.
func TestCallbackCases(t *testing.T) {
	st := store.NewMemory()
	q := st.Queue()
	id := "0123456789abcdef0123456789abcdef"
	enqueueWithButtons(t, q, id, 42)
	ans := newAnswers()
	bot := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
	bot.SetCallbacks(q, ans)
	for i, tc := range []struct {
		name, data string
		chat       int64
		toast      string
		presses    int
	}{
		{"callback button", delivery.CallbackData(id, 0, 0), 42, "Thanks", 1},
		{"not our data", "something-else", 42, "", 1},
		{"over 64 bytes", delivery.CallbackData(id+strings.Repeat("0", 30), 0, 0), 42, "", 1},
		{"url button's index", delivery.CallbackData(id, 0, 1), 42, "Thanks", 1},
		{"no such button", delivery.CallbackData(id, 3, 0), 42, "Thanks", 1},
		{"another chat", delivery.CallbackData(id, 0, 0), 43, "", 1},
		{"unknown notification", delivery.CallbackData("ffffffffffffffffffffffffffffffff", 0, 0), 42, ReplyExpired, 1},
		{"again", delivery.CallbackData(id, 0, 0), 42, "Thanks", 2},
	} {
		qid := "q" + string(rune('a'+i))
		if err := bot.HandleUpdate(t.Context(), pressUpdate(int64(10+i), qid, tc.chat, tc.data)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p, _ := ans.wait(t)
		if p.CallbackQueryID != qid || p.Text != tc.toast {
			t.Errorf("%s: answered %+v, want toast %q", tc.name, p, tc.toast)
		}
		n, err := q.Get(t.Context(), id)
		if err != nil || len(n.Presses) != tc.presses {
			t.Errorf("%s: %d presses, want %d (%v)", tc.name, len(n.Presses), tc.presses, err)
		}
	}
	evs, _, err := st.Read(t.Context(), "", eventsFilterPressed(), 100)
	if err != nil || len(evs) != 3 || evs[1].NotificationID != "" || evs[1].ChatID != 42 {
		t.Fatalf("events %+v, %v; want the two presses and the unknown one", evs, err)
	}
}

func eventsFilterPressed() events.Filter {
	return events.Filter{Types: []events.Type{events.TypeButtonPressed}}
}

// blockingAnswers is an Answerer whose calls wait for release, counting
// how many are in flight at most.
type blockingAnswers struct {
	release       chan struct{}
	mu            sync.Mutex
	inFlight, max int
	total         int
}

func (a *blockingAnswers) AnswerCallbackQuery(ctx context.Context, _ telegram.AnswerCallbackQueryParams) error {
	a.mu.Lock()
	a.inFlight++
	a.total++
	a.max = max(a.max, a.inFlight)
	a.mu.Unlock()
	select {
	case <-a.release:
	case <-ctx.Done():
	}
	a.mu.Lock()
	a.inFlight--
	a.mu.Unlock()
	return nil
}

// TestCallbackAnswersAreBounded: a flood of presses while Telegram is slow
// to answer keeps at most maxAnswering answers in the background; the
// next press is answered on its update's path, which waits for it
// (backpressure instead of unbounded goroutines).
func TestCallbackAnswersAreBounded(t *testing.T) {
	st := store.NewMemory()
	ans := &blockingAnswers{release: make(chan struct{})}
	bot := New(st, nopReplier{}, "", metrics.New(), zaptest.NewLogger(t))
	bot.SetCallbacks(st.Queue(), ans)
	for i := range maxAnswering {
		if err := bot.HandleUpdate(t.Context(), pressUpdate(int64(i+1), "q"+strings.Repeat("x", i%3), 42, "not ours")); err != nil {
			t.Fatal(err)
		}
	}
	extra := make(chan error, 1)
	go func() { extra <- bot.HandleUpdate(t.Context(), pressUpdate(maxAnswering+1, "last", 42, "not ours")) }()
	select {
	case err := <-extra:
		t.Fatalf("press %d returned (%v) while %d answers were in flight: answers are not bounded", maxAnswering+1, err, maxAnswering)
	case <-time.After(100 * time.Millisecond): // it must still be waiting: an absence, so a short bounded look
	}
	close(ans.release)
	if err := <-extra; err != nil {
		t.Fatal(err)
	}
	ans.mu.Lock()
	defer ans.mu.Unlock()
	if ans.max > maxAnswering+1 {
		t.Fatalf("%d answers in flight at once, want at most %d", ans.max, maxAnswering+1)
	}
}

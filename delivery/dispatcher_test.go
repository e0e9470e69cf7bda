package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

var (
	_ delivery.Queue   = (*store.RedisQueue)(nil)
	_ delivery.Queue   = (*store.MemoryQueue)(nil)
	_ delivery.Limiter = (*store.RedisLimiter)(nil)
	_ delivery.Limiter = (*store.MemoryLimiter)(nil)
	_ delivery.Sender  = (*telegram.Client)(nil)
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 20 * time.Second

// backend is a queue, limiter and link store sharing one storage.
type backend struct {
	name  string
	q     delivery.Queue
	links store.Store
}

func memoryBackend(t *testing.T) backend {
	t.Helper()
	links := store.NewMemory()
	t.Cleanup(func() { _ = links.Close() })
	return backend{name: "memory", q: links.Queue(), links: links}
}

var redisPrefixes atomic.Int64

func redisBackendOn(t *testing.T, srv *redistest.Server, prefix string) backend {
	t.Helper()
	st := store.NewRedis(srv.Client(t), prefix)
	return backend{name: "redis", q: st.Queue(), links: st}
}

func redisBackend(t *testing.T) backend {
	t.Helper()
	return redisBackendOn(t, redistest.Start(t), fmt.Sprintf("d%d", redisPrefixes.Add(1)))
}

// backends returns constructors for both backends.
func backends() []func(t *testing.T) backend {
	return []func(t *testing.T) backend{memoryBackend, redisBackend}
}

// testConfig is fast: tiny per-chat intervals, high global rate.
func testConfig() delivery.Config {
	c := delivery.DefaultConfig()
	c.Workers = 4
	c.GlobalRate = 2000
	c.GlobalBurst = 50
	c.PrivateChatInterval = 5 * time.Millisecond
	c.GroupChatInterval = 5 * time.Millisecond
	c.MinBackoff = 5 * time.Millisecond
	c.MaxBackoff = 40 * time.Millisecond
	c.SendTimeout = 2 * time.Second
	c.LeaseTimeout = 6 * time.Second
	c.PollInterval = 20 * time.Millisecond
	c.DrainTimeout = 3 * time.Second
	return c
}

// call is one recorded sendMessage.
type call struct {
	start, end time.Time
	chat       int64
	err        error
}

// recSender records the calls it forwards to the fake Bot API.
type recSender struct {
	delivery.Sender // the wrapped sender (photos and documents pass through)
	mu              sync.Mutex
	log             []call
}

func (r *recSender) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	start := time.Now()
	m, err := r.Sender.SendMessage(ctx, p)
	r.mu.Lock()
	r.log = append(r.log, call{start: start, end: time.Now(), chat: p.ChatID, err: err})
	r.mu.Unlock()
	return m, err
}

func (r *recSender) calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.log...)
}

// harness runs one dispatcher against a fake Bot API.
type harness struct {
	t      *testing.T
	tg     *fakebot.Server
	b      backend
	d      *delivery.Dispatcher
	sender *recSender
	obs    *recObserver // records h.d's events
	stop   func()
}

func newHarness(t *testing.T, b backend, cfg delivery.Config) *harness {
	t.Helper()
	tg := fakebot.NewServer()
	t.Cleanup(tg.Close)
	h := &harness{t: t, tg: tg, b: b, sender: &recSender{Sender: tg.Client()}, obs: &recObserver{}}
	h.d = delivery.New(cfg, b.q, h.sender, zaptest.NewLogger(t))
	h.d.SetObserver(h.obs)
	h.stop = h.run(h.d)
	t.Cleanup(h.stop)
	return h
}

// run starts d.Run and returns a function that stops it and waits.
func (h *harness) run(d *delivery.Dispatcher) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			h.t.Errorf("Run = %v", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// link makes the chat known to the fake and links user to it.
func (h *harness) link(user string, chat int64) {
	h.t.Helper()
	if chat > 0 {
		h.tg.SendText(chat, user, "hi")
	} else {
		h.tg.StartGroup(chat, "group", 777, "admin", "")
	}
	ctx := ctxT(h.t)
	tok := "tok-" + user
	if err := h.b.links.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.b.links.ConsumeLinkToken(ctx, tok, chat, user, time.Now()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) enqueue(r delivery.Request) delivery.Notification {
	h.t.Helper()
	n, dup, err := h.d.Enqueue(ctxT(h.t), r)
	if err != nil || dup {
		h.t.Fatalf("Enqueue = dup %v, %v", dup, err)
	}
	if n.State != delivery.StateQueued || n.ID == "" {
		h.t.Fatalf("Enqueue returned %+v", n)
	}
	return n
}

// waitFinal polls until notification id is SENT or FAILED.
func waitFinal(t *testing.T, d *delivery.Dispatcher, id string) delivery.Notification {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		n, err := d.Get(ctxT(t), id)
		if err == nil && (n.State == delivery.StateSent || n.State == delivery.StateFailed) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %s not final after %v: %+v, %v", id, waitTimeout, n, err)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Eventually(t, waitTimeout, what, cond)
}

// texts returns the plain texts sent to chat.
func texts(tg *fakebot.Server, chat int64) []string {
	var out []string
	for _, m := range tg.Messages(chat) {
		out = append(out, m.PlainText)
	}
	return out
}

func TestDeliveryExactlyOnceInOrderUnderFaults(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			h := newHarness(t, b, testConfig())
			const chats, per = 6, 10
			h.tg.SetErrorRate("sendMessage", 0.3, 502)
			h.tg.FailNext("sendMessage", 1, 429, "", 1)
			var ids []string
			for c := range chats {
				h.link(fmt.Sprintf("u%d", c), int64(100+c))
			}
			for i := range per {
				for c := range chats {
					n := h.enqueue(delivery.Request{UserID: fmt.Sprintf("u%d", c), ChatID: int64(100 + c), Text: fmt.Sprintf("m%d", i)})
					ids = append(ids, n.ID)
				}
			}
			for _, id := range ids {
				if n := waitFinal(t, h.d, id); n.State != delivery.StateSent || len(n.MessageIDs) != 1 {
					t.Fatalf("notification %s: %+v", id, n)
				}
			}
			for c := range chats {
				var want []string
				for i := range per {
					want = append(want, fmt.Sprintf("m%d", i))
				}
				if got := texts(h.tg, int64(100+c)); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("chat %d got %v, want %v (exactly once, in order)", 100+c, got, want)
				}
			}
			st := h.obs.stats()
			if st.Sent != chats*per || st.RateLimited != 1 || st.Retries == 0 {
				t.Fatalf("stats = %+v", st)
			}
			// The 429 paused everyone for retry_after (1 s): only sends that
			// had passed the pause check already may start during it.
			var t429 time.Time
			for _, c := range h.sender.calls() {
				if _, ok := telegram.RetryAfter(c.err); ok {
					t429 = c.end
				}
			}
			during := 0
			for _, c := range h.sender.calls() {
				if c.start.After(t429) && c.start.Before(t429.Add(900*time.Millisecond)) {
					during++
				}
			}
			if during > testConfig().Workers {
				t.Fatalf("%d sendMessage calls during the 429 pause, want at most %d in flight", during, testConfig().Workers)
			}
			s, err := h.d.Summary(ctxT(t), "u0")
			if err != nil || s.Sent != per || s.Queued != 0 || s.LastState != delivery.StateSent {
				t.Fatalf("Summary = %+v, %v", s, err)
			}
		})
	}
}

func TestBusyChatDoesNotBlockOthers(t *testing.T) {
	cfg := testConfig()
	cfg.PrivateChatInterval = 250 * time.Millisecond
	h := newHarness(t, memoryBackend(t), cfg)
	h.link("a", 1)
	h.link("b", 2)
	var last delivery.Notification
	for i := range 4 {
		last = h.enqueue(delivery.Request{UserID: "a", ChatID: 1, Text: fmt.Sprintf("a%d", i)})
	}
	other := h.enqueue(delivery.Request{UserID: "b", ChatID: 2, Text: "b0"})
	nb := waitFinal(t, h.d, other.ID)
	na := waitFinal(t, h.d, last.ID)
	if nb.State != delivery.StateSent || na.State != delivery.StateSent {
		t.Fatalf("states %v %v", nb.State, na.State)
	}
	msgs := h.tg.Messages(1)
	if len(msgs) != 4 {
		t.Fatalf("chat 1 got %d messages", len(msgs))
	}
	for i := 1; i < len(msgs); i++ {
		if gap := msgs[i].Time.Sub(msgs[i-1].Time); gap < 240*time.Millisecond {
			t.Fatalf("messages %d and %d to one chat %v apart, want ≥ 250ms", i-1, i, gap)
		}
	}
	if b := h.tg.Messages(2)[0].Time; !b.Before(msgs[1].Time) {
		t.Fatalf("chat 2 waited behind chat 1: sent %v, chat 1's second at %v", b, msgs[1].Time)
	}
}

func TestPermanentErrorsAndFallbacks(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(h *harness) // links "u" to 50 unless it says otherwise
		req        delivery.Request
		wantState  delivery.NotificationState
		wantReason string
		wantErr    string
		check      func(t *testing.T, h *harness, n delivery.Notification)
	}{
		{
			name:  "blocked unlinks",
			setup: func(h *harness) { h.link("u", 50); h.tg.Block(50) },
			req:   delivery.Request{Text: "hi"}, wantState: delivery.StateFailed, wantReason: delivery.ReasonBlocked,
			wantErr: "blocked",
			check: func(t *testing.T, h *harness, n delivery.Notification) {
				if _, err := h.b.links.GetLink(ctxT(t), "u"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("GetLink after 403 = %v, want ErrNotFound", err)
				}
				calls := h.tg.Calls("sendMessage")
				n2 := h.enqueue(delivery.Request{UserID: "u", ChatID: 50, Text: "again"})
				if got := waitFinal(t, h.d, n2.ID); got.FailureReason != delivery.ReasonNotLinked || got.Attempts != 0 {
					t.Fatalf("next notification: %+v", got)
				}
				if h.tg.Calls("sendMessage") != calls {
					t.Fatal("sendMessage called for an unlinked user")
				}
			},
		},
		{
			name:  "deactivated",
			setup: func(h *harness) { h.link("u", 50); h.tg.Deactivate(50) },
			req:   delivery.Request{Text: "hi"}, wantState: delivery.StateFailed, wantReason: delivery.ReasonBlocked,
			wantErr: "deactivated",
		},
		{
			name: "chat not found",
			setup: func(h *harness) {
				h.link("u", 50)
				if _, err := h.b.links.UpdateChatID(ctxT(h.t), 50, 999); err != nil { // a chat the bot never saw
					h.t.Fatal(err)
				}
			},
			req:       delivery.Request{ChatID: 999, Text: "hi"},
			wantState: delivery.StateFailed, wantReason: delivery.ReasonChatNotFound, wantErr: "chat not found",
		},
		{
			name:  "can't parse entities",
			setup: func(h *harness) { h.link("u", 50) },
			req:   delivery.Request{Text: "a-b", ParseMode: "MarkdownV2"}, wantState: delivery.StateFailed,
			wantReason: delivery.ReasonParseEntities, wantErr: "can't parse entities",
		},
		{
			name:  "can't parse entities with plain text fallback",
			setup: func(h *harness) { h.link("u", 50) },
			req:   delivery.Request{Text: "a-b", ParseMode: "MarkdownV2", PlainTextFallback: true}, wantState: delivery.StateSent,
			check: func(t *testing.T, h *harness, n delivery.Notification) {
				msgs := h.tg.Messages(50)
				if len(msgs) != 1 || msgs[0].PlainText != "a-b" || msgs[0].ParseMode != "" || n.Attempts != 2 ||
					n.Degraded != delivery.DegradedParseEntities {
					t.Fatalf("messages %+v, record %+v", msgs, n)
				}
				if h.obs.stats().Fallbacks != 1 {
					t.Fatalf("stats %+v", h.obs.stats())
				}
			},
		},
		{
			name:  "the plain text fallback strips the markup",
			setup: func(h *harness) { h.link("u", 50) },
			req: delivery.Request{Text: "*Deploy* of _api_ took 1.5s\n\\. [log](https://e.example/x)", ParseMode: "MarkdownV2",
				PlainTextFallback: true}, wantState: delivery.StateSent,
			check: func(t *testing.T, h *harness, n delivery.Notification) {
				msgs := h.tg.Messages(50)
				if len(msgs) != 1 || msgs[0].Text != "Deploy of api took 1.5s\n. log" || n.Degraded != delivery.DegradedParseEntities {
					t.Fatalf("messages %+v, record %+v", msgs, n)
				}
			},
		},
		{
			name:  "formatting that parses is not degraded",
			setup: func(h *harness) { h.link("u", 50) },
			req:   delivery.Request{Text: "*ok*", ParseMode: "MarkdownV2", PlainTextFallback: true}, wantState: delivery.StateSent,
			check: func(t *testing.T, h *harness, n delivery.Notification) {
				if n.Degraded != "" {
					t.Fatalf("record %+v", n)
				}
			},
		},
		{
			name:  "not linked",
			setup: func(h *harness) { h.tg.SendText(50, "u", "hi") },
			req:   delivery.Request{Text: "hi"}, wantState: delivery.StateFailed, wantReason: delivery.ReasonNotLinked,
		},
		{
			name:  "max attempts",
			setup: func(h *harness) { h.link("u", 50); h.tg.SetErrorRate("sendMessage", 1, 500) },
			req:   delivery.Request{Text: "hi"}, wantState: delivery.StateFailed, wantReason: delivery.ReasonMaxAttempts,
			wantErr: "Internal Server Error",
			check: func(t *testing.T, h *harness, n delivery.Notification) {
				if n.Attempts != 3 || n.Retries != 2 {
					t.Fatalf("attempts %d retries %d, want 3 and 2", n.Attempts, n.Retries)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxAttempts = 3
			h := newHarness(t, memoryBackend(t), cfg)
			tc.setup(h)
			r := tc.req
			r.UserID = "u"
			if r.ChatID == 0 {
				r.ChatID = 50
			}
			n := waitFinal(t, h.d, h.enqueue(r).ID)
			if n.State != tc.wantState || n.FailureReason != tc.wantReason || !strings.Contains(n.LastError, tc.wantErr) {
				t.Fatalf("got state %v reason %q error %q; want %v %q containing %q", n.State, n.FailureReason, n.LastError,
					tc.wantState, tc.wantReason, tc.wantErr)
			}
			if tc.wantReason != "" && h.obs.stats().Failed[tc.wantReason] == 0 {
				t.Fatalf("stats %+v lack reason %s", h.obs.stats(), tc.wantReason)
			}
			if tc.check != nil {
				tc.check(t, h, n)
			}
		})
	}
}

func TestGroupMigration(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			h := newHarness(t, b, testConfig())
			const oldID, newID = -555, -1005550000000
			h.link("g", oldID)
			h.tg.MigrateChat(oldID, newID)
			// Hold the first send until all three are queued: one enqueued
			// for the old id after the migration would fail not_linked.
			h.tg.SetHang(true)
			var ids []string
			for i := range 3 {
				ids = append(ids, h.enqueue(delivery.Request{UserID: "g", ChatID: oldID, Text: fmt.Sprintf("g%d", i)}).ID)
			}
			h.tg.SetHang(false)
			for _, id := range ids {
				if n := waitFinal(t, h.d, id); n.State != delivery.StateSent || n.ChatID != newID {
					t.Fatalf("notification %+v", n)
				}
			}
			if got := texts(h.tg, newID); fmt.Sprint(got) != "[g0 g1 g2]" {
				t.Fatalf("supergroup got %v", got)
			}
			if l, err := b.links.GetLink(ctxT(t), "g"); err != nil || l.ChatID != newID {
				t.Fatalf("link = %+v, %v", l, err)
			}
			if h.obs.stats().Migrated != 1 {
				t.Fatalf("stats %+v", h.obs.stats())
			}
		})
	}
}

func TestLongTextIsSplitAndSentInOrder(t *testing.T) {
	h := newHarness(t, memoryBackend(t), testConfig())
	h.link("u", 60)
	var paras []string
	for i := range 30 {
		paras = append(paras, fmt.Sprintf("%02d ", i)+strings.Repeat("lorem ipsum ", 30))
	}
	text := strings.Join(paras, "\n\n")
	n := waitFinal(t, h.d, h.enqueue(delivery.Request{UserID: "u", ChatID: 60, Text: text}).ID)
	if n.State != delivery.StateSent || len(n.Parts) < 3 || len(n.MessageIDs) != len(n.Parts) {
		t.Fatalf("record %+v", n)
	}
	if got := strings.Join(texts(h.tg, 60), ""); got != text {
		// Telegram trims nothing in the fake; the parts must rebuild the text.
		t.Fatalf("parts do not rebuild the text (%d vs %d bytes)", len(got), len(text))
	}
	_, _, err := h.d.Enqueue(ctxT(t), delivery.Request{UserID: "u", ChatID: 60, Text: text, LongText: delivery.LongTextReject})
	if !errors.Is(err, delivery.ErrTooLong) {
		t.Fatalf("reject policy: %v, want ErrTooLong", err)
	}
}

func TestSendTimeoutIsRetriedAndCountedAmbiguous(t *testing.T) {
	cfg := testConfig()
	cfg.SendTimeout = 200 * time.Millisecond
	h := newHarness(t, memoryBackend(t), cfg)
	h.link("u", 70)
	h.tg.SetHang(true)
	n := h.enqueue(delivery.Request{UserID: "u", ChatID: 70, Text: "slow"})
	waitFor(t, "an ambiguous send", func() bool { return h.obs.stats().Ambiguous >= 1 })
	h.tg.SetHang(false)
	got := waitFinal(t, h.d, n.ID)
	if got.State != delivery.StateSent || got.Attempts < 2 || got.LastError == "" {
		t.Fatalf("record %+v", got)
	}
	if msgs := h.tg.Messages(70); len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
}

func TestConcurrentDuplicateEnqueues(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			h := newHarness(t, b, testConfig())
			h.link("u", 80)
			ids := make([]string, 50)
			errs := make([]error, 50)
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					n, _, err := h.d.Enqueue(context.Background(), delivery.Request{UserID: "u", ChatID: 80, Text: "once", IdempotencyKey: "k1"})
					ids[i], errs[i] = n.ID, err
				})
			}
			wg.Wait()
			for i := range 50 {
				if errs[i] != nil || ids[i] != ids[0] {
					t.Fatalf("call %d: %q %v, first %q", i, ids[i], errs[i], ids[0])
				}
			}
			waitFinal(t, h.d, ids[0])
			if msgs := h.tg.Messages(80); len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			if st := h.obs.stats(); st.Enqueued != 1 || st.Duplicates != 49 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestEnqueueValidation(t *testing.T) {
	b := memoryBackend(t)
	d := delivery.New(testConfig(), b.q, nil, nil)
	tests := []struct {
		name string
		r    delivery.Request
		want error
	}{
		{"no user", delivery.Request{ChatID: 1, Text: "x"}, delivery.ErrInvalidRequest},
		{"no chat", delivery.Request{UserID: "u", Text: "x"}, delivery.ErrInvalidRequest},
		{"blank text", delivery.Request{UserID: "u", ChatID: 1, Text: " \n"}, delivery.ErrInvalidRequest},
		{"bad mode", delivery.Request{UserID: "u", ChatID: 1, Text: "x", ParseMode: "BBCode"}, delivery.ErrInvalidRequest},
		{"bad utf8", delivery.Request{UserID: "u", ChatID: 1, Text: "a\xff"}, delivery.ErrInvalidText},
		{"only markup and whitespace", delivery.Request{UserID: "u", ChatID: 1, Text: "<b> </b>", ParseMode: "HTML"}, delivery.ErrInvalidText},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := d.Enqueue(context.Background(), tc.r); !errors.Is(err, tc.want) {
				t.Fatalf("Enqueue = %v, want %v", err, tc.want)
			}
		})
	}
}

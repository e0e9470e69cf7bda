package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// fastClient fails fast while Redis is down.
func fastClient(t *testing.T, addr string) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond, PoolTimeout: 500 * time.Millisecond, MaxRetries: -1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{AOF: true})
	st := store.NewRedis(fastClient(t, srv.Addr()), "outage")
	h := newHarness(t, backend{name: "redis", q: st.Queue(), links: st}, testConfig())
	h.link("u", 90)
	req := delivery.Request{UserID: "u", ChatID: 90, Text: "before"}
	if n := waitFinal(t, h.d, h.enqueue(req).ID); n.State != delivery.StateSent {
		t.Fatalf("before outage: %+v", n)
	}
	srv.Stop()
	req.Text = "during"
	if _, _, err := h.d.Enqueue(ctxT(t), req); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Enqueue with Redis down = %v, want ErrUnavailable", err)
	}
	srv.Restart()
	req.Text = "after"
	var n delivery.Notification
	waitFor(t, "Enqueue to succeed after the restart", func() bool {
		var err error
		n, _, err = h.d.Enqueue(ctxT(t), req)
		return err == nil
	})
	if got := waitFinal(t, h.d, n.ID); got.State != delivery.StateSent {
		t.Fatalf("after outage: %+v", got)
	}
	if got := texts(h.tg, 90); fmt.Sprint(got) != "[before after]" {
		t.Fatalf("messages %v", got)
	}
}

// crashSender sends normally until crashAfter messages went out; then
// every call delivers its message and hangs until release is closed, like
// a process killed after the request reached Telegram.
type crashSender struct {
	delivery.Sender // the wrapped sender (photos and documents pass through)
	crashAfter      int
	release         chan struct{}

	once    sync.Once
	mu      sync.Mutex
	sent    int
	blocked int
}

// unblock lets the hanging calls return.
func (c *crashSender) unblock() { c.once.Do(func() { close(c.release) }) }

var errCrashed = errors.New("process was killed")

func (c *crashSender) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	m, err := c.Sender.SendMessage(ctx, p)
	c.mu.Lock()
	crashed := c.sent >= c.crashAfter
	if err == nil && !crashed {
		c.sent++
	}
	if crashed {
		c.blocked++
	}
	c.mu.Unlock()
	if !crashed {
		return m, err
	}
	<-c.release
	return telegram.Message{}, errCrashed
}

func (c *crashSender) blockedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked
}

func TestKillAndRestart(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{AOF: true})
	tg := fakebot.NewServer()
	t.Cleanup(tg.Close)
	cfg := testConfig()
	cfg.SendTimeout = 300 * time.Millisecond
	cfg.LeaseTimeout = time.Second
	cfg.DrainTimeout = time.Minute // the "dead" process never hands its work back

	st1 := store.NewRedis(srv.Client(t), "kill")
	const chats, per = 10, 20
	for c := range chats {
		chat := int64(200 + c)
		tg.SendText(chat, "u", "hi")
		tok := fmt.Sprintf("t%d", c)
		if err := st1.PutLinkToken(ctxT(t), store.LinkToken{Token: tok, UserID: fmt.Sprintf("u%d", c), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st1.ConsumeLinkToken(ctxT(t), tok, chat, "u", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	crash := &crashSender{Sender: tg.Client(), crashAfter: 60, release: make(chan struct{})}
	d1 := delivery.New(cfg, st1.Queue(), crash, zaptest.NewLogger(t))
	obs1 := &recObserver{}
	d1.SetObserver(obs1)
	ctx1, cancel1 := context.WithCancel(context.Background())
	d1done := make(chan struct{})
	go func() { defer close(d1done); _ = d1.Run(ctx1) }()
	t.Cleanup(func() {
		cancel1()
		crash.unblock()
		<-d1done
	})

	var ids []string
	for i := range per {
		for c := range chats {
			n, _, err := d1.Enqueue(ctxT(t), delivery.Request{UserID: fmt.Sprintf("u%d", c), ChatID: int64(200 + c), Text: fmt.Sprintf("m%02d", i)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, n.ID)
		}
	}
	waitFor(t, "every worker to hang in a send", func() bool { return crash.blockedCount() == cfg.Workers })
	cancel1()  // the process is gone: it claims nothing more and its sends never return
	srv.Stop() // and Redis crashes too
	srv.Restart()

	st2 := store.NewRedis(srv.Client(t), "kill")
	d2 := delivery.New(cfg, st2.Queue(), tg.Client(), zaptest.NewLogger(t))
	h := &harness{t: t}
	stop2 := h.run(d2)
	t.Cleanup(stop2)
	for _, id := range ids {
		if n := waitFinal(t, d2, id); n.State != delivery.StateSent {
			t.Fatalf("notification %s: %+v", id, n)
		}
	}
	total := 0
	for c := range chats {
		got := texts(tg, int64(200+c))
		total += len(got)
		var firsts []string
		seen := map[string]bool{}
		for _, s := range got {
			if !seen[s] {
				seen[s] = true
				firsts = append(firsts, s)
			}
		}
		var want []string
		for i := range per {
			want = append(want, fmt.Sprintf("m%02d", i))
		}
		if fmt.Sprint(firsts) != fmt.Sprint(want) {
			t.Fatalf("chat %d: got %v, want every message once in order", 200+c, got)
		}
	}
	if dups := total - chats*per; dups < 0 || dups > cfg.Workers {
		t.Fatalf("%d duplicates, want at most %d (the sends in flight at the crash)", dups, cfg.Workers)
	}
	t.Logf("delivered %d messages, %d duplicates from the crash", total, total-chats*per)

	// The dead process wakes up: its late outcomes must be fenced off.
	cancel1()
	crash.unblock()
	<-d1done
	if st := obs1.stats(); st.LeaseLost != int64(cfg.Workers) {
		t.Fatalf("dead process stats %+v: want %d fenced outcomes", st, cfg.Workers)
	}
	for _, id := range ids {
		if n, err := d2.Get(ctxT(t), id); err != nil || n.State != delivery.StateSent {
			t.Fatalf("after the late outcomes: %+v %v", n, err)
		}
	}
}

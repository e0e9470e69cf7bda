package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// crashEditSender delivers every edit and then hangs until release, like
// a process killed after its editMessageText reached Telegram.
type crashEditSender struct {
	delivery.Sender
	release chan struct{}
	mu      sync.Mutex
	blocked int
}

func (c *crashEditSender) EditMessageText(ctx context.Context, p telegram.EditMessageTextParams) error {
	_ = c.Sender.EditMessageText(ctx, p)
	c.mu.Lock()
	c.blocked++
	c.mu.Unlock()
	<-c.release
	return errCrashed
}

func (c *crashEditSender) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked
}

// startDead runs a dispatcher on q over sender that will be killed: its
// hanging calls return only at cleanup.
func startDead(t *testing.T, cfg delivery.Config, q delivery.Queue, sender delivery.Sender, release chan struct{}) (*delivery.Dispatcher, context.CancelFunc) {
	d := delivery.New(cfg, q, sender, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		cancel()
		once.Do(func() { close(release) })
		<-done
	})
	return d, cancel
}

// TestCrashBetweenSendAndEdit kills a process in the middle of a send that
// an edit came in for, and in the middle of an edit; the next process
// loses neither the notification nor the edit (on both backends).
func TestCrashBetweenSendAndEdit(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.SendTimeout = 300 * time.Millisecond
			cfg.LeaseTimeout = time.Second
			cfg.DrainTimeout = time.Minute // the dead process never hands its work back
			tg := fakebot.NewServer()
			t.Cleanup(tg.Close)
			h := &harness{t: t, tg: tg, b: b}
			h.link("u", 300)

			// 1: killed after sendMessage reached Telegram, with an edit accepted meanwhile.
			crash := &crashSender{Sender: tg.Client(), crashAfter: 0, release: make(chan struct{})}
			d1, kill1 := startDead(t, cfg, b.q, crash, crash.release)
			n1, _, err := d1.Enqueue(ctxT(t), delivery.Request{UserID: "u", ChatID: 300, Text: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the send to hang", func() bool { return crash.blockedCount() == 1 })
			if _, err := d1.Edit(ctxT(t), delivery.EditRequest{ID: n1.ID, Text: "v2"}); err != nil {
				t.Fatal(err)
			}
			kill1()

			// 2: killed after editMessageText reached Telegram.
			ce := &crashEditSender{Sender: tg.Client(), release: make(chan struct{})}
			d2, kill2 := startDead(t, cfg, b.q, ce, ce.release)
			waitFor(t, "the first notification to be sent and edited", func() bool {
				n, err := d2.Get(ctxT(t), n1.ID)
				return err == nil && n.State == delivery.StateSent && n.EditState == delivery.EditApplied
			})
			n2, _, err := d2.Enqueue(ctxT(t), delivery.Request{UserID: "u", ChatID: 300, Text: "w1"})
			if err != nil {
				t.Fatal(err)
			}
			waitFinal(t, d2, n2.ID)
			if _, err := d2.Edit(ctxT(t), delivery.EditRequest{ID: n2.ID, Text: "w2"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the edit to hang", func() bool { return ce.count() == 1 })
			kill2()

			d3 := delivery.New(cfg, b.q, tg.Client(), zaptest.NewLogger(t))
			t.Cleanup(h.run(d3))
			var got delivery.Notification
			waitFor(t, "the second edit applied by the next process", func() bool {
				got, err = d3.Get(ctxT(t), n2.ID)
				return err == nil && got.EditState == delivery.EditApplied
			})
			m := tg.Messages(300)
			last := m[len(m)-1]
			if last.PlainText != "w2" || last.Edits != 1 || got.MessageIDs[0] != last.MessageID {
				t.Fatalf("the edited message: %+v (record %+v)", last, got)
			}
			// The first: the message the dead process sent keeps v1 (its id was
			// never recorded: an ambiguous send, as for any crash in a send);
			// the resend carries the edit.
			n, _ := d3.Get(ctxT(t), n1.ID)
			if txt := fmt.Sprint(texts(tg, 300)); txt != "[v1 v2 w2]" || n.Rev() != 2 {
				t.Fatalf("chat: %s; record %+v", txt, n)
			}
		})
	}
}

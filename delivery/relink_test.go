package delivery_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// relinkSender relinks the user to another chat while the send to the
// first chat is in flight, then forwards the send (which the fake answers
// with a 403).
type relinkSender struct {
	delivery.Sender // the wrapped sender (photos and documents pass through)
	links           store.Store
	user            string
	to              int64
	once            sync.Once
	err             error
}

func (r *relinkSender) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	r.once.Do(func() {
		tok := "relink-" + r.user
		r.err = r.links.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: r.user, ExpiresAt: time.Now().Add(time.Hour)})
		if r.err == nil {
			_, r.err = r.links.ConsumeLinkToken(ctx, tok, r.to, r.user, time.Now())
		}
	})
	return r.Sender.SendMessage(ctx, p)
}

// TestBlockedUnlinksOnlyThatChat is finding 12 of issue 8: a 403 from the
// old chat, answered after the user relinked to a new chat, must not
// remove the new link. Before the fix the user ended up unlinked.
func TestBlockedUnlinksOnlyThatChat(t *testing.T) {
	for _, mk := range backends() {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			h := newHarness(t, b, testConfig())
			h.link("u", 50)
			h.tg.SendText(60, "u", "hi") // the new chat, known to the fake
			h.tg.Block(50)
			h.stop()
			rs := &relinkSender{Sender: h.tg.Client(), links: b.links, user: "u", to: 60}
			h.d = delivery.New(testConfig(), b.q, rs, nil)
			h.stop = h.run(h.d)
			n := h.enqueue(delivery.Request{UserID: "u", ChatID: 50, Text: "to the old chat"})
			if got := waitFinal(t, h.d, n.ID); got.FailureReason != delivery.ReasonBlocked {
				t.Fatalf("notification = %+v, want FAILED blocked", got)
			}
			if rs.err != nil {
				t.Fatalf("relink during the send: %v", rs.err)
			}
			l, err := b.links.GetLink(ctxT(t), "u")
			if err != nil || l.ChatID != 60 {
				t.Fatalf("link after the old chat's 403 = %+v, %v; want chat 60 kept", l, err)
			}
		})
	}
}

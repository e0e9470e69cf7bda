package delivery_test

import (
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// newMediaHarness is newHarness with the fake's client itself as the
// sender.
func newMediaHarness(t *testing.T, b backend) *harness {
	t.Helper()
	tg := fakebot.NewServer()
	t.Cleanup(tg.Close)
	h := &harness{t: t, tg: tg, b: b, obs: &recObserver{}}
	var s delivery.Sender = tg.Client()
	h.d = delivery.New(testConfig(), b.q, s, zaptest.NewLogger(t))
	h.d.SetObserver(h.obs)
	h.stop = h.run(h.d)
	t.Cleanup(h.stop)
	return h
}

// TestMediaDelivery checks the media part on both backends: the caption's
// plain-text fallback strips its markup, a 5xx is retried, a URL Telegram
// cannot fetch fails bad_media.
func TestMediaDelivery(t *testing.T) {
	t.Parallel()
	for _, mk := range backends() {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			h := newMediaHarness(t, mk(t))
			const chat = int64(9301)
			h.link("ann", chat)
			photo := delivery.Media{Kind: delivery.MediaPhoto, URL: "https://example.com/p.png"}

			n := h.enqueue(delivery.Request{UserID: "ann", ChatID: chat, Text: "*bold* 1.5", ParseMode: "MarkdownV2",
				PlainTextFallback: true, Media: photo})
			got := waitFinal(t, h.d, n.ID)
			last := h.tg.Messages(chat)[len(h.tg.Messages(chat))-1]
			if got.State != delivery.StateSent || got.Degraded != delivery.DegradedParseEntities || last.Media == nil ||
				last.Text != "bold 1.5" || last.ParseMode != "" || got.MediaFileID != last.Media.FileID {
				t.Fatalf("fallback: %+v, sent %+v", got, last)
			}

			h.tg.FailNext("sendDocument", 1, 502, "Bad Gateway", 0)
			n = h.enqueue(delivery.Request{UserID: "ann", ChatID: chat, Text: strings.Repeat("x", 1100),
				Media: delivery.Media{Kind: delivery.MediaDocument, FileID: got.MediaFileID}})
			got = waitFinal(t, h.d, n.ID)
			ms := h.tg.Messages(chat)
			if got.State != delivery.StateSent || got.Attempts != 3 || len(got.MessageIDs) != 2 ||
				ms[len(ms)-2].Media == nil || ms[len(ms)-2].Media.Kind != "document" || ms[len(ms)-2].Text != "" ||
				ms[len(ms)-1].Media != nil || ms[len(ms)-1].Text != strings.Repeat("x", 1100) {
				t.Fatalf("retried document: %+v, sent %+v", got, ms[len(ms)-2:])
			}

			h.tg.FailMediaURL("https://example.com/bad.png", fakebot.ErrWrongFileID)
			n = h.enqueue(delivery.Request{UserID: "ann", ChatID: chat, Text: "x",
				Media: delivery.Media{Kind: delivery.MediaPhoto, URL: "https://example.com/bad.png"}})
			if got = waitFinal(t, h.d, n.ID); got.State != delivery.StateFailed || got.FailureReason != delivery.ReasonBadMedia {
				t.Fatalf("bad URL: %+v", got)
			}
		})
	}
}

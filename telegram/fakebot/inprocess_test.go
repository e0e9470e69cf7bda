package fakebot_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestInProcessOnVirtualClock runs the in-process fake inside a synctest
// bubble: sends, flood limits and hangs follow the virtual clock.
func TestInProcessOnVirtualClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg := fakebot.NewInProcess()
		defer tg.Close()
		c := telegram.NewClient(tg.URL(), tg.Token(), telegram.WithHTTPClient(&http.Client{Transport: tg.Transport()}))
		tg.SendText(42, "alice", "hi")
		tg.SetLimits(fakebot.Limits{PerChat: 1, Burst: 1})
		ctx := context.Background()
		start := time.Now()
		if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "one"}); err != nil {
			t.Fatalf("first send: %v", err)
		}
		if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "two"}); !isRetryAfter(err) {
			t.Fatalf("second send at once = %v, want a 429", err)
		}
		time.Sleep(time.Second) // virtual: the chat's bucket refills
		if _, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: 42, Text: "three"}); err != nil {
			t.Fatalf("send a second later: %v", err)
		}
		tg.SetHang(true)
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := c.SendMessage(hctx, telegram.SendMessageParams{ChatID: 42, Text: "hangs"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hanging send = %v, want the deadline", err)
		}
		if el := time.Since(start); el != 6*time.Second {
			t.Fatalf("virtual time elapsed %v, want 6s", el)
		}
		msgs := tg.Messages(42)
		if len(msgs) != 2 || msgs[1].Time.Sub(msgs[0].Time) != time.Second {
			t.Fatalf("messages %+v", msgs)
		}
	})
}

func isRetryAfter(err error) bool {
	_, ok := telegram.RetryAfter(err)
	return ok
}

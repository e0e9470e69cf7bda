package delivery_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/telegramtest"
)

var longTests = flag.Bool("delivery.long", false, "run the long rate-accuracy test (about 15 s)")

func BenchmarkEnqueueRedis(b *testing.B) {
	srv := redistest.Start(b)
	st := store.NewRedis(srv.Client(b), "bench")
	d := delivery.New(delivery.DefaultConfig(), st.Queue(), st.Limiter(), st, nil, zap.NewNop())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, _, err := d.Enqueue(ctx, delivery.Request{UserID: "u", ChatID: int64(i%1000 + 1), Text: "benchmark message"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// linkAll links user u<c> to chat c for chats 1..n in the fake and links.
func linkAll(tb testing.TB, tg *telegramtest.Server, links store.Store, n int) {
	ctx := context.Background()
	for c := 1; c <= n; c++ {
		tg.SendText(int64(c), "u", "hi")
		tok := fmt.Sprintf("t%d", c)
		if err := links.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: fmt.Sprintf("u%d", c), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			tb.Fatal(err)
		}
		if _, err := links.ConsumeLinkToken(ctx, tok, int64(c), "u", time.Now()); err != nil {
			tb.Fatal(err)
		}
	}
}

func BenchmarkDeliveryThroughput(b *testing.B) {
	srv := redistest.Start(b)
	st := store.NewRedis(srv.Client(b), "tput")
	tg := telegramtest.NewServer()
	b.Cleanup(tg.Close)
	const chats = 200
	linkAll(b, tg, st, chats)
	cfg := delivery.DefaultConfig()
	cfg.Workers = 32
	cfg.GlobalRate, cfg.GlobalBurst = 1e6, 1000
	cfg.PrivateChatInterval = time.Nanosecond
	d := delivery.New(cfg, st.Queue(), st.Limiter(), st, tg.Client(), zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range b.N {
		c := i%chats + 1
		if _, _, err := d.Enqueue(ctx, delivery.Request{UserID: fmt.Sprintf("u%d", c), ChatID: int64(c), Text: "x"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	for len(tg.AllMessages()) < b.N {
		time.Sleep(time.Millisecond) // polling for completion
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
	cancel()
	<-done
}

// TestGlobalRateAccuracy checks that at Telegram's limits the global rate
// measured over 10 s is within 5% of the configured 30/s and that the fake
// answers (almost) no 429. Run with -delivery.long.
func TestGlobalRateAccuracy(t *testing.T) {
	if !*longTests {
		t.Skip("long test: run with -delivery.long")
	}
	srv := redistest.Start(t)
	st := store.NewRedis(srv.Client(t), "rate")
	tg := telegramtest.NewServer()
	t.Cleanup(tg.Close)
	tg.SetLimits(telegramtest.Limits{Global: 30, PerChat: 1, PerGroupPerMinute: 20})
	const chats = 100
	linkAll(t, tg, st, chats)
	cfg := delivery.DefaultConfig()
	cfg.GlobalRate, cfg.GlobalBurst = 30, 1
	h := &harness{t: t}
	for replica := range 2 { // two replicas share one budget
		d := delivery.New(cfg, st.Queue(), st.Limiter(), st, tg.Client(), zap.NewNop())
		t.Cleanup(h.run(d))
		if replica == 0 {
			for i := range 600 {
				c := i%chats + 1
				if _, _, err := d.Enqueue(ctxT(t), delivery.Request{UserID: fmt.Sprintf("u%d", c), ChatID: int64(c), Text: "x"}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	waitFor(t, "12 s of sending", func() bool {
		m := tg.AllMessages()
		return len(m) > 0 && time.Since(m[0].Time) > 12*time.Second
	})
	msgs := tg.AllMessages()
	from := msgs[0].Time.Add(time.Second)
	n := 0
	for _, m := range msgs {
		if !m.Time.Before(from) && m.Time.Before(from.Add(10*time.Second)) {
			n++
		}
	}
	rate := float64(n) / 10
	t.Logf("measured %.1f msg/s over 10 s, %d 429s", rate, tg.Count429())
	if rate < 30*0.95 || rate > 30*1.05 {
		t.Fatalf("global rate %.1f/s, want 30 ± 5%%", rate)
	}
	if tg.Count429() > 2 {
		t.Fatalf("%d 429s at the configured limits", tg.Count429())
	}
}

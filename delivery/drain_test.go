package delivery_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
)

func TestShutdownDrains(t *testing.T) {
	tests := []struct {
		name      string
		hang      bool // sends never finish: the drain deadline cuts them
		wantState delivery.NotificationState
	}{
		{"in-flight sends finish", false, delivery.StateSent},
		{"sends cut by the deadline are handed back", true, delivery.StateQueued},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.DrainTimeout = 300 * time.Millisecond
			b := memoryBackend(t)
			h := newHarness(t, b, cfg)
			if tc.hang {
				h.tg.SetHang(true)
			} else {
				h.tg.SetLatency(150 * time.Millisecond)
			}
			var ids []string
			for c := range cfg.Workers {
				h.link(fmt.Sprintf("u%d", c), int64(300+c))
				ids = append(ids, h.enqueue(delivery.Request{UserID: fmt.Sprintf("u%d", c), ChatID: int64(300 + c), Text: "x"}).ID)
			}
			waitFor(t, "every worker to be sending", func() bool { return h.tg.Calls("sendMessage") >= cfg.Workers })
			start := time.Now()
			h.stop() // cancel Run's context and wait for Run to return
			if took := time.Since(start); took > cfg.DrainTimeout+2*time.Second {
				t.Fatalf("Run took %v to drain", took)
			}
			for _, id := range ids {
				n, err := h.d.Get(ctxT(t), id)
				if err != nil || n.State != tc.wantState {
					t.Fatalf("after drain: %+v %v, want %v", n, err, tc.wantState)
				}
			}
			if !tc.hang {
				return
			}
			// A new process picks the handed-back work up at once.
			h.tg.SetHang(false)
			d2 := delivery.New(cfg, b.q, h.tg.Client(), zaptest.NewLogger(t))
			stop := h.run(d2)
			defer stop()
			for _, id := range ids {
				if n := waitFinal(t, d2, id); n.State != delivery.StateSent {
					t.Fatalf("after restart: %+v", n)
				}
			}
		})
	}
}

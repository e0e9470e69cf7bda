package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestBotsDeliveryFigures measures delivery with limits off for six bots
// at once, on one Redis node and on a three-master Redis Cluster (each
// bot's keys in its own slot), for docs/BENCHMARKS.md. It is a measurement,
// not a check: it runs only with TGNOTIFY_BOTS_FIGURES=1, and asserts only
// that every notification was SENT.
func TestBotsDeliveryFigures(t *testing.T) {
	if os.Getenv("TGNOTIFY_BOTS_FIGURES") == "" {
		t.Skip("a measurement: set TGNOTIFY_BOTS_FIGURES=1 to run it")
	}
	const (
		bots        = 6
		usersPerBot = 20
		perUser     = 25 // 500 a bot, 3000 in all
	)
	for _, topo := range []string{"single node", "cluster"} {
		var url string
		if topo == "cluster" {
			url = redistest.StartCluster(t).URL()
		} else {
			url = redistest.Start(t).URL()
		}
		h, ids, fakes := startManyBots(t, url, bots)
		ctx := ctxT(t)
		for i, id := range ids {
			for u := range usersPerBot {
				h.linkOn(ctx, id, fakes[i], fmt.Sprintf("u%d", u), int64(10000*(i+1)+u))
			}
		}
		start := time.Now()
		var wg sync.WaitGroup
		for _, id := range ids {
			for u := range usersPerBot {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for m := range perUser {
						if _, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: fmt.Sprintf("u%d", u), Bot: id, Text: fmt.Sprint("m", m)}); err != nil {
							t.Errorf("Notify: %v", err)
							return
						}
					}
				}()
			}
		}
		wg.Wait()
		accepted := time.Since(start)
		total := bots * usersPerBot * perUser
		eventually(t, 120*time.Second, "every notification sent", func() bool {
			sent := 0
			for i := range fakes {
				for u := range usersPerBot {
					sent += len(fakes[i].Messages(int64(10000*(i+1)+u))) - 1 // minus the welcome
				}
			}
			return sent >= total
		})
		all := time.Since(start)
		t.Logf("%s: %d bots × %d notifications, limits off: accepted in %.2fs (%.0f/s), all sent in %.2fs (%.0f/s)",
			topo, bots, total/bots, accepted.Seconds(), float64(total)/accepted.Seconds(), all.Seconds(), float64(total)/all.Seconds())
		h.shutdown()
	}
}

// startManyBots starts a service of n bots ("default" and b1..b(n-1), all
// tokens of one fake server) with Telegram's limits off.
func startManyBots(t *testing.T, redisURL string, n int) (*harness, []string, []*fakebot.Server) {
	t.Helper()
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	ids, fakes := []string{"default"}, []*fakebot.Server{fake}
	var yaml strings.Builder
	yaml.WriteString("bots:\n")
	for i := 1; i < n; i++ {
		id, tok := fmt.Sprintf("b%d", i), fmt.Sprintf("%d:BBtokenOfBot%dForTests", 800000+i, i)
		fakes = append(fakes, fake.AddBot(fakebot.WithToken(tok), fakebot.WithBotUsername(fmt.Sprintf("figures%d_bot", i)), fakebot.WithBotID(int64(800000+i))))
		ids = append(ids, id)
		fmt.Fprintf(&yaml, "  - {id: %s, token: %q, global_rate: 1000}\n", id, tok)
	}
	file := filepath.Join(t.TempDir(), "bots.yaml")
	if err := os.WriteFile(file, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, harnessOpts{fake: fake, redisURL: redisURL, env: map[string]string{
		"NOTIFIER_BOTS_FILE": file, "NOTIFIER_GROUP_RATE_PER_MINUTE": "0", "NOTIFIER_LOG_LEVEL": "warn",
	}})
	return h, ids, fakes
}

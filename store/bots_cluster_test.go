package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// TestClusterBots: on a three-master Redis Cluster, a bot's store under
// its own hash tag ({tgn:<bot>}) passes the queue contract (the store
// contract runs so in runTopologyContract, on Sentinel too) (no
// CROSSSLOT: its multi-key scripts stay in its slot); six bots land on
// different slots, spread over the masters; and two bots' stores on one
// cluster keep their links apart (one user linked to a different chat on
// each).
func TestClusterBots(t *testing.T) {
	cl := redistest.StartCluster(t)
	url := cl.URL()
	var n atomic.Int64
	prefix := func(bot, kind string) string {
		return fmt.Sprintf("%s:%s%d", store.BotPrefix(url, bot), kind, n.Add(1))
	}
	t.Run("queue contract under a bot's tag", func(t *testing.T) {
		runQueueContract(t, func(t *testing.T) queue { return openTopology(t, url, prefix("shop", "q")).Queue() })
	})
	t.Run("placement", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := cl.Client(t)
		slots, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		masters := map[string]int{}
		for _, bot := range []string{"default", "shop", "support", "brand-a", "brand-b", "customer_1"} {
			key := store.BotPrefix(url, bot) + ":sched"
			slot, err := c.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range slots {
				if int64(r.Start) <= slot && slot <= int64(r.End) {
					masters[r.Nodes[0].Addr]++
					t.Logf("bot %-10s prefix %-16s slot %5d master %s", bot, store.BotPrefix(url, bot), slot, r.Nodes[0].Addr)
				}
			}
		}
		if len(masters) < 2 {
			t.Fatalf("six bots on %d master(s), want them spread: %v", len(masters), masters)
		}
	})
	t.Run("bots keep their links apart", func(t *testing.T) {
		a, b := openTopology(t, url, prefix("default", "l")), openTopology(t, url, prefix("shop", "l"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for st, chat := range map[*store.Redis]int64{a: 100, b: 200} {
			tok := fmt.Sprintf("tok-%d", chat)
			if err := st.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: "alice", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.ConsumeLinkToken(ctx, tok, chat, "alice", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.ConsumeLinkToken(ctx, "tok-100", 300, "x", time.Now()); err == nil {
			t.Fatal("bot shop consumed the default bot's token")
		}
		for st, chat := range map[*store.Redis]int64{a: 100, b: 200} {
			l, err := st.GetLink(ctx, "alice")
			if err != nil || l.ChatID != chat {
				t.Fatalf("link = %+v, %v; want chat %d", l, err, chat)
			}
		}
	})
}

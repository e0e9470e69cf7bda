package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// TestBotsClusterFailover: six bots on a three-master Redis Cluster with a
// replica each; in the middle of a run (half the notifications accepted)
// the master holding bot b1's slot hands over to its replica (CLUSTER
// FAILOVER). Callers retry what was refused (UNAVAILABLE) with the same
// idempotency key; in the end every chat has received every notification
// accepted, none lost, and every record is SENT.
func TestBotsClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a six-node cluster")
	}
	t.Parallel()
	const (
		bots        = 6
		usersPerBot = 10
		perUser     = 20
		total       = bots * usersPerBot * perUser
	)
	cl := redistest.StartClusterWith(t, redistest.ClusterOptions{Replicas: true})
	h, ids, fakes := startManyBots(t, cl.URL(), bots)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i, id := range ids {
		for u := range usersPerBot {
			h.linkOn(ctx, id, fakes[i], fmt.Sprintf("u%d", u), int64(10000*(i+1)+u))
		}
	}
	slot, err := cl.Client(t).ClusterKeySlot(ctx, store.BotPrefix(cl.URL(), "b1")+":sched").Result()
	if err != nil {
		t.Fatal(err)
	}
	master := cl.MasterOf(t, slot)

	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for _, id := range ids {
		for u := range usersPerBot {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for m := range perUser {
					if !notifyRetrying(ctx, h, &notifierv1.NotifyRequest{UserId: fmt.Sprintf("u%d", u), Bot: id,
						Text: fmt.Sprint("m", m), IdempotencyKey: fmt.Sprint("k", m)}, &refused) {
						t.Errorf("bot %s u%d m%d never accepted", id, u, m)
						return
					}
					accepted.Add(1)
				}
			}()
		}
	}
	eventually(t, 60*time.Second, "half accepted", func() bool { return accepted.Load() >= total/2 })
	start := time.Now()
	cl.Failover(t, master)
	t.Logf("failover of master %d (bot b1's slot %d) took %s with %d of %d accepted", master, slot, time.Since(start).Round(time.Millisecond), accepted.Load(), total)
	wg.Wait()

	dups := 0
	eventually(t, 90*time.Second, "every notification delivered", func() bool {
		for i := range fakes {
			for u := range usersPerBot {
				if len(fakes[i].Messages(int64(10000*(i+1)+u)))-1 < perUser {
					return false
				}
			}
		}
		return true
	})
	for i := range fakes {
		for u := range usersPerBot {
			seen := map[string]int{}
			for _, msg := range fakes[i].Messages(int64(10000*(i+1) + u))[1:] {
				seen[msg.Text]++
			}
			for m := range perUser {
				switch n := seen[fmt.Sprint("m", m)]; {
				case n == 0:
					t.Errorf("bot %s u%d: m%d lost", ids[i], u, m)
				case n > 1:
					dups += n - 1
				}
			}
		}
	}
	t.Logf("%d notifications over %d bots: all delivered; %d Notify calls refused during the failover and retried; %d duplicate sends",
		total, bots, refused.Load(), dups)
}

// notifyRetrying calls Notify until it is accepted, retrying UNAVAILABLE
// (the store was failing over) with the same idempotency key.
func notifyRetrying(ctx context.Context, h *harness, req *notifierv1.NotifyRequest, refused *atomic.Int64) bool {
	for ctx.Err() == nil {
		_, err := h.client.Notify(ctx, req)
		switch status.Code(err) {
		case codes.OK:
			return true
		case codes.Unavailable, codes.DeadlineExceeded, codes.Internal:
			refused.Add(1)
			time.Sleep(50 * time.Millisecond) // a client's retry pause, not synchronisation
		default:
			return false
		}
	}
	return false
}

package store_test

// Kill safety of the event log: Redis is SIGKILLed while links change
// (links, relinks, app unlinks, /stop), then restarted from its AOF. Every
// change and its events are one script, whose effects Redis persists as
// one MULTI/EXEC block, so after the restart the links replayed from the
// log are exactly the links stored: no change without its event, no event
// without its change.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestRedisEventsSurviveKill(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{AOF: true})
	st := store.NewRedis(srv.Client(t), "kill")
	const workers, users = 4, 5
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	stop := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user := fmt.Sprintf("u%d-%d", w, i%users)
				chat := int64(w*100 + i%3)
				var err error
				switch i % 4 {
				case 0, 1:
					tok := fmt.Sprintf("t%d-%d", w, i)
					if err = st.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)}); err == nil {
						_, err = st.ConsumeLinkToken(ctx, tok, chat, "name", time.Now())
					}
				case 2:
					_, _, err = st.UnlinkUser(ctx, user)
				case 3:
					_, err = st.UnlinkChat(ctx, chat, events.ReasonStop)
				}
				if err == nil {
					mu.Lock()
					done++
					mu.Unlock()
				}
			}
		}()
	}
	poll.Eventually(t, 20*time.Second, "some link changes before the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return done >= 200
	})
	srv.Stop() // SIGKILL while the workers change links
	close(stop)
	wg.Wait()
	srv.Restart()

	replayed := map[string]int64{}
	after := ""
	for {
		evs, next, err := st.Read(qctx(t), after, events.Filter{}, events.MaxRead)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			switch e.Type {
			case events.TypeUserLinked:
				if chat, ok := replayed[e.UserID]; ok && chat != e.ChatID {
					t.Fatalf("%+v: user linked to %d without USER_UNLINKED relinked first", e, chat)
				}
				replayed[e.UserID] = e.ChatID
			case events.TypeUserUnlinked:
				if chat, ok := replayed[e.UserID]; !ok || chat != e.ChatID {
					t.Fatalf("%+v: user was not linked to that chat (replayed: %d, %v)", e, chat, ok)
				}
				delete(replayed, e.UserID)
			}
		}
		after = next
	}
	for w := range workers {
		for u := range users {
			user := fmt.Sprintf("u%d-%d", w, u)
			link, err := st.GetLink(qctx(t), user)
			got := int64(0)
			if err == nil {
				got = link.ChatID
			}
			if want := replayed[user]; got != want {
				t.Errorf("user %s: linked to %d (%v), the log says %d", user, got, err, want)
			}
		}
	}
}

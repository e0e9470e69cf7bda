package broadcast_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// hangSender sends normally until after messages went out; then every
// call delivers its message and hangs until release is closed, like a
// process killed after its request reached Telegram.
type hangSender struct {
	delivery.Sender
	after   int
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	sent    int
	hung    int
}

func (s *hangSender) SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error) {
	m, err := s.Sender.SendMessage(ctx, p)
	s.mu.Lock()
	dead := s.sent >= s.after
	if dead {
		s.hung++
	} else if err == nil {
		s.sent++
	}
	s.mu.Unlock()
	if !dead {
		return m, err
	}
	<-s.release
	return telegram.Message{}, errors.New("process was killed")
}

func (s *hangSender) hungCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hung
}

func (s *hangSender) unblock() { s.once.Do(func() { close(s.release) }) }

func crashConfig() delivery.Config {
	c := delivery.DefaultConfig()
	c.Workers = 4
	c.GlobalRate, c.GlobalBurst = 400, 20
	c.PrivateChatInterval = 5 * time.Millisecond
	c.MinBackoff, c.MaxBackoff = 5*time.Millisecond, 40*time.Millisecond
	c.SendTimeout = 300 * time.Millisecond
	c.LeaseTimeout = time.Second
	c.PollInterval = 20 * time.Millisecond
	c.DrainTimeout = time.Minute // the "dead" replica never hands its work back
	return c
}

// replica is one process: a dispatcher and a broadcast runner.
type replica struct {
	d    *delivery.Dispatcher
	q    *store.RedisQueue
	stop context.CancelFunc
	done chan struct{}
}

func startReplica(t *testing.T, st *store.Redis, sender delivery.Sender) *replica {
	q := st.Queue()
	d := delivery.New(crashConfig(), q, sender, zaptest.NewLogger(t))
	r := broadcast.NewRunner(broadcast.Config{Retention: time.Hour}, q, d.Wake, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	rep := &replica{d: d, q: q, stop: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() { _ = d.Run(ctx) })
	wg.Go(func() { _ = r.Run(ctx) })
	go func() { wg.Wait(); close(rep.done) }()
	return rep
}

// TestBroadcastSurvivesKill: two replicas share a broadcast; one is
// killed mid-broadcast (its sends hang, its runner stops) and Redis
// restarts from its AOF; every recipient gets the message, at most the
// sends in flight at the kill twice, and the counts are exact.
func TestBroadcastSurvivesKill(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{AOF: true})
	tg := fakebot.NewServer()
	t.Cleanup(tg.Close)
	st := store.NewRedis(srv.Client(t), "bckill")
	const users = 300
	var ids []string
	for i := range users {
		chat, user, tok := int64(5000+i), fmt.Sprint("u", i), fmt.Sprint("t", i)
		tg.SendText(chat, "u", "hi")
		if err := st.PutLinkToken(t.Context(), store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConsumeLinkToken(t.Context(), tok, chat, "u", time.Now()); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, user)
	}
	dying := &hangSender{Sender: tg.Client(), after: 60, release: make(chan struct{})}
	r1 := startReplica(t, st, dying)
	t.Cleanup(func() { r1.stop(); dying.unblock(); <-r1.done })
	r2 := startReplica(t, store.NewRedis(srv.Client(t), "bckill"), tg.Client())
	t.Cleanup(func() { r2.stop(); <-r2.done })

	c, err := r2.q.CreateBroadcast(t.Context(), broadcast.New{Message: delivery.Notification{Parts: []string{"news"}},
		UserIDs: ids, Rate: 200, CreatedAt: time.Now(), Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 20*time.Second, "the first replica to hang in its sends", func() bool {
		return dying.hungCount() == crashConfig().Workers
	})
	r1.stop() // killed: no more claims or expansion; its sends never return
	srv.Stop()
	srv.Restart()
	var b broadcast.Broadcast
	poll.Eventually(t, 60*time.Second, "the broadcast to finish", func() bool {
		b, err = r2.q.GetBroadcast(t.Context(), c.ID)
		return err == nil && b.State == broadcast.StateDone
	})
	if b.Sent != users || b.Failed != 0 || b.Cancelled != 0 || b.Recipients != users {
		t.Fatalf("counts %+v, want %d sent", b, users)
	}
	total := 0
	for i := range users {
		n := 0
		for _, m := range tg.Messages(int64(5000 + i)) {
			if m.Text == "news" {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("user %d never got the broadcast", i)
		}
		total += n
	}
	if dups := total - users; dups > crashConfig().Workers {
		t.Fatalf("%d duplicates, want at most %d (the sends in flight at the kill)", dups, crashConfig().Workers)
	}
	t.Logf("%d messages for %d recipients (%d duplicates from the kill)", total, users, total-users)
}

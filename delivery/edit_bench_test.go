package delivery_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// rtHook counts the client's round trips to Redis (a pipeline is one).
type rtHook struct{ n atomic.Int64 }

func (h *rtHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *rtHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *rtHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// redisWork is a reading of redis-server's counters: commands (those run
// by scripts included), network bytes in and out, CPU.
type redisWork struct {
	cmds, in, out int64
	cpu           time.Duration
}

func readWork(c redis.UniversalClient) redisWork {
	info, _ := c.Info(context.Background(), "stats").Result()
	field := func(k string) int64 {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), k+":"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return 0
	}
	return redisWork{cmds: field("total_commands_processed"), in: field("total_net_input_bytes"),
		out: field("total_net_output_bytes"), cpu: redisCPU(c)}
}

// BenchmarkEditRedisCost measures the Redis cost of an edit of a sent
// notification, end to end (Dispatcher.Edit, then the worker's claim,
// editMessageText and settle), against that of a send (Enqueue to SENT) in
// the same run: client round trips, redis-server commands (the scripts'
// own included), network bytes and CPU, per operation. b.N notifications
// are sent, then each is edited once. Run it as
//
//	go test ./delivery -run '^$' -bench EditRedisCost -benchtime 2000x
func BenchmarkEditRedisCost(b *testing.B) {
	srv := redistest.Start(b)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 24})
	b.Cleanup(func() { _ = rc.Close() })
	hook := &rtHook{}
	rc.AddHook(hook)
	st := store.NewRedis(rc, "editcost")
	tg := fakebot.NewServer()
	b.Cleanup(tg.Close)
	const chats = 200
	linkAll(b, tg, st, chats)
	cfg := delivery.DefaultConfig()
	cfg.Workers = 16
	cfg.GlobalRate, cfg.GlobalBurst = 1e6, 1000
	cfg.PrivateChatInterval = time.Nanosecond
	cfg.PollInterval = time.Second // idle polling out of the counts
	d := delivery.New(cfg, st.Queue(), botClient(tg, cfg.Workers), zap.NewNop())
	ctx := context.Background()
	// run runs the dispatcher until the fake answered method want times
	// and the queue is idle; it returns the idle polls made.
	run := func(method string, want int) int64 {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(rctx) }()
		defer func() { cancel(); <-done }()
		if err := tg.WaitForCalls(ctx, method, want); err != nil {
			b.Fatal(err)
		}
		polls := int64(0)
		for {
			polls++
			if _, ok, err := st.Queue().NextDue(ctx); err == nil && !ok {
				return polls
			}
			time.Sleep(5 * time.Millisecond) // polling for the last settles
		}
	}

	// phase makes b.N API calls (start) with the dispatcher stopped, then
	// runs it until the work is done, and reports the Redis work per
	// operation: of the API calls, and in all (the idle polls of run, one
	// round trip and two commands each, taken out).
	phase := func(name, method string, want int, start func(i int) string) []string {
		w0, rt0 := readWork(rc), hook.n.Load()
		ids := make([]string, b.N)
		for i := range b.N {
			ids[i] = start(i)
		}
		w1, rt1 := readWork(rc), hook.n.Load()
		polls := run(method, want)
		w, rt := readWork(rc), hook.n.Load()
		per := func(v int64) float64 { return float64(v) / float64(b.N) }
		b.ReportMetric(per(rt1-rt0), "api-round-trips/"+name)
		b.ReportMetric(per(w1.cmds-w0.cmds), "api-redis-cmds/"+name)
		b.ReportMetric(per(rt-rt0-polls), "round-trips/"+name)
		b.ReportMetric(per(w.cmds-w0.cmds-2*polls), "redis-cmds/"+name)
		b.ReportMetric(per(w.in-w0.in+w.out-w0.out), "redis-bytes/"+name)
		b.ReportMetric(float64((w.cpu-w0.cpu).Microseconds())/float64(b.N), "redis-cpu-µs/"+name)
		return ids
	}
	b.ResetTimer()
	sends0 := tg.Calls("sendMessage")
	sent := phase("send", "sendMessage", sends0+b.N, func(i int) string {
		c := i%chats + 1
		n, _, err := d.Enqueue(ctx, delivery.Request{UserID: fmt.Sprintf("u%d", c), ChatID: int64(c), Text: "deploy running"})
		if err != nil {
			b.Fatal(err)
		}
		return n.ID
	})
	phase("edit", "editMessageText", b.N, func(i int) string {
		if _, err := d.Edit(ctx, delivery.EditRequest{ID: sent[i], Text: "deploy done"}); err != nil {
			b.Fatal(err)
		}
		return sent[i]
	})
	b.StopTimer()
	for _, id := range sent {
		if n, err := st.Queue().Get(ctx, id); err != nil || n.EditState != delivery.EditApplied {
			b.Fatalf("%s after the edit phase: %+v, %v", id, n, err)
		}
	}
	if got := tg.Calls("editMessageText"); got != b.N {
		b.Fatalf("editMessageText calls = %d, want %d", got, b.N)
	}
}

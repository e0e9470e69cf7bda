package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// broadcastOptions configure the broadcast scenario: the Broadcast call
// with explicit ids (latency, Redis memory per pending recipient), with
// all_linked over many linked users, and a delivery at Telegram's limit
// with one transactional Notify per second beside it.
type broadcastOptions struct {
	Redis redisOptions
	// IDs is the number of explicit user ids (0: skip); AllLinked the
	// number of users linked for the all_linked call (0: skip).
	IDs, AllLinked int
	// Users is the broadcast's recipients in the delivery part (0: skip),
	// at Rate (NOTIFIER_GLOBAL_RATE and the fake's global limit).
	Users int
	Rate  float64
	// PaidRate, when set, makes the delivery part a paid broadcast at
	// that rate (NOTIFIER_PAID_BROADCAST_RATE and the fake's paid limit).
	PaidRate float64
	// Baseline is the number of transactional Notifies (1/s) measured
	// without a broadcast running.
	Baseline int
	// NoProbe runs the broadcast alone: no transactional Notify beside it.
	NoProbe bool
}

func (o *broadcastOptions) flags(fs *flag.FlagSet, prefix string) {
	fs.IntVar(&o.IDs, prefix+"ids", 100_000, "broadcast: explicit user ids in one call (0: skip)")
	fs.IntVar(&o.AllLinked, prefix+"all-linked", 100_000, "broadcast: users linked (through the store) for the all_linked call (0: skip)")
	fs.IntVar(&o.Users, prefix+"users", 1000, "broadcast: recipients of the delivery part (0: skip)")
	fs.Float64Var(&o.Rate, prefix+"rate", 30, "broadcast: NOTIFIER_GLOBAL_RATE and the fake's global limit")
	fs.Float64Var(&o.PaidRate, prefix+"paid-rate", 0, "broadcast: deliver a paid broadcast at this rate (NOTIFIER_PAID_BROADCAST_RATE and the fake's paid limit; 0: unpaid at -rate)")
	fs.BoolVar(&o.NoProbe, prefix+"no-probe", false, "broadcast: deliver the broadcast alone (no transactional Notify per second beside it)")
	fs.IntVar(&o.Baseline, prefix+"baseline", 20, "broadcast: transactional Notifies (1/s) measured with no broadcast running")
}

func (o *broadcastOptions) validate() error {
	if o.IDs < 0 || o.IDs > 100_000 || o.AllLinked < 0 || o.Users < 0 || o.Rate < 0.1 || o.Rate > 1000 || o.Baseline < 1 {
		return errors.New("broadcast: want -ids 0-100000, -all-linked >= 0, -users >= 0, -rate 0.1-1000, -baseline >= 1")
	}
	return nil
}

// broadcastResult is the scenario's JSON line.
type broadcastResult struct {
	header
	IDs struct {
		N         int     `json:"n"`
		CallMS    float64 `json:"call_ms"`
		Bytes     int64   `json:"bytes"`
		PerUser   float64 `json:"bytes_per_pending_recipient"`
		UsedDelta int64   `json:"used_memory_delta"`
	} `json:"ids"`
	AllLinked struct {
		N       int     `json:"n"`
		CallMS  float64 `json:"call_ms"`
		Bytes   int64   `json:"bytes"`
		PerUser float64 `json:"bytes_per_pending_recipient"`
	} `json:"all_linked"`
	Delivery struct {
		Users     int     `json:"users"`
		Rate      float64 `json:"rate"`
		Paid      bool    `json:"paid"`
		IdealS    float64 `json:"ideal_s"`
		SpanS     float64 `json:"first_to_last_s"`
		Deviation float64 `json:"deviation"`
		// DevLeft is the deviation from the slots the transactional
		// Notifies left: (n-1+tx)/rate.
		DevLeft    float64 `json:"deviation_from_slots_left"`
		Count429   int     `json:"count_429"`
		Duplicates int     `json:"duplicates"`
		Sent       int64   `json:"sent"`
		TxBaseP50  float64 `json:"tx_baseline_p50_ms"`
		TxBaseP99  float64 `json:"tx_baseline_p99_ms"`
		TxBcP50    float64 `json:"tx_during_broadcast_p50_ms"`
		TxBcP99    float64 `json:"tx_during_broadcast_p99_ms"`
		TxN        int     `json:"tx_during_broadcast_n"`
	} `json:"delivery"`
}

func (o *broadcastOptions) run(ctx context.Context, ro redisOptions, w io.Writer) error {
	o.Redis = ro
	var res broadcastResult
	var lines []string
	if o.IDs > 0 || o.AllLinked > 0 {
		l, err := o.runCalls(ctx, w, &res)
		if err != nil {
			return err
		}
		lines = append(lines, l...)
	}
	if o.Users > 0 {
		l, err := o.runDelivery(ctx, w, &res)
		if err != nil {
			return err
		}
		lines = append(lines, l...)
	}
	return emit(w, lines, res)
}

// bcBytes sums MEMORY USAGE of the broadcast's keys.
func bcBytes(ctx context.Context, svc *service, id string) (int64, error) {
	p := store.KeyPrefix(svc.redis.URL())
	var total int64
	for _, suffix := range []string{"", ":m", ":r", ":fl", ":f"} {
		n, err := svc.probe.MemoryUsage(ctx, p+":bc:"+id+suffix).Result()
		if err != nil && err.Error() != "redis: nil" {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// runCalls measures the Broadcast call with explicit ids and all_linked.
func (o *broadcastOptions) runCalls(ctx context.Context, w io.Writer, res *broadcastResult) ([]string, error) {
	svc, err := startService(ctx, serviceOptions{Redis: o.Redis})
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	res.header = newHeader("broadcast", describeMachine(ctx, svc.redis))
	lines := []string{"broadcast: " + res.Machine.String()}
	if o.IDs > 0 {
		ids := make([]string, o.IDs)
		for i := range ids {
			ids[i] = fmt.Sprintf("bench-user-%06d", i)
		}
		used0, _ := settledUsedMemory(ctx, svc.probe)
		t0 := time.Now()
		r, err := svc.client.Broadcast(ctx, &notifierv1.BroadcastRequest{UserIds: ids, Text: "bench ids", Rate: 0.1})
		if err != nil {
			return nil, fmt.Errorf("Broadcast(ids): %w", err)
		}
		res.IDs.CallMS = round(float64(time.Since(t0).Microseconds())/1000, 1)
		used1, _ := settledUsedMemory(ctx, svc.probe)
		res.IDs.N, res.IDs.UsedDelta = o.IDs, used1-used0
		if res.IDs.Bytes, err = bcBytes(ctx, svc, r.GetBroadcastId()); err != nil {
			return nil, err
		}
		res.IDs.PerUser = round(float64(res.IDs.Bytes)/float64(o.IDs), 1)
		_, _ = svc.client.CancelBroadcast(ctx, &notifierv1.CancelBroadcastRequest{BroadcastId: r.GetBroadcastId()})
		lines = append(lines, fmt.Sprintf("  Broadcast with %d explicit ids: call %.1f ms (target < 1000 ms); its keys %d B = %.1f B per pending recipient (target < 40); used_memory +%d B",
			o.IDs, res.IDs.CallMS, res.IDs.Bytes, res.IDs.PerUser, res.IDs.UsedDelta))
	}
	if o.AllLinked > 0 {
		st := store.NewRedis(redisClient(svc.redis, 32), store.KeyPrefix(svc.redis.URL()))
		t0 := time.Now()
		err := linkDirect(ctx, st, makeUsers(o.AllLinked), 32)
		_ = st.Close()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "broadcast: linked %d users through the store in %.1f s\n", o.AllLinked, time.Since(t0).Seconds())
		t0 = time.Now()
		r, err := svc.client.Broadcast(ctx, &notifierv1.BroadcastRequest{AllLinked: true, Text: "bench all", Rate: 0.1})
		if err != nil {
			return nil, fmt.Errorf("Broadcast(all_linked): %w", err)
		}
		res.AllLinked.CallMS = round(float64(time.Since(t0).Microseconds())/1000, 1)
		res.AllLinked.N = int(r.GetRecipients())
		if res.AllLinked.Bytes, err = bcBytes(ctx, svc, r.GetBroadcastId()); err != nil {
			return nil, err
		}
		res.AllLinked.PerUser = round(float64(res.AllLinked.Bytes)/float64(max(res.AllLinked.N, 1)), 1)
		_, _ = svc.client.CancelBroadcast(ctx, &notifierv1.CancelBroadcastRequest{BroadcastId: r.GetBroadcastId()})
		lines = append(lines, fmt.Sprintf("  Broadcast all_linked over %d linked users: call %.1f ms (target < 5000 ms); its keys %d B = %.1f B per pending recipient",
			res.AllLinked.N, res.AllLinked.CallMS, res.AllLinked.Bytes, res.AllLinked.PerUser))
	}
	return lines, nil
}

// txProbe sends one transactional Notify per second to the users in
// turn until stop, and returns the accept-to-send latencies in ms.
func txProbe(ctx context.Context, svc *service, users []benchUser, tag string, n int, stop <-chan struct{}) ([]float64, error) {
	type sent struct {
		text string
		at   time.Time
	}
	var probes []sent
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; n <= 0 || i < n; i++ {
		u := users[i%len(users)]
		text := fmt.Sprintf("%stx %s %d", benchTextPrefix, tag, i)
		at := time.Now()
		if _, err := svc.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.ID, Text: text}); err != nil {
			return nil, err
		}
		probes = append(probes, sent{text, at})
		select {
		case <-stop:
			n = i + 1
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	var lat []float64
	err := poll.Until(ctx, time.Minute, "transactional messages", func() (bool, error) {
		lat = lat[:0]
		byText := map[string]time.Time{}
		for _, m := range svc.fake.AllMessages() {
			byText[m.Text] = m.Time
		}
		for _, p := range probes {
			t, ok := byText[p.text]
			if !ok {
				return false, nil
			}
			lat = append(lat, float64(t.Sub(p.at).Microseconds())/1000)
		}
		return true, nil
	})
	slices.Sort(lat)
	return lat, err
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return round(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))], 1)
}

// runDelivery broadcasts to o.Users at o.Rate against a fake enforcing
// that limit, with one Notify per second to other users throughout.
func (o *broadcastOptions) runDelivery(ctx context.Context, w io.Writer, res *broadcastResult) ([]string, error) {
	env := map[string]string{"NOTIFIER_GLOBAL_RATE": strconv.FormatFloat(o.Rate, 'f', -1, 64)}
	rate, paid := o.Rate, o.PaidRate > 0
	if paid {
		rate = o.PaidRate
		env["NOTIFIER_PAID_BROADCAST_RATE"] = strconv.FormatFloat(rate, 'f', -1, 64)
		// 1000/s needs more senders than the default 16 (OPERATIONS.md).
		env["NOTIFIER_WORKERS"] = strconv.Itoa(max(16, int(rate/15)))
	}
	const txUsers = 60
	svc, users, err := startLinked(ctx, serviceOptions{Redis: o.Redis, Env: env}, "broadcast", o.Users+txUsers, false, w)
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	if res.Machine.CPUs == 0 {
		res.header = newHeader("broadcast", describeMachine(ctx, svc.redis))
	}
	svc.fake.SetLimits(fakebot.Limits{Global: o.Rate, Paid: o.PaidRate, PerChat: 1, PerGroupPerMinute: 20})
	tx, rcpt := users[:txUsers], users[txUsers:]
	base, err := txProbe(ctx, svc, tx, "base", o.Baseline, nil)
	if err != nil {
		return nil, err
	}
	base429 := svc.fake.Count429()
	ids := make([]string, len(rcpt))
	for i, u := range rcpt {
		ids[i] = u.ID
	}
	r, err := svc.client.Broadcast(ctx, &notifierv1.BroadcastRequest{UserIds: ids, Text: benchTextPrefix + "bc", Paid: paid})
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	var during []float64
	go func() {
		if o.NoProbe {
			<-stop
			done <- nil
			return
		}
		var err error
		during, err = txProbe(ctx, svc, tx[txUsers/2:], "bc", 0, stop)
		done <- err
	}()
	var b *notifierv1.GetBroadcastResponse
	ideal := float64(len(rcpt)) / rate
	err = poll.Until(ctx, time.Duration(ideal*1.5+60)*time.Second, "the broadcast to finish", func() (bool, error) {
		b, err = svc.client.GetBroadcast(ctx, &notifierv1.GetBroadcastRequest{BroadcastId: r.GetBroadcastId()})
		return err == nil && b.GetState() == notifierv1.BroadcastState_BROADCAST_STATE_DONE, err
	})
	close(stop)
	if err != nil {
		return nil, err
	}
	if err := <-done; err != nil {
		return nil, err
	}
	var bc []fakebot.SentMessage
	for _, m := range svc.fake.AllMessages() {
		if m.Text == benchTextPrefix+"bc" {
			bc = append(bc, m)
		}
	}
	first, last := msgSpan(bc)
	d := &res.Delivery
	d.Users, d.Rate, d.Paid, d.IdealS, d.Sent = len(rcpt), rate, paid, round(ideal, 3), b.GetSent()
	d.SpanS = round(last.Sub(first).Seconds(), 3)
	// n messages at rate r span (n-1)/r from first to last.
	d.Deviation = round((d.SpanS-float64(len(rcpt)-1)/rate)/ideal, 4)
	left := len(during) // transactional sends take slots of the global limit, not the paid one
	if paid {
		left = 0
	}
	d.DevLeft = round((d.SpanS-float64(len(rcpt)-1+left)/rate)/ideal, 4)
	d.Count429, d.Duplicates = svc.fake.Count429()-base429, len(bc)-len(rcpt)
	d.TxBaseP50, d.TxBaseP99 = pct(base, 0.5), pct(base, 0.99)
	d.TxBcP50, d.TxBcP99, d.TxN = pct(during, 0.5), pct(during, 0.99), len(during)
	return []string{
		fmt.Sprintf("  delivery: broadcast (paid %v) to %d users at %g/s (fake: global %g/s, paid %g/s, 1/s per chat): first -> last %.3f s vs %.3f s ideal ((n-1)/rate), deviation %+.2f%% (target 1%%), %+.2f%% from the slots the %d transactional sends left; sent %d, 429s %d, duplicates %d",
			paid, d.Users, rate, o.Rate, o.PaidRate, d.SpanS, float64(len(rcpt)-1)/rate, 100*d.Deviation, 100*d.DevLeft, len(during), d.Sent, d.Count429, d.Duplicates),
		fmt.Sprintf("  transactional Notify accept -> sent: no broadcast p50 %.1f ms p99 %.1f ms (n=%d); during the broadcast p50 %.1f ms p99 %.1f ms (n=%d) (target p99 < 1500 ms)",
			d.TxBaseP50, d.TxBaseP99, len(base), d.TxBcP50, d.TxBcP99, d.TxN),
	}, nil
}

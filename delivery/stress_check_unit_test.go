package delivery_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// checkFixture is a clean record at 20/s: two notifications to chat 1001
// sent 1 s apart, and 15 more to chats 2000… sent 100 ms apart (too few
// chats for any window to be saturated).
func checkFixture() checkIn {
	t0 := time.Unix(1_000_000, 0)
	in := checkIn{
		start: t0, end: t0.Add(10 * time.Second), warmup: time.Second, rate: 20, burst: 1,
		privateEvery: time.Second, groupEvery: 3 * time.Second, workers: 4, maxAttempts: 3,
		blocked: map[int64]bool{}, windowFloor: true,
		isReply: func(s string) bool { return strings.HasPrefix(s, replyPrefix) },
	}
	add := func(chat int64, text string, at time.Time) {
		in.notes = append(in.notes, stressNote{id: text, chat: chat, parts: []string{text}, at: t0,
			final: delivery.Notification{State: delivery.StateSent}})
		in.msgs = append(in.msgs, fakebot.SentMessage{ChatID: chat, PlainText: text, Time: at})
		in.net = append(in.net, netEvent{at: at, chat: chat, text: text, status: 200, delivered: true, acked: true, end: at})
	}
	add(1001, "a", t0)
	add(1001, "b", t0.Add(time.Second))
	for i := range 15 {
		add(int64(2000+i), fmt.Sprintf("m%d", i), t0.Add(50*time.Millisecond+time.Duration(i)*100*time.Millisecond))
	}
	return in
}

func TestStressChecks(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(in *checkIn)
		want   string // a violation containing this; "" for none
	}{
		{name: "clean record", mutate: func(*checkIn) {}},
		{name: "above the rate", want: "safety: messages accepted by Telegram", mutate: func(in *checkIn) {
			for i := range 3 {
				in.msgs[2+i].Time = in.msgs[2].Time
			}
		}},
		{name: "within the burst", mutate: func(in *checkIn) {
			in.burst = 3
			for i := range 3 {
				in.msgs[2+i].Time = in.msgs[2].Time
			}
		}},
		{name: "requests above the rate", want: "safety: sendMessage requests", mutate: func(in *checkIn) {
			for range 5 {
				in.net = append(in.net, netEvent{at: in.start.Add(5 * time.Second), chat: 3000, fault: fault5xx})
			}
		}},
		{name: "flood 429", want: "flood limits answered 1", mutate: func(in *checkIn) {
			in.net = append(in.net, netEvent{at: in.start.Add(9 * time.Second), chat: 3000, fault: faultFlood, status: 429})
		}},
		{name: "one chat too fast", want: "safety: chat 1001", mutate: func(in *checkIn) {
			in.msgs[1].Time = in.start.Add(500 * time.Millisecond)
		}},
		{name: "order", want: "order: chat 1001", mutate: func(in *checkIn) {
			in.msgs[0].PlainText, in.msgs[1].PlainText = "b", "a"
		}},
		{name: "unknown message", want: "nobody sent", mutate: func(in *checkIn) {
			in.msgs = append(in.msgs, fakebot.SentMessage{ChatID: 1001, PlainText: "zzz", Time: in.start.Add(5 * time.Second)})
		}},
		{name: "reply is not a notification", mutate: func(in *checkIn) {
			in.msgs = append(in.msgs, fakebot.SentMessage{ChatID: 4000, PlainText: replyPrefix + "hi", Time: in.start.Add(9 * time.Second)})
		}},
		{name: "duplicate", want: "duplicates: 1, want ≤ 0", mutate: func(in *checkIn) {
			in.msgs = append(in.msgs, fakebot.SentMessage{ChatID: 1001, PlainText: "b", Time: in.start.Add(5 * time.Second)})
		}},
		{name: "duplicate of an unanswered send", mutate: func(in *checkIn) {
			in.msgs = append(in.msgs, fakebot.SentMessage{ChatID: 1001, PlainText: "b", Time: in.start.Add(5 * time.Second)})
			in.net[1].acked = false
		}},
		{name: "duplicate of a send in flight at a kill", mutate: func(in *checkIn) {
			in.msgs = append(in.msgs, fakebot.SentMessage{ChatID: 1001, PlainText: "b", Time: in.start.Add(5 * time.Second)})
			in.inflightAtKills = 1
		}},
		{name: "duplicate out of order", want: "again after later", mutate: func(in *checkIn) {
			in.inflightAtKills = 1
			in.msgs = append(in.msgs, fakebot.SentMessage{ChatID: 1001, PlainText: "a", Time: in.start.Add(5 * time.Second)})
		}},
		{name: "not final", want: "still QUEUED", mutate: func(in *checkIn) {
			in.notes[1].final.State = delivery.StateQueued
		}},
		{name: "not final in a partial run", mutate: func(in *checkIn) {
			in.notes[1].final.State = delivery.StateQueued
			in.partial = true
		}},
		{name: "SENT but never delivered", want: "never got", mutate: func(in *checkIn) {
			in.msgs = in.msgs[:1:1]
			in.msgs = append(in.msgs, checkFixture().msgs[2:]...)
		}},
		{name: "unexplained failure", want: `FAILED "expired"`, mutate: func(in *checkIn) {
			in.notes[1].final = delivery.Notification{State: delivery.StateFailed, FailureReason: delivery.ReasonExpired}
		}},
		{name: "blocked without a block", want: `FAILED "blocked"`, mutate: func(in *checkIn) {
			in.notes[1].final = delivery.Notification{State: delivery.StateFailed, FailureReason: delivery.ReasonBlocked}
		}},
		{name: "blocked by the user", mutate: func(in *checkIn) {
			in.notes[1].final = delivery.Notification{State: delivery.StateFailed, FailureReason: delivery.ReasonBlocked}
			in.blocked[1001] = true
			in.net[1].delivered, in.net[1].fault = false, fault403
			in.msgs = append(in.msgs[:1:1], in.msgs[2:]...)
		}},
		{name: "max attempts after enough faults", mutate: func(in *checkIn) {
			in.notes[1].final = delivery.Notification{State: delivery.StateFailed, FailureReason: delivery.ReasonMaxAttempts}
			in.msgs = append(in.msgs[:1:1], in.msgs[2:]...)
			for i := range 3 {
				in.net[1+i] = netEvent{at: in.start.Add(time.Duration(1+i) * time.Second), chat: 1001, text: "b", fault: fault5xx}
			}
		}},
		{name: "max attempts without faults", want: `FAILED "max_attempts"`, mutate: func(in *checkIn) {
			in.notes[1].final = delivery.Notification{State: delivery.StateFailed, FailureReason: delivery.ReasonMaxAttempts}
		}},
		{name: "stall while work is due", want: "liveness", mutate: func(in *checkIn) {
			for i := range 40 {
				in.notes = append(in.notes, stressNote{id: fmt.Sprint(i), chat: int64(5000 + i), parts: []string{fmt.Sprintf("s%d", i)},
					at: in.start, final: delivery.Notification{State: delivery.StateQueued}})
			}
			in.partial = true
		}},
		{name: "stall during a 429 pause", mutate: func(in *checkIn) {
			for i := range 40 {
				in.notes = append(in.notes, stressNote{id: fmt.Sprint(i), chat: int64(5000 + i), parts: []string{fmt.Sprintf("s%d", i)},
					at: in.start, final: delivery.Notification{State: delivery.StateQueued}})
			}
			in.partial = true
			in.net = append(in.net, netEvent{at: in.start.Add(time.Second / 2), chat: 3000, fault: faultStorm, retryAfter: 10 * time.Second})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := checkFixture()
			tc.mutate(&in)
			out := checkStress(in)
			if tc.want == "" {
				if len(out.violations) > 0 {
					t.Fatalf("violations on a clean record: %q", out.violations)
				}
				return
			}
			for _, v := range out.violations {
				if strings.Contains(v, tc.want) {
					return
				}
			}
			t.Fatalf("violations %q, want one containing %q", out.violations, tc.want)
		})
	}
}

func TestRateExcess(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	tests := []struct {
		name  string
		times []time.Time
		rate  float64
		burst int
		tol   time.Duration
		over  bool
	}{
		{"evenly spaced at the rate", at(0, 100, 200, 300, 400), 10, 1, 0, false},
		{"one early", at(0, 100, 199, 300), 10, 1, 0, true},
		{"burst then the rate", at(0, 0, 0, 100, 200), 10, 3, 0, false},
		{"burst too big", at(0, 0, 0, 0, 100), 10, 3, 0, true},
		{"early within the tolerance", at(0, 100, 195, 300), 10, 1, 10 * time.Millisecond, false},
		{"long window slightly fast", at(0, 99, 198, 297, 396, 495, 594, 693, 792, 891, 990), 10, 1, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, _, _ := rateExcess(tc.times, tc.rate, tc.burst, tc.tol)
			if (ex > 1e-9) != tc.over {
				t.Fatalf("excess %.3f, want over the limit %v", ex, tc.over)
			}
		})
	}
}

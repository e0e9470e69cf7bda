package delivery_test

// The randomised stress test of the delivery engine (issue 8, "The tests
// that would have caught them") and the regression scenarios of findings 1
// and 5. See docs/RELIABILITY.md, "Stress test": how to run, replay a
// seed, and what the invariants are.

import (
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tgnotify/tgnotify/store/redistest"
)

// Profiles of the random scenarios.
var (
	memoryProfile = profile{name: "random", virtual: true, maxParts: 1500, maxTotal: 256, maxHoriz: 120 * time.Second, kills: true}
	redisProfile  = profile{name: "random", maxParts: 200, maxTotal: 128, maxHoriz: 6 * time.Second}
)

// baselineOf is p within what today's limiter handles (see profile).
func baselineOf(p profile) profile {
	p.name, p.baseline = "baseline", true
	return p
}

// seedCounts returns how many seeds per backend CI runs.
func seedCounts() (memory, redis int) {
	switch {
	case testing.Short():
		return 2, 1
	case raceEnabled:
		return 4, 1
	}
	return 8, 1
}

// runMemory runs sc on the memory backend in a synctest bubble.
func runMemory(t *testing.T, sc scenario) stressResult {
	t.Helper()
	var res stressResult
	synctest.Test(t, func(t *testing.T) {
		res = runScenario(t, sc, memoryStressBackend(t))
	})
	return res
}

// redisCounter gives every Redis run its own key prefix.
var redisCounter int

// runRedis runs sc on a real redis-server in real time.
func runRedis(t *testing.T, srv *redistest.Server, sc scenario) stressResult {
	t.Helper()
	redisCounter++
	return runScenario(t, sc, redisStressBackend(t, srv, fmt.Sprintf("stress%d", redisCounter), sc.workers))
}

// stressSeeds runs the random scenarios of p on both backends.
func stressSeeds(t *testing.T, base uint64, mem, red profile) {
	nm, nr := seedCounts()
	t.Run("memory", func(t *testing.T) {
		for _, seed := range seeds(t, base, nm) {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				report(t, runMemory(t, genScenario(seed, "memory", mem)))
			})
		}
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		for _, seed := range seeds(t, base+1000, nr) {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				report(t, runRedis(t, srv, genScenario(seed, "redis", red)))
			})
		}
	})
}

// TestStress runs seeded random scenarios — chats, workers (1–256),
// replicas (1–4), rates (1–1000/s), bursts of bot replies, 429 storms,
// 5xx, hangs, HTML error pages, kills and restarts — and checks liveness,
// safety, no loss and the bound on duplicates on every run.
func TestStress(t *testing.T) {
	stressSeeds(t, 1, memoryProfile, redisProfile)
}

// TestStressBaseline runs the same harness on scenarios that stay within
// what the limiter of the landed code handles (few workers for the rate,
// small reply bursts to new users, no proxy 403 pages): they pass before
// and after the fixes, which shows that the invariant checks are not
// failing by construction.
func TestStressBaseline(t *testing.T) {
	stressSeeds(t, 5001, baselineOf(memoryProfile), baselineOf(redisProfile))
}

// finding1Scenario is the load of finding 1: chats each with one
// notification accepted at once, production lease and send timeout
// (15 s and 5 s: one claim may wait 5 s for its slot).
func finding1Scenario(backend string, workers int, rate float64, chats int) scenario {
	sc := scenario{seed: 1, backend: backend, label: "finding1", replicas: 1, workers: workers, rate: rate, burst: 3,
		lease: 15 * time.Second, sendTimeout: 5 * time.Second, private: chats, maxAttempts: 10,
		maxBackoff: 30 * time.Second, fakeLimits: true,
		net: netFaults{uplink: time.Millisecond, downlink: 2 * time.Millisecond}}
	e := event{kind: evBatch}
	for i := range chats {
		e.chats = append(e.chats, privateChat(i))
		e.long = append(e.long, false)
	}
	sc.events = []event{e}
	sc.count()
	return sc
}

// sentBy returns how many messages Telegram accepted within d of the start.
func sentBy(res stressResult, d time.Duration) int {
	n := 0
	for _, m := range res.in.msgs {
		if m.Time.Sub(res.in.start) <= d {
			n++
		}
	}
	return n
}

// TestFinding1SlowRateKeepsPace: 16 workers at 2/s with the production
// lease and send timeout. Before the fix the workers' claims pushed the
// limiter's next free slot past what a claim may wait: 13 of the 40 the
// rate allows in 20 s, then nothing.
func TestFinding1SlowRateKeepsPace(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		// 400 chats: 200 s of work at 2/s, watched for 150 simulated seconds.
		sc := finding1Scenario("memory", 16, 2, 400)
		sc.observe = 150 * time.Second
		res := runMemory(t, sc)
		report(t, res)
		for _, d := range []time.Duration{20 * time.Second, 140 * time.Second} {
			want := atLeast(0.9, 3+2*d.Seconds())
			if got := sentBy(res, d); got < want {
				t.Errorf("sent %d in the first %v at 2/s, want ≥ %d", got, d, want)
			}
		}
	})
	t.Run("redis", func(t *testing.T) {
		sc := finding1Scenario("redis", 16, 2, 60)
		sc.observe = 22 * time.Second
		res := runRedis(t, redistest.Start(t), sc)
		report(t, res)
		if got, want := sentBy(res, 20*time.Second), atLeast(0.9, 3+2*20); got < want {
			t.Errorf("sent %d in the first 20s at 2/s, want ≥ %d", got, want)
		}
	})
}

// TestFinding1ReplyBurstKeepsPace: 16 workers at 30/s; 200 new users
// press Start within a second while 200 notifications are queued. The 400
// messages must go out at about 30/s (before the fix: replies that waited
// 5 s for a slot were sent anyway, their slots stayed taken, and the
// notifications' claims were pushed out: 0 of 400).
func TestFinding1ReplyBurstKeepsPace(t *testing.T) {
	sc := finding1Scenario("memory", 16, 30, 200)
	replies := event{kind: evReplies}
	for i := range 200 {
		replies.chats = append(replies.chats, newUserChat(i))
		replies.spread = append(replies.spread, time.Duration(i)*5*time.Millisecond)
	}
	sc.newUsers = 200
	sc.events = append(sc.events, replies)
	sc.count()
	res := runMemory(t, sc)
	report(t, res)
	limit := 16 * time.Second // 400 at 30/s is 13.3 s; 90 % of the rate makes it 14.8 s
	if got := sentBy(res, limit); got < 400 {
		t.Errorf("%d of the 400 messages sent within %v at 30/s", got, limit)
	}
}

// TestFinding1ManyWorkersRedis: 200 workers at 30/s on Redis (13
// replicas at the defaults). Before the fix: 172 of 400, then a stall.
func TestFinding1ManyWorkersRedis(t *testing.T) {
	sc := finding1Scenario("redis", 200, 30, 520) // more than 15 s of work at 30/s
	sc.observe = 17 * time.Second
	res := runRedis(t, redistest.Start(t), sc)
	report(t, res)
	// Count from the moment the last notification was accepted: on a
	// loaded machine (the race detector, other packages' tests) accepting
	// 520 one by one can take seconds, and until then fewer may be due.
	var accepted time.Time
	for _, n := range res.in.notes {
		if n.at.After(accepted) {
			accepted = n.at
		}
	}
	const window = 10 * time.Second
	before, in := 0, 0
	for _, m := range res.in.msgs {
		switch {
		case !m.Time.After(accepted):
			before++
		case m.Time.Sub(accepted) <= window:
			in++
		}
	}
	want := atLeast(0.9, math.Min(float64(len(res.in.notes)-before), 30*window.Seconds()))
	if raceEnabled && in < want {
		// 200 workers under the race detector on two shared cores measure
		// the race detector, not the limiter; the invariants above
		// (liveness over the saturated windows, safety) still hold.
		t.Logf("under -race: sent %d in the %v after the last enqueue (%d before), %d without it", in, window, before, want)
		return
	}
	if in < want {
		t.Errorf("sent %d in the %v after the last enqueue at 30/s (%d sent before it), want ≥ %d", in, window, before, want)
	}
}

// TestFinding5RepeatedStartNeitherFloodsNorPauses: four "/start junk"
// from one chat within a second, against a fake with Telegram's per-chat
// limit. Before the fix every one was answered at once: the fake answered
// 429, and the 429 paused every send, so an unrelated user's notification
// waited for its retry_after.
func TestFinding5RepeatedStartNeitherFloodsNorPauses(t *testing.T) {
	sc := finding1Scenario("memory", 16, 30, 1) // chat privateChat(0) is the unrelated user
	sc.events = []event{
		{kind: evReplies, chats: []int64{newUserChat(0), newUserChat(0), newUserChat(0), newUserChat(0)},
			spread: []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}},
		{at: 300 * time.Millisecond, kind: evBatch, chats: []int64{privateChat(0)}, long: []bool{false}},
	}
	sc.newUsers = 1
	sc.count()
	res := runMemory(t, sc)
	report(t, res)
	if res.out.flood429 > 0 {
		t.Errorf("the fake answered %d 429s to the replies", res.out.flood429)
	}
	n := res.in.notes[0]
	var sentAt time.Time
	for _, m := range res.in.msgs {
		if m.ChatID == n.chat {
			sentAt = m.Time
		}
	}
	if sentAt.IsZero() || sentAt.Sub(n.at) > 200*time.Millisecond {
		t.Errorf("the unrelated notification, accepted at %v, was sent at %v: want within 200ms",
			n.at.Sub(res.in.start), sentAt.Sub(res.in.start))
	}
}

// atLeast returns share × n rounded down.
func atLeast(share, n float64) int { return int(share * n) }

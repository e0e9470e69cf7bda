package delivery_test

// The stress test's harness: seeded random scenarios run by 1–4 replicas
// (Dispatchers sharing one store) against the in-process fake Bot API.
// On the memory backend a run lives in a testing/synctest bubble, so
// time.Now, timers and the fake's flood limits follow a virtual clock and
// simulated minutes take seconds; on Redis it runs in real time.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// Environment of the stress test.
const (
	// envSeed replays one seed (decimal or 0x hex) instead of the CI set.
	envSeed = "TGNOTIFY_STRESS_SEED"
	// envRuns is the number of seeds per backend (a longer run by hand).
	envRuns = "TGNOTIFY_STRESS_RUNS"
)

// Chat ids of a scenario: private chats from privateBase, groups below
// -groupBase, and the chats of new users who only press Start.
const (
	privateBase = 1_000
	groupBase   = 1_000
	newUserBase = 500_000
	replyPrefix = "reply "
)

// Event kinds of a scenario's timeline.
const (
	evBatch   = "batch"   // notifications accepted together
	evReplies = "replies" // bot replies arriving together
	evStorm   = "storm"   // the next N sendMessage calls get 429
	evKill    = "kill"    // a replica dies (kill -9)
	evRestart = "restart" // the dead replica starts again
	evBlock   = "block"   // a user blocks the bot
)

// event is one step of a scenario's timeline.
type event struct {
	at      time.Duration
	kind    string
	chats   []int64         // batch, replies, block
	spread  []time.Duration // replies: each one's delay after at
	long    []bool          // batch: the notification is long (split)
	n       int             // storm: 429s; kill/restart: replica
	retryAt int             // storm: retry_after in seconds
}

// scenario is one seeded run.
type scenario struct {
	seed               uint64
	backend            string
	replicas, workers  int
	rate               float64
	burst              int
	lease, sendTimeout time.Duration
	private, groups    int
	newUsers           int
	net                netFaults
	p5xx               float64
	maxAttempts        int
	maxBackoff         time.Duration
	events             []event
	fakeLimits         bool // the fake enforces Telegram's flood limits
	// observe, when set, ends the run that long after its start even if
	// notifications are still queued (they are then not counted as lost).
	observe             time.Duration
	label               string
	notes, parts, reply int // totals, for the log line
}

func (sc scenario) String() string {
	var kinds []string
	counts := map[string]int{}
	for _, e := range sc.events {
		counts[e.kind]++
	}
	for _, k := range []string{evBatch, evReplies, evStorm, evKill, evBlock} {
		if counts[k] > 0 {
			kinds = append(kinds, fmt.Sprintf("%s×%d", k, counts[k]))
		}
	}
	return fmt.Sprintf("seed=%d backend=%s %s replicas=%d workers=%d rate=%.4g burst=%d lease=%v send_timeout=%v chats=%d+%dg+%dnew notes=%d parts=%d replies=%d latency=%v+%v 5xx=%.3g html=%.3g/%d hang=%.3g/%.3g events=[%s]",
		sc.seed, sc.backend, sc.label, sc.replicas, sc.workers, sc.rate, sc.burst, sc.lease, sc.sendTimeout,
		sc.private, sc.groups, sc.newUsers, sc.notes, sc.parts, sc.reply, sc.net.uplink, sc.net.downlink,
		sc.p5xx, sc.net.html, sc.net.htmlCode, sc.net.hang, sc.net.hangAfter, strings.Join(kinds, " "))
}

func privateChat(i int) int64 { return int64(privateBase + i) }
func groupChat(i int) int64   { return -int64(groupBase + i) }
func newUserChat(i int) int64 { return int64(newUserBase + i) }

// profile bounds the random scenarios.
type profile struct {
	name     string
	virtual  bool // memory backend on the virtual clock
	maxParts int  // messages to send in one run
	maxTotal int  // replicas × workers
	maxHoriz time.Duration
	// baseline keeps within what today's limiter handles: no more
	// workers than the rate × (lease − 2 × send timeout) budget, reply
	// bursts below it, replies only to new users, no HTML 403.
	baseline bool
	kills    bool
}

func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo)))
}

// genScenario draws a scenario from seed.
func genScenario(seed uint64, backend string, p profile) scenario {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	sc := scenario{seed: seed, backend: backend, label: p.name, maxAttempts: 10, fakeLimits: true}
	sc.replicas = 1 + r.IntN(4)
	sc.workers = int(math.Round(logUniform(r, 1, 256)))
	sc.rate = math.Round(logUniform(r, 1, 1000)*10) / 10
	sc.burst = 1 + r.IntN(5)
	sc.sendTimeout = time.Duration(5+r.IntN(6)) * time.Second
	sc.lease = time.Duration(15+r.IntN(16)) * time.Second
	sc.lease = max(sc.lease, 3*sc.sendTimeout) // what delivery.Config does
	sc.maxBackoff = 30 * time.Second
	if !p.virtual {
		sc.maxBackoff = 5 * time.Second
	}
	if sc.replicas*sc.workers > p.maxTotal {
		sc.workers = max(1, p.maxTotal/sc.replicas)
	}
	if p.baseline {
		// Today's limiter keeps pace while the slots the workers take
		// ahead stay well within what a claim and a reply may wait
		// (lease − 2 × send timeout, and replyThrottleWait): at most
		// 1.5 s of the rate.
		limit := int(sc.rate * 1.5)
		if sc.replicas*sc.workers > limit {
			sc.replicas = max(1, min(sc.replicas, limit))
			sc.workers = max(1, limit/sc.replicas)
		}
	}
	total := sc.replicas * sc.workers
	// Latency: the workers must be able to carry the rate (3× margin).
	lat := math.Min(logUniform(r, 0.001, 0.1), float64(total)/(3*sc.rate))
	sc.net.uplink = max(time.Duration(lat/2*1e9), time.Millisecond/10)
	if !p.virtual {
		sc.net.uplink = max(sc.net.uplink, time.Millisecond) // above the Redis schedule's ms
	}
	sc.net.downlink = time.Duration(lat * 1e9)
	// Faults, scaled so that hangs occupy a small share of the workers.
	if r.IntN(3) > 0 {
		sc.p5xx = r.Float64() * 0.05
	}
	if r.IntN(3) == 0 {
		sc.net.html = r.Float64() * 0.03
		sc.net.htmlCode = 502
		if !p.baseline && r.IntN(3) == 0 {
			sc.net.htmlCode = 403 // a WAF's page (finding 2)
		}
	}
	if r.IntN(3) == 0 {
		h := math.Min(0.02, float64(total)/(8*sc.rate*sc.sendTimeout.Seconds()))
		sc.net.hang = r.Float64() * h / 2
		sc.net.hangAfter = r.Float64() * h / 2
	}
	// Load: enough to keep a backlog, within the run's size.
	horizon := time.Duration(logUniform(r, 10, p.maxHoriz.Seconds()) * 1e9)
	parts := int(math.Min(float64(p.maxParts), sc.rate*horizon.Seconds()*(1.2+r.Float64())))
	parts = max(parts, 5)
	horizon = min(horizon, time.Duration(float64(parts)/sc.rate*1e9))
	// Mostly more chats than the rate × the chat interval, so that the
	// global rate is what limits; sometimes fewer (pacing limits).
	chats := int(math.Min(2000, math.Max(1, sc.rate*logUniform(r, 0.5, 10))))
	chats = min(chats, parts)
	sc.groups = int(float64(chats) * r.Float64() * 0.3)
	sc.private = max(chats-sc.groups, 1)
	chatAt := func() int64 {
		if i := r.IntN(sc.private + sc.groups); i < sc.private {
			return privateChat(i)
		} else {
			return groupChat(i - sc.private)
		}
	}
	// A first batch makes a backlog, the others arrive during the run.
	nb := 1 + r.IntN(12)
	firstShare := 0.3 + 0.7*r.Float64()
	for b := range nb {
		at := time.Duration(0)
		if b > 0 {
			at = time.Duration(r.Int64N(int64(horizon) + 1))
		}
		e := event{at: at, kind: evBatch}
		n := int(float64(parts) * firstShare)
		if nb == 1 {
			n = parts
		} else if b > 0 {
			n = (parts - int(float64(parts)*firstShare)) / (nb - 1)
		}
		for range n {
			e.chats = append(e.chats, chatAt())
			e.long = append(e.long, r.IntN(40) == 0)
		}
		sc.events = append(sc.events, e)
	}
	// Bot replies: bursts of new users pressing Start.
	maxBurst, bursts := 200, r.IntN(3)
	if p.baseline { // one burst within 1 s of the rate
		maxBurst, bursts = max(1, min(maxBurst, int(sc.rate))), min(bursts, 1)
	}
	for range bursts {
		n := 1 + r.IntN(maxBurst)
		e := event{at: time.Duration(r.Int64N(int64(horizon) + 1)), kind: evReplies}
		spread := time.Duration(r.Int64N(int64(3 * time.Second)))
		for range n {
			e.chats = append(e.chats, newUserChat(sc.newUsers))
			sc.newUsers++
			e.spread = append(e.spread, time.Duration(r.Int64N(int64(spread)+1)))
		}
		sc.events = append(sc.events, e)
	}
	if !p.baseline && r.IntN(3) == 0 { // replies to users who also get notifications (finding 5)
		e := event{at: time.Duration(r.Int64N(int64(horizon) + 1)), kind: evReplies}
		for range 1 + r.IntN(10) {
			e.chats = append(e.chats, chatAt())
			e.spread = append(e.spread, time.Duration(r.Int64N(int64(time.Second))))
		}
		sc.events = append(sc.events, e)
	}
	for range r.IntN(3) {
		e := event{at: time.Duration(r.Int64N(int64(horizon) + 1)), kind: evStorm, n: 1 + r.IntN(20), retryAt: 1 + r.IntN(5)}
		if p.baseline { // a reply waiting out a long pause is sent around the limiter
			e.retryAt = 1
		}
		sc.events = append(sc.events, e)
	}
	if p.kills {
		for range r.IntN(3) {
			at := time.Duration(r.Int64N(int64(horizon) + 1))
			i := r.IntN(sc.replicas)
			if slices.ContainsFunc(sc.events, func(e event) bool { return e.kind == evKill && e.n == i }) {
				continue
			}
			sc.events = append(sc.events, event{at: at, kind: evKill, n: i},
				event{at: at + time.Duration(r.Int64N(int64(sc.lease)+1)), kind: evRestart, n: i})
		}
	}
	for range r.IntN(3) {
		sc.events = append(sc.events, event{at: time.Duration(r.Int64N(int64(horizon) + 1)), kind: evBlock, chats: []int64{chatAt()}})
	}
	slices.SortStableFunc(sc.events, func(a, b event) int { return int(a.at - b.at) })
	sc.count()
	return sc
}

// count fills the scenario's totals.
func (sc *scenario) count() {
	sc.notes, sc.parts, sc.reply = 0, 0, 0
	for _, e := range sc.events {
		switch e.kind {
		case evBatch:
			sc.notes += len(e.chats)
			for i := range e.chats {
				if len(e.long) > i && e.long[i] {
					sc.parts += 2
				} else {
					sc.parts++
				}
			}
		case evReplies:
			sc.reply += len(e.chats)
		}
	}
}

// seeds returns the seeds to run: envSeed alone, else n derived from base
// (envRuns overrides n).
func seeds(t *testing.T, base uint64, n int) []uint64 {
	t.Helper()
	if v := os.Getenv(envSeed); v != "" {
		s, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", envSeed, v)
		}
		return []uint64{s}
	}
	if v := os.Getenv(envRuns); v != "" {
		runs, err := strconv.Atoi(v)
		if err != nil || runs <= 0 {
			t.Fatalf("%s=%q: want a positive integer", envRuns, v)
		}
		n = runs
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + uint64(i)
	}
	return out
}

// stressBackend makes the stores of a run.
type stressBackend struct {
	name    string
	virtual bool
	front   backend            // the harness's own view (Enqueue when no replica lives, final states)
	replica func() backend     // the stores of one more replica process
	close   func()             // called at the end of the run, in the bubble
	timeout time.Duration      // of the harness's own store calls
	log     func() *zap.Logger // the replicas' logger
}

func memoryStressBackend(t *testing.T) stressBackend {
	links := store.NewMemory()
	b := backend{name: "memory", q: links.Queue(), links: links}
	return stressBackend{name: "memory", virtual: true, front: b, replica: func() backend { return b },
		close: func() { _ = links.Close() }, timeout: time.Hour,
		log: func() *zap.Logger { return zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)) }}
}

func redisStressBackend(t *testing.T, srv *redistest.Server, prefix string, pool int) stressBackend {
	var clients []*redis.Client
	mk := func() backend {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: pool + 8, PoolTimeout: 10 * time.Second,
			ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
		clients = append(clients, c)
		st := store.NewRedis(c, prefix)
		return backend{name: "redis", q: st.Queue(), links: st}
	}
	return stressBackend{name: "redis", front: mk(), replica: mk, timeout: 10 * time.Second,
		close: func() {
			for _, c := range clients {
				_ = c.Close()
			}
		},
		log: func() *zap.Logger { return zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)) }}
}

// replica is one running Dispatcher.
type replica struct {
	d      *delivery.Dispatcher
	sender delivery.Sender
	g      *gate
	cancel context.CancelFunc
	done   chan struct{}
	dead   bool
}

// stressResult is a run's outcome.
type stressResult struct {
	sc  scenario
	in  checkIn
	out checkOut
	sim time.Duration // simulated (or real) time of the run
}

// stressRun is one run in progress.
type stressRun struct {
	t   *testing.T
	sc  scenario
	sb  stressBackend
	cfg delivery.Config
	tg  *fakebot.Server
	net *stressNet
	bot *telegram.Client
	// front is a dispatcher on the harness's own stores that never runs
	// workers: it enqueues when no replica is alive.
	front *delivery.Dispatcher

	mu       sync.Mutex
	replicas []*replica // by slot: the current process of each replica
	all      []*replica // every process started, for the teardown
	atKills  int
	exempt   []span
	locked   []lockedChats
	killedAt map[int]time.Time
	noneLive time.Time // since when no replica is alive (zero: some is)
	blocked  map[int64]bool
	notes    []stressNote
	replies  sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// stressConfig is the dispatcher configuration of sc.
func stressConfig(sc scenario) delivery.Config {
	cfg := delivery.DefaultConfig()
	cfg.Workers = sc.workers
	cfg.GlobalRate = sc.rate
	cfg.GlobalBurst = sc.burst
	cfg.LeaseTimeout = sc.lease
	cfg.SendTimeout = sc.sendTimeout
	cfg.MaxAttempts = sc.maxAttempts
	cfg.MaxBackoff = sc.maxBackoff
	return cfg
}

// runScenario runs sc on sb and checks the invariants. On the memory
// backend the caller must be inside a synctest bubble.
func runScenario(t *testing.T, sc scenario, sb stressBackend) stressResult {
	t.Helper()
	r := &stressRun{t: t, sc: sc, sb: sb, cfg: stressConfig(sc), killedAt: map[int]time.Time{}, blocked: map[int64]bool{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	defer r.cancel()
	r.tg = fakebot.NewInProcess(fakebot.WithSeed(sc.seed))
	defer r.tg.Close()
	defer sb.close()
	if sc.fakeLimits {
		// Telegram's per-chat limits; the global one at the configured
		// rate (the precise check is the harness's own).
		r.tg.SetLimits(fakebot.Limits{Global: math.Max(sc.rate, float64(sc.burst)) * 1.001, PerChat: 1, Burst: 1, PerGroupPerMinute: 20})
	}
	if sc.p5xx > 0 {
		r.tg.SetErrorRate("sendMessage", sc.p5xx, 502)
	}
	r.net = newStressNet(r.tg, sc.net, sc.seed)
	r.bot = r.net.client(r.tg)
	r.front = delivery.New(r.cfg, sb.front.q, r.bot, zap.NewNop())
	r.setup()
	for i := range sc.replicas {
		r.replicas = append(r.replicas, r.start(i))
	}
	start := time.Now()
	for _, e := range sc.events {
		if d := time.Until(start.Add(e.at)); d > 0 {
			time.Sleep(d) // the scenario's timeline, not synchronisation
		}
		if err := r.do(e); err != nil {
			t.Errorf("scenario %v: %v", sc, err) // no Fatal: the replicas must still be stopped
			break
		}
	}
	r.awaitFinal(start)
	end := time.Now()
	r.stop()
	in := r.checkInput(start, end)
	out := checkStress(in)
	return stressResult{sc: sc, in: in, out: out, sim: end.Sub(start)}
}

// setup makes every chat known to the fake and links its user.
func (r *stressRun) setup() {
	ctx, cancel := context.WithTimeout(r.ctx, r.sb.timeout)
	defer cancel()
	link := func(user string, chat int64) {
		tok := "tok-" + user
		if err := r.sb.front.links.PutLinkToken(ctx, store.LinkToken{Token: tok, UserID: user, ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
			r.t.Fatalf("link %s: %v", user, err)
		}
		if _, err := r.sb.front.links.ConsumeLinkToken(ctx, tok, chat, user, time.Now()); err != nil {
			r.t.Fatalf("link %s: %v", user, err)
		}
	}
	for i := range r.sc.private {
		chat := privateChat(i)
		r.tg.SendText(chat, userOf(chat), "/start")
		link(userOf(chat), chat)
	}
	for i := range r.sc.groups {
		chat := groupChat(i)
		r.tg.StartGroup(chat, fmt.Sprintf("group %d", i), int64(900_000+i), userOf(chat), "")
		link(userOf(chat), chat)
	}
	for i := range r.sc.newUsers {
		r.tg.SendText(newUserChat(i), userOf(newUserChat(i)), "/start")
	}
}

func userOf(chat int64) string { return fmt.Sprintf("u%d", chat) }

// start runs replica i.
func (r *stressRun) start(i int) *replica {
	b := r.sb.replica()
	g := newGate()
	gq := &gatedQueue{q: b.q, g: g}
	rep := &replica{g: g, sender: &gatedSender{Sender: r.bot, g: g}, done: make(chan struct{})}
	rep.d = delivery.New(r.cfg, gq, rep.sender, r.sb.log().With(zap.Int("replica", i)))
	ctx, cancel := context.WithCancel(r.ctx)
	rep.cancel = cancel
	r.mu.Lock()
	r.all = append(r.all, rep)
	r.mu.Unlock()
	go func() {
		defer close(rep.done)
		_ = rep.d.Run(ctx)
	}()
	return rep
}

// live returns a live replica's dispatcher and sender, round robin, or
// the front dispatcher and the bare client when none lives.
func (r *stressRun) live(k int) (*delivery.Dispatcher, delivery.Sender) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j := range len(r.replicas) {
		rep := r.replicas[(k+j)%len(r.replicas)]
		if !rep.dead {
			return rep.d, rep.sender
		}
	}
	return r.front, r.bot
}

// noteText returns notification k's text to chat and its expected parts.
func noteText(chat int64, k int, long bool) (string, []string, error) {
	text := fmt.Sprintf("c%d n%d", chat, k)
	if long {
		var paras []string
		for p := range 16 {
			paras = append(paras, fmt.Sprintf("c%d n%d p%02d ", chat, k, p)+strings.Repeat("lorem ipsum ", 30))
		}
		text = strings.Join(paras, "\n\n")
	}
	parts, err := delivery.Split(text, "", telegram.MaxMessageLen)
	return text, parts, err
}

// do performs one event.
func (r *stressRun) do(e event) error {
	switch e.kind {
	case evBatch:
		for i, chat := range e.chats {
			k := len(r.notes)
			text, parts, err := noteText(chat, k, e.long[i])
			if err != nil {
				return fmt.Errorf("split: %w", err)
			}
			d, _ := r.live(k)
			ctx, cancel := context.WithTimeout(r.ctx, r.sb.timeout)
			n, _, err := d.Enqueue(ctx, delivery.Request{UserID: userOf(chat), ChatID: chat, Text: text})
			cancel()
			if err != nil {
				return fmt.Errorf("enqueue to chat %d: %w", chat, err)
			}
			r.notes = append(r.notes, stressNote{id: n.ID, chat: chat, parts: parts, at: time.Now()})
		}
	case evReplies:
		for i, chat := range e.chats {
			d, sender := r.live(i)
			text := fmt.Sprintf("%s%d #%d at %v", replyPrefix, chat, i, e.at)
			r.replies.Go(func() {
				if wait(r.ctx, e.spread[i]) {
					botReply(r.ctx, d, sender, chat, text)
				}
			})
		}
	case evStorm:
		r.tg.FailNext("sendMessage", e.n, 429, fmt.Sprintf("Too Many Requests: retry after %d%s", e.retryAt, stormMark), e.retryAt)
	case evKill:
		r.mu.Lock()
		rep := r.replicas[e.n]
		rep.dead = true
		inflight, held := rep.g.kill()
		r.atKills += inflight
		now := time.Now()
		r.killedAt[e.n] = now
		// Its chats stay leased until the lease lapses, and the slots it
		// had taken are lost: up to one per worker.
		r.locked = append(r.locked, lockedChats{chats: held, span: span{now, now.Add(r.cfg.LeaseTimeout + time.Second)}})
		r.exempt = append(r.exempt, span{now, now.Add(time.Duration(float64(r.sc.workers)/r.sc.rate*1e9) + time.Second)})
		if !slices.ContainsFunc(r.replicas, func(rep *replica) bool { return !rep.dead }) {
			r.noneLive = now // no worker left until a restart
		}
		r.mu.Unlock()
	case evRestart:
		rep := r.start(e.n)
		r.mu.Lock()
		old := r.replicas[e.n]
		r.replicas[e.n] = rep
		if !r.noneLive.IsZero() {
			r.exempt = append(r.exempt, span{r.noneLive, time.Now().Add(time.Second)})
			r.noneLive = time.Time{}
		}
		r.mu.Unlock()
		old.cancel() // the dead process's context; its gate stays shut until the end
	case evBlock:
		for _, chat := range e.chats {
			r.tg.Block(chat)
			r.mu.Lock()
			r.blocked[chat] = true
			r.mu.Unlock()
		}
	}
	return nil
}

// awaitFinal polls until every accepted notification is SENT or FAILED,
// or until a deadline well past what the scenario needs.
func (r *stressRun) awaitFinal(start time.Time) {
	perChat := map[int64]int{}
	for _, n := range r.notes {
		perChat[n.chat] += len(n.parts)
	}
	need := float64(r.sc.parts+r.sc.reply) / r.sc.rate
	for chat, k := range perChat {
		iv := r.cfg.PrivateChatInterval
		if chat < 0 {
			iv = r.cfg.GroupChatInterval
		}
		need = math.Max(need, float64(k)*iv.Seconds())
	}
	last := time.Duration(0)
	stormed := 0
	for _, e := range r.sc.events {
		last = max(last, e.at)
		if e.kind == evStorm { // each 429 of a storm may pause every send for its retry_after
			stormed += e.n * e.retryAt
		}
	}
	slack := 2*need + float64(stormed) + 2*r.cfg.LeaseTimeout.Seconds() + 60
	poll := time.Second
	if !r.sb.virtual {
		slack, poll = 1.5*need+float64(stormed)+r.cfg.LeaseTimeout.Seconds()+10, 200*time.Millisecond
	}
	deadline := start.Add(last + time.Duration(slack*1e9))
	if r.sc.observe > 0 {
		deadline = start.Add(r.sc.observe)
	}
	pending := make([]int, len(r.notes))
	for i := range pending {
		pending[i] = i
	}
	for {
		ctx, cancel := context.WithTimeout(r.ctx, r.sb.timeout)
		pending = slices.DeleteFunc(pending, func(i int) bool {
			n, err := r.sb.front.q.Get(ctx, r.notes[i].id)
			return err == nil && (n.State == delivery.StateSent || n.State == delivery.StateFailed)
		})
		cancel()
		if (len(pending) == 0 && r.repliesDelivered() >= r.sc.reply) || !time.Now().Before(deadline) {
			return
		}
		time.Sleep(poll) // polling with a deadline
	}
}

// repliesDelivered counts the bot replies Telegram accepted so far: they
// are queued like notifications, so the run waits for them too.
func (r *stressRun) repliesDelivered() int {
	n := 0
	for _, m := range r.tg.AllMessages() {
		if strings.HasPrefix(m.Text, replyPrefix) {
			n++
		}
	}
	return n
}

// stop ends every replica process: the live ones drain, the dead ones'
// frozen calls return errKilled.
func (r *stressRun) stop() {
	r.cancel()
	r.mu.Lock()
	all := slices.Clone(r.all)
	r.mu.Unlock()
	for _, rep := range all {
		rep.cancel()
		rep.g.release()
	}
	for _, rep := range all {
		<-rep.done
	}
	r.replies.Wait()
}

// checkInput gathers the records of the run (after stop).
func (r *stressRun) checkInput(start, end time.Time) checkIn {
	ctx, cancel := context.WithTimeout(context.Background(), r.sb.timeout)
	defer cancel()
	for i := range r.notes {
		r.notes[i].final, r.notes[i].err = r.sb.front.q.Get(ctx, r.notes[i].id)
	}
	in := checkIn{
		start: start, end: end, warmup: time.Second, rate: r.sc.rate, burst: r.sc.burst,
		privateEvery: r.cfg.PrivateChatInterval, groupEvery: r.cfg.GroupChatInterval,
		workers: r.sc.replicas * r.sc.workers, msgs: r.tg.AllMessages(), net: r.net.snapshot(),
		notes: r.notes, blocked: r.blocked, maxAttempts: r.cfg.MaxAttempts, exempt: r.exempt,
		inflightAtKills: r.atKills, locked: r.locked, windowFloor: r.sb.virtual, partial: r.sc.observe > 0,
		isReply: func(s string) bool { return strings.HasPrefix(s, replyPrefix) },
	}
	if !r.noneLive.IsZero() {
		in.exempt = append(in.exempt, span{r.noneLive, end})
	}
	if !r.sb.virtual {
		in.warmup = 2 * time.Second
		// A real clock: a worker woken late (a loaded CI machine) sends
		// its slot late, bunching with the next ones.
		in.rateTol = 100 * time.Millisecond
		in.chatTol = 5 * time.Millisecond
	}
	return in
}

// report logs the run's figures and fails t on violations.
func report(t *testing.T, res stressResult) {
	t.Helper()
	o := res.out
	t.Logf("STRESS %v", res.sc)
	t.Logf("STRESS seed=%d sim=%v sends=%d (replies %d) requests=%d sent=%d failed=%d of %d dups=%d/%d 429s=%d storm+%d flood saturated=%d/%d windows liveness=%.1f%% worst_rate_excess=%.2f violations=%d",
		res.sc.seed, res.sim.Round(time.Millisecond), o.sends, o.replies, o.attempts, o.sent, o.failed, res.sc.notes,
		o.dups, o.allowedDups, o.storm429s, o.flood429, o.saturated, o.windows, o.liveness()*100, o.maxExcess, len(o.violations))
	for i, v := range o.violations {
		if i == 20 {
			t.Errorf("… %d more violations", len(o.violations)-20)
			break
		}
		t.Errorf("seed %d: %s", res.sc.seed, v)
	}
	switch {
	case len(o.violations) == 0:
	case res.sc.label == "random" || res.sc.label == "baseline":
		t.Errorf("replay: %s=%d go test -race -count=1 -v -run '^%s$' ./delivery/", envSeed, res.sc.seed,
			strings.ReplaceAll(path.Dir(t.Name()), "/", "$/^"))
	default:
		t.Errorf("replay: go test -race -count=1 -v -run '^%s$' ./delivery/", strings.ReplaceAll(t.Name(), "/", "$/^"))
	}
}

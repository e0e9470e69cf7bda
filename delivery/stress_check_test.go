package delivery_test

// The stress test's invariants, computed from the fake Bot API's record
// (every message it accepted: time, chat, text) and from the network's
// record (every sendMessage request and what became of it). See
// docs/RELIABILITY.md, "Stress test".

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// Liveness thresholds.
const (
	// livenessShare is the share of rate × time that saturated windows
	// must reach together.
	livenessShare = 0.9
	// windowFloorShare is the share every single saturated window must
	// reach (checked on the virtual clock only, where CPU load cannot
	// delay a send).
	windowFloorShare = 0.5
	// pauseSlack extends every 429 pause, for the workers to wake up.
	pauseSlack = 200 * time.Millisecond
)

// stressNote is one accepted notification.
type stressNote struct {
	id    string
	chat  int64
	parts []string
	at    time.Time // when Enqueue returned
	final delivery.Notification
	err   error // reading the final record
}

// span is a time interval [from, to).
type span struct{ from, to time.Time }

func (s span) overlaps(o span) bool { return s.from.Before(o.to) && o.from.Before(s.to) }

// lockedChats are chats a killed replica held, leased until span.to.
type lockedChats struct {
	chats []int64
	span  span
}

// checkIn is what the invariants are computed from.
type checkIn struct {
	start, end time.Time     // the run: load start to end of observation
	warmup     time.Duration // not counted for liveness
	rate       float64
	burst      int
	// rateTol widens every window of the rate check (timer and scheduling
	// jitter of a real clock; 0 on the virtual clock).
	rateTol time.Duration
	// chatTol is how much closer than its interval two messages to one
	// chat may be (the Redis schedule keeps milliseconds).
	chatTol                  time.Duration
	privateEvery, groupEvery time.Duration
	workers                  int // total of the live replicas
	msgs                     []fakebot.SentMessage
	net                      []netEvent
	notes                    []stressNote
	blocked                  map[int64]bool
	maxAttempts              int
	exempt                   []span // after kills: no worker left, or slots lost with the dead
	locked                   []lockedChats
	inflightAtKills          int
	windowFloor              bool
	// partial: the run was cut short; notifications still queued are not
	// lost.
	partial bool
	isReply func(text string) bool
}

// checkOut is the outcome: violations (empty when every invariant holds)
// and the figures of the run.
type checkOut struct {
	violations          []string
	sends, attempts     int
	replies             int
	dups, allowedDups   int
	windows, saturated  int
	satSends            int
	satWant             float64
	flood429, storm429s int
	sent, failed        int
	maxExcess           float64 // worst (sends − allowed) over any window of the rate check
}

func (o *checkOut) violate(format string, args ...any) {
	o.violations = append(o.violations, fmt.Sprintf(format, args...))
}

// liveness returns the share of rate × time the saturated windows reached.
func (o *checkOut) liveness() float64 {
	if o.satWant == 0 {
		return math.NaN()
	}
	return float64(o.satSends) / o.satWant
}

// effectiveRate is the rate the limiters enforce: their emission interval
// is a whole number of microseconds.
func effectiveRate(rate float64) float64 {
	return 1e6 / math.Max(1, math.Round(1e6/rate))
}

// rateExcess returns the worst excess of the sends at times (sorted) over
// the GCRA bound: any window [t_i, t_j] may hold at most
// burst + rate × (t_j − t_i + tol) sends. It returns the excess (≤ 0 when
// the bound holds) and the window.
func rateExcess(times []time.Time, rate float64, burst int, tol time.Duration) (float64, span, int) {
	if len(times) == 0 {
		return math.Inf(-1), span{}, 0
	}
	r := effectiveRate(rate)
	t0 := times[0]
	// g_k = k − r·t_k; window i..j holds j−i+1 sends, allowed
	// burst + r·(t_j − t_i + tol): excess = g_j − g_i + 1 − burst − r·tol.
	best, bestI := math.Inf(1), 0
	worst, wi, wj := math.Inf(-1), 0, 0
	for k, t := range times {
		g := float64(k) - r*t.Sub(t0).Seconds()
		if g < best {
			best, bestI = g, k
		}
		if ex := g - best + 1 - float64(burst) - r*tol.Seconds(); ex > worst {
			worst, wi, wj = ex, bestI, k
		}
	}
	return worst, span{times[wi], times[wj]}, wj - wi + 1
}

// sortedTimes returns the times, sorted.
func sortedTimes(ts []time.Time) []time.Time {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts
}

// expected is one expected message: part part of note note.
type expected struct {
	chat       int64
	seq        int // position in the chat's expected sequence
	note, part int
}

func checkStress(in checkIn) checkOut {
	var out checkOut
	interval := func(chat int64) time.Duration {
		if chat < 0 {
			return in.groupEvery
		}
		return in.privateEvery
	}
	// Expected messages per chat, in acceptance order.
	want := map[string]expected{}
	seqs := map[int64]int{}
	for ni, n := range in.notes {
		for pi, p := range n.parts {
			if _, dup := want[p]; dup {
				out.violate("harness: text %q expected twice", p)
			}
			want[p] = expected{chat: n.chat, seq: seqs[n.chat], note: ni, part: pi}
			seqs[n.chat]++
		}
	}

	// Safety: the global rate, over the messages Telegram accepted and
	// over every request that reached it.
	var accepted, requests []time.Time
	for _, m := range in.msgs {
		accepted = append(accepted, m.Time)
	}
	var firstFlood netEvent
	for _, e := range in.net {
		requests = append(requests, e.at)
		switch e.fault {
		case faultFlood:
			if out.flood429 == 0 {
				firstFlood = e
			}
			out.flood429++
		case faultStorm:
			out.storm429s++
		}
	}
	out.sends, out.attempts = len(in.msgs), len(in.net)
	for name, ts := range map[string][]time.Time{"messages accepted by Telegram": accepted, "sendMessage requests": requests} {
		ex, w, n := rateExcess(sortedTimes(ts), in.rate, in.burst, in.rateTol)
		out.maxExcess = math.Max(out.maxExcess, ex)
		if ex > 1e-9 {
			out.violate("safety: %s: %d in %v from %s, above the limit %d + %.4g/s × (window + %v) by %.2f",
				name, n, w.to.Sub(w.from), w.from.Sub(in.start), in.burst, in.rate, in.rateTol, ex)
		}
	}
	if out.flood429 > 0 {
		out.violate("safety: the fake's flood limits answered %d 429s (the service went above Telegram's limits), the first at %v to chat %d for %q",
			out.flood429, firstFlood.at.Sub(in.start), firstFlood.chat, short(firstFlood.text))
	}

	// Safety: per-chat spacing; order and duplicates per chat.
	byChat := map[int64][]fakebot.SentMessage{}
	for _, m := range in.msgs {
		byChat[m.ChatID] = append(byChat[m.ChatID], m)
	}
	seen := map[string]int{}
	chatViolations := 0
	for chat, ms := range byChat {
		maxSeq := -1
		for i, m := range ms {
			if i > 0 {
				if gap := m.Time.Sub(ms[i-1].Time); gap < interval(chat)-in.chatTol {
					chatViolations++
					if chatViolations <= 5 {
						out.violate("safety: chat %d got two messages %v apart at %v (%q after %q), want ≥ %v",
							chat, gap, m.Time.Sub(in.start), short(m.PlainText), short(ms[i-1].PlainText), interval(chat))
					}
				}
			}
			if in.isReply(m.PlainText) {
				out.replies++
				continue
			}
			e, ok := want[m.PlainText]
			switch {
			case !ok:
				out.violate("order: chat %d got a message nobody sent: %q", chat, short(m.PlainText))
			case e.chat != chat:
				out.violate("order: %q went to chat %d, want %d", short(m.PlainText), chat, e.chat)
			case seen[m.PlainText] > 0:
				out.dups++
				if e.seq < maxSeq {
					out.violate("order: chat %d got %q again after later messages", chat, short(m.PlainText))
				}
			case e.seq < maxSeq:
				out.violate("order: chat %d got %q after a message accepted later", chat, short(m.PlainText))
			default:
				maxSeq = e.seq
			}
			seen[m.PlainText]++
		}
	}
	if chatViolations > 5 {
		out.violate("safety: %d pairs of messages to one chat closer than its interval in all", chatViolations)
	}

	// Duplicates: only sends whose outcome the sender could not know.
	unacked := 0
	for _, e := range in.net {
		if e.delivered && !e.acked {
			unacked++
		}
	}
	out.allowedDups = in.inflightAtKills + unacked
	if out.dups > out.allowedDups {
		out.violate("duplicates: %d, want ≤ %d (%d sends in flight at kills + %d delivered but unanswered)",
			out.dups, out.allowedDups, in.inflightAtKills, unacked)
	}

	// No loss: every note final, SENT with every part delivered, or FAILED
	// for a reason the injected faults explain.
	temporary := map[string]int{} // text → temporary faults of its sends
	chat403 := map[int64]bool{}
	for _, e := range in.net {
		switch e.fault {
		case fault5xx, faultHTML, faultHang, faultHangAfter, faultTimeout:
			temporary[e.text]++
		case fault403:
			chat403[e.chat] = true
		}
	}
	lost := 0
	for _, n := range in.notes {
		f := n.final
		switch {
		case n.err != nil:
			lost++
			if lost <= 5 {
				out.violate("loss: notification %s (chat %d): %v", n.id, n.chat, n.err)
			}
		case f.State == delivery.StateSent:
			out.sent++
			for _, p := range n.parts {
				if seen[p] == 0 {
					out.violate("loss: notification %s SENT but Telegram never got %q", n.id, short(p))
				}
			}
		case f.State == delivery.StateFailed:
			out.failed++
			faults := 0
			for _, p := range n.parts {
				faults += temporary[p]
			}
			ok := false
			switch f.FailureReason {
			case delivery.ReasonBlocked:
				ok = in.blocked[n.chat] && chat403[n.chat]
			case delivery.ReasonNotLinked:
				ok = in.blocked[n.chat]
			case delivery.ReasonMaxAttempts:
				ok = faults >= in.maxAttempts
			}
			if !ok {
				out.violate("loss: notification %s (chat %d, accepted at %v) FAILED %q (%s) but the injected faults do not explain it (blocked %v, %d temporary faults)",
					n.id, n.chat, n.at.Sub(in.start), f.FailureReason, short(f.LastError), in.blocked[n.chat], faults)
			}
		case in.partial:
		default:
			lost++
			if lost <= 5 {
				out.violate("loss: notification %s (chat %d, accepted at %v) still %v at the end (attempts %d, last error %q)",
					n.id, n.chat, n.at.Sub(in.start), f.State, f.Attempts, short(f.LastError))
			}
		}
	}
	if lost > 5 {
		out.violate("loss: %d notifications not final in all", lost)
	}

	checkLiveness(in, &out, want, byChat, interval)
	return out
}

// chatTimeline is what liveness needs to know about one chat.
type chatTimeline struct {
	pending    []span      // an accepted message not yet delivered
	deliveries []time.Time // every message accepted by Telegram, sorted
	faults     []time.Time // failed requests, sorted
}

// lastBefore returns the last of ts (sorted) at or before t.
func lastBefore(ts []time.Time, t time.Time) (time.Time, bool) {
	i := sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
	if i == 0 {
		return time.Time{}, false
	}
	return ts[i-1], true
}

// checkLiveness: while work is due, sends keep pace with the rate.
//
// Windows of length w = max(1 s, 5/rate) tile the run after the warm-up.
// A chat is due at time s when it has an accepted message that Telegram
// has not accepted yet (a FAILED notification's parts stop being pending
// at its final update), its last message is at least its interval old and
// no request to it failed since that message (a failed chat is in
// backoff or blocked). A window starting at s is saturated when at least
// rate × w + burst chats are due at s — enough to fill it even if no other
// chat becomes due — no 429 pause overlaps it (from the 429 answered until
// retry_after + 200 ms later), no kill left the run without a worker or
// lost the killed workers' slots in it (one per worker of the killed
// replica, plus a second), and fewer than a quarter of the workers hang
// in it; the chats a killed replica held are not due until its leases
// lapsed. The
// saturated windows together must hold at least 90 % of rate × w each,
// counting every message Telegram accepted (bot replies and duplicates
// too); on the virtual clock each one must also hold 50 %.
func checkLiveness(in checkIn, out *checkOut, want map[string]expected, byChat map[int64][]fakebot.SentMessage, interval func(int64) time.Duration) {
	w := max(time.Second, time.Duration(math.Ceil(5/in.rate*10))*100*time.Millisecond)
	tl := map[int64]*chatTimeline{}
	get := func(chat int64) *chatTimeline {
		if tl[chat] == nil {
			tl[chat] = &chatTimeline{}
		}
		return tl[chat]
	}
	first := map[string]time.Time{}
	for chat, ms := range byChat {
		c := get(chat)
		for _, m := range ms {
			c.deliveries = append(c.deliveries, m.Time)
			if _, ok := first[m.PlainText]; !ok {
				first[m.PlainText] = m.Time
			}
		}
		sortedTimes(c.deliveries)
	}
	far := in.end.Add(time.Hour)
	for _, n := range in.notes {
		c := get(n.chat)
		for _, p := range n.parts {
			end, ok := first[p]
			if !ok {
				end = far
				if n.final.State == delivery.StateFailed {
					end = n.final.UpdatedAt
				}
			}
			if end.After(n.at) {
				c.pending = append(c.pending, span{n.at, end})
			}
		}
	}
	var pauses, hangs []span
	for _, e := range in.net {
		switch {
		case e.fault == faultStorm || e.fault == faultFlood:
			pauses = append(pauses, span{e.at, e.at.Add(e.retryAfter + pauseSlack)})
		case e.fault == faultHang || e.fault == faultHangAfter || e.fault == faultTimeout:
			hangs = append(hangs, span{e.at, e.end})
		}
		if e.fault != faultNone && e.fault != faultHangAfter {
			get(e.chat).faults = append(get(e.chat).faults, e.at)
		}
	}
	for _, c := range tl {
		sortedTimes(c.faults)
	}
	msgTimes := make([]time.Time, 0, len(in.msgs))
	for _, m := range in.msgs {
		msgTimes = append(msgTimes, m.Time)
	}
	sortedTimes(msgTimes)
	count := func(s span) int {
		lo := sort.Search(len(msgTimes), func(i int) bool { return !msgTimes[i].Before(s.from) })
		hi := sort.Search(len(msgTimes), func(i int) bool { return !msgTimes[i].Before(s.to) })
		return hi - lo
	}
	need := int(math.Ceil(in.rate*w.Seconds())) + in.burst
	floorViolations := 0
	for s := in.start.Add(in.warmup); !s.Add(w).After(in.end); s = s.Add(w) {
		win := span{s, s.Add(w)}
		out.windows++
		if slices.ContainsFunc(pauses, win.overlaps) || slices.ContainsFunc(in.exempt, win.overlaps) {
			continue
		}
		hung := 0
		for _, h := range hangs {
			if h.overlaps(win) {
				hung++
			}
		}
		if hung*4 >= max(in.workers, 1) {
			continue
		}
		locked := map[int64]bool{}
		for _, l := range in.locked {
			if l.span.overlaps(win) {
				for _, c := range l.chats {
					locked[c] = true
				}
			}
		}
		due := 0
		for chat, c := range tl {
			if locked[chat] {
				continue
			}
			if !slices.ContainsFunc(c.pending, func(p span) bool { return !s.Before(p.from) && s.Before(p.to) }) {
				continue
			}
			last, ok := lastBefore(c.deliveries, s)
			if ok && s.Sub(last) < interval(chat) {
				continue
			}
			if f, failed := lastBefore(c.faults, s); failed && (!ok || f.After(last)) {
				continue
			}
			due++
		}
		if due < need {
			continue
		}
		got := count(win)
		wantN := in.rate * w.Seconds()
		out.saturated++
		out.satSends += got
		out.satWant += wantN
		if in.windowFloor && float64(got) < windowFloorShare*wantN {
			floorViolations++
			if floorViolations <= 3 {
				out.violate("liveness: window %v–%v: %d sends with %d chats due, want ≥ %.0f%% of %.4g",
					s.Sub(in.start), s.Add(w).Sub(in.start), got, due, windowFloorShare*100, wantN)
			}
		}
	}
	if floorViolations > 3 {
		out.violate("liveness: %d saturated windows below %.0f%% in all", floorViolations, windowFloorShare*100)
	}
	if out.satWant > 0 && out.liveness() < livenessShare {
		out.violate("liveness: saturated windows (%d of %d, %v each) held %d sends, want ≥ %.0f%% of %.0f (got %.1f%%)",
			out.saturated, out.windows, w, out.satSends, livenessShare*100, out.satWant, out.liveness()*100)
	}
}

// short cuts s for messages.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

package delivery_test

// The seeded stress test of edits and deletions (EditNotification,
// DeleteNotification): random Edits and Deletes, some twice at once on
// one id, while the replicas deliver against the fake Bot API with
// random 5xx and 429s; then the invariants of edit.go are checked on the
// final records and the fake's chats. Replay one seed with
// TGNOTIFY_STRESS_SEED (see stress_helpers_test.go).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// Size of an edit scenario.
const (
	editUsers = 20
	editNotes = 200
)

// claimLog records the ids claimed for sending (not for an operation).
type claimLog struct {
	mu   sync.Mutex
	sent map[string]bool
}

func (l *claimLog) add(c delivery.Claim, ok bool, err error) {
	n := c.Notification
	if err != nil || !ok || n.State == delivery.StateSent || n.State == delivery.StateFailed || n.State == delivery.StateCancelled {
		return
	}
	l.mu.Lock()
	l.sent[n.ID] = true
	l.mu.Unlock()
}

func (l *claimLog) claimed(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent[id]
}

// loggedQueue is a replica's queue that reports its claims to a claimLog.
type loggedQueue struct {
	delivery.Queue
	log *claimLog
}

func (q loggedQueue) Claim(ctx context.Context, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	c, ok, err := q.Queue.Claim(ctx, now, opts)
	q.log.add(c, ok, err)
	return c, ok, err
}

func (q loggedQueue) SettleAndClaim(ctx context.Context, c delivery.Claim, o delivery.Outcome, now time.Time, opts delivery.ClaimOptions) (delivery.Claim, bool, error) {
	next, ok, err := q.Queue.SettleAndClaim(ctx, c, o, now, opts)
	q.log.add(next, ok, err)
	return next, ok, err
}

// acceptedEdit is an edit Dispatcher.Edit accepted, with the revision it
// returned.
type acceptedEdit struct {
	rev        int
	hasText    bool
	text       string
	setButtons bool
	buttons    [][]delivery.Button
}

// editNote is one notification of an edit scenario.
type editNote struct {
	id      string
	chat    int64
	parts   []string // as enqueued
	buttons [][]delivery.Button
	edits   []acceptedEdit
	deleted bool // a Delete was accepted
	final   delivery.Notification
}

// editRun is one edit scenario in progress.
type editRun struct {
	*stressRun
	rng     *rand.Rand
	claims  *claimLog
	mu      sync.Mutex
	ns      []*editNote
	seq     int // edit texts
	late    int // edits accepted once sending had begun
	refused int // edits refused (ErrNotEditable)
	shown   int // sent messages checked against their last edit
	errs    []string
}

// TestStressEdit runs seeded random Edits and Deletes against delivery
// with faults, on both backends, and checks the invariants (checkEdits).
func TestStressEdit(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		for _, seed := range seeds(t, 7001, 4) {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { runEditScenario(t, seed, memoryStressBackend(t)) })
			})
		}
	})
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		for _, seed := range seeds(t, 8001, 1) {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				runEditScenario(t, seed, redisStressBackend(t, srv, fmt.Sprintf("edit%d", seed), 16))
			})
		}
	})
}

// runEditScenario draws the scenario of seed, runs it on sb and checks it.
func runEditScenario(t *testing.T, seed uint64, sb stressBackend) {
	rng := rand.New(rand.NewPCG(seed, 0xed17))
	sc := scenario{seed: seed, backend: sb.name, label: "edit", replicas: 1 + rng.IntN(2), workers: 2 + rng.IntN(8),
		rate: 500, burst: 5, lease: 10 * time.Second, sendTimeout: 2 * time.Second, private: editUsers,
		maxAttempts: 10, maxBackoff: 200 * time.Millisecond, p5xx: 0.08 * rng.Float64()}
	cfg := stressConfig(sc)
	cfg.PrivateChatInterval = 20 * time.Millisecond
	cfg.MinBackoff = 20 * time.Millisecond
	r := &editRun{rng: rng, claims: &claimLog{sent: map[string]bool{}}, stressRun: &stressRun{t: t, sc: sc, cfg: cfg,
		killedAt: map[int]time.Time{}, blocked: map[int64]bool{}}}
	r.sb = sb
	r.sb.replica = func() backend {
		b := sb.replica()
		b.q = loggedQueue{Queue: b.q, log: r.claims}
		return b
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	defer r.cancel()
	r.tg = fakebot.NewInProcess(fakebot.WithSeed(seed))
	defer r.tg.Close()
	defer sb.close()
	for _, m := range []string{"sendMessage", "editMessageText", "editMessageReplyMarkup", "deleteMessages"} {
		r.tg.SetErrorRate(m, sc.p5xx, 502)
	}
	r.net = newStressNet(r.tg, netFaults{uplink: time.Millisecond, downlink: time.Millisecond}, seed)
	r.bot = r.net.client(r.tg)
	r.front = delivery.New(cfg, sb.front.q, r.bot, zap.NewNop())
	r.setup()
	for i := range sc.replicas {
		r.replicas = append(r.replicas, r.start(i))
	}
	start := time.Now()
	r.drive()
	pending := r.awaitEdits()
	r.stop()
	r.collect()
	msgs := r.tg.AllMessages()
	violations := r.checkEdits(msgs)
	if pending > 0 {
		violations = append(violations, fmt.Sprintf("liveness: %d notifications not final (or with an operation pending) at the deadline", pending))
	}
	violations = append(r.errs, violations...)
	edits, deletes, early := 0, 0, 0
	for _, n := range r.ns {
		edits += len(n.edits)
		if n.deleted {
			deletes++
			if !r.claims.claimed(n.id) {
				early++
			}
		}
	}
	t.Logf("EDIT STRESS seed=%d backend=%s replicas=%d workers=%d 5xx=%.3g notes=%d edits=%d (%d after sending began, %d refused) deletes=%d (%d before any claim) messages=%d (%d checked against their last edit) took=%v violations=%d",
		seed, sb.name, sc.replicas, sc.workers, sc.p5xx, len(r.ns), edits, r.late, r.refused, deletes, early, len(msgs), r.shown,
		time.Since(start).Round(time.Millisecond), len(violations))
	for i, v := range violations {
		if i == 20 {
			t.Errorf("… %d more violations", len(violations)-20)
			break
		}
		t.Errorf("seed %d: %s", seed, v)
	}
	if len(violations) > 0 {
		t.Errorf("replay: %s=%d go test -count=1 -v -run '^TestStressEdit$/^%s$' ./delivery/", envSeed, seed, sb.name)
	}
}

// fail records a violation found while driving (no Fatal: the replicas
// must still be stopped).
func (r *editRun) fail(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// drive enqueues the notifications and, interleaved, issues random
// Edits and Deletes (some twice at once) and 429 storms.
func (r *editRun) drive() {
	storms, step, after := 0, 10, 0
	if r.sb.virtual {
		step = 100 // the virtual clock: longer pauses cost nothing
	}
	// Once every notification is accepted, more operations on the sent
	// ones.
	for ; after < editNotes/2; after += min(len(r.ns)/editNotes, 1) {
		switch x := r.rng.IntN(100); {
		case x < 45 && len(r.ns) < editNotes:
			r.enqueue()
		case len(r.ns) == 0:
		case x < 70:
			r.edit(r.pick(), r.editRequest())
		case x < 78:
			r.remove(r.pick(), r.rng.IntN(4))
		case x < 90:
			r.twice(r.pick())
		case x < 92 && storms < 1 && len(r.ns) > editNotes/2: // pauses every send for 1 s
			storms++
			method := []string{"sendMessage", "editMessageText"}[r.rng.IntN(2)]
			r.tg.FailNext(method, 1+r.rng.IntN(3), 429, "Too Many Requests: retry after 1"+stormMark, 1)
		default:
			time.Sleep(time.Duration(r.rng.IntN(step)) * time.Millisecond) // the scenario's timeline, not synchronisation
		}
	}
}

// pick returns a random notification, the recent (likely queued or in
// flight) ones more often.
func (r *editRun) pick() *editNote {
	if r.rng.IntN(3) == 0 {
		return r.ns[max(0, len(r.ns)-1-r.rng.IntN(10))]
	}
	return r.ns[r.rng.IntN(len(r.ns))]
}

// buttons returns a random keyboard.
func (r *editRun) buttons(tag string) [][]delivery.Button {
	rows := make([][]delivery.Button, 1+r.rng.IntN(2))
	for i := range rows {
		for j := range 1 + r.rng.IntN(2) {
			b := fmt.Sprintf("%s-%d%d", tag, i, j)
			rows[i] = append(rows[i], delivery.Button{Text: b, URL: "https://example.com/" + b})
		}
	}
	return rows
}

// enqueue accepts the next notification: some long (split), some with a
// keyboard.
func (r *editRun) enqueue() {
	k := len(r.ns)
	chat := privateChat(r.rng.IntN(editUsers))
	text, parts, err := noteText(chat, k, r.rng.IntN(8) == 0)
	if err != nil {
		r.fail("harness: split: %v", err)
		return
	}
	req := delivery.Request{UserID: userOf(chat), ChatID: chat, Text: text}
	if r.rng.IntN(3) == 0 {
		req.Buttons = r.buttons(fmt.Sprintf("k%d", k))
	}
	d, _ := r.live(k)
	ctx, cancel := context.WithTimeout(r.ctx, r.sb.timeout)
	n, _, err := d.Enqueue(ctx, req)
	cancel()
	if err != nil {
		r.fail("enqueue %d to chat %d: %v", k, chat, err)
		return
	}
	r.mu.Lock()
	r.ns = append(r.ns, &editNote{id: n.ID, chat: chat, parts: parts, buttons: req.Buttons})
	r.mu.Unlock()
}

// editRequest draws an edit (the id and text are set by edit): a new
// text, a keyboard, a removed keyboard, or some of them together.
func (r *editRun) editRequest() delivery.EditRequest {
	var e delivery.EditRequest
	switch r.rng.IntN(4) {
	case 0: // the keyboard only
	case 1:
		e.Text = "text"
		e.ClearButtons = true
	default:
		e.Text = "text"
	}
	if !e.ClearButtons && (e.Text == "" || r.rng.IntN(3) == 0) {
		if r.rng.IntN(4) == 0 && e.Text != "" {
			e.ClearButtons = true
		} else {
			e.Buttons = r.buttons("e")
		}
	}
	return e
}

// edit issues e on n and records it when accepted.
func (r *editRun) edit(n *editNote, e delivery.EditRequest) {
	r.mu.Lock()
	r.seq++
	s := r.seq
	r.mu.Unlock()
	k := slices.Index(r.ns, n)
	e.ID = n.id
	if e.Text != "" {
		e.Text = fmt.Sprintf("c%d n%d e%d", n.chat, k, s)
	}
	for i := range e.Buttons {
		for j := range e.Buttons[i] {
			e.Buttons[i][j].Text += fmt.Sprintf("-%d", s)
		}
	}
	d, _ := r.live(s)
	ctx, cancel := context.WithTimeout(r.ctx, r.sb.timeout)
	got, err := d.Edit(ctx, e)
	cancel()
	switch {
	case errors.Is(err, delivery.ErrNotEditable):
		r.mu.Lock()
		r.refused++
		r.mu.Unlock()
		return
	case err != nil:
		r.fail("edit %d (%s): %v", k, n.id, err)
		return
	}
	r.mu.Lock()
	if got.EditState == delivery.EditPending {
		r.late++
	}
	n.edits = append(n.edits, acceptedEdit{rev: got.Rev(), hasText: e.Text != "", text: e.Text,
		setButtons: e.ClearButtons || len(e.Buttons) > 0, buttons: e.Buttons})
	r.mu.Unlock()
}

// remove deletes n through replica via (round robin).
func (r *editRun) remove(n *editNote, via int) {
	d, _ := r.live(via)
	ctx, cancel := context.WithTimeout(r.ctx, r.sb.timeout)
	_, err := d.Delete(ctx, n.id)
	cancel()
	if err != nil {
		r.fail("delete %s: %v", n.id, err)
		return
	}
	r.mu.Lock()
	n.deleted = true
	r.mu.Unlock()
}

// twice issues two operations on n at once from two goroutines: two
// edits, two deletes, or an edit and a delete.
func (r *editRun) twice(n *editNote) {
	ops := make([]func(), 2)
	for i := range ops {
		if r.rng.IntN(2) == 0 {
			e := r.editRequest()
			ops[i] = func() { r.edit(n, e) }
		} else {
			via := r.rng.IntN(4)
			ops[i] = func() { r.remove(n, via) }
		}
	}
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(op)
	}
	wg.Wait()
}

// settled reports whether n is final with no operation pending.
func settled(n delivery.Notification) bool {
	final := n.State == delivery.StateSent || n.State == delivery.StateFailed || n.State == delivery.StateCancelled
	return final && n.Op == "" && n.EditState != delivery.EditPending
}

// awaitEdits polls until every notification is settled or a deadline
// passes, and returns how many are not.
func (r *editRun) awaitEdits() int {
	deadline, poll := time.Now().Add(10*time.Minute), time.Second
	if !r.sb.virtual {
		deadline, poll = time.Now().Add(60*time.Second), 50*time.Millisecond
	}
	pending := slices.Clone(r.ns)
	for {
		ctx, cancel := context.WithTimeout(r.ctx, r.sb.timeout)
		pending = slices.DeleteFunc(pending, func(n *editNote) bool {
			got, err := r.sb.front.q.Get(ctx, n.id)
			return err == nil && settled(got)
		})
		cancel()
		if len(pending) == 0 || !time.Now().Before(deadline) {
			return len(pending)
		}
		time.Sleep(poll) // polling with a deadline
	}
}

// collect reads the final records.
func (r *editRun) collect() {
	ctx, cancel := context.WithTimeout(context.Background(), r.sb.timeout)
	defer cancel()
	for k, n := range r.ns {
		got, err := r.sb.front.q.Get(ctx, n.id)
		if err != nil {
			r.fail("notification %d (%s): %v", k, n.id, err)
		}
		n.final = got
	}
}

// noteOf returns the notification index a message's text belongs to.
func noteOf(text string) (int, bool) {
	var chat int64
	var k int
	if _, err := fmt.Sscanf(text, "c%d n%d", &chat, &k); err != nil {
		return 0, false
	}
	return k, true
}

// buttonTexts flattens a keyboard to its buttons' texts.
func buttonTexts(rows [][]delivery.Button) []string {
	var out []string
	for _, row := range rows {
		for _, b := range row {
			out = append(out, b.Text)
		}
	}
	return out
}

// expectedLast returns the text and keyboard n's last message must show:
// the edits applied in revision order, the last wins.
func expectedLast(n *editNote) (string, []string) {
	text, kb := n.parts[len(n.parts)-1], buttonTexts(n.buttons)
	edits := slices.Clone(n.edits)
	slices.SortFunc(edits, func(a, b acceptedEdit) int { return a.rev - b.rev })
	for _, e := range edits {
		if e.hasText {
			text = e.text
		}
		if e.setButtons {
			kb = buttonTexts(e.buttons)
		}
	}
	return text, kb
}

// checkEdits checks the invariants on the final records and msgs.
func (r *editRun) checkEdits(msgs []fakebot.SentMessage) []string {
	var v []string
	violate := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }
	byNote := map[int][]fakebot.SentMessage{}
	byChat := map[int64][]fakebot.SentMessage{}
	for _, m := range msgs {
		k, ok := noteOf(m.PlainText)
		if !ok || k >= len(r.ns) || r.ns[k].chat != m.ChatID {
			violate("chat %d got a message of no notification of its: %q", m.ChatID, short(m.PlainText))
			continue
		}
		byNote[k] = append(byNote[k], m)
		byChat[m.ChatID] = append(byChat[m.ChatID], m)
	}
	for k, n := range r.ns {
		f := n.final
		// 1: final, with a reason when FAILED; no edit pending.
		if !settled(f) || (f.State == delivery.StateFailed && f.FailureReason == "") {
			violate("final: notification %d (%s) ends %v op=%q edit_state=%d failure_reason=%q", k, n.id, f.State, f.Op, f.EditState, f.FailureReason)
		}
		// 4: one revision per accepted edit.
		if f.Rev() != 1+len(n.edits) {
			violate("revision: notification %d (%s) revision %d after %d accepted edits", k, n.id, f.Rev(), len(n.edits))
		}
		// 2: nothing left live after a delete, unless the delete failed.
		if (n.deleted || f.State == delivery.StateCancelled || f.Deleted) && f.DeleteError == "" {
			for _, m := range byNote[k] {
				if !m.Deleted {
					violate("delete: notification %d (%s, %v, deleted=%v) has live message %d %q", k, n.id, f.State, f.Deleted, m.MessageID, short(m.PlainText))
				}
			}
		}
		// No double: the fake answers a fault before delivering, so no send
		// is ambiguous and every part is delivered at most once (an edit
		// before sending makes one part of a split text).
		if len(byNote[k]) > len(n.parts) || (f.State == delivery.StateSent && len(byNote[k]) != len(f.MessageIDs)) {
			violate("double: notification %d (%s, %v) has %d messages for %d parts, %d message ids", k, n.id, f.State, len(byNote[k]), len(n.parts), len(f.MessageIDs))
		}
		// 6: deleted before any claim: never sent.
		if n.deleted && !r.claims.claimed(n.id) && len(byNote[k]) > 0 {
			violate("delete: notification %d (%s) deleted before it was claimed, yet %d messages were sent", k, n.id, len(byNote[k]))
		}
		// 3: the last accepted edit is what the sent message shows.
		if f.State == delivery.StateSent && !f.Deleted && !n.deleted && f.EditState == delivery.EditApplied && len(f.MessageIDs) > 0 {
			r.shown++
			r.checkShown(k, n, byNote[k], violate)
		}
	}
	// 5: per chat, the notifications' first messages in acceptance order.
	for chat, ms := range byChat {
		slices.SortFunc(ms, func(a, b fakebot.SentMessage) int { return int(a.MessageID - b.MessageID) })
		last, seen := -1, map[int]bool{}
		for _, m := range ms {
			k, _ := noteOf(m.PlainText)
			if seen[k] {
				continue
			}
			seen[k] = true
			if k < last {
				violate("order: chat %d got notification %d after %d", chat, k, last)
			}
			last = k
		}
	}
	return v
}

// checkShown checks invariant 3 for notification k.
func (r *editRun) checkShown(k int, n *editNote, ms []fakebot.SentMessage, violate func(string, ...any)) {
	id := n.final.MessageIDs[len(n.final.MessageIDs)-1]
	i := slices.IndexFunc(ms, func(m fakebot.SentMessage) bool { return m.MessageID == id })
	if i < 0 {
		violate("edit: notification %d (%s): its message %d is not in its chat", k, n.id, id)
		return
	}
	text, kb := expectedLast(n)
	m := ms[i]
	var got []string
	if m.ReplyMarkup != nil {
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				got = append(got, b.Text)
			}
		}
	}
	if m.PlainText != text || !slices.Equal(got, kb) {
		violate("edit: notification %d (%s) rev %d shows %q %v, want the last edit's %q %v (edits %d)",
			k, n.id, n.final.Rev(), short(m.PlainText), got, short(text), kb, len(n.edits))
	}
}

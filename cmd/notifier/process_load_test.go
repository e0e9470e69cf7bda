//go:build linux

package main

// Load helpers of the process fault tests: users linked through the fake
// Bot API, a ledger of accepted notifications, bursts of Notify calls and
// the analysis of what the fake received.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/internal/poll"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// user is an application user and the Telegram chat they link.
type user struct {
	id   string
	chat int64
}

func makeUsers(prefix string, n int, firstChat int64) []user {
	us := make([]user, n)
	for i := range us {
		us[i] = user{id: fmt.Sprintf("%s-user-%03d", prefix, i), chat: firstChat + int64(i)}
	}
	return us
}

// linkUsers walks the deep-link flow for every user (CreateLinkToken, the
// user presses Start at the fake, the service long-polls the update) and
// polls GetStatus until all are linked to their chats.
func linkUsers(t *testing.T, c notifierv1.NotifierServiceClient, fake *fakebot.Server, users []user) {
	t.Helper()
	for _, u := range users {
		ctx, cancel := rpcCtx()
		r, err := c.CreateLinkToken(ctx, &notifierv1.CreateLinkTokenRequest{UserId: u.id})
		cancel()
		if err != nil {
			t.Fatalf("CreateLinkToken(%s): %v", u.id, err)
		}
		fake.Start(u.chat, fmt.Sprintf("tg%d", u.chat), r.GetToken())
	}
	pending := slices.Clone(users)
	poll.Eventually(t, 20*time.Second, "every user linked (GetStatus)", func() bool {
		pending = slices.DeleteFunc(pending, func(u user) bool {
			ctx, cancel := rpcCtx()
			defer cancel()
			st, err := c.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: u.id})
			return err == nil && st.GetLinked() && st.GetChatId() == u.chat
		})
		return len(pending) == 0
	})
}

// ledger records what the service accepted: texts are unique, so a text
// seen at the fake names its notification.
type ledger struct {
	mu       sync.Mutex
	conflict []string // texts accepted twice under different ids
	byText   map[string]accepted
	perChat  map[int64][]string // texts in the order Notify accepted them
	ids      []string
	attempts map[codes.Code]int // Notify answers by code (OK included)
}

type accepted struct {
	id   string
	chat int64
	at   time.Time // when Notify answered
}

func newLedger() *ledger {
	return &ledger{byText: map[string]accepted{}, perChat: map[int64][]string{}, attempts: map[codes.Code]int{}}
}

func (l *ledger) accept(text, id string, chat int64, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts[codes.OK]++
	if prev, ok := l.byText[text]; ok {
		if prev.id != id {
			l.conflict = append(l.conflict, fmt.Sprintf("%q as %s and %s", text, prev.id, id))
		}
		return // an idempotent retry
	}
	l.byText[text] = accepted{id: id, chat: chat, at: at}
	l.perChat[chat] = append(l.perChat[chat], text)
	l.ids = append(l.ids, id)
}

func (l *ledger) refused(c codes.Code) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts[c]++
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byText)
}

func (l *ledger) idList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids)
}

// notifyBurst sends perUser notifications to every user, users in parallel
// and each user's in sequence (so that their order is defined), with texts
// prefix-<user index>-<seq>. Every call must be accepted.
func notifyBurst(t *testing.T, c notifierv1.NotifierServiceClient, l *ledger, users []user, perUser int, prefix string) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for ui, u := range users {
		wg.Go(func() {
			for i := range perUser {
				text := fmt.Sprintf("%s-%03d-%04d", prefix, ui, i)
				ctx, cancel := rpcCtx()
				r, err := c.Notify(ctx, &notifierv1.NotifyRequest{UserId: u.id, Text: text})
				cancel()
				if err != nil {
					if failed.Add(1) == 1 {
						t.Errorf("Notify(%s, %q): %v", u.id, text, err)
					}
					return
				}
				l.accept(text, r.GetNotificationId(), u.chat, time.Now())
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
}

// deliveredCount counts the distinct texts with prefix the fake accepted.
func deliveredCount(fake *fakebot.Server, prefix string) int {
	seen := map[string]bool{}
	for _, m := range fake.AllMessages() {
		if strings.HasPrefix(m.Text, prefix) {
			seen[m.Text] = true
		}
	}
	return len(seen)
}

// tally is what the fake received compared with what was accepted.
type tally struct {
	accepted, delivered int
	lost                int // accepted, never delivered
	duplicates          int // deliveries beyond the first of a text
	unexpected          int // delivered texts that were never accepted
	orderViolations     int
	maxDelay            time.Duration // accepted → first delivery
	firstAt, lastAt     time.Time     // first and last delivery
	lostSample          []string
	orderSample         []string
	conflicts           []string
}

// analyze compares the fake's messages (texts with prefix) with l: loss,
// duplicates, per-chat order (a text may repeat immediately: a duplicate of
// a send in flight at a crash) and delay.
func analyze(l *ledger, msgs []fakebot.SentMessage, prefix string) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var tl tally
	tl.accepted = len(l.byText)
	tl.conflicts = slices.Clone(l.conflict)
	seen := map[string]int{}
	perChat := map[int64][]string{}
	for _, m := range msgs {
		if !strings.HasPrefix(m.Text, prefix) {
			continue
		}
		seen[m.Text]++
		perChat[m.ChatID] = append(perChat[m.ChatID], m.Text)
		if tl.firstAt.IsZero() || m.Time.Before(tl.firstAt) {
			tl.firstAt = m.Time
		}
		if m.Time.After(tl.lastAt) {
			tl.lastAt = m.Time
		}
		a, ok := l.byText[m.Text]
		if !ok {
			if seen[m.Text] == 1 {
				tl.unexpected++
			}
			continue
		}
		if seen[m.Text] == 1 {
			tl.delivered++
			tl.maxDelay = max(tl.maxDelay, m.Time.Sub(a.at))
		} else {
			tl.duplicates++
		}
	}
	for text := range l.byText {
		if seen[text] == 0 {
			tl.lost++
			if len(tl.lostSample) < 5 {
				tl.lostSample = append(tl.lostSample, text)
			}
		}
	}
	for chat, want := range l.perChat {
		got := perChat[chat]
		i := 0
		for _, text := range got {
			switch {
			case i < len(want) && text == want[i]:
				i++
			case i > 0 && text == want[i-1]: // immediate repeat of a duplicate
			case l.byText[text].id == "": // never accepted: not ordered
			default:
				tl.orderViolations++
				if len(tl.orderSample) < 3 {
					tl.orderSample = append(tl.orderSample, fmt.Sprintf("chat %d: got %q where %q was due", chat, text, want[min(i, len(want)-1)]))
				}
			}
		}
	}
	return tl
}

// rate is deliveries per second between the first and the last delivery.
func (tl tally) rate() float64 {
	d := tl.lastAt.Sub(tl.firstAt).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(tl.delivered+tl.duplicates-1) / d
}

// check fails the test on loss, excess duplicates or reordering.
func (tl tally) check(t *testing.T, maxDuplicates int) {
	t.Helper()
	if len(tl.conflicts) > 0 {
		t.Errorf("one text accepted under two notification ids: %v", tl.conflicts)
	}
	if tl.lost > 0 {
		t.Errorf("%d accepted notifications were never delivered (e.g. %v)", tl.lost, tl.lostSample)
	}
	if tl.duplicates > maxDuplicates {
		t.Errorf("%d duplicate deliveries, want at most %d", tl.duplicates, maxDuplicates)
	}
	if tl.orderViolations > 0 {
		t.Errorf("%d per-chat order violations: %v", tl.orderViolations, tl.orderSample)
	}
	if tl.unexpected > 0 {
		t.Errorf("%d delivered texts were never accepted", tl.unexpected)
	}
}

// finalStates polls GetNotification for ids until every one is SENT or
// FAILED, and returns the final records.
func finalStates(t *testing.T, c notifierv1.NotifierServiceClient, ids []string, timeout time.Duration) map[string]*notifierv1.GetNotificationResponse {
	t.Helper()
	out := make(map[string]*notifierv1.GetNotificationResponse, len(ids))
	pending := slices.Clone(ids)
	poll.Eventually(t, timeout, fmt.Sprintf("%d notifications SENT or FAILED (GetNotification)", len(ids)), func() bool {
		var lastErr error
		pending, lastErr = sweepFinal(c, pending, out)
		if len(pending) > 0 && lastErr != nil {
			t.Logf("GetNotification: %v (%d pending)", lastErr, len(pending))
		}
		return len(pending) == 0
	})
	return out
}

// sweepFinal reads every pending notification once (16 at a time), puts
// those SENT or FAILED into out and returns the others, with the last
// GetNotification error seen.
func sweepFinal(c notifierv1.NotifierServiceClient, pending []string, out map[string]*notifierv1.GetNotificationResponse) (still []string, lastErr error) {
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, id := range pending {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := rpcCtx()
			r, err := c.GetNotification(ctx, &notifierv1.GetNotificationRequest{NotificationId: id})
			cancel()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				lastErr = err
				still = append(still, id)
			case r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_SENT,
				r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_FAILED:
				out[id] = r
			default:
				still = append(still, id)
			}
		})
	}
	wg.Wait()
	return still, lastErr
}

// outcomes counts final records: sent, and failed by reason.
func outcomes(recs map[string]*notifierv1.GetNotificationResponse) (sent int, failed map[string]int) {
	failed = map[string]int{}
	for _, r := range recs {
		if r.GetState() == notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
			sent++
		} else {
			failed[r.GetFailureReason()]++
		}
	}
	return sent, failed
}

func formatReasons(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if k == "" {
			k = "(no reason)"
		}
		fmt.Fprintf(&b, "%s:%d", k, m[k])
	}
	return b.String()
}

// summaries adds up the users' delivery summaries (GetStatus).
func summaries(t *testing.T, c notifierv1.NotifierServiceClient, users []user) (queued, sent, failed int64) {
	t.Helper()
	for _, u := range users {
		ctx, cancel := rpcCtx()
		st, err := c.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: u.id})
		cancel()
		if err != nil {
			t.Fatalf("GetStatus(%s): %v", u.id, err)
		}
		queued += st.GetDelivery().GetQueued()
		sent += st.GetDelivery().GetSent()
		failed += st.GetDelivery().GetFailed()
	}
	return queued, sent, failed
}

// checkSummaries checks that the users' summaries count every accepted
// notification once: none queued, sent and failed as recorded.
func checkSummaries(t *testing.T, c notifierv1.NotifierServiceClient, users []user, sent int, failed map[string]int) {
	t.Helper()
	wantFailed := 0
	for _, n := range failed {
		wantFailed += n
	}
	q, s, f := summaries(t, c, users)
	if q != 0 || s != int64(sent) || f != int64(wantFailed) {
		t.Errorf("GetStatus summaries: queued %d, sent %d, failed %d; want 0, %d, %d", q, s, f, sent, wantFailed)
	}
}

// fastDelivery lifts Telegram's pacing for tests that do not measure it.
var fastDelivery = map[string]string{
	"NOTIFIER_GLOBAL_RATE":  "1000",
	"NOTIFIER_GLOBAL_BURST": "100",
	"NOTIFIER_CHAT_RATE":    "0",
}

// world is one service process on its own redis-server and fake Bot API,
// with users linked.
type world struct {
	rs   *redistest.Server
	fake *fakebot.Server
	p    *proc
	c    notifierv1.NotifierServiceClient
	us   []user
}

// startWorld starts redis-server, takes fake (closed at cleanup), starts the
// service with baseEnv plus settings (later maps win) and links users
// named prefix-N on chats from firstChat.
func startWorld(t *testing.T, fake *fakebot.Server, prefix string, users int, firstChat int64, settings ...map[string]string) *world {
	t.Helper()
	w := &world{rs: startRedis(t), fake: fake}
	t.Cleanup(fake.Close)
	env := baseEnv(t, fake, w.rs.URL())
	for _, m := range settings {
		for k, v := range m {
			env[k] = v
		}
	}
	w.p = startProc(t, env)
	w.c = dial(t, w.p.grpcAddr)
	w.us = makeUsers(prefix, users, firstChat)
	linkUsers(t, w.c, fake, w.us)
	return w
}

// startRedis starts a redis-server with the append-only file fsynced on
// every write.
func startRedis(t *testing.T) *redistest.Server {
	t.Helper()
	return redistest.StartWith(t, redistest.Options{AOF: true})
}

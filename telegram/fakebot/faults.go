package fakebot

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

// AnyMethod makes a fault apply to every method.
const AnyMethod = "*"

// Limits are the flood limits the fake enforces on sendMessage, like
// Telegram does: exceeding one answers 429 "Too Many Requests: retry after
// N" with parameters.retry_after. A zero field disables that limit; the zero
// Limits (the default) disables them all.
type Limits struct {
	// Global is the number of messages per second for the whole bot
	// (Telegram: about 30). Sends with allow_paid_broadcast are exempt.
	Global float64
	// Paid is the number of messages per second sent with
	// allow_paid_broadcast (Telegram: up to 1000; 0: unlimited).
	Paid float64
	// PerChat is the number of messages per second to one chat (Telegram:
	// about 1).
	PerChat float64
	// PerGroupPerMinute is the number of messages per minute to one group,
	// supergroup or channel (Telegram: 20).
	PerGroupPerMinute int
	// Burst is how many messages to one chat may be sent back to back
	// before PerChat applies (0: the rate rounded up, at least 1).
	Burst int
	// RetryAfter is the retry_after given in 429s, in seconds (0: the time
	// until the limit allows the next message, at least 1).
	RetryAfter int
}

type fault struct {
	code        int
	description string
	retryAfter  int
	html        bool
	raw         bool // answer contentType and body as they are
	contentType string
	body        string
	remaining   int
}

type rateFault struct {
	p    float64
	code int
}

// bucket is a token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// refill adds the tokens earned since the last call and reports whether
// one is available, or how long until one is.
func (b *bucket) refill(now time.Time, rate, capacity float64) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens, b.last = capacity, now
	}
	if now.After(b.last) {
		b.tokens = math.Min(capacity, b.tokens+now.Sub(b.last).Seconds()*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

type faultState struct {
	next      map[string][]*fault
	rates     map[string]rateFault
	latency   time.Duration
	hang      chan struct{} // non-nil while sendMessage hangs
	limits    Limits
	global    bucket
	paid      bucket // allow_paid_broadcast sends (Limits.Paid)
	perChat   map[int64]*bucket
	perGroup  map[int64]*bucket
	count429s int
	revoked   bool // SetTokenRevoked
}

func (f *faultState) init() {
	f.next = map[string][]*fault{}
	f.rates = map[string]rateFault{}
	f.perChat = map[int64]*bucket{}
	f.perGroup = map[int64]*bucket{}
}

func (f *fault) write(w http.ResponseWriter) {
	if f.raw {
		if f.contentType != "" {
			w.Header().Set("Content-Type", f.contentType)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
		w.WriteHeader(f.code)
		_, _ = io.WriteString(w, f.body)
		return
	}
	if f.html {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.code)
		text := strconv.Itoa(f.code) + " " + http.StatusText(f.code)
		_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n", text, text)
		return
	}
	writeError(w, &apiError{code: f.code, description: f.description, retryAfter: f.retryAfter})
}

// FailNext makes the next n calls of method (case-insensitive, or
// [AnyMethod]) fail with code and description (Telegram's usual text for
// the code when empty) and, when retryAfter > 0, parameters.retry_after.
// Faults apply after the token check and before the method runs; they
// queue up in the order they were added.
func (s *Server) FailNext(method string, n, code int, description string, retryAfter int) {
	if n <= 0 {
		return
	}
	if description == "" {
		description = defaultDescription(code, retryAfter)
	}
	s.addFault(method, &fault{code: code, description: description, retryAfter: retryAfter, remaining: n})
}

// FailNextHTML makes the next n calls of method answer status with an
// HTML error page, like the front proxy does (for example 502).
func (s *Server) FailNextHTML(method string, n, status int) {
	if n <= 0 {
		return
	}
	s.addFault(method, &fault{code: status, html: true, remaining: n})
}

// FailNextRaw makes the next n calls of method answer status with exactly
// this Content-Type (none when empty) and body: an empty body, JSON that is
// not a Bot API response, a proxy's own page.
func (s *Server) FailNextRaw(method string, n, status int, contentType, body string) {
	if n <= 0 {
		return
	}
	s.addFault(method, &fault{code: status, raw: true, contentType: contentType, body: body, remaining: n})
}

// ClearFaults drops every fault queued by [Server.FailNext],
// [Server.FailNextHTML] and [Server.FailNextRaw] that has not been answered
// yet (error rates, latency, hangs and limits stay).
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults.next)
}

// SetTokenRevoked(true) makes every request answer 401 "Unauthorized", as
// Telegram does once the bot's token was revoked in BotFather, until
// SetTokenRevoked(false) restores it. Calls are still counted.
func (s *Server) SetTokenRevoked(revoked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.revoked = revoked
	s.notifyLocked()
}

func (s *Server) addFault(method string, f *fault) {
	m := strings.ToLower(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.next[m] = append(s.faults.next[m], f)
}

// SetErrorRate makes calls of method (or [AnyMethod]) fail at random with
// probability p and the given code (for example 500 or 502); p <= 0 turns
// it off. See [WithSeed].
func (s *Server) SetErrorRate(method string, p float64, code int) {
	m := strings.ToLower(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p <= 0 {
		delete(s.faults.rates, m)
		return
	}
	s.faults.rates[m] = rateFault{p: p, code: code}
}

// SetLatency delays every request by d before it is answered (0: none).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = max(d, 0)
}

// SetHang(true) makes sendMessage requests hang until the client gives up
// or SetHang(false) releases them (they then proceed normally).
func (s *Server) SetHang(hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hang && s.faults.hang == nil {
		s.faults.hang = make(chan struct{})
	}
	if !hang {
		s.releaseHangLocked()
	}
}

func (s *Server) releaseHangLocked() {
	if s.faults.hang != nil {
		close(s.faults.hang)
		s.faults.hang = nil
	}
}

// SetLimits sets the flood limits (see [Limits]) and resets their state.
func (s *Server) SetLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.limits = l
	s.faults.global = bucket{}
	clear(s.faults.perChat)
	clear(s.faults.perGroup)
}

// Count429 returns the number of 429 answers sent so far.
func (s *Server) Count429() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.count429s
}

func (s *Server) count429(code int) {
	if code != http.StatusTooManyRequests {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.count429s++
	s.notifyLocked()
}

// takeFault returns the fault the next call of method must answer, if any.
func (s *Server) takeFault(method string) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []string{method, AnyMethod} {
		q := s.faults.next[m]
		if len(q) == 0 {
			continue
		}
		f := *q[0]
		q[0].remaining--
		if q[0].remaining <= 0 {
			q = q[1:]
		}
		if len(q) == 0 {
			delete(s.faults.next, m)
		} else {
			s.faults.next[m] = q
		}
		return &f
	}
	for _, m := range []string{method, AnyMethod} {
		if r, ok := s.faults.rates[m]; ok && s.rng.Float64() < r.p {
			return &fault{code: r.code, description: defaultDescription(r.code, 0)}
		}
	}
	return nil
}

// applyLatency waits for the configured latency; false if the request or
// the server went away meanwhile.
func (s *Server) applyLatency(ctx context.Context) bool {
	s.mu.Lock()
	d := s.faults.latency
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// waitHang blocks while SetHang(true) is in force; false if the request
// or the server went away meanwhile.
func (s *Server) waitHang(ctx context.Context) bool {
	for {
		s.mu.Lock()
		h := s.faults.hang
		s.mu.Unlock()
		if h == nil {
			return true
		}
		select {
		case <-h:
		case <-ctx.Done():
			return false
		case <-s.done:
			return false
		}
	}
}

// rateLimitLocked charges one message to chat against the limits, or
// returns the 429 to answer.
func (f *faultState) rateLimitLocked(now time.Time, chat wireChat, paid bool) *apiError {
	l := f.limits
	type charge struct {
		b              *bucket
		rate, capacity float64
	}
	var charges []charge
	if l.Global > 0 && !paid {
		charges = append(charges, charge{&f.global, l.Global, math.Max(1, math.Ceil(l.Global))})
	}
	if l.Paid > 0 && paid {
		charges = append(charges, charge{&f.paid, l.Paid, math.Max(1, math.Ceil(l.Paid/20))})
	}
	if l.PerChat > 0 {
		b := f.perChat[chat.ID]
		if b == nil {
			b = &bucket{}
			f.perChat[chat.ID] = b
		}
		capacity := float64(l.Burst)
		if capacity <= 0 {
			capacity = math.Max(1, math.Ceil(l.PerChat))
		}
		charges = append(charges, charge{b, l.PerChat, capacity})
	}
	if l.PerGroupPerMinute > 0 && chat.Type != telegram.ChatTypePrivate {
		b := f.perGroup[chat.ID]
		if b == nil {
			b = &bucket{}
			f.perGroup[chat.ID] = b
		}
		charges = append(charges, charge{b, float64(l.PerGroupPerMinute) / 60, float64(l.PerGroupPerMinute)})
	}
	var wait time.Duration
	for _, c := range charges {
		if ok, w := c.b.refill(now, c.rate, c.capacity); !ok {
			wait = max(wait, w)
		}
	}
	if wait > 0 {
		ra := l.RetryAfter
		if ra <= 0 {
			ra = max(1, int(math.Ceil(wait.Seconds())))
		}
		return &apiError{code: 429, description: fmt.Sprintf("Too Many Requests: retry after %d", ra), retryAfter: ra}
	}
	for _, c := range charges {
		c.b.tokens--
	}
	return nil
}

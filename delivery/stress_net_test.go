package delivery_test

// The network between the stress test's replicas and the fake Bot API: an
// http.RoundTripper in front of fakebot's in-process handler that
// adds latency, hangs and a proxy's HTML error pages, and records every
// sendMessage request with what became of it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// Faults of one request, as recorded in netEvent.fault.
const (
	faultNone      = ""
	faultTimeout   = "timeout"    // the caller's context ended on the way (no answer)
	faultHang      = "hang"       // the request hung before Telegram: never delivered
	faultHangAfter = "hang-after" // delivered, then the answer never came back
	faultHTML      = "html"       // a proxy answered an HTML error page
	faultStorm     = "429-storm"  // an injected 429
	faultFlood     = "429-flood"  // the fake's own flood limits answered 429
	fault5xx       = "5xx"        // Telegram answered a JSON 5xx
	fault403       = "403"        // blocked (the scenario blocked the chat)
	fault4xx       = "4xx"        // any other JSON 4xx
)

// stormMark ends the description of injected 429s, so that the record
// tells them from the fake's own flood limits.
const stormMark = " (storm)"

// netEvent is one sendMessage request.
type netEvent struct {
	// at is when the request left the dispatcher; the fake sees it
	// uplink later (a constant of the scenario).
	at   time.Time
	chat int64
	text string
	// status is the HTTP status the caller got, 0 when it got none.
	status int
	// delivered: the fake accepted the message; acked: the caller got
	// that answer (delivered && !acked is a send whose outcome the
	// caller cannot know, a possible duplicate).
	delivered, acked bool
	fault            string
	retryAfter       time.Duration
	// end is when the caller got its answer or gave up.
	end time.Time
}

// netFaults are the probabilities of the faults stressNet injects itself.
type netFaults struct {
	uplink    time.Duration // constant latency to Telegram
	downlink  time.Duration // the answer takes uniform [0, downlink]
	hang      float64       // hang before Telegram
	hangAfter float64       // hang after Telegram accepted the message
	html      float64       // the proxy answers an HTML page
	htmlCode  int           // its status (502, or 403 for finding 2)
}

// stressNet is the transport of every Bot API client of a run.
type stressNet struct {
	next http.RoundTripper
	f    netFaults

	mu     sync.Mutex
	rng    *rand.Rand
	events []netEvent
}

func newStressNet(tg *fakebot.Server, f netFaults, seed uint64) *stressNet {
	return &stressNet{next: tg.Transport(), f: f, rng: rand.New(rand.NewPCG(seed, 0x6e6574))}
}

// client returns a Bot API client on this network.
func (n *stressNet) client(tg *fakebot.Server) *telegram.Client {
	return telegram.NewClient(tg.URL(), tg.Token(), telegram.WithHTTPClient(&http.Client{Transport: n}))
}

// snapshot returns a copy of the record.
func (n *stressNet) snapshot() []netEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]netEvent(nil), n.events...)
}

func (n *stressNet) update(i int, f func(e *netEvent)) {
	n.mu.Lock()
	f(&n.events[i])
	n.events[i].end = time.Now()
	n.mu.Unlock()
}

// wait sleeps d on the caller's clock; false when ctx ended first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (n *stressNet) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("stress net: read request: %w", err)
	}
	if !strings.HasSuffix(req.URL.Path, "/sendMessage") {
		return n.forward(req, body)
	}
	var p struct {
		ChatID int64  `json:"chat_id"`
		Text   string `json:"text"`
	}
	_ = json.Unmarshal(body, &p)
	n.mu.Lock()
	roll := n.rng.Float64()
	down := time.Duration(0)
	if n.f.downlink > 0 {
		down = time.Duration(n.rng.Int64N(int64(n.f.downlink) + 1))
	}
	i := len(n.events)
	n.events = append(n.events, netEvent{at: time.Now(), chat: p.ChatID, text: p.Text})
	n.mu.Unlock()
	ctx := req.Context()
	if !wait(ctx, n.f.uplink) {
		n.update(i, func(e *netEvent) { e.fault = faultTimeout })
		return nil, ctx.Err()
	}
	switch {
	case roll < n.f.hang:
		<-ctx.Done()
		n.update(i, func(e *netEvent) { e.fault = faultHang })
		return nil, ctx.Err()
	case roll < n.f.hang+n.f.html:
		n.update(i, func(e *netEvent) { e.fault, e.status = faultHTML, n.f.htmlCode })
		return htmlPage(req, n.f.htmlCode), nil
	}
	resp, err := n.forward(req, body)
	if err != nil {
		n.update(i, func(e *netEvent) { e.fault = faultTimeout })
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("stress net: read answer: %w", err)
	}
	var a struct {
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	_ = json.Unmarshal(data, &a)
	delivered := resp.StatusCode == http.StatusOK
	fault := faultNone
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests && strings.HasSuffix(a.Description, stormMark):
		fault = faultStorm
	case c == http.StatusTooManyRequests:
		fault = faultFlood
	case c == http.StatusForbidden:
		fault = fault403
	case c >= 500:
		fault = fault5xx
	case c >= 400:
		fault = fault4xx
	}
	n.update(i, func(e *netEvent) {
		e.delivered, e.fault, e.retryAfter = delivered, fault, time.Duration(a.Parameters.RetryAfter)*time.Second
	})
	if delivered && roll >= n.f.hang+n.f.html && roll < n.f.hang+n.f.html+n.f.hangAfter {
		<-ctx.Done()
		n.update(i, func(e *netEvent) { e.fault = faultHangAfter })
		return nil, ctx.Err()
	}
	if !wait(ctx, down) { // delivered, but the caller gave up first
		n.update(i, func(e *netEvent) {})
		return nil, ctx.Err()
	}
	n.update(i, func(e *netEvent) { e.status, e.acked = resp.StatusCode, delivered })
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// forward hands the request to the fake.
func (n *stressNet) forward(req *http.Request, body []byte) (*http.Response, error) {
	r2 := req.Clone(req.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := n.next.RoundTrip(r2)
	if err != nil {
		return nil, fmt.Errorf("stress net: %w", err)
	}
	return resp, nil
}

// htmlPage is a proxy's error page (nginx style).
func htmlPage(req *http.Request, code int) *http.Response {
	text := fmt.Sprintf("%d %s", code, http.StatusText(code))
	body := fmt.Sprintf("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", text, text)
	return &http.Response{
		Status: text, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}
}

// botReply queues one bot reply (the answer to a /start or /stop) the
// way updates.Handler does: at the head of the chat's backlog, for the
// workers to send within the limits like any notification.
func botReply(ctx context.Context, d *delivery.Dispatcher, _ delivery.Sender, chat int64, text string) {
	_, _ = d.EnqueueReply(ctx, delivery.Reply{ChatID: chat, Text: text})
}

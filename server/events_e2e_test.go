package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/server"
	"github.com/tgnotify/tgnotify/store/redistest"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// startEventsHarness starts the service on backend ("memory" or "redis")
// with updates by webhook, texts forwarded and a short heartbeat.
func startEventsHarness(t *testing.T, backend string, env map[string]string) *harness {
	t.Helper()
	return startEventsHarnessWith(t, backend, true, env)
}

// startEventsHarnessWith is startEventsHarness with updates by webhook or
// by long polling.
func startEventsHarnessWith(t *testing.T, backend string, webhook bool, env map[string]string) *harness {
	t.Helper()
	o := harnessOpts{webhook: webhook, env: map[string]string{
		"NOTIFIER_FORWARD_MESSAGES": "true",
		"NOTIFIER_EVENT_HEARTBEAT":  "200ms",
	}}
	for k, v := range env {
		o.env[k] = v
	}
	if backend == "redis" {
		o.redisURL = redistest.Start(t).URL()
	}
	return startHarness(t, o)
}

// watcher collects the events of one WatchEvents stream; heartbeats are
// counted apart.
type watcher struct {
	t          *testing.T
	cancel     context.CancelFunc
	done       chan struct{}
	mu         sync.Mutex
	evs        []*notifierv1.Event
	heartbeats int
	err        error
}

func watch(t *testing.T, c notifierv1.NotifierServiceClient, req *notifierv1.WatchEventsRequest) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.WatchEvents(ctx, req)
	if err != nil {
		cancel()
		t.Fatalf("WatchEvents: %v", err)
	}
	w := &watcher{t: t, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			ev, err := stream.Recv()
			w.mu.Lock()
			switch {
			case err != nil:
				w.err = err
			case ev.GetType() == notifierv1.EventType_EVENT_TYPE_UNSPECIFIED:
				if ev.GetCursor() != "" {
					w.err = fmt.Errorf("heartbeat with cursor %q", ev.GetCursor())
				}
				w.heartbeats++
			default:
				w.evs = append(w.evs, ev)
			}
			w.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(w.stop)
	return w
}

// stop drops the stream and waits for its reader to end.
func (w *watcher) stop() {
	w.cancel()
	<-w.done
}

// events returns what the stream delivered so far.
func (w *watcher) events() []*notifierv1.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.evs)
}

// waitFor waits until the stream delivered n events and returns them all.
func (w *watcher) waitFor(n int) []*notifierv1.Event {
	w.t.Helper()
	eventually(w.t, 10*time.Second, fmt.Sprintf("%d events watched", n), func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.err != nil {
			w.t.Fatalf("WatchEvents ended: %v (after %d events)", w.err, len(w.evs))
		}
		return len(w.evs) >= n
	})
	return w.events()
}

// describe is an event without its cursor, id and time, for comparisons.
func describe(e *notifierv1.Event) string {
	s := strings.TrimPrefix(e.GetType().String(), "EVENT_TYPE_") + " user=" + e.GetUserId()
	if e.GetChatId() != 0 {
		s += fmt.Sprintf(" chat=%d", e.GetChatId())
	}
	if e.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_UNSPECIFIED {
		s += " state=" + strings.TrimPrefix(e.GetState().String(), "NOTIFICATION_STATE_")
	}
	if e.GetReason() != "" {
		s += " reason=" + e.GetReason()
	}
	if e.GetText() != "" {
		s += fmt.Sprintf(" text=%q", e.GetText())
	}
	return s
}

func describeAll(evs []*notifierv1.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = describe(e)
	}
	return out
}

func cursors(evs []*notifierv1.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.GetCursor()
	}
	return out
}

// listAll pages through ListEvents after after, limit a page.
func listAll(t *testing.T, c notifierv1.NotifierServiceClient, after string, limit int32) []*notifierv1.Event {
	t.Helper()
	var all []*notifierv1.Event
	for range 1000 {
		resp, err := c.ListEvents(ctxT(t), &notifierv1.ListEventsRequest{AfterCursor: after, Limit: limit})
		if err != nil {
			t.Fatalf("ListEvents(after %q): %v", after, err)
		}
		if len(resp.GetEvents()) > int(limit) {
			t.Fatalf("ListEvents returned %d events, limit %d", len(resp.GetEvents()), limit)
		}
		all = append(all, resp.GetEvents()...)
		if len(resp.GetEvents()) == 0 {
			if resp.GetNextCursor() != after {
				t.Fatalf("empty page moved the cursor from %q to %q", after, resp.GetNextCursor())
			}
			return all
		}
		after = resp.GetNextCursor()
	}
	t.Fatal("ListEvents never ended")
	return nil
}

// TestEventsFromTheRealFlows: every event type the real flows make
// (button presses are issue "Rich messages"'), in order, live on a
// WatchEvents stream, then the same by ListEvents paging, over gRPC and
// REST, on both backends, with updates by webhook and by polling.
func TestEventsFromTheRealFlows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend string
		webhook bool
	}{{"memory", true}, {"redis", true}, {"memory", false}, {"redis", false}} {
		name := tc.backend + "/polling"
		if tc.webhook {
			name = tc.backend + "/webhook"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := startEventsHarnessWith(t, tc.backend, tc.webhook, nil)
			w := watch(t, h.client, &notifierv1.WatchEventsRequest{})
			var want []string
			// step expects the next events (in any order within the step).
			step := func(what string, next ...string) {
				t.Helper()
				got := w.waitFor(len(want) + len(next))
				inOrder := describeAll(got[len(want) : len(want)+len(next)])
				gotStep := slices.Clone(inOrder)
				slices.Sort(gotStep)
				wantStep := slices.Clone(next)
				slices.Sort(wantStep)
				if !slices.Equal(gotStep, wantStep) {
					t.Fatalf("%s: events %q, want %q", what, gotStep, wantStep)
				}
				want = append(want, inOrder...)
			}
			testEventFlows(t, h, step)
			// Nothing more than expected arrived.
			if got := w.events(); len(got) != len(want) {
				t.Fatalf("watched %d events, want %d: %q", len(got), len(want), describeAll(got))
			}
			watched := w.events()
			for i, e := range watched {
				if e.GetCursor() == "" || e.GetEventId() == "" || e.GetTime() == nil {
					t.Fatalf("event %d lacks cursor, id or time: %v", i, e)
				}
				if i > 0 && e.GetCursor() == watched[i-1].GetCursor() {
					t.Fatalf("event %d repeats cursor %s", i, e.GetCursor())
				}
			}
			// ListEvents in pages of 3 gives the same events, cursors and all.
			listed := listAll(t, h.client, "", 3)
			if !slices.Equal(cursors(listed), cursors(watched)) || !slices.Equal(describeAll(listed), want) {
				t.Fatalf("ListEvents = %q\nwant %q", describeAll(listed), want)
			}
			// Filters: one user's unlinks.
			resp, err := h.client.ListEvents(ctxT(t), &notifierv1.ListEventsRequest{UserId: "alice",
				Types: []notifierv1.EventType{notifierv1.EventType_EVENT_TYPE_USER_UNLINKED}})
			if err != nil {
				t.Fatal(err)
			}
			if got := describeAll(resp.GetEvents()); !slices.Equal(got, []string{
				"USER_UNLINKED user=alice chat=7001 reason=stop",
				"USER_UNLINKED user=alice chat=7001 reason=relinked",
				"USER_UNLINKED user=alice chat=7002 reason=blocked",
			}) {
				t.Fatalf("alice's unlinks = %q", got)
			}
			testEventsREST(t, h, watched)
		})
	}
}

// testEventFlows walks every flow that makes an event; step checks the
// events each makes.
func testEventFlows(t *testing.T, h *harness, step func(what string, next ...string)) {
	ctx := ctxT(t)
	h.link("alice", 7001)
	step("link", "USER_LINKED user=alice chat=7001")

	n := h.notify(&notifierv1.NotifyRequest{UserId: "alice", Text: "hi"})
	if r := h.waitFinal(n.GetNotificationId()); r.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_SENT {
		t.Fatalf("notification %v", r)
	}
	step("sent", "NOTIFICATION_SENT user=alice chat=7001 state=SENT")

	h.fake.SendText(7001, "user7001", "hello bot")
	h.fake.SendText(7001, "user7001", "/help") // a command: not forwarded
	step("forwarded text", `MESSAGE_RECEIVED user=alice chat=7001 text="hello bot"`)

	h.fake.FailNext("sendMessage", 1, 400, "Bad Request: chat not found", 0)
	n = h.notify(&notifierv1.NotifyRequest{UserId: "alice", Text: "lost"})
	if r := h.waitFinal(n.GetNotificationId()); r.GetFailureReason() != "chat_not_found" {
		t.Fatalf("notification %v, want FAILED chat_not_found", r)
	}
	step("failed", "NOTIFICATION_FAILED user=alice chat=7001 state=FAILED reason=chat_not_found")

	before := len(h.fake.Messages(7001))
	h.fake.SendText(7001, "user7001", "/stop")
	step("/stop", "USER_UNLINKED user=alice chat=7001 reason=stop")
	// The bot's answer to /stop is sent after the unlink: wait for it, so
	// that the next link's welcome is not mistaken for it.
	if _, err := h.fake.WaitForMessages(ctxT(t), 7001, before+1); err != nil {
		t.Fatalf("no answer to /stop: %v", err)
	}

	h.link("alice", 7001)
	step("link again", "USER_LINKED user=alice chat=7001")
	h.link("alice", 7002)
	step("relink", "USER_UNLINKED user=alice chat=7001 reason=relinked", "USER_LINKED user=alice chat=7002")

	h.fake.Block(7002)
	step("blocked update", "USER_UNLINKED user=alice chat=7002 reason=blocked")

	h.link("bob", 7003)
	step("link bob", "USER_LINKED user=bob chat=7003")
	h.fake.Deactivate(7003) // 403 on the next send, no update
	n = h.notify(&notifierv1.NotifyRequest{UserId: "bob", Text: "anyone?"})
	h.waitFinal(n.GetNotificationId())
	step("403 on send", "NOTIFICATION_FAILED user=bob chat=7003 state=FAILED reason=blocked",
		"USER_UNLINKED user=bob chat=7003 reason=blocked")

	h.link("carol", 7004)
	step("link carol", "USER_LINKED user=carol chat=7004")
	resp, err := h.client.Unlink(ctx, &notifierv1.UnlinkRequest{UserId: "carol"})
	if err != nil || !resp.GetWasLinked() {
		t.Fatalf("Unlink = %v, %v; want was_linked", resp, err)
	}
	step("Unlink", "USER_UNLINKED user=carol chat=7004 reason=app")
}

// testEventsREST reads the same log over REST: ListEvents pages, and a
// WatchEvents stream resumed after the third event.
func testEventsREST(t *testing.T, h *harness, watched []*notifierv1.Event) {
	code, body := h.rest("GET", "/v1/events?limit=2&after_cursor="+watched[0].GetCursor(), nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/events = %d %v", code, body)
	}
	evs, _ := body["events"].([]any)
	if len(evs) != 2 || body["next_cursor"] != watched[2].GetCursor() {
		t.Fatalf("GET /v1/events = %v; want events 2 and 3, next_cursor %s", body, watched[2].GetCursor())
	}
	first, _ := evs[0].(map[string]any)
	if first["cursor"] != watched[1].GetCursor() || first["event_id"] != watched[1].GetEventId() || first["type"] != watched[1].GetType().String() {
		t.Fatalf("REST event = %v, want %v", first, watched[1])
	}
	code, body = h.rest("GET", "/v1/events?types=EVENT_TYPE_USER_LINKED&user_id=bob", nil)
	if evs, _ := body["events"].([]any); code != http.StatusOK || len(evs) != 1 {
		t.Fatalf("GET /v1/events filtered = %d %v; want bob's link", code, body)
	}

	got := restWatch(t, h, watched[2].GetCursor(), len(watched)-3)
	if !slices.Equal(cursors(got), cursors(watched[3:])) {
		t.Fatalf("REST watch after event 3 = %q, want %q", cursors(got), cursors(watched[3:]))
	}
}

// restWatch reads n events from GET /v1/events:watch after the cursor
// after (newline-delimited {"result": Event} objects; heartbeats skipped),
// then drops the stream.
func restWatch(t *testing.T, h *harness, after string, n int) []*notifierv1.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.base+"/v1/events:watch?after_cursor="+after, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /v1/events:watch = %d %s", resp.StatusCode, b)
	}
	var out []*notifierv1.Event
	heartbeats := 0
	sc := bufio.NewScanner(resp.Body)
	for len(out) < n && sc.Scan() {
		var line struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Error != nil {
			t.Fatalf("stream line %q: %v", sc.Bytes(), err)
		}
		var ev notifierv1.Event
		if err := protojson.Unmarshal(line.Result, &ev); err != nil {
			t.Fatalf("event %s: %v", line.Result, err)
		}
		if ev.GetType() == notifierv1.EventType_EVENT_TYPE_UNSPECIFIED {
			heartbeats++
			continue
		}
		out = append(out, &ev)
	}
	if len(out) < n {
		t.Fatalf("REST stream ended after %d of %d events: %v", len(out), n, sc.Err())
	}
	return out
}

// TestWatchEventsResume: a stream dropped mid-way and resumed with its
// last cursor gets every later event once, in order, then live ones;
// heartbeats while idle.
func TestWatchEventsResume(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			h := startEventsHarness(t, backend, nil)
			h.link("dora", 8001)
			say := func(text string) { h.fake.SendText(8001, "user8001", text) }
			for i := range 3 {
				say(fmt.Sprint("before ", i))
			}
			w := watch(t, h.client, &notifierv1.WatchEventsRequest{
				Types: []notifierv1.EventType{notifierv1.EventType_EVENT_TYPE_MESSAGE_RECEIVED}})
			first := w.waitFor(3)
			w.stop()
			for i := range 4 {
				say(fmt.Sprint("while away ", i))
			}
			eventually(t, 10*time.Second, "7 texts in the log", func() bool {
				return len(listAll(t, h.client, "", 100)) == 8 // the link and 7 texts
			})
			w2 := watch(t, h.client, &notifierv1.WatchEventsRequest{AfterCursor: first[2].GetCursor(),
				Types: []notifierv1.EventType{notifierv1.EventType_EVENT_TYPE_MESSAGE_RECEIVED}})
			got := w2.waitFor(4)
			say("live")
			got = w2.waitFor(5)
			var texts []string
			for _, e := range append(first, got...) {
				texts = append(texts, e.GetText())
			}
			want := []string{"before 0", "before 1", "before 2", "while away 0", "while away 1", "while away 2", "while away 3", "live"}
			if !slices.Equal(texts, want) {
				t.Fatalf("texts across the reconnect = %q, want %q", texts, want)
			}
			// Idle: heartbeats every 200 ms, no event.
			w2.mu.Lock()
			hb := w2.heartbeats
			w2.mu.Unlock()
			eventually(t, 5*time.Second, "heartbeats", func() bool {
				w2.mu.Lock()
				defer w2.mu.Unlock()
				return w2.heartbeats >= hb+2
			})
			if n := len(w2.events()); n != 5 {
				t.Fatalf("%d events on the resumed stream, want 5", n)
			}
		})
	}
}

// TestWatchEventsLatency: a live event reaches a waiting stream within
// 100 ms of its append on the same replica.
func TestWatchEventsLatency(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			h := startEventsHarness(t, backend, map[string]string{"NOTIFIER_EVENT_HEARTBEAT": "15s"})
			for i := range 5 {
				h.link(fmt.Sprint("lat", i), int64(8100+i))
			}
			w := watch(t, h.client, &notifierv1.WatchEventsRequest{
				Types: []notifierv1.EventType{notifierv1.EventType_EVENT_TYPE_USER_UNLINKED}})
			var worst time.Duration
			for i := range 5 {
				start := time.Now()
				if _, err := h.client.Unlink(ctxT(t), &notifierv1.UnlinkRequest{UserId: fmt.Sprint("lat", i)}); err != nil {
					t.Fatal(err)
				}
				w.waitFor(i + 1)
				worst = max(worst, time.Since(start))
			}
			if worst > 100*time.Millisecond {
				t.Fatalf("slowest Unlink → event on the stream: %s, want within 100ms", worst)
			}
		})
	}
}

// TestWatchEventsAcrossReplicas: an event one replica appends reaches a
// stream on another within 1 s.
func TestWatchEventsAcrossReplicas(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	a := startHarness(t, harnessOpts{redisURL: rs.URL()})
	b := startHarness(t, harnessOpts{redisURL: rs.URL(), fake: a.fake})
	a.link("rex", 8201)
	w := watch(t, b.client, &notifierv1.WatchEventsRequest{
		Types: []notifierv1.EventType{notifierv1.EventType_EVENT_TYPE_USER_UNLINKED}})
	start := time.Now()
	if _, err := a.client.Unlink(ctxT(t), &notifierv1.UnlinkRequest{UserId: "rex"}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(1)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("event reached the other replica's stream after %s, want within 1s", el)
	}
}

// TestUnlink: was_linked true then false; the goodbye reaches the chat;
// notifications still queued fail "unlinked", never sent.
func TestUnlink(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			h := startEventsHarness(t, backend, nil)
			const chat = 8301
			h.link("eve", chat)
			// A 429 pauses every send for 2 s: the notifications stay queued.
			h.fake.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 2", 2)
			n1 := h.notify(&notifierv1.NotifyRequest{UserId: "eve", Text: "first"})
			n2 := h.notify(&notifierv1.NotifyRequest{UserId: "eve", Text: "second"})
			eventually(t, 5*time.Second, "the 429", func() bool { return h.fake.Count429() == 1 })

			resp, err := h.client.Unlink(ctxT(t), &notifierv1.UnlinkRequest{UserId: "eve", SayGoodbye: true})
			if err != nil || !resp.GetWasLinked() {
				t.Fatalf("Unlink = %v, %v; want was_linked", resp, err)
			}
			code, body := h.rest("DELETE", "/v1/users/eve/link", nil)
			if code != http.StatusOK || body["was_linked"] != false {
				t.Fatalf("DELETE /v1/users/eve/link again = %d %v; want was_linked false", code, body)
			}
			resp, err = h.client.Unlink(ctxT(t), &notifierv1.UnlinkRequest{UserId: "never-linked", SayGoodbye: true})
			if err != nil || resp.GetWasLinked() {
				t.Fatalf("Unlink(never linked) = %v, %v", resp, err)
			}
			for _, n := range []*notifierv1.NotifyResponse{n1, n2} {
				r := h.waitFinal(n.GetNotificationId())
				if r.GetState() != notifierv1.NotificationState_NOTIFICATION_STATE_FAILED || r.GetFailureReason() != "unlinked" {
					t.Fatalf("queued notification after Unlink = %v, want FAILED unlinked", r)
				}
			}
			msgs, err := h.fake.WaitForMessages(ctxT(t), chat, 2) // the welcome, the goodbye
			if err != nil {
				t.Fatal(err)
			}
			if got := msgs[len(msgs)-1].Text; got != server.GoodbyeMessage {
				t.Fatalf("last message = %q, want the goodbye", got)
			}
			for _, m := range h.fake.Messages(chat) {
				if m.Text == "first" || m.Text == "second" {
					t.Fatalf("a notification reached the unlinked chat: %q", m.Text)
				}
			}
			st, err := h.client.GetStatus(ctxT(t), &notifierv1.GetStatusRequest{UserId: "eve"})
			if err != nil || st.GetLinked() {
				t.Fatalf("GetStatus after Unlink = %v, %v", st, err)
			}
			var reasons []string
			for _, e := range listAll(t, h.client, "", 100) {
				reasons = append(reasons, describe(e))
			}
			for _, want := range []string{"USER_UNLINKED user=eve chat=8301 reason=app",
				"NOTIFICATION_FAILED user=eve chat=8301 state=FAILED reason=unlinked"} {
				if !slices.Contains(reasons, want) {
					t.Errorf("log lacks %q: %q", want, reasons)
				}
			}
		})
	}
}

// TestEventsOutOfRange: once the log trimmed the events after a cursor,
// reading after it answers OUT_OF_RANGE naming the oldest cursor left.
func TestEventsOutOfRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend string
		texts   int
	}{{"memory", 30}, {"redis", 350}} { // Redis trims whole stream nodes of 100 entries
		t.Run(tc.backend, func(t *testing.T) {
			t.Parallel()
			h := startEventsHarness(t, tc.backend, map[string]string{"NOTIFIER_EVENT_MAX": "10"})
			h.link("fay", 8401)
			first := listAll(t, h.client, "", 10)[0].GetCursor()
			for i := range tc.texts {
				h.fake.SendText(8401, "user8401", fmt.Sprint("text ", i))
			}
			// One page from the oldest: paging while texts still arrive could
			// meet a cursor trimmed in between.
			page := func() []*notifierv1.Event {
				resp, err := h.client.ListEvents(ctxT(t), &notifierv1.ListEventsRequest{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				return resp.GetEvents()
			}
			eventually(t, 20*time.Second, "the last text logged", func() bool {
				evs := page()
				return len(evs) > 0 && evs[len(evs)-1].GetText() == fmt.Sprint("text ", tc.texts-1)
			})
			retained := page()
			if len(retained) >= tc.texts {
				t.Fatalf("%d events retained with NOTIFIER_EVENT_MAX=10", len(retained))
			}
			oldest := retained[0].GetCursor()
			_, err := h.client.ListEvents(ctxT(t), &notifierv1.ListEventsRequest{AfterCursor: first})
			wantCode(t, err, codes.OutOfRange)
			if msg := status.Convert(err).Message(); !strings.Contains(msg, oldest) {
				t.Fatalf("OUT_OF_RANGE message %q does not name the oldest cursor %s", msg, oldest)
			}
			stream, err := h.client.WatchEvents(ctxT(t), &notifierv1.WatchEventsRequest{AfterCursor: first})
			if err == nil {
				_, err = stream.Recv()
			}
			wantCode(t, err, codes.OutOfRange)
			if code, body := h.rest("GET", "/v1/events?after_cursor="+first, nil); code != http.StatusBadRequest ||
				!strings.Contains(fmt.Sprint(body["message"]), oldest) {
				t.Fatalf("REST = %d %v", code, body)
			}
		})
	}
}

// TestEventsBadInput: every bad field is INVALID_ARGUMENT naming it.
func TestEventsBadInput(t *testing.T) {
	t.Parallel()
	h := startEventsHarness(t, "memory", nil)
	c := h.client
	long := strings.Repeat("u", server.MaxUserIDLen+1)
	cases := []struct {
		name, field string
		call        func(ctx context.Context) error
	}{
		{"limit negative", "limit", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{Limit: -1})
			return err
		}},
		{"limit too big", "limit", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{Limit: 1001})
			return err
		}},
		{"type unspecified", "types", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{Types: []notifierv1.EventType{0}})
			return err
		}},
		{"type unknown", "types", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{Types: []notifierv1.EventType{99}})
			return err
		}},
		{"cursor malformed", "after_cursor", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{AfterCursor: "yesterday"})
			return err
		}},
		{"cursor too long", "after_cursor", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{AfterCursor: strings.Repeat("1", 65)})
			return err
		}},
		{"user too long", "user_id", func(ctx context.Context) error {
			_, err := c.ListEvents(ctx, &notifierv1.ListEventsRequest{UserId: long})
			return err
		}},
		{"watch cursor malformed", "after_cursor", func(ctx context.Context) error {
			s, err := c.WatchEvents(ctx, &notifierv1.WatchEventsRequest{AfterCursor: "1-x"})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}},
		{"watch type unspecified", "types", func(ctx context.Context) error {
			s, err := c.WatchEvents(ctx, &notifierv1.WatchEventsRequest{Types: []notifierv1.EventType{0}})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}},
		{"unlink without user", "user_id", func(ctx context.Context) error {
			_, err := c.Unlink(ctx, &notifierv1.UnlinkRequest{})
			return err
		}},
		{"unlink user too long", "user_id", func(ctx context.Context) error {
			_, err := c.Unlink(ctx, &notifierv1.UnlinkRequest{UserId: long})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(ctxT(t))
			wantCode(t, err, codes.InvalidArgument)
			if msg := status.Convert(err).Message(); !strings.Contains(msg, tc.field) {
				t.Fatalf("message %q does not name %s", msg, tc.field)
			}
		})
	}
	for _, q := range []string{"limit=5000", "types=99", "after_cursor=nope"} {
		code, body := h.rest("GET", "/v1/events?"+q, nil)
		if code != http.StatusBadRequest {
			t.Errorf("GET /v1/events?%s = %d %v, want 400", q, code, body)
		}
	}
}

// TestWatchEventsEndsAtShutdown: an open stream does not hold up a
// graceful shutdown; it ends with UNAVAILABLE.
func TestWatchEventsEndsAtShutdown(t *testing.T) {
	t.Parallel()
	h := startEventsHarness(t, "memory", map[string]string{"NOTIFIER_EVENT_HEARTBEAT": "15s", "NOTIFIER_SHUTDOWN_TIMEOUT": "10s"})
	w := watch(t, h.client, &notifierv1.WatchEventsRequest{})
	h.link("gus", 8501)
	w.waitFor(1) // the stream is being served
	start := time.Now()
	h.stop()
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("shutdown with an open stream took %s", el)
	}
	<-w.done
	if st := status.Convert(w.err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "reconnect") {
		t.Fatalf("stream ended with %v, want UNAVAILABLE telling to reconnect", w.err)
	}
}

// TestWatchEventsResumeAfterRestart: a client whose service restarted
// resumes with its last cursor on the new process (the same Redis) and
// gets every event after it once, in order.
func TestWatchEventsResumeAfterRestart(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	fake := fakebot.NewServer()
	t.Cleanup(fake.Close)
	o := harnessOpts{redisURL: rs.URL(), fake: fake, env: map[string]string{"NOTIFIER_FORWARD_MESSAGES": "true"}}
	h := startHarness(t, o)
	h.link("hal", 8601)
	w := watch(t, h.client, &notifierv1.WatchEventsRequest{})
	before := w.waitFor(1)
	h.stop()
	<-w.done

	h2 := startHarness(t, o)
	for i := range 3 {
		fake.SendText(8601, "user8601", fmt.Sprint("after restart ", i))
	}
	w2 := watch(t, h2.client, &notifierv1.WatchEventsRequest{AfterCursor: before[0].GetCursor()})
	got := w2.waitFor(3)
	var texts []string
	for _, e := range got {
		texts = append(texts, e.GetText())
	}
	if want := []string{"after restart 0", "after restart 1", "after restart 2"}; !slices.Equal(texts, want) {
		t.Fatalf("after the restart: %q, want %q", texts, want)
	}
	if all := listAll(t, h2.client, "", 100); !slices.Equal(cursors(all), append(cursors(before), cursors(got)...)) {
		t.Fatalf("log %q, want the link then the 3 texts", describeAll(all))
	}
}

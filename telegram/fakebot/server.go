package fakebot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/telegram"
)

// Defaults of a [Server].
const (
	DefaultToken       = "123456789:AAFakeTokenForTestsOnly_0123456789ab"
	DefaultBotUsername = "tgnotify_test_bot"
	DefaultBotID       = 123456789
	// DefaultFirstUpdateID is the update_id of the first update.
	DefaultFirstUpdateID = 1000
	// DefaultMaxConnections is what setWebhook uses without max_connections.
	DefaultMaxConnections = 40
)

// maxRequestBody bounds the body of one Bot API request.
const maxRequestBody = 10 << 20

// Option configures a [Server].
type Option func(*Server)

// WithToken sets the bot token requests must carry (default [DefaultToken]).
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithBotUsername sets the bot's username (default [DefaultBotUsername]).
func WithBotUsername(name string) Option { return func(s *Server) { s.botUsername = name } }

// WithBotID sets the bot's user id (default [DefaultBotID]).
func WithBotID(id int64) Option { return func(s *Server) { s.botID = id } }

// WithFirstUpdateID sets the update_id of the first update (default
// [DefaultFirstUpdateID]).
func WithFirstUpdateID(id int64) Option { return func(s *Server) { s.nextUpdateID = id } }

// WithWebhookRetry sets the backoff between failed webhook deliveries of
// the same update: it starts at minWait and doubles up to maxWait (default
// 100ms to 1s).
func WithWebhookRetry(minWait, maxWait time.Duration) Option {
	return func(s *Server) {
		if minWait > 0 && maxWait >= minWait {
			s.retryMin, s.retryMax = minWait, maxWait
		}
	}
}

// WithWebhookTimeout bounds one webhook delivery (default 10s).
func WithWebhookTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.deliverTimeout = d
		}
	}
}

// WithClock replaces time.Now for message dates and rate limits.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// WithSeed makes the random faults of [Server.SetErrorRate] reproducible.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithLogger logs the fake's activity (default: nothing).
func WithLogger(l *zap.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// WithAddr sets the listen address (default "127.0.0.1:0").
func WithAddr(addr string) Option { return func(s *Server) { s.addr = addr } }

// Server is a fake Telegram Bot API: an HTTP server answering like
// api.telegram.org for getMe, sendMessage, setWebhook, deleteWebhook,
// getWebhookInfo and getUpdates, plus a Go API to play the users (see
// [Server.Start]) and fault knobs (see [Server.FailNext]). It is safe for
// concurrent use.
type Server struct {
	token, botUsername string
	botID              int64
	addr               string
	retryMin, retryMax time.Duration
	deliverTimeout     time.Duration
	now                func() time.Time
	log                *zap.Logger

	httpSrv  *http.Server
	listener net.Listener
	baseURL  string
	hc       *http.Client
	done     chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.Once

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every state change
	rng          *rand.Rand
	chats        map[int64]*chatState
	nextMsgID    map[int64]int64
	sent         []SentMessage
	queue        []queuedUpdate
	nextUpdateID int64
	nextSeq      int64
	allowed      []string // allowed_updates; nil: the default set
	webhook      webhookState
	pollCancel   chan struct{} // closed to terminate the running getUpdates
	// polls counts the getUpdates requests that became the running long
	// poll (WaitForPolls), which a call count alone cannot tell: two
	// concurrent requests may take the lock in either order.
	polls  int
	calls  map[string]int
	faults faultState
	// failMedia maps the media URLs that fail (FailMediaURL) to the
	// description they fail with; nextFile numbers the file_ids made.
	failMedia map[string]string
	nextFile  int64
	// callbacks are the callback queries of button presses (callbacks.go).
	callbacks callbackState

	// others are the further bots served on this server's listener
	// ([Server.AddBot]), by token; parent is the server whose listener
	// serves this one (nil for a server with its own).
	othersMu sync.Mutex
	others   map[string]*Server
	parent   *Server
}

type chatState struct {
	chat        wireChat
	user        *wireUser // the other party of a private chat
	blocked     bool
	deactivated bool
	migratedTo  int64
	botMember   bool // groups: the bot was added
	left        bool // groups: the bot left (or was removed without a ban)
	// topics are a forum supergroup's topics by message_thread_id.
	topics map[int64]*topicState
}

type queuedUpdate struct {
	seq  int64
	id   int64
	kind string
	raw  json.RawMessage
}

type webhookState struct {
	url            string
	secret         string
	maxConnections int
	lastErrorDate  int64
	lastErrorMsg   string
}

// NewServer starts a fake Bot API listening on 127.0.0.1:0 (see
// [WithAddr]). Close it when done. It panics if it cannot listen, like
// httptest.NewServer.
func NewServer(opts ...Option) *Server {
	s := newServer(opts)
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		panic(fmt.Sprintf("fakebot: listen on %s: %v", s.addr, err))
	}
	s.listener = l
	s.baseURL = "http://" + l.Addr().String()
	s.hc = &http.Client{Timeout: s.deliverTimeout}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(l)
	}()
	go func() {
		defer s.wg.Done()
		s.deliveryLoop()
	}()
	return s
}

// AddBot adds another bot to the server: one more token served on the
// same listener (the same URL), as api.telegram.org serves every bot, with
// state of its own (chats, messages, updates, webhook, faults), as each bot
// has at Telegram. opts set its token (it must differ from every other's),
// username and id; WithAddr is ignored. It is closed with s.
func (s *Server) AddBot(opts ...Option) *Server {
	b := newServer(opts)
	b.parent, b.baseURL, b.hc = s, s.baseURL, &http.Client{Timeout: b.deliverTimeout}
	s.othersMu.Lock()
	defer s.othersMu.Unlock()
	if b.token == s.token || s.others[b.token] != nil {
		panic("fakebot: AddBot: token already served")
	}
	if s.others == nil {
		s.others = map[string]*Server{}
	}
	s.others[b.token] = b
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.deliveryLoop()
	}()
	return b
}

// other returns the added bot of token, nil if none.
func (s *Server) other(token string) *Server {
	s.othersMu.Lock()
	defer s.othersMu.Unlock()
	return s.others[token]
}

// Close stops the server: it ends the webhook delivery, releases hanging
// requests and closes every connection. Closing a server closes the bots
// added to it; an added bot closed alone stops its webhook delivery.
func (s *Server) Close() {
	s.closeMu.Do(func() {
		close(s.done)
		s.mu.Lock()
		s.releaseHangLocked()
		s.notifyLocked()
		s.mu.Unlock()
		if s.httpSrv != nil {
			_ = s.httpSrv.Close()
		}
		s.wg.Wait()
		s.hc.CloseIdleConnections()
		s.othersMu.Lock()
		others := s.others
		s.othersMu.Unlock()
		for _, b := range others {
			b.Close()
		}
	})
}

// URL is the base URL to give telegram.NewClient, like
// "https://api.telegram.org".
func (s *Server) URL() string { return s.baseURL }

// Token is the bot token the server accepts.
func (s *Server) Token() string { return s.token }

// BotUsername is the bot's username, for t.me deep links.
func (s *Server) BotUsername() string { return s.botUsername }

// BotID is the bot's user id.
func (s *Server) BotID() int64 { return s.botID }

// Client returns a telegram.Client talking to this server.
func (s *Server) Client(opts ...telegram.ClientOption) *telegram.Client {
	return telegram.NewClient(s.baseURL, s.token, opts...)
}

// Handler returns the Bot API handler, serving /bot<token>/<method>, for
// mounting in another server. The server's own listener serves it too.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// notifyLocked wakes everything waiting for a state change.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// apiError is a Bot API failure answer.
type apiError struct {
	code        int
	description string
	retryAfter  int
	migrateTo   int64
}

// Error returns "<code> <description>".
func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.code, e.description) }

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: 400, description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

// defaultDescription is Telegram's description for a bare error code.
func defaultDescription(code, retryAfter int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden: bot was blocked by the user"
	case 404:
		return "Not Found"
	case 409:
		return "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	case 429:
		return fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Error"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOK(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"ok": false, "error_code": e.code, "description": e.description}
	p := map[string]any{}
	if e.retryAfter > 0 {
		p["retry_after"] = e.retryAfter
	}
	if e.migrateTo != 0 {
		p["migrate_to_chat_id"] = e.migrateTo
	}
	if len(p) > 0 {
		body["parameters"] = p
	}
	status := e.code
	if status < 400 || status > 599 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, body)
}

// canonicalMethod maps a lower-case method name to its Bot API spelling.
func canonicalMethod(lower string) (string, bool) {
	switch lower {
	case "getme":
		return "getMe", true
	case "sendmessage":
		return "sendMessage", true
	case "sendphoto":
		return "sendPhoto", true
	case "senddocument":
		return "sendDocument", true
	case "setwebhook":
		return "setWebhook", true
	case "deletewebhook":
		return "deleteWebhook", true
	case "getwebhookinfo":
		return "getWebhookInfo", true
	case "getupdates":
		return "getUpdates", true
	case "answercallbackquery":
		return "answerCallbackQuery", true
	case "editmessagetext", "editmessagecaption", "editmessagereplymarkup", "deletemessage", "deletemessages":
		return editMethodName(lower), true
	}
	return "", false
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		writeError(w, &apiError{code: 404, description: "Not Found"})
		return
	}
	token, method, ok := strings.Cut(rest, "/")
	if !ok || method == "" || strings.Contains(method, "/") {
		writeError(w, &apiError{code: 404, description: "Not Found"})
		return
	}
	if token != s.token {
		if b := s.other(token); b != nil {
			b.serveHTTP(w, r)
			return
		}
	}
	lower := strings.ToLower(method)
	s.mu.Lock()
	s.calls[lower]++
	s.notifyLocked()
	revoked := s.faults.revoked
	s.mu.Unlock()
	if token != s.token || revoked {
		writeError(w, &apiError{code: 401, description: "Unauthorized"})
		return
	}
	name, known := canonicalMethod(lower)
	if !known {
		writeError(w, &apiError{code: 404, description: "Not Found"})
		return
	}
	if !s.applyLatency(r.Context()) {
		return
	}
	if f := s.takeFault(lower); f != nil {
		f.write(w)
		s.count429(f.code)
		return
	}
	p, perr := parseParams(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	var (
		result any
		err    *apiError
	)
	switch name {
	case "getMe":
		result = s.botUser()
	case "sendMessage":
		if !s.waitHang(r.Context()) {
			return
		}
		result, err = s.sendMessage(p)
	case "sendPhoto", "sendDocument":
		if !s.waitHang(r.Context()) {
			return
		}
		result, err = s.sendMedia(p, name)
	case "editMessageText", "editMessageCaption", "editMessageReplyMarkup":
		result, err = s.editMessage(p, name)
	case "deleteMessage", "deleteMessages":
		result, err = s.deleteMessages(p, name)
	case "setWebhook":
		result, err = s.setWebhook(p)
	case "deleteWebhook":
		result, err = s.deleteWebhook(p)
	case "getWebhookInfo":
		result = s.webhookInfo()
	case "answerCallbackQuery":
		result, err = s.answerCallbackQuery(p)
	case "getUpdates":
		var gone bool
		result, err, gone = s.getUpdates(r.Context(), p)
		if gone {
			return
		}
	}
	if err != nil {
		s.count429(err.code)
		writeError(w, err)
		return
	}
	writeOK(w, result)
}

// params are a request's parameters: query string, urlencoded or multipart
// form values (as JSON strings) and JSON body fields merged.
type params map[string]json.RawMessage

func parseParams(r *http.Request) (params, *apiError) {
	p := params{}
	addForm := func(v url.Values) {
		for k, vs := range v {
			if len(vs) > 0 {
				b, _ := json.Marshal(vs[0])
				p[k] = b
			}
		}
	}
	addForm(r.URL.Query())
	if r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, badRequest("can't read request body")
	}
	if len(body) > maxRequestBody {
		return nil, &apiError{code: 413, description: "Request Entity Too Large"}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return p, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("can't parse form data")
		}
		addForm(v)
	case "multipart/form-data":
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(strings.NewReader(string(body)))
		r2.Header.Set("Content-Type", mime.FormatMediaType(ct, ctParams))
		if err := r2.ParseMultipartForm(maxRequestBody); err != nil {
			return nil, badRequest("can't parse multipart form data")
		}
		addForm(url.Values(r2.MultipartForm.Value))
	default: // JSON, whatever the Content-Type says
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, badRequest("can't parse JSON object")
		}
		for k, v := range m {
			if string(v) != "null" {
				p[k] = v
			}
		}
	}
	return p, nil
}

// str returns a string parameter; numbers and booleans as their text.
func (p params) str(k string) (string, bool) {
	raw, ok := p[k]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}

func (p params) int64(k string) (int64, bool, *apiError) {
	s, ok := p.str(k)
	if !ok {
		return 0, false, nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == float64(int64(f)) {
			return int64(f), true, nil
		}
		return 0, true, badRequest("field %q must be of type Integer", k)
	}
	return n, true, nil
}

func (p params) bool(k string) (bool, *apiError) {
	s, ok := p.str(k)
	if !ok {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, badRequest("field %q must be of type Boolean", k)
}

// object decodes a JSON object parameter (a JSON-serialized string in forms).
func (p params) object(k string, v any) (bool, *apiError) {
	raw, ok := p.raw(k)
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, badRequest("can't parse %s JSON object", k)
	}
	return true, nil
}

// raw returns parameter k as JSON: a JSON-serialized string (forms, or a
// JSON body that serialized it) is unwrapped.
func (p params) raw(k string) (json.RawMessage, bool) {
	raw, ok := p[k]
	if !ok {
		return nil, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	return raw, true
}

// typedObject decodes an object parameter of a Bot API type into the
// struct v, failing as Telegram does: "can't parse <name> JSON object"
// for what is not JSON, "object expected as <name>" for JSON that is not
// an object, and `field "f" must be of type Boolean` (or Integer, String)
// for a field of the wrong type.
func (p params) typedObject(k, name string, v any) (bool, *apiError) {
	raw, ok := p.raw(k)
	if !ok {
		return false, nil
	}
	var probe any
	if err := json.Unmarshal(raw, &probe); err != nil {
		return true, badRequest("can't parse %s JSON object", name)
	}
	if _, isObject := probe.(map[string]any); !isObject {
		return true, badRequest("object expected as %s", name)
	}
	var te *json.UnmarshalTypeError
	if err := json.Unmarshal(raw, v); errors.As(err, &te) {
		field := te.Field[strings.LastIndex(te.Field, ".")+1:]
		kind := map[reflect.Kind]string{reflect.Bool: "Boolean", reflect.String: "String"}[te.Type.Kind()]
		if kind == "" {
			kind = "Integer"
		}
		return true, badRequest("field %q must be of type %s", field, kind)
	} else if err != nil {
		return true, badRequest("can't parse %s JSON object", name)
	}
	return true, nil
}

// newServer returns a server with the defaults and opts applied, not yet
// listening (NewServer listens, NewInProcess never does).
func newServer(opts []Option) *Server {
	s := &Server{
		token:          DefaultToken,
		botUsername:    DefaultBotUsername,
		botID:          DefaultBotID,
		addr:           "127.0.0.1:0",
		retryMin:       100 * time.Millisecond,
		retryMax:       time.Second,
		deliverTimeout: 10 * time.Second,
		now:            time.Now,
		log:            zap.NewNop(),
		done:           make(chan struct{}),
		changed:        make(chan struct{}),
		rng:            rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		chats:          map[int64]*chatState{},
		nextMsgID:      map[int64]int64{},
		nextUpdateID:   DefaultFirstUpdateID,
		calls:          map[string]int{},
		failMedia:      map[string]string{},
	}
	s.faults.init()
	for _, o := range opts {
		o(s)
	}
	return s
}

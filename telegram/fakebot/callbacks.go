package fakebot

// Inline keyboards and callback queries: reply_markup on sent messages,
// checked as Telegram checks it; button presses as callback_query updates
// (Press); answerCallbackQuery, with the rule that an unanswered query
// shows a spinner until it is answered or too old (CallbackAnswerTimeout).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/telegram"
)

// CallbackAnswerTimeout is how long after a press answerCallbackQuery is
// accepted; later, Telegram answers "query is too old".
const CallbackAnswerTimeout = 15 * time.Second

// errQueryInvalid is Telegram's answer to a late, repeated or unknown
// answerCallbackQuery.
const errQueryInvalid = "query is too old and response timeout expired or query ID is invalid"

// Errors of the user actions on keyboards.
var (
	// ErrNoMessage: Press names no message the bot sent to that chat.
	ErrNoMessage = errors.New("fakebot: no such message")
	// ErrNoButton: the message has no callback button with that text.
	ErrNoButton = errors.New("fakebot: no such callback button")
)

// CallbackQuery is a press the fake sent as a callback_query update, and
// its answer.
type CallbackQuery struct {
	ID        string
	ChatID    int64
	MessageID int64
	FromID    int64
	Data      string
	// UpdateID is the update that carried it (the first one).
	UpdateID  int64
	PressedAt time.Time
	// Answered reports an accepted answerCallbackQuery, at AnsweredAt with
	// AnswerText and ShowAlert; until then the user sees a spinner.
	Answered   bool
	AnsweredAt time.Time
	AnswerText string
	ShowAlert  bool
	// Answers counts the answerCallbackQuery calls for this id (accepted
	// or not).
	Answers int
	raw     json.RawMessage
}

// callbackState is the fake's memory of callback queries.
type callbackState struct {
	queries map[string]*CallbackQuery
	order   []string
	nextID  int64
}

// wireKeyboard is an inline keyboard as the fake writes it.
type wireKeyboard struct {
	InlineKeyboard [][]wireButton `json:"inline_keyboard"`
}

type wireButton struct {
	Text         string        `json:"text"`
	URL          string        `json:"url,omitempty"`
	CallbackData string        `json:"callback_data,omitempty"`
	CopyText     *wireCopyText `json:"copy_text,omitempty"`
}

type wireCopyText struct {
	Text string `json:"text"`
}

// toKeyboard returns kb as the telegram package's (nil for nil).
func toKeyboard(kb *wireKeyboard) *telegram.InlineKeyboardMarkup {
	if kb == nil {
		return nil
	}
	out := &telegram.InlineKeyboardMarkup{InlineKeyboard: make([][]telegram.InlineKeyboardButton, len(kb.InlineKeyboard))}
	for r, row := range kb.InlineKeyboard {
		for _, b := range row {
			tb := telegram.InlineKeyboardButton{Text: b.Text, URL: b.URL, CallbackData: b.CallbackData}
			if b.CopyText != nil {
				tb.CopyText = &telegram.CopyTextButton{Text: b.CopyText.Text}
			}
			out.InlineKeyboard[r] = append(out.InlineKeyboard[r], tb)
		}
	}
	return out
}

// replyMarkupOf decodes and checks a send's reply_markup (nil: none) as
// Telegram does.
func replyMarkupOf(p params) (*wireKeyboard, *apiError) {
	raw, ok := p.raw("reply_markup")
	if !ok {
		return nil, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	kbRaw, ok := probe["inline_keyboard"]
	if !ok {
		return nil, nil // another kind of keyboard: not modelled, ignored
	}
	var rows [][]json.RawMessage
	if err := json.Unmarshal(kbRaw, &rows); err != nil {
		return nil, badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
	}
	kb := &wireKeyboard{InlineKeyboard: make([][]wireButton, 0, len(rows))}
	total := 0
	for _, row := range rows {
		total += len(row)
		if len(row) > 8 || total > 100 {
			return nil, badRequest("reply markup is too long")
		}
		out := make([]wireButton, 0, len(row))
		for _, b := range row {
			btn, err := parseButton(b)
			if err != nil {
				return nil, err
			}
			out = append(out, btn)
		}
		if len(out) > 0 { // Telegram drops empty rows
			kb.InlineKeyboard = append(kb.InlineKeyboard, out)
		}
	}
	return kb, nil
}

// parseButton checks one inline keyboard button: a text and exactly one
// action (of those modelled: url, callback_data, copy_text).
func parseButton(raw json.RawMessage) (wireButton, *apiError) {
	var b wireButton
	if err := json.Unmarshal(raw, &b); err != nil {
		return b, badRequest("can't parse inline keyboard button: object expected")
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields)
	actions := 0
	for _, k := range []string{"url", "callback_data", "copy_text", "login_url", "switch_inline_query",
		"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "callback_game", "pay", "web_app"} {
		if _, ok := fields[k]; ok {
			actions++
		}
	}
	switch {
	case strings.TrimSpace(b.Text) == "":
		return b, badRequest("can't parse inline keyboard button: Text must be non-empty")
	case actions == 0:
		return b, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	case actions > 1:
		return b, badRequest("can't parse inline keyboard button: InlineKeyboardButton must have exactly one optional field")
	}
	if _, ok := fields["callback_data"]; ok && (b.CallbackData == "" || len(b.CallbackData) > telegram.MaxCallbackData) {
		return b, badRequest("BUTTON_DATA_INVALID")
	}
	if _, ok := fields["url"]; ok && !validButtonURL(b.URL) {
		return b, badRequest("BUTTON_URL_INVALID")
	}
	if _, ok := fields["copy_text"]; ok {
		if b.CopyText == nil || b.CopyText.Text == "" || utf8.RuneCountInString(b.CopyText.Text) > 256 {
			return b, badRequest("can't parse inline keyboard button: CopyTextButton text must be 1-256 characters")
		}
	}
	return b, nil
}

// validButtonURL accepts the URLs Telegram opens from a button: http(s)
// and tg.
func validButtonURL(u string) bool {
	for _, p := range []string{"http://", "https://", "tg://"} {
		if len(u) > len(p) && strings.EqualFold(u[:len(p)], p) {
			return true
		}
	}
	return false
}

// Press plays the user of chatID pressing the callback button labelled
// buttonText of the bot's message messageID: a callback_query update is
// queued, and the query waits for answerCallbackQuery (a spinner). It
// returns the query's id; ErrNoMessage or ErrNoButton when there is no
// such message or callback button.
func (s *Server) Press(chatID, messageID int64, buttonText string) (string, error) {
	return s.PressAs(chatID, messageID, chatID, "", buttonText)
}

// PressAs is [Server.Press] by the user fromID (with username, when not
// empty): a member pressing a button in a group.
func (s *Server) PressAs(chatID, messageID, fromID int64, username, buttonText string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kb *telegram.InlineKeyboardMarkup
	found := false
	for _, m := range s.sent {
		if m.ChatID == chatID && m.MessageID == messageID {
			kb, found = m.ReplyMarkup, true
		}
	}
	if !found {
		return "", fmt.Errorf("%w: chat %d message %d", ErrNoMessage, chatID, messageID)
	}
	if kb != nil {
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				if b.Text == buttonText && b.CallbackData != "" {
					return s.pressLocked(chatID, messageID, fromID, username, b.CallbackData), nil
				}
			}
		}
	}
	return "", fmt.Errorf("%w: %q on chat %d message %d", ErrNoButton, buttonText, chatID, messageID)
}

// InjectCallback queues a callback_query from user fromID on message
// messageID of chatID with data, whatever the message's keyboard (for
// forged or stale presses), and returns the query's id.
func (s *Server) InjectCallback(chatID, messageID, fromID int64, data string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pressLocked(chatID, messageID, fromID, "", data)
}

// pressLocked registers a query and queues its update.
func (s *Server) pressLocked(chatID, messageID, fromID int64, username, data string) string {
	cb := &s.callbacks
	if cb.queries == nil {
		cb.queries = make(map[string]*CallbackQuery)
	}
	cb.nextID++
	id := strconv.FormatInt(4_000_000_000_000_000_000+cb.nextID, 10)
	from := s.memberLocked(fromID, username)
	chat := wireChat{ID: chatID, Type: telegram.ChatTypePrivate}
	if cs := s.chats[chatID]; cs != nil {
		chat = cs.chat
	}
	if cs := s.chats[fromID]; cs != nil && cs.user != nil && username == "" {
		from = *cs.user // a user the fake knows from their private chat
	}
	msg := wireMessage{MessageID: messageID, From: ptr(s.botUser()), Date: s.now().Unix(), Chat: chat}
	for _, m := range s.sent {
		if m.ChatID == chatID && m.MessageID == messageID {
			msg.Date, msg.Text = m.Time.Unix(), m.PlainText
		}
	}
	payload := map[string]any{"id": id, "from": from, "message": msg,
		"chat_instance": strconv.FormatInt(chatID*7919, 10), "data": data}
	u := s.enqueueLocked(telegram.UpdateKindCallbackQuery, payload)
	raw := s.queue[len(s.queue)-1].raw
	cb.queries[id] = &CallbackQuery{ID: id, ChatID: chatID, MessageID: messageID, FromID: from.ID, Data: data,
		UpdateID: u.UpdateID, PressedAt: s.now(), raw: raw}
	cb.order = append(cb.order, id)
	return id
}

// RedeliverCallback queues the update of query id again, as Telegram does
// when it is not sure the bot got it: with the same update_id, or with
// newUpdateID a fresh one (the same query in another update). It returns
// false for an unknown query.
func (s *Server) RedeliverCallback(id string, newUpdateID bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.callbacks.queries[id]
	if q == nil {
		return false
	}
	uid, raw := q.UpdateID, q.raw
	if newUpdateID {
		uid = s.nextUpdateID
		s.nextUpdateID++
		var m map[string]json.RawMessage
		_ = json.Unmarshal(q.raw, &m)
		m["update_id"] = json.RawMessage(strconv.FormatInt(uid, 10))
		raw, _ = json.Marshal(m)
	}
	s.pushLocked(uid, telegram.UpdateKindCallbackQuery, raw)
	return true
}

// Callback returns the query id as the fake knows it.
func (s *Server) Callback(id string) (CallbackQuery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.callbacks.queries[id]
	if q == nil {
		return CallbackQuery{}, false
	}
	return *q, true
}

// WaitForAnswer waits until query id is answered and returns it.
func (s *Server) WaitForAnswer(ctx context.Context, id string) (CallbackQuery, error) {
	var got CallbackQuery
	err := s.waitFor(ctx, func() bool {
		if q := s.callbacks.queries[id]; q != nil {
			got = *q
		}
		return got.Answered
	})
	return got, err
}

// Spinning returns the ids of the queries not answered yet and not too
// old: the presses whose user still sees a spinner.
func (s *Server) Spinning() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	now := s.now()
	for _, id := range s.callbacks.order {
		q := s.callbacks.queries[id]
		if !q.Answered && now.Sub(q.PressedAt) < CallbackAnswerTimeout {
			out = append(out, id)
		}
	}
	return out
}

// answerCallbackQuery implements answerCallbackQuery: a query is answered
// once, within CallbackAnswerTimeout of the press; text is 0-200
// characters.
func (s *Server) answerCallbackQuery(p params) (any, *apiError) {
	id, _ := p.str("callback_query_id")
	if strings.TrimSpace(id) == "" {
		return nil, badRequest("parameter \"callback_query_id\" is required")
	}
	text, _ := p.str("text")
	alert, err := p.bool("show_alert")
	if err != nil {
		return nil, err
	}
	if _, _, err := p.int64("cache_time"); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(text) > telegram.MaxCallbackAnswerLen {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.callbacks.queries[id]
	if q != nil {
		q.Answers++
		s.notifyLocked()
	}
	now := s.now()
	if q == nil || q.Answered || now.Sub(q.PressedAt) >= CallbackAnswerTimeout {
		return nil, badRequest(errQueryInvalid)
	}
	q.Answered, q.AnsweredAt, q.AnswerText, q.ShowAlert = true, now, text, alert
	return true, nil
}

package fakebot

// editMessageText, editMessageCaption, editMessageReplyMarkup,
// deleteMessage and deleteMessages, for the messages the bot sent to a
// chat (not inline messages), with Telegram's answers: "message to edit
// not found", "message is not modified: ...", "there is no text in the
// message to edit" (or caption), "message to delete not found" and, for a
// message sent 48 hours ago or more by the fake's clock ([WithClock],
// [Server.SetClock]), "message can't be deleted for everyone". They count
// against the same flood limits as sends.

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

// Error texts of the edit and delete methods.
const (
	errNotModified    = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
	errEditNotFound   = "message to edit not found"
	errDeleteNotFound = "message to delete not found"
	errCantDelete     = "message can't be deleted for everyone"
)

// DeleteWindow is how long after sending a message the bot may delete it.
const DeleteWindow = 48 * time.Hour

// editMethodName maps a lower-case edit/delete method to its spelling.
func editMethodName(lower string) string {
	return map[string]string{
		"editmessagetext": "editMessageText", "editmessagecaption": "editMessageCaption",
		"editmessagereplymarkup": "editMessageReplyMarkup", "deletemessage": "deleteMessage",
		"deletemessages": "deleteMessages",
	}[lower]
}

// SetClock replaces the clock of message dates, the 48-hour delete window
// and rate limits (nil: time.Now).
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// editTarget reads chat_id and message_id.
func editTarget(p params) (string, int64, *apiError) {
	chatRef, _ := p.str("chat_id")
	chatRef = strings.TrimSpace(chatRef)
	if chatRef == "" {
		return "", 0, badRequest("chat_id is empty")
	}
	id, ok, err := p.int64("message_id")
	if err != nil {
		return "", 0, err
	}
	if !ok || id <= 0 {
		return "", 0, badRequest("message identifier is not specified")
	}
	return chatRef, id, nil
}

// sentLocked returns the bot's live message id of chat, or nil.
func (s *Server) sentLocked(chat, id int64) *SentMessage {
	for i := range s.sent {
		if m := &s.sent[i]; m.ChatID == chat && m.MessageID == id && !m.Deleted {
			return m
		}
	}
	return nil
}

// editMessage implements the three edit methods.
func (s *Server) editMessage(p params, method string) (any, *apiError) {
	chatRef, id, err := editTarget(p)
	if err != nil {
		return nil, err
	}
	// The keyboard is checked as a send's is (callbacks.go).
	wkb, err := replyMarkupOf(p)
	if err != nil {
		return nil, err
	}
	kb := toKeyboard(wkb)
	field := map[string]string{"editMessageText": "text", "editMessageCaption": "caption"}[method]
	text, _ := p.str(field)
	mode, _ := p.str("parse_mode")
	var plain string
	var ents []wireEntity
	if field != "" {
		if method == "editMessageText" && strings.TrimSpace(text) == "" {
			return nil, badRequest("message text is empty")
		}
		if plain, ents, err = parseText(text, mode); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.resolveChatLocked(chatRef)
	if cs == nil {
		return nil, badRequest("chat not found")
	}
	m := s.sentLocked(cs.chat.ID, id)
	if m == nil {
		return nil, badRequest(errEditNotFound)
	}
	switch {
	case method == "editMessageText" && m.Media != nil:
		return nil, badRequest("there is no text in the message to edit")
	case method == "editMessageCaption" && m.Media == nil:
		return nil, badRequest("there is no caption in the message to edit")
	case method == "editMessageText" && telegram.UTF16Len(plain) > telegram.MaxMessageLen:
		return nil, badRequest("message is too long")
	case method == "editMessageCaption" && telegram.UTF16Len(plain) > telegram.MaxCaptionLen:
		return nil, badRequest("message caption is too long")
	}
	newEnts := toEntities(ents)
	if field == "" {
		plain, newEnts, text, mode = m.PlainText, m.Entities, m.Text, m.ParseMode
	}
	if plain == m.PlainText && reflect.DeepEqual(newEnts, m.Entities) && sameKeyboard(kb, m.ReplyMarkup) {
		return nil, badRequest(errNotModified)
	}
	now := s.now()
	if e := s.faults.rateLimitLocked(now, cs.chat, false); e != nil {
		return nil, e
	}
	m.Text, m.PlainText, m.ParseMode, m.Entities, m.ReplyMarkup = text, plain, mode, newEnts, kb
	m.Edits++
	m.EditedAt = now
	s.notifyLocked()
	return editedMessage(s, m, now), nil
}

// sameKeyboard compares two keyboards (nil and an empty one are the same).
func sameKeyboard(a, b *telegram.InlineKeyboardMarkup) bool {
	if a == nil || len(a.InlineKeyboard) == 0 {
		return b == nil || len(b.InlineKeyboard) == 0
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// editedMessage is the Message an edit returns.
func editedMessage(s *Server, m *SentMessage, now time.Time) map[string]any {
	out := map[string]any{"message_id": m.MessageID, "from": s.botUser(), "date": m.Time.Unix(),
		"chat": s.chats[m.ChatID].chat, "edit_date": now.Unix()}
	key := "text"
	if m.Media != nil {
		key = "caption"
	}
	if m.PlainText != "" {
		out[key] = m.PlainText
	}
	if m.ReplyMarkup != nil && len(m.ReplyMarkup.InlineKeyboard) > 0 {
		out["reply_markup"] = m.ReplyMarkup
	}
	return out
}

// deleteMessages implements deleteMessage and deleteMessages: unknown ids
// are skipped by deleteMessages (unless none is found) and refused by
// deleteMessage; a message 48 hours old or more cannot be deleted.
func (s *Server) deleteMessages(p params, method string) (any, *apiError) {
	chatRef, _ := p.str("chat_id")
	chatRef = strings.TrimSpace(chatRef)
	if chatRef == "" {
		return nil, badRequest("chat_id is empty")
	}
	var ids []int64
	if method == "deleteMessage" {
		id, ok, err := p.int64("message_id")
		if err != nil {
			return nil, err
		}
		if !ok || id <= 0 {
			return nil, badRequest("message identifier is not specified")
		}
		ids = []int64{id}
	} else {
		raw, ok := p.raw("message_ids")
		if !ok || json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
			return nil, badRequest("message identifiers are not specified")
		}
		if len(ids) > telegram.MaxDeleteMessages {
			return nil, badRequest("too many message identifiers specified")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.resolveChatLocked(chatRef)
	if cs == nil {
		return nil, badRequest("chat not found")
	}
	now := s.now()
	var found []*SentMessage
	for _, id := range ids {
		if m := s.sentLocked(cs.chat.ID, id); m != nil {
			if now.Sub(m.Time) >= DeleteWindow {
				return nil, badRequest(errCantDelete)
			}
			found = append(found, m)
		}
	}
	if len(found) == 0 {
		return nil, badRequest(errDeleteNotFound)
	}
	if e := s.faults.rateLimitLocked(now, cs.chat, false); e != nil {
		return nil, e
	}
	for _, m := range found {
		m.Deleted = true
	}
	s.notifyLocked()
	return true, nil
}

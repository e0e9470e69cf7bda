package fakebot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

// SentMessage is a message the bot sent successfully with sendMessage.
type SentMessage struct {
	// MessageID increases per chat, starting at 1.
	MessageID int64
	ChatID    int64
	// Text is the text as sent, markup included.
	Text string
	// PlainText is the text after entity parsing, as the user sees it.
	PlainText string
	// ParseMode is the parse_mode as sent.
	ParseMode           string
	Entities            []telegram.MessageEntity
	DisableNotification bool
	AllowPaidBroadcast  bool
	LinkPreviewOptions  *telegram.LinkPreviewOptions
	// ProtectContent is protect_content as sent.
	ProtectContent bool
	// ReplyParameters are the reply_parameters as sent (nil: none);
	// ReplyToMessageID is the message it was sent as a reply to (0: none,
	// also when the message replied to was not found and
	// allow_sending_without_reply let it go as no reply).
	ReplyParameters  *telegram.ReplyParameters
	ReplyToMessageID int64
	// ReplyMarkup is the inline keyboard as Telegram kept it (nil: none).
	ReplyMarkup *telegram.InlineKeyboardMarkup
	// Media is the photo or document of a sendPhoto / sendDocument (nil
	// for a text message); Text and PlainText are then its caption.
	Media *SentMedia
	// MessageThreadID is the forum topic it was sent into (0: the main
	// chat).
	MessageThreadID int64
	// Time is when the fake accepted the message (see [WithClock]).
	Time time.Time
	// The message's life after sending (edit.go): ReplyMarkup (above) is
	// set again by an edit, Edits counts the edits applied (EditedAt the
	// last), Deleted reports deleteMessage(s).
	Edits    int
	EditedAt time.Time
	Deleted  bool
}

// SentMedia is the media of a sent message.
type SentMedia struct {
	// Kind is "photo" or "document".
	Kind string
	// Source is the photo / document parameter as sent: a URL or a file_id.
	Source string
	// FileID is the file_id the fake returned (for a photo, the largest
	// size's).
	FileID string
}

// userChatLocked returns the private chat with the user chatID, creating it
// (the bot then knows it, so it may write to it).
func (s *Server) userChatLocked(chatID int64, username string) *chatState {
	cs := s.chats[chatID]
	if cs == nil {
		cs = &chatState{}
		s.chats[chatID] = cs
	}
	first := username
	if first == "" {
		first = fmt.Sprintf("User %d", chatID)
	}
	if cs.user == nil || username != "" {
		cs.user = &wireUser{ID: chatID, FirstName: first, Username: username, LanguageCode: "en"}
	}
	cs.chat = wireChat{ID: chatID, Type: telegram.ChatTypePrivate, Username: cs.user.Username, FirstName: cs.user.FirstName}
	return cs
}

// enqueueLocked queues an update of kind with a fresh update_id.
func (s *Server) enqueueLocked(kind string, payload any) telegram.Update {
	id := s.nextUpdateID
	s.nextUpdateID++
	raw, err := json.Marshal(map[string]any{"update_id": id, kind: payload})
	if err != nil {
		panic(fmt.Sprintf("fakebot: encoding update: %v", err))
	}
	s.pushLocked(id, kind, raw)
	var u telegram.Update
	_ = json.Unmarshal(raw, &u)
	return u
}

func (s *Server) pushLocked(id int64, kind string, raw json.RawMessage) {
	s.nextSeq++
	s.queue = append(s.queue, queuedUpdate{seq: s.nextSeq, id: id, kind: kind, raw: raw})
	s.notifyLocked()
}

func commandEntities(text string) []wireEntity {
	if !strings.HasPrefix(text, "/") {
		return nil
	}
	end := strings.IndexAny(text, " \n\t")
	if end < 0 {
		end = len(text)
	}
	if end < 2 {
		return nil
	}
	return []wireEntity{{Type: "bot_command", Offset: 0, Length: telegram.UTF16Len(text[:end])}}
}

// SendText plays the user chatID (also the private chat's id) writing text
// to the bot, for example "/start TOKEN" or "/stop". The chat becomes known,
// so the bot may write to it. A user who had blocked the bot unblocks it
// first (a my_chat_member update kicked → member precedes the message), as
// pressing Start does. It returns the queued message update.
func (s *Server) SendText(chatID int64, username, text string) telegram.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.userChatLocked(chatID, username)
	if cs.blocked {
		s.setBlockedLocked(cs, false)
	}
	s.nextMsgID[chatID]++
	return s.enqueueLocked(telegram.UpdateKindMessage, wireMessage{
		MessageID: s.nextMsgID[chatID],
		From:      ptr(*cs.user),
		Date:      s.now().Unix(),
		Chat:      cs.chat,
		Text:      text,
		Entities:  commandEntities(text),
	})
}

// Start plays the user pressing Start after opening the deep link
// t.me/<bot>?start=<payload>: it sends "/start <payload>", or "/start" when
// payload is empty. See [Server.SendText].
func (s *Server) Start(chatID int64, username, payload string) telegram.Update {
	text := "/start"
	if payload != "" {
		text += " " + payload
	}
	return s.SendText(chatID, username, text)
}

// StartGroup plays the user userID adding the bot to the group groupID (a
// negative id; -100… makes a supergroup) through t.me/<bot>?startgroup=
// <payload>: a my_chat_member update (left → member) then the message
// "/start@<bot> <payload>" in the group. It returns the message update.
func (s *Server) StartGroup(groupID int64, title string, userID int64, username, payload string) telegram.Update {
	text := "/start@" + s.botUsername
	if payload != "" {
		text += " " + payload
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.groupChatLocked(groupID, title)
	user := s.memberLocked(userID, username)
	if !cs.botMember || cs.blocked || cs.left {
		cs.botMember, cs.blocked, cs.left = true, false, false
		s.enqueueLocked(telegram.UpdateKindMyChatMember, wireChatMemberUpdated{
			Chat: cs.chat, From: user, Date: s.now().Unix(),
			OldChatMember: wireChatMember{Status: telegram.MemberStatusLeft, User: s.botUser()},
			NewChatMember: wireChatMember{Status: telegram.MemberStatusMember, User: s.botUser()},
		})
	}
	s.nextMsgID[groupID]++
	return s.enqueueLocked(telegram.UpdateKindMessage, wireMessage{
		MessageID: s.nextMsgID[groupID], From: &user, Date: s.now().Unix(), Chat: cs.chat,
		Text: text, Entities: commandEntities(text),
	})
}

// SendGroupText plays the user userID writing text in the group groupID,
// which the bot then knows. It returns the message update.
func (s *Server) SendGroupText(groupID int64, title string, userID int64, username, text string) telegram.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.groupChatLocked(groupID, title)
	user := s.memberLocked(userID, username)
	s.nextMsgID[groupID]++
	return s.enqueueLocked(telegram.UpdateKindMessage, wireMessage{
		MessageID: s.nextMsgID[groupID], From: &user, Date: s.now().Unix(), Chat: cs.chat,
		Text: text, Entities: commandEntities(text),
	})
}

func (s *Server) groupChatLocked(groupID int64, title string) *chatState {
	cs := s.chats[groupID]
	if cs == nil {
		cs = &chatState{}
		s.chats[groupID] = cs
	}
	typ := telegram.ChatTypeGroup
	if groupID <= -1_000_000_000_000 || cs.chat.Type == telegram.ChatTypeSupergroup {
		typ = telegram.ChatTypeSupergroup
	}
	if title == "" {
		title = cs.chat.Title
	}
	if title == "" {
		title = "Test group"
	}
	cs.chat = wireChat{ID: groupID, Type: typ, Title: title, IsForum: cs.topics != nil}
	return cs
}

func (s *Server) memberLocked(userID int64, username string) wireUser {
	first := username
	if first == "" {
		first = fmt.Sprintf("User %d", userID)
	}
	return wireUser{ID: userID, FirstName: first, Username: username, LanguageCode: "en"}
}

// setBlockedLocked changes the bot's membership in a private chat and
// queues the my_chat_member update Telegram sends for it.
func (s *Server) setBlockedLocked(cs *chatState, blocked bool) telegram.Update {
	oldStatus, newStatus := telegram.MemberStatusMember, telegram.MemberStatusKicked
	if !blocked {
		oldStatus, newStatus = newStatus, oldStatus
	}
	cs.blocked = blocked
	from := wireUser{ID: cs.chat.ID, FirstName: cs.chat.FirstName, Username: cs.chat.Username}
	if cs.user != nil {
		from = *cs.user
	}
	old := wireChatMember{Status: oldStatus, User: s.botUser()}
	nw := wireChatMember{Status: newStatus, User: s.botUser()}
	if blocked {
		nw.UntilDate = ptr(int64(0))
	} else {
		old.UntilDate = ptr(int64(0))
	}
	return s.enqueueLocked(telegram.UpdateKindMyChatMember, wireChatMemberUpdated{
		Chat: cs.chat, From: from, Date: s.now().Unix(), OldChatMember: old, NewChatMember: nw,
	})
}

// Block plays the user chatID blocking the bot: sendMessage to the chat
// then fails with 403 "Forbidden: bot was blocked by the user", and a
// my_chat_member update (member → kicked) is queued and returned.
func (s *Server) Block(chatID int64) telegram.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chats[chatID]
	if cs == nil || cs.user == nil {
		cs = s.userChatLocked(chatID, "")
	}
	return s.setBlockedLocked(cs, true)
}

// Unblock plays the user chatID unblocking the bot (without writing to it):
// a my_chat_member update (kicked → member) is queued and returned.
func (s *Server) Unblock(chatID int64) telegram.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chats[chatID]
	if cs == nil || cs.user == nil {
		cs = s.userChatLocked(chatID, "")
	}
	return s.setBlockedLocked(cs, false)
}

// Deactivate plays the user chatID deleting their account: sendMessage to
// the chat then fails with 403 "Forbidden: user is deactivated". Telegram
// sends no update for it.
func (s *Server) Deactivate(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chats[chatID]
	if cs == nil {
		cs = s.userChatLocked(chatID, "")
	}
	cs.deactivated = true
	s.notifyLocked()
}

// MigrateChat upgrades the group oldID to the supergroup newID:
// sendMessage to oldID then fails with 400 "group chat was upgraded to a
// supergroup chat" and parameters.migrate_to_chat_id = newID, the new chat
// is known, and the two service messages (migrate_to_chat_id in the old
// chat, migrate_from_chat_id in the new one) are queued.
func (s *Server) MigrateChat(oldID, newID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.groupChatLocked(oldID, "")
	old.migratedTo = newID
	title := old.chat.Title
	nw := s.chats[newID]
	if nw == nil {
		nw = &chatState{}
		s.chats[newID] = nw
	}
	nw.chat = wireChat{ID: newID, Type: telegram.ChatTypeSupergroup, Title: title}
	nw.migratedTo = 0
	from := wireUser{ID: 1087968824, IsBot: true, FirstName: "Group", Username: "GroupAnonymousBot"}
	s.nextMsgID[oldID]++
	s.enqueueLocked(telegram.UpdateKindMessage, wireMessage{
		MessageID: s.nextMsgID[oldID], From: &from, Date: s.now().Unix(), Chat: old.chat, MigrateToChatID: newID,
	})
	s.nextMsgID[newID]++
	s.enqueueLocked(telegram.UpdateKindMessage, wireMessage{
		MessageID: s.nextMsgID[newID], From: &from, Date: s.now().Unix(), Chat: nw.chat, MigrateFromChatID: oldID,
	})
}

// InjectUpdate queues an arbitrary update, for odd or unsupported kinds.
// raw must be a JSON object; without an update_id the next one is added,
// with one it is kept as is (duplicates and jumps included). It returns the
// update_id used.
func (s *Server) InjectUpdate(raw json.RawMessage) (int64, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, fmt.Errorf("fakebot: InjectUpdate: not a JSON object: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var id int64
	if v, ok := m["update_id"]; ok {
		if err := json.Unmarshal(v, &id); err != nil {
			return 0, fmt.Errorf("fakebot: InjectUpdate: update_id: %w", err)
		}
		if id >= s.nextUpdateID {
			s.nextUpdateID = id + 1
		}
	} else {
		id = s.nextUpdateID
		s.nextUpdateID++
		m["update_id"] = json.RawMessage(fmt.Sprint(id))
		b, err := json.Marshal(m)
		if err != nil {
			return 0, fmt.Errorf("fakebot: InjectUpdate: %w", err)
		}
		raw = b
	}
	kind := ""
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != "update_id" {
			kind = k
			break
		}
	}
	s.pushLocked(id, kind, slices.Clone(raw))
	return id, nil
}

// Messages returns a copy of the messages the bot sent to chatID.
func (s *Server) Messages(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(chatID)
}

func (s *Server) messagesLocked(chatID int64) []SentMessage {
	var out []SentMessage
	for _, m := range s.sent {
		if m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// AllMessages returns a copy of every message the bot sent, in order.
func (s *Server) AllMessages() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// waitFor blocks until cond, evaluated under the lock after every state
// change, holds, or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("fakebot: server closed")
		}
	}
}

// WaitForMessages waits until the bot has sent at least n messages to
// chatID and returns them all; on timeout it returns those sent so far and
// the context's error.
func (s *Server) WaitForMessages(ctx context.Context, chatID int64, n int) ([]SentMessage, error) {
	var got []SentMessage
	err := s.waitFor(ctx, func() bool {
		got = s.messagesLocked(chatID)
		return len(got) >= n
	})
	if err != nil {
		return got, fmt.Errorf("fakebot: waiting for %d messages to chat %d (got %d): %w", n, chatID, len(got), err)
	}
	return got, nil
}

// WaitForCalls waits until method has been called at least n times.
func (s *Server) WaitForCalls(ctx context.Context, method string, n int) error {
	m := strings.ToLower(method)
	var got int
	err := s.waitFor(ctx, func() bool {
		got = s.calls[m]
		return got >= n
	})
	if err != nil {
		return fmt.Errorf("fakebot: waiting for %d %s calls (got %d): %w", n, method, got, err)
	}
	return nil
}

// WaitForPolls waits until n getUpdates requests in all have become the
// running long poll (each one ends the one before it with a 409).
func (s *Server) WaitForPolls(ctx context.Context, n int) error {
	var got int
	err := s.waitFor(ctx, func() bool {
		got = s.polls
		return got >= n
	})
	if err != nil {
		return fmt.Errorf("fakebot: waiting for %d long polls (got %d): %w", n, got, err)
	}
	return nil
}

// WaitForPending waits until at most n updates are pending (queued and not
// yet confirmed by getUpdates or delivered to the webhook).
func (s *Server) WaitForPending(ctx context.Context, n int) error {
	var got int
	err := s.waitFor(ctx, func() bool {
		got = len(s.queue)
		return got <= n
	})
	if err != nil {
		return fmt.Errorf("fakebot: waiting for at most %d pending updates (got %d): %w", n, got, err)
	}
	return nil
}

// Calls returns how many requests named method (case-insensitive) arrived,
// failed ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[strings.ToLower(method)]
}

// PendingUpdates returns how many updates are queued.
func (s *Server) PendingUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// WebhookInfo returns what getWebhookInfo would answer.
func (s *Server) WebhookInfo() telegram.WebhookInfo {
	return toWebhookInfo(s.webhookInfo())
}

// WaitForWebhookInfo waits until cond holds for what getWebhookInfo would
// answer (for example a given LastErrorMessage) and returns it; on timeout
// it returns the last value seen and the context's error.
func (s *Server) WaitForWebhookInfo(ctx context.Context, cond func(telegram.WebhookInfo) bool) (telegram.WebhookInfo, error) {
	var wi telegram.WebhookInfo
	err := s.waitFor(ctx, func() bool {
		wi = toWebhookInfo(s.webhookInfoLocked())
		return cond(wi)
	})
	if err != nil {
		return wi, fmt.Errorf("fakebot: waiting for webhook info (last %+v): %w", wi, err)
	}
	return wi, nil
}

func toWebhookInfo(wi wireWebhookInfo) telegram.WebhookInfo {
	return telegram.WebhookInfo{
		URL:                wi.URL,
		PendingUpdateCount: wi.PendingUpdateCount,
		LastErrorDate:      wi.LastErrorDate,
		LastErrorMessage:   wi.LastErrorMessage,
		MaxConnections:     wi.MaxConnections,
		AllowedUpdates:     wi.AllowedUpdates,
	}
}

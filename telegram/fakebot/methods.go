package fakebot

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

func (s *Server) botUser() wireUser {
	return wireUser{ID: s.botID, IsBot: true, FirstName: "tgnotify test bot", Username: s.botUsername}
}

// sendMessage implements sendMessage in Telegram's order: markup first,
// then the chat, then the chat's state, then the length and flood limits.
func (s *Server) sendMessage(p params) (any, *apiError) {
	chatRef, ok := p.str("chat_id")
	chatRef = strings.TrimSpace(chatRef)
	if !ok || chatRef == "" {
		return nil, badRequest("chat_id is empty")
	}
	text, _ := p.str("text")
	mode, _ := p.str("parse_mode")
	o, err := sendOptionsOf(p)
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, badRequest("message text is empty")
	}
	plain, entities, err := parseText(text, mode)
	if err != nil {
		return nil, err
	}
	if mode == "" {
		entities = o.entities
	}
	if strings.TrimSpace(plain) == "" {
		return nil, badRequest("message text is empty")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	cs, e := s.writableChatLocked(chatRef)
	if e != nil {
		return nil, e
	}
	if e := cs.threadLocked(o.thread); e != nil {
		return nil, e
	}
	if telegram.UTF16Len(plain) > telegram.MaxMessageLen {
		return nil, badRequest("message is too long")
	}
	replyTo, e := s.replyTargetLocked(cs.chat.ID, o.reply)
	if e != nil {
		return nil, e
	}
	now := s.now()
	if e := s.faults.rateLimitLocked(now, cs.chat, o.paid); e != nil {
		return nil, e
	}
	s.nextMsgID[cs.chat.ID]++
	msg := wireMessage{
		MessageID:           s.nextMsgID[cs.chat.ID],
		From:                ptr(s.botUser()),
		Date:                now.Unix(),
		Chat:                cs.chat,
		Text:                plain,
		Entities:            entities,
		HasProtectedContent: o.protect,
	}
	rec := SentMessage{
		MessageID:           msg.MessageID,
		ChatID:              cs.chat.ID,
		Text:                text,
		PlainText:           plain,
		ParseMode:           mode,
		Entities:            toEntities(entities),
		DisableNotification: o.disable,
		AllowPaidBroadcast:  o.paid,
		ProtectContent:      o.protect,
		ReplyToMessageID:    replyTo,
		Time:                now,
	}
	s.applyOptionsLocked(&msg, &rec, o)
	inThread(&msg, &rec, o.thread)
	s.sent = append(s.sent, rec)
	s.notifyLocked()
	return msg, nil
}

// sendOptions are sendMessage's optional parameters besides the text and
// its parse mode.
type sendOptions struct {
	disable, paid, protect bool
	lpo                    *wireLinkPreviewOptions
	reply                  *wireReplyParameters
	entities               []wireEntity
	markup                 *wireKeyboard
	thread                 int64 // message_thread_id (0: none)
}

// sendOptionsOf decodes sendMessage's optional parameters, failing as
// Telegram does on a bad Boolean or a JSON object it cannot parse.
func sendOptionsOf(p params) (sendOptions, *apiError) {
	var (
		o   sendOptions
		err *apiError
	)
	if o.disable, err = p.bool("disable_notification"); err != nil {
		return o, err
	}
	if o.paid, err = p.bool("allow_paid_broadcast"); err != nil {
		return o, err
	}
	if o.protect, err = p.bool("protect_content"); err != nil {
		return o, err
	}
	if o.thread, _, err = p.int64("message_thread_id"); err != nil {
		return o, err
	}
	var lpo wireLinkPreviewOptions
	if has, err := p.typedObject("link_preview_options", "link preview options", &lpo); err != nil {
		return o, err
	} else if has {
		o.lpo = &lpo
	}
	var rp wireReplyParameters
	if has, err := p.typedObject("reply_parameters", "reply parameters", &rp); err != nil {
		return o, err
	} else if has {
		o.reply = &rp
	}
	if _, err := p.object("entities", &o.entities); err != nil {
		return o, err
	}
	if o.markup, err = replyMarkupOf(p); err != nil {
		return o, err
	}
	return o, nil
}

// applyOptionsLocked puts the link preview options and the reply (the
// message rec.ReplyToMessageID) on the returned message and the record.
func (s *Server) applyOptionsLocked(msg *wireMessage, rec *SentMessage, o sendOptions) {
	if o.lpo != nil {
		msg.LinkPreviewOptions = o.lpo
		rec.LinkPreviewOptions = toLinkPreviewOptions(*o.lpo)
	}
	if o.markup != nil {
		msg.ReplyMarkup, rec.ReplyMarkup = o.markup, toKeyboard(o.markup)
	}
	if o.reply != nil {
		rec.ReplyParameters = &telegram.ReplyParameters{MessageID: o.reply.MessageID,
			AllowSendingWithoutReply: o.reply.AllowSendingWithoutReply}
	}
	if rec.ReplyToMessageID == 0 {
		return
	}
	orig := &wireMessage{MessageID: rec.ReplyToMessageID, Chat: msg.Chat, Date: msg.Date}
	for _, m := range s.sent { // the bot's own message; a user's is shown by id only
		if m.ChatID == rec.ChatID && m.MessageID == rec.ReplyToMessageID {
			orig.From, orig.Date, orig.Text = ptr(s.botUser()), m.Time.Unix(), m.PlainText
		}
	}
	msg.ReplyToMessage = orig
}

// replyTargetLocked returns the message of chat that a send with rp
// replies to (0: none). A message that does not exist in the chat is
// "message to be replied not found", unless allow_sending_without_reply
// is set: the message is then sent as no reply.
func (s *Server) replyTargetLocked(chat int64, rp *wireReplyParameters) (int64, *apiError) {
	if rp == nil {
		return 0, nil
	}
	if s.messageExistsLocked(chat, rp.MessageID) {
		return rp.MessageID, nil
	}
	if rp.AllowSendingWithoutReply {
		return 0, nil
	}
	return 0, badRequest("message to be replied not found")
}

// messageExistsLocked reports whether chat has the message id: message ids
// are numbered from 1 per chat, the user's and the bot's alike, and none is
// ever removed.
func (s *Server) messageExistsLocked(chat, id int64) bool {
	return id >= 1 && id <= s.nextMsgID[chat]
}

// writableChatLocked returns the chat that ref names, or the error Telegram
// answers a message to it with (unknown, migrated, deactivated, blocked or
// kicked).
func (s *Server) writableChatLocked(ref string) (*chatState, *apiError) {
	cs := s.resolveChatLocked(ref)
	if cs == nil {
		return nil, badRequest("chat not found")
	}
	if cs.migratedTo != 0 {
		e := badRequest("group chat was upgraded to a supergroup chat")
		e.migrateTo = cs.migratedTo
		return nil, e
	}
	if cs.deactivated {
		return nil, &apiError{code: 403, description: "Forbidden: user is deactivated"}
	}
	if cs.left {
		return nil, &apiError{code: 403, description: "Forbidden: bot is not a member of the " + cs.chat.Type + " chat"}
	}
	if cs.blocked {
		if cs.chat.Type == telegram.ChatTypePrivate {
			return nil, &apiError{code: 403, description: "Forbidden: bot was blocked by the user"}
		}
		return nil, &apiError{code: 403, description: "Forbidden: bot was kicked from the group chat"}
	}
	return cs, nil
}

// toLinkPreviewOptions converts the wire options to the client's, for
// SentMessage.
func toLinkPreviewOptions(o wireLinkPreviewOptions) *telegram.LinkPreviewOptions {
	return &telegram.LinkPreviewOptions{
		IsDisabled: o.IsDisabled, URL: o.URL, PreferSmallMedia: o.PreferSmallMedia,
		PreferLargeMedia: o.PreferLargeMedia, ShowAboveText: o.ShowAboveText,
	}
}

func ptr[T any](v T) *T { return &v }

func toEntities(ws []wireEntity) []telegram.MessageEntity {
	if len(ws) == 0 {
		return nil
	}
	out := make([]telegram.MessageEntity, len(ws))
	for i, w := range ws {
		out[i] = telegram.MessageEntity{Type: w.Type, Offset: w.Offset, Length: w.Length, URL: w.URL,
			Language: w.Language, CustomEmojiID: w.CustomEmojiID}
	}
	return out
}

// resolveChatLocked finds a chat the bot knows by id or "@username".
func (s *Server) resolveChatLocked(ref string) *chatState {
	if name, ok := strings.CutPrefix(ref, "@"); ok {
		for _, cs := range s.chats {
			if strings.EqualFold(cs.chat.Username, name) {
				return cs
			}
		}
		return nil
	}
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return nil
	}
	return s.chats[id]
}

func validSecretToken(tok string) bool {
	if len(tok) < 1 || len(tok) > 256 {
		return false
	}
	for _, c := range []byte(tok) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// stringList decodes allowed_updates: a JSON array, or a JSON-serialized
// array in a string (forms).
func (p params) stringList(k string) ([]string, bool, *apiError) {
	var l []string
	present, err := p.object(k, &l)
	if err != nil {
		return nil, true, badRequest("can't parse %s", k)
	}
	if present && l == nil {
		l = []string{}
	}
	return l, present, nil
}

func (s *Server) setWebhook(p params) (any, *apiError) {
	raw, _ := p.str("url")
	raw = strings.TrimSpace(raw)
	if raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
		}
	}
	secret, hasSecret := p.str("secret_token")
	if hasSecret && secret != "" && !validSecretToken(secret) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	maxConn, hasMax, err := p.int64("max_connections")
	if err != nil {
		return nil, err
	}
	if hasMax && (maxConn < 1 || maxConn > 100) {
		return nil, badRequest("bad webhook: max_connections must be between 1 and 100")
	}
	if !hasMax {
		maxConn = DefaultMaxConnections
	}
	allowed, hasAllowed, err := p.stringList("allowed_updates")
	if err != nil {
		return nil, err
	}
	drop, err := p.bool("drop_pending_updates")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if hasAllowed {
		s.setAllowedLocked(allowed)
	}
	if drop {
		s.queue = nil
	}
	if raw == "" {
		s.webhook = webhookState{}
	} else {
		if s.webhook.url != raw {
			s.webhook.lastErrorDate, s.webhook.lastErrorMsg = 0, ""
		}
		s.webhook.url, s.webhook.secret, s.webhook.maxConnections = raw, secret, int(maxConn)
	}
	s.notifyLocked()
	return true, nil
}

func (s *Server) deleteWebhook(p params) (any, *apiError) {
	drop, err := p.bool("drop_pending_updates")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = webhookState{}
	if drop {
		s.queue = nil
	}
	s.notifyLocked()
	return true, nil
}

func (s *Server) webhookInfo() wireWebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookInfoLocked()
}

func (s *Server) webhookInfoLocked() wireWebhookInfo {
	wi := wireWebhookInfo{URL: s.webhook.url, PendingUpdateCount: len(s.queue)}
	if s.webhook.url != "" {
		wi.MaxConnections = s.webhook.maxConnections
		wi.LastErrorDate = s.webhook.lastErrorDate
		wi.LastErrorMessage = s.webhook.lastErrorMsg
	}
	if s.allowed != nil {
		wi.AllowedUpdates = slices.Clone(s.allowed)
	}
	return wi
}

func (s *Server) setAllowedLocked(l []string) {
	if len(l) == 0 {
		s.allowed = nil
		return
	}
	s.allowed = slices.Clone(l)
}

// allowedLocked reports whether updates of kind are delivered; "" stands
// for injected updates of unknown kinds.
func (s *Server) allowedLocked(kind string) bool {
	if kind == "" {
		return true
	}
	if s.allowed == nil {
		// Telegram's default: everything but these three.
		switch kind {
		case "chat_member", "message_reaction", "message_reaction_count":
			return false
		}
		return true
	}
	return slices.Contains(s.allowed, kind)
}

// batchLocked returns up to limit pending updates in order, dropping those
// of kinds not allowed.
func (s *Server) batchLocked(limit int) []json.RawMessage {
	out := make([]json.RawMessage, 0, min(limit, len(s.queue)))
	kept := s.queue[:0]
	for _, q := range s.queue {
		if !s.allowedLocked(q.kind) {
			continue
		}
		kept = append(kept, q)
		if len(out) < limit {
			out = append(out, q.raw)
		}
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	return out
}

const (
	conflictWebhook = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	conflictPoll    = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

// getUpdates long-polls. gone is true when the request went away (or the
// server closed) and nothing must be written.
// pollRequest is a getUpdates request's parameters.
type pollRequest struct {
	offset     int64
	hasOffset  bool
	limit      int // 1 to 100
	timeout    int64
	allowed    []string
	hasAllowed bool
}

// pollParams reads a getUpdates request's parameters.
func pollParams(p params) (pollRequest, *apiError) {
	var r pollRequest
	var err *apiError
	if r.offset, r.hasOffset, err = p.int64("offset"); err != nil {
		return r, err
	}
	limit, hasLimit, err := p.int64("limit")
	if err != nil {
		return r, err
	}
	if !hasLimit || limit > 100 {
		limit = 100
	}
	r.limit = int(max(limit, 1))
	if r.timeout, _, err = p.int64("timeout"); err != nil {
		return r, err
	}
	if r.allowed, r.hasAllowed, err = p.stringList("allowed_updates"); err != nil {
		return r, err
	}
	return r, nil
}

func (s *Server) getUpdates(ctx context.Context, p params) (result any, apiErr *apiError, gone bool) {
	req, err := pollParams(p)
	if err != nil {
		return nil, err, false
	}

	s.mu.Lock()
	if s.webhook.url != "" {
		s.mu.Unlock()
		return nil, &apiError{code: 409, description: conflictWebhook}, false
	}
	if s.pollCancel != nil {
		close(s.pollCancel) // the earlier request gets the 409, like Telegram
	}
	mine := make(chan struct{})
	s.pollCancel = mine
	s.polls++
	s.notifyLocked()
	defer func() {
		if s.pollCancel == mine {
			s.pollCancel = nil
		}
		s.mu.Unlock()
	}()
	if req.hasAllowed {
		s.setAllowedLocked(req.allowed)
	}
	if req.hasOffset {
		s.confirmLocked(req.offset)
	}
	var timer <-chan time.Time
	if req.timeout > 0 {
		t := time.NewTimer(time.Duration(req.timeout) * time.Second)
		defer t.Stop()
		timer = t.C
	}
	for {
		select {
		case <-mine:
			return nil, &apiError{code: 409, description: conflictPoll}, false
		default:
		}
		if s.webhook.url != "" {
			return nil, &apiError{code: 409, description: conflictWebhook}, false
		}
		if s.faults.revoked { // a long poll in flight when the token is revoked ends with the 401
			return nil, &apiError{code: 401, description: "Unauthorized"}, false
		}
		batch := s.batchLocked(req.limit)
		if len(batch) > 0 || timer == nil {
			return batch, nil, false
		}
		changed := s.changed
		s.mu.Unlock()
		expired := false
		select {
		case <-changed:
		case <-mine:
		case <-timer:
			expired = true
		case <-ctx.Done():
			gone = true
		case <-s.done:
			gone = true
		}
		s.mu.Lock()
		if gone {
			return nil, nil, true
		}
		if expired {
			timer = nil
		}
	}
}

// confirmLocked applies a getUpdates offset: updates before it are
// forgotten; a negative offset keeps only the last -offset updates.
func (s *Server) confirmLocked(offset int64) {
	before := len(s.queue)
	switch {
	case offset > 0:
		s.queue = slices.DeleteFunc(s.queue, func(q queuedUpdate) bool { return q.id < offset })
	case offset < 0:
		if n := int(-offset); n < len(s.queue) {
			s.queue = slices.Clone(s.queue[len(s.queue)-n:])
		}
	}
	if len(s.queue) != before {
		s.notifyLocked()
	}
}

package fakebot

import (
	"fmt"

	"github.com/tgnotify/tgnotify/telegram"
)

// Forum topics and the bot's membership of groups. A supergroup becomes a
// forum (Chat.is_forum) when a topic is created in it; a send with a
// message_thread_id goes into that topic (Message.message_thread_id,
// is_topic_message). Telegram's errors: a topic that does not exist or was
// deleted is 400 "Bad Request: message thread not found", a closed one
// 400 "Bad Request: TOPIC_CLOSED"; a thread id in a chat without topics is
// "message thread not found" too.

// topicState is one forum topic.
type topicState struct {
	name            string
	closed, deleted bool
}

// threadLocked checks a send's message_thread_id (0: the main chat)
// against the chat's topics.
func (cs *chatState) threadLocked(thread int64) *apiError {
	if thread == 0 {
		return nil
	}
	t := cs.topics[thread]
	switch {
	case t == nil || t.deleted:
		return badRequest("message thread not found")
	case t.closed:
		return badRequest("TOPIC_CLOSED")
	}
	return nil
}

// inThread marks a message sent into thread (0: none) as a topic message.
func inThread(msg *wireMessage, rec *SentMessage, thread int64) {
	if thread == 0 {
		return
	}
	msg.MessageThreadID, msg.IsTopicMessage = thread, true
	rec.MessageThreadID = thread
}

// CreateTopic creates a forum topic called name in the supergroup groupID
// (an id ≤ -1000000000000; the chat becomes known and a forum) and returns
// its message_thread_id, the id of the topic's creation message, as in
// Telegram.
func (s *Server) CreateTopic(groupID int64, name string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.groupChatLocked(groupID, "")
	if cs.chat.Type != telegram.ChatTypeSupergroup {
		return 0, fmt.Errorf("fakebot: CreateTopic: chat %d is a %s, not a supergroup", groupID, cs.chat.Type)
	}
	if cs.topics == nil {
		cs.topics = make(map[int64]*topicState)
	}
	cs.chat.IsForum = true
	s.nextMsgID[groupID]++
	id := s.nextMsgID[groupID]
	cs.topics[id] = &topicState{name: name}
	s.notifyLocked()
	return id, nil
}

// CloseTopic closes (closed true) or reopens the forum topic: sends into a
// closed topic fail with "Bad Request: TOPIC_CLOSED".
func (s *Server) CloseTopic(groupID, topicID int64, closed bool) error {
	return s.changeTopic(groupID, topicID, func(t *topicState) { t.closed = closed })
}

// DeleteTopic deletes the forum topic: sends into it fail with "Bad
// Request: message thread not found".
func (s *Server) DeleteTopic(groupID, topicID int64) error {
	return s.changeTopic(groupID, topicID, func(t *topicState) { t.deleted = true })
}

func (s *Server) changeTopic(groupID, topicID int64, f func(*topicState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chats[groupID]
	if cs == nil || cs.topics[topicID] == nil {
		return fmt.Errorf("fakebot: chat %d has no topic %d", groupID, topicID)
	}
	f(cs.topics[topicID])
	s.notifyLocked()
	return nil
}

// RemoveFromGroup plays the user userID removing the bot from the group
// groupID: with ban true the bot is banned ("kicked"), else it is removed
// ("left"). A my_chat_member update (member → kicked / left) is queued and
// returned; sends to the group then fail with 403 ("Forbidden: bot was
// kicked from the group chat", or "Forbidden: bot is not a member of the
// group chat" / "... supergroup chat").
func (s *Server) RemoveFromGroup(groupID, userID int64, username string, ban bool) telegram.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.groupChatLocked(groupID, "")
	user := s.memberLocked(userID, username)
	status := telegram.MemberStatusLeft
	nw := wireChatMember{Status: status, User: s.botUser()}
	if ban {
		nw.Status, nw.UntilDate = telegram.MemberStatusKicked, ptr(int64(0))
	}
	cs.botMember, cs.blocked, cs.left = false, ban, !ban
	return s.enqueueLocked(telegram.UpdateKindMyChatMember, wireChatMemberUpdated{
		Chat: cs.chat, From: user, Date: s.now().Unix(),
		OldChatMember: wireChatMember{Status: telegram.MemberStatusMember, User: s.botUser()},
		NewChatMember: nw,
	})
}

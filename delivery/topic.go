package delivery

import "strconv"

// Forum topics. A notification with a TopicID is sent into that topic of
// the group it goes to (message_thread_id on every part). When Telegram
// answers that the topic is gone or closed, the part is resent to the
// group's main chat with TopicNote in front of it and the notification is
// recorded DegradedTopicFallback; its later parts go to the main chat
// directly, without the note. With NoTopicFallback it fails
// (ReasonTopicNotFound) instead. A private chat has no topics here: the
// service refuses a TopicID for a user linked to one, and a notification
// that reaches a private chat anyway (the user relinked after Notify)
// goes without it.

// TopicNoteMaxLen bounds TopicNote in UTF-16 code units; the parts of a
// notification with a TopicID are split that much shorter, so the note
// always fits in front of one.
const TopicNoteMaxLen = 64

// TopicNote is the line put in front of a part that was meant for forum
// topic id. It holds no character any parse mode reserves (MarkdownV2,
// HTML, Markdown), so it reads the same in each.
func TopicNote(id int64) string {
	return "⚠ Meant for topic " + strconv.FormatInt(id, 10) + ", which is closed or gone:\n"
}

// sendTopic is the message_thread_id of c's sends: its TopicID in a group
// (negative chat id) until a part fell back to the main chat, else 0.
func sendTopic(c Claim) int64 {
	n := c.Notification
	if n.TopicID == 0 || c.ChatID >= 0 || n.Degraded == DegradedTopicFallback {
		return 0
	}
	return n.TopicID
}

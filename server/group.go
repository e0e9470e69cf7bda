package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/store"
)

// Group links and forum topics at the API edge. A group token's deep link
// is https://t.me/<bot>?startgroup=<token>: the person picks a group,
// Telegram adds the bot and sends "/start@<bot> <token>" there (updates/).
// A topic_id is accepted only for a user linked to a group.

// GroupDeepLink returns the t.me link that lets a person pick a group to
// add the bot to, with the given start parameter.
func GroupDeepLink(botUsername, token string) string {
	return "https://t.me/" + url.PathEscape(botUsername) + "?startgroup=" + url.QueryEscape(token)
}

// deepLink is the link of a token of kind.
func deepLink(botUsername string, tok store.LinkToken) string {
	if tok.Kind == store.ChatGroup {
		return GroupDeepLink(botUsername, tok.Token)
	}
	return DeepLink(botUsername, tok.Token)
}

// chatKind validates the chat_kind of a link request (unspecified:
// private).
func chatKind(k notifierv1.ChatKind) (store.ChatKind, error) {
	switch k {
	case notifierv1.ChatKind_CHAT_KIND_UNSPECIFIED, notifierv1.ChatKind_CHAT_KIND_PRIVATE:
		return store.ChatPrivate, nil
	case notifierv1.ChatKind_CHAT_KIND_GROUP:
		return store.ChatGroup, nil
	}
	return 0, invalid("chat_kind", "unknown value %d", int32(k))
}

// apiChatKind is a link's kind in the API.
func apiChatKind(k store.ChatKind) notifierv1.ChatKind {
	if k == store.ChatGroup {
		return notifierv1.ChatKind_CHAT_KIND_GROUP
	}
	return notifierv1.ChatKind_CHAT_KIND_PRIVATE
}

// MaxTopicID is the largest topic_id accepted (Telegram's message thread
// ids are message ids, 32-bit).
const MaxTopicID = math.MaxInt32

// checkTopic validates topic_id: 0 (none), or 1..MaxTopicID for a user
// linked to a group. A user linked to a private chat is INVALID_ARGUMENT
// naming topic_id; a user not linked is ErrNotLinked (FAILED_PRECONDITION,
// as without a topic). The link is read again with the enqueue; a relink
// to a private chat in between sends without the topic (delivery/topic.go).
func (s *Service) checkTopic(ctx context.Context, userID string, topic int64) error {
	switch {
	case topic == 0:
		return nil
	case topic < 0 || topic > MaxTopicID:
		return invalid("topic_id", "must be between 1 and %d", MaxTopicID)
	}
	link, err := s.store.GetLink(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotLinked
	case err != nil:
		return fmt.Errorf("get link: %w", err)
	case link.ChatKind != store.ChatGroup:
		return invalid("topic_id", "user %q is linked to a private chat, which has no topics", userID)
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"slices"

	"github.com/redis/go-redis/v9"
)

// ChatUsers returns the ids of the users linked to chatID, sorted; none
// (an empty slice) when the chat is not linked. Update handling reads it to
// name the user of a forwarded message (MESSAGE_RECEIVED). It reads the
// chat index: the one user of the chat, or the set of its users when
// several are linked to it.
func (r *Redis) ChatUsers(ctx context.Context, chatID int64) ([]string, error) {
	one, err := r.client.HGet(ctx, chatIndexKey(r.prefix, chatID), chatStr(chatID)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return []string{}, nil
	case err != nil:
		return nil, unavailable("users of chat", err)
	case one != "":
		return []string{one}, nil
	}
	users, err := r.client.SMembers(ctx, chatUsersKey(r.prefix, chatID)).Result()
	if err != nil {
		return nil, unavailable("users of chat", err)
	}
	slices.Sort(users)
	return users, nil
}

// ChatUsers returns the ids of the users linked to chatID, sorted (see
// [Redis.ChatUsers]).
func (m *Memory) ChatUsers(ctx context.Context, chatID int64) ([]string, error) {
	if _, err := m.lock(ctx, "users of chat"); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	return sortedKeys(m.chats[chatID]), nil
}

package store

// The event webhook's cursor (events/webhook): <p>:evhook:cursor holds the
// cursor of the last event the receiver acknowledged, written only by the
// holder of the pusher's lease (keys.go; the fenced write is the poll
// offset's script, store/lua/poll_offset_fenced.lua).

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// errLongCursor is returned for a cursor longer than maxCursorLen
// (events.go).
var errLongCursor = fmt.Errorf("store: event cursor longer than %d bytes", maxCursorLen)

// EventWebhookCursor returns the event webhook's stored cursor; ok is
// false when none was ever stored (a newly configured webhook). An empty
// cursor that was stored means "from the oldest retained event".
func (r *Redis) EventWebhookCursor(ctx context.Context) (cursor string, ok bool, err error) {
	cursor, err = r.client.Get(ctx, r.evhookCursorKey()).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, unavailable("event webhook cursor", err)
	}
	return cursor, true, nil
}

// SetEventWebhookCursorLeased stores the event webhook's cursor only while
// holder holds lease (ErrLeaseLost otherwise).
func (r *Redis) SetEventWebhookCursorLeased(ctx context.Context, lease, holder, cursor string) error {
	if len(cursor) > maxCursorLen {
		return errLongCursor
	}
	n, err := r.fencedOffset.Run(ctx, r.client, []string{r.leaseKey(lease), r.evhookCursorKey()}, holder, cursor).Int()
	if err != nil {
		return unavailable("set event webhook cursor", err)
	}
	if n == 0 {
		return ErrLeaseLost
	}
	return nil
}

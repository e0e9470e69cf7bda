package store

// Group migration (a group upgraded to a supergroup gets a new chat id).
// One script, store/lua/migrate_chat.lua, moves in one atomic step
// everything of the old chat to the new one: the users' links, the backlog (in order, in
// front of anything queued for the new chat; the records' chat_id set), the
// pacing (schedule entry and nb key: the new chat is not due before either
// chat was) and, when a worker holds the old chat's lease (a send in
// flight), the lease itself, fencing token and expiry unchanged. It runs
// for the migrate_to_chat_id update ([Redis.UpdateChatID]) and for the 400
// "migrated" answer of a send ([RedisQueue.Migrate]), whichever comes
// first; the second finds nothing to move.
//
// A moved lease leaves a marker <p>:mig:<old chat> (string: the new chat;
// PX migrationMarkerTTL) so that the worker's settle or migrate, which
// names the old chat, finds its lease on the new chat (lib/settle.lua's
// lease_chat) and settles there: the head is neither lost nor sent twice.

import (
	"context"
	"errors"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"strconv"
	"time"
)

// migrationMarkerTTL is how long <p>:mig:<chat> is kept: far longer than
// any lease, so that a worker's settle always finds it.
const migrationMarkerTTL = 24 * time.Hour

// ErrMigrationBusy is returned by a group migration that cannot move a send
// in flight to the old chat because the new chat has one in flight too. It
// wraps [ErrUnavailable]: nothing changed and the caller retries (the
// update is delivered again; the worker retries its send).
var ErrMigrationBusy = fmt.Errorf("%w: both chats of a migration have a send in flight", ErrUnavailable)

// migrateChat runs store/lua/migrate_chat.lua on r's keys (links and
// queue share r's prefix) and returns the moved user ids.
func (r *Redis) migrateChat(ctx context.Context, oldID, newID int64, token string, now time.Time) ([]string, error) {
	o, n, p := strconv.FormatInt(oldID, 10), strconv.FormatInt(newID, 10), r.prefix
	keys := append(append(r.chatKeys(oldID), r.chatKeys(newID)...),
		schedKey(p), chatLeaseKey(p), leaseTokKey(p), backlogKey(p, oldID), backlogKey(p, newID),
		pacingKey(p, oldID), pacingKey(p, newID), migrationKey(p, oldID))
	res, err := r.migrate.Run(ctx, r.client, keys, r.prefix, o, n, now.UnixMilli(), token,
		migrationMarkerTTL.Milliseconds()).StringSlice()
	if err != nil {
		return nil, unavailable("migrate chat", err)
	}
	switch {
	case len(res) > 0 && res[0] == "ok":
		return append([]string{}, res[1:]...), nil
	case len(res) == 1 && res[0] == "lost":
		return nil, fmt.Errorf("store: migrate chat %d: %w", oldID, delivery.ErrLeaseLost)
	case len(res) == 1 && res[0] == "busy":
		return nil, fmt.Errorf("store: migrate chat %d to %d: %w", oldID, newID, ErrMigrationBusy)
	}
	return nil, unavailable("migrate chat", errors.New("unexpected script reply"))
}

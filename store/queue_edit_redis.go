package store

// Edits and deletions in Redis: store/lua/edit.lua and delete.lua (with
// lib/op.lua), each one atomic step on the record, the chat's backlog and
// the schedule; see delivery/edit.go for the semantics.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
)

// parseChanges decodes a record's revision, edit, deletion and pending
// operation fields.
func parseChanges(f map[string]string) delivery.Changes {
	num := func(k string) int {
		v, _ := strconv.Atoi(f[k])
		return v
	}
	return delivery.Changes{
		Revision: num("revision"), EditState: delivery.EditState(num("edit_state")),
		EditError: f["edit_error"], Deleted: f["deleted"] == "1", DeleteError: f["delete_error"],
		Op: f["op"], OpHasText: f["op_has_text"] == "1", OpText: f["op_text"], OpParseMode: f["op_mode"],
		OpRetries: num("op_retries"),
	}
}

// editRefusal is the error of an edit.lua refusal why.
func editRefusal(id, why string) error {
	reasons := map[string]string{
		"state":    "it is FAILED or CANCELLED",
		"deleted":  "its messages are deleted",
		"split":    "it is sent as several messages and its sending has begun",
		"too_long": "it is sent as one message and the new text does not fit one message (or caption)",
	}
	r, ok := reasons[why]
	if !ok {
		r = why
	}
	return fmt.Errorf("store: edit %q: %w: %s", id, delivery.ErrNotEditable, r)
}

// Edit applies e in one step (store/lua/edit.lua) and returns the record
// after it: ErrNotFound when unknown or expired, delivery.ErrNotEditable
// (wrapped, with the reason) when it cannot be edited.
func (q *RedisQueue) Edit(ctx context.Context, e delivery.Edit) (delivery.Notification, error) {
	parts, err := json.Marshal(e.Parts)
	if err != nil {
		return delivery.Notification{}, fmt.Errorf("store: edit: encode parts: %w", err)
	}
	kb := ""
	if e.SetButtons && len(e.Buttons) > 0 {
		b, _ := json.Marshal(e.Buttons) // strings only: cannot fail
		kb = string(b)
	}
	textLen, sha := textDigest(e.Parts)
	res, err := q.edit.Run(ctx, q.client, []string{q.recordKey(e.ID), q.schedKey(), q.leaseKey()},
		q.prefix, e.ID, e.Now.UnixMilli(), ttlMillis(e.Retention), boolArg(e.HasText), string(parts), len(e.Parts),
		textLen, sha, e.ParseMode, boolArg(e.Fits), e.Text, boolArg(e.SetButtons), kb).Slice()
	if err != nil {
		return delivery.Notification{}, unavailable("edit", err)
	}
	return recordReply(res, e.ID, "edit")
}

// Delete retracts the notification id in one step (store/lua/delete.lua)
// and returns the record after it; ErrNotFound when unknown or expired.
func (q *RedisQueue) Delete(ctx context.Context, id string, now time.Time, retention time.Duration) (delivery.Notification, error) {
	res, err := q.del.Run(ctx, q.client, []string{q.recordKey(id), q.schedKey(), q.leaseKey(), q.pendingKey()},
		q.prefix, id, now.UnixMilli(), ttlMillis(retention)).Slice()
	if err != nil {
		return delivery.Notification{}, unavailable("delete", err)
	}
	return recordReply(res, id, "delete")
}

// recordReply interprets the reply of edit.lua or delete.lua (op): {1,
// record field/value pairs...}, {0} (not found) or {2, why} (refused).
func recordReply(res []any, id, op string) (delivery.Notification, error) {
	code := int64(-1)
	if len(res) > 0 {
		code, _ = res[0].(int64)
	}
	switch {
	case code == 1 && len(res)%2 == 1:
		f := make(map[string]string, len(res)/2)
		for i := 1; i+1 < len(res); i += 2 {
			k, _ := res[i].(string)
			v, _ := res[i+1].(string)
			f[k] = v
		}
		n, err := parseRecord(f)
		if err != nil {
			return delivery.Notification{}, unavailable(op, err)
		}
		return n, nil
	case code == 0:
		return delivery.Notification{}, fmt.Errorf("store: notification %q: %w", id, ErrNotFound)
	case code == 2 && len(res) == 2:
		why, _ := res[1].(string)
		return delivery.Notification{}, editRefusal(id, why)
	}
	return delivery.Notification{}, unavailable(op, fmt.Errorf("unexpected script reply %v", res))
}

// boolArg is "1" for true, "" for false.
func boolArg(b bool) string {
	if b {
		return "1"
	}
	return ""
}

package store

// Button presses (delivery.Press), recorded once per callback query id: in
// Redis by press.lua (the record's field presses, the de-duplication key
// <p>:cbq:<query id> and the BUTTON_PRESSED event in one step), in memory
// under the queue's mutex.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/events"
)

// PressDedupTTL is how long a recorded callback query id is remembered:
// Telegram keeps an undelivered update for 24 hours.
const PressDedupTTL = 25 * time.Hour

// checkPress refuses a press the store cannot record.
func checkPress(p delivery.Press) error {
	switch {
	case p.QueryID == "" || len(p.QueryID) > delivery.MaxQueryIDLen:
		return fmt.Errorf("store: press: query id of %d bytes (1-%d)", len(p.QueryID), delivery.MaxQueryIDLen)
	case len(p.NotificationID) > maxEventField, len(p.UserID) > maxEventField,
		len(p.Username) > delivery.MaxUsernameLen, len(p.Callback) > delivery.MaxCallbackLen:
		return fmt.Errorf("store: press: a field is over its bound")
	case p.At.IsZero():
		return fmt.Errorf("store: press: no time")
	}
	return nil
}

// pressEvent is the BUTTON_PRESSED event of p.
func pressEvent(p delivery.Press) events.Event {
	return events.Event{Type: events.TypeButtonPressed, Time: p.At, UserID: p.UserID, ChatID: p.ChatID,
		NotificationID: p.NotificationID, Callback: p.Callback, Username: p.Username}
}

// RecordPress records p once per p.QueryID: appended to its notification
// record's presses (the latest delivery.MaxPresses; not when
// p.NotificationID is "" or the record is gone) and as a BUTTON_PRESSED
// event, in one step. recorded is false when the query id was recorded
// before (nothing changed).
func (q *RedisQueue) RecordPress(ctx context.Context, p delivery.Press) (recorded bool, err error) {
	if err := checkPress(p); err != nil {
		return false, err
	}
	entry := ""
	if p.NotificationID != "" {
		bp := p.ButtonPress
		bp.At = time.UnixMilli(bp.At.UnixMilli())
		b, err := json.Marshal(bp)
		if err != nil {
			return false, fmt.Errorf("store: press: %w", err)
		}
		entry = string(b) // encoding/json escapes newlines: one line
	}
	args := q.owner.evArgs()
	args = append(args, PressDedupTTL.Milliseconds(), entry, delivery.MaxPresses)
	for _, f := range eventFields(pressEvent(p)) {
		args = append(args, f)
	}
	keys := []string{q.recordKey(p.NotificationID), pressDedupKey(q.prefix, p.QueryID), q.owner.eventsKey()}
	n, err := q.press.Run(ctx, q.client, keys, args...).Int()
	if err != nil {
		return false, unavailable("record press", err)
	}
	return n == 1, nil
}

// parsePresses decodes a record's presses field into n.Presses.
func parsePresses(n *delivery.Notification, v string) error {
	if v == "" {
		return nil
	}
	for line := range strings.SplitSeq(v, "\n") {
		var p delivery.ButtonPress
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			return fmt.Errorf("corrupt record %s: presses: %w", n.ID, err)
		}
		n.Presses = append(n.Presses, p)
	}
	return nil
}

// RecordPress is [RedisQueue.RecordPress] in memory.
func (m *MemoryQueue) RecordPress(ctx context.Context, p delivery.Press) (recorded bool, err error) {
	if err := checkPress(p); err != nil {
		return false, err
	}
	clock, err := m.lock(ctx, "record press")
	if err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	m.sweepPressesLocked(clock)
	if exp, ok := m.pressSeen[p.QueryID]; ok && clock.Before(exp) {
		return false, nil
	}
	if m.pressSeen == nil {
		m.pressSeen = make(map[string]time.Time)
	}
	m.pressSeen[p.QueryID] = clock.Add(PressDedupTTL)
	if p.NotificationID != "" {
		if r := m.recLocked(p.NotificationID, clock); r != nil {
			bp := p.ButtonPress
			bp.At = time.UnixMilli(bp.At.UnixMilli()) // to the millisecond, as in Redis
			r.n.Presses = append(r.n.Presses, bp)
			if over := len(r.n.Presses) - delivery.MaxPresses; over > 0 {
				r.n.Presses = append([]delivery.ButtonPress(nil), r.n.Presses[over:]...)
			}
		}
	}
	m.links.ev.append(pressEvent(p), clock)
	return true, nil
}

// sweepPressesLocked drops the expired query ids once there are many.
func (m *MemoryQueue) sweepPressesLocked(now time.Time) {
	if len(m.pressSeen) < 1024 {
		return
	}
	for id, exp := range m.pressSeen {
		if !now.Before(exp) {
			delete(m.pressSeen, id)
		}
	}
}

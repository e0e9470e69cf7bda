package store

// The event log (events.Reader and events.Appender), shared by both
// backends: its options, cursors, entry fields and the paging of Read.
//
// Redis keeps the log in the stream <p>:events (events_redis.go), Memory in
// a slice with the same cursors and the same trimming (events_memory.go).
// Every state change that makes an event appends it in the same atomic
// step as the change: the same Lua script on Redis (store/lua/lib/events.lua),
// the same critical section in memory.
//
// A cursor is the stream entry id "<unix ms>-<seq>"; an event's ID is its
// cursor prefixed with "ev-" (stable: the entry id never changes, and ids
// only grow, so it is unique within the log).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tgnotify/tgnotify/events"
)

// Defaults of [EventOptions].
const (
	// DefaultEventMaxLen is how many entries the log keeps at most
	// (NOTIFIER_EVENT_MAX).
	DefaultEventMaxLen int64 = 1_000_000
	// DefaultEventRetention is how long the log keeps an entry
	// (NOTIFIER_EVENT_RETENTION).
	DefaultEventRetention = 168 * time.Hour
)

// ReasonUnlinked is the failure reason of a notification still queued when
// the application unlinked its user ([Redis.UnlinkUser]).
const ReasonUnlinked = "unlinked"

// EventOptions bound the event log. Set them with SetEventOptions before
// the store is used.
type EventOptions struct {
	// MaxLen is how many entries the log keeps: on Redis about that many
	// (XADD MAXLEN ~, which trims whole stream nodes of 100 entries), in
	// memory exactly. <= 0 means DefaultEventMaxLen.
	MaxLen int64
	// Retention is how long an entry is kept: entries older than that are
	// dropped whenever an event is appended (Redis: XTRIM MINID ~, whole
	// nodes; memory: exactly). It is also how long the marker of
	// UnlinkUser lives. <= 0 means DefaultEventRetention.
	Retention time.Duration
}

// resolved returns o with its defaults filled in.
func (o EventOptions) resolved() EventOptions {
	if o.MaxLen <= 0 {
		o.MaxLen = DefaultEventMaxLen
	}
	if o.Retention <= 0 {
		o.Retention = DefaultEventRetention
	}
	return o
}

// Bounds of the event log's reads, waits and appended events.
const (
	// readScan is the most entries one Read looks at (a filter that
	// matches few entries makes it return fewer than its limit, with a
	// next cursor further on).
	readScan = 10 * events.MaxRead
	// maxEventWait bounds one Wait.
	maxEventWait = 30 * time.Second
	// maxEventText bounds an appended event's Text (a Telegram message has
	// at most 4096 UTF-16 units), maxEventField its other strings.
	maxEventText  = 16 << 10
	maxEventField = 1 << 10
	// maxCursorLen bounds a cursor: two decimal uint64 and a dash.
	maxCursorLen = 41
)

// eventIDPrefix starts every event's ID: the ID is "ev-<cursor>".
const eventIDPrefix = "ev-"

// evID is a parsed cursor, a stream entry id.
type evID struct{ ms, seq uint64 }

func (a evID) less(b evID) bool { return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq) }

func (a evID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// parseCursor parses a cursor "<ms>-<seq>" or fails with
// events.ErrBadCursor.
func parseCursor(s string) (evID, error) {
	bad := fmt.Errorf("store: cursor %.48q: %w", s, events.ErrBadCursor)
	if len(s) > maxCursorLen {
		return evID{}, bad
	}
	msS, seqS, ok := strings.Cut(s, "-")
	if !ok || !digits(msS) || !digits(seqS) {
		return evID{}, bad
	}
	ms, err1 := strconv.ParseUint(msS, 10, 64)
	seq, err2 := strconv.ParseUint(seqS, 10, 64)
	if err1 != nil || err2 != nil {
		return evID{}, bad
	}
	return evID{ms, seq}, nil
}

// digits reports whether s is a non-empty run of ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// staleCursor returns the *events.CursorTooOldError of a read after the
// cursor after on a log whose oldest retained entry is first ("" when the
// log is empty) and whose last generated entry is last, when entries were
// trimmed: after lies strictly before first, or, the log being empty, before
// last (the entries after it are gone). A log never trimmed has lost nothing.
// (A cursor naming the very last trimmed entry lost nothing either but is
// reported too: the log does not remember which ids it trimmed.)
func staleCursor(after evID, first, last string, trimmed bool) error {
	if !trimmed {
		return nil
	}
	bound := first
	if bound == "" {
		bound = last
	}
	if bound == "" {
		return nil
	}
	b, err := parseCursor(bound)
	if err != nil {
		return fmt.Errorf("store: read events: corrupt entry id %q", bound)
	}
	if after.less(b) {
		return &events.CursorTooOldError{Oldest: first}
	}
	return nil
}

// Field names of a log entry (keys.go documents them).
const (
	fType, fUser, fChat, fNotification, fState, fReason = "t", "u", "c", "n", "s", "r"
	fCallback, fText, fUsername, fTime                  = "k", "x", "m", "ts"
	fBroadcast                                          = "b"
)

// eventFields returns the field/value pairs of e's entry, leaving out
// empty values (Cursor and ID are the entry's id; Time is stored only
// when set, else it is the id's).
func eventFields(e events.Event) []string {
	f := []string{fType, strconv.Itoa(int(e.Type))}
	add := func(k, v string) {
		if v != "" {
			f = append(f, k, v)
		}
	}
	add(fUser, e.UserID)
	if e.ChatID != 0 {
		add(fChat, strconv.FormatInt(e.ChatID, 10))
	}
	add(fNotification, e.NotificationID)
	if e.State != 0 {
		add(fState, strconv.Itoa(e.State))
	}
	add(fReason, e.Reason)
	add(fCallback, e.Callback)
	add(fText, e.Text)
	add(fUsername, e.Username)
	add(fBroadcast, e.BroadcastID)
	if !e.Time.IsZero() {
		add(fTime, strconv.FormatInt(e.Time.UnixMilli(), 10))
	}
	return f
}

// decodeEvent returns the event of the entry id with fields.
func decodeEvent(id evID, fields map[string]string) events.Event {
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(fields[k], 10, 64)
		return n
	}
	cur := id.String()
	e := events.Event{
		Cursor: cur, ID: eventIDPrefix + cur, Type: events.Type(num(fType)),
		UserID: fields[fUser], ChatID: num(fChat), NotificationID: fields[fNotification], State: int(num(fState)),
		Reason: fields[fReason], Callback: fields[fCallback], Text: fields[fText], Username: fields[fUsername],
		BroadcastID: fields[fBroadcast], Time: time.UnixMilli(int64(id.ms)),
	}
	if _, ok := fields[fTime]; ok {
		e.Time = time.UnixMilli(num(fTime))
	}
	return e
}

// errBadEvent is returned by Append for an event it cannot store.
var errBadEvent = errors.New("store: append event: invalid event")

// checkEvent bounds an appended event.
func checkEvent(e events.Event) error {
	switch {
	case !e.Type.Valid():
		return fmt.Errorf("%w: unknown type %d", errBadEvent, e.Type)
	case len(e.Text) > maxEventText:
		return fmt.Errorf("%w: text of %d bytes (at most %d)", errBadEvent, len(e.Text), maxEventText)
	case len(e.UserID) > maxEventField || len(e.NotificationID) > maxEventField || len(e.Reason) > maxEventField ||
		len(e.Callback) > maxEventField || len(e.Username) > maxEventField:
		return fmt.Errorf("%w: a field is longer than %d bytes", errBadEvent, maxEventField)
	}
	return nil
}

// clampLimit returns limit within 1..events.MaxRead.
func clampLimit(limit int) int { return min(max(limit, 1), events.MaxRead) }

// clampWait returns maxWait within 0..maxEventWait.
func clampWait(d time.Duration) time.Duration { return min(max(d, 0), maxEventWait) }

// pageFunc returns up to n entries after the cursor after ("": from the
// oldest), oldest first, or the error of a stale or bad cursor.
type pageFunc func(ctx context.Context, after string, n int) ([]events.Event, error)

// readEvents is Read over page for both backends: it pages through the
// log after the cursor after, keeps the events f matches until it has
// limit of them or looked at readScan entries, and returns them with the
// cursor of the last entry it looked at (after itself when none). An error
// after the first page ends the read with what it found; the next Read
// meets the error again.
func readEvents(ctx context.Context, after string, f events.Filter, limit int, page pageFunc) ([]events.Event, string, error) {
	if after != "" {
		if _, err := parseCursor(after); err != nil {
			return nil, after, err
		}
	}
	limit = clampLimit(limit)
	n := events.MaxRead
	if len(f.Types) == 0 && f.UserID == "" {
		n = limit // every entry matches: fetch no more than is returned
	}
	var out []events.Event
	next := after
	for looked := 0; looked < readScan; {
		batch, err := page(ctx, next, min(n, readScan-looked))
		if err != nil {
			if looked > 0 {
				return out, next, nil
			}
			return nil, after, err
		}
		for _, e := range batch {
			next = e.Cursor
			looked++
			if f.Match(e) {
				out = append(out, e)
				if len(out) == limit {
					return out, next, nil
				}
			}
		}
		if len(batch) < n {
			break
		}
	}
	return out, next, nil
}

// checkUnlinkReason accepts the reasons of UnlinkChat.
func checkUnlinkReason(reason string) error {
	if reason != events.ReasonStop && reason != events.ReasonBlocked && reason != events.ReasonRemoved {
		return fmt.Errorf("store: unlink chat: reason %.32q is none of %q, %q, %q", reason, events.ReasonStop,
			events.ReasonBlocked, events.ReasonRemoved)
	}
	return nil
}

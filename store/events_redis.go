package store

// The event log in Redis: the stream <p>:events (keys.go). The scripts that
// change links (link_token_consume.lua, unlink*.lua) and settle
// notifications (settle.lua, settle_claim.lua) append their events with
// lib/events.lua in the same run; Append adds the events of no state
// change (events_append.lua); Read pages with events_read.lua, which reads
// the entries and the stream's trim state in one step; Wait shares one
// XREAD loop (events_wait_redis.go).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tgnotify/tgnotify/events"
)

var (
	_ events.Reader   = (*Redis)(nil)
	_ events.Appender = (*Redis)(nil)
)

// SetEventOptions bounds the event log (zero fields: the defaults). Call it
// before r, or its queue, is used.
func (r *Redis) SetEventOptions(o EventOptions) { r.ev = o.resolved() }

// EventOptions returns the event log's bounds in force.
func (r *Redis) EventOptions() EventOptions { return r.ev }

// evArgs returns the event log's ARGV of the scripts: the approximate max
// length and the retention in ms.
func (r *Redis) evArgs() []any {
	return []any{r.ev.MaxLen, r.ev.Retention.Milliseconds()}
}

// Append appends e (an event of no state change: a forwarded message) and
// returns it with its Cursor, ID and Time set.
func (r *Redis) Append(ctx context.Context, e events.Event) (events.Event, error) {
	if err := checkEvent(e); err != nil {
		return events.Event{}, err
	}
	args := r.evArgs()
	for _, f := range eventFields(e) {
		args = append(args, f)
	}
	id, err := r.evAppend.Run(ctx, r.client, []string{r.eventsKey()}, args...).Text()
	if err != nil {
		return events.Event{}, unavailable("append event", err)
	}
	cur, err := parseCursor(id)
	if err != nil {
		return events.Event{}, unavailable("append event", fmt.Errorf("unexpected entry id %q", id))
	}
	e.Cursor, e.ID = cur.String(), eventIDPrefix+cur.String()
	if e.Time.IsZero() {
		e.Time = time.UnixMilli(int64(cur.ms))
	} else {
		e.Time = time.UnixMilli(e.Time.UnixMilli())
	}
	return e, nil
}

// Read returns up to limit (clamped to 1..events.MaxRead) events after the
// cursor after that f matches, oldest first, and the cursor to resume from
// (see events.Reader). It looks at most at 10 000 entries per call.
func (r *Redis) Read(ctx context.Context, after string, f events.Filter, limit int) ([]events.Event, string, error) {
	return readEvents(ctx, after, f, limit, r.readPage)
}

// readPage is Read's pageFunc: one run of events_read.lua.
func (r *Redis) readPage(ctx context.Context, after string, n int) ([]events.Event, error) {
	res, err := r.evRead.Run(ctx, r.client, []string{r.eventsKey()}, after, n).Slice()
	if err != nil {
		return nil, unavailable("read events", err)
	}
	if len(res) != 5 {
		return nil, unavailable("read events", fmt.Errorf("unexpected script reply of %d items", len(res)))
	}
	str := func(x any) string { s, _ := x.(string); return s }
	last, first := str(res[0]), str(res[3])
	added, _ := strconv.ParseInt(str(res[1]), 10, 64)
	length, _ := strconv.ParseInt(str(res[2]), 10, 64)
	if after != "" {
		a, err := parseCursor(after)
		if err != nil {
			return nil, err
		}
		if err := staleCursor(a, first, last, added < 0 || added > length); err != nil {
			return nil, err
		}
	}
	entries, _ := res[4].([]any)
	out := make([]events.Event, 0, len(entries))
	for _, x := range entries {
		e, err := parseEntry(x)
		if err != nil {
			return nil, unavailable("read events", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// parseEntry decodes one XRANGE entry, [id, [field, value, ...]].
func parseEntry(x any) (events.Event, error) {
	pair, _ := x.([]any)
	if len(pair) != 2 {
		return events.Event{}, errors.New("corrupt stream entry")
	}
	idS, _ := pair[0].(string)
	id, err := parseCursor(idS)
	if err != nil {
		return events.Event{}, fmt.Errorf("corrupt stream entry id %q", idS)
	}
	kv, _ := pair[1].([]any)
	fields := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(string)
		fields[k] = v
	}
	return decodeEvent(id, fields), nil
}

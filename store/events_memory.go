package store

// The event log in memory: the twin of the Redis stream, with the same
// cursors ("<unix ms>-<seq>", from the store's clock) and the same trimming
// (MaxLen entries, none older than Retention, when an event is appended;
// here exactly). The state changes of Memory and MemoryQueue append their
// events while they hold the lock of the change, so a reader who sees the
// change finds its event.

import (
	"context"
	"sync"
	"time"

	"github.com/tgnotify/tgnotify/events"
)

var (
	_ events.Reader   = (*Memory)(nil)
	_ events.Appender = (*Memory)(nil)
)

// memEvents is the log. Its mutex is the innermost lock (after the queue's,
// the limiter's and the links'); it is taken alone by the readers.
type memEvents struct {
	mu      sync.Mutex
	opts    EventOptions
	entries []events.Event // oldest first; Cursor, ID and Time set
	last    evID           // the last id generated (kept when trimmed)
	added   int64          // entries ever appended
	wake    chan struct{}  // closed and replaced on every append
}

func newMemEvents() *memEvents {
	return &memEvents{opts: EventOptions{}.resolved(), wake: make(chan struct{})}
}

// append adds e at now (the store's clock) and trims; it returns e as
// stored.
func (l *memEvents) append(e events.Event, now time.Time) events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := uint64(max(now.UnixMilli(), 0))
	id := evID{ms: ms}
	if !l.last.less(id) { // the clock stood still or went back: as XADD *, keep the ids growing
		id = evID{ms: l.last.ms, seq: l.last.seq + 1}
	}
	l.last = id
	l.added++
	e.Cursor = id.String()
	e.ID = eventIDPrefix + e.Cursor
	if e.Time.IsZero() {
		e.Time = time.UnixMilli(int64(id.ms))
	} else {
		e.Time = time.UnixMilli(e.Time.UnixMilli())
	}
	l.entries = append(l.entries, e)
	l.trimLocked(now)
	close(l.wake)
	l.wake = make(chan struct{})
	return e
}

// trimLocked drops the entries beyond MaxLen and those older than
// Retention.
func (l *memEvents) trimLocked(now time.Time) {
	drop := max(int64(len(l.entries))-l.opts.MaxLen, 0)
	cutoff := now.Add(-l.opts.Retention).UnixMilli()
	for drop < int64(len(l.entries)) {
		id, _ := parseCursor(l.entries[drop].Cursor)
		if int64(id.ms) >= cutoff {
			break
		}
		drop++
	}
	if drop > 0 {
		l.entries = append(l.entries[:0:0], l.entries[drop:]...)
	}
}

// page returns up to n entries after the cursor after ("": the oldest).
func (l *memEvents) page(after string, n int) ([]events.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	if after != "" {
		a, err := parseCursor(after)
		if err != nil {
			return nil, err
		}
		first := ""
		if len(l.entries) > 0 {
			first = l.entries[0].Cursor
		}
		last := ""
		if l.added > 0 {
			last = l.last.String()
		}
		if err := staleCursor(a, first, last, l.added > int64(len(l.entries))); err != nil {
			return nil, err
		}
		for i < len(l.entries) {
			id, _ := parseCursor(l.entries[i].Cursor)
			if a.less(id) {
				break
			}
			i++
		}
	}
	end := min(i+n, len(l.entries))
	return append([]events.Event(nil), l.entries[i:end]...), nil
}

// pending reports whether an entry after the cursor after ("": any) is
// retained, and else returns the channel the next append closes.
func (l *memEvents) pending(after string) (bool, <-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) > 0 {
		if after == "" {
			return true, nil, nil
		}
		a, err := parseCursor(after)
		if err != nil {
			return false, nil, err
		}
		last, _ := parseCursor(l.entries[len(l.entries)-1].Cursor)
		if a.less(last) {
			return true, nil, nil
		}
	} else if after != "" {
		if _, err := parseCursor(after); err != nil {
			return false, nil, err
		}
	}
	return false, l.wake, nil
}

// SetEventOptions bounds the event log (zero fields: the defaults). Call it
// before m is used.
func (m *Memory) SetEventOptions(o EventOptions) {
	m.ev.mu.Lock()
	defer m.ev.mu.Unlock()
	m.ev.opts = o.resolved()
}

// EventOptions returns the event log's bounds in force.
func (m *Memory) EventOptions() EventOptions {
	m.ev.mu.Lock()
	defer m.ev.mu.Unlock()
	return m.ev.opts
}

// Append appends e (an event of no state change: a forwarded message) and
// returns it with its Cursor, ID and Time set.
func (m *Memory) Append(ctx context.Context, e events.Event) (events.Event, error) {
	if err := checkEvent(e); err != nil {
		return events.Event{}, err
	}
	now, err := m.lock(ctx, "append event")
	if err != nil {
		return events.Event{}, err
	}
	defer m.mu.Unlock()
	return m.ev.append(e, now), nil
}

// Read returns up to limit (clamped to 1..events.MaxRead) events after the
// cursor after that f matches, oldest first, and the cursor to resume from
// (see events.Reader).
func (m *Memory) Read(ctx context.Context, after string, f events.Filter, limit int) ([]events.Event, string, error) {
	return readEvents(ctx, after, f, limit, func(ctx context.Context, after string, n int) ([]events.Event, error) {
		if _, err := m.lock(ctx, "read events"); err != nil {
			return nil, err
		}
		defer m.mu.Unlock()
		return m.ev.page(after, n)
	})
}

// Wait blocks until an entry after the cursor after ("": any entry) is in
// the log, maxWait (at most 30 s) has passed, or ctx ends (then it returns
// ctx's error). An append wakes it at once.
func (m *Memory) Wait(ctx context.Context, after string, maxWait time.Duration) error {
	timer := time.NewTimer(clampWait(maxWait))
	defer timer.Stop()
	for {
		if _, err := m.lock(ctx, "wait for events"); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		ok, wake, err := m.ev.pending(after)
		m.mu.Unlock()
		if err != nil || ok {
			return err
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

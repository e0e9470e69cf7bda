package store

import "context"

// EventWebhookCursor returns the event webhook's stored cursor; ok is
// false when none was ever stored.
func (m *Memory) EventWebhookCursor(ctx context.Context) (cursor string, ok bool, err error) {
	if _, err := m.lock(ctx, "event webhook cursor"); err != nil {
		return "", false, err
	}
	defer m.mu.Unlock()
	if m.evhookCursor == nil {
		return "", false, nil
	}
	return *m.evhookCursor, true, nil
}

// SetEventWebhookCursorLeased stores the event webhook's cursor only while
// holder holds lease (ErrLeaseLost otherwise).
func (m *Memory) SetEventWebhookCursorLeased(ctx context.Context, lease, holder, cursor string) error {
	if len(cursor) > maxCursorLen {
		return errLongCursor
	}
	now, err := m.lock(ctx, "set event webhook cursor")
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if cur, ok := m.leases[lease]; !ok || cur.holder != holder || !now.Before(cur.expires) {
		return ErrLeaseLost
	}
	m.evhookCursor = &cursor
	return nil
}

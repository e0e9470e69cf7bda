package delivery

import "time"

// Button presses: a user pressing a callback button of a sent notification
// (a callback_query update, handled by package updates). The store records
// each press once per callback query id, in the notification's record (the
// latest MaxPresses, oldest first) and as an EVENT_TYPE_BUTTON_PRESSED event
// in the same atomic step.

// MaxPresses is how many presses a record keeps (the latest).
const MaxPresses = 20

// Bounds of a press's strings, in bytes.
const (
	// MaxQueryIDLen bounds a callback query id (Telegram's are about 19
	// digits).
	MaxQueryIDLen = 64
	// MaxUsernameLen bounds a Telegram username (Telegram's are at most 32
	// characters).
	MaxUsernameLen = 64
	// MaxCallbackLen is the longest callback string of a button.
	MaxCallbackLen = 256
)

// ButtonPress is one press of a notification's callback button, as the
// record keeps it.
type ButtonPress struct {
	// Callback is the pressed button's application string.
	Callback string `json:"c"`
	// Username is the presser's @username ("" when they have none).
	Username string `json:"m,omitempty"`
	// TelegramUserID is the presser's Telegram user id.
	TelegramUserID int64 `json:"f,omitempty"`
	// At is when it was pressed (the update's arrival).
	At time.Time `json:"t"`
}

// Press is a press to record ([PressRecorder.RecordPress]).
type Press struct {
	// QueryID is Telegram's callback query id: a press is recorded once
	// per query id however often the update is delivered.
	QueryID string
	// NotificationID is the notification pressed; "" when its record is
	// unknown or expired (then only the event is recorded, with ChatID and
	// Username).
	NotificationID string
	// UserID is the application user of the notification ("" with no
	// notification).
	UserID string
	// ChatID is the chat the press came from.
	ChatID int64
	// The press as the record keeps it.
	ButtonPress
}

// Bounded returns p with its strings cut to their bounds (valid UTF-8 is
// not re-checked: callers pass Telegram's strings).
func (p Press) Bounded() Press {
	p.QueryID = cut(p.QueryID, MaxQueryIDLen)
	p.Username = cut(p.Username, MaxUsernameLen)
	p.Callback = cut(p.Callback, MaxCallbackLen)
	return p
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ClonePresses returns a copy of ps.
func ClonePresses(ps []ButtonPress) []ButtonPress {
	if ps == nil {
		return nil
	}
	return append([]ButtonPress(nil), ps...)
}

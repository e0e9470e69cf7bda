package delivery

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tgnotify/tgnotify/telegram"
)

// The inline keyboard of a notification. A callback button's application
// string (up to 256 bytes) stays in the record; Telegram's callback_data
// (at most 64 bytes) carries only CallbackData(id, row, col), which
// ParseCallbackData turns back into the record and the button.

// callbackPrefix marks callback_data written by this service (version 1).
const callbackPrefix = "n1:"

// CallbackData is the callback_data of the button at rows[row][col] of
// notification id: "n1:<id>:<row>:<col>" (a notification id is 32 hex
// digits, so it is at most 42 bytes).
func CallbackData(id string, row, col int) string {
	return callbackPrefix + id + ":" + strconv.Itoa(row) + ":" + strconv.Itoa(col)
}

// ParseCallbackData reverses [CallbackData]; ok is false for data this
// service did not write.
func ParseCallbackData(data string) (id string, row, col int, ok bool) {
	rest, found := strings.CutPrefix(data, callbackPrefix)
	if !found {
		return "", 0, 0, false
	}
	f := strings.Split(rest, ":")
	if len(f) != 3 || f[0] == "" {
		return "", 0, 0, false
	}
	r, err1 := strconv.Atoi(f[1])
	c, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || r < 0 || c < 0 {
		return "", 0, 0, false
	}
	return f[0], r, c, true
}

// Keyboard returns the reply_markup for notification n's buttons (nil when
// it has none).
func Keyboard(n Notification) *telegram.InlineKeyboardMarkup {
	id, rows := n.ID, n.Buttons
	if len(rows) == 0 {
		return nil
	}
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: make([][]telegram.InlineKeyboardButton, len(rows))}
	for r, row := range rows {
		out := make([]telegram.InlineKeyboardButton, len(row))
		for c, b := range row {
			out[c] = telegram.InlineKeyboardButton{Text: b.Text, URL: b.URL}
			switch {
			case b.Callback != "":
				out[c].CallbackData = CallbackData(id, r, c)
			case b.CopyText != "":
				out[c].CopyText = &telegram.CopyTextButton{Text: b.CopyText}
			}
		}
		kb.InlineKeyboard[r] = out
	}
	return kb
}

// ButtonAt returns the button at rows[row][col] of n.
func (n Notification) ButtonAt(row, col int) (Button, error) {
	if row >= len(n.Buttons) || col >= len(n.Buttons[row]) {
		return Button{}, fmt.Errorf("delivery: notification %s has no button %d:%d", n.ID, row, col)
	}
	return n.Buttons[row][col], nil
}

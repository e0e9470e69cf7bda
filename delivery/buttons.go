package delivery

import (
	"fmt"
	"unicode/utf8"
)

// Telegram's limits on an inline keyboard and the service's on a button's
// strings (the API checks them field by field: server/validate_buttons.go;
// Enqueue checks them again, see CheckButtons).
const (
	// MaxButtonsPerRow and MaxButtons are Telegram's limits.
	MaxButtonsPerRow = 8
	MaxButtons       = 100
	// MaxButtonText is the longest button label, in characters (code
	// points).
	MaxButtonText = 64
	// MaxButtonURL is the longest button URL, in bytes.
	MaxButtonURL = 2048
	// MaxCopyText is the longest copy_text, in characters.
	MaxCopyText = 256
	// MaxCallbackAnswer is the longest callback answer (toast), in
	// characters: answerCallbackQuery's limit.
	MaxCallbackAnswer = 200
)

// CheckButtons reports the first way rows break the limits of a keyboard
// (a row empty or over MaxButtonsPerRow, over MaxButtons in all, a label
// empty or over MaxButtonText, not exactly one action, an action over its
// bound), or nil. It is the engine's own guard: the API names the field.
func CheckButtons(rows [][]Button) error {
	total := 0
	for r, row := range rows {
		if len(row) == 0 || len(row) > MaxButtonsPerRow {
			return fmt.Errorf("%w: row %d has %d buttons (1-%d)", ErrInvalidRequest, r, len(row), MaxButtonsPerRow)
		}
		total += len(row)
		for c, b := range row {
			if err := checkButton(b); err != nil {
				return fmt.Errorf("%w: button %d:%d: %s", ErrInvalidRequest, r, c, err)
			}
		}
	}
	if total > MaxButtons {
		return fmt.Errorf("%w: %d buttons (at most %d)", ErrInvalidRequest, total, MaxButtons)
	}
	return nil
}

func checkButton(b Button) error {
	actions := 0
	for _, a := range []string{b.URL, b.Callback, b.CopyText} {
		if a != "" {
			actions++
		}
	}
	switch n := utf8.RuneCountInString(b.Text); {
	case n == 0 || n > MaxButtonText:
		return fmt.Errorf("text of %d characters (1-%d)", n, MaxButtonText)
	case actions != 1:
		return fmt.Errorf("%d actions (exactly one)", actions)
	case len(b.URL) > MaxButtonURL, len(b.Callback) > MaxCallbackLen, utf8.RuneCountInString(b.CopyText) > MaxCopyText:
		return fmt.Errorf("action over its bound")
	}
	return nil
}

package server

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// Limits of an inline keyboard (Telegram's, and the callback the service
// keeps server-side).
const (
	MaxButtonText     = 64
	MaxButtonsPerRow  = 8
	MaxButtons        = 100
	MaxCallbackBytes  = 256
	MaxCopyTextLength = 256
)

// validateButtons checks the keyboard rows of field (errors name
// buttons[1].buttons[0].text, ...): text 1-64 code points, at most 8 per
// row and 100 in all, exactly one action; url http(s) or tg; callback
// 1-256 bytes; copy_text 1-256 characters.
func validateButtons(field string, rows []*notifierv1.ButtonRow) error {
	total := 0
	for i, row := range rows {
		rf := field + "[" + strconv.Itoa(i) + "].buttons"
		bs := row.GetButtons()
		switch {
		case len(bs) == 0:
			return invalid(rf, "a row must hold 1-%d buttons", MaxButtonsPerRow)
		case len(bs) > MaxButtonsPerRow:
			return invalid(rf, "at most %d buttons per row, got %d", MaxButtonsPerRow, len(bs))
		}
		total += len(bs)
		if total > MaxButtons {
			return invalid(field, "at most %d buttons in all", MaxButtons)
		}
		for j, b := range bs {
			if err := validateButton(rf+"["+strconv.Itoa(j)+"]", b); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateButton checks one button named field.
func validateButton(field string, b *notifierv1.Button) error {
	t := b.GetText()
	if n := utf8.RuneCountInString(t); !utf8.ValidString(t) || strings.TrimSpace(t) == "" || n > MaxButtonText {
		return invalid(field+".text", "must be 1-%d characters of valid UTF-8", MaxButtonText)
	}
	switch a := b.GetAction().(type) {
	case *notifierv1.Button_Url:
		u, err := url.Parse(a.Url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "tg") || len(a.Url) > 2048 ||
			(u.Scheme != "tg" && u.Host == "") {
			return invalid(field+".url", "must be an http://, https:// or tg:// URL")
		}
	case *notifierv1.Button_Callback:
		if a.Callback == "" || len(a.Callback) > MaxCallbackBytes || !utf8.ValidString(a.Callback) {
			return invalid(field+".callback", "must be 1-%d bytes of valid UTF-8", MaxCallbackBytes)
		}
	case *notifierv1.Button_CopyText:
		if n := utf8.RuneCountInString(a.CopyText); a.CopyText == "" || n > MaxCopyTextLength || !utf8.ValidString(a.CopyText) {
			return invalid(field+".copy_text", "must be 1-%d characters", MaxCopyTextLength)
		}
	default:
		return invalid(field, "needs exactly one action: url, callback or copy_text")
	}
	return nil
}

package server

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// validateButtons checks NotifyRequest.buttons against Telegram's limits
// (delivery.MaxButtonsPerRow per row, delivery.MaxButtons in all, no empty
// row) and every button (validateButton), naming the field
// ("buttons[1].buttons[0].text"), and returns the keyboard as the delivery
// model's (nil for none).
func validateButtons(rows []*notifierv1.ButtonRow) ([][]delivery.Button, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	if len(rows) > delivery.MaxButtons {
		return nil, invalid("buttons", "must have at most %d rows, got %d", delivery.MaxButtons, len(rows))
	}
	out := make([][]delivery.Button, len(rows))
	total := 0
	for r, row := range rows {
		field := fmt.Sprintf("buttons[%d].buttons", r)
		bs := row.GetButtons()
		switch {
		case len(bs) == 0:
			return nil, invalid(field, "must not be empty (a row has 1-%d buttons)", delivery.MaxButtonsPerRow)
		case len(bs) > delivery.MaxButtonsPerRow:
			return nil, invalid(field, "must have at most %d buttons, got %d", delivery.MaxButtonsPerRow, len(bs))
		}
		total += len(bs)
		if total > delivery.MaxButtons {
			return nil, invalid("buttons", "must have at most %d buttons in all", delivery.MaxButtons)
		}
		out[r] = make([]delivery.Button, len(bs))
		for c, b := range bs {
			v, err := validateButton(fmt.Sprintf("buttons[%d].buttons[%d]", r, c), b)
			if err != nil {
				return nil, err
			}
			out[r][c] = v
		}
	}
	return out, nil
}

// validateButton checks one button: a label of 1-MaxButtonText
// characters, and exactly one action: an http://, https:// or tg:// url of
// at most MaxButtonURL bytes, a callback of 1-MaxCallbackLen bytes, or a
// copy_text of 1-MaxCopyText characters.
func validateButton(field string, b *notifierv1.Button) (delivery.Button, error) {
	text := b.GetText()
	switch n := utf8.RuneCountInString(text); {
	case !utf8.ValidString(text):
		return delivery.Button{}, invalid(field+".text", "must be valid UTF-8")
	case isBlank(text):
		return delivery.Button{}, invalid(field+".text", "must not be empty")
	case n > delivery.MaxButtonText:
		return delivery.Button{}, invalid(field+".text", "must be at most %d characters, got %d", delivery.MaxButtonText, n)
	}
	out := delivery.Button{Text: text}
	switch a := b.GetAction().(type) {
	case *notifierv1.Button_Url:
		if err := validateButtonURL(field+".url", a.Url); err != nil {
			return delivery.Button{}, err
		}
		out.URL = a.Url
	case *notifierv1.Button_Callback:
		if a.Callback == "" || len(a.Callback) > delivery.MaxCallbackLen {
			return delivery.Button{}, invalid(field+".callback", "must be 1-%d bytes, got %d", delivery.MaxCallbackLen, len(a.Callback))
		}
		if !utf8.ValidString(a.Callback) {
			return delivery.Button{}, invalid(field+".callback", "must be valid UTF-8")
		}
		out.Callback = a.Callback
	case *notifierv1.Button_CopyText:
		n := utf8.RuneCountInString(a.CopyText)
		if !utf8.ValidString(a.CopyText) || isBlank(a.CopyText) || n > delivery.MaxCopyText {
			return delivery.Button{}, invalid(field+".copy_text", "must be 1-%d characters of valid UTF-8, got %d", delivery.MaxCopyText, n)
		}
		out.CopyText = a.CopyText
	default:
		return delivery.Button{}, invalid(field, "must have exactly one action: url, callback or copy_text")
	}
	return out, nil
}

// validateButtonURL checks a button's url: http://, https:// (with a host)
// or tg://, at most MaxButtonURL bytes, no spaces or control characters.
func validateButtonURL(field, s string) error {
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > delivery.MaxButtonURL:
		return invalid(field, "must be at most %d bytes, got %d", delivery.MaxButtonURL, len(s))
	case !utf8.ValidString(s):
		return invalid(field, "must be valid UTF-8")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return invalid(field, "must not contain spaces or control characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalid(field, "must be an http://, https:// or tg:// URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return invalid(field, "must have a host")
		}
	case "tg":
		if u.Host == "" && u.Opaque == "" {
			return invalid(field, "must name what to open (tg://resolve?domain=...)")
		}
	default:
		return invalid(field, "must be an http://, https:// or tg:// URL")
	}
	return nil
}

// validateCallbackAnswer checks callback_answer: at most MaxCallbackAnswer
// characters of valid UTF-8.
func validateCallbackAnswer(s string) error {
	const field = "callback_answer"
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > delivery.MaxCallbackAnswer {
		return invalid(field, "must be at most %d characters, got %d", delivery.MaxCallbackAnswer, n)
	}
	return nil
}

package app

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tgnotify/tgnotify/telegram"
)

// telegramAuth is what update intake last learned about Telegram's view of
// the bot token: the problem found at setup (getMe, setWebhook,
// deleteWebhook) and by the poller (getUpdates), nil when none. Sends keep
// their own state ([delivery.Dispatcher.AuthFailure]). Any of them turns
// readiness NOT_SERVING with the problem as the reason.
type telegramAuth struct {
	setup, poll atomic.Pointer[string]
}

// telegramAuthProblem says, for an auth failure ([telegram.IsAuthFailure]),
// what to fix, naming the setting; it never quotes the token.
func telegramAuthProblem(err error) string {
	if telegram.IsUnauthorized(err) {
		return "Telegram rejects TELEGRAM_BOT_TOKEN (401 Unauthorized: the token is invalid or was revoked; " +
			"put the current token from BotFather in TELEGRAM_BOT_TOKEN)"
	}
	return "Telegram answers 404 Not Found for the bot's methods: check TELEGRAM_API_URL and TELEGRAM_BOT_TOKEN"
}

// telegramMethod is the Bot API method of a Telegram error answer, "" if
// none.
func telegramMethod(err error) string {
	var te *telegram.Error
	if errors.As(err, &te) {
		return te.Method
	}
	return ""
}

// noteAuth records the problem of an auth failure (err != nil) or its end
// (err == nil) in slot, and reports whether the state changed: so that the
// caller logs once per transition.
func noteAuth(slot *atomic.Pointer[string], err error) (changed bool) {
	if err == nil {
		return slot.Swap(nil) != nil
	}
	p := telegramAuthProblem(err)
	old := slot.Swap(&p)
	return old == nil || *old != p
}

// telegramAuthErr is the readiness reason while Telegram rejects the bot
// token, nil otherwise.
func (s *botStack) telegramAuthErr() error {
	err := s.authErr()
	if err == nil || !s.cfg.FromFile {
		return err
	}
	return errors.New(s.settingNames(err.Error()))
}

// settingNames names a file bot's settings in a message written for the
// single-bot variables.
func (s *botStack) settingNames(msg string) string {
	if !s.cfg.FromFile {
		return msg
	}
	where := fmt.Sprintf("NOTIFIER_BOTS_FILE bot %q ", s.cfg.ID)
	return strings.NewReplacer("TELEGRAM_BOT_TOKEN", where+"token", "TELEGRAM_API_URL", where+"api_url").Replace(msg)
}

func (s *botStack) authErr() error {
	if p := s.tgAuth.setup.Load(); p != nil {
		return fmt.Errorf("telegram setup: %s", *p)
	}
	if p := s.tgAuth.poll.Load(); p != nil {
		return fmt.Errorf("telegram updates paused: %s", *p)
	}
	if reason, failing := s.disp.AuthFailure(); failing {
		return fmt.Errorf("telegram sends paused: %s; check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL", reason)
	}
	return nil
}

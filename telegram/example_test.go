package telegram_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/tgnotify/tgnotify/telegram"
)

func ExampleUTF16Len() {
	fmt.Println(telegram.UTF16Len("hello"))
	fmt.Println(telegram.UTF16Len("héllo")) // é is one unit
	fmt.Println(telegram.UTF16Len("👍"))     // outside the BMP: a surrogate pair
	fmt.Println(len("👍"))                   // bytes, for comparison
	// Output:
	// 5
	// 5
	// 2
	// 4
}

func ExampleIsBlocked() {
	var err error = &telegram.Error{Code: 403, Description: "Forbidden: bot was blocked by the user"}
	err = fmt.Errorf("notify user 42: %w", err)
	fmt.Println(telegram.IsBlocked(err), telegram.IsChatNotFound(err), telegram.IsTemporary(err))
	fmt.Println(err)
	// Output:
	// true false false
	// notify user 42: telegram: 403 Forbidden: bot was blocked by the user
}

func ExampleRetryAfter() {
	err := &telegram.Error{Code: 429, Description: "Too Many Requests: retry after 17", RetryAfter: 17 * time.Second}
	if d, ok := telegram.RetryAfter(err); ok {
		fmt.Println("wait", d)
	}
	_, ok := telegram.RetryAfter(errors.New("other"))
	fmt.Println(ok)
	// Output:
	// wait 17s
	// false
}

func ExampleEscapeMarkdownV2() {
	fmt.Println(telegram.EscapeMarkdownV2("v1.2-rc (beta)!"))
	// Output: v1\.2\-rc \(beta\)\!
}

func ExampleParseCommand() {
	name, bot, args, ok := telegram.ParseCommand("/start@tgnotify_bot dGVzdA")
	fmt.Println(name, bot, args, ok)
	// Output: start tgnotify_bot dGVzdA true
}

// Package telegram is tgnotify's Telegram Bot API client: the wire types of
// updates, a [Client] for the handful of methods the service calls, an
// [Error] type with predicates for the failures worth reacting to, a webhook
// [http.Handler] and a long-polling [Poller].
//
// Sending a notification:
//
//	c := telegram.NewClient("https://api.telegram.org", token,
//		telegram.WithRequestTimeout(10*time.Second))
//	msg, err := c.SendMessage(ctx, telegram.SendMessageParams{ChatID: chatID, Text: "Hello"})
//	switch {
//	case telegram.IsBlocked(err):
//		// the user blocked the bot or deleted the account: unlink the chat
//	case telegram.IsChatNotFound(err):
//		// the user never pressed Start: the chat is unknown to the bot
//	}
//	if d, ok := telegram.RetryAfter(err); ok {
//		// 429: the whole bot is throttled for d
//	}
//
// Receiving updates either through a webhook:
//
//	http.Handle("/telegram/webhook", telegram.NewWebhookHandler(secret, handler,
//		telegram.WithLogger(logger)))
//
// or by long polling (after DeleteWebhook, since both cannot be active):
//
//	p := telegram.NewPoller(c, offsetStore, handler, logger)
//	err := p.Run(ctx) // returns nil once ctx is cancelled
//
// Only Telegram's own JSON answer {"ok":false,...} is an [*Error], a
// verdict on the request; any other HTTP answer (a proxy's HTML error page,
// an empty body) is an [*HTTPError], a transport fault that
// [IsTemporary] reports as worth retrying. [IsAuthFailure] (401, or 404 on
// the method) means the token or the base URL is wrong for every request.
//
// The bot token is a credential: it never appears in an error returned by
// this package, transport errors included (see [Client]).
//
// Package fakebot provides a fake Bot API server for tests and sandboxes.
package telegram

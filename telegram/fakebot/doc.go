// Package fakebot is a fake Telegram Bot API, shipped in the binary for
// tgnotify's sandbox mode and used by the tests: a real HTTP server that answers like
// api.telegram.org (same paths, parameters, response shapes and error
// texts), plus a Go API to play the users and to inject faults.
//
//	srv := fakebot.NewServer()
//	defer srv.Close()
//	c := telegram.NewClient(srv.URL(), srv.Token())
//	srv.Start(42, "alice", "TOKEN") // alice opens t.me/<bot>?start=TOKEN
//	// ... the service under test polls, links chat 42, then notifies:
//	msgs, err := srv.WaitForMessages(ctx, 42, 1)
//
// What it models: getMe; sendMessage with Telegram's checks in Telegram's
// order (parse_mode and markup, unknown chat, upgraded group, deactivated
// user, blocked bot, 4096 UTF-16 units after entity parsing, flood limits);
// setWebhook, deleteWebhook and getWebhookInfo; getUpdates with offsets,
// long polling, allowed_updates and the two 409 conflicts; webhook delivery
// with the secret header and retries of the same update on failure.
// Fault knobs ([Server.FailNext], [Server.SetErrorRate],
// [Server.SetLatency], [Server.SetHang], [Server.SetLimits]) can be changed
// while requests are running.
//
// It is a normal package (not only for _test files) so that the service
// can run against it in sandbox mode.
package fakebot

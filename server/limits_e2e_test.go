package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// TestLimitsAtAndOver checks every bounded string at its limit (accepted)
// and one past it (INVALID_ARGUMENT), as Telegram and the API count them.
func TestLimitsAtAndOver(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	h.link("limits", 16001)
	reject := notifierv1.LongTextPolicy_LONG_TEXT_POLICY_REJECT
	emoji := "😀" // two UTF-16 code units
	cases := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"user_id 128", func() error {
			_, err := h.client.GetStatus(ctxT(t), &notifierv1.GetStatusRequest{UserId: strings.Repeat("ü", 128)})
			return err
		}, codes.OK},
		{"user_id 129", func() error {
			_, err := h.client.GetStatus(ctxT(t), &notifierv1.GetStatusRequest{UserId: strings.Repeat("ü", 129)})
			return err
		}, codes.InvalidArgument},
		{"idempotency_key 128", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: "k", IdempotencyKey: strings.Repeat("k", 128)})
			return err
		}, codes.OK},
		{"idempotency_key 129", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: "k", IdempotencyKey: strings.Repeat("k", 129)})
			return err
		}, codes.InvalidArgument},
		{"text 4096 UTF-16 units, reject policy", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: strings.Repeat(emoji, 2048), LongText: reject})
			return err
		}, codes.OK},
		{"text 4097 UTF-16 units, reject policy", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: strings.Repeat(emoji, 2048) + "x", LongText: reject})
			return err
		}, codes.InvalidArgument},
		{"text 64 KiB, split", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: strings.Repeat("abcd efgh ", 64<<10/10) + "abcdef"})
			return err
		}, codes.OK},
		{"text over 64 KiB", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: strings.Repeat("a", 64<<10+1)})
			return err
		}, codes.InvalidArgument},
		{"notification_id 129", func() error {
			_, err := h.client.GetNotification(ctxT(t), &notifierv1.GetNotificationRequest{NotificationId: strings.Repeat("n", 129)})
			return err
		}, codes.InvalidArgument},
		{"notification_id empty", func() error {
			_, err := h.client.GetNotification(ctxT(t), &notifierv1.GetNotificationRequest{})
			return err
		}, codes.InvalidArgument},
		{"parse_mode out of range", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: "x", ParseMode: 42})
			return err
		}, codes.InvalidArgument},
		{"long_text out of range", func() error {
			_, err := h.client.Notify(ctxT(t), &notifierv1.NotifyRequest{UserId: "limits", Text: "x", LongText: 42})
			return err
		}, codes.InvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := status.Code(c.call()); got != c.want {
				t.Fatalf("code %s, want %s", got, c.want)
			}
		})
	}
}

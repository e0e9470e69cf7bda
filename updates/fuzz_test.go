package updates

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/delivery"
	"github.com/tgnotify/tgnotify/metrics"
	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/telegram"
)

// nopReplier accepts every reply without a queue.
type nopReplier struct{}

func (nopReplier) EnqueueReply(context.Context, delivery.Reply) (bool, error) { return true, nil }

// nopSender accepts every message without a network.
type nopSender struct{}

func (nopSender) SendMessage(context.Context, telegram.SendMessageParams) (telegram.Message, error) {
	return telegram.Message{MessageID: 1}, nil
}

// FuzzWebhook feeds arbitrary bodies to the real webhook handler and bot
// (memory store, no network): never a panic, never a 5xx for a bad body,
// and the store stays usable.
func FuzzWebhook(f *testing.F) {
	seeds := []string{
		`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"from":{"id":5,"is_bot":false,"first_name":"a"},"text":"/start abc"}}`,
		`{"update_id":2,"message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"text":"/stop"}}`,
		`{"update_id":3,"my_chat_member":{"chat":{"id":5,"type":"private"},"from":{"id":5,"is_bot":false,"first_name":"a"},"date":1,"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"b"}},"new_chat_member":{"status":"kicked","user":{"id":1,"is_bot":true,"first_name":"b"}}}}`,
		`{"update_id":9223372036854775807,"message":{"message_id":1,"date":1,"chat":{"id":-9223372036854775808,"type":"group"},"migrate_to_chat_id":-1001}}`,
		`{"update_id":-1}`, `{"update_id":1e3}`, `[]`, `null`, `{"update_id":4,"message":null}`,
		`{"update_id":5,"poll":{"id":"x"},"x":{"y":[[[[[[[[[[[]]]]]]]]]]]}}`,
		strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	st := store.NewMemory()
	bot := New(st, nopReplier{}, "", metrics.New(), zap.NewNop())
	h := telegram.NewWebhookHandler("s3cret", bot, telegram.WithMaxBodyBytes(64<<10))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", bytes.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q answered %d: only store failures may answer 5xx", body, rec.Code)
		}
		if err := st.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

package telegram_test

import (
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
)

func TestMessageMediaFileID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    telegram.Message
		want string
	}{
		{"text", telegram.Message{Text: "hi"}, ""},
		{"document", telegram.Message{Document: &telegram.Document{FileID: "doc"}}, "doc"},
		{"photo, largest last", telegram.Message{Photo: []telegram.PhotoSize{{FileID: "s", Width: 90, Height: 60},
			{FileID: "l", Width: 1280, Height: 853}}}, "l"},
		{"photo, largest first", telegram.Message{Photo: []telegram.PhotoSize{{FileID: "l", Width: 1280, Height: 853},
			{FileID: "s", Width: 90, Height: 60}}}, "l"},
		{"photo, a tie: the last", telegram.Message{Photo: []telegram.PhotoSize{{FileID: "a", Width: 10, Height: 10},
			{FileID: "b", Width: 10, Height: 10}}}, "b"},
	}
	for _, tt := range tests {
		if got := tt.m.MediaFileID(); got != tt.want {
			t.Errorf("%s: MediaFileID = %q, want %q", tt.name, got, tt.want)
		}
	}
}

package delivery

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/tgnotify/tgnotify/telegram"
)

// TestTopicNote checks that the note fits TopicNoteMaxLen for any id and
// holds no character a parse mode reserves.
func TestTopicNote(t *testing.T) {
	t.Parallel()
	for _, id := range []int64{1, 42, math.MaxInt32, math.MaxInt64} {
		note := TopicNote(id)
		if n := len(utf16.Encode([]rune(note))); n > TopicNoteMaxLen {
			t.Errorf("TopicNote(%d) is %d UTF-16 units, over %d", id, n, TopicNoteMaxLen)
		}
		if strings.ContainsAny(note, "_*[]()~`>#+-=|{}.!<&") {
			t.Errorf("TopicNote(%d) = %q holds a reserved character", id, note)
		}
	}
}

// TestPlanPartsLeaveRoomForTopicNote checks that the parts of a topic
// notification leave room for the fallback note.
func TestPlanPartsLeaveRoomForTopicNote(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("word ", telegram.MaxMessageLen/5)
	for _, media := range []bool{false, true} {
		parts, err := planParts(text, "", media, true)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range parts {
			limit := telegram.MaxMessageLen
			if media && i == 0 {
				limit = telegram.MaxCaptionLen
			}
			if n := len(utf16.Encode([]rune(TopicNote(math.MaxInt64) + p))); n > limit {
				t.Fatalf("media=%v part %d with the note is %d units, over %d", media, i, n, limit)
			}
		}
	}
}

// TestSendTopic checks when a send names the topic.
func TestSendTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Claim
		want int64
	}{
		{"group with a topic", Claim{ChatID: -100, Notification: Notification{TopicID: 5}}, 5},
		{"group without a topic", Claim{ChatID: -100}, 0},
		{"private chat", Claim{ChatID: 100, Notification: Notification{TopicID: 5}}, 0},
		{"fell back already", Claim{ChatID: -100, Notification: Notification{TopicID: 5, Degraded: DegradedTopicFallback}}, 0},
	}
	for _, tc := range tests {
		if got := sendTopic(tc.c); got != tc.want {
			t.Errorf("%s: sendTopic = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestChatIntervalGroups checks that groups and supergroups (negative ids)
// are paced at 20 messages a minute by default, private chats at one a
// second.
func TestChatIntervalGroups(t *testing.T) {
	t.Parallel()
	d := &Dispatcher{cfg: DefaultConfig().normalized()}
	for chat, want := range map[int64]time.Duration{-4001: 3 * time.Second, -1001234567890: 3 * time.Second, 42: time.Second} {
		if got := d.chatInterval(chat); got != want {
			t.Errorf("chatInterval(%d) = %v, want %v", chat, got, want)
		}
	}
}

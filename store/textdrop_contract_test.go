package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/store"
	"github.com/tgnotify/tgnotify/store/redistest"
)

// rawTextCheck reports whether the stored record of id still holds its
// text, when the backend can tell (nil: only Get is checked).
type rawTextCheck func(t *testing.T, id string) bool

func TestMemoryQueueDropsSentText(t *testing.T) {
	runTextDrop(t, func(t *testing.T) (queue, rawTextCheck) { return store.NewMemoryQueue(nil), nil })
}

func TestRedisQueueDropsSentText(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	runTextDrop(t, func(t *testing.T) (queue, rawTextCheck) {
		c, prefix := srv.Client(t), fmt.Sprintf("t%d", n.Add(1))
		return store.NewRedis(c, prefix).Queue(), func(t *testing.T, id string) bool {
			ok, err := c.HExists(qctx(t), prefix+":n:"+id, "parts").Result()
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
	})
}

// runTextDrop is finding 7 of issue 8 (records keep the full text for
// their retention): once SENT a record keeps the number, total length and
// SHA-256 of its parts, not their text; a FAILED one keeps its text.
// Before the fix the text stayed.
func runTextDrop(t *testing.T, newQueue func(t *testing.T) (queue, rawTextCheck)) {
	t0 := time.Now().Truncate(time.Millisecond)
	parts := []string{"first <b>part</b>", "second part ✓"}
	sum := sha256.Sum256([]byte(parts[0] + parts[1]))
	wantLen, wantSum := len(parts[0])+len(parts[1]), hex.EncodeToString(sum[:])
	sent := delivery.Outcome{Kind: delivery.OutcomePartSent, MessageID: 1, Attempts: 1, NextAt: t0}
	tests := []struct {
		name     string
		outcomes []delivery.Outcome
		state    delivery.NotificationState
		keepText bool
	}{
		{"sent drops the text", []delivery.Outcome{sent, sent}, delivery.StateSent, false},
		{"part way keeps it", []delivery.Outcome{sent}, delivery.StateSending, true},
		{"failed keeps it", []delivery.Outcome{{Kind: delivery.OutcomeFail, Reason: "rejected", NextAt: t0}}, delivery.StateFailed, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, raw := newQueue(t)
			mustEnqueue(t, q, notif("a", "u", 1, t0, parts...))
			for _, o := range tc.outcomes {
				mustSettle(t, q, mustClaim(t, q, t0), o, t0)
			}
			n := mustGet(t, q, "a")
			if n.State != tc.state || len(n.Parts) != 2 || n.TextLen != wantLen || n.TextSHA256 != wantSum {
				t.Fatalf("record = %+v; want state %v, 2 parts, text_len %d, sha256 %s", n, tc.state, wantLen, wantSum)
			}
			if got := n.Parts[0] == parts[0] && n.Parts[1] == parts[1]; got != tc.keepText {
				t.Fatalf("parts = %q; text kept %v, want %v", n.Parts, got, tc.keepText)
			}
			if !tc.keepText && (n.Parts[0] != "" || n.Parts[1] != "") {
				t.Fatalf("parts of a sent record = %q, want empty", n.Parts)
			}
			if raw != nil && raw(t, "a") != tc.keepText {
				t.Fatalf("stored parts field present = %v, want %v", !tc.keepText, tc.keepText)
			}
		})
	}
}

// withDigest returns n with the TextLen and TextSHA256 the queue records.
func withDigest(n delivery.Notification) delivery.Notification {
	h := sha256.New()
	n.TextLen = 0
	for _, p := range n.Parts {
		n.TextLen += len(p)
		h.Write([]byte(p))
	}
	n.TextSHA256 = hex.EncodeToString(h.Sum(nil))
	return n
}

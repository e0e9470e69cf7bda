package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestMedia drives NotifyRequest.media over gRPC and REST against the
// fake Bot API, on both backends: a caption that fits, a long text after
// its media, a document by file_id, refused input and a failing URL.
func TestMedia(t *testing.T) {
	t.Parallel()
	onBothBackends(t, func(t *testing.T, h *harness) {
		testMedia(t, h)
	})
}

func photoURL(u string) *notifierv1.Media {
	return &notifierv1.Media{Kind: notifierv1.MediaKind_MEDIA_KIND_PHOTO, Source: &notifierv1.Media_Url{Url: u}}
}

func testMedia(t *testing.T, h *harness) {
	const chat = int64(17001)
	h.link("mia", chat)
	sent, failed := notifierv1.NotificationState_NOTIFICATION_STATE_SENT, notifierv1.NotificationState_NOTIFICATION_STATE_FAILED

	// A photo by URL with a short caption: one message.
	r := h.notify(&notifierv1.NotifyRequest{UserId: "mia", Text: "*chart* of today", ParseMode: notifierv1.ParseMode_PARSE_MODE_MARKDOWN_V2,
		Media: photoURL("https://example.com/chart.png")})
	if r.GetParts() != 1 {
		t.Fatalf("photo parts = %d", r.GetParts())
	}
	n := h.waitFinal(r.GetNotificationId())
	if n.GetState() != sent || len(n.GetMessageIds()) != 1 {
		t.Fatalf("photo: %v", n)
	}
	m := h.sentFor(chat, n.GetMessageIds())[0]
	if m.Media == nil || m.Media.Kind != "photo" || m.Media.Source != "https://example.com/chart.png" ||
		m.PlainText != "chart of today" || m.ParseMode != "MarkdownV2" {
		t.Fatalf("photo sent as %+v (media %+v)", m, m.Media)
	}
	if n.GetMediaFileId() == "" || n.GetMediaFileId() != m.Media.FileID {
		t.Fatalf("media_file_id = %q, the fake's largest size %q", n.GetMediaFileId(), m.Media.FileID)
	}

	// The file_id resent as a document, with no text at all.
	r = h.notify(&notifierv1.NotifyRequest{UserId: "mia", Media: &notifierv1.Media{Kind: notifierv1.MediaKind_MEDIA_KIND_DOCUMENT,
		Source: &notifierv1.Media_FileId{FileId: n.GetMediaFileId()}}})
	dn := h.waitFinal(r.GetNotificationId())
	if dm := h.sentFor(chat, dn.GetMessageIds())[0]; dn.GetState() != sent || dm.Media == nil || dm.Media.Kind != "document" ||
		dm.Media.Source != n.GetMediaFileId() || dm.Text != "" || dn.GetMediaFileId() != dm.Media.FileID {
		t.Fatalf("document: %v, sent %+v", dn, dm)
	}

	// A text over the caption limit: the media alone, then the text parts.
	long := strings.Repeat(strings.Repeat("word ", 199)+"end\n\n", 5) // > 4096: 2 text parts
	r = h.notify(&notifierv1.NotifyRequest{UserId: "mia", Text: long, Media: photoURL("https://example.com/big.png")})
	ln := h.waitFinal(r.GetNotificationId())
	if ln.GetState() != sent || len(ln.GetMessageIds()) < 3 || ln.GetParts() != int32(len(ln.GetMessageIds())) {
		t.Fatalf("long: %v", ln)
	}
	var text strings.Builder
	for i, lm := range h.sentFor(chat, ln.GetMessageIds()) {
		switch {
		case i == 0 && (lm.Media == nil || lm.Text != ""):
			t.Fatalf("long part 0 = %+v, want the media alone", lm)
		case i > 0 && lm.Media != nil:
			t.Fatalf("long part %d has media", i)
		}
		text.WriteString(lm.Text)
	}
	if strings.Join(strings.Fields(text.String()), " ") != strings.Join(strings.Fields(long), " ") {
		t.Fatalf("long text parts do not add up to the text")
	}

	// A URL Telegram cannot fetch: FAILED bad_media, not retried.
	h.fake.FailMediaURL("https://example.com/gone.png", fakebot.ErrURLContent)
	r = h.notify(&notifierv1.NotifyRequest{UserId: "mia", Text: "gone", Media: photoURL("https://example.com/gone.png")})
	if fn := h.waitFinal(r.GetNotificationId()); fn.GetState() != failed || fn.GetFailureReason() != "bad_media" || fn.GetAttempts() != 1 {
		t.Fatalf("failing URL: %v", fn)
	}

	testMediaREST(t, h, chat)
	testMediaRefused(t, h, chat)
}

// testMediaREST sends a photo by URL in a REST body (proto names).
func testMediaREST(t *testing.T, h *harness, chat int64) {
	code, body := h.rest("POST", "/v1/users/mia/notifications", map[string]any{"text": "over REST",
		"media": map[string]any{"kind": "MEDIA_KIND_PHOTO", "url": "https://example.com/rest.png"}})
	id, _ := body["notification_id"].(string)
	if code != http.StatusOK || id == "" {
		t.Fatalf("REST Notify = %d %v", code, body)
	}
	n := h.waitFinal(id)
	m := h.sentFor(chat, n.GetMessageIds())[0]
	if m.Media == nil || m.Media.Source != "https://example.com/rest.png" || m.Text != "over REST" {
		t.Fatalf("REST photo: %+v", m)
	}
	code, body = h.rest("GET", "/v1/notifications/"+id, nil)
	if code != http.StatusOK || body["media_file_id"] != m.Media.FileID {
		t.Fatalf("REST GetNotification = %d %v, want media_file_id %q", code, body, m.Media.FileID)
	}
}

// testMediaRefused checks that bad media input is INVALID_ARGUMENT naming
// the field, over gRPC and REST, and that nothing is stored or sent.
func testMediaRefused(t *testing.T, h *harness, chat int64) {
	ctx := ctxT(t)
	before, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "mia"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := len(h.fake.Messages(chat))
	doc := notifierv1.MediaKind_MEDIA_KIND_DOCUMENT
	for _, tc := range []struct {
		name  string
		media *notifierv1.Media
		text  string
		field string
	}{
		{"no kind", &notifierv1.Media{Source: &notifierv1.Media_Url{Url: "https://example.com/a.png"}}, "x", "media.kind"},
		{"unknown kind", &notifierv1.Media{Kind: 7, Source: &notifierv1.Media_Url{Url: "https://example.com/a.png"}}, "x", "media.kind"},
		{"no source", &notifierv1.Media{Kind: doc}, "x", "media"},
		{"ftp url", photoURL("ftp://example.com/a.png"), "x", "media.url"},
		{"long url", photoURL("https://example.com/" + strings.Repeat("a", 2048)), "x", "media.url"},
		{"empty file_id", &notifierv1.Media{Kind: doc, Source: &notifierv1.Media_FileId{}}, "x", "media.file_id"},
		{"bad file_id", &notifierv1.Media{Kind: doc, Source: &notifierv1.Media_FileId{FileId: "a b"}}, "x", "media.file_id"},
		{"long file_id", &notifierv1.Media{Kind: doc, Source: &notifierv1.Media_FileId{FileId: strings.Repeat("a", 257)}}, "x", "media.file_id"},
		{"empty text without media", nil, "", "text"},
	} {
		_, err := h.client.Notify(ctx, &notifierv1.NotifyRequest{UserId: "mia", Text: tc.text, Media: tc.media})
		wantCode(t, err, codes.InvalidArgument)
		if err != nil && !strings.Contains(err.Error(), "invalid "+tc.field+":") {
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.field)
		}
	}
	for _, tc := range []struct {
		media map[string]any
		field string
	}{
		{map[string]any{"url": "https://example.com/a.png"}, "media.kind"},
		{map[string]any{"kind": "MEDIA_KIND_PHOTO"}, "media"},
		{map[string]any{"kind": "MEDIA_KIND_PHOTO", "url": "javascript:alert(1)"}, "media.url"},
		{map[string]any{"kind": "MEDIA_KIND_DOCUMENT", "file_id": "no/slash"}, "media.file_id"},
	} {
		code, body := h.rest("POST", "/v1/users/mia/notifications", map[string]any{"text": "x", "media": tc.media})
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body), tc.field) {
			t.Errorf("REST media %v = %d %v, want 400 naming %s", tc.media, code, body, tc.field)
		}
	}
	after, err := h.client.GetStatus(ctx, &notifierv1.GetStatusRequest{UserId: "mia"})
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.GetDelivery(), after.GetDelivery()
	if a.GetQueued() != b.GetQueued() || a.GetSent() != b.GetSent() || a.GetFailed() != b.GetFailed() ||
		a.GetLastNotificationId() != b.GetLastNotificationId() || len(h.fake.Messages(chat)) != msgs {
		t.Fatalf("refused media changed the state: %v → %v", b, a)
	}
}

// TestSandboxShowsMedia checks that GET /sandbox/chats/{id}/messages shows
// a photo's kind, source and caption.
func TestSandboxShowsMedia(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{sandbox: true})
	const chat = int64(17101)
	h.link("max", chat)
	r := h.notify(&notifierv1.NotifyRequest{UserId: "max", Text: "invoice", Media: photoURL("https://example.com/i.png")})
	h.waitFinal(r.GetNotificationId())
	code, body := h.rest("GET", fmt.Sprintf("/sandbox/chats/%d/messages", chat), nil)
	msgs, _ := body["messages"].([]any)
	if code != http.StatusOK || len(msgs) == 0 {
		t.Fatalf("messages %d %v", code, body)
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	media, _ := last["media"].(map[string]any)
	if last["text"] != "invoice" || media["kind"] != "photo" || media["source"] != "https://example.com/i.png" || media["file_id"] == "" {
		t.Fatalf("sandbox shows %v", last)
	}
}

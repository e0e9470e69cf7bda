package fakebot_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// TestSendPhotoAndDocument checks sendPhoto and sendDocument: a URL or a
// file_id, the caption and its limit, the returned photo sizes (distinct
// file_ids, the largest last) and document, the failing URLs, and the
// record of the media.
func TestSendPhotoAndDocument(t *testing.T) {
	srv, client := newServer(t)
	srv.Start(42, "alice", "")
	ctx := testCtx(t)

	m, err := client.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: 42, Photo: "https://example.com/a.png",
		Caption: "<b>chart</b>", ParseMode: "HTML", ProtectContent: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Photo) < 2 || m.Caption != "chart" || m.Document != nil {
		t.Fatalf("photo message %+v", m)
	}
	seen := map[string]bool{}
	for i, p := range m.Photo {
		if p.FileID == "" || seen[p.FileID] || (i > 0 && p.Width*p.Height <= m.Photo[i-1].Width*m.Photo[i-1].Height) {
			t.Fatalf("photo sizes %+v: want distinct file_ids, growing", m.Photo)
		}
		seen[p.FileID] = true
	}
	largest := m.Photo[len(m.Photo)-1].FileID
	if m.MediaFileID() != largest {
		t.Fatalf("MediaFileID %q, want the largest %q", m.MediaFileID(), largest)
	}
	rec := srv.Messages(42)[len(srv.Messages(42))-1]
	if rec.Media == nil || rec.Media.Kind != "photo" || rec.Media.Source != "https://example.com/a.png" ||
		rec.Media.FileID != largest || rec.Text != "<b>chart</b>" || rec.PlainText != "chart" || !rec.ProtectContent {
		t.Fatalf("recorded %+v (media %+v)", rec, rec.Media)
	}

	d, err := client.SendDocument(ctx, telegram.SendDocumentParams{ChatID: 42, Document: largest})
	if err != nil {
		t.Fatal(err)
	}
	if d.Document == nil || d.Document.FileID == "" || d.MediaFileID() != d.Document.FileID || d.Caption != "" {
		t.Fatalf("document message %+v", d)
	}
	if rec := srv.Messages(42)[len(srv.Messages(42))-1]; rec.Media == nil || rec.Media.Kind != "document" || rec.Media.Source != largest {
		t.Fatalf("recorded %+v", rec)
	}

	n := len(srv.Messages(42))
	srv.FailMediaURL("https://example.com/gone.png", fakebot.ErrURLContent)
	srv.FailMediaURL("https://example.com/bad.png", fakebot.ErrWrongFileID)
	for _, tc := range []struct {
		name string
		send func() error
		want string
		bad  bool
	}{
		{"URL not fetched", func() error {
			_, err := client.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: 42, Photo: "https://example.com/gone.png"})
			return err
		}, fakebot.ErrURLContent, true},
		{"wrong URL", func() error {
			_, err := client.SendDocument(ctx, telegram.SendDocumentParams{ChatID: 42, Document: "https://example.com/bad.png"})
			return err
		}, fakebot.ErrWrongFileID, true},
		{"not a file_id", func() error {
			_, err := client.SendDocument(ctx, telegram.SendDocumentParams{ChatID: 42, Document: "no such/file"})
			return err
		}, fakebot.ErrWrongFileID, true},
		{"caption too long", func() error {
			_, err := client.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: 42, Photo: largest, Caption: strings.Repeat("a", 1025)})
			return err
		}, "Bad Request: message caption is too long", false},
		{"no photo", func() error {
			_, err := client.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: 42})
			return err
		}, "Bad Request: there is no photo in the request", false},
		{"unknown chat", func() error {
			_, err := client.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: 99, Photo: largest})
			return err
		}, "Bad Request: chat not found", false},
	} {
		err := tc.send()
		var te *telegram.Error
		if !errors.As(err, &te) || te.Code != 400 || te.Description != tc.want || telegram.IsBadMedia(err) != tc.bad {
			t.Errorf("%s: %v, want 400 %q (bad media %v)", tc.name, err, tc.want, tc.bad)
		}
	}
	if got := len(srv.Messages(42)); got != n {
		t.Fatalf("failed sends were recorded: %d messages, want %d", got, n)
	}
	// A caption at the limit is accepted.
	if _, err := client.SendPhoto(ctx, telegram.SendPhotoParams{ChatID: 42, Photo: largest, Caption: strings.Repeat("😀", 512)}); err != nil {
		t.Fatal(err)
	}
}

package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

func TestValidateMedia(t *testing.T) {
	t.Parallel()
	photo, doc := notifierv1.MediaKind_MEDIA_KIND_PHOTO, notifierv1.MediaKind_MEDIA_KIND_DOCUMENT
	url := func(k notifierv1.MediaKind, u string) *notifierv1.Media {
		return &notifierv1.Media{Kind: k, Source: &notifierv1.Media_Url{Url: u}}
	}
	file := func(k notifierv1.MediaKind, f string) *notifierv1.Media {
		return &notifierv1.Media{Kind: k, Source: &notifierv1.Media_FileId{FileId: f}}
	}
	tests := []struct {
		name  string
		in    *notifierv1.Media
		want  delivery.Media
		field string // "" when valid
	}{
		{"none", nil, delivery.Media{}, ""},
		{"photo url", url(photo, "https://example.com/a.png"), delivery.Media{Kind: delivery.MediaPhoto, URL: "https://example.com/a.png"}, ""},
		{"http url", url(doc, "http://example.com/a.pdf"), delivery.Media{Kind: delivery.MediaDocument, URL: "http://example.com/a.pdf"}, ""},
		{"url at the limit", url(photo, "https://e.com/"+strings.Repeat("a", 2048-14)), delivery.Media{Kind: delivery.MediaPhoto, URL: "https://e.com/" + strings.Repeat("a", 2048-14)}, ""},
		{"file_id", file(doc, "BQACAgI-_9"), delivery.Media{Kind: delivery.MediaDocument, FileID: "BQACAgI-_9"}, ""},
		{"file_id at the limit", file(photo, strings.Repeat("x", 256)), delivery.Media{Kind: delivery.MediaPhoto, FileID: strings.Repeat("x", 256)}, ""},
		{"no kind", url(0, "https://example.com/a.png"), delivery.Media{}, "media.kind"},
		{"unknown kind", url(3, "https://example.com/a.png"), delivery.Media{}, "media.kind"},
		{"no source", &notifierv1.Media{Kind: photo}, delivery.Media{}, "media"},
		{"empty url", url(photo, ""), delivery.Media{}, "media.url"},
		{"url over the limit", url(photo, "https://e.com/"+strings.Repeat("a", 2048-13)), delivery.Media{}, "media.url"},
		{"ftp url", url(photo, "ftp://example.com/a"), delivery.Media{}, "media.url"},
		{"tg url", url(photo, "tg://resolve?domain=x"), delivery.Media{}, "media.url"},
		{"no host", url(photo, "https:///a.png"), delivery.Media{}, "media.url"},
		{"relative", url(photo, "/a.png"), delivery.Media{}, "media.url"},
		{"space in url", url(photo, "https://example.com/a b.png"), delivery.Media{}, "media.url"},
		{"invalid UTF-8", url(photo, "https://example.com/\xff"), delivery.Media{}, "media.url"},
		{"empty file_id", file(photo, ""), delivery.Media{}, "media.file_id"},
		{"file_id over the limit", file(photo, strings.Repeat("x", 257)), delivery.Media{}, "media.file_id"},
		{"file_id with a slash", file(photo, "a/b"), delivery.Media{}, "media.file_id"},
		{"file_id with a dot", file(photo, "a.b"), delivery.Media{}, "media.file_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := validateMedia(tt.in)
			if tt.field == "" {
				if err != nil || got != tt.want {
					t.Fatalf("validateMedia = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var ia *InvalidArgumentError
			if !errors.As(err, &ia) || ia.Field != tt.field {
				t.Fatalf("validateMedia = %v, want invalid %s", err, tt.field)
			}
		})
	}
}

func TestValidateBody(t *testing.T) {
	t.Parallel()
	if _, err := validateBody("", 0, false, false); err == nil {
		t.Fatal("empty text without media accepted")
	}
	if pm, err := validateBody("", notifierv1.ParseMode_PARSE_MODE_HTML, false, true); err != nil || pm != "HTML" {
		t.Fatalf("empty text with media: %q %v", pm, err)
	}
	if _, err := validateBody(" ", 99, false, true); err == nil {
		t.Fatal("unknown parse mode accepted with media")
	}
	if _, err := validateBody(strings.Repeat(" ", MaxRawTextBytes+1), 0, false, true); err == nil {
		t.Fatal("unbounded blank text accepted with media")
	}
	if _, err := validateBody("caption", 0, true, true); err != nil {
		t.Fatal(err)
	}
}

package server

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/delivery"
	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// Limits of NotifyRequest.media.
const (
	// MaxMediaURLLen is the longest media.url, in bytes.
	MaxMediaURLLen = 2048
	// MaxMediaFileIDLen is the longest media.file_id, in bytes.
	MaxMediaFileIDLen = 256
)

// validateMedia checks NotifyRequest.media (nil: none) and returns it as
// the delivery model's: a known kind and exactly one source, an http(s)
// URL of at most MaxMediaURLLen bytes or a file_id of 1-MaxMediaFileIDLen
// bytes of A-Za-z0-9_-.
func validateMedia(m *notifierv1.Media) (delivery.Media, error) {
	if m == nil {
		return delivery.Media{}, nil
	}
	var out delivery.Media
	switch m.GetKind() {
	case notifierv1.MediaKind_MEDIA_KIND_PHOTO:
		out.Kind = delivery.MediaPhoto
	case notifierv1.MediaKind_MEDIA_KIND_DOCUMENT:
		out.Kind = delivery.MediaDocument
	case notifierv1.MediaKind_MEDIA_KIND_UNSPECIFIED:
		return delivery.Media{}, invalid("media.kind", "must be MEDIA_KIND_PHOTO or MEDIA_KIND_DOCUMENT")
	default:
		return delivery.Media{}, invalid("media.kind", "unknown value %d", int32(m.GetKind()))
	}
	switch src := m.GetSource().(type) {
	case *notifierv1.Media_Url:
		if err := validateMediaURL(src.Url); err != nil {
			return delivery.Media{}, err
		}
		out.URL = src.Url
	case *notifierv1.Media_FileId:
		if err := validateFileID(src.FileId); err != nil {
			return delivery.Media{}, err
		}
		out.FileID = src.FileId
	default:
		return delivery.Media{}, invalid("media", "must have a source: url or file_id")
	}
	return out, nil
}

// validateMediaURL checks media.url: an absolute http:// or https:// URL
// with a host, at most MaxMediaURLLen bytes, no spaces or control
// characters.
func validateMediaURL(s string) error {
	const field = "media.url"
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > MaxMediaURLLen:
		return invalid(field, "must be at most %d bytes, got %d", MaxMediaURLLen, len(s))
	case !utf8.ValidString(s):
		return invalid(field, "must be valid UTF-8")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return invalid(field, "must not contain spaces or control characters")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(field, "must be an http:// or https:// URL")
	}
	return nil
}

// validateFileID checks media.file_id: 1-MaxMediaFileIDLen bytes of
// A-Za-z0-9_-.
func validateFileID(s string) error {
	const field = "media.file_id"
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > MaxMediaFileIDLen:
		return invalid(field, "must be at most %d bytes, got %d", MaxMediaFileIDLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return invalid(field, "must be made of A-Za-z0-9_- only")
		}
	}
	return nil
}

// validateBody is validateText, except that with media the text may be
// empty (the media goes without a caption); it stays bounded.
func validateBody(text string, mode notifierv1.ParseMode, reject, media bool) (string, error) {
	if !media || !isBlank(text) {
		return validateText(text, mode, reject)
	}
	pm, ok := parseModes[mode]
	switch {
	case !ok:
		return "", invalid("parse_mode", "unknown value %d", int32(mode))
	case !utf8.ValidString(text):
		return "", invalid("text", "must be valid UTF-8")
	case len(text) > MaxRawTextBytes:
		return "", invalid("text", "must be at most %d bytes", MaxRawTextBytes)
	}
	return pm, nil
}

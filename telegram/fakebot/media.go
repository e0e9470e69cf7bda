package fakebot

import (
	"fmt"
	"strings"

	"github.com/tgnotify/tgnotify/telegram"
)

// Telegram's answers about media the fake reproduces (FailMediaURL).
const (
	// ErrWrongFileID is the description of a file_id or URL Telegram
	// rejects.
	ErrWrongFileID = "Bad Request: wrong file identifier/HTTP URL specified"
	// ErrURLContent is the description of a URL Telegram could not fetch.
	ErrURLContent = "Bad Request: failed to get HTTP URL content"
)

// FailMediaURL makes every sendPhoto / sendDocument of url fail with a 400
// and description (for example [ErrWrongFileID] or [ErrURLContent]); the
// fake never fetches URLs, every other one succeeds.
func (s *Server) FailMediaURL(url, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failMedia[url] = description
}

type wirePhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size,omitempty"`
}

type wireDocument struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
}

// wireMediaMessage is a sent photo or document message.
type wireMediaMessage struct {
	wireMessage
	Photo           []wirePhotoSize `json:"photo,omitempty"`
	Document        *wireDocument   `json:"document,omitempty"`
	Caption         string          `json:"caption,omitempty"`
	CaptionEntities []wireEntity    `json:"caption_entities,omitempty"`
}

// sendMedia implements sendPhoto and sendDocument (method): the photo or
// document as a URL or a file_id string (uploads are not supported), an
// optional caption of at most 1024 UTF-16 units after entity parsing, the
// options, chat checks and limits of sendMessage.
func (s *Server) sendMedia(p params, method string) (any, *apiError) {
	field, kind := "photo", "photo"
	if method == "sendDocument" {
		field, kind = "document", "document"
	}
	chatRef, ok := p.str("chat_id")
	chatRef = strings.TrimSpace(chatRef)
	if !ok || chatRef == "" {
		return nil, badRequest("chat_id is empty")
	}
	src, _ := p.str(field)
	src = strings.TrimSpace(src)
	if src == "" {
		return nil, badRequest("there is no %s in the request", field)
	}
	caption, _ := p.str("caption")
	mode, _ := p.str("parse_mode")
	o, err := sendOptionsOf(p)
	if err != nil {
		return nil, err
	}
	plain, entities, err := parseText(caption, mode)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, e := s.writableChatLocked(chatRef)
	if e != nil {
		return nil, e
	}
	if e := cs.threadLocked(o.thread); e != nil {
		return nil, e
	}
	if telegram.UTF16Len(plain) > telegram.MaxCaptionLen {
		return nil, badRequest("message caption is too long")
	}
	if e := s.mediaSourceLocked(src); e != nil {
		return nil, e
	}
	replyTo, e := s.replyTargetLocked(cs.chat.ID, o.reply)
	if e != nil {
		return nil, e
	}
	now := s.now()
	if e := s.faults.rateLimitLocked(now, cs.chat, o.paid); e != nil {
		return nil, e
	}
	s.nextMsgID[cs.chat.ID]++
	msg := wireMediaMessage{wireMessage: wireMessage{MessageID: s.nextMsgID[cs.chat.ID], From: ptr(s.botUser()),
		Date: now.Unix(), Chat: cs.chat, HasProtectedContent: o.protect}, Caption: plain, CaptionEntities: entities}
	media := &SentMedia{Kind: kind, Source: src}
	if kind == "photo" {
		msg.Photo = s.photoSizesLocked()
		media.FileID = msg.Photo[len(msg.Photo)-1].FileID
	} else {
		msg.Document = &wireDocument{FileID: s.newFileIDLocked("BQ"), FileUniqueID: s.newFileIDLocked("AgAD"), FileName: "file"}
		media.FileID = msg.Document.FileID
	}
	rec := SentMessage{MessageID: msg.MessageID, ChatID: cs.chat.ID, Text: caption, PlainText: plain, ParseMode: mode,
		Entities: toEntities(entities), DisableNotification: o.disable, AllowPaidBroadcast: o.paid,
		ProtectContent: o.protect, ReplyToMessageID: replyTo, Media: media, Time: now}
	s.applyOptionsLocked(&msg.wireMessage, &rec, o)
	inThread(&msg.wireMessage, &rec, o.thread)
	s.sent = append(s.sent, rec)
	s.notifyLocked()
	return msg, nil
}

// mediaSourceLocked checks a photo / document parameter: a URL the fake
// was told to fail fails; any other http(s) URL or file_id-like string
// (A-Za-z0-9_-) is accepted.
func (s *Server) mediaSourceLocked(src string) *apiError {
	if desc, ok := s.failMedia[src]; ok {
		return &apiError{code: 400, description: desc}
	}
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return nil
	}
	for _, c := range src {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return &apiError{code: 400, description: ErrWrongFileID}
		}
	}
	return nil
}

// photoSizesLocked returns the sizes of a new photo, smallest first, each
// with its own file_id.
func (s *Server) photoSizesLocked() []wirePhotoSize {
	dims := [][2]int{{90, 60}, {320, 213}, {800, 533}, {1280, 853}}
	out := make([]wirePhotoSize, 0, len(dims))
	for _, d := range dims {
		out = append(out, wirePhotoSize{FileID: s.newFileIDLocked("AgAC"), FileUniqueID: s.newFileIDLocked("AQAD"),
			Width: d[0], Height: d[1], FileSize: int64(d[0] * d[1] / 10)})
	}
	return out
}

// newFileIDLocked returns a fresh file_id-like string with prefix.
func (s *Server) newFileIDLocked(prefix string) string {
	s.nextFile++
	return fmt.Sprintf("%s%08dfake_%d", prefix, s.nextFile, s.botID)
}

// Package sandbox serves the HTTP endpoints that play the Telegram user
// when the service runs without a bot token, against the in-process fake
// Bot API (telegram/fakebot): a developer links a chat and reads what the
// bot "sent" without Telegram.
//
//	ep := sandbox.New(fake) // fake *fakebot.Server
//	ep.Mount(mux)           // POST /sandbox/start, ... on the service's mux
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// sandboxReplyWait bounds how long /sandbox/start and /sandbox/stop wait for
// the bot's answer.
const sandboxReplyWait = 5 * time.Second

// sandboxMessage is a message the bot "sent", as the sandbox shows it.
type sandboxMessage struct {
	MessageID           int64  `json:"message_id"`
	ChatID              int64  `json:"chat_id"`
	Text                string `json:"text"`
	ParseMode           string `json:"parse_mode,omitempty"`
	DisableNotification bool   `json:"disable_notification,omitempty"`
	// LinkPreviewDisabled is link_preview_options.is_disabled as sent.
	LinkPreviewDisabled bool `json:"link_preview_disabled,omitempty"`
	ProtectContent      bool `json:"protect_content,omitempty"`
	// ReplyToMessageID is the message this one replies to (absent: none).
	ReplyToMessageID int64 `json:"reply_to_message_id,omitempty"`
	// MessageThreadID is the forum topic it went into (absent: the main
	// chat).
	MessageThreadID int64 `json:"message_thread_id,omitempty"`
	// Media is the photo or document (absent for a text message); text is
	// then its caption.
	Media *sandboxMedia `json:"media,omitempty"`
	// Buttons is the inline keyboard, rows of buttons (absent: none).
	Buttons [][]sandboxButton `json:"buttons,omitempty"`
	Time    time.Time         `json:"time"`
	// Edits counts the edits applied to it (absent: never edited), the
	// last at EditedAt; Deleted reports that the bot deleted it.
	Edits    int        `json:"edits,omitempty"`
	EditedAt *time.Time `json:"edited_at,omitempty"`
	Deleted  bool       `json:"deleted,omitempty"`
}

// sandboxMedia is a sent message's media: kind "photo" or "document", the
// source as sent (a URL or a file_id) and the file_id the fake returned.
type sandboxMedia struct {
	Kind   string `json:"kind"`
	Source string `json:"source"`
	FileID string `json:"file_id"`
}

func toSandboxMessages(ms []fakebot.SentMessage) []sandboxMessage {
	out := make([]sandboxMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, sandboxMessage{
			MessageID: m.MessageID, ChatID: m.ChatID, Text: m.Text, ParseMode: m.ParseMode,
			DisableNotification: m.DisableNotification, Time: m.Time,
			LinkPreviewDisabled: m.LinkPreviewOptions != nil && m.LinkPreviewOptions.IsDisabled,
			ProtectContent:      m.ProtectContent, ReplyToMessageID: m.ReplyToMessageID,
			MessageThreadID: m.MessageThreadID, Media: toSandboxMedia(m.Media), Buttons: toSandboxButtons(m.ReplyMarkup),
			Edits: m.Edits, Deleted: m.Deleted,
		})
		if m.Edits > 0 {
			at := m.EditedAt
			out[len(out)-1].EditedAt = &at
		}
	}
	return out
}

func toSandboxMedia(m *fakebot.SentMedia) *sandboxMedia {
	if m == nil {
		return nil
	}
	return &sandboxMedia{Kind: m.Kind, Source: m.Source, FileID: m.FileID}
}

// sandboxRequest is the body of the sandbox's user actions.
type sandboxRequest struct {
	ChatID   int64  `json:"chat_id"`
	Token    string `json:"token"`
	Username string `json:"username"`
}

// Endpoints are the sandbox's HTTP endpoints over one fake Bot API.
type Endpoints struct {
	bots map[string]*fakebot.Server
}

// defaultBot is the bot of a request without ?bot=.
const defaultBot = "default"

// New returns the endpoints that act on fake, the bot "default".
func New(fake *fakebot.Server) *Endpoints {
	return NewBots(map[string]*fakebot.Server{defaultBot: fake})
}

// NewBots returns the endpoints that act on several fake bots, by id
// (NOTIFIER_SANDBOX_BOTS): ?bot=<id> picks one, "default" without it.
func NewBots(fakes map[string]*fakebot.Server) *Endpoints { return &Endpoints{bots: fakes} }

// pick returns the fake bot of the request's ?bot= (404 when unknown).
func (a *Endpoints) pick(w http.ResponseWriter, r *http.Request) (*fakebot.Server, bool) {
	id := r.URL.Query().Get("bot")
	if id == "" {
		id = defaultBot
	}
	fake := a.bots[id]
	if fake == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "bot: no such sandbox bot (NOTIFIER_SANDBOX_BOTS)"})
		return nil, false
	}
	return fake, true
}

// Mount adds the endpoints that play the Telegram user against the
// in-process fake Bot API:
//
//	POST /sandbox/start  {"chat_id":42,"token":"...","username":"alice"}
//	POST /sandbox/stop   {"chat_id":42}
//	POST /sandbox/block  {"chat_id":42}
//	POST /sandbox/press  {"chat_id":42,"message_id":7,"button_text":"Approve"}
//	GET  /sandbox/chats/{chat_id}/messages
//	GET  /sandbox/messages
//
// and the group actions of mountGroups (group.go). Each takes ?bot=<id>
// to play the user of another sandbox bot.
func (a *Endpoints) Mount(mux *http.ServeMux) {
	a.mountPress(mux)
	a.mountGroups(mux)
	mux.HandleFunc("POST /sandbox/start", func(w http.ResponseWriter, r *http.Request) {
		fake, ok := a.pick(w, r)
		if !ok {
			return
		}
		req, ok := decodeSandbox(w, r)
		if !ok {
			return
		}
		if len(req.Token) > 64 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "token: at most 64 characters (Telegram's start parameter limit)"})
			return
		}
		sandboxAct(w, r, fake, req.ChatID, func() int64 { return fake.Start(req.ChatID, req.Username, req.Token).UpdateID })
	})
	mux.HandleFunc("POST /sandbox/stop", func(w http.ResponseWriter, r *http.Request) {
		fake, ok := a.pick(w, r)
		if !ok {
			return
		}
		req, ok := decodeSandbox(w, r)
		if !ok {
			return
		}
		sandboxAct(w, r, fake, req.ChatID, func() int64 { return fake.SendText(req.ChatID, req.Username, "/stop").UpdateID })
	})
	mux.HandleFunc("POST /sandbox/block", func(w http.ResponseWriter, r *http.Request) {
		fake, ok := a.pick(w, r)
		if !ok {
			return
		}
		req, ok := decodeSandbox(w, r)
		if !ok {
			return
		}
		u := fake.Block(req.ChatID)
		writeJSON(w, http.StatusOK, map[string]any{"update_id": u.UpdateID, "blocked": true})
	})
	mux.HandleFunc("GET /sandbox/chats/{chat_id}/messages", func(w http.ResponseWriter, r *http.Request) {
		fake, ok := a.pick(w, r)
		if !ok {
			return
		}
		id, err := strconv.ParseInt(r.PathValue("chat_id"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "chat_id: want an integer"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": toSandboxMessages(fake.Messages(id))})
	})
	mux.HandleFunc("GET /sandbox/messages", func(w http.ResponseWriter, r *http.Request) {
		fake, ok := a.pick(w, r)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": toSandboxMessages(fake.AllMessages())})
	})
}

func decodeSandbox(w http.ResponseWriter, r *http.Request) (sandboxRequest, bool) {
	var req sandboxRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: want JSON {\"chat_id\":42,\"token\":\"...\"}: " + err.Error()})
		return req, false
	}
	if req.ChatID <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "chat_id: want a positive integer (a private chat's id)"})
		return req, false
	}
	return req, true
}

// sandboxAct makes the fake user write to the bot, then waits for the bot's
// reply so the caller sees the result of the action.
func sandboxAct(w http.ResponseWriter, r *http.Request, fake *fakebot.Server, chatID int64, act func() int64) {
	before := len(fake.Messages(chatID))
	updateID := act()
	ctx, cancel := context.WithTimeout(r.Context(), sandboxReplyWait)
	defer cancel()
	msgs, err := fake.WaitForMessages(ctx, chatID, before+1)
	if errors.Is(err, context.DeadlineExceeded) {
		writeJSON(w, http.StatusAccepted, map[string]any{"update_id": updateID, "reply": nil, "note": "the bot has not answered yet"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	last := toSandboxMessages(msgs[len(msgs)-1:])[0]
	writeJSON(w, http.StatusOK, map[string]any{"update_id": updateID, "reply": last})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

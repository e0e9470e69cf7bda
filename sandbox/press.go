package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/tgnotify/tgnotify/telegram"
	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// sandboxButton is an inline keyboard button as the sandbox shows it.
type sandboxButton struct {
	Text         string `json:"text"`
	URL          string `json:"url,omitempty"`
	CallbackData string `json:"callback_data,omitempty"`
	CopyText     string `json:"copy_text,omitempty"`
}

func toSandboxButtons(kb *telegram.InlineKeyboardMarkup) [][]sandboxButton {
	if kb == nil {
		return nil
	}
	out := make([][]sandboxButton, len(kb.InlineKeyboard))
	for r, row := range kb.InlineKeyboard {
		for _, b := range row {
			sb := sandboxButton{Text: b.Text, URL: b.URL, CallbackData: b.CallbackData}
			if b.CopyText != nil {
				sb.CopyText = b.CopyText.Text
			}
			out[r] = append(out[r], sb)
		}
	}
	return out
}

// pressRequest is the body of POST /sandbox/press.
type pressRequest struct {
	ChatID     int64  `json:"chat_id"`
	MessageID  int64  `json:"message_id"`
	ButtonText string `json:"button_text"`
}

// mountPress adds POST /sandbox/press {"chat_id":42,"message_id":7,
// "button_text":"Approve"}: the user presses the callback button of that
// label on the bot's message; the answer is waited for (up to
// sandboxReplyWait) and shown with the callback query id. 400 for a bad
// body, 404 when there is no such message or callback button.
func (a *Endpoints) mountPress(mux *http.ServeMux) {
	mux.HandleFunc("POST /sandbox/press", func(w http.ResponseWriter, r *http.Request) {
		fake, ok := a.pick(w, r)
		if !ok {
			return
		}
		var req pressRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body: want JSON {"chat_id":42,"message_id":7,"button_text":"Approve"}: ` + err.Error()})
			return
		}
		switch n := utf8.RuneCountInString(req.ButtonText); {
		case req.ChatID == 0:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "chat_id: want a chat id"})
			return
		case req.MessageID <= 0:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "message_id: want a positive integer"})
			return
		case n == 0 || n > 64:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "button_text: want the button's label, 1-64 characters"})
			return
		}
		id, err := fake.Press(req.ChatID, req.MessageID, req.ButtonText)
		if errors.Is(err, fakebot.ErrNoMessage) || errors.Is(err, fakebot.ErrNoButton) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), sandboxReplyWait)
		defer cancel()
		q, err := fake.WaitForAnswer(ctx, id)
		if err != nil {
			writeJSON(w, http.StatusAccepted, map[string]any{"callback_query_id": id, "answered": false,
				"note": "the bot has not answered yet"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"callback_query_id": id, "answered": true,
			"answer_text": q.AnswerText, "answered_in_ms": q.AnsweredAt.Sub(q.PressedAt).Milliseconds()})
	})
}

package sandbox

import (
	"encoding/json"
	"net/http"

	"github.com/tgnotify/tgnotify/telegram/fakebot"
)

// groupRequest is the body of the sandbox's group actions.
type groupRequest struct {
	// ChatID is the group: a negative id; -100… (≤ -1000000000000) is a
	// supergroup, which may have topics.
	ChatID   int64  `json:"chat_id"`
	Title    string `json:"title"`
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
	Token    string `json:"token"`
	Ban      bool   `json:"ban"`
	TopicID  int64  `json:"topic_id"`
	Name     string `json:"name"`
	// Action is what /sandbox/topic does: "create", "close", "reopen" or
	// "delete".
	Action string `json:"action"`
}

// mountGroups adds the group actions:
//
//	POST /sandbox/startgroup  {"chat_id":-1001234567890,"title":"Ops","user_id":5,"username":"carol","token":"..."}
//	POST /sandbox/removegroup {"chat_id":-1001234567890,"ban":false}
//	POST /sandbox/topic       {"chat_id":-1001234567890,"action":"create","name":"deploys"}
//	                          {"chat_id":...,"action":"close"|"reopen"|"delete","topic_id":2}
func (a *Endpoints) mountGroups(mux *http.ServeMux) {
	mux.HandleFunc("POST /sandbox/startgroup", a.groupAction(func(w http.ResponseWriter, r *http.Request, fake *fakebot.Server, req groupRequest) {
		if len(req.Token) > 64 || len(req.Title) > 128 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "token: at most 64 characters; title: at most 128"})
			return
		}
		user := req.UserID
		if user <= 0 {
			user = 1
		}
		sandboxAct(w, r, fake, req.ChatID, func() int64 {
			return fake.StartGroup(req.ChatID, req.Title, user, req.Username, req.Token).UpdateID
		})
	}))
	mux.HandleFunc("POST /sandbox/removegroup", a.groupAction(func(w http.ResponseWriter, _ *http.Request, fake *fakebot.Server, req groupRequest) {
		u := fake.RemoveFromGroup(req.ChatID, max(req.UserID, 1), req.Username, req.Ban)
		writeJSON(w, http.StatusOK, map[string]any{"update_id": u.UpdateID, "removed": true})
	}))
	mux.HandleFunc("POST /sandbox/topic", a.groupAction(func(w http.ResponseWriter, _ *http.Request, fake *fakebot.Server, req groupRequest) {
		var err error
		id := req.TopicID
		switch req.Action {
		case "create":
			id, err = fake.CreateTopic(req.ChatID, req.Name)
		case "close", "reopen":
			err = fake.CloseTopic(req.ChatID, id, req.Action == "close")
		case "delete":
			err = fake.DeleteTopic(req.ChatID, id)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `action: want "create", "close", "reopen" or "delete"`})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"topic_id": id})
	}))
}

// groupAction is a group action's handler: the request's fake bot
// (?bot=) and its decoded body, or the 404/400 already written.
func (a *Endpoints) groupAction(act func(w http.ResponseWriter, r *http.Request, fake *fakebot.Server, req groupRequest)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fake, ok := a.pick(w, r)
		if !ok {
			return
		}
		if req, ok := decodeGroup(w, r); ok {
			act(w, r, fake, req)
		}
	}
}

func decodeGroup(w http.ResponseWriter, r *http.Request) (groupRequest, bool) {
	var req groupRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: want JSON {\"chat_id\":-1001234567890,...}: " + err.Error()})
		return req, false
	}
	if req.ChatID >= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "chat_id: want a negative integer (a group's id)"})
		return req, false
	}
	return req, true
}

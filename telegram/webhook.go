package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"go.uber.org/zap"
)

// SecretTokenHeader carries the webhook's secret_token in every delivery.
const SecretTokenHeader = "X-Telegram-Bot-Api-Secret-Token"

// DefaultMaxWebhookBody bounds the body of a webhook delivery.
const DefaultMaxWebhookBody = 1 << 20

// UpdateHandler processes one update, from a webhook delivery or from the
// [Poller]. Returning an error makes Telegram (or the poller) deliver the
// same update again later, so it should only be returned for failures that
// may go away (a store outage), never for a malformed or unexpected update.
// Handlers must tolerate redeliveries: deduplicate by update_id.
type UpdateHandler interface {
	HandleUpdate(ctx context.Context, u Update) error
}

// UpdateHandlerFunc adapts a function to [UpdateHandler].
type UpdateHandlerFunc func(ctx context.Context, u Update) error

// HandleUpdate calls f(ctx, u).
func (f UpdateHandlerFunc) HandleUpdate(ctx context.Context, u Update) error { return f(ctx, u) }

// WebhookOption configures the handler returned by [NewWebhookHandler].
type WebhookOption func(*webhookHandler)

// WithLogger sets the logger of the webhook handler (default: no logging).
func WithLogger(l *zap.Logger) WebhookOption {
	return func(h *webhookHandler) {
		if l != nil {
			h.log = l
		}
	}
}

// WithMaxBodyBytes bounds the size of a delivery (default
// [DefaultMaxWebhookBody]); larger bodies are answered 413.
func WithMaxBodyBytes(n int64) WebhookOption {
	return func(h *webhookHandler) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

type webhookHandler struct {
	secret  [sha256.Size]byte
	noSec   bool
	h       UpdateHandler
	log     *zap.Logger
	maxBody int64
}

// NewWebhookHandler returns the http.Handler Telegram POSTs updates to.
//
// It answers:
//   - 405 to anything but POST;
//   - 401 when the X-Telegram-Bot-Api-Secret-Token header is missing or is
//     not secret (compared in constant time), without reading the body. An
//     empty secret rejects every request: set one with setWebhook;
//   - 413 when the body exceeds the limit, 400 when it is not an update
//     (malformed JSON, update_id missing): Telegram retries 5xx answers
//     forever, so a bad body must be a 4xx;
//   - 500 when h fails, so that Telegram delivers the update again;
//   - 200 with "{}" once h has handled the update.
func NewWebhookHandler(secret string, h UpdateHandler, opts ...WebhookOption) http.Handler {
	wh := &webhookHandler{
		secret:  sha256.Sum256([]byte(secret)),
		noSec:   secret == "",
		h:       h,
		log:     zap.NewNop(),
		maxBody: DefaultMaxWebhookBody,
	}
	for _, o := range opts {
		o(wh)
	}
	return wh
}

// ServeHTTP handles one delivery; see [NewWebhookHandler].
func (wh *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(SecretTokenHeader)
	// Hashing first keeps the comparison constant-time in the length too.
	sum := sha256.Sum256([]byte(got))
	if wh.noSec || got == "" || subtle.ConstantTimeCompare(sum[:], wh.secret[:]) != 1 {
		wh.log.Warn("telegram webhook: rejected request with a missing or wrong secret token",
			zap.String("remote_addr", r.RemoteAddr), zap.Bool("header_present", got != ""))
		writeJSONError(w, http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wh.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			wh.log.Warn("telegram webhook: body too large", zap.Int64("limit", wh.maxBody))
			writeJSONError(w, http.StatusRequestEntityTooLarge)
			return
		}
		wh.log.Warn("telegram webhook: reading body", zap.Error(err))
		writeJSONError(w, http.StatusBadRequest)
		return
	}
	var u Update
	if err := json.Unmarshal(body, &u); err != nil {
		wh.log.Warn("telegram webhook: malformed update", zap.Error(err), zap.Int("bytes", len(body)))
		writeJSONError(w, http.StatusBadRequest)
		return
	}
	if u.UpdateID == 0 {
		wh.log.Warn("telegram webhook: update without update_id", zap.Int("bytes", len(body)))
		writeJSONError(w, http.StatusBadRequest)
		return
	}
	if err := wh.h.HandleUpdate(r.Context(), u); err != nil {
		wh.log.Error("telegram webhook: handling update failed; Telegram will redeliver it",
			zap.Int64("update_id", u.UpdateID), zap.String("kind", u.Kind()), zap.Error(err))
		writeJSONError(w, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "{}")
}

// writeJSONError answers with status and a small JSON body.
func writeJSONError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"ok": false, "error": http.StatusText(status)})
	_, _ = w.Write(b)
}

package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults of a [Client].
const (
	// DefaultRequestTimeout bounds one request (getUpdates adds its
	// long-poll timeout on top).
	DefaultRequestTimeout = 15 * time.Second
	// DefaultMaxResponseBytes bounds the size of a response body.
	DefaultMaxResponseBytes = 10 << 20
)

// redacted replaces the bot token in error texts.
const redacted = "<redacted>"

// Client calls the Bot API. It is safe for concurrent use.
//
// Every request is a POST of a JSON body to <baseURL>/bot<token>/<method>.
// Failed requests return an [*Error] (Telegram's JSON "ok":false answer),
// an [*HTTPError] (any other HTTP answer: a proxy's error page, an empty
// body) or a wrapped transport error; the token never appears in the error
// text, since *url.Error would otherwise carry the full URL.
type Client struct {
	baseURL string
	token   string
	hc      *http.Client
	timeout time.Duration
	maxBody int64
}

// ClientOption configures a [Client].
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client used for requests (default: a new
// client on http.DefaultTransport). Its Timeout, if any, must exceed the
// long-poll timeout given to [Client.GetUpdates]; prefer
// [WithRequestTimeout].
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithRequestTimeout bounds each request (default [DefaultRequestTimeout];
// 0 disables the bound). getUpdates gets its long-poll timeout on top.
func WithRequestTimeout(d time.Duration) ClientOption {
	return func(c *Client) {
		if d >= 0 {
			c.timeout = d
		}
	}
}

// WithMaxResponseBytes bounds the size of response bodies (default
// [DefaultMaxResponseBytes]); larger answers fail with
// [ErrMalformedResponse].
func WithMaxResponseBytes(n int64) ClientOption {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// NewClient returns a client for the Bot API at baseURL (for example
// "https://api.telegram.org" or a fakebot server's URL) using the bot
// token.
func NewClient(baseURL, token string, opts ...ClientOption) *Client {
	c := &Client{
		baseURL: strings.TrimRight(baseURL, "/"),
		token:   token,
		hc:      &http.Client{},
		timeout: DefaultRequestTimeout,
		maxBody: DefaultMaxResponseBytes,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// SendMessageParams are the parameters of sendMessage.
type SendMessageParams struct {
	// ChatID is the target chat.
	ChatID int64 `json:"chat_id"`
	// MessageThreadID is the forum topic to send into; 0: the main chat.
	MessageThreadID int64 `json:"message_thread_id,omitempty"`
	// Text is 1–4096 UTF-16 code units after entity parsing.
	Text string `json:"text"`
	// ParseMode is "", "MarkdownV2", "HTML" or "Markdown".
	ParseMode string `json:"parse_mode,omitempty"`
	// DisableNotification delivers the message silently.
	DisableNotification bool `json:"disable_notification,omitempty"`
	// LinkPreviewOptions control the link preview; nil keeps the default.
	LinkPreviewOptions *LinkPreviewOptions `json:"link_preview_options,omitempty"`
	// ProtectContent protects the message from forwarding and saving.
	ProtectContent bool `json:"protect_content,omitempty"`
	// ReplyParameters make the message a reply; nil sends it as is.
	ReplyParameters *ReplyParameters `json:"reply_parameters,omitempty"`
	// AllowPaidBroadcast lifts the 30 messages/s limit for a fee.
	AllowPaidBroadcast bool `json:"allow_paid_broadcast,omitempty"`
	// ReplyMarkup is the inline keyboard; nil sends none.
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// SendPhotoParams are the parameters of sendPhoto.
type SendPhotoParams struct {
	ChatID int64 `json:"chat_id"`
	// MessageThreadID is the forum topic to send into; 0: the main chat.
	MessageThreadID int64 `json:"message_thread_id,omitempty"`
	// Photo is an HTTP(S) URL Telegram fetches or the file_id of a photo
	// Telegram has.
	Photo string `json:"photo"`
	// Caption is 0–1024 UTF-16 code units after entity parsing.
	Caption             string           `json:"caption,omitempty"`
	ParseMode           string           `json:"parse_mode,omitempty"`
	DisableNotification bool             `json:"disable_notification,omitempty"`
	ProtectContent      bool             `json:"protect_content,omitempty"`
	ReplyParameters     *ReplyParameters `json:"reply_parameters,omitempty"`
	AllowPaidBroadcast  bool             `json:"allow_paid_broadcast,omitempty"`
	// ReplyMarkup is the inline keyboard; nil sends none.
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// SendDocumentParams are the parameters of sendDocument.
type SendDocumentParams struct {
	ChatID int64 `json:"chat_id"`
	// MessageThreadID is the forum topic to send into; 0: the main chat.
	MessageThreadID int64 `json:"message_thread_id,omitempty"`
	// Document is an HTTP(S) URL Telegram fetches or the file_id of a file
	// Telegram has.
	Document string `json:"document"`
	// Caption is 0–1024 UTF-16 code units after entity parsing.
	Caption             string           `json:"caption,omitempty"`
	ParseMode           string           `json:"parse_mode,omitempty"`
	DisableNotification bool             `json:"disable_notification,omitempty"`
	ProtectContent      bool             `json:"protect_content,omitempty"`
	ReplyParameters     *ReplyParameters `json:"reply_parameters,omitempty"`
	AllowPaidBroadcast  bool             `json:"allow_paid_broadcast,omitempty"`
	// ReplyMarkup is the inline keyboard; nil sends none.
	ReplyMarkup *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// MaxCaptionLen is the longest media caption Telegram accepts, in UTF-16
// code units after entity parsing.
const MaxCaptionLen = 1024

// SetWebhookParams are the parameters of setWebhook.
type SetWebhookParams struct {
	// URL is the HTTPS URL updates are POSTed to (ports 443, 80, 88, 8443).
	URL string
	// SecretToken (1–256 of A-Za-z0-9_-) comes back in the
	// X-Telegram-Bot-Api-Secret-Token header of every delivery.
	SecretToken string
	// AllowedUpdates lists the update kinds to receive; nil keeps the
	// previous setting, an empty non-nil slice means the default set.
	AllowedUpdates []string
	// MaxConnections is 1–100 (0: Telegram's default of 40).
	MaxConnections int
	// DropPendingUpdates discards the updates waiting for delivery.
	DropPendingUpdates bool
}

// GetUpdatesParams are the parameters of getUpdates.
type GetUpdatesParams struct {
	// Offset is the highest update_id seen plus one; it confirms (drops)
	// every earlier update. 0 returns the oldest unconfirmed update.
	Offset int64
	// Limit is 1–100 (0: Telegram's default of 100).
	Limit int
	// Timeout is the long-poll timeout in seconds (0: short polling). The
	// HTTP request is given this much time on top of the request timeout.
	Timeout int
	// AllowedUpdates lists the update kinds to receive; nil keeps the
	// previous setting, an empty non-nil slice means the default set.
	AllowedUpdates []string
}

type setWebhookRequest struct {
	URL                string    `json:"url"`
	SecretToken        string    `json:"secret_token,omitempty"`
	AllowedUpdates     *[]string `json:"allowed_updates,omitempty"`
	MaxConnections     int       `json:"max_connections,omitempty"`
	DropPendingUpdates bool      `json:"drop_pending_updates,omitempty"`
}

type deleteWebhookRequest struct {
	DropPendingUpdates bool `json:"drop_pending_updates,omitempty"`
}

type getUpdatesRequest struct {
	Offset         int64     `json:"offset,omitempty"`
	Limit          int       `json:"limit,omitempty"`
	Timeout        int       `json:"timeout,omitempty"`
	AllowedUpdates *[]string `json:"allowed_updates,omitempty"`
}

// optSlice keeps the difference between nil (omitted) and empty ([]).
func optSlice(s []string) *[]string {
	if s == nil {
		return nil
	}
	return &s
}

// GetMe returns the bot's own user; a cheap way to check the token.
func (c *Client) GetMe(ctx context.Context) (User, error) {
	var u User
	err := c.call(ctx, "getMe", nil, &u, 0)
	return u, err
}

// SendMessage sends a text message and returns it as stored by Telegram
// (text without markup, entities filled in). A request that failed with a
// timeout may still have been delivered.
func (c *Client) SendMessage(ctx context.Context, p SendMessageParams) (Message, error) {
	return c.send(ctx, "sendMessage", p)
}

// SendPhoto sends a photo with an optional caption.
func (c *Client) SendPhoto(ctx context.Context, p SendPhotoParams) (Message, error) {
	return c.send(ctx, "sendPhoto", p)
}

// SendDocument sends a document with an optional caption.
func (c *Client) SendDocument(ctx context.Context, p SendDocumentParams) (Message, error) {
	return c.send(ctx, "sendDocument", p)
}

// send calls a method that answers with the Message it sent.
func (c *Client) send(ctx context.Context, method string, p any) (Message, error) {
	var m Message
	err := c.call(ctx, method, p, &m, 0)
	return m, err
}

// SetWebhook makes Telegram push updates to p.URL.
func (c *Client) SetWebhook(ctx context.Context, p SetWebhookParams) error {
	return c.call(ctx, "setWebhook", setWebhookRequest{
		URL:                p.URL,
		SecretToken:        p.SecretToken,
		AllowedUpdates:     optSlice(p.AllowedUpdates),
		MaxConnections:     p.MaxConnections,
		DropPendingUpdates: p.DropPendingUpdates,
	}, nil, 0)
}

// DeleteWebhook removes the webhook so that getUpdates can be used;
// dropPending discards the updates waiting for delivery.
func (c *Client) DeleteWebhook(ctx context.Context, dropPending bool) error {
	return c.call(ctx, "deleteWebhook", deleteWebhookRequest{DropPendingUpdates: dropPending}, nil, 0)
}

// GetWebhookInfo returns the webhook status (URL empty in polling mode).
func (c *Client) GetWebhookInfo(ctx context.Context) (WebhookInfo, error) {
	var wi WebhookInfo
	err := c.call(ctx, "getWebhookInfo", nil, &wi, 0)
	return wi, err
}

// GetUpdates long-polls for updates (see [GetUpdatesParams]). It fails with
// a 409 ([IsConflict]) while a webhook is set or when another getUpdates
// with the same token is running.
func (c *Client) GetUpdates(ctx context.Context, p GetUpdatesParams) ([]Update, error) {
	var us []Update
	wait := time.Duration(max(p.Timeout, 0)) * time.Second
	err := c.call(ctx, "getUpdates", getUpdatesRequest{
		Offset:         p.Offset,
		Limit:          p.Limit,
		Timeout:        p.Timeout,
		AllowedUpdates: optSlice(p.AllowedUpdates),
	}, &us, wait)
	return us, err
}

// apiResponse is the envelope of every Bot API answer.
type apiResponse struct {
	OK          *bool               `json:"ok"`
	Result      json.RawMessage     `json:"result"`
	ErrorCode   int                 `json:"error_code"`
	Description string              `json:"description"`
	Parameters  *ResponseParameters `json:"parameters"`
}

// call POSTs params as JSON to method and decodes the result into out
// (unless nil). extra is added to the request timeout (long polling).
func (c *Client) call(ctx context.Context, method string, params, out any, extra time.Duration) error {
	body := []byte("{}")
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return fmt.Errorf("telegram: %s: encoding parameters: %w", method, err)
		}
		body = b
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+extra)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/bot"+c.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		// A bad base URL: permanent, and the parse error quotes the URL.
		return fmt.Errorf("telegram: %s: building request: %w", method, errors.New(c.redact(err.Error())))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(method, err)
	}
	defer resp.Body.Close()
	// A Bot API answer is a JSON object: look at its start before reading
	// it all, so that a proxy's error page costs a few hundred bytes.
	head := make([]byte, min(int64(sniffBytes), c.maxBody+1))
	n, err := io.ReadFull(resp.Body, head)
	head = head[:n]
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return c.transportError(method, err)
	}
	if !startsJSONObject(head) {
		return c.httpError(method, resp, head)
	}
	data := head
	if err == nil { // head is full: there may be more
		rest, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1-int64(len(head))))
		if err != nil {
			return c.transportError(method, err)
		}
		data = append(head, rest...)
	}
	if int64(len(data)) > c.maxBody {
		return fmt.Errorf("telegram: %s: response larger than %d bytes: %w", method, c.maxBody, ErrMalformedResponse)
	}
	var r apiResponse
	if err := json.Unmarshal(data, &r); err != nil || r.OK == nil {
		return c.httpError(method, resp, data)
	}
	if !*r.OK {
		if r.ErrorCode == 0 && r.Description == "" {
			// {"ok":false} alone is no verdict Telegram would give.
			return c.httpError(method, resp, data)
		}
		e := &Error{Code: r.ErrorCode, Description: r.Description, Method: method}
		if e.Code == 0 {
			e.Code = resp.StatusCode
		}
		if r.Parameters != nil {
			e.RetryAfter = time.Duration(r.Parameters.RetryAfter) * time.Second
			e.MigrateToChatID = r.Parameters.MigrateToChatID
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("telegram: %s: decoding result: %w: %w", method, ErrMalformedResponse, err)
	}
	return nil
}

// sniffBytes is how much of a body is read before deciding whether it can
// be a Bot API response; it also bounds what is kept of one that is not.
const sniffBytes = 512

// startsJSONObject reports whether b, after leading white space, starts a
// JSON object.
func startsJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// httpError describes an answer that is not a Bot API response, keeping a
// short excerpt of body without the token.
func (c *Client) httpError(method string, resp *http.Response, body []byte) *HTTPError {
	return &HTTPError{
		Method:      method,
		StatusCode:  resp.StatusCode,
		ContentType: excerpt(c.redact(resp.Header.Get("Content-Type")), 64),
		Snippet:     excerpt(c.redact(string(body[:min(len(body), sniffBytes)])), MaxSnippetBytes),
	}
}

// excerpt collapses runs of white space and control characters in s to one
// space, drops invalid UTF-8 and cuts the result to at most n bytes on a
// character boundary, marking a cut with "...".
func excerpt(s string, n int) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(s, "") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= n {
		return out
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + "..."
}

// redact removes the token, in any escaping, from s.
func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	for _, t := range []string{c.token, url.PathEscape(c.token), url.QueryEscape(c.token)} {
		s = strings.ReplaceAll(s, t, redacted)
	}
	return s
}

// transportError rebuilds a failure below HTTP without the token: the
// *url.Error from http.Client.Do carries the full request URL.
func (c *Client) transportError(method string, err error) error {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = (&url.Error{Op: ue.Op, URL: c.redact(ue.URL), Err: ue.Err}).Error()
	}
	te := &transportError{msg: c.redact(msg)}
	switch {
	case errors.Is(err, context.Canceled):
		te.cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		te.cause = context.DeadlineExceeded
		te.timeout = true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		te.timeout = true
	}
	return fmt.Errorf("telegram: %s: %w", method, te)
}

package telegram

import "context"

// CallbackQuery is a press of a callback button of an inline keyboard.
// The client shows a progress indicator until the bot answers it with
// [Client.AnswerCallbackQuery].
type CallbackQuery struct {
	// ID identifies the query; answer it with this id.
	ID string `json:"id"`
	// From is the user who pressed the button.
	From User `json:"from"`
	// Message is the bot's message the button is on (absent for a message
	// sent in inline mode, or one too old for Telegram to return).
	Message *Message `json:"message,omitempty"`
	// ChatInstance identifies the chat the message was sent to.
	ChatInstance string `json:"chat_instance,omitempty"`
	// Data is the button's callback_data (1-64 bytes).
	Data string `json:"data,omitempty"`
}

// MaxCallbackAnswerLen is the longest answerCallbackQuery text, in
// characters.
const MaxCallbackAnswerLen = 200

// AnswerCallbackQueryParams are the parameters of answerCallbackQuery.
type AnswerCallbackQueryParams struct {
	CallbackQueryID string `json:"callback_query_id"`
	// Text is shown to the user (0-200 characters; empty: nothing).
	Text string `json:"text,omitempty"`
	// ShowAlert shows an alert instead of a toast at the top of the chat.
	ShowAlert bool `json:"show_alert,omitempty"`
	// CacheTime is how long, in seconds, the client may cache the answer.
	CacheTime int `json:"cache_time,omitempty"`
}

// AnswerCallbackQuery answers a callback query, ending the client's
// progress indicator. Telegram refuses an answer that comes too late
// ("query is too old and response timeout expired or query ID is invalid").
func (c *Client) AnswerCallbackQuery(ctx context.Context, p AnswerCallbackQueryParams) error {
	return c.call(ctx, "answerCallbackQuery", p, nil, 0)
}

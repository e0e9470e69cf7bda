package telegram_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/telegram"
)

// botAPIFields is testdata/botapi_fields.json, field names derived from the
// Bot API description.
type botAPIFields struct {
	Types   map[string][]string `json:"types"`
	Methods map[string][]string `json:"methods"`
}

func loadFields(t *testing.T) botAPIFields {
	t.Helper()
	b, err := os.ReadFile("testdata/botapi_fields.json")
	if err != nil {
		t.Fatal(err)
	}
	var f botAPIFields
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func jsonTags(v any) []string {
	var tags []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" {
			tags = append(tags, tag)
		}
	}
	return tags
}

// TestJSONTagsMatchBotAPI checks every JSON tag against the Bot API's
// field names, so that a typo cannot silently drop a field.
func TestJSONTagsMatchBotAPI(t *testing.T) {
	f := loadFields(t)
	tests := []struct {
		api string
		v   any
	}{
		{"Update", telegram.Update{}},
		{"Message", telegram.Message{}},
		{"Chat", telegram.Chat{}},
		{"User", telegram.User{}},
		{"ChatMemberUpdated", telegram.ChatMemberUpdated{}},
		{"ChatMemberBanned", telegram.ChatMember{}},
		{"MessageEntity", telegram.MessageEntity{}},
		{"LinkPreviewOptions", telegram.LinkPreviewOptions{}},
		{"ReplyParameters", telegram.ReplyParameters{}},
		{"WebhookInfo", telegram.WebhookInfo{}},
		{"ResponseParameters", telegram.ResponseParameters{}},
		{"sendMessage", telegram.SendMessageParams{}},
		{"sendPhoto", telegram.SendPhotoParams{}},
		{"sendDocument", telegram.SendDocumentParams{}},
		{"PhotoSize", telegram.PhotoSize{}},
		{"Document", telegram.Document{}},
	}
	for _, tc := range tests {
		t.Run(tc.api, func(t *testing.T) {
			fields, ok := f.Types[tc.api]
			if !ok {
				fields, ok = f.Methods[tc.api]
			}
			if !ok {
				t.Fatalf("%s not in the fixture", tc.api)
			}
			for _, tag := range jsonTags(tc.v) {
				if !slices.Contains(fields, tag) {
					t.Errorf("%T has json tag %q, not a field of %s", tc.v, tag, tc.api)
				}
			}
		})
	}
}

func TestDecodeRealUpdates(t *testing.T) {
	b, err := os.ReadFile("testdata/updates.json")
	if err != nil {
		t.Fatal(err)
	}
	var ups []telegram.Update
	if err := json.Unmarshal(b, &ups); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if len(ups) != 5 {
		t.Fatalf("got %d updates", len(ups))
	}
	tests := []struct {
		name  string
		u     telegram.Update
		kind  string
		check func(telegram.Update) bool
	}{
		{"start", ups[0], "message", func(u telegram.Update) bool {
			name, _, args, ok := u.Message.Command()
			return ok && name == "start" && args == "dGVzdC10b2tlbg" && u.Message.Chat.ID == 4242424242 &&
				u.Message.Chat.Type == telegram.ChatTypePrivate && u.Message.From.Username == "alice" &&
				u.Message.Entities[0].Type == "bot_command"
		}},
		{"blocked", ups[1], "my_chat_member", func(u telegram.Update) bool {
			m := u.MyChatMember
			return m.NewChatMember.Status == telegram.MemberStatusKicked && m.OldChatMember.Status == telegram.MemberStatusMember &&
				m.NewChatMember.User.IsBot && m.From.ID == 4242424242 && m.Chat.ID == 4242424242
		}},
		{"edited", ups[2], "edited_message", func(u telegram.Update) bool { return u.EditedMessage.EditDate == 1767225800 }},
		{"migrated", ups[3], "message", func(u telegram.Update) bool {
			return u.Message.MigrateToChatID == -1001234567890 && u.Message.Chat.Type == telegram.ChatTypeGroup
		}},
		{"callback query", ups[4], "callback_query", func(u telegram.Update) bool {
			q := u.CallbackQuery
			return u.UpdateID == 865012305 && q.ID == "4382bfdwdsb323b2d9" && q.From.ID == 4242424242 &&
				q.Data == "ack" && q.Message == nil && q.ChatInstance == "-1"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if k := tc.u.Kind(); k != tc.kind {
				t.Errorf("Kind() = %q, want %q", k, tc.kind)
			}
			if !tc.check(tc.u) {
				t.Errorf("unexpected decoding: %+v", tc.u)
			}
		})
	}
}

package fakebot

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestWireTagsMatchBotAPI checks the fake's own wire types against the Bot
// API field names in ../testdata/botapi_fields.json.
func TestWireTagsMatchBotAPI(t *testing.T) {
	b, err := os.ReadFile("../testdata/botapi_fields.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Types map[string][]string `json:"types"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for api, v := range map[string]any{
		"User": wireUser{}, "Chat": wireChat{}, "MessageEntity": wireEntity{}, "LinkPreviewOptions": wireLinkPreviewOptions{},
		"Message": wireMessage{}, "ChatMemberBanned": wireChatMember{}, "ChatMemberUpdated": wireChatMemberUpdated{},
		"WebhookInfo": wireWebhookInfo{}, "ReplyParameters": wireReplyParameters{},
	} {
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if !slices.Contains(f.Types[api], tag) {
				t.Errorf("%s: json tag %q is not a field of %s", rt.Name(), tag, api)
			}
		}
	}
}

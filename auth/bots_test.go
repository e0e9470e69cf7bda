package auth

import (
	"strings"
	"testing"
)

// TestKeyBots: a key may list the bots it may use (absent: all); a bad
// list is refused naming the entry.
func TestKeyBots(t *testing.T) {
	t.Parallel()
	const sha = "0000000000000000000000000000000000000000000000000000000000000001"
	cases := []struct {
		name, bots string
		allowed    []string
		denied     []string
		wantErr    string
	}{
		{name: "absent: every bot", bots: "", allowed: []string{"default", "shop"}},
		{name: "one bot", bots: "bots: [shop]", allowed: []string{"shop"}, denied: []string{"default", "support"}},
		{name: "two bots", bots: "bots: [shop, default]", allowed: []string{"shop", "default"}, denied: []string{"support"}},
		{name: "empty list", bots: "bots: []", wantErr: "bots"},
		{name: "malformed id", bots: "bots: [Shop!]", wantErr: "Shop!"},
		{name: "repeated id", bots: "bots: [shop, shop]", wantErr: "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := "keys:\n  - name: k\n    sha256: \"" + sha + "\"\n    scopes: [notify]\n"
			if tc.bots != "" {
				doc += "    " + tc.bots + "\n"
			}
			ks, err := Parse([]byte(doc))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), `"k"`) {
					t.Fatalf("err = %v, want one naming %q and the key", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := Caller{Name: "k", Bots: ks.keys[0].bots}
			for _, b := range tc.allowed {
				if !c.AllowsBot(b) {
					t.Errorf("bot %q denied", b)
				}
			}
			for _, b := range tc.denied {
				if c.AllowsBot(b) {
					t.Errorf("bot %q allowed", b)
				}
			}
		})
	}
}

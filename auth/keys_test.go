package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes data to a new file in a temporary directory.
func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileValid(t *testing.T) {
	jsonDoc := `{
	"keys": [
		{"name": "web-frontend", "sha256": "` + hashOf(secretLink) + `", "scopes": ["link"]},
		{"name": "billing", "sha256": "` + strings.ToUpper(hashOf(secretNotify)) + `", "scopes": ["notify", "link"]}
	]
}`
	cases := []struct {
		name      string
		file      string
		data      string
		wantNames string
	}{
		{"yaml", "keys.yaml", testKeysYAML(), "web-frontend,billing,ops"},
		{"json", "keys.json", jsonDoc, "web-frontend,billing"},
		{"json with yml extension", "keys.yml", jsonDoc, "web-frontend,billing"},
		{"empty list", "keys.yaml", "keys: []\n", ""},
		{"yaml with rates", "keys.yaml", rateKeysYAML(billingHourly), "web-frontend,billing,ops"},
		{"json with rate", "keys.json", `{"keys": [{"name": "a", "sha256": "` + hashOf("a") + `", "scopes": ["notify"], "rate": "50/s", "burst": 100}]}`, "a"},
		{"events scope", "keys.yaml", "keys:\n  - name: a\n    sha256: " + hashOf("a") + "\n    scopes: [events, link]\n", "a"},
		{"yaml comments", "keys.yaml", "# keys\nkeys:\n  - name: a # comment\n    sha256: " + hashOf("a") + "\n    scopes:\n      - link\n", "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := LoadFile(writeFile(t, tc.file, tc.data))
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if got := strings.Join(ks.Names(), ","); got != tc.wantNames {
				t.Errorf("names = %q, want %q", got, tc.wantNames)
			}
			if ks.Len() != len(ks.Names()) {
				t.Errorf("Len = %d", ks.Len())
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	h1, h2 := hashOf("one"), hashOf("two")
	entry := func(name, hash, scopes string) string {
		return "  - name: " + name + "\n    sha256: \"" + hash + "\"\n    scopes: " + scopes + "\n"
	}
	cases := []struct {
		name    string
		data    string
		wantErr string
	}{
		{"empty file", "", "empty document"},
		{"no keys list", "other: 1\n", `field other not found`},
		{"keys null", "keys:\n", `missing top-level "keys"`},
		{"unknown field in entry", "keys:\n" + entry("a", h1, "[link]") + "    owner: me\n", "field owner not found"},
		{"unknown field in json", `{"keys": [{"name": "a", "sha256": "` + h1 + `", "scopes": ["link"], "x": 1}]}`, `unknown field "x"`},
		{"trailing json", `{"keys": []} {}`, "data after"},
		{"two yaml documents", "keys: []\n---\nkeys: []\n", "more than one document"},
		{"empty name", "keys:\n" + entry(`""`, h1, "[link]"), "key #1: empty name"},
		{"missing name", "keys:\n  - sha256: " + h1 + "\n    scopes: [link]\n", "key #1: empty name"},
		{"bad name", "keys:\n" + entry(`"web frontend"`, h1, "[link]"), `key #1 ("web frontend"): invalid name`},
		{"reserved name", "keys:\n" + entry("anonymous", h1, "[link]"), "reserved"},
		{"duplicate name", "keys:\n" + entry("a", h1, "[link]") + entry("a", h2, "[link]"), `key #2 ("a"): duplicate name`},
		{"duplicate hash across case", "keys:\n" + entry("a", h1, "[link]") + entry("b", strings.ToUpper(h1), "[notify]"), `key #2 ("b"): duplicate sha256, also used by key #1 ("a")`},
		{"short hash", "keys:\n" + entry("a", h1[:63], "[link]"), `key #1 ("a"): sha256 must be 64 hex digits, got 63`},
		{"non-hex hash", "keys:\n" + entry("a", "z"+h1[1:], "[link]"), `key #1 ("a"): sha256 must be 64 hex digits`},
		{"hash of empty key", "keys:\n" + entry("a", hashOf(""), "[link]"), "hash of an empty key"},
		{"unknown scope", "keys:\n" + entry("a", h1, "[admin]"), `key #1 ("a"): unknown scope "admin": want "link" or "notify" or "events"`},
		{"no scopes", "keys:\n" + entry("a", h1, "[]"), `key #1 ("a"): no scopes`},
		{"missing scopes", "keys:\n  - name: a\n    sha256: " + h1 + "\n", `key #1 ("a"): no scopes`},
		{"repeated scope", "keys:\n" + entry("a", h1, "[link, link]"), `scope "link" listed twice`},
		{"scope as string", "keys:\n" + entry("a", h1, "link"), "invalid YAML"},
		{"second entry named", "keys:\n" + entry("a", h1, "[link]") + entry("b", h2, "[nope]"), `key #2 ("b")`},
		{"rate without unit", "keys:\n" + entry("a", h1, "[link]") + "    rate: 50\n", `key #1 ("a"): invalid rate "50"`},
		{"rate as json number", `{"keys": [{"name": "a", "sha256": "` + h1 + `", "scopes": ["link"], "rate": 50}]}`, "invalid JSON"},
		{"burst without rate", "keys:\n" + entry("a", h1, "[link]") + "    burst: 5\n", `key #1 ("a"): burst without rate`},
		{"zero burst", "keys:\n" + entry("a", h1, "[link]") + "    rate: 5/s\n    burst: 0\n", `key #1 ("a"): invalid burst 0`},
		{"burst not a number", "keys:\n" + entry("a", h1, "[link]") + "    rate: 5/s\n    burst: lots\n", "invalid YAML"},
		{"duplicate yaml field", "keys:\n  - name: a\n    name: b\n    sha256: " + h1 + "\n    scopes: [link]\n", "invalid YAML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "keys.yaml", tc.data)
			ks, err := LoadFile(p)
			if err == nil {
				t.Fatalf("LoadFile succeeded with %d keys, want error containing %q", ks.Len(), tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml")); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := "keys: []\n# " + strings.Repeat("x", MaxFileSize) + "\n"
		_, err := LoadFile(writeFile(t, "big.yaml", big))
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("err = %v, want size error", err)
		}
	})
}

func TestNilKeySet(t *testing.T) {
	var ks *KeySet
	if ks.Len() != 0 || ks.Names() != nil {
		t.Fatalf("nil KeySet: Len %d Names %v", ks.Len(), ks.Names())
	}
}

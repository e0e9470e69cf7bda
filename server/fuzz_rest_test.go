package server_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
)

// FuzzRESTBodies sends arbitrary bodies and user ids through the real REST
// gateway: never a 5xx for a client's mistake, and the service stays up.
func FuzzRESTBodies(f *testing.F) {
	for _, s := range []string{
		`{"text":"hi"}`, `{}`, `{"text":""}`, `{"text":"a","parse_mode":"PARSE_MODE_HTML"}`, `{"text":"a","parse_mode":7}`,
		`{"text":1}`, `{"txt":"a"}`, `[`, `null`, `{"text":"\u0000"}`, `{"text":"a","long_text":"LONG_TEXT_POLICY_REJECT"}`,
		`{"text":"a","idempotency_key":"` + string(bytes.Repeat([]byte("k"), 200)) + `"}`,
	} {
		f.Add("user-1", []byte(s))
	}
	h := startHarness(f, harnessOpts{})
	h.link("user-1", 777)
	f.Fuzz(func(t *testing.T, user string, body []byte) {
		for _, p := range []string{"/v1/users/" + url.PathEscape(user) + "/notifications", "/v1/users/" + url.PathEscape(user) + "/link-token"} {
			resp, err := http.Post(h.base+p, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("POST %s %q answered %d", p, body, resp.StatusCode)
			}
		}
	})
}

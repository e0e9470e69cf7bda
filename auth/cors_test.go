package auth

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestCORS(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	const app = "https://app.example.com"
	cases := []struct {
		name        string
		origins     []string
		method      string
		origin      string
		preflight   bool
		wantStatus  int
		wantAllow   string
		wantMethods bool
		wantVary    bool
	}{
		{"preflight allowed", []string{app}, http.MethodOptions, app, true, http.StatusNoContent, app, true, true},
		{"preflight other origin", []string{app}, http.MethodOptions, "https://evil.example.com", true, http.StatusForbidden, "", false, true},
		{"preflight origin differs in port", []string{app}, http.MethodOptions, app + ":8443", true, http.StatusForbidden, "", false, true},
		{"preflight nothing configured", nil, http.MethodOptions, app, true, http.StatusForbidden, "", false, false},
		{"preflight wildcard", []string{"*"}, http.MethodOptions, "https://any.example.org", true, http.StatusNoContent, "*", true, true},
		{"simple request allowed", []string{app}, http.MethodGet, app, false, http.StatusTeapot, app, false, true},
		{"simple request other origin", []string{app}, http.MethodPost, "https://evil.example.com", false, http.StatusTeapot, "", false, true},
		{"no origin header", []string{app}, http.MethodGet, "", false, http.StatusTeapot, "", false, true},
		{"nothing configured passes through", nil, http.MethodGet, app, false, http.StatusTeapot, "", false, false},
		{"plain OPTIONS is not a preflight", []string{app}, http.MethodOptions, app, false, http.StatusTeapot, app, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/v1/users/u1/status", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.preflight {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			}
			rec := httptest.NewRecorder()
			CORS(tc.origins, next).ServeHTTP(rec, req)
			h := rec.Header()
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.wantAllow {
				t.Errorf("Allow-Origin = %q, want %q", got, tc.wantAllow)
			}
			if got := slices.Contains(h.Values("Vary"), "Origin"); got != tc.wantVary {
				t.Errorf("Vary: Origin present = %v, want %v (%v)", got, tc.wantVary, h.Values("Vary"))
			}
			if tc.wantMethods {
				for k, v := range map[string]string{
					"Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
					"Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-Id",
					"Access-Control-Max-Age":       "600",
				} {
					if got := h.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			} else if h.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("unexpected Allow-Methods %q", h.Get("Access-Control-Allow-Methods"))
			}
			if len(tc.origins) == 0 {
				for k := range h {
					if len(k) > 15 && k[:15] == "Access-Control-" {
						t.Errorf("CORS header %s set with no origins configured", k)
					}
				}
			}
		})
	}
}

func TestParseOrigins(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"two with spaces", " https://a.example.com , http://localhost:3000 ,", []string{"https://a.example.com", "http://localhost:3000"}, false},
		{"wildcard", "*", []string{"*"}, false},
		{"duplicate", "https://a.example.com,https://a.example.com", []string{"https://a.example.com"}, false},
		{"trailing slash", "https://a.example.com/", nil, true},
		{"path", "https://a.example.com/app", nil, true},
		{"no scheme", "a.example.com", nil, true},
		{"ftp", "ftp://a.example.com", nil, true},
		{"upper case", "https://A.example.com", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOrigins(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

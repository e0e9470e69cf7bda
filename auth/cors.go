package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS header values used by the REST mirror.
const (
	corsAllowMethods = "GET, POST, PATCH, DELETE, OPTIONS"
	corsAllowHeaders = "Authorization, Content-Type, X-Request-Id"
	corsMaxAge       = "600"
)

// CORS wraps next, the REST mirror, with Cross-Origin Resource Sharing for
// the browser origins in allowedOrigins, matched exactly (for example
// "https://app.example.com"); "*" allows every origin, and only when it is
// listed explicitly. A CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) from an allowed origin is answered with
// 204 and Access-Control-Allow-Methods, -Allow-Headers and -Max-Age; from
// any other origin with 403 and no CORS headers. Other requests pass to
// next, with Access-Control-Allow-Origin only for an allowed origin; a
// disallowed origin is never reflected. Responses carry "Vary: Origin".
//
// With no origins configured (the default) CORS adds no headers at all,
// answers every preflight with 403, and passes other requests to next
// unchanged, so browsers on other origins cannot call the API.
//
// No credentials (cookies) are allowed: callers authenticate with the
// Authorization header, which is listed in the allowed headers.
func CORS(allowedOrigins []string, next http.Handler) http.Handler {
	allowed := slices.Clone(allowedOrigins)
	wildcard := slices.Contains(allowed, "*")
	enabled := len(allowed) > 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		if !enabled {
			if preflight {
				http.Error(w, "CORS is not enabled", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		ok := origin != "" && (wildcard || slices.Contains(allowed, origin))
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !ok {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			setAllowOrigin(h, origin, wildcard)
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			setAllowOrigin(h, origin, wildcard)
		}
		next.ServeHTTP(w, r)
	})
}

// setAllowOrigin sets Access-Control-Allow-Origin for an allowed origin.
func setAllowOrigin(h http.Header, origin string, wildcard bool) {
	if wildcard {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
}

// ParseOrigins parses a comma-separated list of allowed origins, such as
// the value of an environment variable, for CORS. Each origin must be
// "*" or scheme://host[:port] with scheme http or https and no path, query
// or trailing slash. Blank items are skipped; an empty s gives no origins.
func ParseOrigins(s string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		o := strings.TrimSpace(item)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
				u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(o, "/") {
				return nil, fmt.Errorf("invalid CORS origin %q: want scheme://host[:port], for example https://app.example.com", o)
			}
			if o != strings.ToLower(u.Scheme)+"://"+strings.ToLower(u.Host) {
				return nil, fmt.Errorf("invalid CORS origin %q: write it in lower case, as browsers send it", o)
			}
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

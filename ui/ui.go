// Package ui serves tgnotify's browser side: the framework-free
// <tgnotify-connect> custom element (GET /ui/tgnotify-connect.js) and, in
// sandbox mode only, the demo page (GET /demo) that puts the element beside
// a simulated Telegram chat drawn from the sandbox endpoints. Both files
// are embedded in the binary: no CDN, no build step.
//
//	mux.Handle("GET /ui/tgnotify-connect.js", ui.Component())
//	ui.MountDemo(mux) // sandbox only
package ui

import (
	_ "embed"
	"net/http"
	"strconv"
)

//go:embed tgnotify-connect.js
var componentJS []byte

//go:embed demo.html
var demoHTML []byte

// ComponentSize is the size of the component's source, in bytes (the
// docs quote it; a test keeps it small).
func ComponentSize() int { return len(componentJS) }

// Component serves the custom element's module script.
func Component() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(componentJS)))
		_, _ = w.Write(componentJS)
	})
}

// MountDemo adds GET /demo, the sandbox's demo page. The wiring mounts it
// only in sandbox mode, so with a real bot /demo is 404.
func MountDemo(mux *http.ServeMux) {
	mux.HandleFunc("GET /demo", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(demoHTML)
	})
}

package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	qrcode "github.com/skip2/go-qrcode"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notifierv1 "github.com/tgnotify/tgnotify/gen/notifier/v1"
)

// Bounds of the QR endpoints' size parameter, in pixels.
const (
	MinQRSize     = 128
	MaxQRSize     = 1024
	DefaultQRSize = 256
)

// qrFormats are the QR endpoints' image formats by path suffix.
var qrFormats = map[string]string{"svg": "image/svg+xml", "png": "image/png"}

// qrHandler serves GET /v1/users/{user_id}/link-qr.{svg,png}: a QR code of
// the user's live deep link. It asks for the link with GetLinkURL through
// the gateway's connection, passing the caller's Authorization header on,
// so the endpoint has GetLinkURL's authentication, scopes and session
// checks exactly.
func qrHandler(gw *runtime.ServeMux, client notifierv1.NotifierServiceClient, format string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) {
			_, m := runtime.MarshalerForRequest(gw, r)
			restErrorHandler(r.Context(), gw, m, w, r, err)
		}
		size, err := qrSize(r.URL.Query()["size"])
		if err != nil {
			fail(err)
			return
		}
		md := metadata.MD{}
		for _, h := range []string{"Authorization", "X-Request-Id"} {
			if v := r.Header.Get(h); v != "" {
				md.Set(strings.ToLower(h), v)
			}
		}
		resp, err := client.GetLinkURL(metadata.NewOutgoingContext(r.Context(), md),
			&notifierv1.GetLinkURLRequest{UserId: r.PathValue("user_id"), Bot: r.URL.Query().Get("bot"),
				ChatKind: qrChatKind(r.URL.Query().Get("chat_kind"))})
		if err != nil {
			fail(err)
			return
		}
		q, err := qrcode.New(resp.GetUrl(), qrcode.Medium)
		if err != nil {
			fail(status.Errorf(codes.Internal, "encode QR code: %v", err))
			return
		}
		var body []byte
		if format == "png" {
			if body, err = q.PNG(size); err != nil {
				fail(status.Errorf(codes.Internal, "encode PNG: %v", err))
				return
			}
		} else {
			body = qrSVG(q.Bitmap(), size)
		}
		w.Header().Set("Content-Type", qrFormats[format])
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

// qrSize parses the size parameter: absent is DefaultQRSize; anything but
// one integer from MinQRSize to MaxQRSize is INVALID_ARGUMENT (HTTP 400).
func qrSize(vals []string) (int, error) {
	switch {
	case len(vals) == 0:
		return DefaultQRSize, nil
	case len(vals) > 1:
		return 0, toStatus(invalid("size", "give it once"))
	}
	n, err := strconv.Atoi(vals[0])
	if len(vals[0]) > 8 || err != nil || n < MinQRSize || n > MaxQRSize {
		return 0, toStatus(invalid("size", "want an integer from %d to %d (pixels), got %.16q", MinQRSize, MaxQRSize, vals[0]))
	}
	return n, nil
}

// qrSVG draws bitmap (quiet zone included) as an SVG of size × size
// pixels: one path of unit squares over a viewBox of the module count.
func qrSVG(bitmap [][]bool, size int) []byte {
	n := len(bitmap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, size, size, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bitmap {
		for x := 0; x < len(row); x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run - 1
		}
	}
	b.WriteString(`"/></svg>`)
	return []byte(b.String())
}

// qrChatKind reads ?chat_kind= (CHAT_KIND_GROUP or GROUP for a group's
// startgroup link); anything else is the private link.
func qrChatKind(v string) notifierv1.ChatKind {
	switch strings.ToUpper(v) {
	case "CHAT_KIND_GROUP", "GROUP", "2":
		return notifierv1.ChatKind_CHAT_KIND_GROUP
	}
	return notifierv1.ChatKind_CHAT_KIND_UNSPECIFIED
}

package server

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tgnotify/tgnotify/metrics"
)

// TestLongLivedOutlastsServerTimeouts: the WatchEvents route keeps
// streaming past the server's read and write timeouts (through the
// metrics wrapper, as in NewHTTPHandler); any other route is cut.
func TestLongLivedOutlastsServerTimeouts(t *testing.T) {
	t.Parallel()
	const lines = 8
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := range lines {
			if _, err := fmt.Fprintf(w, "line %d\n", i); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(60 * time.Millisecond):
			}
		}
	})
	srv := httptest.NewUnstartedServer(metrics.New().InstrumentHTTP("rest", longLived(slow)))
	srv.Config.ReadTimeout = 150 * time.Millisecond
	srv.Config.WriteTimeout = 150 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	count := func(path string) int {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		n := 0
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			n++
		}
		return n
	}
	if n := count(watchPath); n != lines {
		t.Fatalf("%s: %d lines, want %d: cut by a server timeout", watchPath, n, lines)
	}
	if n := count("/v1/other"); n >= lines {
		t.Fatalf("/v1/other: %d lines: the timeouts did not apply (the test proves nothing)", n)
	}
}

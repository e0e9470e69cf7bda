package fakebot

import (
	"fmt"
	"net/http"
	"net/http/httptest"
)

// inProcessURL is the base URL of a server made by [NewInProcess]; nothing
// listens there, requests go through [Server.Transport].
const inProcessURL = "http://fakebot.invalid"

// NewInProcess returns a fake Bot API that does not listen on a socket:
// requests reach it through [Server.Transport], which calls its handler in
// the caller's goroutine. Nothing runs in the background, so it can live
// inside a testing/synctest bubble (where the virtual clock drives its
// flood limits, latency and hangs). Webhooks are accepted but never
// delivered; use getUpdates. Close it when done.
//
//	tg := fakebot.NewInProcess()
//	c := telegram.NewClient(tg.URL(), tg.Token(), telegram.WithHTTPClient(&http.Client{Transport: tg.Transport()}))
func NewInProcess(opts ...Option) *Server {
	s := newServer(opts)
	s.baseURL = inProcessURL
	s.hc = &http.Client{Timeout: s.deliverTimeout}
	s.httpSrv = &http.Server{} // never serves; Close is a no-op on it
	return s
}

// Transport returns an http.RoundTripper that answers every request with
// the server's handler, in the calling goroutine and without a socket. A
// request whose context ends before the handler answers (a hang, latency)
// fails with the context's error, as a real connection would.
func (s *Server) Transport() http.RoundTripper { return roundTripper{s} }

type roundTripper struct{ s *Server }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	rt.s.Handler().ServeHTTP(rec, req)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, fmt.Errorf("fakebot: in-process request: %w", err)
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

package fakebot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/telegram"
)

// deliveryLoop pushes pending updates to the webhook, one at a time in
// update order, until the server closes. A failed delivery keeps the update
// pending, records last_error_* and is retried after a growing delay.
func (s *Server) deliveryLoop() {
	delay := time.Duration(0)
	for {
		s.mu.Lock()
		var (
			next   queuedUpdate
			target webhookState
			found  bool
		)
		if s.webhook.url != "" {
			s.batchLocked(0) // drops updates of kinds not allowed
			if len(s.queue) > 0 {
				next, target, found = s.queue[0], s.webhook, true
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if !found {
			select {
			case <-changed:
				continue
			case <-s.done:
				return
			}
		}
		errMsg := s.deliver(target, next)
		s.mu.Lock()
		if errMsg == "" {
			for i, q := range s.queue {
				if q.seq == next.seq {
					s.queue = append(s.queue[:i], s.queue[i+1:]...)
					break
				}
			}
			delay = 0
		} else if s.webhook.url == target.url {
			s.webhook.lastErrorDate = s.now().Unix()
			s.webhook.lastErrorMsg = errMsg
		}
		s.notifyLocked()
		s.mu.Unlock()
		if errMsg == "" {
			continue
		}
		s.log.Debug("fakebot: webhook delivery failed", zap.Int64("update_id", next.id), zap.String("error", errMsg))
		delay = min(max(delay*2, s.retryMin), s.retryMax)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return
		}
	}
}

// deliver POSTs one update; it returns "" on a 2xx answer, else the
// last_error_message Telegram would report.
func (s *Server) deliver(w webhookState, q queuedUpdate) string {
	ctx, cancel := context.WithTimeout(context.Background(), s.deliverTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(q.raw))
	if err != nil {
		return "Bad webhook URL"
	}
	req.Header.Set("Content-Type", "application/json")
	if w.secret != "" {
		req.Header.Set(telegram.SecretTokenHeader, w.secret)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return "Connection refused"
		case errors.As(err, &ne) && ne.Timeout():
			return "Read timeout expired"
		}
		return "Connection failed"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("Wrong response from the webhook: %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return ""
}

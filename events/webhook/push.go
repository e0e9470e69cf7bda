package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/tgnotify/tgnotify/events"
	"github.com/tgnotify/tgnotify/lease"
	"github.com/tgnotify/tgnotify/retry"
)

// Run pushes while this replica holds the lease, and tries to take it
// while another does, until ctx ends; it then gives the lease up and
// returns nil.
func (p *Pusher) Run(ctx context.Context) error {
	log := p.logger
	for ctx.Err() == nil {
		got, err := p.st.AcquireLease(ctx, LeaseName, p.holder, p.leaseTTL)
		if err != nil || !got {
			if err != nil && ctx.Err() == nil {
				log.Warn("event webhook lease", zap.Error(err))
			}
			retry.Sleep(ctx, min(p.leaseRenew, time.Second))
			continue
		}
		log.Info("holding the event webhook lease; pushing events")
		err = p.holdAndPush(ctx)
		p.pending(time.Time{})
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = p.st.ReleaseLease(rctx, LeaseName, p.holder)
		rcancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("event webhook stopped pushing; taking the lease again", zap.Error(err))
			retry.Sleep(ctx, p.leaseRenew)
		}
	}
	return nil
}

// holdAndPush pushes while the lease is held, renewing it, until ctx
// ends or the lease is lost. The lease's context (held) outlives ctx: a
// batch in flight when ctx ends is finished (within the request timeout)
// and its cursor stored, so a shutdown re-sends nothing; a lost lease
// aborts it at once.
func (p *Pusher) holdAndPush(ctx context.Context) error {
	held, lose := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		lease.Keep(held, lose, lease.Spec{Store: p.st, Name: LeaseName, Holder: p.holder, TTL: p.leaseTTL,
			Renew: p.leaseRenew, What: "event webhook"}, p.logger)
	}()
	pctx, stop := context.WithCancel(held)
	unhook := context.AfterFunc(ctx, stop)
	err := p.push(pctx, held)
	unhook()
	stop()
	lose()
	<-renewed
	return err
}

// push delivers the log from the stored cursor until ctx ends (nil) or
// the cursor cannot be stored (the lease may be lost: the caller takes it
// again and resumes from the stored cursor). Requests, and the store of
// their cursor, run under held (see holdAndPush).
func (p *Pusher) push(ctx, held context.Context) error {
	cursor, err := p.start(ctx)
	if err != nil {
		return err
	}
	bo := retry.New(p.minBackoff, p.maxBackoff)
	// Failures of the store (reading the log) back off less far: they
	// say nothing about the receiver.
	storeBo := retry.New(min(p.minBackoff, 500*time.Millisecond), min(p.maxBackoff, 30*time.Second))
	idle := false // the last read found nothing after cursor
	for ctx.Err() == nil {
		evs, next, err := p.log.Read(ctx, cursor, p.filter, BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if oldest, ok := lostCursor(err); ok && cursor != "" {
				p.cursorLost(cursor, oldest, idle)
				cursor, idle = "", false
				continue
			}
			p.backoff(ctx, storeBo, "event webhook: reading the event log", err)
			continue
		}
		storeBo.Reset()
		if len(evs) == 0 {
			p.pending(time.Time{})
			if next != cursor {
				if err := p.save(ctx, next); err != nil {
					return err
				}
				cursor = next
			}
			idle = true
			if err := p.log.Wait(ctx, cursor, p.wait); err != nil && ctx.Err() == nil {
				p.backoff(ctx, storeBo, "event webhook: waiting for events", err)
			}
			continue
		}
		idle = false
		p.pending(evs[0].Time)
		if !p.deliver(ctx, held, evs, bo) {
			return nil
		}
		bo.Reset()
		if err := p.save(held, next); err != nil {
			return err
		}
		p.pending(time.Time{})
		p.obs.Delivered(len(evs))
		cursor = next
	}
	return nil
}

// cursorLost reports a cursor that is no longer in the log. When the
// pusher was caught up at it (idle), the log trimmed the entry the cursor
// names while nothing after it was pending: the events appended since woke
// the pusher at once, so none of them can have been trimmed unread (the
// log cannot tell that entry from a lost one). Otherwise events were lost
// to the receiver: loudly.
func (p *Pusher) cursorLost(cursor, oldest string, idle bool) {
	if idle {
		p.logger.Info("event webhook: the log trimmed the entry of its cursor while it was caught up; continuing from the oldest retained event",
			zap.String("cursor", cursor), zap.String("oldest", oldest))
		return
	}
	p.obs.CursorTooOld()
	p.logger.Error("EVENTS LOST TO THE EVENT WEBHOOK: its cursor is no longer in the log (trimmed by NOTIFIER_EVENT_RETENTION or NOTIFIER_EVENT_MAX, or malformed); continuing from the oldest retained event",
		zap.String("cursor", cursor), zap.String("oldest", oldest))
}

// lostCursor reports whether err says the cursor is not in the log (too
// old or malformed), and the oldest cursor still available.
func lostCursor(err error) (oldest string, ok bool) {
	var old *events.CursorTooOldError
	if errors.As(err, &old) {
		return old.Oldest, true
	}
	return "", errors.Is(err, events.ErrBadCursor)
}

// backoff logs a failure of the store or the log and waits.
func (p *Pusher) backoff(ctx context.Context, bo *retry.Backoff, msg string, err error) {
	wait := bo.Next()
	p.logger.Warn(msg+"; retrying", zap.Error(err), zap.Duration("backoff", wait))
	retry.Sleep(ctx, wait)
}

// start returns the stored cursor or, for a newly configured webhook, the
// log's tail, which it stores.
func (p *Pusher) start(ctx context.Context) (string, error) {
	cursor, ok, err := p.st.EventWebhookCursor(ctx)
	if err != nil {
		return "", fmt.Errorf("event webhook cursor: %w", err)
	}
	if ok {
		return cursor, nil
	}
	tail, err := p.tail(ctx)
	if err != nil {
		return "", err
	}
	if err := p.save(ctx, tail); err != nil {
		return "", err
	}
	p.logger.Info("event webhook newly configured: pushing the events appended from now on", zap.String("cursor", tail))
	return tail, nil
}

// tail reads the log forward to its end and returns the cursor after its
// last entry ("" for an empty log: everything appended later follows it).
func (p *Pusher) tail(ctx context.Context) (string, error) {
	cursor := ""
	for {
		_, next, err := p.log.Read(ctx, cursor, events.Filter{}, events.MaxRead)
		if _, lost := lostCursor(err); lost && cursor != "" {
			cursor = "" // trimmed while we read: start again from the oldest
			continue
		}
		if err != nil {
			return "", fmt.Errorf("event webhook: finding the log's tail: %w", err)
		}
		if next == cursor {
			return cursor, nil
		}
		cursor = next
	}
}

// save stores cursor under the lease.
func (p *Pusher) save(ctx context.Context, cursor string) error {
	if err := p.st.SetEventWebhookCursorLeased(ctx, LeaseName, p.holder, cursor); err != nil {
		return fmt.Errorf("store the event webhook cursor: %w", err)
	}
	return nil
}

// deliver sends evs until the receiver acknowledges them (true) or ctx
// ends (false), backing off between attempts; an attempt runs under held
// and is finished even when ctx ends meanwhile.
func (p *Pusher) deliver(ctx, held context.Context, evs []events.Event, bo *retry.Backoff) bool {
	for ctx.Err() == nil {
		status, err := p.attempt(held, evs)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		p.obs.Failed(status)
		wait := bo.Next()
		p.logger.Warn("event webhook delivery failed; retrying the same batch", zap.String("status", status),
			zap.Error(err), zap.Int("events", len(evs)), zap.String("first_cursor", evs[0].Cursor),
			zap.Duration("backoff", wait))
		if !retry.Sleep(ctx, wait) {
			return false
		}
	}
	return false
}

// attempt encodes and posts evs once (see post).
func (p *Pusher) attempt(ctx context.Context, evs []events.Event) (status string, err error) {
	body, err := p.marshal(evs)
	if err != nil {
		return "error", fmt.Errorf("event webhook: encoding the batch: %w", err)
	}
	return p.post(ctx, body)
}

// post sends one signed request; status is "" on a 2xx, else the status
// code, "timeout" or "error". Its errors never quote the URL (it may hold
// credentials).
func (p *Pusher) post(ctx context.Context, body []byte) (status string, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return "error", errors.New("event webhook: bad request URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tgnotify-event-webhook")
	req.Header.Set(SignatureHeader, Sign(p.secret, p.now(), body))
	resp, err := p.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if isTimeout(err) {
			return "timeout", fmt.Errorf("event webhook: no answer within %s: %w", p.timeout, err)
		}
		return "error", fmt.Errorf("event webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseRead))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return strconv.Itoa(resp.StatusCode), fmt.Errorf("event webhook: the receiver answered %d", resp.StatusCode)
	}
	return "", nil
}

// isTimeout reports whether err is a request's timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

package delivery

import "time"

// Wake wakes this process's idle workers: work was queued behind the
// dispatcher's back (a broadcast's expansion, see package broadcast).
func (d *Dispatcher) Wake() { d.signal() }

// paidLimit is the name of the paid broadcasts' rate limit.
const paidLimit = "paid"

// acquirePaidSlot takes a slot of the paid limit for a paid broadcast's
// send (its claim reserved none). A saturated paid limit only delays this
// chat: it is not the global limit, so it gates no other worker.
func (w *worker) acquirePaidSlot(c Claim, attempts int, maxWait time.Duration) (time.Duration, bool) {
	d := w.d
	rate := d.cfg.PaidBroadcastRate
	if rate <= 0 {
		rate = d.cfg.GlobalRate // paid broadcasts switched off since: the global pace
	}
	// A small burst: the sends of several workers may bunch on their way.
	wait, paused, err := d.q.Acquire(w.ctx, paidLimit, rate, max(1, int(rate/100)), maxWait)
	switch {
	case err != nil:
		w.release(c, d.now().Add(d.cfg.MinBackoff), attempts, "")
		return 0, false
	case paused > 0:
		d.noteLimit(paused, 0) // a 429 pauses every send
		w.release(c, d.now().Add(paused), attempts, "")
		return 0, false
	case wait > maxWait:
		w.release(c, d.now().Add(wait-maxWait), attempts, "")
		return 0, false
	}
	return wait, true
}

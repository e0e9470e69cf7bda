package delivery

// Wake wakes this process's idle workers: work was queued behind the
// dispatcher's back (a broadcast's expansion, see package broadcast).
func (d *Dispatcher) Wake() { d.signal() }

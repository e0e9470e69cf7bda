package broadcast

import (
	"context"
	"math"
	"time"

	"go.uber.org/zap"
)

// Store is what the Runner needs from storage (store.RedisQueue and
// store.MemoryQueue provide it).
type Store interface {
	// RunningBroadcasts returns the broadcasts with recipients left to
	// expand.
	RunningBroadcasts(ctx context.Context) ([]string, error)
	// GetBroadcast returns a broadcast's state (for its rate).
	GetBroadcast(ctx context.Context, id string) (Broadcast, error)
	// ExpandBroadcast queues the next recipients of id as ordinary
	// notifications, as many as its rate and window allow, in the same
	// atomic step as it takes them off its list; their records are kept
	// for retention.
	ExpandBroadcast(ctx context.Context, id string, now time.Time, window int, retention time.Duration) (Expansion, error)
}

// Config tunes a Runner; zero fields take the defaults.
type Config struct {
	// Tick is the shortest pause between two expansion steps of a
	// broadcast (20 ms): each step expands what the rate allowed since.
	Tick time.Duration
	// Idle is how often the runner looks for broadcasts while none runs
	// (500 ms; Kick wakes it at once).
	Idle time.Duration
	// Window is the expansion's look-ahead in seconds of the broadcast's
	// rate (0.1 s): at most rate × Window of its recipients expanded in
	// the last 2 s are unsettled, so a transactional notification finds at
	// most that many broadcast sends due before it.
	Window float64
	// Retention is how long a recipient's record is kept at most (it is
	// dropped when settled).
	Retention time.Duration
}

func (c Config) normalized() Config {
	if c.Tick <= 0 {
		c.Tick = 20 * time.Millisecond
	}
	if c.Idle <= 0 {
		c.Idle = 500 * time.Millisecond
	}
	if c.Window <= 0 {
		c.Window = 0.1
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	return c
}

// Runner expands the running broadcasts; every replica runs one (the
// expansion steps are atomic, so runners share the work without
// coordination). Create it with NewRunner.
type Runner struct {
	cfg  Config
	st   Store
	wake func()
	log  *zap.Logger
	now  func() time.Time
	kick chan struct{}
	// rates caches the running broadcasts' rates (a rate never changes);
	// only Run's goroutine uses it, and each step drops the broadcasts
	// that stopped running (finished or cancelled).
	rates map[string]float64
}

// NewRunner returns a runner on st that calls wake (the dispatcher's
// Wake) after each step that queued something.
func NewRunner(cfg Config, st Store, wake func(), log *zap.Logger) *Runner {
	if log == nil {
		log = zap.NewNop()
	}
	if wake == nil {
		wake = func() {}
	}
	return &Runner{cfg: cfg.normalized(), st: st, wake: wake, log: log, now: time.Now,
		kick: make(chan struct{}, 1), rates: map[string]float64{}}
}

// Kick makes the runner look for broadcasts now (after a create).
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// WindowFor is the window of a broadcast at rate: rate × Window seconds,
// at least 2.
func (r *Runner) WindowFor(rate float64) int {
	return max(2, int(math.Ceil(rate*r.cfg.Window)))
}

// Run expands broadcasts until ctx ends; it returns nil then.
func (r *Runner) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		wait := r.step(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-r.kick:
		}
		t.Stop()
	}
	return nil
}

// step runs one expansion step of every running broadcast and returns how
// long to wait before the next.
func (r *Runner) step(ctx context.Context) time.Duration {
	ids, err := r.st.RunningBroadcasts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("broadcast: cannot list running broadcasts", zap.Error(err))
		}
		return r.cfg.Idle
	}
	r.pruneRates(ids)
	wait, queued := r.cfg.Idle, false
	for _, id := range ids {
		rate, ok := r.rate(ctx, id)
		if !ok {
			continue
		}
		e, err := r.st.ExpandBroadcast(ctx, id, r.now(), r.WindowFor(rate), r.cfg.Retention)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("broadcast: expansion failed", zap.String("broadcast_id", id), zap.Error(err))
			}
			continue
		}
		if e.Queued > 0 {
			queued = true
		}
		if e.Finished {
			delete(r.rates, id)
			continue
		}
		wait = min(wait, max(e.Wait, r.cfg.Tick))
	}
	if queued {
		r.wake()
	}
	return wait
}

// rate returns the broadcast's rate (read once).
func (r *Runner) rate(ctx context.Context, id string) (float64, bool) {
	if rate, ok := r.rates[id]; ok {
		return rate, true
	}
	b, err := r.st.GetBroadcast(ctx, id)
	if err != nil || b.Rate <= 0 {
		if ctx.Err() == nil {
			r.log.Warn("broadcast: cannot read broadcast", zap.String("broadcast_id", id), zap.Error(err))
		}
		return 0, false
	}
	r.rates[id] = b.Rate
	return b.Rate, true
}

// pruneRates forgets the rates of broadcasts no longer running.
func (r *Runner) pruneRates(running []string) {
	if len(r.rates) <= len(running) {
		return
	}
	live := make(map[string]bool, len(running))
	for _, id := range running {
		live[id] = true
	}
	for id := range r.rates {
		if !live[id] {
			delete(r.rates, id)
		}
	}
}

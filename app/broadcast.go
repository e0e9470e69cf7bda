package app

import (
	"github.com/tgnotify/tgnotify/broadcast"
	"github.com/tgnotify/tgnotify/server"
)

// broadcastStore is the store as the broadcasts need it: the API's part
// and the runner's.
type broadcastStore interface {
	server.Broadcasts
	broadcast.Store
}

// newBroadcasts serves the broadcast rpcs and builds the runner that
// expands them (every replica runs one; they share the work).
func (a *App) newBroadcasts(st broadcastStore) {
	d := a.disp.Config()
	a.bcRunner = broadcast.NewRunner(broadcast.Config{Retention: d.MaxAge + d.LeaseTimeout}, st, a.disp.Wake,
		a.log.Named("broadcast"))
	a.svc.EnableBroadcasts(st, server.BroadcastOptions{GlobalRate: d.GlobalRate, PaidRate: d.PaidBroadcastRate,
		Retention: d.Retention, IdempotencyTTL: d.IdempotencyTTL, Kick: a.bcRunner.Kick})
}

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

// newBroadcasts serves bot s's broadcast rpcs and builds the runner that
// expands them (every replica runs one per bot; they share the work).
func (a *App) newBroadcasts(s *botStack, st broadcastStore) {
	d := s.disp.Config()
	s.bcRunner = broadcast.NewRunner(broadcast.Config{Retention: d.MaxAge + d.LeaseTimeout}, st, s.disp.Wake,
		s.log.Named("broadcast"))
	s.svc.EnableBroadcasts(st, server.BroadcastOptions{GlobalRate: d.GlobalRate, PaidRate: d.PaidBroadcastRate,
		Retention: d.Retention, IdempotencyTTL: d.IdempotencyTTL, Kick: s.bcRunner.Kick})
}

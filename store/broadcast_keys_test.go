package store

import (
	"testing"

	"github.com/tgnotify/tgnotify/store/redistest"
)

// TestBroadcastLuaKeysMatchGo: lib/bc.lua builds the keys of a broadcast
// id it reads as keys.go does.
func TestBroadcastLuaKeysMatchGo(t *testing.T) {
	c := redistest.Start(t).Client(t)
	const p, id = "{tgn}", "b0123"
	got, err := c.Eval(t.Context(), mustReadLua("lib/keys.lua")+mustReadLua("lib/events.lua")+mustReadLua("lib/bc.lua")+`
local p, id = ARGV[1], ARGV[2]
return {bc_key(p, id), bc_template_key(p, id), bc_recipients_key(p, id), bc_flight_key(p, id), bc_failures_key(p, id),
  bc_running_key(p)}
`, nil, p, id).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{bcKey(p, id), bcTemplateKey(p, id), bcRecipientsKey(p, id), bcFlightKey(p, id), bcFailuresKey(p, id),
		bcRunningKey(p)}
	if len(got) != len(want) {
		t.Fatalf("Lua keys %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("key %d: Lua %q, Go %q", i, got[i], want[i])
		}
	}
}

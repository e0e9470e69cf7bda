package broadcast

import (
	"maps"
	"slices"
	"testing"
)

// TestRunnerForgetsStoppedBroadcasts: the rate cache keeps only the
// broadcasts still running (a cancelled one leaves the running set
// without the runner seeing it finish).
func TestRunnerForgetsStoppedBroadcasts(t *testing.T) {
	r := NewRunner(Config{}, nil, nil, nil)
	r.rates = map[string]float64{"done": 30, "cancelled": 10, "live": 5}
	r.pruneRates([]string{"live", "new"})
	if got := slices.Sorted(maps.Keys(r.rates)); !slices.Equal(got, []string{"live"}) {
		t.Fatalf("cached rates %v, want only the running broadcast's", got)
	}
}

package store

// Internal tests of the bucketed link layout: the Go and Lua bucket
// functions must agree, or links written by Go could not be found by the
// scripts (and the reverse).

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/store/redistest"
)

func TestLinkBucketsConstant(t *testing.T) {
	if 65536%linkBuckets != 0 {
		t.Fatalf("linkBuckets %d does not divide 65536: buckets would be uneven", linkBuckets)
	}
	if want := "% " + strconv.Itoa(linkBuckets) + "\n"; !strings.Contains(mustReadLua("lib/keys.lua"), want) {
		t.Fatalf("lib/keys.lua's link_bucket does not reduce modulo linkBuckets (%q not found)", want)
	}
}

func TestLinkBucketLuaMatchesGo(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := []string{"u1", "u2", "|", "a|b", "line\nbreak", "ü-ß-€-日本", strings.Repeat("x", 300), "\x00\xff"}
	for i := range 500 {
		inputs = append(inputs, fmt.Sprintf("bench-user-%06d", i), strconv.FormatInt(-1001234567890-int64(i), 10),
			strconv.FormatInt(rng.Int64(), 10))
		b := make([]byte, rng.IntN(80)+1)
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(b))
	}
	args := make([]any, len(inputs))
	for i, s := range inputs {
		args[i] = s
	}
	got, err := c.Eval(t.Context(), mustReadLua("lib/keys.lua")+`
local out = {}
for i, s in ipairs(ARGV) do out[i] = link_bucket(s) end
return out
`, nil, args...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(inputs) {
		t.Fatalf("%d buckets for %d inputs", len(got), len(inputs))
	}
	for i, s := range inputs {
		if want := int64(linkBucket(s)); got[i] != want {
			t.Errorf("bucket of %q: Lua %d, Go %d", s, got[i], want)
		}
	}
}

// TestLinkBucketSpread checks that a million user ids shaped like the
// benchmark's fill no bucket beyond Redis's default
// hash-max-listpack-entries (128), as the key layout comment promises.
func TestLinkBucketSpread(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	var n [linkBuckets]int
	for i := range 1_000_000 {
		n[linkBucket(fmt.Sprintf("bench-user-%06d", i))]++
	}
	lo, hi := n[0], n[0]
	for _, v := range n {
		lo, hi = min(lo, v), max(hi, v)
	}
	t.Logf("1M users over %d buckets: %d to %d per bucket", linkBuckets, lo, hi)
	if hi > 128 {
		t.Fatalf("fullest bucket has %d users, want <= 128", hi)
	}
}

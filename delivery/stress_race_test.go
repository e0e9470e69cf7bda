//go:build race

package delivery_test

// raceEnabled is true under -race: the stress test runs fewer seeds.
const raceEnabled = true

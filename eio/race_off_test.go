//go:build !race

package eio

// raceEnabled reports whether the race detector is on (it makes sync.Pool
// drop items at random, which breaks allocation counts).
const raceEnabled = false

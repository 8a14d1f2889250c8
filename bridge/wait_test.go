package bridge

import (
	"testing"
	"time"
)

// waitFor bounds every wait in these tests; generous for a loaded 2-core box.
// A wait that hits it is a failure, never a timing assertion.
const waitFor = 10 * time.Second

// pollEvery is how often a condition wait checks its condition.
const pollEvery = 2 * time.Millisecond

// holdsWithin polls cond until it holds (true) or d passes (false).
func holdsWithin(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// eventually polls cond until it holds, and fails the test, naming what it
// waited for, if it does not within waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !holdsWithin(waitFor, cond) {
		t.Fatalf("timed out after %v waiting for %s", waitFor, what)
	}
}

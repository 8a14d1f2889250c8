package engine

import (
	"strconv"
	"testing"
	"time"
)

// waitFor bounds every condition wait in these tests: generous, for a
// loaded 2-core box. A wait that hits it is a failure, never a timing
// assertion.
const waitFor = 10 * time.Second

// pollEvery is how often eventually checks its condition.
const pollEvery = 2 * time.Millisecond

// eventually polls cond until it holds, and fails the test, naming what it
// waited for, if it does not within waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		time.Sleep(pollEvery)
	}
}

// waitParked waits until the polling session sid has a GET parked.
func waitParked(t testing.TB, srv *Server, sid string) {
	t.Helper()
	eventually(t, "a parked GET on "+sid, func() bool {
		ss := srv.lookupSession(sid)
		if ss == nil {
			return false
		}
		ss.poll.mu.Lock()
		defer ss.poll.mu.Unlock()
		return ss.poll.get != nil
	})
}

// waitForgotten waits until the server no longer knows the sid.
func waitForgotten(t testing.TB, srv *Server, sid string) {
	t.Helper()
	eventually(t, "sid "+sid+" to be forgotten", func() bool { return srv.lookupSession(sid) == nil })
}

// waitSessions waits until the server has n open sessions.
func waitSessions(t testing.TB, srv *Server, n int64) {
	t.Helper()
	eventually(t, "the open sessions to number "+strconv.FormatInt(n, 10), func() bool { return srv.Stats().Sessions == n })
}

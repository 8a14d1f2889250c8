package engine

import (
	"math/rand"
	"testing"
)

// Every session fires once, at the first advance at or after its deadline,
// whatever the deadlines and however irregular the advances.
func TestTimerWheelFiresOnTime(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	var w timerWheel
	w.init(0, 5)
	sessions := make([]*session, 300)
	due := map[*session]int64{}
	for i := range sessions {
		s := &session{}
		sessions[i] = s
		at := rng.Int63n(wheelSize * 5 * 3) // up to three turns ahead
		w.schedule(s, at)
		due[s] = at
	}
	// Reschedule some: only the last deadline counts.
	for _, s := range sessions[:50] {
		at := rng.Int63n(1000)
		w.schedule(s, at)
		due[s] = at
	}
	fired := map[*session]int64{}
	for now := int64(0); now < wheelSize*5*3+100; now += rng.Int63n(7) + 1 {
		w.advance(now, len(sessions), func(s *session) {
			if _, dup := fired[s]; dup {
				t.Fatalf("fired twice")
			}
			fired[s] = now
			if now < due[s] {
				t.Fatalf("fired at %d before its deadline %d", now, due[s])
			}
			if now > due[s]+5+7 {
				t.Fatalf("fired at %d, deadline %d", now, due[s])
			}
		})
	}
	if len(fired) != len(sessions) {
		t.Fatalf("fired %d of %d", len(fired), len(sessions))
	}
}

func TestTimerWheelRemove(t *testing.T) {
	var w timerWheel
	w.init(0, 5)
	s := &session{}
	w.schedule(s, 10)
	w.remove(s)
	w.advance(1000, 1, func(*session) { t.Fatal("removed session fired") })
}

// A limited advance stops once the limit is reached, even inside a bucket,
// and the next calls finish the rest without losing or repeating anyone.
func TestTimerWheelLimit(t *testing.T) {
	var w timerWheel
	w.init(0, 5)
	sessions := make([]*session, 500)
	for i := range sessions {
		sessions[i] = &session{}
		w.schedule(sessions[i], int64(i%50)) // 50 per 5 ms bucket
	}
	fired := map[*session]int{}
	calls := 0
	for more := true; more; calls++ {
		n := 0
		more = w.advance(1000, 64, func(s *session) { fired[s]++; n++ })
		if n > 64 {
			t.Fatalf("one call fired %d, limit 64", n)
		}
	}
	if len(fired) != len(sessions) || calls < 2 {
		t.Fatalf("fired %d sessions in %d calls", len(fired), calls)
	}
	for _, n := range fired {
		if n != 1 {
			t.Fatal("a session fired twice")
		}
	}
}

// fire may reschedule the session it is given (even a whole turn ahead, into
// the bucket being processed) and remove others of the same bucket; each
// session still fires at most once per deadline and the removed ones never.
func TestTimerWheelFireReschedulesAndRemoves(t *testing.T) {
	var w timerWheel
	w.init(0, 5)
	sessions := make([]*session, 10)
	for i := range sessions {
		sessions[i] = &session{}
		w.schedule(sessions[i], 7) // all in the bucket of tick 1
	}
	fired := map[*session]int{}
	w.advance(20, 100, func(s *session) {
		fired[s]++
		if s == sessions[0] {
			w.remove(sessions[5])
			w.remove(sessions[9])
		}
		w.schedule(s, 7+wheelSize*5) // same bucket, one turn later
	})
	if len(fired) != 8 || fired[sessions[5]] != 0 || fired[sessions[9]] != 0 {
		t.Fatalf("fired %d sessions (want the 8 not removed), removed ones %d and %d", len(fired), fired[sessions[5]], fired[sessions[9]])
	}
	for s, n := range fired {
		if n != 1 {
			t.Fatalf("a session fired %d times", n)
		}
		if s.timerSlot == 0 {
			t.Fatal("a rescheduled session is not in the wheel")
		}
	}
	if b := w.buckets[1]; b.n != 8 {
		t.Fatalf("bucket 1 holds %d, want the 8 rescheduled", b.n)
	}
	w.advance(7+wheelSize*5+10, 100, func(s *session) { fired[s]++ })
	for _, n := range fired {
		if n != 2 {
			t.Fatalf("after a turn a session fired %d times, want 2", n)
		}
	}
}

// Rescheduling, the per-pong work of every session, allocates nothing and
// leaves one link per session however often it runs.
func TestTimerWheelRescheduleAllocatesNothing(t *testing.T) {
	var w timerWheel
	w.init(0, 25)
	sessions := make([]*session, 100)
	for i := range sessions {
		sessions[i] = &session{}
	}
	at := int64(0)
	allocs := testing.AllocsPerRun(100, func() {
		at += 25
		for _, s := range sessions {
			w.schedule(s, at)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
	n := 0
	for _, b := range w.buckets {
		n += b.n
	}
	if n != len(sessions) {
		t.Fatalf("the wheel holds %d links for %d sessions", n, len(sessions))
	}
}

// A loop's timer task fires at most timerBatch sessions and says it is
// behind; it does not re-queue itself (gnet would run that in the same
// pass, before any read or delivery), the next tick finishes the rest.
func TestTimerTaskYieldsAfterABatch(t *testing.T) {
	srv := New(Config{}, &testHandler{})
	sh := newShard(srv, nil, 0)
	fired := 0
	sh.fireTimer = func(*session) { fired++ }
	due := srv.nowMS()
	for range 2*timerBatch + 88 {
		sh.timers.schedule(&session{}, due)
	}
	// The sessions went into the bucket of the tick after the current one
	// (the wheel never schedules into the current tick), and a bucket is
	// processed once its whole tick has passed.
	tickMS := sh.timers.tickMS
	eventually(t, "the sessions' tick to pass", func() bool { return srv.nowMS() >= (due/tickMS+2)*tickMS })
	for i, want := range []struct {
		fired  int
		behind bool
	}{{timerBatch, true}, {2 * timerBatch, true}, {2*timerBatch + 88, false}} {
		sh.onTick()
		if fired != want.fired || sh.behind.Load() != want.behind {
			t.Fatalf("tick %d: fired %d, behind %v; want %d, %v", i+1, fired, sh.behind.Load(), want.fired, want.behind)
		}
	}
}

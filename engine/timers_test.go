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

// A limited advance stops after a bucket once the limit is reached, and the
// next calls finish the rest without losing or repeating anyone.
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
		if n > 64+50 { // the limit, plus the rest of the bucket that crossed it
			t.Fatalf("one call fired %d", n)
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

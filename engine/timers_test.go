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
		w.advance(now, func(s *session) {
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
	w.advance(1000, func(*session) { t.Fatal("removed session fired") })
}

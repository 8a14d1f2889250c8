package engine

import "math"

// timerWheel is a hashed timing wheel of sessions, one per loop. A session
// has one deadline and is linked into the bucket of that deadline's tick
// (an intrusive doubly linked list through the session), so scheduling,
// rescheduling and removing are O(1) and allocate nothing, and a tick costs
// only the sessions in its bucket. Only the owning loop may touch it.
type timerWheel struct {
	buckets []timerBucket
	tickMS  int64
	cur     int64 // last tick processed
}

// timerBucket is one slot's list of sessions, oldest first.
type timerBucket struct {
	head, tail *session
	n          int
}

// timerLinks is a session's place in its loop's wheel; with it goes
// session.timerSlot, 1 + the index in buckets, 0 while not scheduled (kept
// apart so that it packs with the session's flags).
type timerLinks struct {
	next, prev *session
	at         int64 // deadline, server ms
}

// wheelSize buckets cover wheelSize ticks (about 100 s at 25 ms); later
// deadlines just go round again.
const wheelSize = 4096

// session.timerSlot is an int16: the wheel must fit.
const _ = uint(math.MaxInt16 - wheelSize)

func (w *timerWheel) init(nowMS, tickMS int64) {
	w.buckets = make([]timerBucket, wheelSize)
	w.tickMS = max(tickMS, 1)
	w.cur = nowMS / w.tickMS
}

// schedule sets s's deadline to atMS, replacing any earlier one.
func (w *timerWheel) schedule(s *session, atMS int64) {
	w.remove(s)
	t := atMS / w.tickMS
	if t <= w.cur {
		t = w.cur + 1
	}
	s.timer.at = atMS
	w.push(s, int32(t%wheelSize))
}

// remove forgets s's deadline, if it has one.
func (w *timerWheel) remove(s *session) {
	if s.timerSlot == 0 {
		return
	}
	b := &w.buckets[s.timerSlot-1]
	if s.timer.prev != nil {
		s.timer.prev.timer.next = s.timer.next
	} else {
		b.head = s.timer.next
	}
	if s.timer.next != nil {
		s.timer.next.timer.prev = s.timer.prev
	} else {
		b.tail = s.timer.prev
	}
	b.n--
	s.timer.next, s.timer.prev, s.timerSlot = nil, nil, 0
}

// push appends s to bucket i.
func (w *timerWheel) push(s *session, i int32) {
	b := &w.buckets[i]
	s.timerSlot, s.timer.prev, s.timer.next = int16(i+1), b.tail, nil
	if b.tail != nil {
		b.tail.timer.next = s
	} else {
		b.head = s
	}
	b.tail = s
	b.n++
}

// advance fires every session whose deadline is at or before nowMS and
// stops once it has fired limit sessions; it reports whether due sessions
// may remain. A tick's bucket is processed only once the whole tick has
// passed, so every session in it is due, except those a whole turn or more
// ahead, which go back to the bucket's tail. fire may schedule or remove
// any session of this wheel.
func (w *timerWheel) advance(nowMS int64, limit int, fire func(*session)) (more bool) {
	target := (nowMS+1)/w.tickMS - 1
	if target-w.cur > wheelSize {
		w.cur = target - wheelSize // a long stall: one full turn sees everything
	}
	fired := 0
	for w.cur < target {
		i := int32((w.cur + 1) % wheelSize)
		b := &w.buckets[i]
		// Look at as many sessions as the bucket held on entry: the ones put
		// back, or scheduled into it by fire, wait for a later turn.
		for seen := b.n; seen > 0 && b.head != nil; seen-- {
			if fired >= limit {
				return true
			}
			s := b.head
			w.remove(s)
			if s.timer.at > nowMS {
				w.push(s, i)
				continue
			}
			fired++
			fire(s)
		}
		w.cur++
	}
	return false
}

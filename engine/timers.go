package engine

// timerWheel is a hashed timing wheel of sessions, one per loop. Each
// session has one deadline; rescheduling appends a new entry and bumps the
// session's generation, so stale entries are skipped when their bucket
// comes round. A tick costs only the entries due in it.
type timerWheel struct {
	buckets [][]timerEntry
	tickMS  int64
	cur     int64 // last tick processed
	scratch []timerEntry
}

type timerEntry struct {
	s   *session
	gen uint32
}

// wheelSize buckets cover wheelSize ticks (about 200 s at 50 ms); later
// deadlines just go round again.
const wheelSize = 4096

func (w *timerWheel) init(nowMS, tickMS int64) {
	w.buckets = make([][]timerEntry, wheelSize)
	w.tickMS = max(tickMS, 1)
	w.cur = nowMS / w.tickMS
}

// schedule sets s's deadline to atMS.
func (w *timerWheel) schedule(s *session, atMS int64) {
	gen := s.timerGen.Add(1)
	s.timerAt.Store(atMS)
	t := atMS / w.tickMS
	if t <= w.cur {
		t = w.cur + 1
	}
	b := t % wheelSize
	w.buckets[b] = append(w.buckets[b], timerEntry{s, gen})
}

// remove forgets s; its entries become stale.
func (w *timerWheel) remove(s *session) {
	s.timerGen.Add(1)
}

// advance fires every session whose deadline is at or before nowMS, a
// bucket at a time, and stops once it has fired at least limit sessions;
// it reports whether due buckets remain. A tick's bucket is processed only
// once the whole tick has passed, so every entry in it is due; entries still
// there are for a later turn.
func (w *timerWheel) advance(nowMS int64, limit int, fire func(*session)) (more bool) {
	target := (nowMS+1)/w.tickMS - 1
	if target-w.cur > wheelSize {
		w.cur = target - wheelSize // a long stall: one full turn sees everything
	}
	fired := 0
	for w.cur < target {
		if fired >= limit {
			return true
		}
		w.cur++
		b := w.cur % wheelSize
		entries := append(w.scratch[:0], w.buckets[b]...)
		clear(w.buckets[b])
		w.buckets[b] = w.buckets[b][:0]
		for _, e := range entries {
			if e.gen != e.s.timerGen.Load() {
				continue
			}
			if e.s.timerAt.Load() > nowMS {
				w.buckets[b] = append(w.buckets[b], e) // due on a later turn
				continue
			}
			fire(e.s)
			fired++
		}
		clear(entries)
		w.scratch = entries[:0]
	}
	return false
}

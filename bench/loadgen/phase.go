package loadgen

import (
	"github.com/notify-wss/notify-wss/bench/internal/hist"
	"github.com/notify-wss/notify-wss/bench/internal/wire"
)

// phase is a loop's bookkeeping for one measurement phase. Phase numbers
// start at 1; deliveries of other phases are counted as stray and ignored,
// warm-up messages (phase 0) only mark their client as warm.
type phase struct {
	id    int64
	bcast bool // a room broadcast: every client gets every message
	hist  *hist.Hist
	// Per message ID (broadcast only): first and last delivery time on this
	// loop, and how many clients got it.
	first, last []int64
	count       []int64
	stray       int64 // deliveries of another phase
	side        int64 // deliveries to slow or churn clients (not measured)
	firstNs     int64 // first measured delivery on this loop
	lastNs      int64 // last measured delivery on this loop
}

// beginPhase resets every client's sequence tracking and the loop's phase
// counters. msgs sizes the per-message arrays of a broadcast phase. It
// returns how many of the loop's clients the phase measures.
func (l *loop) beginPhase(id int64, bcast bool, msgs int) (measured int64) {
	if l.ph.hist == nil {
		l.ph.hist = hist.New()
	}
	l.ph.hist.Reset()
	l.ph.id, l.ph.bcast = id, bcast
	l.ph.stray, l.ph.side, l.ph.firstNs, l.ph.lastNs = 0, 0, 0, 0
	l.ph.first, l.ph.last, l.ph.count = nil, nil, nil
	if bcast {
		l.ph.first = make([]int64, msgs)
		l.ph.last = make([]int64, msgs)
		l.ph.count = make([]int64, msgs)
	}
	l.delivered.Store(0)
	for _, c := range l.clients {
		c.next, c.recv, c.dups, c.gaps = 0, 0, 0, 0
		c.measured = c.role == roleStable && !c.slow && c.state == stReady
		if c.measured {
			measured++
		}
	}
	return measured
}

// deliver accounts one benchmark notification received by c at now.
func (l *loop) deliver(c *conn, d wire.Delivery, now int64) {
	if d.Phase == 0 {
		if !c.warm {
			c.warm = true
			if c.role == roleStable {
				l.warmed.Add(1)
			}
		}
		return
	}
	p := &l.ph
	if d.Phase != p.id {
		p.stray++
		return
	}
	if !c.measured {
		p.side++
		return
	}
	p.hist.Record(now - d.SentAt)
	if p.firstNs == 0 {
		p.firstNs = now
	}
	p.lastNs = now
	if p.bcast && d.ID >= 0 && d.ID < int64(len(p.count)) {
		if p.count[d.ID] == 0 {
			p.first[d.ID] = now
		}
		p.count[d.ID]++
		p.last[d.ID] = now
	}
	switch {
	case d.Seq == c.next:
		c.next++
	case d.Seq > c.next:
		c.gaps += d.Seq - c.next
		c.next = d.Seq + 1
	default:
		c.dups++
	}
	c.recv++
	l.delivered.Add(1)
}

// PhaseReport is one loop's, one worker's or the whole run's account of a
// phase; reports merge by adding.
type PhaseReport struct {
	Hist      hist.Snapshot `json:"hist"`
	Delivered int64         `json:"delivered"`
	// Lost counts deliveries that never came: sequence gaps plus messages
	// after a client's last one, over the clients the phase measures (stable,
	// not slow, ready when it began; a client lost later loses the rest).
	Lost        int64 `json:"lost"`
	Dups        int64 `json:"dups"`
	LossClients int64 `json:"lossClients"` // clients with any loss
	Stray       int64 `json:"stray"`
	Side        int64 `json:"side"`
	FirstNs     int64 `json:"firstNs"`
	LastNs      int64 `json:"lastNs"`
	// Per message ID (broadcast phases).
	First []int64 `json:"first,omitempty"`
	Last  []int64 `json:"last,omitempty"`
	Count []int64 `json:"count,omitempty"`
}

// phaseReport closes the books of the current phase. Each measured client is
// expected to have received expectAll messages, or expectPer[idx-base] if
// expectPer is set.
func (l *loop) phaseReport(expectAll int64, expectPer []int32, base int) PhaseReport {
	p := &l.ph
	r := PhaseReport{
		Hist: p.hist.Snapshot(), Delivered: l.delivered.Load(),
		Stray: p.stray, Side: p.side, FirstNs: p.firstNs, LastNs: p.lastNs,
		First: p.first, Last: p.last, Count: p.count,
	}
	for _, c := range l.clients {
		if !c.measured {
			continue
		}
		want := expectAll
		if expectPer != nil {
			if i := c.idx - base; i >= 0 && i < len(expectPer) {
				want = int64(expectPer[i])
			}
		}
		lost := c.gaps + max(want-c.next, 0)
		r.Lost += lost
		r.Dups += c.dups
		if lost > 0 {
			r.LossClients++
		}
	}
	return r
}

// Merge adds o into r.
func (r *PhaseReport) Merge(o PhaseReport) {
	h := hist.New()
	h.MergeSnapshot(r.Hist)
	h.MergeSnapshot(o.Hist)
	r.Hist = h.Snapshot()
	r.Delivered += o.Delivered
	r.Lost += o.Lost
	r.Dups += o.Dups
	r.LossClients += o.LossClients
	r.Stray += o.Stray
	r.Side += o.Side
	if o.FirstNs != 0 && (r.FirstNs == 0 || o.FirstNs < r.FirstNs) {
		r.FirstNs = o.FirstNs
	}
	r.LastNs = max(r.LastNs, o.LastNs)
	if len(o.Count) > 0 {
		if len(r.Count) < len(o.Count) {
			r.First = growTo(r.First, len(o.Count))
			r.Last = growTo(r.Last, len(o.Count))
			r.Count = growTo(r.Count, len(o.Count))
		}
		for i, n := range o.Count {
			if n == 0 {
				continue
			}
			if r.Count[i] == 0 || o.First[i] < r.First[i] {
				r.First[i] = o.First[i]
			}
			r.Last[i] = max(r.Last[i], o.Last[i])
			r.Count[i] += n
		}
	}
}

func growTo(s []int64, n int) []int64 {
	if len(s) >= n {
		return s
	}
	return append(s, make([]int64, n-len(s))...)
}

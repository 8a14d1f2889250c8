package loadgen

import "time"

// churnState drives connect/disconnect cycling on one loop: a new churn
// client is dialled at a fixed rate, and each ready one is closed after hold.
type churnState struct {
	on      bool
	rate    float64 // dials per second on this loop
	hold    time.Duration
	credit  float64
	last    int64 // unix ns of the previous credit update
	starved int64 // dials skipped because no churn slot was free
}

// startChurn begins cycling at rate dials/s, each client staying hold.
func (l *loop) startChurn(rate float64, hold time.Duration) {
	l.churn = churnState{on: true, rate: rate, hold: hold, last: nowNano()}
}

// stopChurn stops cycling and closes every churn client with RST.
func (l *loop) stopChurn() {
	l.churn.on = false
	for _, c := range l.clients {
		if c.role != roleChurn {
			continue
		}
		l.unpend(c)
		c.release(true)
		c.state = stIdle
	}
	l.churnReady = l.churnReady[:0]
	l.churnIdle = l.churnIdle[:0]
	for _, c := range l.clients {
		if c.role == roleChurn {
			l.churnIdle = append(l.churnIdle, c)
		}
	}
}

// churnTick closes churn clients whose hold has passed and dials new ones as
// the rate allows.
func (l *loop) churnTick(now int64) {
	ch := &l.churn
	if !ch.on {
		return
	}
	// Close the ones that stayed long enough (churnReady is in ready order;
	// entries lost meanwhile are already back in churnIdle and are dropped).
	i := 0
	for ; i < len(l.churnReady); i++ {
		c := l.churnReady[i]
		if c.state != stReady {
			continue
		}
		if now-c.readyAt < int64(ch.hold) {
			break
		}
		c.release(false)
		c.state = stIdle
		l.churnIdle = append(l.churnIdle, c)
	}
	l.churnReady = l.churnReady[:copy(l.churnReady, l.churnReady[i:])]

	ch.credit += ch.rate * float64(now-ch.last) / float64(time.Second)
	ch.last = now
	for ch.credit >= 1 {
		ch.credit--
		if len(l.churnIdle) == 0 {
			ch.starved++
			continue
		}
		c := l.churnIdle[len(l.churnIdle)-1]
		l.churnIdle = l.churnIdle[:len(l.churnIdle)-1]
		l.pend(c)
		c.start()
	}
}

package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/notify-wss/notify-wss/bench/internal/hist"
)

// The recovery scenario: clients in the global room receive a paced
// stream while a share of them is cut (TCP reset) every second and comes
// back after a delay with Socket.IO connection state recovery, as
// socket.io-client 4.6+ does: the CONNECT auth carries the pid of the
// CONNECT reply and the offset of the last event received (an event's last
// argument when it is a string). A cut client keeps its sequence tracking,
// so whatever the recovery failed to replay counts as lost, and whatever it
// replayed twice as duplicated. Against a server without recovery (no pid)
// a cut client simply reconnects and rejoins, and loses what was published
// meanwhile.

// cutState drives the cuts on one loop.
type cutState struct {
	on     bool
	share  float64 // of the loop's stable clients, per second
	delay  time.Duration
	until  int64 // unix ns: no cut after this
	credit float64
	last   int64 // unix ns of the previous credit update
	next   int   // round-robin position in l.clients
	stable int   // the loop's stable clients
	redial []*conn

	cuts, recovered, notRecovered int64
	hist                          *hist.Hist // re-dial → CONNECT reply of a recovered client
}

// startCuts begins cutting share of the loop's stable clients per second
// until the unix ns until, each coming back after delay; share 0 stops.
func (l *loop) startCuts(share float64, delay time.Duration, until int64) {
	cs := &l.cut
	if cs.hist == nil {
		cs.hist = hist.New()
	}
	cs.on, cs.share, cs.delay, cs.until, cs.last = share > 0, share, delay, until, nowNano()
	cs.stable = 0
	for _, c := range l.clients {
		if c.role == roleStable {
			cs.stable++
		}
	}
}

// cutTick cuts the clients due and re-dials those whose delay is over.
func (l *loop) cutTick(now int64) {
	cs := &l.cut
	i := 0
	for ; i < len(cs.redial); i++ {
		c := cs.redial[i]
		if now-c.cutAt < int64(cs.delay) {
			break
		}
		l.pend(c)
		c.start()
	}
	cs.redial = cs.redial[:copy(cs.redial, cs.redial[i:])]
	if !cs.on || now > cs.until {
		return
	}
	cs.credit += cs.share * float64(cs.stable) * float64(now-cs.last) / float64(time.Second)
	cs.last = now
	for tries := 0; cs.credit >= 1 && tries < len(l.clients); tries++ {
		c := l.clients[cs.next%len(l.clients)]
		cs.next++
		if c.role != roleStable || c.state != stReady || c.slow {
			continue
		}
		cs.credit--
		l.cutOne(c, now)
	}
}

// cutOne resets c's connection; it re-dials after the delay, recovering.
func (l *loop) cutOne(c *conn, now int64) {
	c.release(true)
	c.state = stIdle
	c.recovering, c.cutAt = true, now
	l.cut.cuts++
	l.cut.redial = append(l.cut.redial, c)
}

// reconnected accounts a cut client's CONNECT reply: recovered when the
// server gave its socket id back.
func (l *loop) reconnected(c *conn, sid []byte, now int64) {
	c.recovering = false
	if c.sid != "" && string(sid) == c.sid {
		l.cut.recovered++
		l.cut.hist.Record(now - c.dialAt)
		return
	}
	l.cut.notRecovered++
}

// connectReply records the sid and pid of a CONNECT reply
// (`40{"sid":"…","pid":"…"}`) and returns the sid.
func (c *conn) connectReply(p []byte) []byte {
	sid := jsonString(p, `"sid":"`)
	if pid := jsonString(p, `"pid":"`); len(pid) > 0 {
		c.pid = string(pid)
		c.sid = string(sid)
	}
	return sid
}

// jsonString returns the string value after key in p (no escapes: ids and
// offsets have none), or nil.
func jsonString(p []byte, key string) []byte {
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return nil
	}
	v := p[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// trailingString returns the last argument of an EVENT packet when it is a
// string (`42["name",{…},"offset"]`): the recovery offset.
func trailingString(p []byte) ([]byte, bool) {
	n := len(p)
	if n < 4 || p[n-1] != ']' || p[n-2] != '"' {
		return nil, false
	}
	i := bytes.LastIndexByte(p[:n-2], '"')
	if i < 1 || p[i-1] != ',' {
		return nil, false
	}
	return p[i+1 : n-2], true
}

// noteOffset keeps the offset an event packet carries, if any.
func (c *conn) noteOffset(p []byte) {
	if c.pid == "" || !c.l.recover {
		return
	}
	if off, ok := trailingString(p); ok {
		c.offset = append(c.offset[:0], off...)
	}
}

// runRecovery: N clients in the global room, PacedMsgs at PacedRate while
// CutShare of them are cut every second and come back after CutDelay.
func runRecovery(ctx context.Context, opt Options, res *Result) error {
	msgs := max(1, int(opt.PacedRate*opt.Duration.Seconds()))
	res.Params["paced_rate"], res.Params["msgs"], res.Params["pad"] = opt.PacedRate, msgs, opt.Pad
	res.Params["cut_share"], res.Params["cut_delay_ms"] = opt.CutShare, ms(opt.CutDelay)
	e, err := setup(ctx, opt, res, Split{Stable: opt.N, Recover: true, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	until := time.Now().Add(time.Duration(float64(msgs)/opt.PacedRate*float64(time.Second)) - opt.CutDelay)
	cut := func(share float64) error {
		_, err := e.co.All(Request{Op: "cut", Rate: share, Hold: opt.CutDelay, Until: until.UnixNano()})
		return err
	}
	if err := cut(opt.CutShare); err != nil {
		return err
	}
	_, phaseErr := e.runPhase(ctx, phaseSpec{name: "recovery", broadcast: true, count: msgs, rate: opt.PacedRate, route: Broadcast})
	if err := cut(0); err != nil {
		return err
	}
	st, err := e.status()
	if err != nil {
		return err
	}
	res.set("recovery.cuts", float64(st.Cuts))
	res.set("recovery.recovered", float64(st.Recovered))
	res.set("recovery.not_recovered", float64(st.NotRecovered))
	if h := histFrom(st.RecoveryHist); h.Count() > 0 {
		res.setLatency("recovery.reconnect", h)
	}
	for _, t := range opt.Targets {
		if v, ok := scrapeGauge(t, "notify_wss_recovery_history_bytes"); ok {
			res.Metrics["recovery.history_mb"] += v / (1 << 20)
		}
	}
	return phaseErr
}

// scrapeGauge reads one unlabelled sample from a server's /metrics.
func scrapeGauge(target, name string) (float64, bool) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + target + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			if _, err := fmt.Sscan(strings.TrimSpace(rest), &v); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

package engine

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// openPollingSession opens a polling session, connects it to "/" and joins
// it to room; it returns the client, the sid and the polling query.
func openPollingSession(t *testing.T, srv *Server, room string) (c *client, sid, q string) {
	t.Helper()
	c = dial(t, srv)
	open := c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "")
	sid = open.body[9:29]
	q = "/socket.io/?EIO=4&transport=polling&sid=" + sid
	if r := c.request("POST", q, "", `40{"token":"ok"}`+"\x1e"+`42["join","`+room+`"]`); r.body != "ok" {
		t.Fatalf("POST %+v", r)
	}
	if r := c.request("GET", q, "", ""); !strings.HasPrefix(r.body, "40{") {
		t.Fatalf("GET %q", r.body)
	}
	return c, sid, q
}

var handoffStepNames = [...]string{"begin", "marked", "adopting", "adopted", "releasing", "released", "finished"}

func (s handoffStep) String() string { return handoffStepNames[s] }

// handoverProbe is the Server.handoffHook of TestUpgradeHandover: at every
// step of the hand-over it broadcasts one message to the session's room,
// and it orders the two loops' steps as the test asks.
type handoverProbe struct {
	t            *testing.T
	srv          *Server
	room         string
	releaseFirst bool // with two loops: release before adopt (else adopt first)

	adopted, released, finished chan struct{}

	mu    sync.Mutex // serializes the broadcasts, so sent is their order
	sent  []*testMessage
	steps []handoffStep
	other bool // the hand-over went from one loop to another
}

func newHandoverProbe(t *testing.T, room string, releaseFirst bool) *handoverProbe {
	return &handoverProbe{
		t: t, room: room, releaseFirst: releaseFirst,
		adopted: make(chan struct{}), released: make(chan struct{}), finished: make(chan struct{}),
	}
}

// broadcast sends one message named label to the room and records it.
func (p *handoverProbe) broadcast(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := newTestMessage(`42["n","` + label + `"]`)
	p.sent = append(p.sent, m)
	p.srv.Broadcast(p.room, m)
}

// await blocks the calling loop until ch is closed: the other loop has
// reached a step. Only ever called with two loops.
func (p *handoverProbe) await(ch chan struct{}, what string) {
	select {
	case <-ch:
	case <-time.After(waitFor):
		p.t.Errorf("the other loop never %s", what)
	}
}

func (p *handoverProbe) hook(step handoffStep, h *handoff) {
	p.mu.Lock()
	p.steps = append(p.steps, step)
	p.other = h.from != h.to
	p.mu.Unlock()
	if h.from != h.to {
		switch {
		case step == handoffAdopting && p.releaseFirst:
			p.await(p.released, "released")
		case step == handoffReleasing && !p.releaseFirst:
			p.await(p.adopted, "adopted")
		}
	}
	p.broadcast(step.String())
	switch step {
	case handoffAdopted:
		close(p.adopted)
	case handoffReleased:
		close(p.released)
	case handoffFinished:
		close(p.finished)
	}
}

// handoverCases are the shapes of a polling→WebSocket hand-over that the
// hand-over tests go through.
var handoverCases = []struct {
	name         string
	loops        int
	otherLoop    bool // the WebSocket lands on another loop than the session
	releaseFirst bool // with otherLoop: the old loop lets go before the new one adopts
}{
	{"one loop", 1, false, false},
	{"same loop of two", 2, false, false},
	{"other loop, adopt first", 2, true, false},
	{"other loop, release first", 2, true, true},
}

// TestUpgradeHandover moves a polling session to a WebSocket while
// broadcasts arrive in every window of the hand-over (upgrade.go): queued
// for polling before "5", and at each step, through Server.handoffHook, on
// the same loop or across two loops in both orders of adopt and release.
// Every broadcast must arrive on the WebSocket exactly once and in order,
// and nothing may be left on (or sent over) the polling transport.
func TestUpgradeHandover(t *testing.T) {
	for _, tt := range handoverCases {
		t.Run(tt.name, func(t *testing.T) {
			probe := newHandoverProbe(t, "r", tt.releaseFirst)
			srv, _ := startTestServerWith(t, Config{Loops: tt.loops}, func(srv *Server) {
				probe.srv = srv
				srv.handoffHook = probe.hook
			})
			// gnet hands accepted connections to the loops round-robin, so
			// the n-th connection lands on loop n % loops.
			dialed := 0
			next := func() *client { dialed++; return dial(t, srv) }
			dialed++ // openPollingSession's: the session's loop is loop 0
			c, sid, q := openPollingSession(t, srv, probe.room)

			// A parked GET, then the probe: the GET ends with a noop.
			getter := next()
			getter.send([]byte("GET "+q+" HTTP/1.1\r\nHost: x\r\n\r\n"), false)
			waitParked(t, srv, sid)
			if (dialed%tt.loops != 0) != tt.otherLoop {
				next() // shift the WebSocket onto the wanted loop
			}
			ws := next()
			ws.send([]byte("GET /socket.io/?EIO=4&transport=websocket&sid="+sid+" HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), false)
			if r := ws.readResponse(); r.status != 101 {
				t.Fatalf("upgrade: %+v", r)
			}
			ws.sendText("2probe")
			if r := ws.readText(); r != "3probe" {
				t.Fatalf("probe answer %q", r)
			}
			if r := getter.readResponse(); r.body != "6" {
				t.Fatalf("parked GET ended with %q, want the noop", r.body)
			}

			// Polling is paused, as a client does before "5": this one
			// waits in the polling queue and moves with the session.
			probe.broadcast("before 5")
			ws.sendText("5")
			select {
			case <-probe.finished:
			case <-time.After(waitFor):
				t.Fatal("the hand-over did not finish")
			}
			probe.broadcast("after")

			probe.mu.Lock()
			sent, steps, other := probe.sent, probe.steps, probe.other
			probe.mu.Unlock()
			if other != tt.otherLoop {
				t.Fatalf("hand-over across loops: %v, want %v (round-robin placement assumed)", other, tt.otherLoop)
			}
			if len(steps) != int(handoffFinished)+1 {
				t.Fatalf("steps %v, want each step once", steps)
			}
			for _, m := range sent {
				if r := ws.readText(); r != string(m.packet) {
					t.Fatalf("got %q, want %q (sent in this order: %v)", r, m.packet, sent)
				}
			}
			// The next frame is the ack: nothing was duplicated after the
			// last broadcast either.
			ws.sendText(`421["join","r2"]`)
			if r := ws.readText(); r != `431["joined"]` {
				t.Fatalf("after the broadcasts: %q, want the ack", r)
			}
			for _, m := range sent {
				waitReleased(t, m)
			}

			// Nothing was left for, or sent over, the polling transport.
			ss := srv.lookupSession(sid)
			if ss == nil {
				t.Fatal("the session's sid is gone")
			}
			ss.poll.mu.Lock()
			left, upgraded := string(ss.poll.out), ss.poll.upgraded
			ss.poll.mu.Unlock()
			if left != "" || !upgraded {
				t.Fatalf("polling queue %q, upgraded %v", left, upgraded)
			}
			if r := c.request("GET", q, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":3`) {
				t.Fatalf("polling after upgrade: %+v", r)
			}
			if st := srv.Stats(); st.WebSocket != 1 || st.Polling != 0 {
				t.Fatalf("transports %+v", st)
			}
		})
	}
}

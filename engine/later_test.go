package engine

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// demandLog records Config.RoomDemand calls.
type demandLog struct {
	mu    sync.Mutex
	calls []string // "+room" or "-room"
}

func (d *demandLog) record(room string, wanted bool) {
	sign := "-"
	if wanted {
		sign = "+"
	}
	d.mu.Lock()
	d.calls = append(d.calls, sign+room)
	d.mu.Unlock()
}

func (d *demandLog) get() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// waitCalls waits until the log is want.
func (d *demandLog) waitCalls(t *testing.T, want ...string) {
	t.Helper()
	eventually(t, "RoomDemand calls "+strings.Join(want, " "), func() bool { return slices.Equal(d.get(), want) })
}

// TestRoomDemand: RoomDemand hears of a room's first member on the server
// and of its last one leaving, not of the members in between, whichever
// loops they are on; rooms of other namespaces carry their namespace.
func TestRoomDemand(t *testing.T) {
	var log demandLog
	srv, _ := startTestServer(t, Config{Loops: 2, Namespaces: []string{"/", "/admin"}, RoomDemand: log.record})
	// Round-robin: a on loop 0, b on loop 1.
	a, b := connectSocket(t, srv), connectSocket(t, srv)
	join := func(c *client, room string) {
		c.sendText(`421["join","` + room + `"]`)
		if r := c.readText(); r != `431["joined"]` {
			t.Fatalf("join ack %q", r)
		}
	}
	join(a, "r")
	log.waitCalls(t, "+r")
	join(b, "r")
	join(a, "r") // already in it
	join(b, "s")
	log.waitCalls(t, "+r", "+s")

	a.sendText(`42["bye"]`) // a leaves r by disconnecting; b is still in it
	a.expectClose()
	join(b, "t") // b's loop has handled everything before: no "-r" so far
	log.waitCalls(t, "+r", "+s", "+t")

	b.c.Close()
	eventually(t, "b's rooms to be left", func() bool { return len(log.get()) == 6 })
	if got := log.get(); !slices.Equal(got[:3], []string{"+r", "+s", "+t"}) || !sameSet(got[3:], []string{"-r", "-s", "-t"}) {
		t.Fatalf("calls %v", got)
	}

	c := dial(t, srv)
	c.openWS(false)
	c.sendText(`40/admin,{"token":"ok"}`)
	if r := c.readText(); !strings.HasPrefix(r, `40/admin,{"sid"`) {
		t.Fatalf("CONNECT /admin reply %q", r)
	}
	c.readText() // hello
	c.sendText(`42/admin,["join","r"]`)
	eventually(t, "the /admin room", func() bool { return slices.Contains(log.get(), "+/admin\x00r") })
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestLater: a task from another goroutine runs on the socket's loop and
// may write to it; a socket gone by then gets nothing.
func TestLater(t *testing.T) {
	sockets := make(chan *Socket, 2)
	srv, _ := startTestServerWith(t, Config{Loops: 1}, func(srv *Server) {
		srv.handler.(*testHandler).connected = func(s *Socket) { sockets <- s }
	})
	a := connectSocket(t, srv)
	sa := <-sockets
	b := connectSocket(t, srv)
	sb := <-sockets

	sa.Later(func() { _ = sa.Emit("later", "a") })
	if r := a.readText(); r != `42["later","a"]` {
		t.Fatalf("got %q", r)
	}

	b.sendText(`42["bye"]`)
	b.expectClose()
	var ran atomic.Bool
	sb.Later(func() { ran.Store(true) })
	// One loop: once a later task queued after it has run, b's was handled.
	sa.Later(func() { _ = sa.Emit("later", "after b") })
	if r := a.readText(); r != `42["later","after b"]` {
		t.Fatalf("got %q", r)
	}
	if ran.Load() {
		t.Fatal("a task ran for a disconnected socket")
	}
}

// TestLaterDuringHandover calls Socket.Later at every step of a polling
// session's move to its WebSocket (and once before it), on one loop and
// across two in both orders: each task must run once, on the loop that
// owns the session by then, and what it emits must arrive on the
// WebSocket. RoomDemand must not hear of the move.
func TestLaterDuringHandover(t *testing.T) {
	for _, tt := range handoverCases {
		t.Run(tt.name, func(t *testing.T) {
			var demand demandLog
			sockets := make(chan *Socket, 1)
			probe := newHandoverProbe(t, "r", tt.releaseFirst)
			var sock atomic.Pointer[Socket]
			var mu sync.Mutex
			ran := map[string]int{}
			later := func(label string) {
				s := sock.Load()
				s.Later(func() {
					mu.Lock()
					ran[label]++
					mu.Unlock()
					_ = s.Emit("later", label)
				})
			}
			srv, _ := startTestServerWith(t, Config{Loops: tt.loops, RoomDemand: demand.record}, func(srv *Server) {
				probe.srv = srv
				srv.handler.(*testHandler).connected = func(s *Socket) { sockets <- s }
				srv.handoffHook = func(step handoffStep, h *handoff) {
					probe.hook(step, h)
					later(step.String())
				}
			})
			dialed := 1 // openPollingSession's connection is on loop 0
			_, sid, _ := openPollingSession(t, srv, probe.room)
			sock.Store(<-sockets)
			if (dialed%tt.loops != 0) != tt.otherLoop {
				dial(t, srv) // shift the WebSocket onto the wanted loop
			}
			ws := dial(t, srv)
			ws.send([]byte("GET /socket.io/?EIO=4&transport=websocket&sid="+sid+" HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), false)
			if r := ws.readResponse(); r.status != 101 {
				t.Fatalf("upgrade: %+v", r)
			}
			ws.sendText("2probe")
			if r := ws.readText(); r != "3probe" {
				t.Fatalf("probe answer %q", r)
			}
			later("before 5")
			ws.sendText("5")
			select {
			case <-probe.finished:
			case <-time.After(waitFor):
				t.Fatal("the hand-over did not finish")
			}
			later("after")

			want := append([]string{"before 5"}, handoffStepNames[:]...)
			want = append(want, "after")
			got := map[string]int{}
			// The broadcasts of the probe come too; "before 5" may have
			// been emitted on polling before the move, and then comes
			// with the polling leftovers.
			for n := 0; n < len(want); {
				r := ws.readText()
				if label, ok := strings.CutPrefix(r, `42["later","`); ok {
					got[strings.TrimSuffix(label, `"]`)]++
					n++
				}
			}
			for _, label := range want {
				if got[label] != 1 {
					t.Errorf("%q arrived %d times on the WebSocket (all: %v)", label, got[label], got)
				}
			}
			mu.Lock()
			for _, label := range want {
				if ran[label] != 1 {
					t.Errorf("task %q ran %d times", label, ran[label])
				}
			}
			mu.Unlock()
			if calls := demand.get(); !slices.Equal(calls, []string{"+r"}) {
				t.Errorf("RoomDemand calls %v, want just +r", calls)
			}
		})
	}
}

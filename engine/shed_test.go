package engine

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Back-pressure: a loop's queue is bounded and sheds its oldest broadcasts,
// and a loop whose readers fall behind waits for them instead of burying
// them in their outbound buffers. These tests keep the loop busy in ways
// the test controls, so they do not depend on how fast anything runs.

// holdLoop keeps the loop of shard 0 busy inside a task until the returned
// function is called (also called at cleanup).
func holdLoop(t *testing.T, srv *Server) (release func()) {
	t.Helper()
	sh := (*srv.shards.Load())[0]
	entered, done := make(chan struct{}), make(chan struct{})
	sh.run(func() { close(entered); <-done })
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop never ran the holding task")
	}
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(release)
	return release
}

// floodMessage is broadcast i of a flood, pad bytes of filler.
func floodMessage(i, pad int) *testMessage {
	return newTestMessage(`42["n",` + strconv.Itoa(i) + `,"` + strings.Repeat("x", pad) + `"]`)
}

// floodID returns the i of a floodMessage packet, or -1.
func floodID(packet string) int {
	rest, ok := strings.CutPrefix(packet, `42["n",`)
	if !ok {
		return -1
	}
	num, _, _ := strings.Cut(rest, ",")
	i, err := strconv.Atoi(num)
	if err != nil {
		return -1
	}
	return i
}

// joinRoom joins c to room and reads the ack.
func joinRoom(t *testing.T, c *client, room string) {
	t.Helper()
	c.sendText(`421["join","` + room + `"]`)
	if r := c.readText(); r != `431["joined"]` {
		t.Fatalf("join ack %q", r)
	}
}

// TestFloodShedsOldestWithinCaps publishes while the loop is busy: the
// queue never holds more than its caps, the oldest broadcasts are shed and
// counted, every message is released exactly once, and the member gets the
// newest ones in order.
func TestFloodShedsOldestWithinCaps(t *testing.T) {
	const published, pad = 500, 100
	frame := len(floodMessage(published, pad).frame) // the longest id: an upper bound
	for _, tc := range []struct {
		name             string
		maxMsgs, maxByte int
		kept             int
	}{
		{"message cap", 40, 1 << 20, 40},
		{"byte cap", 1000, 25 * frame, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := startTestServer(t, Config{Loops: 1, MaxQueueMessages: tc.maxMsgs, MaxQueueBytes: tc.maxByte, MaxQueueAge: -1})
			c := connectSocket(t, srv)
			joinRoom(t, c, "r")
			release := holdLoop(t, srv)

			msgs := make([]*testMessage, published)
			for i := range msgs {
				msgs[i] = floodMessage(i, pad)
				srv.Broadcast("r", msgs[i])
				if n, b := srv.Queued(); n > tc.maxMsgs || b > tc.maxByte {
					t.Fatalf("after %d broadcasts the queue holds %d (%d bytes), caps %d and %d", i+1, n, b, tc.maxMsgs, tc.maxByte)
				}
			}
			n := srv.Counters()
			if n.Shed != published-uint64(tc.kept) || n.ShedStale != 0 {
				t.Fatalf("shed %d (stale %d), want %d", n.Shed, n.ShedStale, published-tc.kept)
			}
			var shedBytes uint64
			for _, m := range msgs[:published-tc.kept] {
				shedBytes += uint64(len(m.frame))
			}
			if n.ShedBytes != shedBytes {
				t.Fatalf("shed bytes %d, want %d", n.ShedBytes, shedBytes)
			}
			release()

			for want := published - tc.kept; want < published; want++ {
				if got := floodID(c.readText()); got != want {
					t.Fatalf("received broadcast %d, want %d", got, want)
				}
			}
			srv.Broadcast("r", newTestMessage(`42["after"]`))
			if r := c.readText(); r != `42["after"]` {
				t.Fatalf("after the flood: %.40q", r)
			}
			for _, m := range msgs {
				waitReleased(t, m)
			}
			// The loop counts after writing: wait for it.
			eventually(t, "delivered + shed == published", func() bool {
				n := srv.Counters()
				return n.Deliveries+n.Shed == published+1
			})
		})
	}
}

// TestStaleBroadcastsAreShed: broadcasts that waited in the queue longer
// than MaxQueueAge are dropped when the loop comes to them.
func TestStaleBroadcastsAreShed(t *testing.T) {
	const age = 20 * time.Millisecond
	srv, _ := startTestServer(t, Config{Loops: 1, MaxQueueAge: age})
	c := connectSocket(t, srv)
	joinRoom(t, c, "r")
	release := holdLoop(t, srv)
	msgs := make([]*testMessage, 10)
	for i := range msgs {
		msgs[i] = floodMessage(i, 10)
		srv.Broadcast("r", msgs[i])
	}
	// Wait on the server's own clock until every one of them is too old.
	for stale := srv.nowMS() + age.Milliseconds() + 1; srv.nowMS() <= stale; {
		time.Sleep(time.Millisecond)
	}
	release()
	srv.Broadcast("r", newTestMessage(`42["fresh"]`))
	if r := c.readText(); r != `42["fresh"]` {
		t.Fatalf("got %.40q, want the fresh broadcast first", r)
	}
	for _, m := range msgs {
		waitReleased(t, m)
	}
	eventually(t, "one delivered", func() bool { return srv.Counters().Deliveries == 1 })
	if n := srv.Counters(); n.Shed != 10 || n.ShedStale != 10 {
		t.Fatalf("shed %d, stale %d; want 10, 10", n.Shed, n.ShedStale)
	}
}

// TestFloodPacesReadersInsteadOfCuttingThem: when most members of a loop
// fall behind together, the loop stops writing ahead of them and sheds
// from its queue instead; before this, every one of them was cut as a slow
// consumer. When they read again, each gets the same newest broadcasts, in
// order, and delivered + shed adds up to what was published.
func TestFloodPacesReadersInsteadOfCuttingThem(t *testing.T) {
	const (
		readers   = 2 * minCongested
		published = 2000
		pad       = 2 << 10
	)
	srv, _ := startTestServer(t, Config{Loops: 1, MaxOutbound: 256 << 10, SocketSendBuffer: 16 << 10,
		MaxQueueMessages: 64, MaxQueueAge: -1})
	// Small receive windows, so the kernel cannot hide the backlogs.
	clients := make([]*client, readers)
	for i := range clients {
		c := connectClient(t, dialSmallWindow(t, srv))
		joinRoom(t, c, "r")
		clients[i] = c
	}

	// 4 MB to every reader, none of which reads: 16 times MaxOutbound.
	msgs := make([]*testMessage, published)
	for i := range msgs {
		msgs[i] = floodMessage(i, pad)
		srv.Broadcast("r", msgs[i])
	}
	if n := srv.Counters(); n.SlowConsumers != 0 || n.Shed == 0 {
		t.Fatalf("after the flood: %d slow consumers cut, %d broadcasts shed; want 0 cut and some shed", n.SlowConsumers, n.Shed)
	}

	// Everybody reads again, up to the last broadcast (the newest is
	// never shed).
	got := make([]int, readers)
	var wg sync.WaitGroup
	for k, c := range clients {
		wg.Go(func() {
			_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
			last := -1
			for last < published-1 {
				op, p := c.readFrame()
				if op != 1 || p == "2" { // text frames only; skip pings
					continue
				}
				id := floodID(p)
				if id <= last {
					t.Errorf("reader %d: broadcast %d after %d", k, id, last)
					return
				}
				last = id
				got[k]++
			}
		})
	}
	wg.Wait()
	n := srv.Counters()
	for k, g := range got {
		if uint64(g)+n.Shed != published {
			t.Fatalf("reader %d got %d, shed %d: %d published", k, g, n.Shed, published)
		}
	}
	if n.SlowConsumers != 0 {
		t.Fatalf("%d slow consumers cut", n.SlowConsumers)
	}
	for _, m := range msgs {
		waitReleased(t, m)
	}
}

package engine

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/notify-wss/notify-wss/rooms"
)

// shard is everything one event loop owns: its sockets' slots, their room
// memberships, the queue of broadcasts waiting for the loop, its timers and
// scratch buffers. Only the loop touches a shard, except enqueue (any
// goroutine) and the counters (atomic).
type shard struct {
	srv  *Server
	loop gnet.EventLoop
	idx  int

	slots   rooms.Slots
	members []member // by slot
	rooms   *rooms.Index
	timers  timerWheel

	qmu       sync.Mutex
	queue     []queued // broadcasts waiting for drain
	spare     []queued // the other half of the double buffer, drain-owned
	scheduled atomic.Bool
	ticking   atomic.Bool
	behind    atomic.Bool // the last timer task stopped at timerBatch with sessions still due

	// httpConns are the plain HTTP connections, with when each was last
	// active (server ms), swept for idleness once a second.
	httpConns map[*conn]int64
	httpPeak  int // the map's largest size since it was last rebuilt
	nextSweep int64

	drainTask gnet.Runnable
	tickTask  gnet.Runnable
	fireTimer func(*session) // session.onTimer, bound once

	batchConn *conn  // the connection whose traffic is being handled
	batchBuf  []byte // what it is answered, written once at the end

	wbuf     []byte  // scratch for one outgoing frame
	pbuf     []byte  // scratch for one outgoing packet
	runBuf   []byte  // concatenated frames of a run of broadcasts
	slotsBuf []int32 // snapshot of a room's members
	corsBuf  []byte  // CORS headers of the request being answered
	hdrBuf   []byte  // extra headers of a response
	bodyBuf  []byte  // body of a polling response
	jsonBuf  []byte  // scratch for small JSON bodies
	resp     Response

	counters loopCounters
}

// member is what a loop knows of one socket in its rooms: where to write.
type member struct {
	sock *Socket
	ws   *conn // the WebSocket to write to; nil while the session polls
	// holding: the session is moving onto this loop's WebSocket and
	// broadcasts wait in pollState.held until the old loop has let go.
	holding bool
}

// queued is one broadcast waiting for a loop, or a hand-over marker of a
// session upgrading from polling to WebSocket (see upgrade.go).
type queued struct {
	room    string
	msg     Message
	handoff *handoff
	release bool // the handoff marker is "release" (else "adopt")
}

// drainBatch bounds how many queued broadcasts one drain writes; the rest
// are picked up by the next drain.
const drainBatch = 256

func newShard(srv *Server, loop gnet.EventLoop, idx int) *shard {
	sh := &shard{srv: srv, loop: loop, idx: idx, rooms: rooms.NewIndex(), httpConns: make(map[*conn]int64)}
	sh.timers.init(srv.nowMS(), srv.fineTick.Milliseconds())
	sh.drainTask = gnet.RunnableFunc(func(context.Context) error { sh.drain(); return nil })
	sh.tickTask = gnet.RunnableFunc(func(context.Context) error { sh.onTick(); return nil })
	sh.fireTimer = func(ss *session) { ss.onTimer() }
	return sh
}

// enqueue queues a broadcast (or a handoff marker) for this loop. Safe from
// any goroutine.
func (sh *shard) enqueue(room string, m Message, h *handoff, release bool) {
	sh.qmu.Lock()
	sh.queue = append(sh.queue, queued{room, m, h, release})
	wake := !sh.scheduled.Load()
	if wake {
		sh.scheduled.Store(true)
	}
	sh.qmu.Unlock()
	if wake {
		if err := sh.loop.Execute(context.Background(), sh.drainTask); err != nil {
			// The engine is shutting down: nobody will drain.
			sh.qmu.Lock()
			batch := sh.queue
			sh.queue = nil
			sh.qmu.Unlock()
			for _, q := range batch {
				if q.msg != nil {
					q.msg.Release()
				}
			}
		}
	}
}

// drain writes queued broadcasts. Runs on the loop. Consecutive broadcasts
// to the same room are coalesced: their frames are concatenated once and
// written to each member with one write. One drain writes at most
// drainBatch broadcasts and about a quarter of MaxOutbound per member, then
// queues the next drain. gnet runs that one in the same pass of its task
// queue, before the next epoll_wait, so the bounds limit the work of one
// task, not the time between reads; what keeps a burst from making a
// reader that keeps up look like a slow consumer is writeShared flushing a
// backlog before it judges it.
func (sh *shard) drain() {
	budget := sh.srv.cfg.MaxOutbound / 4
	sh.qmu.Lock()
	k, size := 0, 0
	for k < len(sh.queue) && k < drainBatch && (k == 0 || size < budget) {
		if m := sh.queue[k].msg; m != nil {
			size += len(m.Frame())
		}
		k++
	}
	batch := sh.queue[:k]
	sh.queue = append(sh.spare[:0], sh.queue[k:]...)
	sh.qmu.Unlock()

	var delivered, bytes uint64
	for i := 0; i < len(batch); {
		if h := batch[i].handoff; h != nil {
			sh.onHandoffMarker(h, batch[i].release)
			i++
			continue
		}
		j := i + 1
		for j < len(batch) && batch[j].handoff == nil && batch[j].room == batch[i].room {
			j++
		}
		d, b := sh.deliverRun(batch[i:j])
		delivered += d
		bytes += b
		if d > 0 && sh.srv.cfg.OnWritten != nil {
			for _, q := range batch[i:j] {
				sh.srv.cfg.OnWritten(q.msg)
			}
		}
		i = j
	}
	for k := range batch {
		if batch[k].msg != nil {
			batch[k].msg.Release()
		}
		batch[k] = queued{}
	}
	sh.counters.Deliveries.Add(delivered)
	sh.counters.BytesWritten.Add(bytes)

	sh.qmu.Lock()
	sh.spare = batch[:0]
	more := len(sh.queue) > 0
	if !more {
		sh.scheduled.Store(false)
	}
	sh.qmu.Unlock()
	if more {
		_ = sh.loop.Execute(context.Background(), sh.drainTask)
	}
}

// deliverRun writes a run of broadcasts to the same room to its local
// members, and returns the deliveries and bytes written.
func (sh *shard) deliverRun(run []queued) (delivered, written uint64) {
	set := sh.rooms.Get(run[0].room)
	if set == nil {
		return 0, 0
	}
	frames := run[0].msg.Frame()
	if len(run) > 1 { // coalesce: one write per member for the whole run
		sh.runBuf = sh.runBuf[:0]
		for _, q := range run {
			sh.runBuf = append(sh.runBuf, q.msg.Frame()...)
		}
		frames = sh.runBuf
	}
	// Closing a slow consumer changes the set, so walk a snapshot when
	// anything may be closed; in the common case nothing is.
	sh.slotsBuf = set.AppendTo(sh.slotsBuf[:0])
	for _, slot := range sh.slotsBuf {
		m := &sh.members[slot]
		switch {
		case m.sock == nil:
			continue
		case m.ws != nil:
			if !m.ws.writeShared(frames) {
				continue
			}
			written += uint64(len(frames))
		case m.holding:
			p := m.sock.sess.poll // holding: a polling session moving here
			p.held = append(p.held, frames...)
		default:
			for _, q := range run {
				m.sock.sess.queuePolling(q.msg.Packet())
			}
		}
		delivered += uint64(len(run))
	}
	return delivered, written
}

// scheduleTick asks the loop to run its timers, unless a tick is still
// pending. Safe from any goroutine.
func (sh *shard) scheduleTick() {
	if sh.ticking.CompareAndSwap(false, true) {
		if err := sh.loop.Execute(context.Background(), sh.tickTask); err != nil {
			sh.ticking.Store(false)
		}
	}
}

// timerBatch bounds the sessions one timer task handles (pings are a
// write each, a few µs) before the loop gets back to reads and deliveries.
// The rest wait for the next tick, which comes after catchUpTick while any
// loop is behind. Re-queueing the task at once would not yield: gnet runs
// tasks queued by a task in the same pass, before the next epoll_wait. Without
// the bound, the pings of every client that connected in the same second
// go out in one stall (after a reconnect storm, every 25 s).
const timerBatch = 256

func (sh *shard) onTick() {
	sh.ticking.Store(false)
	now := sh.srv.nowMS()
	sh.behind.Store(sh.timers.advance(now, timerBatch, sh.fireTimer))
	if now >= sh.nextSweep {
		sh.nextSweep = now + httpSweepPeriod
		sh.sweepIdleHTTP(now)
	}
}

// httpSweepPeriod is how often idle HTTP connections are looked for (ms).
const httpSweepPeriod = 1000

// sweepIdleHTTP closes plain HTTP connections idle for HTTPIdleTimeout.
// A connection holding a long-poll is the session's business, not idle.
func (sh *shard) sweepIdleHTTP(now int64) {
	limit := sh.srv.cfg.HTTPIdleTimeout.Milliseconds()
	for cn, last := range sh.httpConns {
		if cn.parked == nil && now-last >= limit {
			delete(sh.httpConns, cn)
			cn.closeHTTP()
		}
	}
	// A Go map keeps its peak size: after a connection storm, rebuild it
	// so that idle WebSocket connections do not pay for it.
	if n := len(sh.httpConns); n < sh.httpPeak/4 {
		fresh := make(map[*conn]int64, n)
		maps.Copy(fresh, sh.httpConns)
		sh.httpConns = fresh
		sh.httpPeak = n
	}
}

// trackHTTP records activity on a plain HTTP connection.
func (sh *shard) trackHTTP(cn *conn) {
	sh.httpConns[cn] = sh.srv.nowMS()
	sh.httpPeak = max(sh.httpPeak, len(sh.httpConns))
}

// closeAll closes every session of this loop for shutdown.
func (sh *shard) closeAll() {
	// Sessions with sockets are found through this loop's members; polling
	// ones through the sid table. A WebSocket that has not sent CONNECT
	// yet is closed by the loops stopping.
	var sessions []*session
	for _, m := range sh.members {
		if m.sock != nil && (len(sessions) == 0 || sessions[len(sessions)-1] != m.sock.sess) {
			sessions = append(sessions, m.sock.sess)
		}
	}
	sessions = append(sessions, sh.srv.pollingSessionsOf(sh)...)
	for _, ss := range sessions {
		ss.shutdown() // closing twice is a no-op
	}
}

// allocSlot gives sock a slot on this loop; ws is its WebSocket, nil
// while it polls.
func (sh *shard) allocSlot(sock *Socket, ws *conn) {
	slot := sh.slots.Alloc()
	m := member{sock: sock, ws: ws}
	if int(slot) == len(sh.members) {
		sh.members = append(sh.members, m)
	} else {
		sh.members[slot] = m
	}
	sock.slot = slot
}

// freeSlot releases a slot of this loop.
func (sh *shard) freeSlot(slot int32) {
	sh.members[slot] = member{}
	sh.slots.Free(slot)
}

// join adds sock to room on this loop.
func (sh *shard) join(room string, sock *Socket) {
	added, first := sh.rooms.Join(room, sock.slot)
	if first {
		sh.srv.markRoom(room, sh.idx, true)
	}
	if added {
		sh.counters.Joins.Add(1)
	}
}

// leave removes sock from room on this loop.
func (sh *shard) leave(room string, sock *Socket) {
	removed, last := sh.rooms.Leave(room, sock.slot)
	if last {
		sh.srv.markRoom(room, sh.idx, false)
	}
	if removed {
		sh.counters.Leaves.Add(1)
	}
}

// loopCounters are cumulative per-loop counters, gathered on scrape. Each
// loop adds to its own once per batch, never per delivery.
type loopCounters struct {
	Accepted      atomic.Uint64 // TCP connections accepted
	Deliveries    atomic.Uint64 // broadcast packets handed to members
	BytesWritten  atomic.Uint64 // broadcast bytes written to WebSocket members
	SlowConsumers atomic.Uint64 // connections closed for exceeding MaxOutbound
	Joins         atomic.Uint64 // room joins
	Leaves        atomic.Uint64 // room leaves
	AuthFailures  atomic.Uint64 // CONNECT refused by the handler
}

// Counters is a snapshot of the loops' cumulative counters, and of the
// acceptor's Shed: connections answered 503 and closed at once because the
// process was out of descriptors (not counted in Accepted).
type Counters struct {
	Accepted, Deliveries, BytesWritten, SlowConsumers, Joins, Leaves, AuthFailures uint64
	Shed                                                                           uint64
}

func (c *Counters) add(o *loopCounters) {
	c.Accepted += o.Accepted.Load()
	c.Deliveries += o.Deliveries.Load()
	c.BytesWritten += o.BytesWritten.Load()
	c.SlowConsumers += o.SlowConsumers.Load()
	c.Joins += o.Joins.Load()
	c.Leaves += o.Leaves.Load()
	c.AuthFailures += o.AuthFailures.Load()
}

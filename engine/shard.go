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
	queue     broadcastQueue // broadcasts waiting for drain, under qmu
	batch     []queued       // what one drain writes, drain-owned
	scheduled atomic.Bool    // a drain is queued, running or waiting
	ticking   atomic.Bool
	behind    atomic.Bool // the last timer task stopped at timerBatch with sessions still due
	waiting   atomic.Bool // the drain waits for backlogged members; the next tick resumes it

	// Pacing, loop-owned: when the last drain left too many members with
	// a backlog (congestedShare), the next one waits for them, at most
	// maxPause after that drain (server ms), and drains write at most
	// pacedBudget per member until the queue is empty again.
	congested   bool
	congestedAt int64
	paced       bool
	wrote       int // WebSocket members written by the current drain
	backlogged  int // of those, the ones left with a backlog
	shedLogged  uint64
	nextShedLog int64

	// httpConns are the plain HTTP connections, with when each was last
	// active (server ms), swept for idleness once a second.
	httpConns map[*conn]int64
	httpPeak  int // the map's largest size since it was last rebuilt
	nextSweep int64

	drainTask gnet.Runnable
	tickTask  gnet.Runnable
	fireTimer func(*session) // session.onTimer, bound once

	drainCursor int // the next slot closeSome looks at

	batchConn *conn  // the connection whose traffic is being handled
	batchBuf  []byte // what it is answered, written once at the end

	wbuf       []byte  // scratch for one outgoing frame
	pbuf       []byte  // scratch for one outgoing packet
	runBuf     []byte  // concatenated frames of a run of broadcasts
	zrunBuf    []byte  // the same, compressed where a frame is (deflate members)
	inflateBuf []byte  // a compressed client message, inflated
	slotsBuf   []int32 // snapshot of a room's members
	corsBuf    []byte  // CORS headers of the request being answered
	hdrBuf     []byte  // extra headers of a response
	bodyBuf    []byte  // body of a polling response
	jsonBuf    []byte  // scratch for small JSON bodies
	resp       Response

	maskBuf []uint64 // a BroadcastTo's members, one bit per slot (multicast.go)

	counters loopCounters
}

// member is what a loop knows of one socket in its rooms: where to write.
type member struct {
	sock *Socket
	ws   *conn // the WebSocket to write to; nil while the session polls
	// holding: the session is moving onto this loop's WebSocket and
	// broadcasts wait in pollState.held until the old loop has let go.
	holding bool
	// muted: the socket is recovering (Socket.Mute): broadcasts skip it.
	muted bool
}

// queued is one broadcast waiting for a loop, or a marker: a hand-over
// marker of a session upgrading from polling to WebSocket (see
// upgrade.go), or a task for a socket (Socket.Later, later.go).
type queued struct {
	room    string
	msg     Message
	handoff *handoff
	later   *laterTask
	release bool  // the handoff marker is "release" (else "adopt")
	at      int64 // when it was queued (server ms), for MaxQueueAge

	multi *multiTarget // a broadcast to several rooms (multicast.go); room is then ""
}

// marker reports whether q is a marker rather than a broadcast.
func (q *queued) marker() bool { return q.msg == nil }

const (
	// drainBatch bounds how many queued broadcasts one drain writes; the
	// rest are picked up by the next drain.
	drainBatch = 256
	// congestedShare: a drain that leaves a backlog (bytes the kernel did
	// not take) on more than one in congestedShare of the members it wrote
	// to has outrun its readers. The next drain waits until that is no
	// longer so, and meanwhile the queue absorbs the flood and sheds its
	// oldest broadcasts. A smaller share of backlogged members (a few
	// stalled readers) does not hold the others back: they are cut at
	// MaxOutbound, as before; so are the backlogged members of a small
	// loop, fewer than minCongested: a room of a few stalled readers is a
	// case for disconnecting them, not for making their neighbours wait.
	congestedShare = 8
	minCongested   = 8
	// maxPause bounds how long (ms) a drain waits for backlogged members
	// after the last write: a loop whose members all stopped reading
	// still writes once in a while, so they reach MaxOutbound and are cut
	// instead of holding the loop. It is several times what a reader that
	// takes a few hundred notifications a second needs for pacedBudget.
	maxPause = 1000
	// pacedBudget bounds the bytes one drain writes to a member while the
	// loop is pacing its readers, so what waits in a member's outbound
	// buffer stays small next to MaxOutbound and the newest broadcasts go
	// out first.
	pacedBudget = 16 << 10
	// shedLogPeriod is how often (ms) a loop that shed broadcasts says so.
	shedLogPeriod = 10_000
)

func newShard(srv *Server, loop gnet.EventLoop, idx int) *shard {
	sh := &shard{srv: srv, loop: loop, idx: idx, rooms: rooms.NewIndex(), httpConns: make(map[*conn]int64)}
	sh.timers.init(srv.nowMS(), srv.fineTick.Milliseconds())
	sh.drainTask = gnet.RunnableFunc(func(context.Context) error { sh.drain(); return nil })
	sh.tickTask = gnet.RunnableFunc(func(context.Context) error { sh.onTick(); return nil })
	sh.fireTimer = func(ss *session) { ss.onTimer() }
	return sh
}

// enqueue queues a broadcast (or a handoff marker) for this loop. Safe from
// any goroutine, and never waits for the loop: when the queue is over
// MaxQueueMessages or MaxQueueBytes, its oldest broadcasts are shed
// (released and counted), never a marker and never the one just queued.
func (sh *shard) enqueue(room string, m Message, h *handoff, release bool) {
	sh.push(queued{room: room, msg: m, handoff: h, release: release})
}

// push queues e for this loop and wakes it; see enqueue.
func (sh *shard) push(e queued) {
	if e.msg != nil {
		e.at = sh.srv.nowMS()
	}
	cfg := &sh.srv.cfg
	var shed, shedBytes uint64
	sh.qmu.Lock()
	sh.queue.push(e)
	for sh.queue.msgs > 1 && (cfg.MaxQueueMessages > 0 && sh.queue.msgs > cfg.MaxQueueMessages ||
		cfg.MaxQueueBytes > 0 && sh.queue.bytes > cfg.MaxQueueBytes) {
		old, _ := sh.queue.shedOldest()
		shed++
		shedBytes += uint64(old.size())
		old.msg.Release()
	}
	wake := !sh.scheduled.Load()
	if wake {
		sh.scheduled.Store(true)
	}
	sh.qmu.Unlock()
	if shed > 0 {
		sh.counters.Shed.Add(shed)
		sh.counters.ShedBytes.Add(shedBytes)
	}
	if wake {
		if err := sh.loop.Execute(context.Background(), sh.drainTask); err != nil {
			// The engine is shutting down: nobody will drain.
			sh.qmu.Lock()
			for sh.queue.len() > 0 {
				if q := sh.queue.pop(); q.msg != nil {
					q.msg.Release()
				}
			}
			sh.qmu.Unlock()
		}
	}
}

// drain writes queued broadcasts. Runs on the loop. Consecutive broadcasts
// to the same room are coalesced: their frames are concatenated once and
// written to each member with one write. One drain writes at most
// drainBatch broadcasts and about a quarter of MaxOutbound per member
// (pacedBudget while pacing), and sheds on the way the broadcasts older
// than MaxQueueAge. Then, with more queued, it queues the next drain,
// which gnet runs in the same pass of its task queue, before the next
// epoll_wait; so the bounds limit the work of one task, not the time
// between reads, and what keeps a burst from making a reader that keeps up
// look like a slow consumer is writeShared flushing a backlog before it
// judges it. Unless the readers fell behind (congestedShare): then the
// next drain waits for them, resumed by the tick (catchUpTick), and the
// loop gets back to epoll, where gnet flushes the backlogs as the sockets
// take them.
func (sh *shard) drain() {
	cfg := &sh.srv.cfg
	now := sh.srv.nowMS()
	if sh.congested {
		if now-sh.congestedAt < maxPause && sh.stillCongested() {
			sh.waiting.Store(true)
			return
		}
		sh.congested = false
	}
	budget := cfg.MaxOutbound / 4
	if sh.paced {
		budget = min(budget, pacedBudget)
	}
	maxAge := cfg.MaxQueueAge.Milliseconds()
	var stale, staleBytes uint64
	batch := sh.batch[:0]
	sh.qmu.Lock()
	for size := 0; sh.queue.len() > 0 && len(batch) < drainBatch && (len(batch) == 0 || size < budget); {
		q := sh.queue.pop()
		if q.msg != nil && maxAge > 0 && now-q.at > maxAge {
			stale++
			staleBytes += uint64(q.size())
			q.msg.Release()
			continue
		}
		size += q.size()
		batch = append(batch, q)
	}
	sh.qmu.Unlock()
	if stale > 0 {
		sh.counters.Shed.Add(stale)
		sh.counters.ShedStale.Add(stale)
		sh.counters.ShedBytes.Add(staleBytes)
	}

	var delivered, compressed, bytes uint64
	sh.wrote, sh.backlogged = 0, 0
	for i := 0; i < len(batch); {
		if batch[i].marker() {
			if h := batch[i].handoff; h != nil {
				sh.onHandoffMarker(h, batch[i].release)
			} else if t := batch[i].later; t != nil {
				sh.runLater(t)
			}
			i++
			continue
		}
		j := i + 1
		for batch[i].multi == nil && j < len(batch) && !batch[j].marker() && batch[j].multi == nil && batch[j].room == batch[i].room {
			j++
		}
		var d, z, b uint64
		if batch[i].multi != nil {
			d, z, b = sh.deliverMulti(batch[i:j])
		} else {
			d, z, b = sh.deliverRun(batch[i:j])
		}
		delivered += d
		compressed += z
		bytes += b
		if d > 0 && cfg.OnWritten != nil {
			for _, q := range batch[i:j] {
				cfg.OnWritten(q.msg)
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
	sh.batch = batch[:0]
	sh.counters.Deliveries.Add(delivered)
	if compressed > 0 {
		sh.counters.Compressed.Add(compressed)
	}
	sh.counters.BytesWritten.Add(bytes)
	if congested(sh.backlogged, sh.wrote) {
		sh.congested, sh.congestedAt, sh.paced = true, now, true
	}

	sh.qmu.Lock()
	more := sh.queue.len() > 0
	if !more {
		sh.scheduled.Store(false)
	}
	sh.qmu.Unlock()
	switch {
	case !more:
		sh.paced = sh.congested
	case sh.congested:
		sh.waiting.Store(true)
	default:
		_ = sh.loop.Execute(context.Background(), sh.drainTask)
	}
}

// stillCongested reports whether enough of the loop's WebSocket members
// still have a backlog to keep pacing them.
func (sh *shard) stillCongested() bool {
	members, backlogged := 0, 0
	for i := range sh.members {
		if cn := sh.members[i].ws; cn != nil && !cn.closed {
			members++
			if cn.gc.OutboundBuffered() > 0 {
				backlogged++
			}
		}
	}
	return congested(backlogged, members)
}

// congested reports whether backlogged of members are enough to pace the
// loop (congestedShare, minCongested).
func congested(backlogged, members int) bool {
	return backlogged >= minCongested && backlogged*congestedShare > members
}

// deliverRun writes a run of broadcasts to the same room to its local
// members, and returns the deliveries (and, of those, the ones written
// compressed) and bytes written. Members that negotiated permessage-deflate
// get the run's compressed frames, built once for the run on the first
// such member (deflatedRun).
func (sh *shard) deliverRun(run []queued) (delivered, compressed, written uint64) {
	set := sh.rooms.Get(run[0].room)
	if set == nil {
		return 0, 0, 0
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
	return sh.writeSlots(sh.slotsBuf, frames, run)
}

// writeSlots writes frames, the concatenated frames of run, to the
// members in slots (WebSocket members, compressed for those that
// negotiated permessage-deflate; polling ones get run's packets), and
// returns the deliveries (and, of those, the ones written compressed) and
// bytes written.
func (sh *shard) writeSlots(slots []int32, frames []byte, run []queued) (delivered, compressed, written uint64) {
	var zframes []byte // nil until a deflate member needs them
	var zcount uint64  // broadcasts of the run that zframes has compressed
	for _, slot := range slots {
		m := &sh.members[slot]
		switch {
		case m.sock == nil || m.muted:
			continue
		case m.ws != nil:
			out := frames
			if m.ws.deflate {
				if zframes == nil {
					zframes, zcount = sh.deflatedRun(run, frames)
				}
				out = zframes
			}
			if !m.ws.writeShared(out) {
				continue
			}
			if m.ws.deflate {
				compressed += zcount
			}
			written += uint64(len(out))
			sh.wrote++
			if m.ws.gc.OutboundBuffered() > 0 {
				sh.backlogged++
			}
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
	return delivered, compressed, written
}

// deflatedRun returns the frames of a run for the members that negotiated
// permessage-deflate: each broadcast's compressed frame where it has one
// (its packet at least CompressionMinBytes, and smaller compressed), else
// its plain frame; and how many are compressed. plain is the run's plain
// frames, returned as they are when none is compressed.
func (sh *shard) deflatedRun(run []queued, plain []byte) ([]byte, uint64) {
	if len(run) == 1 {
		if z := sh.deflated(run[0].msg); z != nil {
			return z, 1
		}
		return plain, 0
	}
	var n uint64
	sh.zrunBuf = sh.zrunBuf[:0]
	for _, q := range run {
		frame := sh.deflated(q.msg)
		if frame != nil {
			n++
		} else {
			frame = q.msg.Frame()
		}
		sh.zrunBuf = append(sh.zrunBuf, frame...)
	}
	if n == 0 {
		return plain, 0
	}
	return sh.zrunBuf, n
}

// deflated returns m's compressed frame, or nil when it goes plain.
func (sh *shard) deflated(m Message) []byte {
	if d, ok := m.(Deflater); ok && len(m.Packet()) >= sh.srv.cfg.CompressionMinBytes {
		return d.DeflatedFrame()
	}
	return nil
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
	if sh.waiting.Swap(false) {
		sh.drain()
	}
	if now >= sh.nextShedLog {
		sh.nextShedLog = now + shedLogPeriod
		sh.logShed()
	}
}

// logShed logs, at most once per shedLogPeriod, how many broadcasts the
// loop shed since it last did.
func (sh *shard) logShed() {
	n := sh.counters.Shed.Load()
	if n == sh.shedLogged {
		return
	}
	sh.qmu.Lock()
	msgs, bytes := sh.queue.msgs, sh.queue.bytes
	sh.qmu.Unlock()
	sh.srv.log.Warn("broadcasts shed: the loop's readers are slower than the publishers",
		"loop", sh.idx, "shed", n-sh.shedLogged, "shed_total", n, "stale_total", sh.counters.ShedStale.Load(),
		"queued", msgs, "queued_bytes", bytes)
	sh.shedLogged = n
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
	m := member{sock: sock, ws: ws, muted: sock.muted}
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
	Compressed    atomic.Uint64 // of those, written as compressed frames (permessage-deflate)
	Inflated      atomic.Uint64 // compressed client messages inflated
	BytesWritten  atomic.Uint64 // broadcast bytes written to WebSocket members
	SlowConsumers atomic.Uint64 // connections closed for exceeding MaxOutbound
	Shed          atomic.Uint64 // broadcasts dropped from the queue unwritten (caps or age)
	ShedStale     atomic.Uint64 // of those, dropped for MaxQueueAge
	ShedBytes     atomic.Uint64 // their frame bytes
	Joins         atomic.Uint64 // room joins
	Leaves        atomic.Uint64 // room leaves
	AuthFailures  atomic.Uint64 // CONNECT refused by the handler
	// Disconnects counts sessions ended, and sockets disconnected from
	// their namespace while the session went on, by reason.
	Disconnects [NumCloseReasons]atomic.Uint64
}

// Counters is a snapshot of the loops' cumulative counters, and of the
// acceptor's.
type Counters struct {
	Accepted, Deliveries, BytesWritten, SlowConsumers, Joins, Leaves, AuthFailures uint64
	// Compressed counts the deliveries written as permessage-deflate
	// frames, Inflated the compressed client messages read.
	Compressed, Inflated uint64
	// Disconnects is indexed by CloseReason.
	Disconnects [NumCloseReasons]uint64
	// Shed counts broadcasts a loop dropped from its queue without writing
	// them: the oldest ones past MaxQueueMessages or MaxQueueBytes, and
	// those older than MaxQueueAge (also counted in ShedStale). A broadcast
	// is counted once per loop that shed it. ShedBytes are their frames'
	// bytes.
	Shed, ShedStale, ShedBytes uint64
	// AcceptShed counts connections answered 503 and closed at accept
	// because the process was out of descriptors (accept.go; not counted
	// in Accepted).
	AcceptShed uint64
}

func (c *Counters) add(o *loopCounters) {
	c.Accepted += o.Accepted.Load()
	c.Deliveries += o.Deliveries.Load()
	c.Compressed += o.Compressed.Load()
	c.Inflated += o.Inflated.Load()
	c.BytesWritten += o.BytesWritten.Load()
	c.SlowConsumers += o.SlowConsumers.Load()
	c.Joins += o.Joins.Load()
	c.Leaves += o.Leaves.Load()
	c.AuthFailures += o.AuthFailures.Load()
	for r := range c.Disconnects {
		c.Disconnects[r] += o.Disconnects[r].Load()
	}
	c.Shed += o.Shed.Load()
	c.ShedStale += o.ShedStale.Load()
	c.ShedBytes += o.ShedBytes.Load()
}

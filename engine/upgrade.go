package engine

import (
	"github.com/gobwas/ws"

	"github.com/notify-wss/notify-wss/eio"
	"github.com/notify-wss/notify-wss/internal/http1"
)

// Upgrade from polling to WebSocket.
//
// The probing WebSocket may land on any loop Z while the session is owned
// by loop H. When the client sends "5", the session moves to Z without
// losing or reordering a broadcast:
//
//  1. H, holding the room-mask write lock (so no Broadcast is half done),
//     marks Z as having members in the session's rooms and puts a marker in
//     both queues: "adopt" in Z's, "release" in H's. Every broadcast queued
//     before the markers is H's to deliver, every one after them Z's.
//  2. Z, at "adopt", takes the sockets into its rooms in holding mode: what
//     it delivers waits in pollState.held.
//  3. H, at "release", drops the sockets from its rooms and sends Z what the
//     session had queued for polling.
//  4. Z, with both done, writes the polling leftovers, then the held frames,
//     then switches the members to direct WebSocket writes.
//
// Packets the client sends on the new WebSocket before step 4 wait on the
// connection and are handled after it.

// handoffStep names a point of the hand-over, for Server.handoffHook.
type handoffStep uint8

const (
	handoffBegin     handoffStep = iota // on from: "5" arrived, nothing marked yet
	handoffMarked                       // on from: both markers queued, neither handled
	handoffAdopting                     // on to: at the adopt marker, before step 2
	handoffAdopted                      // on to: step 2 done, members holding
	handoffReleasing                    // on from: at the release marker, before step 3
	handoffReleased                     // on from: step 3 done, leftovers not yet sent to to
	handoffFinished                     // on to: step 4 done, members write directly
)

// step calls the test hook, if any, at a step of h. Once per step of a
// hand-over, never per delivery.
func (h *handoff) step(s handoffStep) {
	if hook := h.from.srv.handoffHook; hook != nil {
		hook(s, h)
	}
}

// handoff carries one session from its polling loop to its WebSocket loop.
type handoff struct {
	ss       *session
	cn       *conn // the new WebSocket, on loop to
	from, to *shard
	members  []handoffMember // the sockets' slots and rooms on from

	// Owned by loop to.
	adopted, released, finished bool
	pending                     []byte       // the polling leftovers, from release
	later                       []*laterTask // Socket.Later tasks waiting for the end (later.go)
}

type handoffMember struct {
	slot  int32
	rooms []string
}

// startUpgrade answers a WebSocket request that carries a polling sid.
func (cn *conn) startUpgrade(ss *session, r *http1.Request) {
	p := ss.poll
	if p == nil {
		cn.wsRefuse(errorMessages[errBadRequest])
		return
	}
	p.mu.Lock()
	busy := p.probe != nil || p.handingOff || p.upgraded || p.closing
	p.mu.Unlock()
	if busy {
		// Already upgrading or upgraded: engine.io completes the handshake
		// and closes the WebSocket at once. (A refused handshake is an
		// error on the client, not a close.)
		if cn.upgrade(r, cn.sh.corsBuf) {
			cn.closeWS(0)
		}
		return
	}
	if !cn.upgrade(r, cn.sh.corsBuf) {
		return
	}
	srv := cn.sh.srv
	srv.lastUpgrade.Store(srv.nowMS()) // tick finely for the noop checks
	p.mu.Lock()
	p.probe, p.probed = cn, false
	p.upgradeBy = cn.sh.srv.nowMS() + cn.sh.srv.cfg.UpgradeTimeout.Milliseconds()
	owner := p.owner
	p.mu.Unlock()
	cn.probe = &probeState{ss: ss}
	ss.onOwner(owner, func() {
		if !ss.closed {
			ss.reschedule()
		}
	})
}

// onProbeMessage handles a message on a WebSocket that is probing.
func (cn *conn) onProbeMessage(op ws.OpCode, msg []byte) {
	ps := cn.probe
	ss := ps.ss
	p := ss.poll
	if ps.adopting {
		// "5" was received: hold everything until the session has moved.
		ps.pendingIn = append(ps.pendingIn, pendingMessage{op, append([]byte(nil), msg...)})
		return
	}
	t, data, err := eio.ParsePacket(msg)
	switch {
	case err == nil && op == ws.OpText && t == eio.PacketPing && string(data) == "probe":
		cn.sh.wbuf = eio.AppendFrame(cn.sh.wbuf[:0], ws.OpText, []byte("3probe"))
		cn.write(cn.sh.wbuf)
		p.mu.Lock()
		p.probed = true
		p.noopAt = cn.sh.srv.nowMS() + upgradeNoopPeriod
		owner := p.owner
		p.mu.Unlock()
		ss.onOwner(owner, func() {
			if !ss.closed {
				ss.reschedule()
			}
		})
	case err == nil && op == ws.OpText && t == eio.PacketUpgrade:
		p.mu.Lock()
		ok := p.probe == cn && p.probed && !p.closing
		if ok {
			p.handingOff = true
		}
		owner := p.owner
		p.mu.Unlock()
		if !ok {
			cn.closeWS(0)
			return
		}
		ps.adopting = true
		owner.run(func() { owner.beginHandoff(ss, cn) })
	default:
		// Anything else aborts the upgrade; the session goes on polling.
		cn.closeWS(0)
	}
}

// beginHandoff is step 1, on the session's polling loop.
func (sh *shard) beginHandoff(ss *session, cn *conn) {
	to := cn.sh
	if ss.closed {
		to.run(func() { cn.closeWS(0) })
		return
	}
	ss.poll.left = true
	h := &handoff{ss: ss, cn: cn, from: sh, to: to}
	h.step(handoffBegin)
	for _, sock := range ss.sockets {
		h.members = append(h.members, handoffMember{sock.slot, append([]string(nil), sock.rooms...)})
	}
	sh.timers.remove(ss)
	srv := sh.srv
	srv.roomMu.Lock()
	ss.poll.moving = h
	for _, m := range h.members {
		for _, room := range m.rooms {
			srv.roomShards[room] |= 1 << uint(to.idx)
		}
	}
	to.enqueue("", nil, h, false)
	sh.enqueue("", nil, h, true)
	srv.roomMu.Unlock()
	h.step(handoffMarked)
}

// onHandoffMarker handles a marker in this loop's queue.
func (sh *shard) onHandoffMarker(h *handoff, release bool) {
	if release {
		h.step(handoffReleasing)
		sh.releaseHandoff(h)
	} else {
		h.step(handoffAdopting)
		sh.adoptHandoff(h)
	}
}

// releaseHandoff is step 3, on the polling loop.
func (sh *shard) releaseHandoff(h *handoff) {
	// Not shard.leave: the sockets now belong to loop to (sock.slot is
	// theirs), and a move is not a leave for the counters.
	for _, m := range h.members {
		for _, room := range m.rooms {
			if _, last := sh.rooms.Leave(room, m.slot); last {
				sh.srv.markRoom(room, sh.idx, false)
			}
		}
		sh.freeSlot(m.slot)
	}
	p := h.ss.poll
	p.mu.Lock()
	pending := p.out
	p.out = nil
	p.upgraded, p.handingOff, p.probe = true, false, nil
	if p.get != nil {
		// A GET still parked ends with a noop; the data goes to the WebSocket.
		p.out = h.ss.appendPollRecord(p.out, noopPacket)
		h.ss.kickLocked()
	}
	p.mu.Unlock()
	h.step(handoffReleased)
	h.to.run(func() {
		h.pending, h.released = pending, true
		h.to.finishHandoff(h)
	})
}

// adoptHandoff is step 2, on the WebSocket's loop.
func (sh *shard) adoptHandoff(h *handoff) {
	ss := h.ss
	sh.srv.sessMu.Lock() // pollingSessionsOf reads ss.sh from other loops
	ss.sh = sh
	sh.srv.sessMu.Unlock()
	for _, sock := range ss.sockets {
		sh.allocSlot(sock, nil)
		sh.members[sock.slot].holding = true
		for _, room := range sock.rooms {
			sh.join(room, sock)
		}
	}
	h.adopted = true
	h.step(handoffAdopted)
	sh.finishHandoff(h)
}

// finishHandoff is step 4, once both adopt and release are done.
func (sh *shard) finishHandoff(h *handoff) {
	if !h.adopted || !h.released {
		return
	}
	ss, cn := h.ss, h.cn
	var pendingIn []pendingMessage
	if ps := cn.probe; ps != nil {
		pendingIn = ps.pendingIn
	}
	cn.probe = nil
	srv := sh.srv
	srv.counters.polling.Add(-1)
	srv.counters.websocket.Add(1)
	ss.ws = cn
	h.finished = true
	defer h.runLater(sh)
	if cn.closed || ss.closed {
		ss.ws = nil
		if !ss.closed {
			ss.teardown(CloseTransportClose)
			srv.forgetSession(ss)
		}
		return
	}
	cn.sess = ss
	for rec, rest, ok := ss.nextPollRecord(h.pending); ok; rec, rest, ok = ss.nextPollRecord(rest) {
		if eio.IsBase64Message(rec) {
			if bin, err := ss.decodeBase64(rec); err == nil {
				ss.sendBinary(bin)
			}
			continue
		}
		ss.sendText(rec)
	}
	h.pending = nil
	if p := ss.poll; len(p.held) > 0 {
		cn.write(p.held)
		p.held = nil
	}
	for _, sock := range ss.sockets {
		sh.members[sock.slot] = member{sock: sock, ws: cn, muted: sock.muted}
	}
	ss.reschedule()
	h.step(handoffFinished)
	for _, m := range pendingIn {
		if cn.closed || ss.closed {
			break
		}
		cn.onMessage(m.op, m.data)
	}
}

// runLater runs the Socket.Later tasks that arrived during the hand-over,
// once it is over (on loop to).
func (h *handoff) runLater(sh *shard) {
	tasks := h.later
	h.later = nil
	for _, t := range tasks {
		sh.runLater(t)
	}
}

// probeClosed runs when a probing WebSocket closes before the hand-over.
func (ss *session) probeClosed(cn *conn) {
	p := ss.poll
	p.mu.Lock()
	if p.probe == cn && !p.handingOff {
		p.probe, p.probed = nil, false
	}
	p.mu.Unlock()
}

// upgradeDeadline returns the next upgrade deadline (0: none). Owning loop.
func (ss *session) upgradeDeadline() int64 {
	p := ss.poll
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.probe == nil || p.handingOff {
		return 0
	}
	if p.probed {
		return min(p.upgradeBy, p.noopAt)
	}
	return p.upgradeBy
}

// onUpgradeTimer enforces the upgrade timeout and ends parked GETs with a
// noop while the client tries to pause polling. Owning loop.
func (ss *session) onUpgradeTimer(now int64) {
	p := ss.poll
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.probe == nil || p.handingOff {
		p.mu.Unlock()
		return
	}
	if now >= p.upgradeBy {
		probe := p.probe
		p.probe, p.probed = nil, false
		p.mu.Unlock()
		probe.sh.run(func() { probe.closeWS(0) })
		return
	}
	if p.probed && now >= p.noopAt {
		p.noopAt = now + upgradeNoopPeriod
		if p.get != nil && len(p.out) == 0 {
			p.out = ss.appendPollRecord(p.out, noopPacket)
			ss.kickLocked()
		}
	}
	p.mu.Unlock()
}

package engine

// Running code on a socket's loop from another goroutine.
//
// Socket.Later puts a task in the loop's broadcast queue, as a marker (it
// is never shed), on the loop that owns the session at that moment. The
// one complication is a polling session moving to its WebSocket's loop
// (upgrade.go): the room lock orders Later against the hand-over's start,
// which records the handoff in pollState.moving under the write lock.
//
//   - Queued before the hand-over began: the task is on the polling loop,
//     which may meanwhile have given the session up (beginHandoff ran);
//     then it forwards the task to the new loop, behind the adopt marker.
//   - Queued after: the task is on the new loop, behind the adopt marker.
//   - On the new loop, between adopt and the end of the hand-over, the
//     session cannot be written to yet; the task waits in the handoff and
//     finishHandoff runs it.
//
// A task whose socket has disconnected by then is dropped.

// laterTask is fn to run on sock's loop.
type laterTask struct {
	sock *Socket
	fn   func()
}

// Later runs fn on the socket's event loop, after the broadcasts already
// queued for that loop, if the socket is still connected then; otherwise
// fn is dropped. fn may call the Socket's methods. Safe from any
// goroutine, including the socket's own loop (fn still runs later, not
// inside the call): it brings back to a socket work that finished
// elsewhere, such as a Redis subscription being confirmed. The socket's
// session may move between loops in the meantime (a polling→WebSocket
// upgrade); fn runs on the loop that owns it then. Like broadcasts, fn may
// wait while the loop paces readers that fell behind (at most about a
// second).
func (s *Socket) Later(fn func()) {
	ss := s.sess
	home := ss.home()
	t := &laterTask{sock: s, fn: fn}
	srv := home.srv
	srv.roomMu.RLock()
	to := home
	if p := ss.poll; p != nil && p.moving != nil {
		to = p.moving.to
	}
	to.enqueueLater(t)
	srv.roomMu.RUnlock()
}

// home returns the loop the session was opened on. It never changes, so
// any goroutine may call home (ss.sh is the current owner, which only
// that loop may read while a hand-over can move it).
func (ss *session) home() *shard {
	if p := ss.poll; p != nil {
		return p.owner
	}
	return ss.sh
}

// enqueueLater queues t for this loop. Safe from any goroutine.
func (sh *shard) enqueueLater(t *laterTask) {
	sh.push(queued{later: t})
}

// runLater runs t on this loop, or sends it where the session is going.
// Called on the loop, from drain or finishHandoff.
func (sh *shard) runLater(t *laterTask) {
	ss := t.sock.sess
	if p := ss.poll; p != nil && p.moving != nil {
		h := p.moving
		switch {
		case sh != h.to:
			// The old loop, after beginHandoff: the session is no longer
			// ours to read. The new loop's queue has the adopt marker.
			h.to.enqueueLater(t)
			return
		case !h.adopted:
			// The new loop is the old one, and the adopt marker is still
			// queued behind this task: go after it.
			sh.enqueueLater(t)
			return
		case !h.finished:
			h.later = append(h.later, t)
			return
		}
	}
	if t.sock.slot < 0 || ss.closed {
		return
	}
	// What fn writes to the socket leaves in one write (a released CONNECT
	// reply and the event after it, say).
	if cn := ss.directWS(); cn != nil && sh.batchConn == nil {
		cn.batched(t.fn)
		return
	}
	t.fn()
}

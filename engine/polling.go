package engine

import (
	"bytes"
	"context"
	"sync"

	"github.com/panjf2000/gnet/v2"

	"github.com/notify-wss/notify-wss/eio"
	"github.com/notify-wss/notify-wss/internal/http1"
)

// HTTP long-polling. A session's requests may arrive on any connection and
// so on any loop, while the session itself is owned by one loop (the one
// that answered its handshake). pollState is therefore the one part of a
// session shared between loops, under its mutex: the queued packets, the
// parked GET and the upgrade progress. Packets a client POSTs are processed
// on the owning loop, so the Socket.IO layer never needs a lock.

// pollState is the polling transport of a session.
type pollState struct {
	mu        sync.Mutex
	owner     *shard // loop that owns the session (fixed while polling)
	out       []byte // packets waiting for a GET, joined by the record separator
	get       *conn  // the parked GET, or nil
	getKeep   bool   // its keep-alive
	getCORS   []byte // its CORS headers
	flushing  bool   // a flush of get is queued on its loop
	closing   bool   // the session ended: the next GET gets out and "1"
	closeNoop bool   // ... or "6", when the client itself sent "1"

	// Upgrade to WebSocket (upgrade.go).
	probe      *conn  // the WebSocket being probed
	probed     bool   // it has answered 2probe
	upgradeBy  int64  // upgrade deadline (server ms)
	noopAt     int64  // next check for a GET to end with a noop
	handingOff bool   // "5" arrived: the session is moving to the WebSocket
	left       bool   // beginHandoff ran: the owner no longer touches the session (owner only)
	held       []byte // broadcast frames the new loop holds until the hand-over ends (new loop only)
	upgraded   bool   // the session is on WebSocket now

	// moving is the hand-over once begun, for Socket.Later (later.go).
	// Written under the server's room lock (write), read under it or on
	// the loops.
	moving *handoff
}

// upgradeNoopPeriod is how often, during an upgrade, a parked GET is ended
// with a noop so that the client can pause polling (engine.io checks every
// 100 ms).
const upgradeNoopPeriod = 100

var (
	noopPacket  = []byte{'0' + byte(eio.PacketNoop)}
	closePacket = []byte{'0' + byte(eio.PacketClose)}
	okBody      = []byte("ok")
)

// pollingHandshake opens a polling session and answers with the open packet.
// A protocol 3 session is then connected to "/", and what that sends waits
// for the next GET, as in engine.io.
func (cn *conn) pollingHandshake(r *http1.Request, hs *Handshake, raw, eio3 bool) {
	sh := cn.sh
	ss := newSession(sh, hs, raw, eio3)
	ss.poll = &pollState{owner: sh}
	sh.srv.addPollingSession(ss)
	sh.srv.counters.polling.Add(1)
	body := ss.openPacket([]string{"websocket"})
	if eio3 {
		sh.bodyBuf = eio.AppendRecordV3(sh.bodyBuf[:0], body)
		body = sh.bodyBuf
	}
	cn.replyPoll(r.KeepAlive, sh.corsBuf, body)
	ss.connectDefault()
}

// appendPollRecord appends pkt to a polling body in the session's framing:
// "\x1e"-separated records, or protocol 3's "<length>:<packet>".
func (ss *session) appendPollRecord(body, pkt []byte) []byte {
	if ss.eio3 {
		return eio.AppendRecordV3(body, pkt)
	}
	return eio.AppendRecord(body, pkt)
}

// nextPollRecord splits the first record off a polling body the server
// queued (well formed by construction); ok is false after the last.
func (ss *session) nextPollRecord(body []byte) (rec, rest []byte, ok bool) {
	if ss.eio3 {
		rec, rest, err := eio.NextRecordV3(body)
		return rec, rest, err == nil
	}
	return eio.NextRecord(body)
}

// decodeBase64 decodes a polling record that carries a binary message.
func (ss *session) decodeBase64(rec []byte) ([]byte, error) {
	if ss.eio3 {
		return eio.DecodeBase64MessageV3(nil, rec)
	}
	return eio.DecodeBase64Message(nil, rec)
}

// pollHeaders returns the extra headers of a polling response: CORS and
// cache-control, in the loop's scratch buffer.
func (sh *shard) pollHeaders(cors []byte) []byte {
	extra := append(sh.hdrBuf[:0], cors...)
	extra = append(extra, "cache-control: no-store\r\n"...)
	sh.hdrBuf = extra
	return extra
}

// replyPoll answers a polling GET with a body of packets.
func (cn *conn) replyPoll(keepAlive bool, cors, body []byte) {
	extra := cn.sh.pollHeaders(cors)
	cn.sh.wbuf = appendResponse(cn.sh.wbuf[:0], 200, "text/plain; charset=UTF-8", extra, body, keepAlive)
	cn.write(cn.sh.wbuf)
	if !keepAlive {
		cn.closeHTTP()
	}
}

// servePolling handles a GET or POST for an existing polling session.
func (cn *conn) servePolling(ss *session, r *http1.Request, body []byte) {
	p := ss.poll
	if p == nil { // a session born on WebSocket
		cn.engineError(r, errBadRequest, false)
		return
	}
	switch string(r.Method) {
	case "GET":
		cn.pollGet(ss, r)
	case "POST":
		cn.pollPost(ss, r, body)
	default:
		cn.replyHeaders(r, 500, "", cn.sh.corsBuf, nil)
	}
}

// pollGet answers at once when packets are waiting, else parks the GET.
func (cn *conn) pollGet(ss *session, r *http1.Request) {
	p := ss.poll
	p.mu.Lock()
	switch {
	case p.upgraded || p.handingOff:
		p.mu.Unlock()
		cn.engineError(r, errBadRequest, false)
	case p.get != nil:
		// Overlapping GETs: refuse this one and end the session; the
		// parked GET gets the close packet.
		owner := p.owner
		p.mu.Unlock()
		cn.replyHeaders(r, 400, "", cn.sh.corsBuf, nil)
		ss.onOwner(owner, func() { ss.close(CloseTransportError) })
	case len(p.out) > 0 || p.closing:
		body := cn.takeOut(ss)
		closing := p.closing
		p.mu.Unlock()
		if closing { // forget the sid before the client can come back with it
			cn.sh.srv.forgetSession(ss)
		}
		cn.replyPoll(r.KeepAlive, cn.sh.corsBuf, body)
	default:
		p.get, p.getKeep = cn, r.KeepAlive
		p.getCORS = append(p.getCORS[:0], cn.sh.corsBuf...)
		cn.parked = ss
		p.mu.Unlock()
	}
}

// takeOut moves the queued packets (and the close packet of a closing
// session) into the loop's scratch buffer. Called with ss.poll.mu held.
func (cn *conn) takeOut(ss *session) []byte {
	p := ss.poll
	body := append(cn.sh.bodyBuf[:0], p.out...)
	if p.closing {
		if p.closeNoop {
			body = ss.appendPollRecord(body, noopPacket)
		} else {
			body = ss.appendPollRecord(body, closePacket)
		}
	}
	cn.sh.bodyBuf = body
	p.out = p.out[:0]
	if cap(p.out) > 64<<10 { // do not pin a large burst's buffer
		p.out = nil
	}
	return body
}

// pollPost takes packets from the client and answers "ok".
func (cn *conn) pollPost(ss *session, r *http1.Request, body []byte) {
	p := ss.poll
	p.mu.Lock()
	owner, moved := p.owner, p.upgraded || p.handingOff
	p.mu.Unlock()
	if moved {
		cn.engineError(r, errBadRequest, false)
		return
	}
	if bytes.HasPrefix(r.ContentType, []byte("application/octet-stream")) {
		// EIO4 sends binary as base64 text; a binary body is an error.
		// (engine.io decodes protocol 3's binary payload format; clients
		// that send b64=1, as socket.io-client 2 in Node does, never use
		// it, and this service takes no binary from clients.)
		cn.replyHeaders(r, 400, "", cn.sh.corsBuf, nil)
		ss.onOwner(owner, func() { ss.close(CloseTransportError) })
		return
	}
	if owner == cn.sh {
		ss.onPollBody(body)
	} else {
		data := append([]byte(nil), body...)
		ss.onOwner(owner, func() { ss.onPollBody(data) })
	}
	cn.replyHeaders(r, 200, "text/html", cn.sh.pollHeaders(cn.sh.corsBuf), okBody)
}

// onPollBody handles the packets of a POST. Runs on the owning loop. An
// empty body or an empty record is a parse error, as in engine.io.
func (ss *session) onPollBody(body []byte) {
	if ss.eio3 {
		ss.onPollBodyV3(body)
		return
	}
	for rest := body; !ss.closed; {
		rec, next, ok := eio.NextRecord(rest)
		if !ok {
			ss.close(CloseParseError)
			return
		}
		if eio.IsBase64Message(rec) {
			bin, err := eio.DecodeBase64Message(nil, rec)
			if err != nil {
				ss.close(CloseParseError)
				return
			}
			ss.onBinary(bin)
		} else {
			ss.onPacket(rec)
		}
		if next == nil {
			return
		}
		rest = next
	}
}

// onPollBodyV3 handles the packets of a protocol 3 POST: an empty body or
// a malformed length is a parse error; an empty record ("0:") is skipped.
// The packets before an error are handled, as in engine.io.
func (ss *session) onPollBodyV3(body []byte) {
	if len(body) == 0 {
		ss.close(CloseParseError)
		return
	}
	for rest := body; len(rest) > 0 && !ss.closed; {
		rec, next, err := eio.NextRecordV3(rest)
		if err != nil {
			ss.close(CloseParseError)
			return
		}
		rest = next
		switch {
		case len(rec) == 0:
		case eio.IsBase64Message(rec):
			bin, err := eio.DecodeBase64MessageV3(nil, rec)
			if err != nil {
				ss.close(CloseParseError)
				return
			}
			ss.onBinary(bin)
		default:
			ss.onPacket(rec)
		}
	}
}

// queuePolling queues a packet for the next GET and, if one is parked,
// schedules its answer on its loop. Safe from any loop. The answer is sent
// from a task, so packets queued in the same callback share one response.
func (ss *session) queuePolling(pkt []byte) {
	p := ss.poll
	if p == nil {
		return
	}
	p.mu.Lock()
	p.out = ss.appendPollRecord(p.out, pkt)
	ss.kickLocked()
	p.mu.Unlock()
}

// kickLocked schedules the parked GET's answer. Called with p.mu held.
func (ss *session) kickLocked() {
	p := ss.poll
	if p.get == nil || p.flushing {
		return
	}
	p.flushing = true
	get := p.get
	get.sh.run(func() { get.flushPoll(ss) })
}

// flushPoll answers the GET parked on this connection. Runs on its loop.
func (cn *conn) flushPoll(ss *session) {
	p := ss.poll
	p.mu.Lock()
	p.flushing = false
	if p.get != cn || cn.closed {
		p.mu.Unlock()
		return
	}
	p.get, cn.parked = nil, nil
	body := cn.takeOut(ss)
	closing := p.closing
	keep := p.getKeep
	cors := append(cn.sh.corsBuf[:0], p.getCORS...)
	cn.sh.corsBuf = cors
	p.mu.Unlock()
	if closing { // forget the sid before the client can come back with it
		cn.sh.srv.forgetSession(ss)
	}
	cn.replyPoll(keep, cors, body)
	cn.resume()
}

// resume processes requests that arrived behind a parked GET.
func (cn *conn) resume() {
	if cn.closed || cn.gc.InboundBuffered() == 0 {
		return
	}
	if cn.onTraffic() == gnet.Close {
		cn.closeHTTP()
	}
}

// closePolling ends the polling transport of a session closed for reason,
// as engine.io does. A parked GET is answered now: with "1", or with "6"
// when the client itself sent "1". With no GET parked, the sid is forgotten
// at once (the next request gets "Session ID unknown"), except after a
// server-side close (see CloseReason.serverInitiated), whose "1" waits for the next
// GET for at most a ping period.
func (ss *session) closePolling(reason CloseReason) {
	p := ss.poll
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closing = true
	p.closeNoop = reason == CloseTransportClose
	parked := p.get != nil
	ss.kickLocked()
	p.mu.Unlock()
	srv := ss.sh.srv
	if !parked && !reason.serverInitiated() {
		srv.forgetSession(ss)
		return
	}
	// Until a GET collects the close; a bound, too, should the parked
	// GET's connection go away before its answer.
	srv.forgetSessionAfter(ss, srv.cfg.PingInterval.Milliseconds())
}

// pollConnClosed runs when a connection holding a parked GET closes: the
// client went away, and the session ends as engine.io ends it.
func (ss *session) pollConnClosed(cn *conn) {
	p := ss.poll
	p.mu.Lock()
	wasParked := p.get == cn
	if wasParked {
		p.get = nil
	}
	owner, closing := p.owner, p.closing
	p.mu.Unlock()
	if wasParked && !closing {
		ss.onOwner(owner, func() { ss.close(CloseTransportError) })
	}
}

// onOwner runs f on owner, the session's polling loop, unless by then the
// session has begun moving to a WebSocket's loop: from beginHandoff on,
// only that loop may touch it (its timers, sockets and rooms).
func (ss *session) onOwner(owner *shard, f func()) {
	owner.run(func() {
		if !ss.poll.left {
			f()
		}
	})
}

// run runs f on the shard's loop, after the current callback.
func (sh *shard) run(f func()) {
	_ = sh.loop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		f()
		return nil
	}))
}

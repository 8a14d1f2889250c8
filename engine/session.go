package engine

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"sync/atomic"

	"github.com/gobwas/ws"

	"github.com/notify-wss/notify-wss/eio"
)

// session is one Engine.IO connection. It lives on the loop of its shard:
// the loop that accepted it over WebSocket, or that handled its polling
// handshake. Everything but the polling transport state (see polling.go)
// is touched only from that loop.
type session struct {
	sid     string
	sh      *shard
	ws      *conn      // the WebSocket carrying the session, nil while polling
	poll    *pollState // polling transport state, nil for a session born on WebSocket
	sockets []*Socket  // connected namespaces
	hs      *Handshake
	bin     *pendingBinary // a binary packet waiting for its attachments

	// Timers, in server milliseconds (Server.nowMS). heartbeatAt is when
	// the next ping is due or, while waitingPong, when the pong is; in
	// protocol 3, where the client pings, when its next ping is overdue.
	// deadline is, until a socket first connects, the connect timeout;
	// after (connected), when the application said the session's
	// credentials expire (0: never; see Socket.SetExpiry). One field
	// serves both, so an idle session stays in its size class.
	heartbeatAt, deadline     int64
	timer                     timerLinks // in sh.timers
	timerSlot                 int16      // ditto
	waitingPong, pongExtended bool

	raw       bool // a RawPath session: no Socket.IO layer
	eio3      bool // Engine.IO protocol 3 (Config.AllowEIO3); fixed at the handshake
	connected bool // a socket connected once: the connect timeout is over, as in socket.io
	closed    bool
}

// pendingBinary is a BINARY_EVENT or BINARY_ACK whose attachments are
// still arriving.
type pendingBinary struct {
	packet      eio.SIOPacket
	raw         []byte // owns packet's slices
	attachments [][]byte
}

// idCounter makes ids unique even if two random parts collide.
var idCounter atomic.Uint32

// newID returns a 20-character URL-safe id: 11 random bytes and a 4-byte
// counter, like engine.io's.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:11])
	n := idCounter.Add(1)
	b[11], b[12], b[13], b[14] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newSession opens a session on sh and arms its timers; raw makes it a
// RawPath session, eio3 an Engine.IO protocol 3 one.
func newSession(sh *shard, hs *Handshake, raw, eio3 bool) *session {
	now := sh.srv.nowMS()
	ss := &session{
		sid:         newID(),
		sh:          sh,
		hs:          hs,
		heartbeatAt: now + sh.srv.cfg.PingInterval.Milliseconds(),
		deadline:    now + sh.srv.cfg.ConnectTimeout.Milliseconds(),
		raw:         raw,
		eio3:        eio3,
	}
	if eio3 {
		ss.heartbeatAt = now + ss.clientPingTimeout()
	}
	sh.srv.counters.sessions.Add(1)
	ss.reschedule()
	return ss
}

// directWS returns the WebSocket the session writes to, or nil while it
// polls.
func (ss *session) directWS() *conn { return ss.ws }

// openPacket returns the Engine.IO open packet for this session.
func (ss *session) openPacket(upgrades []string) []byte {
	cfg := &ss.sh.srv.cfg
	return eio.AppendOpen(ss.sh.pbuf[:0], eio.OpenInfo{
		SID:          ss.sid,
		Upgrades:     upgrades,
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.PingTimeout,
		MaxPayload:   cfg.MaxPayload,
	})
}

// sendText sends one text Engine.IO packet on the current transport.
func (ss *session) sendText(pkt []byte) {
	if ss.closed {
		return
	}
	if cn := ss.directWS(); cn != nil {
		sh := ss.sh
		sh.wbuf = eio.AppendFrame(sh.wbuf[:0], ws.OpText, pkt)
		cn.write(sh.wbuf)
		return
	}
	ss.queuePolling(pkt)
}

// sendBinary sends one binary message (an attachment).
func (ss *session) sendBinary(data []byte) {
	if ss.closed {
		return
	}
	if cn := ss.directWS(); cn != nil {
		sh := ss.sh
		if ss.eio3 { // the frame starts with the packet type, as a byte
			n := len(data) + 1
			hdr := eio.FrameHeaderSize(n)
			sh.wbuf = slices.Grow(sh.wbuf[:0], hdr+n)[:hdr]
			eio.PutFrameHeader(sh.wbuf, ws.OpBinary, n)
			sh.wbuf = append(append(sh.wbuf, byte(eio.PacketMessage)), data...)
		} else {
			sh.wbuf = eio.AppendFrame(sh.wbuf[:0], ws.OpBinary, data)
		}
		cn.write(sh.wbuf)
		return
	}
	if ss.eio3 {
		ss.queuePolling(eio.AppendBase64MessageV3(nil, data))
		return
	}
	ss.queuePolling(eio.AppendBase64Message(nil, data))
}

// onPacket handles one Engine.IO text packet from the client.
func (ss *session) onPacket(msg []byte) {
	if ss.closed {
		return
	}
	t, data, err := eio.ParsePacket(msg)
	if err != nil {
		ss.close(CloseParseError)
		return
	}
	if t != eio.PacketPong {
		ss.noteActivity()
	}
	switch t {
	case eio.PacketPong:
		if ss.eio3 { // engine.io: "invalid heartbeat direction"
			ss.close(CloseTransportError)
			return
		}
		ss.onPong()
	case eio.PacketPing:
		if !ss.eio3 { // EIO4 clients never ping; "2probe" is for a probe
			ss.close(CloseParseError)
			return
		}
		ss.onClientPing()
	case eio.PacketMessage:
		if ss.raw {
			ss.onRaw(data, false)
			return
		}
		ss.onSocketIO(data)
	case eio.PacketClose:
		ss.close(CloseTransportClose)
	default: // "5" is valid only on a probe
		ss.close(CloseParseError)
	}
}

// onBinary handles one binary message: an attachment of a pending binary
// packet. A binary message nobody waits for is a protocol error.
func (ss *session) onBinary(data []byte) {
	if ss.closed {
		return
	}
	ss.noteActivity()
	if ss.raw {
		ss.onRaw(data, true)
		return
	}
	pb := ss.bin
	if pb == nil { // socket.io's decoder refuses it: see onSocketIO
		ss.close(CloseForced)
		return
	}
	pb.attachments = append(pb.attachments, append([]byte(nil), data...))
	if len(pb.attachments) == pb.packet.Attachments {
		ss.bin = nil
		ss.dispatch(pb.packet, pb.attachments)
	}
}

// onPong records a heartbeat answer.
func (ss *session) onPong() {
	if !ss.waitingPong {
		return
	}
	ss.waitingPong = false
	ss.heartbeatAt = ss.sh.srv.nowMS() + ss.sh.srv.cfg.PingInterval.Milliseconds()
	ss.reschedule()
}

// onClientPing answers a protocol 3 client's ping with a pong (without the
// ping's data, as engine.io does) and restarts the ping timeout.
func (ss *session) onClientPing() {
	ss.heartbeatAt = ss.sh.srv.nowMS() + ss.clientPingTimeout()
	ss.sendText(pongPacket)
	ss.reschedule()
}

// clientPingTimeout is how long (ms) a protocol 3 session waits for the
// client's next ping: engine.io's pingInterval + pingTimeout.
func (ss *session) clientPingTimeout() int64 {
	cfg := &ss.sh.srv.cfg
	return cfg.PingInterval.Milliseconds() + cfg.PingTimeout.Milliseconds()
}

// noteActivity applies engine.io 6's rule: while a pong is awaited, the
// first other packet restarts the pong timeout, once per ping.
func (ss *session) noteActivity() {
	if ss.waitingPong && !ss.pongExtended {
		ss.pongExtended = true
		ss.heartbeatAt = ss.sh.srv.nowMS() + ss.sh.srv.cfg.PingTimeout.Milliseconds()
	}
}

// pingPacket and pongPacket are the Engine.IO ping and pong.
var (
	pingPacket = []byte{'0' + byte(eio.PacketPing)}
	pongPacket = []byte{'0' + byte(eio.PacketPong)}
)

// onTimer runs when the session's deadline passes.
func (ss *session) onTimer() {
	if ss.closed {
		ss.sh.srv.forgetSession(ss) // a polling close nobody collected
		return
	}
	now := ss.sh.srv.nowMS()
	if !ss.raw && !ss.connected && now >= ss.deadline {
		ss.close(CloseConnectTimeout)
		return
	}
	if ss.connected && ss.deadline > 0 && now >= ss.deadline {
		ss.closeWith(CloseTokenExpired, ws.StatusPolicyViolation)
		return
	}
	ss.onUpgradeTimer(now)
	if ss.waitingPong || ss.eio3 { // protocol 3: the client's ping is overdue
		if now >= ss.heartbeatAt {
			ss.close(ClosePingTimeout)
			return
		}
	} else if now >= ss.heartbeatAt {
		ss.waitingPong, ss.pongExtended = true, false
		ss.heartbeatAt = now + ss.sh.srv.cfg.PingTimeout.Milliseconds()
		ss.sendText(pingPacket)
	}
	ss.reschedule()
}

// reschedule arms the timer for the session's next deadline.
func (ss *session) reschedule() {
	next := ss.heartbeatAt
	if ss.deadline > 0 && (!ss.raw || ss.connected) {
		next = min(next, ss.deadline)
	}
	if at := ss.upgradeDeadline(); at > 0 {
		next = min(next, at)
	}
	ss.sh.timers.schedule(ss, next)
}

// close ends the session; a WebSocket gets an empty close frame.
func (ss *session) close(reason CloseReason) { ss.closeWith(reason, 0) }

// closeWith ends the session: every socket is disconnected (without a
// Socket.IO DISCONNECT packet) and the transport is closed, a WebSocket
// with close code code (0: empty close frame).
func (ss *session) closeWith(reason CloseReason, code ws.StatusCode) {
	if ss.closed {
		return
	}
	ss.teardown(reason)
	if cn := ss.ws; cn != nil {
		// Detach first: when the close frame's write fails, gnet closes cn
		// inside the write, and its OnClose must not end the session again.
		cn.sess = nil
		cn.closeWS(code)
	}
	ss.closePolling(reason)
}

// shutdown closes the session for a server shutdown: WebSocket close 1001
// ("going away"), so clients reconnect to another instance.
func (ss *session) shutdown() { ss.closeWith(CloseShutdown, ws.StatusGoingAway) }

// transportClosed is called when the WebSocket under the session closed.
func (ss *session) transportClosed(cn *conn) {
	if ss.ws != cn {
		return
	}
	ss.teardown(CloseTransportClose)
	ss.ws = nil
	ss.closePolling(CloseTransportClose)
}

// teardown disconnects every socket and forgets the session.
func (ss *session) teardown(reason CloseReason) {
	ss.closed = true
	ss.sh.counters.Disconnects[reason].Add(1)
	for len(ss.sockets) > 0 {
		ss.removeSocket(ss.sockets[len(ss.sockets)-1], reason)
	}
	ss.sh.timers.remove(ss)
	ss.sh.srv.counters.sessions.Add(-1)
	if ss.poll == nil {
		ss.sh.srv.forgetSession(ss)
	}
	if ss.ws != nil {
		ss.sh.srv.counters.websocket.Add(-1)
	} else if ss.poll != nil {
		ss.sh.srv.counters.polling.Add(-1)
	}
	ss.bin = nil
}

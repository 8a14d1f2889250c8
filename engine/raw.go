package engine

import "github.com/notify-wss/notify-wss/eio"

// RawSession is a bare Engine.IO session, opened under Config.RawPath.
type RawSession struct{ ss *session }

// ID returns the Engine.IO session id.
func (r *RawSession) ID() string { return r.ss.sid }

// Send sends one message on the session, text or binary. Call it on the
// session's loop: from RawMessage.
func (r *RawSession) Send(data []byte, binary bool) {
	ss := r.ss
	if binary {
		ss.sendBinary(data)
		return
	}
	sh := ss.sh
	sh.pbuf = eio.AppendPacket(sh.pbuf[:0], eio.PacketMessage, data)
	ss.sendText(sh.pbuf)
}

// onRaw hands one message of a RawPath session to Config.RawMessage.
func (ss *session) onRaw(data []byte, binary bool) {
	if f := ss.sh.srv.cfg.RawMessage; f != nil {
		f(&RawSession{ss}, data, binary)
	}
}

package engine

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"

	"github.com/notify-wss/notify-wss/eio"
	"github.com/notify-wss/notify-wss/internal/http1"
)

// conn is the per-connection state, set in OnOpen and dropped in OnClose.
// Only its loop touches it.
type conn struct {
	gc     gnet.Conn
	sh     *shard
	closed bool // OnClose ran, or a close is under way: write nothing more

	// WebSocket state, once upgraded.
	ws bool
	// deflate: permessage-deflate was negotiated (Config.Compression):
	// broadcasts may go compressed, and client messages may come so.
	deflate bool

	// http is how far the HTTP request being received has been parsed
	// (4 bytes, in what would be padding).
	http http1.Parser

	sess *session
	frag *fragment // a fragmented message being reassembled, rarely set

	// Polling state: the session whose GET this connection holds.
	parked *session

	// Upgrade state, set only on a WebSocket probing for a polling session.
	probe *probeState
}

// fragment is a fragmented WebSocket message being reassembled: the one
// case where bytes are copied out of gnet's buffers.
type fragment struct {
	op         ws.OpCode
	compressed bool // RSV1 on the first fragment: data is deflated
	data       []byte
}

// probeState is a WebSocket upgrading a polling session: the session, and,
// once "5" arrived, the messages waiting for the hand-over.
type probeState struct {
	ss        *session
	adopting  bool
	pendingIn []pendingMessage
}

// pendingMessage is a WebSocket message kept until a hand-over completes.
type pendingMessage struct {
	op   ws.OpCode
	data []byte
}

// onTraffic consumes every complete request or frame in the buffer. What
// it answers goes out in one write at the end (a handshake's 101 and open
// packet, a CONNECT reply and the events the handler emits with it), not
// one write(2) per packet.
func (cn *conn) onTraffic() gnet.Action {
	action := gnet.None
	cn.batched(func() { action = cn.consume() })
	return action
}

// batched runs f with every write to cn joining one buffer, written with
// one write(2) when f returns. Runs on the loop; not re-entrant.
func (cn *conn) batched(f func()) {
	sh := cn.sh
	sh.batchConn = cn
	f()
	sh.batchConn = nil
	if len(sh.batchBuf) > 0 {
		_, _ = cn.gc.Write(sh.batchBuf)
		sh.batchBuf = sh.batchBuf[:0]
		if cap(sh.batchBuf) > maxBatchBuf {
			sh.batchBuf = nil
		}
	}
}

// maxBatchBuf is the largest answer buffer a loop keeps between calls.
const maxBatchBuf = 64 << 10

// consume handles the complete requests or frames in the buffer.
func (cn *conn) consume() gnet.Action {
	buf, _ := cn.gc.Peek(-1)
	consumed := 0
	action := gnet.None
	for consumed < len(buf) && action == gnet.None && !cn.closed && cn.parked == nil {
		var n int
		if cn.ws {
			n, action = cn.readFrame(buf[consumed:])
		} else {
			n, action = cn.readHTTP(buf[consumed:])
		}
		if n == 0 {
			break
		}
		consumed += n
	}
	if consumed > 0 {
		_, _ = cn.gc.Discard(consumed)
	}
	if cn.closed && action == gnet.None {
		action = gnet.Close
	}
	return action
}

func (cn *conn) onClose(error) {
	cn.closed = true
	delete(cn.sh.httpConns, cn)
	if ss := cn.sess; ss != nil {
		cn.sess = nil
		ss.transportClosed(cn)
	}
	if ss := cn.parked; ss != nil {
		cn.parked = nil
		ss.pollConnClosed(cn)
	}
	if p := cn.probe; p != nil && !p.adopting {
		cn.probe = nil
		p.ss.probeClosed(cn)
	}
}

// write writes p unless the connection is closing. It reports whether the
// bytes were accepted. While the connection's own traffic is being handled,
// p joins that call's single write.
func (cn *conn) write(p []byte) bool {
	if cn.closed {
		return false
	}
	if cn.sh.batchConn == cn {
		cn.sh.batchBuf = append(cn.sh.batchBuf, p...)
		return true
	}
	_, err := cn.gc.Write(p)
	return err == nil
}

// writeShared writes a broadcast after checking the slow-consumer cap: a
// connection whose unsent backlog is already over the cap is closed and its
// session ended. (The check is on the backlog, not backlog plus this write,
// so one large coalesced write never condemns a reader that keeps up.)
func (cn *conn) writeShared(p []byte) bool {
	if cn.closed {
		return false
	}
	if cn.gc.OutboundBuffered() > 0 {
		// A backlog: let the socket take what it can now, rather than
		// wait for the next writable event, before judging the reader.
		_ = cn.gc.Flush()
		if cn.closed {
			return false
		}
	}
	if cn.gc.OutboundBuffered() > cn.sh.srv.cfg.MaxOutbound {
		cn.sh.counters.SlowConsumers.Add(1)
		cn.sh.srv.log.Warn("slow consumer disconnected",
			"sid", cn.sess.sid, "buffered", cn.gc.OutboundBuffered(), "cap", cn.sh.srv.cfg.MaxOutbound)
		cn.sess.close(CloseSlowConsumer)
		return false
	}
	return cn.write(p)
}

// closeWS sends a close frame (code 0: empty payload) and closes the
// connection once it is flushed.
func (cn *conn) closeWS(code ws.StatusCode) {
	if cn.closed {
		return
	}
	cn.sh.wbuf = eio.AppendCloseFrame(cn.sh.wbuf[:0], code, "")
	cn.write(cn.sh.wbuf)
	cn.closed = true
	_ = cn.gc.Close()
}

// closeHTTP closes the connection after the response already written.
func (cn *conn) closeHTTP() {
	if cn.closed {
		return
	}
	cn.closed = true
	_ = cn.gc.Close()
}

// ---- WebSocket frames

var errUnmasked = errors.New("engine: client frame is not masked")

// readFrame handles the frame at the start of buf; n == 0 means it is not
// complete yet.
func (cn *conn) readFrame(buf []byte) (int, gnet.Action) {
	parse := eio.ParseFrameHeader
	if cn.deflate {
		parse = eio.ParseDeflateFrameHeader
	}
	h, hn, err := parse(buf)
	if err != nil {
		cn.protocolError(err)
		return len(buf), gnet.None
	}
	if hn == 0 {
		return 0, gnet.None
	}
	if !h.Masked {
		cn.protocolError(errUnmasked)
		return len(buf), gnet.None
	}
	maxPayload := int64(cn.sh.srv.cfg.MaxPayload)
	if h.Length > maxPayload || (cn.frag != nil && int64(len(cn.frag.data))+h.Length > maxPayload) {
		cn.sh.srv.log.Debug("websocket message over maxPayload", "length", h.Length)
		cn.failWS(ws.StatusMessageTooBig)
		return len(buf), gnet.None
	}
	total := hn + int(h.Length)
	if len(buf) < total {
		return 0, gnet.None
	}
	payload := buf[hn:total]
	eio.Unmask(payload, h.Mask)

	switch h.OpCode {
	case ws.OpClose:
		// Echo an empty close frame, as Node does, and end the session.
		if cn.sess != nil {
			cn.sess.closeWith(CloseTransportClose, 0)
		} else {
			cn.closeWS(0)
		}
	case ws.OpPing:
		cn.sh.wbuf = eio.AppendFrame(cn.sh.wbuf[:0], ws.OpPong, payload)
		cn.write(cn.sh.wbuf)
	case ws.OpPong:
	case ws.OpText, ws.OpBinary:
		if cn.frag != nil {
			cn.protocolError(errors.New("engine: new message inside a fragmented one"))
			break
		}
		if !h.Fin {
			cn.frag = &fragment{op: h.OpCode, compressed: h.Rsv1(), data: append([]byte(nil), payload...)}
			break
		}
		cn.onFrameMessage(h.OpCode, h.Rsv1(), payload)
	case ws.OpContinuation:
		if cn.frag == nil {
			cn.protocolError(errors.New("engine: continuation without a first fragment"))
			break
		}
		cn.frag.data = append(cn.frag.data, payload...)
		if h.Fin {
			f := cn.frag
			cn.frag = nil
			cn.onFrameMessage(f.op, f.compressed, f.data)
		}
	}
	return total, gnet.None
}

// onFrameMessage inflates a compressed message (permessage-deflate) into
// the loop's scratch buffer, then hands it on: one pooled inflater for
// every connection, as the client agreed to client_no_context_takeover. A
// message that inflates past MaxPayload is closed with 1009, and data that
// is not DEFLATE with 1007.
func (cn *conn) onFrameMessage(op ws.OpCode, compressed bool, msg []byte) {
	if !compressed {
		cn.onMessage(op, msg)
		return
	}
	sh := cn.sh
	out, err := eio.Inflate(sh.inflateBuf[:0], msg, sh.srv.cfg.MaxPayload)
	switch {
	case errors.Is(err, eio.ErrInflateTooLarge):
		sh.srv.log.Debug("websocket message over maxPayload once inflated", "compressed", len(msg))
		cn.failWS(ws.StatusMessageTooBig)
		return
	case err != nil:
		sh.srv.log.Debug("websocket message: bad compressed data", "err", err)
		cn.failWS(ws.StatusInvalidFramePayloadData)
		return
	}
	sh.counters.Inflated.Add(1)
	cn.onMessage(op, out)
	sh.inflateBuf = out[:0]
	if cap(out) > maxBatchBuf {
		sh.inflateBuf = nil
	}
}

// onMessage hands one complete WebSocket message to the session.
func (cn *conn) onMessage(op ws.OpCode, msg []byte) {
	if cn.sess == nil {
		if cn.probe != nil {
			cn.onProbeMessage(op, msg)
		}
		return
	}
	if op == ws.OpBinary {
		if cn.sess.eio3 { // protocol 3: the packet type as a byte, then the data
			if len(msg) == 0 || msg[0] != byte(eio.PacketMessage) {
				cn.sess.close(CloseParseError)
				return
			}
			msg = msg[1:]
		}
		cn.sess.onBinary(msg)
		return
	}
	cn.sess.onPacket(msg)
}

// failWS ends the session, or the connection when it has none, with a
// close frame carrying code.
func (cn *conn) failWS(code ws.StatusCode) {
	if cn.sess != nil {
		cn.sess.closeWith(CloseTransportError, code)
		return
	}
	cn.closeWS(code)
}

// protocolError closes the connection with 1002 after bad framing.
func (cn *conn) protocolError(err error) {
	cn.sh.srv.log.Debug("websocket protocol error", "err", err)
	if cn.sess != nil {
		cn.sess.closeWith(CloseTransportError, ws.StatusProtocolError)
		return
	}
	cn.closeWS(ws.StatusProtocolError)
}

// ---- HTTP

// readHTTP handles the request at the start of buf.
func (cn *conn) readHTTP(buf []byte) (int, gnet.Action) {
	var r http1.Request
	n, err := cn.http.Parse(buf, http1.Limits{MaxHead: maxHeadBytes, MaxBody: cn.sh.srv.cfg.MaxPayload}, &r)
	switch {
	case err == nil && n == 0:
		return 0, gnet.None
	case err == nil:
		cn.sh.trackHTTP(cn)
		cn.route(&r, buf[r.HeadLen:n])
		return n, gnet.None
	case errors.Is(err, http1.ErrHeadTooLarge):
		cn.replyAndClose(431, "", nil)
	case errors.Is(err, http1.ErrBodyTooLarge):
		cn.replyAndClose(413, "", nil)
	default:
		cn.sh.srv.log.Debug("bad HTTP request", "err", err)
		cn.replyAndClose(400, "", nil)
	}
	return len(buf), gnet.None
}

// route answers one complete request.
func (cn *conn) route(r *http1.Request, body []byte) {
	srv := cn.sh.srv
	path := r.Path
	switch {
	case bytes.HasPrefix(path, []byte(srv.cfg.Path)):
		cn.serveEngineIO(r, body, false)
	case srv.cfg.RawPath != "" && bytes.HasPrefix(path, []byte(srv.cfg.RawPath)):
		cn.serveEngineIO(r, body, true)
	case string(path) == "/ready" && string(r.Method) == "GET":
		if reason := srv.notReady(); reason != "" {
			cn.reply(r, 503, "application/json", jsonObject("status", "unavailable", "reason", reason))
		} else {
			cn.reply(r, 200, "application/json", jsonObject("status", "ready"))
		}
	default:
		if srv.cfg.HTTPHandler != nil && string(r.Method) == "GET" {
			w := &cn.sh.resp
			*w = Response{}
			if srv.cfg.HTTPHandler(string(path), w) {
				cn.reply(r, w.status, w.contentType, w.body)
				return
			}
		}
		cn.reply(r, 404, "application/json", []byte(`{"error":"not found"}`))
	}
}

// reply writes a response, closing the connection unless it is keep-alive.
func (cn *conn) reply(r *http1.Request, status int, contentType string, body []byte) {
	cn.replyHeaders(r, status, contentType, nil, body)
}

func (cn *conn) replyHeaders(r *http1.Request, status int, contentType string, extra, body []byte) {
	cn.sh.wbuf = appendResponse(cn.sh.wbuf[:0], status, contentType, extra, body, r.KeepAlive)
	cn.write(cn.sh.wbuf)
	if !r.KeepAlive {
		cn.closeHTTP()
	}
}

// replyAndClose answers a request the server will not read further.
func (cn *conn) replyAndClose(status int, contentType string, body []byte) {
	cn.sh.wbuf = appendResponse(cn.sh.wbuf[:0], status, contentType, nil, body, false)
	cn.write(cn.sh.wbuf)
	cn.closeHTTP()
}

// wsGUID is the RFC 6455 key suffix.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// upgrade completes a WebSocket handshake; it reports false (after a 400)
// when the request is not a valid one.
func (cn *conn) upgrade(r *http1.Request, extra []byte) bool {
	if string(r.Method) != "GET" || !r.UpgradeWebSocket || !r.ConnectionUpgrade ||
		string(r.WSVersion) != "13" || len(r.WSKey) != 24 {
		cn.wsRefuse("Bad request")
		return false
	}
	var keyGUID [24 + len(wsGUID)]byte
	copy(keyGUID[:], r.WSKey)
	copy(keyGUID[24:], wsGUID)
	sum := sha1.Sum(keyGUID[:])
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], sum[:])

	b := append(cn.sh.wbuf[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, accept[:]...)
	b = append(b, "\r\n"...)
	deflate := cn.sh.srv.cfg.Compression && eio.AcceptDeflate(r.WSExtensions[:]...)
	if deflate {
		b = append(b, "Sec-WebSocket-Extensions: "+eio.DeflateExtension+"\r\n"...)
	}
	b = append(b, extra...)
	b = append(b, "\r\n"...)
	cn.sh.wbuf = b
	cn.write(b)
	cn.ws = true
	cn.deflate = deflate
	delete(cn.sh.httpConns, cn)
	return true
}

// wsRefuse answers a failed WebSocket upgrade the way Node does: a raw 400
// with the message as a text/html body, then the socket is closed.
func (cn *conn) wsRefuse(message string) {
	b := append(cn.sh.wbuf[:0], "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: "...)
	b = appendInt(b, len(message))
	b = append(b, "\r\n\r\n"...)
	b = append(b, message...)
	cn.sh.wbuf = b
	cn.write(b)
	cn.closeHTTP()
}

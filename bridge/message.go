package bridge

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"

	"github.com/notify-wss/notify-wss/eio"
)

// Socket.IO event packet around the payload: Engine.IO type 4 (message),
// Socket.IO type 2 (event) on the default namespace, event name
// "notification", then the payload embedded verbatim as the only argument.
const (
	packetPrefix = `42["notification",`
	packetSuffix = `]`
)

// Message is one notification serialized once: a pooled buffer holding a
// complete WebSocket text frame whose payload is the Socket.IO packet
// 42["notification",<json>], and nothing else.
//
// A Message is safe to share read-only between goroutines. It is
// reference-counted: NewMessage returns it with one reference, Retain adds
// references before handing it to more owners, and each owner calls Release
// exactly once when done with Frame/Packet. After the last Release the bytes
// go back to the pool and are reused by a later message, so neither Frame()
// nor Packet() may be touched (or be queued in a writer) after the owner's
// Release.
type Message struct {
	// Room is the room the message is for, from RoomFor.
	Room string
	// Kind is the channel family the message came from.
	Kind Kind
	// Rooms and Except are a KindEmitter message's audience (Room is then
	// empty): the members of any of Rooms (every socket of namespace "/"
	// when Rooms is empty) that are in none of Except. Shared read-only.
	Rooms, Except []string
	// Received is when the message was read from Redis (time.Now, with its
	// monotonic reading; use time.Since for latency).
	Received time.Time
	// Pos is where the message came from (zero for pub/sub).
	Pos Position

	buf *bytebufferpool.ByteBuffer // header + packet
	hdr int                        // header length: 2, 4 or 10
	// state holds the references (low 32 bits: owners that write it,
	// Retain/Release) and the keeps (high 32 bits: a recovery history
	// and replays, Keep/Unkeep). The bytes go back to the pool when both
	// are 0; OnWritten runs when the references are.
	state     atomic.Uint64
	written   atomic.Bool    // some member was written to
	notified  atomic.Bool    // onWritten ran
	onWritten func(*Message) // Config.OnWritten, called at the last Release

	// The compressed frame (permessage-deflate), built by the first
	// DeflatedFrame call and shared by every later one.
	zmu    sync.Mutex
	zstate atomic.Uint32              // zUnknown, zDone or zPlain
	zbuf   *bytebufferpool.ByteBuffer // the compressed frame when zDone
}

const (
	refMask = 1<<32 - 1
	oneKeep = 1 << 32
)

// DeflatedFrame states.
const (
	zUnknown uint32 = iota // not compressed yet
	zDone                  // zbuf holds the compressed frame
	zPlain                 // compressing did not make it smaller
)

// MarkWritten records that an owner wrote the message to at least one
// member; the bridge's OnWritten hook then sees it when the last owner
// releases it. Safe from any goroutine.
func (m *Message) MarkWritten() { m.written.Store(true) }

// ErrInvalidJSON is returned by NewMessage when the payload is not one valid
// JSON value (eio.ValidJSON, which agrees with encoding/json.Valid) in valid
// UTF-8. JSON validation alone accepts invalid UTF-8 inside strings, but a WebSocket text frame must be
// UTF-8 (RFC 6455 §8.1) and browsers fail the whole connection on it, so one
// such payload would disconnect every member of the room.
var ErrInvalidJSON = errors.New("bridge: payload is not valid JSON")

var (
	// framePool holds frame buffers. A pool of its own (not the package
	// default) so bytebufferpool calibrates on notification sizes only.
	framePool bytebufferpool.Pool
	// deflatePool holds compressed frames (DeflatedFrame), a pool of
	// their own for the same reason.
	deflatePool bytebufferpool.Pool
	// messagePool recycles Message structs; with framePool it makes
	// NewMessage+Release allocation-free in steady state.
	messagePool = sync.Pool{New: func() any { return new(Message) }}
	// overReleases counts Release calls on a message with no references left.
	overReleases atomic.Uint64
)

// NewMessage validates payload (JSON, UTF-8) and builds the frame. The payload is
// copied once, verbatim, into the frame buffer; the caller may reuse it
// afterwards. The message starts with one reference, owned by the caller, and
// Received set to now.
func NewMessage(room string, kind Kind, payload []byte) (*Message, error) {
	return NewMessageAt(room, kind, payload, nil)
}

// NewMessageAt is NewMessage with a recovery offset as the event's last
// argument, 42["notification",<json>,"<offset>"], which socket.io-client
// (4.6 and later) remembers and sends back when it reconnects. offset must
// need no JSON escaping (package notify's offsets are [0-9a-z.-]); nil or
// empty means none.
func NewMessageAt(room string, kind Kind, payload, offset []byte) (*Message, error) {
	if !utf8.Valid(payload) || !eio.ValidJSON(payload) {
		return nil, ErrInvalidJSON
	}
	n := len(packetPrefix) + len(payload) + len(packetSuffix)
	if len(offset) > 0 {
		n += len(offset) + 3 // ,"…"
	}
	m, b := newFrame(room, kind, n)
	b = append(b, packetPrefix...)
	b = append(b, payload...)
	if len(offset) > 0 {
		b = append(b, ',', '"')
		b = append(b, offset...)
		b = append(b, '"')
	}
	m.buf.B = append(b, packetSuffix...)
	return m, nil
}

// newFrame takes a Message from the pool, with one reference, Received
// now, and a frame buffer holding the header of a text frame of n payload
// bytes, which it returns for the caller to append the payload to and
// store in m.buf.B.
func newFrame(room string, kind Kind, n int) (*Message, []byte) {
	hdr := eio.FrameHeaderSize(n)
	m := messagePool.Get().(*Message)
	m.Room, m.Kind, m.Received = room, kind, time.Now()
	m.hdr = hdr
	m.buf = framePool.Get()
	b := m.buf.B[:0]
	if cap(b) < hdr+n {
		b = make([]byte, 0, hdr+n)
	}
	b = b[:hdr]
	eio.PutFrameHeader(b, ws.OpText, n)
	m.state.Store(1)
	return m, b
}

// newPacketMessage builds the frame of packet, a complete
// Engine.IO+Socket.IO packet already encoded (42[...], valid UTF-8 JSON
// after the 42), copied once into the frame buffer, as NewMessage does for
// notifications. The message starts with one reference.
func newPacketMessage(room string, kind Kind, packet []byte) *Message {
	m, b := newFrame(room, kind, len(packet))
	m.buf.B = append(b, packet...)
	return m
}

// Frame returns the whole WebSocket frame: header followed by the packet.
// The slice is shared and valid until the caller's Release; do not modify it.
func (m *Message) Frame() []byte { return m.buf.B }

// Packet returns the Engine.IO/Socket.IO packet alone,
// 42["notification",<json>], for transports without WebSocket framing
// (long-polling). Shared and valid until the caller's Release, like Frame.
func (m *Message) Packet() []byte { return m.buf.B[m.hdr:] }

// DeflatedFrame returns the frame compressed as one permessage-deflate
// message without context takeover (RSV1 set), or nil when compressing
// does not make it smaller. The first call compresses, with a pooled
// compressor (eio.AppendDeflatedFrame); later calls, from any goroutine,
// wait for it and share the result: a broadcast is compressed once
// whatever the number of loops and members. Like Frame, the slice is
// shared and valid until the caller's Release. It implements
// engine.Deflater.
func (m *Message) DeflatedFrame() []byte {
	switch m.zstate.Load() {
	case zDone:
		return m.zbuf.B
	case zPlain:
		return nil
	}
	m.zmu.Lock()
	defer m.zmu.Unlock()
	if m.zstate.Load() == zUnknown {
		zb := deflatePool.Get()
		var ok bool
		zb.B, ok = eio.AppendDeflatedFrame(zb.B[:0], ws.OpText, m.Packet())
		if ok {
			m.zbuf = zb
			m.zstate.Store(zDone)
		} else {
			deflatePool.Put(zb)
			m.zstate.Store(zPlain)
		}
	}
	if m.zstate.Load() == zDone {
		return m.zbuf.B
	}
	return nil
}

// Retain adds n references (n ≤ 0 does nothing). Call it before handing the
// message to n more owners, while holding a reference yourself.
func (m *Message) Retain(n int32) {
	if n > 0 {
		m.state.Add(uint64(n))
	}
}

// Keep holds the message's bytes for a keeper that does not write it to a
// room (a recovery history, a replay), until its Unkeep. Unlike Retain it
// does not delay OnWritten, which runs when the last Retain-ed reference
// is released. Call it while holding a reference or a keep.
func (m *Message) Keep() { m.state.Add(oneKeep) }

// Unkeep drops one Keep; the bytes go back to the pool when neither
// references nor keeps are left.
func (m *Message) Unkeep() {
	for {
		v := m.state.Load()
		if v < oneKeep {
			overReleases.Add(1)
			return
		}
		if m.state.CompareAndSwap(v, v-oneKeep) {
			if v-oneKeep == 0 {
				m.free()
			}
			return
		}
	}
}

// Release drops one reference; the last one returns the buffer and the
// Message to their pools. Releasing a message that has no references left is
// a bug in the caller: it is counted (OverReleases) and otherwise ignored, so
// it can never drive the count negative nor return a buffer twice. (A stale
// Release that arrives after the Message was reused by a later notification
// cannot be told apart from a legitimate one; keep Release exactly once per
// reference.)
func (m *Message) Release() {
	for {
		v := m.state.Load()
		r := v & refMask
		if r == 0 {
			overReleases.Add(1)
			return
		}
		// The last reference: OnWritten runs while it is still held, so
		// that a keeper's Unkeep cannot free the message under it.
		if r == 1 && m.onWritten != nil && m.written.Load() && m.notified.CompareAndSwap(false, true) {
			m.onWritten(m)
		}
		if m.state.CompareAndSwap(v, v-1) {
			if v-1 == 0 {
				m.free()
			}
			return
		}
	}
}

// free returns the buffer and the struct to their pools.
func (m *Message) free() {
	m.onWritten = nil
	m.written.Store(false)
	m.notified.Store(false)
	framePool.Put(m.buf)
	m.buf = nil
	if m.zbuf != nil {
		deflatePool.Put(m.zbuf)
		m.zbuf = nil
	}
	m.zstate.Store(zUnknown)
	m.Room = ""
	m.Rooms, m.Except = nil, nil
	m.Received = time.Time{}
	m.Pos = Position{}
	m.hdr = 0
	messagePool.Put(m)
}

// OverReleases reports how many Release calls found no reference left since
// the process started: a debug counter that must stay 0; export it as a
// metric to catch refcount bugs.
func OverReleases() uint64 { return overReleases.Load() }

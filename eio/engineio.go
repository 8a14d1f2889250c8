package eio

import (
	"strconv"
	"time"
)

// PacketType is the Engine.IO v4 packet type, written on the wire as one
// ASCII digit (README §2).
type PacketType byte

// Engine.IO v4 packet types.
const (
	PacketOpen    PacketType = iota // '0' S->C: handshake JSON (AppendOpen)
	PacketClose                     // '1' either way, polling only; WS uses a close frame
	PacketPing                      // '2' S->C; C->S only as "2probe" during an upgrade
	PacketPong                      // '3' C->S; S->C only as "3probe"
	PacketMessage                   // '4' either way; the data is a Socket.IO packet
	PacketUpgrade                   // '5' C->S on the new WebSocket
	PacketNoop                      // '6' S->C, polling only
)

// packetTypeCount is the number of Engine.IO packet types: the digits '0'..'6'.
const packetTypeCount = 7

var packetTypeNames = [packetTypeCount]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns the name engine.io-parser uses for t ("open", "message", …).
func (t PacketType) String() string {
	if t < packetTypeCount {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// ParsePacket decodes one Engine.IO v4 text packet: a WebSocket text frame
// payload or one polling record. data aliases b; it is empty (not nil) when
// the packet is a bare type digit such as "2" or "6".
//
// Empty input is ErrEmptyPacket; a first byte outside '0'..'6' is
// ErrPacketType. That includes a polling record "b…" (binary as base64):
// check IsBase64Message first on polling records. ParsePacket does not look
// at the data: "2probe", "5" with data, and a client "2" are for the caller
// to judge.
func ParsePacket(b []byte) (t PacketType, data []byte, err error) {
	if len(b) == 0 {
		return 0, nil, ErrEmptyPacket
	}
	t = PacketType(b[0] - '0')
	if t >= packetTypeCount { // also catches b[0] < '0' by wrapping around
		return 0, nil, ErrPacketType
	}
	return t, b[1:], nil
}

// AppendPacket appends the type digit of t and then data to dst.
func AppendPacket(dst []byte, t PacketType, data []byte) []byte {
	dst = append(dst, '0'+byte(t))
	return append(dst, data...)
}

// OpenInfo is the handshake the server sends in the open packet (README §3).
type OpenInfo struct {
	// SID is the Engine.IO session id (20 characters of A-Za-z0-9-_ in Node,
	// but any string is escaped correctly).
	SID string
	// Upgrades lists the transports the client may probe: ["websocket"] on a
	// polling session. Nil or empty writes "upgrades":[], which is what Node
	// sends on a session opened directly over WebSocket.
	Upgrades []string
	// PingInterval is written in whole milliseconds (25000 in Node).
	PingInterval time.Duration
	// PingTimeout is written in whole milliseconds (20000 in Node).
	PingTimeout time.Duration
	// MaxPayload is maxHttpBufferSize in bytes (1000000 in Node).
	MaxPayload int
}

// AppendOpen appends the open packet for o to dst, byte for byte what Node
// sends, with the same field order and no spaces:
//
//	0{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
func AppendOpen(dst []byte, o OpenInfo) []byte {
	dst = append(dst, '0')
	dst = append(dst, `{"sid":`...)
	dst = AppendJSONString(dst, o.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range o.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, o.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, o.PingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(o.MaxPayload), 10)
	return append(dst, '}')
}

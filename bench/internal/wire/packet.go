package wire

import "bytes"

// Kind classifies one inbound Engine.IO text packet (one WebSocket text
// frame) by what the load generator has to do with it.
type Kind uint8

// Packet kinds, from the Engine.IO type digit and, for messages, the
// Socket.IO type digit (see shared/protocol/README.md §2 and §8).
const (
	KindOther        Kind = iota // anything the client ignores
	KindOpen                     // "0{...}": Engine.IO open packet
	KindPing                     // "2": server heartbeat, answer "3"
	KindConnect                  // "40{...}": Socket.IO CONNECT reply
	KindConnectError             // "44{...}": CONNECT refused (bad token)
	KindDisconnect               // "41": server disconnected the namespace
	KindNotification             // `42["notification",...]`
	KindEvent                    // any other EVENT
	KindAck                      // "43...": ack of a client event
)

// notificationPrefix starts every delivery the servers emit.
var notificationPrefix = []byte(`42["notification",`)

// Classify returns the Kind of the text packet p.
func Classify(p []byte) Kind {
	if len(p) == 0 {
		return KindOther
	}
	switch p[0] {
	case '0':
		return KindOpen
	case '2':
		if len(p) == 1 {
			return KindPing
		}
	case '4':
		if len(p) < 2 {
			return KindOther
		}
		switch p[1] {
		case '0':
			return KindConnect
		case '1':
			return KindDisconnect
		case '2':
			if bytes.HasPrefix(p, notificationPrefix) {
				return KindNotification
			}
			return KindEvent
		case '3':
			return KindAck
		case '4':
			return KindConnectError
		}
	}
	return KindOther
}

// OpenPingInterval returns the pingInterval (ms) advertised in an open packet,
// or 0 if it is missing.
func OpenPingInterval(p []byte) int64 {
	v, _, ok := intField(p, []byte(`"pingInterval":`), 0)
	if !ok {
		return 0
	}
	return v
}

// intField finds key in b at or after from and parses the (possibly negative)
// integer right after it. It returns the value and the index just past it.
func intField(b, key []byte, from int) (v int64, next int, ok bool) {
	i := bytes.Index(b[from:], key)
	if i < 0 {
		return 0, from, false
	}
	j := from + i + len(key)
	neg := false
	if j < len(b) && b[j] == '-' {
		neg = true
		j++
	}
	start := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		v = v*10 + int64(b[j]-'0')
		j++
	}
	if j == start {
		return 0, from, false
	}
	// Node.js relays numbers through float64: a unix-nanosecond stamp
	// (~1.8e18) loses its low bits (≤128 ns) but, being below 1e21, is still
	// printed as plain integer digits, which is all this parser needs.
	if neg {
		v = -v
	}
	return v, j, true
}

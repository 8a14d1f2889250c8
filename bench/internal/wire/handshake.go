package wire

import (
	"bytes"
	"errors"
	"strconv"
)

// SocketIOPath is the Engine.IO v4 WebSocket endpoint with its query string.
const SocketIOPath = "/socket.io/?EIO=4&transport=websocket"

// MaxResponseHead bounds the HTTP response head the client waits for.
const MaxResponseHead = 16 << 10

// wsKey is the Sec-WebSocket-Key of every upgrade. The server only hashes it
// into Sec-WebSocket-Accept, which this client does not check (loopback, no
// intermediaries), so one fixed 16-byte base64 nonce is enough.
const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// Errors from ParseUpgradeResponse.
var (
	ErrHeadTooLarge = errors.New("wire: HTTP response head too large")
	ErrBadStatus    = errors.New("wire: malformed HTTP status line")
)

// AppendUpgradeRequest appends the HTTP/1.1 GET that opens a WebSocket-only
// Engine.IO session at host (host:port) to dst; with deflate, it offers
// permessage-deflate as Chrome does.
func AppendUpgradeRequest(dst []byte, host string, deflate bool) []byte {
	dst = append(dst, "GET "+SocketIOPath+" HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+wsKey+"\r\nSec-WebSocket-Version: 13\r\n"...)
	if deflate {
		dst = append(dst, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// ParseUpgradeResponse looks for a complete HTTP response head at the start
// of b. It returns the head length (0 while incomplete) and the status code.
func ParseUpgradeResponse(b []byte) (headLen, status int, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > MaxResponseHead {
			return 0, 0, ErrHeadTooLarge
		}
		return 0, 0, nil
	}
	// "HTTP/1.1 101 Switching Protocols"
	if end < 12 || !bytes.HasPrefix(b, []byte("HTTP/1.")) || b[8] != ' ' {
		return 0, 0, ErrBadStatus
	}
	status, err = strconv.Atoi(string(b[9:12]))
	if err != nil {
		return 0, 0, ErrBadStatus
	}
	return end + 4, status, nil
}

package eio

import (
	"encoding/binary"
	"slices"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// RFC 6455 §5.2 header layout.
const (
	finBit    = 0x80 // first byte: final fragment
	rsvBits   = 0x70 // first byte: RSV1..RSV3, extension bits
	opcodeMsk = 0x0f // first byte: opcode
	maskBit   = 0x80 // second byte: payload is masked
	len7Msk   = 0x7f // second byte: 7-bit length or one of the two markers below

	len16Marker = 126 // the length follows as 16 bits
	len64Marker = 127 // the length follows as 64 bits

	maxLen7  = 125    // the largest length written in the second byte
	maxLen16 = 0xffff // the largest length written as 16 bits

	maskSize = 4 // masking key after the length

	// MaxServerHeaderSize is the largest header a server frame has: 2 bytes
	// and a 64-bit length, no mask (PutFrameHeader never writes more).
	MaxServerHeaderSize = 10
	// closeCodeSize is the status code at the start of a non-empty close payload.
	closeCodeSize = 2
	// MaxCloseReason is the most bytes of reason AppendCloseFrame writes: a
	// control frame carries at most 125 bytes, 2 of them the status code.
	MaxCloseReason = ws.MaxControlFramePayloadSize - closeCodeSize
)

// ParseFrameHeader parses the WebSocket frame header at the start of b and
// returns it and its size n; the payload starts at b[n:] and has h.Length
// bytes, masked with h.Mask when h.Masked. n == 0 with a nil error means b
// holds only part of a header: read more and call again with the longer b.
//
// Errors (all ErrInvalidFrame, returned as soon as the bytes that show them
// arrive): an RSV bit set (ErrFrameRsv; for a connection that negotiated
// permessage-deflate, see ParseDeflateFrameHeader),
// a reserved opcode (ErrFrameOpCode), a control frame without FIN
// (ErrFrameControlFragmented) or with more than 125 bytes (ErrFrameControlLength),
// and a 64-bit length with the high bit set (ErrFrameLength). It does not
// check masking, the order of fragments, or that lengths use the fewest
// bytes; the caller decides about those. It does not allocate.
func ParseFrameHeader(b []byte) (h ws.Header, n int, err error) {
	return parseFrameHeader(b, false)
}

// ParseDeflateFrameHeader is ParseFrameHeader for a connection that
// negotiated permessage-deflate (RFC 7692 §6): RSV1, "compressed", is
// allowed on the first frame of a text or binary message and returned in
// h.Rsv (h.Rsv1() reports it); on a control frame or a continuation it is
// ErrFrameRsv, as RSV2 and RSV3 always are.
func ParseDeflateFrameHeader(b []byte) (h ws.Header, n int, err error) {
	return parseFrameHeader(b, true)
}

func parseFrameHeader(b []byte, deflate bool) (h ws.Header, n int, err error) {
	if len(b) == 0 {
		return h, 0, nil
	}
	h.OpCode = ws.OpCode(b[0] & opcodeMsk)
	if rsv := b[0] & rsvBits; rsv != 0 {
		if !deflate || rsv != rsv1 || h.OpCode != ws.OpText && h.OpCode != ws.OpBinary {
			return ws.Header{}, 0, ErrFrameRsv
		}
		h.Rsv = rsv >> 4
	}
	h.Fin = b[0]&finBit != 0
	if h.OpCode.IsReserved() {
		return ws.Header{}, 0, ErrFrameOpCode
	}
	if h.OpCode.IsControl() && !h.Fin {
		return ws.Header{}, 0, ErrFrameControlFragmented
	}
	if len(b) < 2 {
		return ws.Header{}, 0, nil
	}
	h.Masked = b[1]&maskBit != 0
	l := b[1] & len7Msk
	if h.OpCode.IsControl() && l > maxLen7 {
		return ws.Header{}, 0, ErrFrameControlLength
	}
	n = 2
	switch l {
	case len16Marker:
		n += 2
	case len64Marker:
		n += 8
	}
	if h.Masked {
		n += maskSize
	}
	if len(b) < n {
		return ws.Header{}, 0, nil
	}
	switch l {
	case len16Marker:
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
	case len64Marker:
		v := binary.BigEndian.Uint64(b[2:10])
		if v>>63 != 0 {
			return ws.Header{}, 0, ErrFrameLength
		}
		h.Length = int64(v)
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], b[n-maskSize:n])
	}
	return h, n, nil
}

// FrameHeaderSize returns the size of the unmasked server frame header for a
// payload of n bytes: 2 up to 125, 4 up to 65535, 10 above.
func FrameHeaderSize(n int) int {
	switch {
	case n <= maxLen7:
		return 2
	case n <= maxLen16:
		return 4
	}
	return MaxServerHeaderSize
}

// PutFrameHeader writes the header of a final (FIN), unmasked frame with
// opcode op and an n-byte payload to the start of dst, and returns its size.
// dst must have room for FrameHeaderSize(n) bytes, and n must not be negative.
func PutFrameHeader(dst []byte, op ws.OpCode, n int) int {
	dst[0] = finBit | byte(op)
	switch {
	case n <= maxLen7:
		dst[1] = byte(n)
		return 2
	case n <= maxLen16:
		_ = dst[3]
		dst[1] = len16Marker
		binary.BigEndian.PutUint16(dst[2:4], uint16(n))
		return 4
	}
	_ = dst[9]
	dst[1] = len64Marker
	binary.BigEndian.PutUint64(dst[2:10], uint64(n))
	return MaxServerHeaderSize
}

// AppendFrame appends a complete final, unmasked frame with opcode op and
// the payload to dst, growing dst at most once. It does not allocate when dst
// has room for FrameHeaderSize(len(payload)) + len(payload) more bytes.
func AppendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	hs := FrameHeaderSize(len(payload))
	dst = slices.Grow(dst, hs+len(payload))
	start := len(dst)
	dst = dst[:start+hs]
	PutFrameHeader(dst[start:], op, len(payload))
	return append(dst, payload...)
}

// AppendCloseFrame appends a close frame. A zero code gives the empty payload
// socket.io sends and echoes (README §5); otherwise the payload is the 2-byte
// code and reason, cut to MaxCloseReason bytes without splitting a UTF-8
// sequence. Use ws.StatusMessageTooBig (1009) for a message over maxPayload.
func AppendCloseFrame(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 {
		return AppendFrame(dst, ws.OpClose, nil)
	}
	if len(reason) > MaxCloseReason {
		cut := MaxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	n := closeCodeSize + len(reason)
	dst = slices.Grow(dst, FrameHeaderSize(n)+n)
	start := len(dst)
	dst = dst[:start+FrameHeaderSize(n)]
	PutFrameHeader(dst[start:], ws.OpClose, n)
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// Unmask applies the client's masking key to payload in place (RFC 6455
// §5.3). payload must start at the first payload byte; to unmask a payload
// that arrives in pieces, use ws.Cipher with the offset of each piece.
func Unmask(payload []byte, mask [4]byte) {
	ws.Cipher(payload, mask, 0)
}

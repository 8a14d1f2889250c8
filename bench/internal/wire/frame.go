package wire

import (
	"encoding/binary"
	"errors"
)

// WebSocket opcodes (RFC 6455 §5.2) that the load generator handles.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// ErrFrameTooLarge is returned for a server frame whose declared payload is
// longer than MaxFramePayload.
var ErrFrameTooLarge = errors.New("wire: frame payload too large")

// MaxFramePayload bounds one inbound frame. The servers under test advertise
// maxPayload 1e6, and benchmark payloads are a few hundred bytes, so anything
// larger means the stream is corrupt.
const MaxFramePayload = 4 << 20

// clientMask is the masking key of every client frame. RFC 6455 asks for an
// unpredictable key to defeat cache poisoning by proxies; on loopback with no
// proxy any key is valid, and a fixed one keeps frame building branch-free.
var clientMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// Header is a parsed frame header.
type Header struct {
	Fin     bool
	Rsv1    bool // permessage-deflate: the message is compressed
	Opcode  byte
	Masked  bool
	Mask    [4]byte
	Length  int // payload length
	HeadLen int // bytes of header before the payload
}

// ParseHeader parses the frame header at the start of b. ok is false when b
// holds only part of the header; err is set when the header is invalid.
func ParseHeader(b []byte) (h Header, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv1 = b[0]&0x40 != 0
	h.Opcode = b[0] & 0x0f
	h.Masked = b[1]&0x80 != 0
	n := 2
	length := uint64(b[1] & 0x7f)
	switch length {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		length = uint64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		length = binary.BigEndian.Uint64(b[2:10])
		n = 10
	}
	if length > MaxFramePayload {
		return h, false, ErrFrameTooLarge
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, false, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	h.Length = int(length)
	h.HeadLen = n
	return h, true, nil
}

// Unmask XORs p in place with key, as RFC 6455 §5.3 describes.
func Unmask(p []byte, key [4]byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// AppendClientFrame appends one complete, masked client frame with the given
// opcode and payload to dst and returns the extended slice.
func AppendClientFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, clientMask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	Unmask(dst[start:], clientMask)
	return dst
}

// AppendClientText appends a masked text frame carrying s.
func AppendClientText(dst []byte, s string) []byte {
	return AppendClientFrame(dst, OpText, []byte(s))
}

// AppendServerFrame appends one unmasked server frame (FIN set) with the given
// opcode and payload, as a server writes it.
func AppendServerFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

package eio

import (
	"errors"
	"fmt"
)

// Error classes. Every error returned by this package matches exactly one of
// them with errors.Is, so a caller can map it to a close reason without
// looking at the detail: ErrInvalidPacket is Engine.IO's "parse error",
// ErrInvalidSIOPacket is Socket.IO's "forced close" after a decode failure
// (README §8), ErrInvalidFrame is a WebSocket close with 1002.
var (
	// ErrInvalidPacket reports an Engine.IO packet or polling record that
	// cannot be decoded.
	ErrInvalidPacket = errors.New("eio: invalid packet")

	// ErrInvalidSIOPacket reports a Socket.IO packet that socket.io-parser
	// would reject.
	ErrInvalidSIOPacket = errors.New("eio: invalid socket.io packet")

	// ErrInvalidJSON reports JSON that does not parse, or that has the wrong
	// shape for the helper it was given to.
	ErrInvalidJSON = errors.New("eio: invalid JSON")

	// ErrInvalidFrame reports a WebSocket frame header that breaks RFC 6455
	// for a server that negotiated no extension.
	ErrInvalidFrame = errors.New("eio: invalid frame")
)

// Detailed errors. They wrap one class above and are built once here, so the
// decoders return them without allocating.
var (
	// ErrEmptyPacket: a packet or polling record of zero bytes.
	ErrEmptyPacket = fmt.Errorf("%w: empty", ErrInvalidPacket)
	// ErrPacketType: the first byte is not an Engine.IO type digit '0'..'6'.
	ErrPacketType = fmt.Errorf("%w: unknown packet type", ErrInvalidPacket)
	// ErrBase64: a "b…" polling record whose base64 does not decode.
	ErrBase64 = fmt.Errorf("%w: bad base64 in binary message", ErrInvalidPacket)
	// ErrPayloadV3: an EIO3 polling body whose "<length>:" prefix is not a
	// number, or whose packet runs past the end or is not valid UTF-8.
	ErrPayloadV3 = fmt.Errorf("%w: malformed EIO3 payload", ErrInvalidPacket)

	// ErrSIOType: the first byte is not a Socket.IO type digit '0'..'6'.
	ErrSIOType = fmt.Errorf("%w: unknown packet type", ErrInvalidSIOPacket)
	// ErrSIOAttachments: a BINARY_EVENT or BINARY_ACK without "<n>-", n in
	// 1..MaxAttachments. (On other types "<n>-" reads as an ack id followed by
	// data that is not JSON: ErrSIOJSON.)
	ErrSIOAttachments = fmt.Errorf("%w: bad attachment count", ErrInvalidSIOPacket)
	// ErrSIOAckID: an ack id longer than MaxAckIDDigits or above MaxAckID.
	ErrSIOAckID = fmt.Errorf("%w: bad ack id", ErrInvalidSIOPacket)
	// ErrSIOPayload: data of the wrong shape for the packet type (README §8),
	// including an EVENT named after a reserved event.
	ErrSIOPayload = fmt.Errorf("%w: invalid payload for packet type", ErrInvalidSIOPacket)
	// ErrSIOJSON: the data is not JSON. It matches both ErrInvalidSIOPacket
	// and ErrInvalidJSON.
	ErrSIOJSON = fmt.Errorf("%w: %w", ErrInvalidSIOPacket, ErrInvalidJSON)

	// ErrJSONNotArray: ArrayElements or EventName was given something other
	// than a JSON array.
	ErrJSONNotArray = fmt.Errorf("%w: not an array", ErrInvalidJSON)
	// ErrEventName: the first element of EVENT data is missing or is neither
	// a string nor a number.
	ErrEventName = fmt.Errorf("%w: first element is not an event name", ErrInvalidJSON)

	// ErrFrameRsv: an RSV bit is set, but no extension was negotiated.
	ErrFrameRsv = fmt.Errorf("%w: reserved bits set", ErrInvalidFrame)
	// ErrFrameOpCode: a reserved opcode (0x3-0x7, 0xB-0xF).
	ErrFrameOpCode = fmt.Errorf("%w: reserved opcode", ErrInvalidFrame)
	// ErrFrameControlLength: a control frame with more than 125 bytes of payload.
	ErrFrameControlLength = fmt.Errorf("%w: control frame payload over 125 bytes", ErrInvalidFrame)
	// ErrFrameControlFragmented: a control frame without FIN.
	ErrFrameControlFragmented = fmt.Errorf("%w: fragmented control frame", ErrInvalidFrame)
	// ErrFrameLength: a 64-bit payload length with the most significant bit set.
	ErrFrameLength = fmt.Errorf("%w: 64-bit length with the high bit set", ErrInvalidFrame)
)

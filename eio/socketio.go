package eio

import (
	"bytes"
	"strconv"
)

// SIOType is the Socket.IO protocol 5 packet type, the first digit of the
// data of an Engine.IO message packet (README §8).
type SIOType byte

// Socket.IO protocol 5 packet types.
const (
	SIOConnect      SIOType = iota // '0' C->S with optional auth object; S->C {"sid":…}
	SIODisconnect                  // '1' either way, no data
	SIOEvent                       // '2' ["name", args…]
	SIOAck                         // '3' [results…], with the id of the EVENT it answers
	SIOConnectError                // '4' S->C {"message":…} (or a string)
	SIOBinaryEvent                 // '5' like EVENT with "<n>-" and n binary attachments after it
	SIOBinaryAck                   // '6' like ACK with "<n>-" and n binary attachments after it
)

// sioTypeCount is the number of Socket.IO packet types: the digits '0'..'6'.
const sioTypeCount = 7

var sioTypeNames = [sioTypeCount]string{
	"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK",
}

// String returns the name socket.io-parser uses for t ("EVENT", "BINARY_ACK", …).
func (t SIOType) String() string {
	if t < sioTypeCount {
		return sioTypeNames[t]
	}
	return "SIOType(" + strconv.Itoa(int(t)) + ")"
}

// IsBinary reports whether packets of type t carry an attachment count and
// are followed by that many binary messages.
func (t SIOType) IsBinary() bool {
	return t == SIOBinaryEvent || t == SIOBinaryAck
}

const (
	// NoAckID is SIOPacket.ID when the packet carries no ack id.
	NoAckID int64 = -1

	// MaxAckID is the largest ack id DecodeSIO accepts: 2^53-1, the largest
	// integer a JavaScript number holds exactly. Clients count up from 0.
	MaxAckID int64 = 1<<53 - 1

	// MaxAckIDDigits is the most digits DecodeSIO reads as an ack id
	// (MaxAckID has 16), so a flood of digits is refused early.
	MaxAckIDDigits = 16

	// MaxAttachments is the largest attachment count DecodeSIO accepts, the
	// default maxAttachments of socket.io-parser.
	MaxAttachments = 10

	// maxAttachmentDigits is the most digits read as an attachment count:
	// "10" has two.
	maxAttachmentDigits = 2
)

// rootNamespace is what SIOPacket.Namespace holds when the packet names none.
var rootNamespace = []byte{'/'}

// SIOPacket is one decoded Socket.IO packet. Its slices alias the decoded
// input: copy what must outlive that buffer, and do not modify them.
type SIOPacket struct {
	// Type is the packet type.
	Type SIOType
	// Namespace is "/" when the packet names none. On encode, empty and "/"
	// both write nothing; any other value must start with '/' and must not
	// contain ','.
	Namespace []byte
	// ID is the ack id, NoAckID when absent. On encode any negative value
	// writes none.
	ID int64
	// Attachments is the number of binary messages that follow a
	// BINARY_EVENT or BINARY_ACK; 0 for the other types.
	Attachments int
	// Data is the raw JSON payload, nil when absent.
	Data []byte
}

// DecodeSIO decodes the data of an Engine.IO message packet (without its
// leading '4'):
//
//	<type digit>[<attachments>"-"][<namespace>","][<ack id>][<JSON>]
//
// It applies the checks of socket.io-parser 4.2 (README §8), so that what it
// accepts the Node server accepts too:
//
//   - type '0'..'6' (ErrSIOType; also for empty input);
//   - BINARY_EVENT and BINARY_ACK: 1 or 2 digits and '-', the count 1..MaxAttachments
//     (ErrSIOAttachments); other types have no count: "21-[…]" reads as ack id 1
//     and data "-[…]", which is not JSON;
//   - a namespace only when the next byte is '/'; it ends at the first ',', or
//     runs to the end of the input as in Node, so the message "41/admin" is a
//     DISCONNECT of "/admin" although it has no ',';
//   - an ack id: the decimal digits right after that, at most MaxAckIDDigits
//     digits and at most MaxAckID (ErrSIOAckID);
//   - the rest is the JSON data. It must be valid JSON (ErrSIOJSON) of the shape the
//     type requires (ErrSIOPayload): CONNECT nothing or an object; DISCONNECT nothing;
//     EVENT and BINARY_EVENT a non-empty array whose first element is a number or a
//     string that is not a reserved event name (IsReservedEvent); ACK and BINARY_ACK
//     an array; CONNECT_ERROR a string or an object.
//
// It is stricter than Node in corners no real client reaches: EVENT, ACK and
// CONNECT_ERROR must carry data (Node passes packets like "2" and "30" on
// with undefined data); the data may not start with whitespace (Node reads
// leading spaces as part of the ack id); counts and ids are plain digits
// (Node's Number() also takes "0x1", "1e0" or "001"); ids stop at MaxAckID
// (Node takes any and rounds past 2^53); an empty packet is an error (Node's
// Number("") is 0: it reads a CONNECT to "/").
//
// DecodeSIO does not allocate and does not panic on any input; its errors
// are the sentinels of errors.go, returned as they are. On error the packet
// it returns is incomplete and must not be used.
func DecodeSIO(b []byte) (SIOPacket, error) {
	p := SIOPacket{ID: NoAckID, Namespace: rootNamespace}
	if len(b) == 0 {
		return p, ErrSIOType
	}
	t := SIOType(b[0] - '0')
	if t >= sioTypeCount { // also catches b[0] < '0' by wrapping around
		return p, ErrSIOType
	}
	p.Type = t
	i := 1

	if p.Type.IsBinary() {
		start := i
		n := 0
		for i < len(b) && isDigit(b[i]) && i-start < maxAttachmentDigits {
			n = n*10 + int(b[i]-'0')
			i++
		}
		if i == start || i == len(b) || b[i] != '-' || n < 1 || n > MaxAttachments {
			return p, ErrSIOAttachments
		}
		p.Attachments = n
		i++
	}

	if i < len(b) && b[i] == '/' {
		if j := bytes.IndexByte(b[i:], ','); j >= 0 {
			p.Namespace = b[i : i+j]
			i += j + 1
		} else {
			p.Namespace = b[i:]
			i = len(b)
		}
	}

	if i < len(b) && isDigit(b[i]) {
		start := i
		var id int64
		for i < len(b) && isDigit(b[i]) {
			if i-start == MaxAckIDDigits {
				return p, ErrSIOAckID
			}
			id = id*10 + int64(b[i]-'0')
			i++
		}
		if id > MaxAckID {
			return p, ErrSIOAckID
		}
		p.ID = id
	}

	if i < len(b) {
		p.Data = b[i:]
	}
	return p, checkSIOData(p.Type, p.Data)
}

// checkSIOData applies socket.io-parser's isPayloadValid to data.
func checkSIOData(t SIOType, data []byte) error {
	if data == nil {
		if t == SIOConnect || t == SIODisconnect {
			return nil
		}
		return ErrSIOPayload
	}
	if t == SIODisconnect {
		return ErrSIOPayload
	}
	if !ValidJSON(data) {
		return ErrSIOJSON
	}
	switch t {
	case SIOConnect:
		if data[0] == '{' {
			return nil
		}
	case SIOConnectError:
		if data[0] == '{' || data[0] == '"' {
			return nil
		}
	case SIOAck, SIOBinaryAck:
		if data[0] == '[' {
			return nil
		}
	case SIOEvent, SIOBinaryEvent:
		if data[0] == '[' && validEventName(data) {
			return nil
		}
	}
	return ErrSIOPayload
}

// validEventName reports whether the first element of the valid JSON array
// data is a number or a string that is not a reserved event name.
func validEventName(data []byte) bool {
	i := skipSpace(data, 1)
	switch c := data[i]; {
	case c == '"':
		return !isReservedRaw(data[i:skipString(data, i)])
	case isNumberStart(c):
		return true
	}
	return false // ']' (empty array), object, array, true, false, null
}

func isDigit(c byte) bool {
	return c >= '0' && c <= '9'
}

// AppendSIO appends the wire form of p (without the Engine.IO '4') to dst: the
// type digit, "<Attachments>-" for binary types, Namespace and ',' unless it
// is empty or "/", the ack id unless negative, then Data as it is. It does
// not check p; DecodeSIO of the result gives p back for every p that
// DecodeSIO returned.
func AppendSIO(dst []byte, p SIOPacket) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type.IsBinary() {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if len(p.Namespace) > 0 && !(len(p.Namespace) == 1 && p.Namespace[0] == '/') {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

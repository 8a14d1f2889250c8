package eio

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"
)

// Engine.IO protocol 3, spoken by socket.io v2 clients (socket.io-client
// 2.x, engine.io-client 3.x) and served by engine.io 6 when allowEIO3 is on
// (README §14). Its packets are the v4 ones, type digit and data, and
// WebSocket text frames carry the same bytes. What differs is the polling
// body, which this file reads and writes, and binary data:
//
//	polling body   2:4098:42["connected",{…}]     "<length>:<packet>", repeated, no separator
//	binary, poll   10:b4AQIDBA==                  "b", the type digit ('4': message), base64
//	binary, WS     binary frame 04 01 02 03 04    the type as a byte, then the data
//
// The length counts what JavaScript's String.length counts: UTF-16 code
// units of the packet decoded as UTF-8, not bytes ("42[\"é\"]" is 6 long
// and 7 bytes).

// base64TypeV3 follows base64Prefix in an EIO3 binary record: only message
// packets carry binary data.
const base64TypeV3 = '0' + byte(PacketMessage)

// UTF16Len returns the length JavaScript gives b once decoded as UTF-8:
// the UTF-16 code units of the string, 2 for a character above U+FFFF and
// 1 for any other. Invalid UTF-8 counts as the U+FFFD characters a WHATWG
// decoder (Node's Buffer.toString, a browser's XHR) puts in its place: one
// per maximal invalid subpart, so "\xe2\x9c" (a character cut short) is 1,
// and "\xff\xff" is 2. It does not allocate.
func UTF16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		size := validPrefix(b[i:])
		switch size {
		case 0: // an invalid subpart: one U+FFFD for it
			i += invalidSubpart(b[i:])
			n++
		case 4:
			i += 4
			n += 2
		default:
			i += size
			n++
		}
	}
	return n
}

// validPrefix returns the size of the valid UTF-8 sequence that starts b
// (whose first byte is not ASCII), or 0 when it is not one.
func validPrefix(b []byte) int {
	r, size := utf8.DecodeRune(b)
	if r == utf8.RuneError && size == 1 {
		return 0
	}
	return size
}

// invalidSubpart returns how many bytes at the start of b a WHATWG UTF-8
// decoder replaces with one U+FFFD: the lead byte and the continuation
// bytes that could still have made a valid sequence with it (at least 1).
func invalidSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	default: // a continuation byte or a byte never valid in UTF-8
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// AppendRecordV3 appends pkt to the EIO3 polling body: its UTF16Len, a
// colon, then pkt. pkt may be empty ("0:", which engine.io skips).
func AppendRecordV3(body, pkt []byte) []byte {
	body = strconv.AppendInt(body, int64(UTF16Len(pkt)), 10)
	body = append(body, ':')
	return append(body, pkt...)
}

// NextRecordV3 splits the first record off an EIO3 polling body: rec is the
// packet, rest what follows it (empty after the last); both alias body.
// A record of length 0 ("0:") comes back as an empty rec, which the caller
// skips, as engine.io does.
//
// engine.io rejects the whole body when a length is not a number or runs
// past the end, and so does NextRecordV3, with ErrPayloadV3; it also
// rejects a packet that is not valid UTF-8 or whose length ends inside a
// character above U+FFFF (half a surrogate pair), which engine.io would
// turn into replacement characters. An empty body is ErrEmptyPacket.
// A loop that keeps every error:
//
//	if len(body) == 0 {
//		return errBadPayload
//	}
//	for rest := body; len(rest) > 0; {
//		rec, next, err := eio.NextRecordV3(rest)
//		if err != nil {
//			return err
//		}
//		rest = next
//		if len(rec) == 0 {
//			continue
//		}
//		... // eio.IsBase64Message(rec), else eio.ParsePacket(rec)
//	}
func NextRecordV3(body []byte) (rec, rest []byte, err error) {
	if len(body) == 0 {
		return nil, nil, ErrEmptyPacket
	}
	n, i := 0, 0
	for ; i < len(body) && body[i] != ':'; i++ {
		c := body[i]
		if c < '0' || c > '9' {
			return nil, nil, ErrPayloadV3
		}
		n = n*10 + int(c-'0')
		if n > len(body) { // more characters than bytes left: cannot be
			return nil, nil, ErrPayloadV3
		}
	}
	if i == 0 || i == len(body) { // no digits, or no colon
		return nil, nil, ErrPayloadV3
	}
	data := body[i+1:]
	j, units := 0, 0
	for units < n {
		if j >= len(data) {
			return nil, nil, ErrPayloadV3
		}
		if data[j] < utf8.RuneSelf {
			j++
			units++
			continue
		}
		size := validPrefix(data[j:])
		switch size {
		case 0:
			return nil, nil, ErrPayloadV3
		case 4:
			units += 2
		default:
			units++
		}
		j += size
	}
	if units != n { // the length splits a surrogate pair
		return nil, nil, ErrPayloadV3
	}
	return data[:j], data[j:], nil
}

// AppendBase64MessageV3 appends the EIO3 polling form of the binary
// message bin to dst: "b4" and then bin in standard base64 with padding.
func AppendBase64MessageV3(dst, bin []byte) []byte {
	dst = append(dst, base64Prefix, base64TypeV3)
	return base64.StdEncoding.AppendEncode(dst, bin)
}

// DecodeBase64MessageV3 appends the bytes carried by the EIO3 binary
// record rec ("b4…", see IsBase64Message) to dst. A record of another
// packet type, or whose base64 is malformed, returns dst unchanged and
// ErrBase64.
func DecodeBase64MessageV3(dst, rec []byte) ([]byte, error) {
	if len(rec) < 2 || rec[0] != base64Prefix || rec[1] != base64TypeV3 {
		return dst, ErrBase64
	}
	out, err := base64.StdEncoding.AppendDecode(dst, rec[2:])
	if err != nil {
		return dst, ErrBase64
	}
	return out, nil
}

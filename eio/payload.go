package eio

import (
	"bytes"
	"encoding/base64"
)

// RecordSeparator joins the packets of an EIO4 polling body (README §4):
// `40{…}\x1e42[…]`, with no separator after the last one.
const RecordSeparator byte = 0x1e

// base64Prefix starts a polling record that carries a binary message (README §2).
const base64Prefix = 'b'

// NextRecord splits the first record off a polling body. rec and rest alias
// body. rest is nil after the last record; ok is false only when body is empty.
//
// Node treats an empty body and an empty record (two separators in a row, or
// a separator at the end) as a parse error. A record between two separators
// comes back as an empty rec, which ParsePacket rejects; a separator at the
// end leaves a rest that is empty but not nil, and the next call returns
// ok == false for it. So a loop that keeps every error is:
//
//	for rest := body; ; {
//		rec, next, ok := eio.NextRecord(rest)
//		if !ok {
//			return errBadPayload // empty body, or a separator at the end
//		}
//		if err := handle(rec); err != nil { // ParsePacket / IsBase64Message
//			return err
//		}
//		if next == nil {
//			break
//		}
//		rest = next
//	}
func NextRecord(body []byte) (rec, rest []byte, ok bool) {
	if len(body) == 0 {
		return nil, nil, false
	}
	i := bytes.IndexByte(body, RecordSeparator)
	if i < 0 {
		return body, nil, true
	}
	return body[:i], body[i+1:], true
}

// AppendRecord appends pkt to the polling body, with a RecordSeparator first
// unless body is empty. pkt must not be empty: an empty record cannot be
// told apart from the separators around it.
func AppendRecord(body, pkt []byte) []byte {
	if len(body) > 0 {
		body = append(body, RecordSeparator)
	}
	return append(body, pkt...)
}

// IsBase64Message reports whether the polling record rec is a binary message:
// "b" followed by standard base64 with padding ("bAQIDBA==" is 01 02 03 04).
// It only looks at the first byte; DecodeBase64Message checks the rest.
//
// engine.io-parser decodes "b…" the same way in a WebSocket text frame,
// though clients send binary frames there.
func IsBase64Message(rec []byte) bool {
	return len(rec) > 0 && rec[0] == base64Prefix
}

// DecodeBase64Message appends the bytes carried by the "b…" record rec to dst.
// "b" alone is an empty message. A record that does not start with 'b' or
// whose base64 is malformed (wrong padding, a byte outside the standard
// alphabet) returns dst unchanged and ErrBase64. It does not allocate when
// dst has room for base64.StdEncoding.DecodedLen(len(rec)-1) more bytes.
func DecodeBase64Message(dst, rec []byte) ([]byte, error) {
	if !IsBase64Message(rec) {
		return dst, ErrBase64
	}
	out, err := base64.StdEncoding.AppendDecode(dst, rec[1:])
	if err != nil {
		return dst, ErrBase64
	}
	return out, nil
}

// AppendBase64Message appends the polling form of the binary message bin to
// dst: "b" and then bin in standard base64 with padding.
func AppendBase64Message(dst, bin []byte) []byte {
	dst = append(dst, base64Prefix)
	return base64.StdEncoding.AppendEncode(dst, bin)
}

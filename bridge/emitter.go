package bridge

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The Socket.IO Redis emitter (@socket.io/redis-emitter, and the
// broadcasts of socket.io servers using @socket.io/redis-adapter) publishes
// each io.to(rooms).except(rooms).emit(event, ...args) as one msgpack
// message (notepack.io)
//
//	[uid, {type: 2, data: [event, ...args], nsp: "/"}, {rooms: [...], except: [...], flags: {...}}]
//
// on the channel key + "#" + nsp + "#", or, when exactly one room is
// named, key + "#" + nsp + "#" + room + "#" (key is "socket.io" unless the
// emitter was told otherwise). Config.Emitter makes the bridge subscribe
// to them: by pattern, EmitterPattern, in SubscribePattern and
// SubscribeSharded mode (the emitter PUBLISHes: classic channels); in
// SubscribeDynamic mode, EmitterChannel and the room form of each user's
// or channel's room while it has members here (EmitterRoomChannel). Every
// message becomes one Message of KindEmitter whose frame is the Socket.IO
// event 42[event,...args], the args converted from msgpack to JSON once
// (numbers, strings, maps, arrays, booleans and null exactly; a msgpack
// timestamp as JSON.stringify writes a Date: an ISO 8601 string), with
// Rooms and Except for the engine's BroadcastTo. Only the service's rooms
// are kept (RoomFor's rooms: other names have no members here); an emit
// that named rooms but none of those reaches nobody and is dropped.
//
// Refused, logged (at most one line per invalidLogEvery) and counted by
// reason (Stats.EmitterRefused): binary data (msgpack bin or ext other
// than a timestamp, a BINARY_EVENT packet), a namespace other than "/",
// a flag other than volatile and compress (both honoured as a plain
// broadcast), and anything malformed. The decoder never panics on any
// input (FuzzDecodeEmitter).

// Emitter channels with the default key "socket.io".
const (
	// EmitterChannel is the emitter's broadcast channel of namespace "/".
	EmitterChannel = emitterPrefix + "/#"
	// EmitterPattern matches every namespace's emitter channels, plain
	// and per room, so that other namespaces' emits are seen (and
	// refused) too.
	EmitterPattern = emitterPrefix + "*"

	emitterPrefix = "socket.io#"
)

// EmitterRoomChannel is the channel the emitter publishes an emit to room
// alone on (namespace "/").
func EmitterRoomChannel(room string) string { return EmitterChannel + room + "#" }

// RefuseReason says why an emitter message was refused.
type RefuseReason uint8

// The reasons, for Stats.EmitterRefused and the metric's label.
const (
	// RefuseMalformed: not the emitter's msgpack layout, invalid UTF-8,
	// nesting deeper than maxEmitterDepth, a packet type other than EVENT.
	RefuseMalformed RefuseReason = iota
	// RefuseBinary: binary data (Buffer, ArrayBuffer), which the service's
	// text frames cannot carry.
	RefuseBinary
	// RefuseNamespace: a namespace other than "/".
	RefuseNamespace
	// RefuseFlags: a flag other than volatile and compress, or an ack id.
	RefuseFlags

	// NumRefuseReasons is the length of Stats.EmitterRefused.
	NumRefuseReasons = 4
)

// String returns the reason's metric label.
func (r RefuseReason) String() string {
	switch r {
	case RefuseMalformed:
		return "malformed"
	case RefuseBinary:
		return "binary"
	case RefuseNamespace:
		return "namespace"
	case RefuseFlags:
		return "flags"
	}
	return "unknown"
}

const (
	// maxEmitterDepth bounds the nesting of an emit's arguments: deeper
	// data is refused as malformed rather than risking the stack.
	maxEmitterDepth = 100
	// emitterEvent is socket.io-parser's EVENT packet type; binaryEvent
	// is BINARY_EVENT.
	emitterEvent = 2
	binaryEvent  = 5
	// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER: a larger
	// integer becomes the nearest double in Node, and is written as
	// JSON.stringify writes that double.
	maxSafeInteger = 1<<53 - 1
	// timestampExt is msgpack's timestamp extension type (notepack
	// encodes a Date as one).
	timestampExt = -1
)

// refusal is an emitter message the bridge will not deliver, and why.
type refusal struct {
	reason RefuseReason
	detail string
}

func (r *refusal) Error() string { return r.reason.String() + ": " + r.detail }

func refuse(reason RefuseReason, format string, a ...any) error {
	return &refusal{reason: reason, detail: fmt.Sprintf(format, a...)}
}

// emit is one decoded emitter message.
type emit struct {
	packet     []byte   // 42[event,...args], in the decoder's buffer
	rooms      []string // named rooms, only the service's (RoomFor)
	except     []string // excepted rooms, only the service's
	namedRooms bool     // the message named rooms (so none kept = nobody)
	uid        string   // the publisher: "emitter", or a socket.io server's adapter uid
}

// emitterDecoder converts emitter messages; one per bridge, used only by
// its subscriber goroutine (it reuses its buffers).
type emitterDecoder struct {
	in  []byte
	rd  bytes.Reader
	dec *msgpack.Decoder
	out []byte
}

func newEmitterDecoder() *emitterDecoder {
	d := &emitterDecoder{}
	d.dec = msgpack.NewDecoder(&d.rd) // bytes.Reader is a ByteScanner: no extra buffering
	return d
}

// decode converts one message published on channel. A refused message
// gives a *refusal error. The returned emit's packet is valid until the
// next decode.
func (d *emitterDecoder) decode(channel string, msg []byte) (e emit, err error) {
	if !strings.HasPrefix(channel, EmitterChannel) {
		nsp, _, _ := strings.Cut(strings.TrimPrefix(channel, emitterPrefix), "#")
		return e, refuse(RefuseNamespace, "namespace %q", nsp)
	}
	d.in = msg
	d.rd.Reset(msg)
	d.dec.Reset(&d.rd)
	n, err := d.arrayLen()
	if err != nil {
		return e, err
	}
	if n != 3 {
		return e, refuse(RefuseMalformed, "message is an array of %d, not [uid, packet, opts]", n)
	}
	if e.uid, err = d.optString("uid"); err != nil {
		return e, err
	}
	if err = d.packet(&e); err != nil {
		return e, err
	}
	if err = d.opts(&e); err != nil {
		return e, err
	}
	if d.rd.Len() != 0 {
		return e, refuse(RefuseMalformed, "%d bytes after the message", d.rd.Len())
	}
	e.packet = d.out
	return e, nil
}

// packet reads {type, data, nsp[, id]} and converts data into d.out.
func (d *emitterDecoder) packet(e *emit) error {
	n, err := d.mapLen("packet")
	if err != nil {
		return err
	}
	typ, nsp, data := int64(-1), "/", false
	for range n {
		key, err := d.key()
		if err != nil {
			return err
		}
		switch key {
		case "type":
			if typ, err = d.int("packet type"); err != nil {
				return err
			}
		case "nsp":
			if nsp, err = d.optString("nsp"); err != nil {
				return err
			}
		case "data":
			d.out = append(d.out[:0], "42"...)
			if d.out, err = d.value(d.out, 0); err != nil {
				return err
			}
			data = true
		case "id":
			if c, _ := d.dec.PeekCode(); c != msgpcode.Nil {
				return refuse(RefuseFlags, "an ack id (a broadcast cannot be acknowledged)")
			}
			if err := d.skip(); err != nil {
				return err
			}
		default:
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
	switch {
	case nsp != "/":
		return refuse(RefuseNamespace, "namespace %q", nsp)
	case typ == binaryEvent:
		return refuse(RefuseBinary, "a BINARY_EVENT packet")
	case typ != emitterEvent:
		return refuse(RefuseMalformed, "packet type %d is not EVENT", typ)
	case !data:
		return refuse(RefuseMalformed, "packet without data")
	}
	// data must be [event, ...args] with a string event name:
	// 42[" at least.
	if len(d.out) < 4 || d.out[2] != '[' || d.out[3] != '"' {
		return refuse(RefuseMalformed, "packet data is not [event, ...args]")
	}
	return nil
}

// opts reads {rooms, except, flags}.
func (d *emitterDecoder) opts(e *emit) error {
	if c, err := d.dec.PeekCode(); err == nil && c == msgpcode.Nil {
		return d.skip() // no options: everyone
	}
	n, err := d.mapLen("opts")
	if err != nil {
		return err
	}
	for range n {
		key, err := d.key()
		if err != nil {
			return err
		}
		switch key {
		case "rooms":
			var named int
			if e.rooms, named, err = d.rooms(e.rooms[:0]); err != nil {
				return err
			}
			e.namedRooms = named > 0
		case "except":
			if e.except, _, err = d.rooms(e.except[:0]); err != nil {
				return err
			}
		case "flags":
			if err := d.flags(); err != nil {
				return err
			}
		default:
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
	return nil
}

// rooms reads an array of room names (or nil) and appends the service's
// rooms among them to dst; named counts every name.
func (d *emitterDecoder) rooms(dst []string) (_ []string, named int, err error) {
	if c, err := d.dec.PeekCode(); err == nil && c == msgpcode.Nil {
		return dst, 0, d.skip()
	}
	n, err := d.arrayLen()
	if err != nil {
		return dst, 0, err
	}
	for range n {
		b, err := d.str("room")
		if err != nil {
			return dst, named, err
		}
		named++
		if serviceRoom(b) {
			dst = append(dst, string(b))
		}
	}
	return dst, named, nil
}

// serviceRoom reports whether room is one of the service's rooms (a
// user's, a channel's, the global one): only those can have members of
// namespace "/" here. Other namespaces' rooms ("nsp\x00room") are not.
func serviceRoom(room []byte) bool {
	return string(room) == GlobalRoom ||
		bytes.IndexByte(room, 0) < 0 && ownChannel(string(room))
}

// flags reads the flags map: volatile and compress are honoured as a
// plain broadcast (a volatile emit may be lost, never must be), anything
// else set is refused.
func (d *emitterDecoder) flags() error {
	if c, err := d.dec.PeekCode(); err == nil && c == msgpcode.Nil {
		return d.skip()
	}
	n, err := d.mapLen("flags")
	if err != nil {
		return err
	}
	for range n {
		key, err := d.key()
		if err != nil {
			return err
		}
		c, err := d.dec.PeekCode()
		if err != nil {
			return refuse(RefuseMalformed, "truncated flags")
		}
		set := c != msgpcode.Nil && c != msgpcode.False
		if err := d.skip(); err != nil {
			return err
		}
		if set && key != "volatile" && key != "compress" {
			return refuse(RefuseFlags, "flag %q", key)
		}
	}
	return nil
}

// value converts one msgpack value to JSON, appended to dst.
func (d *emitterDecoder) value(dst []byte, depth int) ([]byte, error) {
	if depth > maxEmitterDepth {
		return dst, refuse(RefuseMalformed, "nested deeper than %d", maxEmitterDepth)
	}
	c, err := d.dec.PeekCode()
	if err != nil {
		return dst, refuse(RefuseMalformed, "truncated")
	}
	switch {
	case c == msgpcode.Nil:
		_ = d.dec.DecodeNil()
		return append(dst, "null"...), nil
	case c == msgpcode.False || c == msgpcode.True:
		v, _ := d.dec.DecodeBool()
		return strconv.AppendBool(dst, v), nil
	case msgpcode.IsFixedNum(c) || c >= msgpcode.Int8 && c <= msgpcode.Int64 ||
		c >= msgpcode.Uint8 && c <= msgpcode.Uint32:
		v, err := d.dec.DecodeInt64()
		if err != nil {
			return dst, refuse(RefuseMalformed, "truncated integer")
		}
		if v > maxSafeInteger || v < -maxSafeInteger {
			return appendJSONNumber(dst, float64(v)), nil
		}
		return strconv.AppendInt(dst, v, 10), nil
	case c == msgpcode.Uint64:
		v, err := d.dec.DecodeUint64()
		if err != nil {
			return dst, refuse(RefuseMalformed, "truncated integer")
		}
		if v > maxSafeInteger {
			return appendJSONNumber(dst, float64(v)), nil
		}
		return strconv.AppendUint(dst, v, 10), nil
	case c == msgpcode.Float || c == msgpcode.Double:
		v, err := d.dec.DecodeFloat64()
		if err != nil {
			return dst, refuse(RefuseMalformed, "truncated float")
		}
		return appendJSONNumber(dst, v), nil
	case msgpcode.IsString(c):
		s, err := d.str("string")
		if err != nil {
			return dst, err
		}
		return appendJSONString(dst, s), nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.arrayLen()
		if err != nil {
			return dst, err
		}
		dst = append(dst, '[')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = d.value(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.mapLen("object")
		if err != nil {
			return dst, err
		}
		dst = append(dst, '{')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			k, err := d.str("object key")
			if err != nil {
				return dst, err
			}
			dst = append(appendJSONString(dst, k), ':')
			if dst, err = d.value(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case msgpcode.IsBin(c):
		return dst, refuse(RefuseBinary, "binary data (a Buffer or ArrayBuffer argument)")
	case msgpcode.IsExt(c):
		return d.ext(dst)
	}
	return dst, refuse(RefuseMalformed, "msgpack code 0x%02x", c)
}

// ext converts a timestamp extension to the string JSON.stringify gives
// a Date (toISOString); other extensions are refused as binary.
func (d *emitterDecoder) ext(dst []byte) ([]byte, error) {
	id, n, err := d.dec.DecodeExtHeader()
	if err != nil {
		return dst, refuse(RefuseMalformed, "truncated extension")
	}
	if id != timestampExt {
		return dst, refuse(RefuseBinary, "msgpack extension type %d", id)
	}
	b, err := d.take(n)
	if err != nil {
		return dst, err
	}
	var sec int64
	var nsec uint32
	switch len(b) {
	case 4:
		sec = int64(be32(b))
	case 8:
		v := uint64(be32(b))<<32 | uint64(be32(b[4:]))
		sec, nsec = int64(v&(1<<34-1)), uint32(v>>34)
	case 12:
		nsec, sec = be32(b), int64(uint64(be32(b[4:]))<<32|uint64(be32(b[8:])))
	default:
		return dst, refuse(RefuseMalformed, "timestamp of %d bytes", len(b))
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if nsec >= 1e9 || t.Year() < 0 || t.Year() > 9999 {
		return dst, refuse(RefuseMalformed, "timestamp out of range")
	}
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	return append(dst, '"'), nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// str reads a msgpack string (never bin) and returns its bytes, a view
// of the input, checked to be UTF-8.
func (d *emitterDecoder) str(what string) ([]byte, error) {
	c, err := d.dec.PeekCode()
	if err != nil || !msgpcode.IsString(c) {
		if err == nil && msgpcode.IsBin(c) {
			return nil, refuse(RefuseBinary, "binary %s", what)
		}
		return nil, refuse(RefuseMalformed, "%s is not a string", what)
	}
	n, err := d.dec.DecodeBytesLen()
	if err != nil {
		return nil, refuse(RefuseMalformed, "truncated %s", what)
	}
	b, err := d.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, refuse(RefuseMalformed, "%s is not UTF-8", what)
	}
	return b, nil
}

// take returns the next n bytes of the input without copying.
func (d *emitterDecoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.rd.Len() {
		return nil, refuse(RefuseMalformed, "truncated: %d bytes announced, %d left", n, d.rd.Len())
	}
	at := len(d.in) - d.rd.Len()
	if _, err := d.rd.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, refuse(RefuseMalformed, "%v", err)
	}
	return d.in[at : at+n], nil
}

func (d *emitterDecoder) key() (string, error) {
	b, err := d.str("key")
	return string(b), err
}

func (d *emitterDecoder) optString(what string) (string, error) {
	c, err := d.dec.PeekCode()
	if err == nil && c == msgpcode.Nil {
		return "", d.skip()
	}
	b, err := d.str(what)
	return string(b), err
}

func (d *emitterDecoder) int(what string) (int64, error) {
	c, err := d.dec.PeekCode()
	if err != nil || !(msgpcode.IsFixedNum(c) || c >= msgpcode.Uint8 && c <= msgpcode.Int64) {
		return 0, refuse(RefuseMalformed, "%s is not an integer", what)
	}
	v, err := d.dec.DecodeInt64()
	if err != nil {
		return 0, refuse(RefuseMalformed, "truncated %s", what)
	}
	return v, nil
}

// arrayLen reads an array header; each element takes at least one byte,
// so a length beyond the input is refused before anything is allocated.
func (d *emitterDecoder) arrayLen() (int, error) {
	c, err := d.dec.PeekCode()
	if err != nil || !(msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32) {
		return 0, refuse(RefuseMalformed, "not an array")
	}
	n, err := d.dec.DecodeArrayLen()
	if err != nil || n < 0 || n > d.rd.Len() {
		return 0, refuse(RefuseMalformed, "truncated array")
	}
	return n, nil
}

func (d *emitterDecoder) mapLen(what string) (int, error) {
	c, err := d.dec.PeekCode()
	if err != nil || !(msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32) {
		return 0, refuse(RefuseMalformed, "%s is not a map", what)
	}
	n, err := d.dec.DecodeMapLen()
	if err != nil || n < 0 || 2*n > d.rd.Len() {
		return 0, refuse(RefuseMalformed, "truncated %s", what)
	}
	return n, nil
}

// skip passes over a value the bridge does not use, through value (so
// that nesting, lengths and binary data are checked the same way), into a
// scratch slice.
func (d *emitterDecoder) skip() error {
	c, err := d.dec.PeekCode()
	if err != nil {
		return refuse(RefuseMalformed, "truncated")
	}
	if msgpcode.IsBin(c) || msgpcode.IsExt(c) {
		// Unused binary data is no reason to refuse; skip its bytes.
		if msgpcode.IsBin(c) {
			n, err := d.dec.DecodeBytesLen()
			if err != nil {
				return refuse(RefuseMalformed, "truncated")
			}
			_, err = d.take(n)
			return err
		}
		_, n, err := d.dec.DecodeExtHeader()
		if err != nil {
			return refuse(RefuseMalformed, "truncated")
		}
		_, err = d.take(n)
		return err
	}
	_, err = d.value(nil, 0)
	return err
}

// appendJSONNumber appends f as JSON.stringify writes a number: the
// shortest representation that reads back as f, NaN and ±Infinity as
// null, -0 as 0.
func appendJSONNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 → e-7, as JavaScript writes exponents.
		if m := len(dst); m-n >= 4 && dst[m-4] == 'e' && dst[m-3] == '-' && dst[m-2] == '0' {
			dst[m-2] = dst[m-1]
			dst = dst[:m-1]
		}
	}
	return dst
}

// appendJSONString appends s (valid UTF-8) as a JSON string the way
// JSON.stringify writes it: only '"', '\\' and control characters are
// escaped.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

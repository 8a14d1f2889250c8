package loadgen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/notify-wss/notify-wss/bench/internal/wire"
)

// Publish modes: how benchmark messages reach Redis (-publish).
const (
	// PublishPlain PUBLISHes the notification JSON on the product's
	// channels (notifications:all, user:notifications:{id}, ...).
	PublishPlain = "plain"
	// PublishSharded SPUBLISHes the same (servers with
	// REDIS_SUBSCRIBE=sharded).
	PublishSharded = "sharded"
	// PublishEmitter PUBLISHes what @socket.io/redis-emitter sends for
	// emitter.to(room).emit("notification", n): a msgpack message on the
	// emitter's per-room channel socket.io#/#{room}#. The server needs
	// EMITTER=on.
	PublishEmitter = "emitter"
)

// The emitter's wire format (@socket.io/redis-emitter 5.x, the layout
// bridge/emitter.go decodes): [uid, packet, opts], encoded by notepack.io,
// on channel key#nsp#room# when exactly one room is named.
const (
	emitterUID     = "emitter"    // the npm emitter's fixed uid
	emitterChannel = "socket.io#" // default key, then nsp "/" and "#"
	emitterEvent   = 2            // Socket.IO packet type EVENT
	benchEvent     = "notification"
)

// Product channel prefixes and the room each maps to (the server's
// RoomFor): the names an emitter user passes to emitter.to().
const (
	chanChannelPrefix = "channel:notifications:"
	roomGlobal        = "global-notifications"
	roomUserPrefix    = "user-notifications:"
	roomChannelPrefix = "channel-notifications:"
)

// emitterRoom maps a product channel to its room.
func emitterRoom(channel string) (string, error) {
	if channel == ChanGlobal {
		return roomGlobal, nil
	}
	if id, ok := strings.CutPrefix(channel, chanUserPrefix); ok && id != "" {
		return roomUserPrefix + id, nil
	}
	if id, ok := strings.CutPrefix(channel, chanChannelPrefix); ok && id != "" {
		return roomChannelPrefix + id, nil
	}
	return "", fmt.Errorf("loadgen: channel %q has no room for the emitter", channel)
}

// emitEncoder builds emitter messages. Not safe for concurrent use.
type emitEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
	pad string
}

func newEmitEncoder(pad int) *emitEncoder {
	e := &emitEncoder{pad: strings.Repeat("x", pad)}
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}

// encode returns the channel and message the npm emitter publishes for
// emitter.to(room).emit("notification", d as the JSON object
// wire.AppendDelivery writes). The object's keys come in the same order,
// so the server's msgpack → JSON conversion gives the loadgen's receivers
// the notification they parse. The message is valid until the next call.
//
// sentAt (Unix ns) is above 2^53, so, as for a JavaScript number, the
// server writes it rounded to a double (within 128 ns).
func (e *emitEncoder) encode(channel string, d wire.Delivery) (string, []byte, error) {
	room, err := emitterRoom(channel)
	if err != nil {
		return "", nil, err
	}
	e.buf.Reset()
	enc := e.enc
	// Errors can only come from the writer, and bytes.Buffer has none.
	_ = enc.EncodeArrayLen(3)
	_ = enc.EncodeString(emitterUID)
	// packet: {type, data: [event, n], nsp}
	_ = enc.EncodeMapLen(3)
	_ = enc.EncodeString("type")
	_ = enc.EncodeInt(emitterEvent)
	_ = enc.EncodeString("data")
	_ = enc.EncodeArrayLen(2)
	_ = enc.EncodeString(benchEvent)
	_ = enc.EncodeMapLen(6)
	_ = enc.EncodeString("type")
	_ = enc.EncodeString("BENCH")
	for _, kv := range [...]struct {
		k string
		v int64
	}{{"ph", d.Phase}, {"id", d.ID}, {"seq", d.Seq}, {"sentAt", d.SentAt}} {
		_ = enc.EncodeString(kv.k)
		_ = enc.EncodeInt(kv.v)
	}
	_ = enc.EncodeString("pad")
	_ = enc.EncodeString(e.pad)
	_ = enc.EncodeString("nsp")
	_ = enc.EncodeString("/")
	// opts: {rooms: [room], flags: {}, except: []}
	_ = enc.EncodeMapLen(3)
	_ = enc.EncodeString("rooms")
	_ = enc.EncodeArrayLen(1)
	_ = enc.EncodeString(room)
	_ = enc.EncodeString("flags")
	_ = enc.EncodeMapLen(0)
	_ = enc.EncodeString("except")
	_ = enc.EncodeArrayLen(0)
	return emitterChannel + "/#" + room + "#", e.buf.Bytes(), nil
}

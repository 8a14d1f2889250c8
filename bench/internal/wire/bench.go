package wire

import (
	"bytes"
	"strconv"
)

// Delivery is what one benchmark notification carries. The generator
// publishes it to Redis as a JSON object whose fields come in this fixed
// order, and the servers relay it unchanged (notify-wss verbatim, Node.js
// through JSON.parse/JSON.stringify, which keeps key order).
//
//	{"type":"BENCH","ph":3,"id":17,"seq":17,"sentAt":1764110000123456789,"pad":"xxxx"}
type Delivery struct {
	// Phase numbers a measurement phase; 0 is reserved for warm-up messages
	// that only prove a client's room membership.
	Phase int64
	// ID numbers the published message within its phase, from 0.
	ID int64
	// Seq numbers the message within the recipient's stream: equal to ID for
	// a room broadcast, a per-user counter for unicast. Gaps are losses.
	Seq int64
	// SentAt is the publisher's wall clock (unix ns) just before PUBLISH.
	SentAt int64
}

var (
	benchTag  = []byte(`"type":"BENCH"`)
	keyPhase  = []byte(`"ph":`)
	keyID     = []byte(`"id":`)
	keySeq    = []byte(`"seq":`)
	keySentAt = []byte(`"sentAt":`)
)

// ParseDelivery extracts the benchmark fields from a notification packet
// (`42["notification",{...}]`). ok is false for any other notification.
func ParseDelivery(p []byte) (d Delivery, ok bool) {
	i := bytes.Index(p, benchTag)
	if i < 0 {
		return d, false
	}
	at := i + len(benchTag)
	if d.Phase, at, ok = intField(p, keyPhase, at); !ok {
		return d, false
	}
	if d.ID, at, ok = intField(p, keyID, at); !ok {
		return d, false
	}
	if d.Seq, at, ok = intField(p, keySeq, at); !ok {
		return d, false
	}
	if d.SentAt, _, ok = intField(p, keySentAt, at); !ok {
		return d, false
	}
	return d, true
}

// AppendDelivery appends the JSON object for d, padded with pad bytes of
// filler so the whole notification reaches a realistic size.
func AppendDelivery(dst []byte, d Delivery, pad int) []byte {
	dst = append(dst, `{"type":"BENCH","ph":`...)
	dst = strconv.AppendInt(dst, d.Phase, 10)
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendInt(dst, d.ID, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, d.Seq, 10)
	dst = append(dst, `,"sentAt":`...)
	dst = strconv.AppendInt(dst, d.SentAt, 10)
	dst = append(dst, `,"pad":"`...)
	for range pad {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

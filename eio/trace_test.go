package eio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// knownBad lists the trace packets the Node server refused, with the error
// DecodeSIO or ParsePacket must give them.
var knownBad = map[string]error{
	`9`:                    ErrPacketType, // e §10: the server closed the session with "parse error"
	`42{"not":"an array"}`: ErrSIOPayload, // e §12: the server closed the session
}

// TestTracePackets decodes every Engine.IO packet of traces a to j, checks
// the result against the capture proxy's own decoding, and encodes it again
// byte for byte.
func TestTracePackets(t *testing.T) {
	counts := map[string]int{}
	for _, f := range textFixtures(t) {
		pkts := f.packets(t)
		if len(pkts) != len(f.labels) {
			t.Fatalf("%v: %d packets, the proxy saw %d", f, len(pkts), len(f.labels))
		}
		if f.isPoll() {
			var body []byte
			for _, p := range pkts {
				body = AppendRecord(body, p)
			}
			if !bytes.Equal(body, f.payload) {
				t.Errorf("%v: AppendRecord rebuilt %q", f, body)
			}
		}
		for i, pkt := range pkts {
			label := f.labels[i]
			counts[label]++
			checkTracePacket(t, f, pkt, label)
		}
	}
	// Every kind of packet the brief asks about was seen.
	for _, label := range []string{
		"eio open", "eio close", "eio ping", "eio pong", `eio ping with data "probe"`, `eio pong with data "probe"`,
		"eio upgrade", "eio noop", "eio message, base64 binary payload", "INVALID eio packet type",
		"eio message -> sio CONNECT", "eio message -> sio DISCONNECT", "eio message -> sio EVENT",
		"eio message -> sio ACK", "eio message -> sio CONNECT_ERROR", "eio message -> sio BINARY_EVENT",
	} {
		if counts[label] == 0 {
			t.Errorf("no fixture labelled %q", label)
		}
	}
	t.Logf("packets by label: %v", counts)
}

func checkTracePacket(t *testing.T, f fixture, pkt []byte, label string) {
	t.Helper()
	if want, bad := knownBad[string(pkt)]; bad {
		err := decodeAll(pkt)
		if !errors.Is(err, want) {
			t.Errorf("%v: %q decoded with error %v, want %v", f, pkt, err, want)
		}
		return
	}
	if IsBase64Message(pkt) {
		if label != "eio message, base64 binary payload" {
			t.Fatalf("%v: %q is base64 but labelled %q", f, pkt, label)
		}
		bin, err := DecodeBase64Message(nil, pkt)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if back := AppendBase64Message(nil, bin); !bytes.Equal(back, pkt) {
			t.Errorf("%v: base64 round trip gave %q", f, back)
		}
		return
	}
	typ, data, err := ParsePacket(pkt)
	if err != nil {
		t.Fatalf("%v: ParsePacket(%q): %v", f, pkt, err)
	}
	if back := AppendPacket(nil, typ, data); !bytes.Equal(back, pkt) {
		t.Errorf("%v: AppendPacket gave %q", f, back)
	}
	// The proxy writes "eio <type>", "eio <type> with data "probe"" or
	// "eio message -> sio <TYPE>".
	eioName, sioName, _ := strings.Cut(strings.TrimPrefix(label, "eio "), " -> sio ")
	eioName, withData, _ := strings.Cut(eioName, " with data ")
	if typ.String() != eioName {
		t.Errorf("%v: type %v, the proxy saw %q", f, typ, label)
	}
	if withData != "" && `"`+string(data)+`"` != withData {
		t.Errorf("%v: data %q, the proxy saw %s", f, data, withData)
	}
	switch typ {
	case PacketOpen:
		checkTraceOpen(t, f, pkt)
	case PacketMessage:
		p, err := DecodeSIO(data)
		if err != nil {
			t.Fatalf("%v: DecodeSIO(%q): %v", f, data, err)
		}
		if p.Type.String() != sioName {
			t.Errorf("%v: Socket.IO type %v, the proxy saw %q", f, p.Type, label)
		}
		if back := AppendSIO(nil, p); !bytes.Equal(back, data) {
			t.Errorf("%v: AppendSIO(%+v) = %q", f, p, back)
		}
		if p.Type == SIOEvent || p.Type == SIOBinaryEvent {
			if _, err := EventName(p.Data); err != nil {
				t.Errorf("%v: EventName: %v", f, err)
			}
		}
	default:
		if sioName != "" {
			t.Errorf("%v: not a message, the proxy saw %q", f, label)
		}
	}
}

// decodeAll runs a packet through ParsePacket and, for a message, DecodeSIO.
func decodeAll(pkt []byte) error {
	typ, data, err := ParsePacket(pkt)
	if err != nil || typ != PacketMessage {
		return err
	}
	_, err = DecodeSIO(data)
	return err
}

// checkTraceOpen rebuilds an open packet from its fields with AppendOpen.
func checkTraceOpen(t *testing.T, f fixture, pkt []byte) {
	t.Helper()
	var hs struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	if err := json.Unmarshal(pkt[1:], &hs); err != nil {
		t.Fatalf("%v: %v", f, err)
	}
	o := OpenInfo{
		SID:          hs.SID,
		PingInterval: time.Duration(hs.PingInterval) * time.Millisecond,
		PingTimeout:  time.Duration(hs.PingTimeout) * time.Millisecond,
		MaxPayload:   hs.MaxPayload,
	}
	if len(hs.Upgrades) > 0 {
		o.Upgrades = hs.Upgrades
	}
	if got := AppendOpen(nil, o); !bytes.Equal(got, pkt) {
		t.Errorf("%v:\nAppendOpen = %s\nwant         %s", f, got, pkt)
	}
	// A polling session offers the upgrade; a session opened on a WebSocket offers none (README §3).
	if f.isPoll() != (len(hs.Upgrades) == 1 && hs.Upgrades[0] == "websocket") {
		t.Errorf("%v: upgrades %q on carrier %s", f, hs.Upgrades, f.carrier)
	}
}

// TestTraceFrames rebuilds every WebSocket frame of the traces: the server's
// with AppendFrame / AppendCloseFrame, the client's masked ones with gobwas/ws,
// and parses them back with ParseFrameHeader.
func TestTraceFrames(t *testing.T) {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	n := 0
	for _, f := range loadFixtures(t) {
		if f.isPoll() {
			continue
		}
		n++
		kind, fin, masked, length := f.frame(t)
		op := map[string]ws.OpCode{"text": ws.OpText, "binary": ws.OpBinary, "close": ws.OpClose}[kind]
		if !fin || masked != (f.dir == "C->S") {
			t.Errorf("%v: fin=%v masked=%v", f, fin, masked)
		}
		payload := f.payload
		if payload == nil { // e §14: only the header is known
			payload = bytes.Repeat([]byte{'x'}, int(length))
		}
		if f.raw == "close:1009" {
			payload = []byte{0x03, 0xf1}
		}
		if int64(len(payload)) != length {
			t.Fatalf("%v: payload of %d bytes, header says %d", f, len(payload), length)
		}

		var frame []byte
		if masked {
			var buf bytes.Buffer
			h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: mask, Length: length}
			if err := ws.WriteHeader(&buf, h); err != nil {
				t.Fatal(err)
			}
			body := bytes.Clone(payload)
			ws.Cipher(body, mask, 0)
			frame = append(buf.Bytes(), body...)
		} else {
			frame = AppendFrame(nil, op, payload)
			if op == ws.OpClose {
				var code ws.StatusCode
				if len(payload) == 2 {
					code = ws.StatusMessageTooBig
				}
				if got := AppendCloseFrame(nil, code, ""); !bytes.Equal(got, frame) {
					t.Errorf("%v: AppendCloseFrame = % x, want % x", f, got, frame)
				}
			}
		}

		h, hn, err := ParseFrameHeader(frame)
		if err != nil || hn == 0 {
			t.Fatalf("%v: ParseFrameHeader: n=%d err=%v", f, hn, err)
		}
		want := ws.Header{Fin: true, OpCode: op, Masked: masked, Length: length}
		if masked {
			want.Mask = mask
		}
		if h != want {
			t.Errorf("%v: header %+v, want %+v", f, h, want)
		}
		if hn+int(h.Length) != len(frame) {
			t.Errorf("%v: header %d + payload %d != frame %d", f, hn, h.Length, len(frame))
		}
		body := frame[hn:]
		if h.Masked {
			Unmask(body, h.Mask)
		}
		if !bytes.Equal(body, payload) {
			t.Errorf("%v: payload %q", f, body)
		}
	}
	if n < 100 {
		t.Errorf("only %d frames in the fixtures", n)
	}
}

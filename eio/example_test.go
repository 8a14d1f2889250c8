package eio_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/gobwas/ws"

	"github.com/notify-wss/notify-wss/eio"
)

// A client frame from trace j §2: an EVENT with an ack id in /admin.
func ExampleDecodeSIO() {
	typ, data, err := eio.ParsePacket([]byte(`42/admin,0["admin-ping"]`))
	if err != nil || typ != eio.PacketMessage {
		panic(err)
	}
	p, err := eio.DecodeSIO(data)
	if err != nil {
		panic(err)
	}
	name, _ := eio.EventName(p.Data)
	fmt.Printf("%v nsp=%s id=%d event=%s data=%s\n", p.Type, p.Namespace, p.ID, name, p.Data)

	// The answer: the same namespace and id, type ACK.
	ack := eio.SIOPacket{Type: eio.SIOAck, Namespace: p.Namespace, ID: p.ID, Data: []byte(`["admin-pong"]`)}
	fmt.Printf("%s\n", eio.AppendSIO(eio.AppendPacket(nil, eio.PacketMessage, nil), ack))
	// Output:
	// EVENT nsp=/admin id=0 event=admin-ping data=["admin-ping"]
	// 43/admin,0["admin-pong"]
}

// Trace e §12: the packet the Node server refused.
func ExampleDecodeSIO_invalid() {
	_, err := eio.DecodeSIO([]byte(`2{"not":"an array"}`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, eio.ErrInvalidSIOPacket))
	// Output:
	// eio: invalid socket.io packet: invalid payload for packet type
	// true
}

// A polling body from trace i §3 (a BINARY_EVENT and its attachment, here in
// one body), read record by record.
func ExampleNextRecord() {
	body := []byte("451-[\"binary-data\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA==")
	for rest := body; ; {
		rec, next, ok := eio.NextRecord(rest)
		if !ok {
			fmt.Println("malformed body")
			return
		}
		if eio.IsBase64Message(rec) {
			bin, err := eio.DecodeBase64Message(nil, rec)
			fmt.Printf("binary % x %v\n", bin, err)
		} else {
			typ, data, err := eio.ParsePacket(rec)
			fmt.Printf("%v %s %v\n", typ, data, err)
		}
		if next == nil {
			break
		}
		rest = next
	}
	// Output:
	// message 51-["binary-data",{"_placeholder":true,"num":0}] <nil>
	// binary 01 02 03 04 <nil>
}

// The open packet of a session opened directly over WebSocket (trace b §1).
func ExampleAppendOpen() {
	pkt := eio.AppendOpen(nil, eio.OpenInfo{
		SID:          "4c0HS5xVFQ4XbIsLAAAB",
		PingInterval: 25 * time.Second,
		PingTimeout:  20 * time.Second,
		MaxPayload:   1000000,
	})
	fmt.Printf("%s\n", pkt)
	// Output:
	// 0{"sid":"4c0HS5xVFQ4XbIsLAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
}

// Reading a masked client frame that arrives in two pieces.
func ExampleParseFrameHeader() {
	frame := []byte{0x81, 0x86, 0x37, 0xfa, 0x21, 0x3d, 0x05, 0x8a, 0x53, 0x52, 0x55, 0x9f} // "2probe"
	_, n, err := eio.ParseFrameHeader(frame[:3])
	fmt.Println("3 bytes:", n, err)

	h, n, err := eio.ParseFrameHeader(frame)
	fmt.Println("all:", n, err, h.OpCode == ws.OpText, h.Masked, h.Length)
	payload := frame[n : n+int(h.Length)]
	eio.Unmask(payload, h.Mask)
	fmt.Printf("%s\n", payload)
	// Output:
	// 3 bytes: 0 <nil>
	// all: 6 <nil> true true 6
	// 2probe
}

// A server frame built in place: reserve the largest header, write the
// packet after it, then put the header right before the packet.
func ExamplePutFrameHeader() {
	buf := make([]byte, eio.MaxServerHeaderSize, 128)
	buf = eio.AppendPacket(buf, eio.PacketPong, []byte("probe"))
	n := len(buf) - eio.MaxServerHeaderSize
	start := eio.MaxServerHeaderSize - eio.FrameHeaderSize(n)
	eio.PutFrameHeader(buf[start:], ws.OpText, n)
	fmt.Printf("% x\n", buf[start:])
	// Output:
	// 81 06 33 70 72 6f 62 65
}

func ExampleAppendCloseFrame() {
	fmt.Printf("% x\n", eio.AppendCloseFrame(nil, 0, ""))                      // what socket.io sends
	fmt.Printf("% x\n", eio.AppendCloseFrame(nil, ws.StatusMessageTooBig, "")) // over maxPayload (e §14)
	// Output:
	// 88 00
	// 88 02 03 f1
}

// Package eio holds the wire codecs of a Socket.IO v4 server: Engine.IO
// protocol 4 packets and polling bodies, Socket.IO protocol 5 packets, the
// few JSON helpers they need, and server-side WebSocket (RFC 6455) frame
// headers. It is bytes in, packets out: no I/O, no goroutines, no logging,
// no state. Every function is safe to call from any goroutine; the decoders
// return slices that alias their input.
//
// The encodings follow what the Node reference (socket.io 4.8, engine.io 6.6,
// socket.io-parser 4.2) puts on the wire, as captured in
// shared/protocol/README.md; section numbers in the comments (§8) point there.
//
// # Layers
//
// A WebSocket message or a polling record is one Engine.IO packet: a type
// digit and data. A message packet ('4') carries one Socket.IO packet:
//
//	WebSocket text frame   42/admin,7["ping",{"n":1}]
//	                       |`-------- Socket.IO EVENT, namespace /admin, ack id 7, data ["ping",{"n":1}]
//	                       `- Engine.IO message
//
// Over HTTP long-polling, a body joins several packets with RecordSeparator
// (0x1e), and binary data travels as a "b"+base64 record. Over WebSocket,
// binary data is a binary frame with the raw bytes and no prefix.
//
// Engine.IO protocol 3 (socket.io v2 clients, README §14) has the same
// packets; its polling body is "<length>:<packet>" repeated, the length in
// UTF-16 code units, and binary goes as "b4"+base64 there (payload3.go:
// NextRecordV3, AppendRecordV3, UTF16Len).
//
// # Reading
//
// After a WebSocket frame is complete (ParseFrameHeader, then Unmask of the
// payload), or for each record of a polling body (NextRecord):
//
//	if eio.IsBase64Message(rec) { // polling only: a binary attachment
//		att, err = eio.DecodeBase64Message(att[:0], rec)
//		...
//	}
//	t, data, err := eio.ParsePacket(rec)
//	if err != nil {
//		// close the session: "parse error"
//	}
//	if t == eio.PacketMessage {
//		p, err := eio.DecodeSIO(data)
//		if err != nil {
//			// close the session, like Node's "forced close"
//		}
//		switch p.Type {
//		case eio.SIOEvent:
//			name, _ := eio.EventName(p.Data) // cannot fail once DecodeSIO accepted p
//			...
//		case eio.SIOBinaryEvent, eio.SIOBinaryAck:
//			// p.Attachments binary messages follow; keep p until they arrive
//		}
//	}
//
// DecodeSIO, ParsePacket, NextRecord, ArrayElements and ParseFrameHeader do
// not allocate. EventName allocates the returned string; AppendEventName
// does not.
//
// # Writing
//
// The Append functions follow strconv.AppendInt: they append to dst and
// return the extended slice, so one buffer can be reused for every frame:
//
//	buf = buf[:0]
//	buf = eio.AppendPacket(buf, eio.PacketMessage, nil)
//	buf = eio.AppendSIO(buf, eio.SIOPacket{Type: eio.SIOEvent, ID: eio.NoAckID, Data: args})
//	frame = eio.AppendFrame(frame[:0], ws.OpText, buf) // or AppendRecord(body, buf) for polling
//
// To build the frame in place, reserve MaxServerHeaderSize bytes in front of
// the packet and call PutFrameHeader once its length is known.
//
// # Errors
//
// Every error is one of the sentinels in errors.go, which wrap the four
// classes ErrInvalidPacket, ErrInvalidSIOPacket, ErrInvalidJSON and
// ErrInvalidFrame; test them with errors.Is. The decoders return them as they
// are, without wrapping, so an error costs no allocation.
package eio

package engine

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/notify-wss/notify-wss/eio"
)

// zMessage is a testMessage that is also a Deflater, compressed once.
type zMessage struct {
	testMessage
	zframe []byte
	asked  atomic.Int32 // DeflatedFrame calls
}

func newZMessage(packet string) *zMessage {
	m := &zMessage{}
	m.packet = []byte(packet)
	m.frame = eio.AppendFrame(nil, ws.OpText, m.packet)
	m.zframe, _ = eio.AppendDeflatedFrame(nil, ws.OpText, m.packet)
	m.refs.Store(1)
	return m
}

func (m *zMessage) DeflatedFrame() []byte { m.asked.Add(1); return m.zframe }

// bigPacket is a notification packet over the default CompressionMinBytes.
func bigPacket(tag string) string {
	return `42["notification",{"type":"TIP","tag":"` + tag + `","message":"` + strings.Repeat("thanks for the stream! ", 40) + `"}]`
}

// deliverAll is deliverNow for any Message.
func (sh *shard) deliverAll(msgs ...Message) {
	sh.scheduled.Store(true)
	for _, m := range msgs {
		m.Retain(1)
		sh.enqueue("global", m, nil, false)
	}
	for sh.scheduled.Load() {
		sh.drain()
		if sh.queue.len() > 0 {
			sh.scheduled.Store(true)
		}
	}
}

// Members that negotiated permessage-deflate get the compressed frame,
// the others the plain one; a coalesced run mixes compressed frames and
// plain ones (small packets, plain Messages); nothing is allocated, and
// each message is asked for its compressed frame once per run, not per
// member.
func TestFanoutDeflate(t *testing.T) {
	sh, conns := fanoutShard(10)
	for slot := range 5 {
		sh.members[slot].ws.deflate = true
	}
	big, big2 := newZMessage(bigPacket("a")), newZMessage(bigPacket("b"))
	small := newZMessage(`42["notification",{"type":"TIP","amount":5}]`)
	plain := newTestMessage(bigPacket("not a Deflater"))
	if big.zframe == nil || small.zframe == nil {
		t.Fatal("test messages do not compress")
	}
	for _, tt := range []struct {
		label       string
		run         []Message
		plain, zipd []byte
		compressed  uint64 // per deflate member
	}{
		{"one large", []Message{big}, big.frame, big.zframe, 1},
		{"one small", []Message{small}, small.frame, small.frame, 0},
		{"not a Deflater", []Message{plain}, plain.frame, plain.frame, 0},
		{"coalesced", []Message{big, small, plain, big2},
			cat(big.frame, small.frame, plain.frame, big2.frame), cat(big.zframe, small.frame, plain.frame, big2.zframe), 2},
	} {
		for _, c := range conns {
			c.written = 0
		}
		before := sh.counters.Compressed.Load()
		asked := big.asked.Load()
		sh.deliverAll(tt.run...)
		for i, c := range conns {
			want := tt.plain
			if i < 5 {
				want = tt.zipd
			}
			if c.written != len(want) {
				t.Errorf("%s: member %d got %d bytes, want %d", tt.label, i, c.written, len(want))
			}
		}
		if got := sh.counters.Compressed.Load() - before; got != 5*tt.compressed {
			t.Errorf("%s: %d compressed deliveries counted, want %d", tt.label, got, 5*tt.compressed)
		}
		if n := big.asked.Load() - asked; n > 1 {
			t.Errorf("%s: DeflatedFrame asked %d times for one run", tt.label, n)
		}
	}
	if small.asked.Load() != 0 {
		t.Errorf("a packet under CompressionMinBytes was compressed")
	}
	run := []Message{big, small, plain, big2}
	if allocs := testing.AllocsPerRun(50, func() { sh.deliverAll(run...) }); allocs != 0 {
		t.Fatalf("a coalesced run to deflate members allocated %.1f times", allocs)
	}
	if allocs := testing.AllocsPerRun(50, func() { sh.deliverAll(big) }); allocs != 0 {
		t.Fatalf("one broadcast to deflate members allocated %.1f times", allocs)
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// openDeflateWS performs the WebSocket handshake offering extensions (none
// when offer is ""), and returns the Sec-WebSocket-Extensions answered.
func (c *client) openDeflateWS(offer string) string {
	c.t.Helper()
	hdr := ""
	if offer != "" {
		hdr = "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}
	c.send([]byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"+wsHeaders+hdr+"\r\n"), false)
	r := c.readResponse()
	if r.status != 101 {
		c.t.Fatalf("handshake: %+v", r)
	}
	if h, p := c.readRawFrame(); h.OpCode != ws.OpText || p[0] != '0' || h.Rsv != 0 {
		c.t.Fatalf("open packet: %+v %q", h, p)
	}
	return r.headers["sec-websocket-extensions"]
}

// readRawFrame reads one server frame, header included.
func (c *client) readRawFrame() (ws.Header, []byte) {
	c.t.Helper()
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return h, p
}

// deflateClient compresses a message as a client would (gobwas' wsflate
// writer over the standard library's compressor, not eio's code).
func deflateClient(t *testing.T, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := wsflate.NewWriter(&buf, func(w io.Writer) wsflate.Compressor {
		fw, _ := flate.NewWriter(w, flate.BestCompression)
		return fw
	})
	_, _ = w.Write(msg)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeCompressed sends msg as a compressed client frame (RSV1).
func (c *client) writeCompressed(op ws.OpCode, z []byte) {
	c.t.Helper()
	h := ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: op, Masked: true, Mask: [4]byte{9, 8, 7, 6}, Length: int64(len(z))}
	var buf bytes.Buffer
	_ = ws.WriteHeader(&buf, h)
	p := append([]byte(nil), z...)
	ws.Cipher(p, h.Mask, 0)
	buf.Write(p)
	c.send(buf.Bytes(), false)
}

// inflateServer inflates a compressed server frame's payload, as a
// client would.
func inflateServer(t *testing.T, p []byte) string {
	t.Helper()
	r := wsflate.NewReader(bytes.NewReader(p), func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return string(out)
}

func TestDeflateNegotiation(t *testing.T) {
	on, _ := startTestServer(t, Config{Compression: true})
	off, _ := startTestServer(t, Config{})
	for _, tt := range []struct {
		label string
		srv   *Server
		offer string
		want  string
	}{
		{"Chrome's offer", on, "permessage-deflate; client_max_window_bits", eio.DeflateExtension},
		{"Node ws' offer", on, "permessage-deflate; client_max_window_bits", eio.DeflateExtension},
		{"no offer", on, "", ""},
		{"server_max_window_bits=9 declined", on, "permessage-deflate; server_max_window_bits=9", ""},
		{"unknown parameter declined", on, "permessage-deflate; foo", ""},
		{"compression off", off, "permessage-deflate; client_max_window_bits", ""},
	} {
		c := dial(t, tt.srv)
		if got := c.openDeflateWS(tt.offer); got != tt.want {
			t.Errorf("%s: Sec-WebSocket-Extensions %q, want %q", tt.label, got, tt.want)
		}
	}
}

// A client that negotiated permessage-deflate receives large broadcasts
// compressed (RSV1) and small ones plain, while a client that did not
// gets them all plain; its compressed messages, whole or fragmented,
// reach the handler inflated.
func TestDeflateWebSocket(t *testing.T) {
	srv, _ := startTestServer(t, Config{Compression: true})
	zc, pc := dial(t, srv), dial(t, srv)
	if ext := zc.openDeflateWS("permessage-deflate; client_max_window_bits"); ext == "" {
		t.Fatal("not negotiated")
	}
	pc.openWS(false)
	for _, c := range []*client{zc, pc} {
		c.sendText(`40{"token":"ok"}`)
		c.readText()
		c.readText()
		c.sendText(`421["join","room-z"]`)
		if r := c.readText(); r != `431["joined"]` {
			t.Fatalf("ack %q", r)
		}
	}
	big, small := newZMessage(bigPacket("x")), newZMessage(`42["notification",{"n":1}]`)
	srv.Broadcast("room-z", big)
	srv.Broadcast("room-z", small)
	for _, m := range []*zMessage{big, small} {
		h, p := zc.readRawFrame()
		if compressed := m == big; h.Rsv1() != compressed {
			t.Fatalf("deflate client: RSV1 %v for %d-byte packet", h.Rsv1(), len(m.packet))
		}
		got := string(p)
		if h.Rsv1() {
			got = inflateServer(t, p)
		}
		if got != string(m.packet) {
			t.Fatalf("deflate client got %q", got[:min(len(got), 60)])
		}
		if h, p := pc.readRawFrame(); h.Rsv != 0 || string(p) != string(m.packet) {
			t.Fatalf("plain client got %+v %q", h, p[:min(len(p), 60)])
		}
	}
	if n := srv.Counters().Compressed; n != 1 {
		t.Errorf("Counters().Compressed = %d, want 1", n)
	}

	// Client → server, compressed: echoed back (plain: the server does not
	// compress its own replies).
	echo := `42["echo",{"text":"` + strings.Repeat("compress me ", 100) + `"}]`
	zc.writeCompressed(ws.OpText, deflateClient(t, []byte(echo)))
	if r := zc.readText(); r != echo {
		t.Fatalf("echo of a compressed message: %q", r[:min(len(r), 60)])
	}
	// Fragmented: RSV1 on the first fragment only.
	z := deflateClient(t, []byte(`42["echo","frag"]`))
	h := ws.Header{Rsv: ws.Rsv(true, false, false), OpCode: ws.OpText, Masked: true, Mask: [4]byte{1, 1, 1, 1}, Length: 3}
	var buf bytes.Buffer
	_ = ws.WriteHeader(&buf, h)
	first := append([]byte(nil), z[:3]...)
	ws.Cipher(first, h.Mask, 0)
	buf.Write(first)
	zc.send(buf.Bytes(), false)
	zc.writeFrame(ws.OpContinuation, true, z[3:], false)
	if r := zc.readText(); r != `42["echo","frag"]` {
		t.Fatalf("echo of a fragmented compressed message: %q", r)
	}
	if n := srv.Counters().Inflated; n != 2 {
		t.Errorf("Counters().Inflated = %d, want 2", n)
	}
}

func TestDeflateClientErrors(t *testing.T) {
	srv, _ := startTestServer(t, Config{Compression: true, MaxPayload: 1000})
	offer := "permessage-deflate"
	for _, tt := range []struct {
		label string
		offer string
		send  func(c *client)
		code  ws.StatusCode
	}{
		{"inflates over maxPayload", offer, func(c *client) {
			c.writeCompressed(ws.OpText, deflateClient(t, []byte("4"+strings.Repeat("x", 5000))))
		}, ws.StatusMessageTooBig},
		{"not DEFLATE", offer, func(c *client) { c.writeCompressed(ws.OpText, []byte("not deflate data")) }, ws.StatusInvalidFramePayloadData},
		{"truncated", offer, func(c *client) {
			z := deflateClient(t, []byte(`42["echo","`+strings.Repeat("abc", 100)+`"]`))
			c.writeCompressed(ws.OpText, z[:len(z)/2])
		}, ws.StatusInvalidFramePayloadData},
		{"RSV1 on a ping", offer, func(c *client) { c.send([]byte{0xc9, 0x80, 0, 0, 0, 0}, false) }, ws.StatusProtocolError},
		{"RSV1 on a continuation", offer, func(c *client) {
			c.writeFrame(ws.OpText, false, []byte("4"), false)
			c.send([]byte{0xc0, 0x81, 0, 0, 0, 0, 'x'}, false)
		}, ws.StatusProtocolError},
		{"RSV2", offer, func(c *client) { c.send([]byte{0xa1, 0x81, 0, 0, 0, 0, '4'}, false) }, ws.StatusProtocolError},
		{"RSV1 without the extension", "", func(c *client) {
			c.writeCompressed(ws.OpText, deflateClient(t, []byte("4hi")))
		}, ws.StatusProtocolError},
	} {
		t.Run(tt.label, func(t *testing.T) {
			c := dial(t, srv)
			c.openDeflateWS(tt.offer)
			tt.send(c)
			if code := c.expectClose(); code != tt.code {
				t.Fatalf("close code %d, want %d", code, tt.code)
			}
		})
	}
}

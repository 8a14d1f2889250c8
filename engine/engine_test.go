package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/notify-wss/notify-wss/eio"
)

// These tests run a real Server on loopback and talk to it with a raw TCP
// client, byte by byte where it matters, so every parser meets partial
// reads the way gnet delivers them.

// testHandler accepts the token "ok" (in the auth payload, or else in the
// query string, as socket.io v2 clients send it) and echoes events.
type testHandler struct {
	disconnects atomic.Int64
	// connected, when set (between New and Run), is called with every
	// socket after its hello.
	connected func(*Socket)
	// held receives the sockets that connected with the token "hold":
	// their CONNECT reply is held (HoldConnect) and they get no hello.
	held chan *Socket
}

func (h *testHandler) Connect(s *Socket, auth []byte) error {
	var a struct{ Token string }
	_ = json.Unmarshal(auth, &a)
	if a.Token == "" {
		a.Token = s.Handshake().QueryValue("token")
	}
	switch a.Token {
	case "ok":
	case "hold":
		s.HoldConnect()
	default:
		return &ConnectError{Message: "Authentication failed", Data: map[string]string{"reason": "bad"}}
	}
	return nil
}

func (h *testHandler) Connected(s *Socket) {
	if s.held {
		h.held <- s
		return
	}
	_ = s.Emit("hello", s.ID())
	if h.connected != nil {
		h.connected(s)
	}
}

func (h *testHandler) Event(s *Socket, ev *Event) {
	switch ev.Name {
	case "join":
		var room string
		_ = json.Unmarshal(ev.Arg(0), &room)
		s.Join(room)
		if ev.WantsAck() {
			_ = s.Ack(ev.ID, "joined")
		}
	case "echo":
		s.EmitRaw(ev.Data, ev.Attachments)
	case "bye":
		s.Disconnect(true)
	}
}

func (h *testHandler) Disconnect(*Socket, CloseReason) { h.disconnects.Add(1) }

// testMessage is a Message for Broadcast.
type testMessage struct {
	frame, packet []byte
	refs          atomic.Int32
}

func newTestMessage(packet string) *testMessage {
	m := &testMessage{packet: []byte(packet)}
	m.frame = eio.AppendFrame(nil, ws.OpText, m.packet)
	m.refs.Store(1)
	return m
}

func (m *testMessage) Frame() []byte  { return m.frame }
func (m *testMessage) Packet() []byte { return m.packet }
func (m *testMessage) Retain(n int32) { m.refs.Add(n) }
func (m *testMessage) Release()       { m.refs.Add(-1) }
func (m *testMessage) released() bool { return m.refs.Load() == 0 }
func (m *testMessage) String() string { return string(m.packet) }

// waitReleased waits until every loop has let go of m.
func waitReleased(t *testing.T, m *testMessage) {
	t.Helper()
	eventually(t, "every reference to "+m.String()+" to be released", m.released)
}

func startTestServer(t *testing.T, cfg Config) (*Server, *testHandler) {
	t.Helper()
	return startTestServerWith(t, cfg, nil)
}

// startTestServerWith is startTestServer with setup, when not nil, called
// on the server between New and Run (to set test hooks).
func startTestServerWith(t *testing.T, cfg Config, setup func(*Server)) (*Server, *testHandler) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = l.Addr().String()
	l.Close()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &testHandler{held: make(chan *Socket, 16)}
	srv := New(cfg, h)
	if setup != nil {
		setup(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()
	select {
	case <-srv.Booted():
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		<-done
	})
	return srv, h
}

// client is a raw TCP client.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, srv *Server) *client {
	t.Helper()
	return dialWith(t, srv, &net.Dialer{})
}

// dialSmallWindow is dial with a 4 KiB receive buffer, so that a client
// that stops reading shows its backlog in the server's outbound buffer
// instead of the kernel's.
func dialSmallWindow(t *testing.T, srv *Server) *client {
	t.Helper()
	return dialWith(t, srv, &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}})
}

func dialWith(t *testing.T, srv *Server, d *net.Dialer) *client {
	t.Helper()
	c, err := d.Dial("tcp", srv.cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes b, one byte per write when slow is set.
func (c *client) send(b []byte, slow bool) {
	c.t.Helper()
	if !slow {
		if _, err := c.c.Write(b); err != nil {
			c.t.Fatal(err)
		}
		return
	}
	for i := range b {
		if _, err := c.c.Write(b[i : i+1]); err != nil {
			c.t.Fatal(err)
		}
		if i%7 == 0 {
			// Deliberate, not a wait for an event: a pause now and then
			// lets some bytes arrive alone, so the server meets partial
			// reads of every kind.
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// response is a parsed HTTP response.
type response struct {
	status  int
	headers map[string]string
	body    string
}

func (c *client) readResponse() response {
	c.t.Helper()
	line, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read status: %v", err)
	}
	parts := strings.SplitN(strings.TrimSpace(line), " ", 3)
	st, _ := strconv.Atoi(parts[1])
	r := response{status: st, headers: map[string]string{}}
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read header: %v", err)
		}
		l = strings.TrimSpace(l)
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ":")
		r.headers[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if n, err := strconv.Atoi(r.headers["content-length"]); err == nil && n > 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(c.br, b); err != nil {
			c.t.Fatalf("read body: %v", err)
		}
		r.body = string(b)
	}
	return r
}

func (c *client) request(method, target, headers, body string) response {
	c.t.Helper()
	req := method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + headers
	if body != "" {
		req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	c.send([]byte(req+"\r\n"+body), false)
	return c.readResponse()
}

const wsHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// openWS performs the WebSocket handshake and returns the open packet.
func (c *client) openWS(slow bool) string {
	c.t.Helper()
	c.send([]byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), slow)
	r := c.readResponse()
	if r.status != 101 || r.headers["sec-websocket-accept"] != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		c.t.Fatalf("handshake: %+v", r)
	}
	op, open := c.readFrame()
	if op != ws.OpText || open[0] != '0' {
		c.t.Fatalf("open packet: %q", open)
	}
	return open
}

// writeFrame sends a masked client frame.
func (c *client) writeFrame(op ws.OpCode, fin bool, payload []byte, slow bool) {
	c.t.Helper()
	h := ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: int64(len(payload))}
	var buf bytes.Buffer
	if err := ws.WriteHeader(&buf, h); err != nil {
		c.t.Fatal(err)
	}
	p := append([]byte(nil), payload...)
	ws.Cipher(p, h.Mask, 0)
	buf.Write(p)
	c.send(buf.Bytes(), slow)
}

func (c *client) sendText(s string) { c.writeFrame(ws.OpText, true, []byte(s), false) }

// readFrame reads one server frame.
func (c *client) readFrame() (ws.OpCode, string) {
	c.t.Helper()
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	if h.Masked {
		c.t.Fatal("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return h.OpCode, string(p)
}

// readText reads frames until a text frame, skipping pings.
func (c *client) readText() string {
	c.t.Helper()
	for {
		op, p := c.readFrame()
		if op == ws.OpText && p != "2" {
			return p
		}
		if op == ws.OpClose {
			c.t.Fatalf("closed: %q", p)
		}
	}
}

// expectClose reads until a close frame and returns its code (0: none).
func (c *client) expectClose() ws.StatusCode {
	c.t.Helper()
	for {
		op, p := c.readFrame()
		if op == ws.OpClose {
			if len(p) < 2 {
				return 0
			}
			return ws.StatusCode(uint16(p[0])<<8 | uint16(p[1]))
		}
	}
}

// connectSocket opens a WebSocket session with CONNECT to "/".
func connectSocket(t *testing.T, srv *Server) *client {
	return connectClient(t, dial(t, srv))
}

// connectClient opens a WebSocket session on c and connects its socket.
func connectClient(t *testing.T, c *client) *client {
	c.openWS(false)
	c.sendText(`40{"token":"ok"}`)
	if r := c.readText(); !strings.HasPrefix(r, `40{"sid":"`) {
		t.Fatalf("CONNECT reply %q", r)
	}
	if r := c.readText(); !strings.HasPrefix(r, `42["hello",`) {
		t.Fatalf("hello %q", r)
	}
	return c
}

func TestWebSocketSplitReads(t *testing.T) {
	srv, _ := startTestServer(t, Config{})
	c := dial(t, srv)
	open := c.openWS(true)
	var info struct {
		SID          string
		Upgrades     []string
		PingInterval int
		PingTimeout  int
		MaxPayload   int
	}
	if err := json.Unmarshal([]byte(open[1:]), &info); err != nil || len(info.SID) != 20 || len(info.Upgrades) != 0 ||
		info.PingInterval != 25000 || info.PingTimeout != 20000 || info.MaxPayload != 1000000 {
		t.Fatalf("open packet %q", open)
	}
	c.writeFrame(ws.OpText, true, []byte(`40{"token":"ok"}`), true)
	if r := c.readText(); !strings.HasPrefix(r, `40{"sid":"`) {
		t.Fatalf("CONNECT reply %q", r)
	}
	c.readText() // hello
	// A fragmented message with a control frame in between.
	c.writeFrame(ws.OpText, false, []byte(`42["ec`), true)
	c.writeFrame(ws.OpPing, true, []byte("hi"), true)
	if op, p := c.readFrame(); op != ws.OpPong || p != "hi" {
		t.Fatalf("pong: %v %q", op, p)
	}
	c.writeFrame(ws.OpContinuation, false, []byte(`ho",{"a":`), true)
	c.writeFrame(ws.OpContinuation, true, []byte(`"ü"}]`), true)
	if r := c.readText(); r != `42["echo",{"a":"ü"}]` {
		t.Fatalf("echo %q", r)
	}
	// Binary attachments round trip.
	c.sendText(`451-["echo",{"_placeholder":true,"num":0}]`)
	c.writeFrame(ws.OpBinary, true, []byte{1, 2, 3}, false)
	if r := c.readText(); r != `451-["echo",{"_placeholder":true,"num":0}]` {
		t.Fatalf("binary echo %q", r)
	}
	if op, p := c.readFrame(); op != ws.OpBinary || p != "\x01\x02\x03" {
		t.Fatalf("attachment %v %q", op, p)
	}
	// Client close: the server echoes an empty close frame.
	c.writeFrame(ws.OpClose, true, nil, false)
	if code := c.expectClose(); code != 0 {
		t.Fatalf("close code %d", code)
	}
}

func TestBroadcastReachesRoomMembersOnly(t *testing.T) {
	srv, _ := startTestServer(t, Config{})
	members := []*client{connectSocket(t, srv), connectSocket(t, srv), connectSocket(t, srv)}
	outsider := connectSocket(t, srv)
	for _, c := range members {
		c.sendText(`421["join","room-a"]`)
		if r := c.readText(); r != `431["joined"]` {
			t.Fatalf("ack %q", r)
		}
	}
	msgs := []*testMessage{newTestMessage(`42["notification",{"n":1}]`), newTestMessage(`42["notification",{"n":2}]`)}
	for _, m := range msgs {
		srv.Broadcast("room-a", m)
	}
	for _, c := range members {
		for _, m := range msgs {
			if r := c.readText(); r != string(m.packet) {
				t.Fatalf("got %q want %q", r, m.packet)
			}
		}
	}
	none := newTestMessage(`42["notification","nobody"]`)
	srv.Broadcast("room-nobody", none)
	for _, m := range append(msgs, none) {
		waitReleased(t, m)
	}
	_ = outsider.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := outsider.br.ReadByte(); err == nil {
		t.Fatal("a non-member received a broadcast")
	}
	if st := srv.Stats(); st.Sessions != 4 || st.Sockets != 4 || st.Rooms != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWebSocketLimits(t *testing.T) {
	srv, _ := startTestServer(t, Config{MaxPayload: 1000})
	tests := []struct {
		name string
		send func(c *client)
		code ws.StatusCode
	}{
		{"message over maxPayload", func(c *client) { c.sendText("4" + strings.Repeat("x", 1000)) }, ws.StatusMessageTooBig},
		{"fragments over maxPayload", func(c *client) {
			c.writeFrame(ws.OpText, false, bytes.Repeat([]byte("x"), 600), false)
			c.writeFrame(ws.OpContinuation, true, bytes.Repeat([]byte("x"), 600), false)
		}, ws.StatusMessageTooBig},
		{"unmasked frame", func(c *client) { c.send([]byte{0x81, 0x01, '3'}, false) }, ws.StatusProtocolError},
		{"reserved opcode", func(c *client) { c.writeFrame(ws.OpCode(3), true, nil, false) }, ws.StatusProtocolError},
		{"continuation first", func(c *client) { c.writeFrame(ws.OpContinuation, true, []byte("x"), false) }, ws.StatusProtocolError},
		{"bad engine.io packet", func(c *client) { c.sendText("9") }, 0},
		{"client ping", func(c *client) { c.sendText("2") }, 0},
		{"event before CONNECT", func(c *client) { c.sendText(`42["x"]`) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, srv)
			c.openWS(false)
			tt.send(c)
			if code := c.expectClose(); code != tt.code {
				t.Fatalf("close code %d, want %d", code, tt.code)
			}
		})
	}
	t.Run("bad socket.io packet after CONNECT", func(t *testing.T) {
		c := connectSocket(t, srv)
		c.sendText(`42{"not":"an array"}`)
		if code := c.expectClose(); code != 0 {
			t.Fatalf("close code %d", code)
		}
	})
	t.Run("auth refused", func(t *testing.T) {
		c := dial(t, srv)
		c.openWS(false)
		c.sendText(`40{"token":"nope"}`)
		if r := c.readText(); r != `44{"message":"Authentication failed","data":{"reason":"bad"}}` {
			t.Fatalf("got %q", r)
		}
		c.sendText(`40/admin,{"token":"ok"}`)
		if r := c.readText(); r != `44/admin,{"message":"Invalid namespace"}` {
			t.Fatalf("got %q", r)
		}
	})
}

func TestHTTPErrors(t *testing.T) {
	srv, _ := startTestServer(t, Config{MaxPayload: 100})
	c := dial(t, srv)
	open := c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "")
	sid := open.body[9:29]
	tests := []struct {
		name, method, target, headers, body string
		status                              int
		want                                string
	}{
		{"unknown transport", "GET", "/socket.io/?EIO=4&transport=pigeon", "", "", 400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid", "GET", "/socket.io/?EIO=4&transport=polling&sid=nope", "", "", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"POST handshake", "POST", "/socket.io/?EIO=4&transport=polling", "", "x", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", "GET", "/socket.io/?EIO=4&transport=websocket", "", "", 400, `{"code":3,"message":"Bad request"}`},
		{"polling sid on websocket", "GET", "/socket.io/?EIO=4&transport=websocket&sid=" + sid, "", "", 400, `{"code":3,"message":"Bad request"}`},
		{"EIO 3", "GET", "/socket.io/?EIO=3&transport=polling", "", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no EIO", "GET", "/socket.io/?transport=polling", "", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"PUT on a session", "PUT", "/socket.io/?EIO=4&transport=polling&sid=" + sid, "", "", 500, ""},
		{"POST over maxPayload", "POST", "/socket.io/?EIO=4&transport=polling&sid=" + sid, "", strings.Repeat("4", 101), 413, ""},
		{"unknown path", "GET", "/nope", "", "", 404, `{"error":"not found"}`},
		{"no trailing slash", "GET", "/socket.io?EIO=4&transport=polling", "", "", 404, `{"error":"not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, srv)
			r := c.request(tt.method, tt.target, tt.headers, tt.body)
			if r.status != tt.status || r.body != tt.want {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.want)
			}
		})
	}
	t.Run("websocket upgrade errors are raw", func(t *testing.T) {
		for target, msg := range map[string]string{
			"/socket.io/?EIO=4&transport=websocket&sid=nope": "Session ID unknown",
			"/socket.io/?EIO=4&transport=pigeon":             "Transport unknown",
		} {
			c := dial(t, srv)
			r := c.request("GET", target, wsHeaders, "")
			if r.status != 400 || r.body != msg || r.headers["content-type"] != "text/html" {
				t.Fatalf("%s: %+v", target, r)
			}
		}
	})
	t.Run("header too large", func(t *testing.T) {
		c := dial(t, srv)
		r := c.request("GET", "/health", "X-Big: "+strings.Repeat("a", maxHeadBytes)+"\r\n", "")
		if r.status != 431 {
			t.Fatalf("status %d", r.status)
		}
	})
	t.Run("pipelined requests", func(t *testing.T) {
		c := dial(t, srv)
		c.send([]byte("GET /ready HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\n"), false)
		for _, want := range []int{200, 404, 200} {
			if r := c.readResponse(); r.status != want {
				t.Fatalf("status %d, want %d", r.status, want)
			}
		}
	})
}

// Requests a proxy in front could frame differently from the engine
// (request smuggling), or that the engine would wait on until the idle
// timeout, are answered 400 at once, and the connection is closed.
func TestHTTPRefusesAmbiguousRequests(t *testing.T) {
	srv, _ := startTestServer(t, Config{})
	for _, tt := range []struct{ name, req string }{
		{"Content-Length with a sign", "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"},
		{"differing Content-Lengths", "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"Content-Length and Transfer-Encoding", "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"folded header", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
		{"space before colon", "GET /health HTTP/1.1\r\nHost : x\r\n\r\n"},
		// The client's deadline (10 s) is below the idle timeout (30 s):
		// only a parser that refuses the bare LF answers in time.
		{"bare LF line endings", "GET /health HTTP/1.1\nHost: x\n\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, srv)
			c.send([]byte(tt.req), false)
			if r := c.readResponse(); r.status != 400 {
				t.Fatalf("status %d, want 400", r.status)
			}
			if b, err := c.br.ReadByte(); err != io.EOF {
				t.Fatalf("connection still open after the 400: read %q, %v", b, err)
			}
		})
	}
}

// A client that sends its requests one byte per write is served: the head
// and the body are gathered across reads.
func TestHTTPDribbledRequests(t *testing.T) {
	srv, _ := startTestServer(t, Config{})
	c := dial(t, srv)
	filler := strings.Repeat("X-Filler: "+strings.Repeat("a", 60)+"\r\n", 40) // a 3 KB head
	c.send([]byte("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"+filler+"\r\n"), true)
	open := c.readResponse()
	if open.status != 200 || !strings.HasPrefix(open.body, `0{"sid":"`) {
		t.Fatalf("handshake: %+v", open)
	}
	body := `40{"token":"ok"}`
	c.send([]byte("POST /socket.io/?EIO=4&transport=polling&sid="+open.body[9:29]+" HTTP/1.1\r\nHost: x\r\n"+
		filler+"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body), true)
	if r := c.readResponse(); r.status != 200 || r.body != "ok" {
		t.Fatalf("POST: %+v", r)
	}
}

func TestPolling(t *testing.T) {
	srv, h := startTestServer(t, Config{CORSOrigins: []string{"http://app.example"}})
	c := dial(t, srv)
	open := c.request("GET", "/socket.io/?EIO=4&transport=polling", "Origin: http://app.example\r\n", "")
	if open.status != 200 || !strings.HasPrefix(open.body, `0{"sid":"`) || !strings.Contains(open.body, `"upgrades":["websocket"]`) ||
		open.headers["access-control-allow-origin"] != "http://app.example" || open.headers["access-control-allow-credentials"] != "true" ||
		open.headers["cache-control"] != "no-store" {
		t.Fatalf("handshake %+v", open)
	}
	sid := open.body[9:29]
	q := "/socket.io/?EIO=4&transport=polling&sid=" + sid
	if r := c.request("POST", q, "Content-Type: text/plain;charset=UTF-8\r\n", `40{"token":"ok"}`+"\x1e"+`42["join","r"]`); r.status != 200 || r.body != "ok" {
		t.Fatalf("POST %+v", r)
	}
	r := c.request("GET", q, "", "")
	if !strings.HasPrefix(r.body, `40{"sid":"`) || !strings.Contains(r.body, "\x1e"+`42["hello",`) {
		t.Fatalf("GET %q", r.body)
	}
	// A parked GET is answered by a broadcast; a second GET overlaps.
	getter := dial(t, srv)
	getter.send([]byte("GET "+q+" HTTP/1.1\r\nHost: x\r\n\r\n"), false)
	waitParked(t, srv, sid)
	m := newTestMessage(`42["notification",{"polling":true}]`)
	srv.Broadcast("r", m)
	if r := getter.readResponse(); r.body != string(m.packet) {
		t.Fatalf("long-poll got %q", r.body)
	}
	waitReleased(t, m)
	getter.send([]byte("GET "+q+" HTTP/1.1\r\nHost: x\r\n\r\n"), false)
	waitParked(t, srv, sid)
	if r := c.request("GET", q, "", ""); r.status != 400 {
		t.Fatalf("overlapping GET: %d", r.status)
	}
	if r := getter.readResponse(); r.body != "1" {
		t.Fatalf("parked GET after overlap got %q", r.body)
	}
	if r := c.request("GET", q, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":1`) {
		t.Fatalf("after close: %+v", r)
	}
	if h.disconnects.Load() != 1 {
		t.Fatalf("disconnects %d", h.disconnects.Load())
	}
	t.Run("preflight", func(t *testing.T) {
		r := c.request("OPTIONS", "/socket.io/?EIO=4&transport=polling", "Origin: http://app.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n", "")
		if r.status != 204 || r.headers["access-control-allow-headers"] != "content-type" ||
			r.headers["access-control-allow-methods"] != "GET,HEAD,PUT,PATCH,POST,DELETE" {
			t.Fatalf("preflight %+v", r)
		}
	})
	t.Run("octet-stream POST closes the session", func(t *testing.T) {
		o := c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "")
		sid := o.body[9:29]
		q := "/socket.io/?EIO=4&transport=polling&sid=" + sid
		if r := c.request("POST", q, "Content-Type: application/octet-stream\r\n", "x"); r.status != 400 {
			t.Fatalf("status %d", r.status)
		}
		// engine.io forgets the session at once (trace e §7d): with no GET
		// to collect a close, nothing keeps the sid once the close ran.
		waitForgotten(t, srv, sid)
		if r := c.request("GET", q, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":1`) {
			t.Fatalf("GET after close: %+v", r)
		}
	})
}

func TestHeartbeat(t *testing.T) {
	srv, h := startTestServer(t, Config{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	c := connectSocket(t, srv)
	for i := 0; i < 3; i++ {
		start := time.Now()
		if op, p := c.readFrame(); op != ws.OpText || p != "2" {
			t.Fatalf("expected ping, got %q", p)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("ping %d came after %v", i, d)
		}
		c.sendText("3")
	}
	// Stop answering: closed within pingTimeout (plus a tick).
	if op, _ := c.readFrame(); op != ws.OpText {
		t.Fatal("expected a ping")
	}
	start := time.Now()
	if code := c.expectClose(); code != 0 {
		t.Fatalf("close code %d", code)
	}
	if d := time.Since(start); d < 80*time.Millisecond || d > time.Second {
		t.Fatalf("closed %v after the unanswered ping", d)
	}
	// The handler hears of the close before the session count drops.
	waitSessions(t, srv, 0)
	if n := h.disconnects.Load(); n != 1 {
		t.Fatalf("disconnects %d, want 1", n)
	}
}

func TestConnectTimeout(t *testing.T) {
	srv, _ := startTestServer(t, Config{ConnectTimeout: 150 * time.Millisecond})
	c := dial(t, srv)
	c.openWS(false)
	if code := c.expectClose(); code != 0 {
		t.Fatalf("close code %d", code)
	}
}

func TestSlowConsumerIsDropped(t *testing.T) {
	srv, h := startTestServer(t, Config{MaxOutbound: 256 << 10, SocketSendBuffer: 16 << 10})
	// The slow client never reads, with a small receive window so the
	// kernel cannot hide its backlog.
	slow := connectClient(t, dialSmallWindow(t, srv))
	fast := connectSocket(t, srv)
	for _, c := range []*client{slow, fast} {
		c.sendText(`421["join","r"]`)
		c.readText()
	}
	// Waves of broadcasts that a reader keeping up absorbs easily: the fast
	// client reads each wave whole, the slow one falls further behind.
	const wave = 50
	payload := `42["notification","` + strings.Repeat("x", 2<<10) + `"]`
	for i := 0; i < 40 && srv.Counters().SlowConsumers == 0; i++ {
		for j := 0; j < wave; j++ {
			srv.Broadcast("r", newTestMessage(payload))
		}
		for j := 0; j < wave; j++ {
			if r := fast.readText(); r != payload {
				t.Fatalf("fast client got %.40q", r)
			}
		}
	}
	if n := srv.Counters().SlowConsumers; n != 1 {
		t.Fatalf("slow consumers %d, want 1", n)
	}
	waitSessions(t, srv, 1)
	if n := h.disconnects.Load(); n != 1 {
		t.Fatalf("disconnects %d, want 1", n)
	}
	// The fast client is still served.
	srv.Broadcast("r", newTestMessage(`42["after"]`))
	if r := fast.readText(); r != `42["after"]` {
		t.Fatalf("after: %q", r)
	}
}

func TestShutdownClosesWith1001(t *testing.T) {
	srv, _ := startTestServer(t, Config{})
	c := connectSocket(t, srv)
	go func() { _ = srv.Shutdown(context.Background()) }()
	if code := c.expectClose(); code != ws.StatusGoingAway {
		t.Fatalf("close code %d", code)
	}
}

// A server-side close of a session whose peer has reset the connection:
// the close frame's write fails and gnet closes the connection on the spot,
// running OnClose inside the write. That OnClose must not end the session a
// second time (it did, counting it down twice, then crashed the loop on the
// WebSocket it had cleared).
func TestCloseAfterPeerReset(t *testing.T) {
	srv, h := startTestServer(t, Config{Loops: 1})
	c := connectSocket(t, srv)
	sh := (*srv.shards.Load())[0]
	holding, reset, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	// Hold the loop until the reset has arrived, so that the close comes
	// before the loop hears of the reset.
	sh.run(func() {
		defer close(done)
		close(holding)
		<-reset
		for _, m := range sh.members {
			if m.sock != nil {
				m.sock.sess.close(CloseForced)
				return
			}
		}
		t.Error("no socket on the loop")
	})
	select {
	case <-holding:
	case <-time.After(waitFor):
		t.Fatal("the loop did not run the task")
	}
	tcp := c.c.(*net.TCPConn)
	_ = tcp.SetLinger(0) // close with RST
	_ = tcp.Close()
	close(reset)
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("the close task did not run")
	}
	waitSessions(t, srv, 0)
	if st := srv.Stats(); st != (Stats{}) || h.disconnects.Load() != 1 {
		t.Fatalf("stats %+v, disconnects %d", st, h.disconnects.Load())
	}
}

func TestIdleHTTPConnectionsAreClosed(t *testing.T) {
	srv, _ := startTestServer(t, Config{HTTPIdleTimeout: 300 * time.Millisecond})
	idle := dial(t, srv)
	partial := dial(t, srv)
	partial.send([]byte("GET /health HTTP/1.1\r\nHost: x\r\n"), false) // never finished
	ws := connectSocket(t, srv)
	// A long-poll held past the idle timeout is not idle.
	poller := dial(t, srv)
	open := poller.request("GET", "/socket.io/?EIO=4&transport=polling", "", "")
	poller.send([]byte("GET /socket.io/?EIO=4&transport=polling&sid="+open.body[9:29]+" HTTP/1.1\r\nHost: x\r\n\r\n"), false)
	for _, c := range []*client{idle, partial} {
		_ = c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.br.ReadByte(); err != io.EOF {
			t.Fatalf("idle connection not closed: %v", err)
		}
	}
	if ws.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); true {
		if _, err := ws.br.ReadByte(); err == io.EOF {
			t.Fatal("a WebSocket was closed as idle")
		}
	}
	srv.Broadcast("nobody", newTestMessage("x")) // keep the API warm
	_ = poller.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := poller.br.ReadByte(); err == io.EOF {
		t.Fatal("a held long-poll was closed as idle")
	}
}

// An upgrade that does not finish in time closes the probe; the session
// goes on polling. (TestUpgradeHandover covers upgrades that finish.)
func TestUpgradeTimeoutLeavesSessionPolling(t *testing.T) {
	srv, _ := startTestServer(t, Config{UpgradeTimeout: 300 * time.Millisecond})
	c, sid, q := openPollingSession(t, srv, "r")
	probe := dial(t, srv)
	probe.send([]byte("GET /socket.io/?EIO=4&transport=websocket&sid="+sid+" HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), false)
	if r := probe.readResponse(); r.status != 101 {
		t.Fatalf("upgrade: %+v", r)
	}
	start := time.Now()
	if code := probe.expectClose(); code != 0 {
		t.Fatalf("close code %d", code)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("probe closed after %v, before the upgrade timeout", d)
	}
	m := newTestMessage(`42["still","polling"]`)
	srv.Broadcast("r", m)
	if r := c.request("GET", q, "", ""); r.body != string(m.packet) {
		t.Fatalf("polling after timeout got %q", r.body)
	}
}

// A session whose sockets all left their namespaces stays open, as in
// socket.io: the connect timeout applies only until the first CONNECT.
// (The socket.io-protocol suite's "should disconnect from the main
// namespace" waits for the next ping after "41".)
func TestSessionOutlivesNamespaceDisconnect(t *testing.T) {
	srv, h := startTestServer(t, Config{ConnectTimeout: 100 * time.Millisecond, PingInterval: 400 * time.Millisecond, PingTimeout: time.Second})
	c := connectSocket(t, srv)
	c.sendText("41")
	eventually(t, "the socket's disconnect", func() bool { return h.disconnects.Load() == 1 })
	// The ping comes 400 ms after the open packet, well past the connect
	// timeout: the session was not closed in between.
	if op, p := c.readFrame(); op != ws.OpText || p != "2" {
		t.Fatalf("got %v %q, want a ping", op, p)
	}
	if st := srv.Stats(); st.Sessions != 1 || st.Sockets != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A held CONNECT reply (HoldConnect) is sent by ReleaseConnect, from a
// Later task, followed by what the task emits; nothing reaches the client
// before it.
func TestHeldConnectReply(t *testing.T) {
	srv, h := startTestServer(t, Config{})
	c := dial(t, srv)
	c.openWS(false)
	c.sendText(`40{"token":"hold"}`)
	var s *Socket
	select {
	case s = <-h.held:
	case <-time.After(waitFor):
		t.Fatal("the socket did not connect")
	}
	// Nothing for the client yet (the read must time out).
	_ = c.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if b, err := c.br.Peek(1); err == nil {
		t.Fatalf("the client got %q before the reply was released", b)
	}
	_ = c.c.SetReadDeadline(time.Now().Add(waitFor))
	s.Later(func() {
		s.ReleaseConnect()
		_ = s.Emit("hello", "late")
	})
	if r := c.readText(); !strings.HasPrefix(r, `40{"sid":"`+s.ID()) {
		t.Fatalf("CONNECT reply %q", r)
	}
	if r := c.readText(); r != `42["hello","late"]` {
		t.Fatalf("after the reply: %q", r)
	}
}

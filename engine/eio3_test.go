package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/notify-wss/notify-wss/eio"
)

// Engine.IO protocol 3 (socket.io v2 clients) with Config.AllowEIO3, spoken
// by a raw client as trace k shows socket.io 4.8 speak it.

// v3Body frames packets as an EIO3 polling body.
func v3Body(pkts ...string) string {
	var b []byte
	for _, p := range pkts {
		b = eio.AppendRecordV3(b, []byte(p))
	}
	return string(b)
}

// v3Packets splits an EIO3 polling body, failing the test if it is malformed.
func v3Packets(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for rest := []byte(body); len(rest) > 0; {
		rec, next, err := eio.NextRecordV3(rest)
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		out = append(out, string(rec))
		rest = next
	}
	return out
}

// openInfo decodes an open packet.
type openInfo struct {
	SID                       string
	Upgrades                  []string
	PingInterval, PingTimeout int
	MaxPayload                int
}

func decodeOpen(t *testing.T, pkt string) openInfo {
	t.Helper()
	var o openInfo
	if !strings.HasPrefix(pkt, "0") || json.Unmarshal([]byte(pkt[1:]), &o) != nil || len(o.SID) != 20 {
		t.Fatalf("open packet %q", pkt)
	}
	return o
}

// openV3Polling opens an EIO3 polling session with the token in the query
// and returns the client, the sid and the polling query.
func openV3Polling(t *testing.T, srv *Server, token string) (c *client, sid, q string) {
	t.Helper()
	c = dial(t, srv)
	r := c.request("GET", "/socket.io/?token="+token+"&EIO=3&transport=polling&t=Q8KIqc-&b64=1", "", "")
	pkts := v3Packets(t, r.body)
	if r.status != 200 || len(pkts) != 1 {
		t.Fatalf("handshake: %+v", r)
	}
	o := decodeOpen(t, pkts[0])
	if len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" || o.MaxPayload != srv.cfg.MaxPayload {
		t.Fatalf("open packet %q", pkts[0])
	}
	return c, o.SID, "/socket.io/?token=" + token + "&EIO=3&transport=polling&b64=1&sid=" + o.SID
}

func TestEIO3Polling(t *testing.T) {
	srv, h := startTestServer(t, Config{AllowEIO3: true})
	c, sid, q := openV3Polling(t, srv, "ok")

	// "/" is connected without a CONNECT from the client: a bare "40", and
	// the socket id is the session id (k §1).
	if r := c.request("GET", q, "", ""); r.body != v3Body("40", `42["hello","`+sid+`"]`) {
		t.Fatalf("GET after the handshake: %q", r.body)
	}
	// The client pings, the server answers (k §2b).
	if r := c.request("POST", q, "Content-Type: text/plain;charset=UTF-8\r\n", "1:2"); r.status != 200 || r.body != "ok" {
		t.Fatalf("POST ping: %+v", r)
	}
	if r := c.request("GET", q, "", ""); r.body != "1:3" {
		t.Fatalf("GET after the ping: %q", r.body)
	}
	// Lengths count characters, not bytes (k §2); several packets in one
	// body; an ack.
	if r := c.request("POST", q, "", `20:42["echo","héllo ✓"]15:420["join","r"]`); r.body != "ok" {
		t.Fatalf("POST: %+v", r)
	}
	if r := c.request("GET", q, "", ""); r.body != `20:42["echo","héllo ✓"]13:430["joined"]` {
		t.Fatalf("GET echo and ack: %q", r.body)
	}
	// A broadcast answers a parked GET, framed for protocol 3.
	getter := dial(t, srv)
	getter.send([]byte("GET "+q+" HTTP/1.1\r\nHost: x\r\n\r\n"), false)
	waitParked(t, srv, sid)
	m := newTestMessage(`42["notification",{"msg":"café 😀"}]`)
	srv.Broadcast("r", m)
	if r := getter.readResponse(); r.body != `36:42["notification",{"msg":"café 😀"}]` {
		t.Fatalf("long-poll got %q", r.body)
	}
	waitReleased(t, m)
	// Binary goes as "b4"+base64 records both ways (k §2a).
	if r := c.request("POST", q, "", v3Body(`451-["echo",{"_placeholder":true,"num":0}]`, "b4AQIDBA==")); r.body != "ok" {
		t.Fatalf("POST binary: %+v", r)
	}
	if r := c.request("GET", q, "", ""); r.body != v3Body(`451-["echo",{"_placeholder":true,"num":0}]`, "b4AQIDBA==") {
		t.Fatalf("GET binary echo: %q", r.body)
	}
	// A pong from the client is the wrong heartbeat direction: engine.io
	// closes the session with "transport error".
	if r := c.request("POST", q, "", "1:3"); r.body != "ok" {
		t.Fatalf("POST pong: %+v", r)
	}
	waitForgotten(t, srv, sid)
	if r := c.request("GET", q, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":1`) {
		t.Fatalf("GET after the pong: %+v", r)
	}
	if n := srv.Counters().Disconnects[CloseTransportError]; n != 1 {
		t.Fatalf("transport error disconnects %d, want 1", n)
	}
	if h.disconnects.Load() != 1 {
		t.Fatalf("handler disconnects %d", h.disconnects.Load())
	}
}

func TestEIO3PollingBadBodies(t *testing.T) {
	srv, _ := startTestServer(t, Config{AllowEIO3: true})
	for _, body := range []string{
		"2:40\x1e42[]",            // an EIO4 body
		`21:42["echo","héllo ✓"]`, // length in bytes
		"4:42",                    // runs past the end
		`42["echo"]`,              // no length
	} {
		c, sid, q := openV3Polling(t, srv, "ok")
		c.request("GET", q, "", "")
		if r := c.request("POST", q, "", body); r.status != 200 {
			t.Fatalf("POST %q: %+v", body, r)
		}
		waitForgotten(t, srv, sid)
	}
	if n := srv.Counters().Disconnects[CloseParseError]; n != 4 {
		t.Fatalf("parse error disconnects %d, want 4", n)
	}
}

// openV3WS opens an EIO3 WebSocket session and returns its sid.
func openV3WS(c *client, query string) string {
	c.t.Helper()
	c.send([]byte("GET /socket.io/?"+query+"&EIO=3&transport=websocket HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), false)
	if r := c.readResponse(); r.status != 101 {
		c.t.Fatalf("handshake: %+v", r)
	}
	op, open := c.readFrame()
	if op != ws.OpText {
		c.t.Fatalf("open frame %v %q", op, open)
	}
	o := decodeOpen(c.t, open)
	if len(o.Upgrades) != 0 {
		c.t.Fatalf("open packet %q", open)
	}
	return o.SID
}

func TestEIO3WebSocket(t *testing.T) {
	srv, _ := startTestServer(t, Config{AllowEIO3: true})
	c := dial(t, srv)
	sid := openV3WS(c, "token=ok")
	for _, want := range []string{"40", `42["hello","` + sid + `"]`} {
		if op, got := c.readFrame(); op != ws.OpText || got != want {
			t.Fatalf("got %v %q, want %q", op, got, want)
		}
	}
	c.sendText("2")
	if _, got := c.readFrame(); got != "3" {
		t.Fatalf("pong: %q", got)
	}
	c.sendText(`420["join","r"]`)
	if _, got := c.readFrame(); got != `430["joined"]` {
		t.Fatalf("ack: %q", got)
	}
	// A broadcast's frame is the one every EIO4 WebSocket member gets.
	m := newTestMessage(`42["notification",{"n":1}]`)
	srv.Broadcast("r", m)
	if op, got := c.readFrame(); op != ws.OpText || got != string(m.packet) {
		t.Fatalf("broadcast: %v %q", op, got)
	}
	// Binary frames start with the packet type byte, both ways (k §1).
	c.sendText(`451-["echo",{"_placeholder":true,"num":0}]`)
	c.writeFrame(ws.OpBinary, true, []byte{4, 1, 2, 3, 4}, false)
	if op, got := c.readFrame(); op != ws.OpText || got != `451-["echo",{"_placeholder":true,"num":0}]` {
		t.Fatalf("binary event: %v %q", op, got)
	}
	if op, got := c.readFrame(); op != ws.OpBinary || got != "\x04\x01\x02\x03\x04" {
		t.Fatalf("attachment: %v %x", op, got)
	}
	// A binary frame that is not a message is a parse error.
	c.sendText(`451-["echo",{"_placeholder":true,"num":0}]`)
	c.writeFrame(ws.OpBinary, true, []byte{2, 1}, false)
	if code := c.expectClose(); code != 0 {
		t.Fatalf("close code %d", code)
	}
	waitSessions(t, srv, 0)
	if n := srv.Counters().Disconnects[CloseParseError]; n != 1 {
		t.Fatalf("parse error disconnects %d, want 1", n)
	}
}

// The client pings and the server times out pingInterval+pingTimeout after
// the last ping; it never pings itself.
func TestEIO3Heartbeat(t *testing.T) {
	srv, _ := startTestServer(t, Config{AllowEIO3: true, PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	c := dial(t, srv)
	openV3WS(c, "token=ok")
	c.readFrame() // 40
	c.readFrame() // hello
	// Pings keep the session alive well past pingInterval+pingTimeout.
	// (The pause paces the client's pings; nothing waits on it.)
	var last time.Time
	for start := time.Now(); time.Since(start) < 600*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		last = time.Now()
		c.sendText("2")
		if op, got := c.readFrame(); op != ws.OpText || got != "3" {
			t.Fatalf("got %v %q after %v, want the pong", op, got, time.Since(start))
		}
	}
	if code := c.expectClose(); code != 0 {
		t.Fatalf("close code %d", code)
	}
	// Not after pingTimeout alone: pingInterval+pingTimeout (less a tick).
	if d := time.Since(last); d < 180*time.Millisecond {
		t.Fatalf("closed %v after the last ping, before pingInterval+pingTimeout", d)
	}
	waitSessions(t, srv, 0)
	if n := srv.Counters().Disconnects[ClosePingTimeout]; n != 1 {
		t.Fatalf("ping timeouts %d, want 1", n)
	}
}

func TestEIO3ConnectErrorsAndNamespaces(t *testing.T) {
	srv, _ := startTestServer(t, Config{AllowEIO3: true, Namespaces: []string{"/", "/admin"}})
	c := dial(t, srv)
	sid := openV3WS(c, "token=wrong")
	// The implicit CONNECT fails: socket.io sends v2 clients the error's
	// data alone (or its message as a string when it has none).
	if _, got := c.readFrame(); got != `44{"reason":"bad"}` {
		t.Fatalf("CONNECT_ERROR: %q", got)
	}
	// Another namespace carries its credentials in its query.
	c.sendText(`40/admin?token=ok,`)
	for _, want := range []string{"40/admin,", `42/admin,["hello","/admin#` + sid + `"]`} {
		if _, got := c.readFrame(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.sendText(`40/nope,`)
	if _, got := c.readFrame(); got != `44/nope,{"message":"Invalid namespace"}` {
		t.Fatalf("invalid namespace: %q", got)
	}
	if got := string(connectErrorJSON(&ConnectError{Message: "Authentication failed"}, true)); got != `"Authentication failed"` {
		t.Fatalf("CONNECT_ERROR without data: %s", got) // k §2c
	}
}

func TestEIO3Upgrade(t *testing.T) {
	srv, _ := startTestServer(t, Config{AllowEIO3: true})
	c, sid, q := openV3Polling(t, srv, "ok")
	c.request("GET", q, "", "")
	if r := c.request("POST", q, "", v3Body(`42["join","r"]`)); r.body != "ok" {
		t.Fatalf("POST: %+v", r)
	}
	getter := dial(t, srv)
	getter.send([]byte("GET "+q+" HTTP/1.1\r\nHost: x\r\n\r\n"), false)
	waitParked(t, srv, sid)

	probe := dial(t, srv)
	probe.send([]byte("GET /socket.io/?token=ok&EIO=3&transport=websocket&sid="+sid+" HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), false)
	if r := probe.readResponse(); r.status != 101 {
		t.Fatalf("upgrade: %+v", r)
	}
	probe.sendText("2probe")
	if _, got := probe.readFrame(); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	// The parked GET is ended with a noop, framed for protocol 3.
	if r := getter.readResponse(); r.body != "1:6" {
		t.Fatalf("parked GET during the upgrade: %q", r.body)
	}
	probe.sendText("5")
	eventually(t, "the session to move to the WebSocket", func() bool { return srv.Stats().WebSocket == 1 })
	m := newTestMessage(`42["notification","after the upgrade"]`)
	srv.Broadcast("r", m)
	if _, got := probe.readFrame(); got != string(m.packet) {
		t.Fatalf("broadcast after the upgrade: %q", got)
	}
	probe.sendText("2")
	if _, got := probe.readFrame(); got != "3" {
		t.Fatalf("pong after the upgrade: %q", got)
	}
}

func TestEIO3Refused(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		srv, _ := startTestServer(t, Config{})
		c := dial(t, srv)
		c.send([]byte("GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), false)
		if r := c.readResponse(); r.status != 400 || r.body != "Unsupported protocol version" {
			t.Fatalf("WebSocket handshake: %+v", r)
		}
		if r := dial(t, srv).request("GET", "/socket.io/?EIO=3&transport=polling", "", ""); r.status != 400 ||
			r.body != `{"code":5,"message":"Unsupported protocol version"}` {
			t.Fatalf("polling handshake: %+v", r)
		}
	})
	t.Run("protocol of another session", func(t *testing.T) {
		srv, _ := startTestServer(t, Config{AllowEIO3: true})
		c, sid, _ := openV3Polling(t, srv, "ok")
		if r := c.request("GET", "/socket.io/?EIO=4&transport=polling&sid="+sid, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":3`) {
			t.Fatalf("EIO=4 request on an EIO3 session: %+v", r)
		}
		open := c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "")
		sid4 := decodeOpen(t, open.body).SID
		if r := c.request("GET", "/socket.io/?EIO=3&transport=polling&sid="+sid4, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":3`) {
			t.Fatalf("EIO=3 request on an EIO4 session: %+v", r)
		}
	})
}

// Polling members of both protocols get a broadcast in their own framing,
// and queueing it allocates nothing once their buffers have grown.
func TestFanoutToPollingMembersAllocatesNothing(t *testing.T) {
	sh, _ := fanoutShard(0)
	var sessions []*session
	for i := range 100 {
		ss := newSession(sh, plainHandshake, false, i%2 == 1)
		ss.poll = &pollState{owner: sh}
		sock := &Socket{sess: ss}
		sh.allocSlot(sock, nil)
		sh.join("global", sock)
		sessions = append(sessions, ss)
	}
	m := newTestMessage(`42["notification",{"msg":"café 😀"}]`)
	reset := func() {
		for _, ss := range sessions {
			ss.poll.out = ss.poll.out[:0]
		}
	}
	sh.deliverNow(m)
	for _, ss := range sessions {
		want := string(m.packet)
		if ss.eio3 {
			want = "36:" + want
		}
		if got := string(ss.poll.out); got != want {
			t.Fatalf("eio3=%v member queued %q, want %q", ss.eio3, got, want)
		}
	}
	if allocs := testing.AllocsPerRun(50, func() { reset(); sh.deliverNow(m) }); allocs != 0 {
		t.Fatalf("one broadcast to 100 polling members allocated %.1f times", allocs)
	}
}

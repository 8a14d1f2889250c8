package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Behaviours the official protocol test suites check (cmd/conformance runs
// them); each matches the Node engine.io 6 source.

func TestRawPathEchoes(t *testing.T) {
	echo := func(s *RawSession, data []byte, binary bool) { s.Send(data, binary) }
	srv, _ := startTestServer(t, Config{RawPath: "/engine.io", RawMessage: echo})
	w := dial(t, srv)
	w.send([]byte("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"+wsHeaders+"\r\n"), false)
	if r := w.readResponse(); r.status != 101 {
		t.Fatalf("handshake %+v", r)
	}
	if _, open := w.readFrame(); !strings.HasPrefix(open, `0{"sid":"`) {
		t.Fatalf("open %q", open)
	}
	w.sendText("4hello")
	if op, p := w.readFrame(); op != ws.OpText || p != "4hello" {
		t.Fatalf("text echo %v %q", op, p)
	}
	w.writeFrame(ws.OpBinary, true, []byte{1, 2, 3, 4}, false)
	if op, p := w.readFrame(); op != ws.OpBinary || p != "\x01\x02\x03\x04" {
		t.Fatalf("binary echo %v %q", op, p)
	}

	// A raw session has no connect timeout. Its first ping, due after the
	// connect timeout, shows that its timer ran past that deadline and
	// left it open (onTimer checks the connect deadline first).
	srv, _ = startTestServer(t, Config{
		ConnectTimeout: 100 * time.Millisecond,
		PingInterval:   300 * time.Millisecond,
		RawPath:        "/engine.io",
		RawMessage:     echo,
	})
	c := dial(t, srv)
	open := c.request("GET", "/engine.io/?EIO=4&transport=polling", "", "")
	sid := open.body[9:29]
	q := "/engine.io/?EIO=4&transport=polling&sid=" + sid
	if r := c.request("GET", q, "", ""); r.status != 200 || r.body != "2" {
		t.Fatalf("GET for the first ping: %+v", r)
	}
	if r := c.request("POST", q, "", "3\x1e4hello\x1ebAQIDBA=="); r.body != "ok" {
		t.Fatalf("POST %+v", r)
	}
	if r := c.request("GET", q, "", ""); r.body != "4hello\x1ebAQIDBA==" {
		t.Fatalf("GET %+v", r)
	}
	if r := c.request("GET", "/socket.io/?EIO=4&transport=polling&sid="+sid, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":1`) {
		t.Fatalf("raw sid on the Socket.IO path: %+v", r)
	}
}

func TestPollingCloseForgetsSession(t *testing.T) {
	unknown := func(c *client, q string) {
		t.Helper()
		if r := c.request("GET", q, "", ""); r.status != 400 || !strings.Contains(r.body, `"code":1`) {
			t.Fatalf("after close: %+v", r)
		}
	}

	// The client's "1": the parked GET ends with a noop, the sid is gone.
	srv, _ := startTestServer(t, Config{})
	c := dial(t, srv)
	sid := c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "").body[9:29]
	q := "/socket.io/?EIO=4&transport=polling&sid=" + sid
	g := dial(t, srv)
	g.send([]byte("GET "+q+" HTTP/1.1\r\nHost: x\r\n\r\n"), false)
	waitParked(t, srv, sid)
	if r := c.request("POST", q, "", "1"); r.body != "ok" {
		t.Fatalf("POST %+v", r)
	}
	if r := g.readResponse(); r.body != "6" {
		t.Fatalf("parked GET got %q", r.body)
	}
	unknown(c, q)

	// A ping timeout with no GET parked: the next GET is refused at once,
	// not after a grace period for collecting the close.
	srv, _ = startTestServer(t, Config{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	c = dial(t, srv)
	q = "/socket.io/?EIO=4&transport=polling&sid=" + c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "").body[9:29]
	waitSessions(t, srv, 0) // the ping timeout closed it
	unknown(c, q)
}

// A server-side close (socket.io's conn.close(): connect timeout, a packet
// socket.io refuses) keeps the sid until a GET collects the close (e §12).
func TestPollingForcedCloseWaitsForGET(t *testing.T) {
	srv, _ := startTestServer(t, Config{ConnectTimeout: 300 * time.Millisecond})
	c := dial(t, srv)
	handshake := func() string {
		return "/socket.io/?EIO=4&transport=polling&sid=" + c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "").body[9:29]
	}
	q := handshake()
	waitSessions(t, srv, 0) // the connect timeout closed it
	if r := c.request("GET", q, "", ""); r.body != "1" {
		t.Fatalf("GET after the connect timeout: %+v", r)
	}

	q = handshake()
	c.request("POST", q, "", `40{"token":"ok"}`)
	if r := c.request("GET", q, "", ""); !strings.HasPrefix(r.body, `40{"sid":"`) {
		t.Fatalf("CONNECT reply %+v", r)
	}
	if r := c.request("POST", q, "", `42{"not":"an array"}`); r.body != "ok" {
		t.Fatalf("POST %+v", r)
	}
	if r := c.request("GET", q, "", ""); r.status != 200 || !strings.HasSuffix(r.body, "1") {
		t.Fatalf("GET after a malformed Socket.IO packet: %+v", r)
	}
	if r := c.request("GET", q, "", ""); r.status != 400 {
		t.Fatalf("GET after the close was collected: %+v", r)
	}
}

func TestSecondUpgradeIsClosed(t *testing.T) {
	srv, _ := startTestServer(t, Config{})
	c := dial(t, srv)
	sid := c.request("GET", "/socket.io/?EIO=4&transport=polling", "", "").body[9:29]
	upgrade := "GET /socket.io/?EIO=4&transport=websocket&sid=" + sid + " HTTP/1.1\r\nHost: x\r\n" + wsHeaders + "\r\n"
	w := dial(t, srv)
	w.send([]byte(upgrade), false)
	if r := w.readResponse(); r.status != 101 {
		t.Fatalf("upgrade %+v", r)
	}
	w.sendText("2probe")
	if _, p := w.readFrame(); p != "3probe" {
		t.Fatalf("probe %q", p)
	}
	w.sendText("5")
	// engine.io accepts a second WebSocket for the sid, then closes it.
	w2 := dial(t, srv)
	w2.send([]byte(upgrade), false)
	if r := w2.readResponse(); r.status != 101 {
		t.Fatalf("second upgrade %+v", r)
	}
	if code := w2.expectClose(); code != 0 {
		t.Fatalf("close code %d", code)
	}
	w.sendText(`40{"token":"ok"}`)
	if r := w.readText(); !strings.HasPrefix(r, `40{"sid":"`) {
		t.Fatalf("CONNECT on the upgraded session: %q", r)
	}
}

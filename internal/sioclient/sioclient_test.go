package sioclient

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// waitFor bounds every wait in these tests; events normally arrive in
// milliseconds, the margin is for a loaded 2-core machine.
const waitFor = 10 * time.Second

// startRefServer runs testdata/refserver.js (the real socket.io 4.8 server)
// on a free loopback port for the test and returns its URL.
func startRefServer(t *testing.T) string {
	t.Helper()
	dir := sourceDir(t)
	requireModules(t, dir)
	cmd := exec.Command("node", filepath.Join(dir, "testdata", "refserver.js"), "0")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start refserver: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // refserver exits on end of stdin
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(exitTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		var addr struct{ Port int }
		if !ok || json.Unmarshal([]byte(l), &addr) != nil || addr.Port == 0 {
			t.Fatalf("refserver did not report its port (got %q)", l)
		}
		return fmt.Sprintf("http://127.0.0.1:%d", addr.Port)
	case <-time.After(readyTimeout):
		t.Fatalf("refserver did not listen within %v", readyTimeout)
		return ""
	}
}

// testWriter sends a child's stderr to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("refserver: %s", p)
	return len(p), nil
}

var websocketOnly = map[string]any{"transports": []string{"websocket"}}

func TestWebsocketOnlyConnect(t *testing.T) {
	url := startRefServer(t)
	d := Start(t)
	d.Connect("c1", url, websocketOnly)
	ev := d.Wait("c1", "connect", "", waitFor)
	if ev.Transport != "websocket" || ev.SocketID == "" {
		t.Fatalf("connect = %v, want transport websocket and a socket id", ev)
	}
	hello := d.Wait("c1", "event", "connected", waitFor)
	var body struct{ ID string }
	if len(hello.Args) != 1 || json.Unmarshal(hello.Args[0], &body) != nil || body.ID != ev.SocketID {
		t.Fatalf("connected = %v, want one arg {id: %q}", hello, ev.SocketID)
	}
	d.NoEvent("c1", "upgrade", "", 200*time.Millisecond)
}

func TestPollingUpgradesToWebsocket(t *testing.T) {
	url := startRefServer(t)
	d := Start(t)
	// socket.io-client 4.8 reports "connect" one tick after the CONNECT
	// packet, so on loopback an upgrade finishing in the same read often
	// makes connect say websocket; holding the upgrade back makes the
	// polling phase observable.
	d.Connect("c1", url, map[string]any{"query": map[string]any{"delayUpgradeMs": 300}})
	if ev := d.Wait("c1", "connect", "", waitFor); ev.Transport != "polling" {
		t.Fatalf("connect = %v, want transport polling", ev)
	}
	if ev := d.Wait("c1", "upgrade", "", waitFor); ev.Transport != "websocket" {
		t.Fatalf("upgrade = %v, want transport websocket", ev)
	}
}

func TestEmitAckRoundTrip(t *testing.T) {
	url := startRefServer(t)
	d := Start(t)
	d.Connect("c1", url, websocketOnly)
	d.Wait("c1", "connect", "", waitFor)

	first := d.EmitAck("c1", "echo", "a", 1)
	second := d.EmitAck("c1", "echo", map[string]any{"k": []int{1, 2}}, nil, true)
	// Waiting for the second ack first proves WaitAck matches by seq.
	if got, want := args(t, d.WaitAck("c1", second, waitFor)), `[{"k":[1,2]},null,true]`; got != want {
		t.Errorf("second ack args = %s, want %s", got, want)
	}
	if got, want := args(t, d.WaitAck("c1", first, waitFor)), `["a",1]`; got != want {
		t.Errorf("first ack args = %s, want %s", got, want)
	}

	d.Disconnect("c1")
	if ev := d.Wait("c1", "disconnect", "", waitFor); ev.Reason != "io client disconnect" {
		t.Fatalf("disconnect = %v, want reason io client disconnect", ev)
	}
}

func TestBadTokenRejected(t *testing.T) {
	url := startRefServer(t)
	d := Start(t)
	d.Connect("bad", url, map[string]any{
		"transports": []string{"websocket"},
		"auth":       map[string]any{"token": "bad"},
	})
	ev := d.Wait("bad", "connect_error", "", waitFor)
	if ev.Message != "Authentication failed" || string(ev.Data) != `{"code":"bad_token"}` {
		t.Fatalf("connect_error = %v, want message Authentication failed and data {code: bad_token}", ev)
	}
	d.NoEvent("bad", "connect", "", 500*time.Millisecond)
}

func TestCloseEngineReconnects(t *testing.T) {
	url := startRefServer(t)
	d := Start(t)
	d.Connect("c1", url, map[string]any{
		"transports":           []string{"websocket"},
		"reconnectionDelay":    50,
		"reconnectionDelayMax": 100,
	})
	first := d.Wait("c1", "connect", "", waitFor)
	d.Wait("c1", "event", "connected", waitFor) // else the drop may beat it
	d.CloseEngine("c1")
	if ev := d.Wait("c1", "disconnect", "", waitFor); ev.Reason != "forced close" {
		t.Errorf("disconnect = %v, want reason forced close", ev)
	}
	if ev := d.Wait("c1", "reconnect_attempt", "", waitFor); ev.N != 1 {
		t.Errorf("reconnect_attempt = %v, want n=1", ev)
	}
	second := d.Wait("c1", "connect", "", waitFor)
	if second.SocketID == first.SocketID {
		t.Errorf("reconnected with the same socket id %q", first.SocketID)
	}
	d.Wait("c1", "event", "connected", waitFor)
}

func TestManySocketsInOrder(t *testing.T) {
	const sockets, perSocket = 200, 20
	url := startRefServer(t)
	d := Start(t)
	for i := range sockets {
		d.Connect(fmt.Sprint("s", i), url, websocketOnly)
	}
	for i := range sockets {
		d.Wait(fmt.Sprint("s", i), "connect", "", waitFor)
	}
	for i := range sockets {
		d.Emit(fmt.Sprint("s", i), "burst", perSocket)
	}
	for i := range sockets {
		id := fmt.Sprint("s", i)
		for j, ev := range d.Collect(id, "event", "tick", perSocket, waitFor) {
			if got := args(t, ev); got != fmt.Sprintf("[%d]", j) {
				t.Fatalf("%s: tick %d args = %s, want [%d]", id, j, got, j)
			}
		}
		// Collecting the ticks left the earlier "connected" event in place.
		d.Wait(id, "event", "connected", waitFor)
	}
	if n := len(d.Events("s0")); n != 2+perSocket {
		t.Errorf("Events(s0) has %d events, want %d", n, 2+perSocket)
	}
}

// args renders an event's arguments as one compact JSON array.
func args(t *testing.T, ev Event) string {
	t.Helper()
	b, err := json.Marshal(ev.Args)
	if err != nil {
		t.Fatalf("marshal args of %v: %v", ev, err)
	}
	return string(b)
}

// The v2 client against Node's own allowEIO3, over each transport choice:
// the driver reports what socket.io-client 2.5 sees in the same events as
// for 4.8.
func TestV2Client(t *testing.T) {
	url := startRefServer(t)
	d := Start(t)
	for _, transports := range [][]string{{"polling"}, {"websocket"}, nil} {
		id := fmt.Sprint(transports)
		opts := map[string]any{"query": map[string]any{"token": "good"}}
		if transports != nil {
			opts["transports"] = transports
		}
		d.ConnectWith(V2, id, url, opts)
		ev := d.Wait(id, "connect", "", waitFor)
		hello := d.Wait(id, "event", "connected", waitFor)
		var body struct{ ID string }
		if len(hello.Args) != 1 || json.Unmarshal(hello.Args[0], &body) != nil || body.ID == "" {
			t.Fatalf("%s: connect %v, connected = %v", id, ev, hello)
		}
		seq := d.EmitAck(id, "echo", "a", 1)
		if got, want := args(t, d.WaitAck(id, seq, waitFor)), `["a",1]`; got != want {
			t.Errorf("%s: ack args = %s, want %s", id, got, want)
		}
		if transports == nil {
			d.Wait(id, "upgrade", "", waitFor)
		}
	}
	d.ConnectWith(V2, "bad", url, map[string]any{"transports": []string{"websocket"}, "query": map[string]any{"token": "bad"}})
	ev := d.Wait("bad", "connect_error", "", waitFor)
	if string(ev.Data) != `{"code":"bad_token"}` {
		t.Fatalf("connect_error = %v, want data {code: bad_token}", ev)
	}
	d.NoEvent("bad", "connect", "", 300*time.Millisecond)
}

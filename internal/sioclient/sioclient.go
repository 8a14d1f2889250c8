package sioclient

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// readyTimeout bounds node's start-up until the driver's "ready" line:
	// loading socket.io-client takes ~100 ms, 15 s leaves room for a loaded
	// 2-core CI machine.
	readyTimeout = 15 * time.Second
	// exitTimeout is how long Cleanup lets the driver disconnect its sockets
	// and exit before killing it.
	exitTimeout = 5 * time.Second
	// maxLine bounds one event line from the driver; an event is one server
	// message, and 64 MiB is far above anything a test sends.
	maxLine = 64 << 20
	// failContext is how many of an id's latest events a failure message quotes.
	failContext = 10
)

// Event is one thing a driven socket saw, as reported by driver.js. Which
// fields are set depends on Ev; see the package documentation.
type Event struct {
	ID        string            `json:"id"`
	Ev        string            `json:"ev"`
	Name      string            `json:"name,omitempty"`
	SocketID  string            `json:"socketId,omitempty"`
	Transport string            `json:"transport,omitempty"`
	Message   string            `json:"message,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Recovered bool              `json:"recovered,omitempty"` // connect: socket.recovered (connection state recovery)
	Seq       int               `json:"seq,omitempty"`
	N         int               `json:"n,omitempty"` // reconnect attempt number
	Args      []json.RawMessage `json:"args,omitempty"`
	Data      json.RawMessage   `json:"data,omitempty"`
	T         int64             `json:"t"` // driver's Date.now(), ms since the epoch
}

// String renders e compactly for test logs.
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Ev)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	field("name", e.Name)
	field("socketId", e.SocketID)
	field("transport", e.Transport)
	field("reason", e.Reason)
	field("message", e.Message)
	if e.Seq != 0 {
		fmt.Fprintf(&b, " seq=%d", e.Seq)
	}
	if e.N != 0 {
		fmt.Fprintf(&b, " n=%d", e.N)
	}
	if e.Args != nil {
		args, _ := json.Marshal(e.Args)
		field("args", string(args))
	}
	field("data", string(e.Data))
	return b.String()
}

// Driver runs driver.js under node for one test and gives typed access to
// its events.
//
// All methods are safe from any goroutine. Wait, WaitAck, Collect and NoEvent
// fail the test with t.Fatalf, so (like t.Fatalf) they belong on the test
// goroutine; the command methods report write failures with t.Errorf.
type Driver struct {
	t   testing.TB
	cmd *exec.Cmd
	seq atomic.Int64 // last EmitAck sequence number

	wmu   sync.Mutex // serializes command lines on stdin
	stdin io.WriteCloser

	readers sync.WaitGroup // stdout and stderr readers

	mu      sync.Mutex
	streams map[string]*stream
	notify  chan struct{} // closed and replaced whenever an event arrives
	exited  bool          // stdout reached EOF: no more events will arrive
}

// stream is the events of one socket id in arrival order.
type stream struct {
	all  []Event
	used []bool // used[i]: all[i] was consumed by Wait or Collect
	head int    // every event before head is consumed
}

// command is one line on the driver's stdin.
type command struct {
	Op  string `json:"op"`
	ID  string `json:"id,omitempty"`
	URL string `json:"url,omitempty"`
	// Client is "v2" for socket.io-client 2.5, "" for 4.8.
	Client string         `json:"client,omitempty"`
	Opts   map[string]any `json:"opts,omitempty"`
	Event  string         `json:"event,omitempty"`
	Args   []any          `json:"args,omitempty"`
	Ack    bool           `json:"ack,omitempty"`
	Seq    int            `json:"seq,omitempty"`
}

// Start launches `node driver.js`, waits for it to be ready and registers a
// Cleanup that sends exit, waits for node and kills it after 5 s. It fails
// the test when node or the npm packages are missing.
func Start(t testing.TB) *Driver {
	t.Helper()
	dir := sourceDir(t)
	requireModules(t, dir)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("sioclient: node not found (Node 20+ is required): %v", err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "driver.js"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("sioclient: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("sioclient: %v", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("sioclient: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sioclient: start node: %v", err)
	}
	d := &Driver{
		t:       t,
		cmd:     cmd,
		stdin:   stdin,
		streams: make(map[string]*stream),
		notify:  make(chan struct{}),
	}
	d.readers.Add(2)
	go d.readEvents(stdout)
	go d.readLog(stderr)
	t.Cleanup(d.stop)
	d.Wait("", "ready", "", readyTimeout)
	return d
}

// sourceDir is the directory of this file, where driver.js and node_modules live.
func sourceDir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		t.Fatalf("sioclient: cannot locate driver.js from source path %q (built with -trimpath?)", file)
	}
	return filepath.Dir(file)
}

// requireModules fails the test unless `npm ci` has installed the packages.
func requireModules(t testing.TB, dir string) {
	t.Helper()
	requireModule(t, dir, "socket.io-client")
}

// requireModule fails the test unless package name is installed.
func requireModule(t testing.TB, dir, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", name)); err != nil {
		t.Fatalf("%s not installed: run `make deps`", name)
	}
}

// Client is a socket.io-client version the driver can run.
type Client string

const (
	// V4 is socket.io-client 4.8 (Socket.IO v5, Engine.IO v4), the default.
	V4 Client = ""
	// V2 is socket.io-client 2.5 (Engine.IO protocol 3), for servers that
	// allow it (Node's allowEIO3). It has no auth option (pass
	// {"query": {"token": …}}) and no onAny (the driver hooks its packet
	// handler); its CONNECT_ERROR arrives as "connect_error" with the
	// server's data as Data, and Message the data itself when it is a
	// string.
	V2 Client = "v2"
)

// Connect opens socket id with io(url, opts); opts go to socket.io-client
// unchanged, with forceNew defaulting to true so every id has its own Manager.
func (d *Driver) Connect(id, url string, opts map[string]any) {
	d.ConnectWith(V4, id, url, opts)
}

// ConnectWith is Connect with the given client version.
func (d *Driver) ConnectWith(client Client, id, url string, opts map[string]any) {
	if client == V2 {
		requireModule(d.t, sourceDir(d.t), "socket.io-client-v2")
	}
	d.send(command{Op: "connect", ID: id, URL: url, Client: string(client), Opts: opts})
}

// Emit sends event with args on socket id without an acknowledgement.
func (d *Driver) Emit(id, event string, args ...any) {
	d.send(command{Op: "emit", ID: id, Event: event, Args: args})
}

// EmitAck sends event with args on socket id with an acknowledgement callback
// and returns its sequence number; the ack arrives as an "ack" event with that
// Seq (see WaitAck).
func (d *Driver) EmitAck(id, event string, args ...any) int {
	seq := int(d.seq.Add(1))
	d.send(command{Op: "emit", ID: id, Event: event, Args: args, Ack: true, Seq: seq})
	return seq
}

// Disconnect calls socket.disconnect() on socket id.
func (d *Driver) Disconnect(id string) {
	d.send(command{Op: "disconnect", ID: id})
}

// CloseEngine calls socket.io.engine.close() on socket id, simulating a
// transport drop; the client reconnects if its reconnection option is on.
func (d *Driver) CloseEngine(id string) {
	d.send(command{Op: "close_engine", ID: id})
}

func (d *Driver) send(c command) {
	line, err := json.Marshal(c)
	if err != nil {
		d.t.Errorf("sioclient: encode %s command for %q: %v", c.Op, c.ID, err)
		return
	}
	line = append(line, '\n')
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, err := d.stdin.Write(line); err != nil {
		d.t.Errorf("sioclient: send %s command for %q: %v", c.Op, c.ID, err)
	}
}

// Wait returns the next not-yet-consumed event for id matching ev (and name,
// when ev is "event" and name is not empty), failing the test after timeout.
// It consumes the match only; other events stay available.
func (d *Driver) Wait(id, ev, name string, timeout time.Duration) Event {
	d.t.Helper()
	return d.Collect(id, ev, name, 1, timeout)[0]
}

// WaitAck returns the acknowledgement of the EmitAck on socket id that
// returned seq, failing the test after timeout.
func (d *Driver) WaitAck(id string, seq int, timeout time.Duration) Event {
	d.t.Helper()
	match := func(e *Event) bool { return e.Ev == "ack" && e.Seq == seq }
	deadline := time.Now().Add(timeout)
	e, ok := d.next(id, match, deadline)
	if !ok {
		d.fail(id, fmt.Sprintf("no ack for seq %d", seq), timeout)
	}
	return e
}

// Collect waits until n not-yet-consumed events for id match ev (and name,
// as for Wait) and returns them in arrival order, consuming them. It fails
// the test if they do not all arrive within timeout.
func (d *Driver) Collect(id, ev, name string, n int, timeout time.Duration) []Event {
	d.t.Helper()
	match := matcher(ev, name)
	deadline := time.Now().Add(timeout)
	out := make([]Event, 0, n)
	for len(out) < n {
		e, ok := d.next(id, match, deadline)
		if !ok {
			d.fail(id, fmt.Sprintf("got %d of %d %s", len(out), n, describe(ev, name)), timeout)
		}
		out = append(out, e)
	}
	return out
}

// NoEvent fails the test if a not-yet-consumed event for id matching ev (and
// name, as for Wait) is already there or arrives within the given duration.
// It consumes nothing.
func (d *Driver) NoEvent(id, ev, name string, within time.Duration) {
	d.t.Helper()
	match := matcher(ev, name)
	timer := time.NewTimer(within)
	defer timer.Stop()
	from := 0
	for {
		d.mu.Lock()
		s := d.stream(id)
		from = max(from, s.head)
		for ; from < len(s.all); from++ {
			if !s.used[from] && match(&s.all[from]) {
				e := s.all[from]
				d.mu.Unlock()
				d.t.Fatalf("sioclient: %s: unexpected %s: %v", id, describe(ev, name), e)
			}
		}
		notify, exited := d.notify, d.exited
		d.mu.Unlock()
		if exited {
			return
		}
		select {
		case <-notify:
		case <-timer.C:
			return
		}
	}
}

// Events returns a copy of every event seen so far for id, consumed or not,
// in arrival order.
func (d *Driver) Events(id string) []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.streams[id]
	if !ok {
		return nil
	}
	return append([]Event(nil), s.all...)
}

// next consumes and returns the first unconsumed event for id that matches,
// waiting until deadline. It reports false on timeout or when the driver has
// exited without producing a match.
func (d *Driver) next(id string, match func(*Event) bool, deadline time.Time) (Event, bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	from := 0 // events before from were checked and did not match
	for {
		d.mu.Lock()
		s := d.stream(id)
		from = max(from, s.head)
		for ; from < len(s.all); from++ {
			if !s.used[from] && match(&s.all[from]) {
				s.used[from] = true
				for s.head < len(s.all) && s.used[s.head] {
					s.head++
				}
				e := s.all[from]
				d.mu.Unlock()
				return e, true
			}
		}
		notify, exited := d.notify, d.exited
		d.mu.Unlock()
		if exited {
			return Event{}, false
		}
		select {
		case <-notify:
		case <-timer.C:
			return Event{}, false
		}
	}
}

// stream returns the stream of id, creating it. d.mu must be held.
func (d *Driver) stream(id string) *stream {
	s, ok := d.streams[id]
	if !ok {
		s = &stream{}
		d.streams[id] = s
	}
	return s
}

// fail ends the test after a wait for id came up short, quoting id's latest
// events so the failure can be read without rerunning.
func (d *Driver) fail(id, what string, timeout time.Duration) {
	d.t.Helper()
	d.mu.Lock()
	exited := d.exited
	var recent []Event
	if s, ok := d.streams[id]; ok {
		recent = s.all[max(0, len(s.all)-failContext):]
	}
	var b strings.Builder
	if len(recent) == 0 {
		b.WriteString(" none")
	}
	for _, e := range recent {
		fmt.Fprintf(&b, "\n\t%v", e)
	}
	d.mu.Unlock()
	why := fmt.Sprintf("within %v", timeout)
	if exited {
		why = "before the driver exited"
	}
	d.t.Fatalf("sioclient: %s: %s %s; latest events:%s", id, what, why, b.String())
}

func matcher(ev, name string) func(*Event) bool {
	return func(e *Event) bool {
		return e.Ev == ev && (ev != "event" || name == "" || e.Name == name)
	}
}

func describe(ev, name string) string {
	if ev == "event" && name != "" {
		return fmt.Sprintf("%q event", name)
	}
	return fmt.Sprintf("%q", ev)
}

// readEvents parses the driver's stdout into streams until EOF.
func (d *Driver) readEvents(r io.Reader) {
	defer d.readers.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			d.t.Errorf("sioclient: driver wrote a non-event line %q: %v", sc.Text(), err)
			continue
		}
		if e.Ev == "error" {
			d.t.Errorf("sioclient: driver error for %q: %s", e.ID, e.Message)
		}
		d.mu.Lock()
		s := d.stream(e.ID)
		s.all = append(s.all, e)
		s.used = append(s.used, false)
		close(d.notify)
		d.notify = make(chan struct{})
		d.mu.Unlock()
	}
	if err := sc.Err(); err != nil {
		d.t.Errorf("sioclient: read driver output: %v", err)
		_, _ = io.Copy(io.Discard, r) // keep node from blocking on a full pipe
	}
	d.mu.Lock()
	d.exited = true
	close(d.notify)
	d.notify = make(chan struct{})
	d.mu.Unlock()
}

// readLog copies node's stderr to the test log, line by line.
func (d *Driver) readLog(r io.Reader) {
	defer d.readers.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		d.t.Logf("node: %s", sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}

// stop asks the driver to disconnect everything and exit, kills it after
// exitTimeout and waits for the output readers, so nothing logs after the
// test has ended.
func (d *Driver) stop() {
	line, _ := json.Marshal(command{Op: "exit"})
	d.wmu.Lock()
	_, _ = d.stdin.Write(append(line, '\n')) // fails only if node is already gone
	_ = d.stdin.Close()
	d.wmu.Unlock()

	done := make(chan struct{})
	go func() {
		d.readers.Wait()
		close(done)
	}()
	killed := false
	select {
	case <-done:
	case <-time.After(exitTimeout):
		d.t.Logf("sioclient: driver did not exit within %v; killing it", exitTimeout)
		_ = d.cmd.Process.Kill()
		killed = true
		<-done
	}
	if err := d.cmd.Wait(); err != nil && !killed {
		d.t.Errorf("sioclient: driver exited: %v", err)
	}
}

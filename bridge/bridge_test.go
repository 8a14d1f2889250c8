package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/syncbuf"
)

// got is a delivered message, copied out before Release.
type got struct {
	room   string
	kind   Kind
	frame  []byte
	packet []byte
}

// harness runs one Bridge and records what it delivers.
type harness struct {
	b    *Bridge
	msgs chan got
	logs *syncbuf.Buffer
	stop context.CancelFunc
	done chan error // Run's result
}

// startBridge runs a bridge on url with fast backoff; it does not wait for
// the subscription (use waitReady).
func startBridge(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{msgs: make(chan got, 4096), logs: &syncbuf.Buffer{}, done: make(chan error, 1)}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(h.logs, testWriter{t}), nil))
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 10 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 100 * time.Millisecond
	}
	b, err := New(cfg, func(m *Message) {
		h.msgs <- got{
			room:   m.Room,
			kind:   m.Kind,
			frame:  bytes.Clone(m.Frame()),
			packet: bytes.Clone(m.Packet()),
		}
		m.Release()
	})
	if err != nil {
		t.Fatal(err)
	}
	h.b = b
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(waitFor):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// testWriter sends log lines to t.Log so a failing test shows them.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *harness) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-h.b.Ready():
	case <-time.After(waitFor):
		t.Fatal("bridge not ready")
	}
	if !h.b.Connected() {
		t.Fatal("Ready closed but Connected() is false")
	}
}

func (h *harness) next(t *testing.T) got {
	t.Helper()
	select {
	case g := <-h.msgs:
		return g
	case <-time.After(waitFor):
		t.Fatal("no message delivered")
		return got{}
	}
}

// expectNothing fails if a message is delivered within d.
func (h *harness) expectNothing(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case g := <-h.msgs:
		t.Fatalf("unexpected delivery to %s: %s", g.room, g.packet)
	case <-time.After(d):
	}
}

// retryLog is what Run logs before each wait between attempts.
const retryLog = "redis subscription down; retrying"

// waitRetries waits until the bridge has logged n retries in all.
func (h *harness) waitRetries(t *testing.T, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d logged retries", n), func() bool { return strings.Count(h.logs.String(), retryLog) >= n })
}

func TestBridgeDeliversEachKind(t *testing.T) {
	srv := redistest.Start(t)
	h := startBridge(t, Config{URL: srv.URL})
	h.waitReady(t)

	tests := []struct {
		channel, payload, room string
		kind                   Kind
	}{
		{"user:notifications:42", `{"type":"dm","from":"ann"}`, "user-notifications:42", KindUser},
		{"channel:notifications:general", `{"text":"héllo 🌍","n":1.50}`, "channel-notifications:general", KindChannel},
		{"notifications:all", `[1, 2 ,3]`, "global-notifications", KindGlobal},
		{"user:notifications:org:7:user:9", `{"deep":true}`, "user-notifications:org:7:user:9", KindUser},
		{"channel:notifications:big", `"` + strings.Repeat("x", 70000) + `"`, "channel-notifications:big", KindChannel},
	}
	for _, tt := range tests {
		if n := srv.Publish(t, tt.channel, tt.payload); n != 1 {
			t.Fatalf("PUBLISH %s reached %d subscribers, want 1", tt.channel, n)
		}
		g := h.next(t)
		if g.room != tt.room || g.kind != tt.kind {
			t.Fatalf("%s: delivered to %s (%v), want %s (%v)", tt.channel, g.room, g.kind, tt.room, tt.kind)
		}
		want := `42["notification",` + tt.payload + `]`
		if string(g.packet) != want {
			t.Fatalf("%s: packet %.80q…, want %.80q…", tt.channel, g.packet, want)
		}
		hdr, payload := parseFrame(t, g.frame)
		if !bytes.Equal(payload, g.packet) || len(g.frame) != hdr+len(want) {
			t.Fatalf("%s: frame is not header+packet", tt.channel)
		}
	}
	s := h.b.Stats()
	if s.Received != [NumKinds]uint64{2, 2, 1} || s.Invalid != 0 || s.Dropped != 0 || s.Reconnects != 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestBridgeDropsInvalidAndContinues(t *testing.T) {
	srv := redistest.Start(t)
	h := startBridge(t, Config{URL: srv.URL})
	h.waitReady(t)

	longBad := `{"secret-free preview":` + strings.Repeat("é", 100) // 223 bytes, not JSON
	srv.Publish(t, "user:notifications:1", longBad)
	srv.Publish(t, "user:notifications:1", "{\"a\":\"\xff\"}")    // invalid UTF-8
	srv.Publish(t, "user:notifications:", `{"empty":"id"}`)       // empty id
	srv.Publish(t, "channel:notifications:", `{"empty":"id"}`)    // empty id
	srv.Publish(t, "user:notifications:1", `{"after":"invalid"}`) // must still arrive

	g := h.next(t)
	if g.room != "user-notifications:1" || string(g.packet) != `42["notification",{"after":"invalid"}]` {
		t.Fatalf("got %s %s, want the valid message after the invalid ones", g.room, g.packet)
	}
	h.expectNothing(t, 100*time.Millisecond)
	s := h.b.Stats()
	if s.Invalid != 2 || s.Dropped != 2 || s.Received[KindUser] != 1 {
		t.Fatalf("Stats = %+v, want Invalid 2, Dropped 2, Received[user] 1", s)
	}

	// The first invalid payload is logged with its channel and a preview of
	// at most 64 bytes cut on a rune boundary; the second is rate-limited.
	logs := h.logs.String()
	if !strings.Contains(logs, "channel=user:notifications:1") {
		t.Fatalf("invalid message log lacks the channel:\n%s", logs)
	}
	wantPreview := preview(longBad)
	if len(wantPreview) > previewLen || len(wantPreview) < previewLen-3 || !strings.HasPrefix(longBad, wantPreview) {
		t.Fatalf("preview %q: want ≤ %d bytes, a prefix of the payload", wantPreview, previewLen)
	}
	if !strings.Contains(logs, fmt.Sprintf("preview=%q", wantPreview)) {
		t.Fatalf("log lacks preview=%q:\n%s", wantPreview, logs)
	}
	if strings.Contains(logs, strings.Repeat("é", 40)) {
		t.Fatal("log holds more of the payload than the preview")
	}
}

func TestBridgeOrder(t *testing.T) {
	srv := redistest.Start(t)
	h := startBridge(t, Config{URL: srv.URL})
	h.waitReady(t)

	const n = 1000
	channels := []string{"user:notifications:1", "channel:notifications:2", "notifications:all"}
	// Publish from another goroutine through a pipeline so messages are in
	// flight while the bridge reads, not one round trip apart.
	pubErr := make(chan error, 1)
	go func() {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
		defer c.Close()
		ctx := context.Background()
		p := c.Pipeline()
		for i := range n {
			p.Publish(ctx, channels[i%3], fmt.Sprintf(`{"seq":%d}`, i))
			if i%100 == 99 {
				if _, err := p.Exec(ctx); err != nil {
					pubErr <- err
					return
				}
			}
		}
		pubErr <- nil
	}()
	for i := range n {
		g := h.next(t)
		want := fmt.Sprintf(`42["notification",{"seq":%d}]`, i)
		if string(g.packet) != want || g.kind != Kind(i%3) {
			t.Fatalf("message %d: got %s (%v), want %s (%v)", i, g.packet, g.kind, want, Kind(i%3))
		}
	}
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	if s := h.b.Stats(); s.Received != [NumKinds]uint64{334, 333, 333} {
		t.Fatalf("Received = %v", s.Received)
	}
}

func TestBridgeReconnectsAfterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	h := startBridge(t, Config{URL: srv.URL})
	h.waitReady(t)

	srv.Stop()
	eventually(t, "Connected() false after Redis stopped", func() bool { return !h.b.Connected() })
	h.waitRetries(t, 3) // a few failed attempts against the closed port
	if h.b.Connected() {
		t.Fatal("Connected() true while Redis is down")
	}
	if r := h.b.Stats().Reconnects; r != 0 {
		t.Fatalf("Reconnects = %d while Redis is down, want 0", r)
	}

	srv.Restart()
	eventually(t, "Connected() true after Redis restarted", h.b.Connected)
	if r := h.b.Stats().Reconnects; r != 1 {
		t.Fatalf("Reconnects = %d, want 1", r)
	}
	// Connected means every (P)SUBSCRIBE is confirmed, so the very first
	// publish must reach the bridge; keep publishing for a bounded time
	// anyway so that a failure says "never" rather than "not the first".
	first := srv.Publish(t, "notifications:all", `{"after":"restart"}`)
	deadline := time.Now().Add(waitFor)
	for {
		select {
		case g := <-h.msgs:
			if string(g.packet) != `42["notification",{"after":"restart"}]` {
				t.Fatalf("got %s", g.packet)
			}
			if first != 1 {
				t.Fatalf("first PUBLISH after Connected() reached %d subscribers", first)
			}
			return
		case <-time.After(50 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no delivery after restart")
			}
			srv.Publish(t, "notifications:all", `{"after":"restart"}`)
		}
	}
}

func TestBridgeStartsBeforeRedis(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	h := startBridge(t, Config{URL: srv.URL})
	h.waitRetries(t, 3) // a few failed attempts against the closed port
	select {
	case <-h.b.Ready():
		t.Fatal("Ready closed with no Redis")
	default:
	}
	if h.b.Connected() {
		t.Fatal("Connected() with no Redis")
	}
	srv.Restart()
	h.waitReady(t)
	if r := h.b.Stats().Reconnects; r != 0 {
		t.Fatalf("Reconnects = %d for the first subscription, want 0", r)
	}
	srv.Publish(t, "user:notifications:u", `{}`)
	if g := h.next(t); g.room != "user-notifications:u" {
		t.Fatalf("room %s", g.room)
	}
}

// goroutinesSettle waits until the goroutine count is back to at most base.
func goroutinesSettle(t *testing.T, base int) {
	t.Helper()
	if !holdsWithin(waitFor, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines, want ≤ %d:\n%s", runtime.NumGoroutine(), base, buf)
	}
}

func TestRunReturnsOnCancel(t *testing.T) {
	srv := redistest.Start(t)
	for _, state := range []string{"connected", "redis down", "dialling a black hole"} {
		t.Run(state, func(t *testing.T) {
			base := runtime.NumGoroutine()
			url := srv.URL
			var hole *blackHole
			if state == "dialling a black hole" {
				hole = newBlackHole(t)
				url = "redis://" + hole.addr()
			}
			logs := &syncbuf.Buffer{}
			logger := slog.New(slog.NewTextHandler(logs, nil))
			b, err := New(Config{URL: url, Logger: logger, MinBackoff: 5 * time.Millisecond}, func(m *Message) { m.Release() })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- b.Run(ctx) }()
			switch state {
			case "connected":
				select {
				case <-b.Ready():
				case <-time.After(waitFor):
					t.Fatal("not ready")
				}
			case "redis down":
				srv.Stop()
				defer srv.Restart()
				eventually(t, "disconnect", func() bool { return !b.Connected() })
				// Between attempts, after a few have failed.
				eventually(t, "retries", func() bool { return strings.Count(logs.String(), retryLog) >= 2 })
			default:
				// Blocked on a reply that never comes.
				select {
				case <-hole.heard:
				case <-time.After(waitFor):
					t.Fatal("the bridge never wrote to the black hole")
				}
			}
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run returned %v, want nil", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Run did not return within 2 s of cancel")
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Run took %v to return after cancel", d)
			}
			if b.Connected() {
				t.Error("Connected() true after Run returned")
			}
			if hole != nil {
				hole.close()
			}
			goroutinesSettle(t, base)
		})
	}
}

func TestRunTwice(t *testing.T) {
	srv := redistest.Start(t)
	h := startBridge(t, Config{URL: srv.URL})
	h.waitReady(t)
	if err := h.b.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	// The first Run is unaffected.
	srv.Publish(t, "notifications:all", `1`)
	h.next(t)
}

// TestHealthCheckKeepsIdleConnection: a healthy but silent subscription is
// PINGed, not dropped.
func TestHealthCheckKeepsIdleConnection(t *testing.T) {
	srv := redistest.Start(t)
	// The interval leaves a loaded machine time to answer each PING: the
	// connection is dropped after deadAfterIntervals without a read.
	h := startBridge(t, Config{URL: srv.URL, HealthInterval: 100 * time.Millisecond})
	h.waitReady(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	defer admin.Close()
	// Six health intervals, each PING answered: three times the silence
	// that would drop the connection without them.
	base := pingsServed(t, admin)
	eventually(t, "6 health-check PINGs", func() bool { return pingsServed(t, admin) >= base+6 })
	if !h.b.Connected() || h.b.Stats().Reconnects != 0 {
		t.Fatalf("idle connection dropped: connected %v, stats %+v", h.b.Connected(), h.b.Stats())
	}
	srv.Publish(t, "notifications:all", `{"still":"here"}`)
	h.next(t)
}

// pingsServed returns how many PINGs the Redis server behind c has answered.
func pingsServed(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	// "cmdstat_ping:calls=12,usec=…"; absent before the first PING.
	_, rest, found := strings.Cut(info, "cmdstat_ping:calls=")
	if !found {
		return 0
	}
	digits, _, _ := strings.Cut(rest, ",")
	n, err := strconv.Atoi(digits)
	if err != nil {
		t.Fatalf("INFO commandstats: %q: %v", digits, err)
	}
	return n
}

// TestHealthCheckDropsSilentConnection freezes a proxy between the bridge
// and Redis (no FIN, no RST: a half-open peer). The bridge must notice the
// silence, reconnect once the path works again, and deliver.
func TestHealthCheckDropsSilentConnection(t *testing.T) {
	srv := redistest.Start(t)
	px := newFreezeProxy(t, srv.Addr)
	h := startBridge(t, Config{URL: "redis://" + px.addr(), HealthInterval: 30 * time.Millisecond})
	h.waitReady(t)

	px.freeze(true)
	eventually(t, "Connected() false on a frozen peer", func() bool { return !h.b.Connected() })
	px.freeze(false)
	eventually(t, "reconnect after the freeze", h.b.Connected)
	if r := h.b.Stats().Reconnects; r < 1 {
		t.Fatalf("Reconnects = %d, want ≥ 1", r)
	}
	srv.Publish(t, "user:notifications:z", `{"ok":1}`)
	if g := h.next(t); g.room != "user-notifications:z" {
		t.Fatalf("room %s", g.room)
	}
}

// blackHole is a peer that accepts connections and reads from them but
// never answers, like a Redis that hung after its TCP handshake.
type blackHole struct {
	l      net.Listener
	heard  chan struct{} // closed once a client has written something
	once   sync.Once
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

func newBlackHole(t *testing.T) *blackHole {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &blackHole{l: l, heard: make(chan struct{})}
	h.wg.Go(h.accept)
	t.Cleanup(h.close)
	return h
}

func (h *blackHole) addr() string { return h.l.Addr().String() }

func (h *blackHole) accept() {
	for {
		c, err := h.l.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		h.wg.Go(func() {
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
				h.once.Do(func() { close(h.heard) })
			}
		})
	}
}

// close closes the listener and every connection and waits for its
// goroutines. Calling it twice is fine.
func (h *blackHole) close() {
	h.l.Close()
	h.mu.Lock()
	h.closed = true
	for _, c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// freezeProxy forwards TCP to a target; while frozen it holds every byte in
// both directions without closing anything, like a peer that vanished.
type freezeProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	wg     sync.WaitGroup
	conns  []net.Conn
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{l: l, target: target}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *freezeProxy) addr() string { return p.l.Addr().String() }

func (p *freezeProxy) freeze(on bool) {
	p.mu.Lock()
	p.frozen = on
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *freezeProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(u, c) })
		p.wg.Go(func() { p.pipe(c, u) })
	}
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.frozen {
			p.cond.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezeProxy) close() {
	p.l.Close()
	p.freeze(false)
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"", ModeStandalone, true},
		{"standalone", ModeStandalone, true},
		{"Sentinel", ModeSentinel, true},
		{"CLUSTER", ModeCluster, true},
		{"sharded", "", false},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestNewModeErrors: each mode parses its URL with its go-redis parser and
// refuses what its client cannot serve, without quoting passwords.
func TestNewModeErrors(t *testing.T) {
	deliver := func(m *Message) { m.Release() }
	tests := []struct {
		mode Mode
		url  string
		want string // in the error
	}{
		{ModeSentinel, "redis://:s3cr3tpw@s1:26379", "master_name"},
		{ModeSentinel, "redis://s1:26379?master_name=m&password=s3cr3tpw&route_randomly=true", "not supported"},
		{ModeSentinel, "redis://s1:26379?master_name=m&password=s3cr3tpw&addr=nope", "addr"},
		{ModeCluster, "redis://:s3cr3tpw@n1:7000?addr=n2", "addr"},
		{ModeCluster, "redis://:s3cr3tpw@n1:7000?master_name=m", "unexpected option"},
		{ModeStandalone, "redis://:s3cr3tpw@n1:7000?addr=n2:7001", "unexpected option"},
		{"sharded", "redis://n1:7000", "unknown Redis mode"},
	}
	for _, tt := range tests {
		_, err := New(Config{Mode: tt.mode, URL: tt.url}, deliver)
		if err == nil {
			t.Errorf("New(%s, %q) accepted it", tt.mode, tt.url)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "bridge: ") {
			t.Errorf("New(%s, %q) = %v, want a bridge: error about %q", tt.mode, tt.url, err, tt.want)
		}
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	valid := map[Mode]string{
		ModeStandalone: "redis://:pw@h1:1/2",
		ModeSentinel:   "redis://:pw@h1:1?master_name=m&addr=h2:2&password=pw",
		ModeCluster:    "redis://:pw@h1:1?addr=h2:2&addr=h3:3",
	}
	for _, m := range Modes {
		if _, err := New(Config{Mode: m, URL: valid[m]}, deliver); err != nil {
			t.Errorf("mode %s: %v", m, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	deliver := func(m *Message) { m.Release() }
	if _, err := New(Config{URL: "redis://127.0.0.1:1"}, nil); err == nil {
		t.Error("New accepted a nil Deliver")
	}
	if _, err := New(Config{}, deliver); err == nil {
		t.Error("New accepted an empty URL")
	}
	for _, u := range []string{
		"redis://user:s3cr3tpw@127.0.0.1:notaport",
		"redis://:s3cr3tpw@host/notadb",
		"http://:s3cr3tpw@host:6379",
		"redis://us er:s3cr3tpw@ho st:6379",
		"s3cr3tpw",
	} {
		_, err := New(Config{URL: u}, deliver)
		if err == nil {
			t.Errorf("New(%q) accepted a bad URL", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Errorf("error leaks the password: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "bridge: ") {
			t.Errorf("error lacks the package prefix: %v", err)
		}
	}
}

// TestPasswordNeverLogged runs the bridge against a password-protected
// Redis, first with a wrong password (errors and retries are logged), then
// checks no log line holds either password.
func TestPasswordNeverLogged(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	defer admin.Close()
	if err := admin.ConfigSet(ctx, "requirepass", "rightPw123").Err(); err != nil {
		t.Fatal(err)
	}

	bad := startBridge(t, Config{URL: "redis://:wrongPw456@" + srv.Addr})
	eventually(t, "a logged retry", func() bool { return strings.Contains(bad.logs.String(), "retrying") })
	if bad.b.Connected() {
		t.Fatal("connected with a wrong password")
	}

	good := startBridge(t, Config{URL: "redis://:rightPw123@" + srv.Addr})
	good.waitReady(t)

	for _, logs := range []string{bad.logs.String(), good.logs.String()} {
		if strings.Contains(logs, "wrongPw456") || strings.Contains(logs, "rightPw123") {
			t.Fatalf("password in logs:\n%s", logs)
		}
		if !strings.Contains(logs, "xxxxx@"+srv.Addr) {
			t.Fatalf("logs lack the redacted URL:\n%s", logs)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:pw@h:6379", "redis://:xxxxx@h:6379"},
		{"rediss://user:pw@h:6380/2?dial_timeout=3s", "rediss://user:xxxxx@h:6380/2?dial_timeout=3s"},
		{"redis://user@h", "redis://user@h"},
		{"redis://us er:p@w@ho st:1/x", "redis://xxxxx@ho st:1/x"}, // unparsable: userinfo dropped
		{"secret-without-scheme\x7f", "(unparsable URL)"},
		{"redis://:spw@s1:26379?master_name=m&password=mpw&addr=s2:26379", "redis://:xxxxx@s1:26379?addr=s2%3A26379&master_name=m&password=xxxxx"},
		{"redis://s1:26379?master_name=m&addr=s2:26379", "redis://s1:26379?master_name=m&addr=s2:26379"},
		{"redis://n1:7000?Sentinel_Password=x", "redis://n1:7000?Sentinel_Password=xxxxx"},
		{"redis://n1:7000?password=%zz", "redis://n1:7000?xxxxx"},                 // unparsable query
		{"redis://us er:p@w@ho st:1?password=mpw", "redis://xxxxx@ho st:1?xxxxx"}, // unparsable URL
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJitter(t *testing.T) {
	var lo, hi atomic.Bool
	for range 1000 {
		d := jitter(100 * time.Millisecond)
		if d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("jitter(100ms) = %v, want within [50ms, 100ms]", d)
		}
		lo.Store(lo.Load() || d < 60*time.Millisecond)
		hi.Store(hi.Load() || d > 90*time.Millisecond)
	}
	if !lo.Load() || !hi.Load() {
		t.Fatal("jitter does not spread over its range")
	}
}

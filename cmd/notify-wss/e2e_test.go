package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/sioclient"
	"github.com/notify-wss/notify-wss/internal/syncbuf"
)

// End-to-end tests: the real binary, a real redis-server and the real
// socket.io-client from npm, as operators and users run them.

const testSecret = "e2e-test-secret"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// buildBinary builds ./cmd/notify-wss once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "notify-wss-e2e")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "notify-wss")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// server is one notify-wss process under test.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	URL  string
	logs *syncbuf.Buffer
	done chan error
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs the binary in production mode against redisURL; extra
// holds more KEY=VALUE settings.
func startServer(t *testing.T, redisURL string, extra ...string) *server {
	t.Helper()
	return startServerOn(t, freePort(t), redisURL, extra...)
}

// startServerOn is startServer on a given port.
func startServerOn(t *testing.T, port int, redisURL string, extra ...string) *server {
	t.Helper()
	cmd := exec.Command(buildBinary(t))
	cmd.Dir = t.TempDir() // no stray .env
	cmd.Env = append(os.Environ(),
		"NODE_ENV=production", "REDIS_URL="+redisURL, "JWT_SECRET="+testSecret,
		"HOST=127.0.0.1", "PORT="+strconv.Itoa(port), "LOG_LEVEL=debug")
	cmd.Env = append(cmd.Env, extra...)
	s := &server{t: t, cmd: cmd, URL: "http://127.0.0.1:" + strconv.Itoa(port), logs: &syncbuf.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if t.Failed() {
			t.Logf("server log:\n%s", s.logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if st, _ := s.get("/ready"); st == http.StatusOK {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready in time; log:\n%s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches a path and returns the status and body.
func (s *server) get(path string) (int, []byte) {
	resp, err := http.Get(s.URL + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// health returns the decoded /health answer.
func (s *server) health() map[string]any {
	s.t.Helper()
	st, b := s.get("/health")
	if st != http.StatusOK {
		s.t.Fatalf("/health: %d %s", st, b)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		s.t.Fatalf("/health: %v: %s", err, b)
	}
	return h
}

// token mints a token with the test secret.
func token(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func userToken(t *testing.T, id string) string {
	return token(t, jwt.MapClaims{"userId": id, "displayName": "User " + id})
}

// wsOnly are client options for a WebSocket-only client with a token.
func wsOnly(tok string) map[string]any {
	return map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"token": tok}}
}

const wait = 10 * time.Second

// env starts redis, the server and a client driver.
func env(t *testing.T, extra ...string) (*redistest.Server, *server, *sioclient.Driver) {
	t.Helper()
	rd := redistest.Start(t)
	srv := startServer(t, rd.URL, extra...)
	return rd, srv, sioclient.Start(t)
}

// connect connects id and waits for "connect" and the "connected" event.
func connect(t *testing.T, d *sioclient.Driver, id, url string, opts map[string]any) sioclient.Event {
	t.Helper()
	d.Connect(id, url, opts)
	d.Wait(id, "connect", "", wait)
	return d.Wait(id, "event", "connected", wait)
}

// decode parses a JSON argument.
func decode(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad JSON %s: %v", raw, err)
	}
	return v
}

func TestAuthentication(t *testing.T) {
	_, srv, d := env(t)
	expired := token(t, jwt.MapClaims{"userId": "u1", "exp": time.Now().Add(-time.Hour).Unix()})
	wrongKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"userId": "u1"}).SignedString([]byte("other"))
	algNone, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"userId": "u1"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	noUser := token(t, jwt.MapClaims{"displayName": "nobody"})
	tests := []struct {
		name   string
		auth   map[string]any
		reason string
	}{
		{"missing", map[string]any{}, "token missing"},
		{"malformed", map[string]any{"token": "not.a.jwt"}, "invalid token"},
		{"wrong signature", map[string]any{"token": wrongKey}, "invalid token"},
		{"expired", map[string]any{"token": expired}, "token expired"},
		{"alg none", map[string]any{"token": algNone}, "invalid token"},
		{"no userId", map[string]any{"token": noUser}, "token has no userId"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "bad" + strconv.Itoa(i)
			d.Connect(id, srv.URL, map[string]any{"transports": []string{"websocket"}, "auth": tt.auth})
			e := d.Wait(id, "connect_error", "", wait)
			if e.Message != "Authentication failed" {
				t.Errorf("message = %q", e.Message)
			}
			var data struct{ Reason string }
			_ = json.Unmarshal(e.Data, &data)
			if data.Reason != tt.reason {
				t.Errorf("reason = %q, want %q", data.Reason, tt.reason)
			}
			d.NoEvent(id, "connect", "", 300*time.Millisecond)
		})
	}
	t.Run("valid", func(t *testing.T) {
		ev := connect(t, d, "ok", srv.URL, wsOnly(userToken(t, "u1")))
		c := decode(t, ev.Args[0]).(map[string]any)
		if c["userId"] != "u1" || c["displayName"] != "User u1" || c["socketId"] == "" || c["timestamp"] == "" || c["message"] == "" {
			t.Errorf("connected payload = %v", c)
		}
	})
	t.Run("numeric userId and query token", func(t *testing.T) {
		tok := token(t, jwt.MapClaims{"userId": 42})
		d.Connect("q", srv.URL, map[string]any{"transports": []string{"websocket"}, "query": map[string]any{"token": tok}})
		ev := d.Wait("q", "event", "connected", wait)
		if c := decode(t, ev.Args[0]).(map[string]any); c["userId"] != "42" {
			t.Errorf("userId = %v", c["userId"])
		}
	})
}

func TestRoomsAndNotifications(t *testing.T) {
	for _, mode := range []string{"pattern", "dynamic"} {
		t.Run(mode, func(t *testing.T) { testRoomsAndNotifications(t, mode) })
	}
}

func testRoomsAndNotifications(t *testing.T, mode string) {
	rd, srv, d := env(t, "REDIS_SUBSCRIBE="+mode)
	connect(t, d, "a", srv.URL, wsOnly(userToken(t, "alice")))
	connect(t, d, "b", srv.URL, wsOnly(userToken(t, "bob")))

	// Auto-joined to the own user room.
	rd.Publish(t, "user:notifications:alice", `{"type":"TIP","amount":5}`)
	if got := decode(t, d.Wait("a", "event", "notification", wait).Args[0]); !reflect.DeepEqual(got, map[string]any{"type": "TIP", "amount": 5.0}) {
		t.Errorf("TIP = %v", got)
	}

	// Joining another user's room is refused and gives no membership.
	seq := d.EmitAck("b", "join-user-notifications", "alice")
	d.WaitAck("b", seq, wait)
	errEv := d.Wait("b", "event", "error", wait)
	if m := decode(t, errEv.Args[0]).(map[string]any); !strings.Contains(m["message"].(string), "another user") {
		t.Errorf("error = %v", m)
	}

	// Each room type: join (acked), receive, leave, receive no more.
	rooms := []struct {
		event, arg, channel string
	}{
		{"user-notifications", "bob", "user:notifications:bob"},
		{"channel-notifications", "c1", "channel:notifications:c1"},
		{"global-notifications", "", "notifications:all"},
	}
	for _, r := range rooms {
		args := []any{}
		if r.arg != "" {
			args = append(args, r.arg)
		}
		ack := d.WaitAck("b", d.EmitAck("b", "join-"+r.event, args...), wait)
		if len(ack.Args) != 1 {
			t.Fatalf("join %s ack = %v", r.event, ack)
		}
		payload := fmt.Sprintf(`{"type":"FOLLOW","room":%q}`, r.event)
		rd.Publish(t, r.channel, payload)
		got := decode(t, d.Wait("b", "event", "notification", wait).Args[0])
		if !reflect.DeepEqual(got, decode(t, json.RawMessage(payload))) {
			t.Errorf("%s: got %v", r.event, got)
		}
		d.WaitAck("b", d.EmitAck("b", "leave-"+r.event, args...), wait)
	}
	// Bob left everything but his own room (leave-user left it too).
	rd.Publish(t, "channel:notifications:c1", `{"n":1}`)
	rd.Publish(t, "notifications:all", `{"n":2}`)
	rd.Publish(t, "user:notifications:alice", `{"type":"SUBSCRIPTION","tier":1}`)
	d.Wait("a", "event", "notification", wait) // alice's own, and the global one she never joined must not come
	d.NoEvent("b", "event", "notification", 500*time.Millisecond)
	d.NoEvent("a", "event", "notification", 100*time.Millisecond)

	// Bad arguments are answered with an error event.
	d.Emit("b", "join-channel-notifications")
	d.Wait("b", "event", "error", wait)

	h := srv.health()
	if h["status"] != "healthy" || h["connectedClients"].(float64) != 2 || h["totalSockets"].(float64) != 2 {
		t.Errorf("health = %v", h)
	}
}

func TestNotificationPayloads(t *testing.T) {
	rd, srv, d := env(t)
	connect(t, d, "c", srv.URL, wsOnly(userToken(t, "u1")))
	big := `{"type":"TIP","blob":"` + strings.Repeat("x", 100*1024) + `"}`
	payloads := []string{
		`{"type":"TIP","from":{"id":"u2","name":"Ann"},"amount":12.5,"currency":"USD"}`,
		`{"type":"FOLLOW","follower":{"id":"u3"},"at":"2026-11-25T10:00:00Z"}`,
		`{"type":"SUBSCRIPTION","tier":3,"months":[1,2,3],"gift":null,"ok":true}`,
		`{"type":"TIP","message":"héllo ✓ 日本語 🎉 \u00e9 \"quoted\" \\ back"}`,
		big,
		`not json at all`, // dropped, must not disturb the next one
		`{"after":"invalid"}`,
	}
	for _, p := range payloads {
		rd.Publish(t, "user:notifications:u1", p)
	}
	got := d.Collect("c", "event", "notification", len(payloads)-1, wait)
	want := append(append([]string{}, payloads[:5]...), payloads[6])
	for i, e := range got {
		if !reflect.DeepEqual(decode(t, e.Args[0]), decode(t, json.RawMessage(want[i]))) {
			t.Errorf("notification %d differs (len %d)", i, len(e.Args[0]))
		}
	}
	d.NoEvent("c", "event", "notification", 300*time.Millisecond)
}

func TestManyClientsInOrder(t *testing.T) {
	const clients, messages = 200, 20
	rd, srv, d := env(t)
	for i := 0; i < clients; i++ {
		id := "c" + strconv.Itoa(i)
		d.Connect(id, srv.URL, wsOnly(userToken(t, "u"+strconv.Itoa(i))))
	}
	for i := 0; i < clients; i++ {
		id := "c" + strconv.Itoa(i)
		d.Wait(id, "event", "connected", 30*time.Second)
		d.WaitAck(id, d.EmitAck(id, "join-global-notifications"), wait)
	}
	for m := 0; m < messages; m++ {
		if n := rd.Publish(t, "notifications:all", fmt.Sprintf(`{"seq":%d}`, m)); n != 1 {
			t.Fatalf("redis receivers = %d", n)
		}
	}
	for i := 0; i < clients; i++ {
		id := "c" + strconv.Itoa(i)
		got := d.Collect(id, "event", "notification", messages, 30*time.Second)
		for m, e := range got {
			if v := decode(t, e.Args[0]).(map[string]any)["seq"]; v != float64(m) {
				t.Fatalf("%s message %d has seq %v", id, m, v)
			}
		}
		d.NoEvent(id, "event", "notification", 0)
	}
}

func TestRedisRestart(t *testing.T) {
	for _, mode := range []string{"pattern", "dynamic"} {
		t.Run(mode, func(t *testing.T) { testRedisRestart(t, mode) })
	}
}

// testRedisRestart: /ready is 503 while Redis is gone and 200 again once
// the subscription is back (in dynamic mode: every room's), and
// notifications flow again.
func testRedisRestart(t *testing.T, mode string) {
	rd, srv, d := env(t, "REDIS_SUBSCRIBE="+mode)
	connect(t, d, "c", srv.URL, wsOnly(userToken(t, "u1")))
	rd.Stop()
	deadline := time.Now().Add(wait)
	for st, _ := srv.get("/ready"); st != http.StatusServiceUnavailable; st, _ = srv.get("/ready") {
		if time.Now().After(deadline) {
			t.Fatal("/ready stayed 200 with redis down")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rd.Restart()
	for st, _ := srv.get("/ready"); st != http.StatusOK; st, _ = srv.get("/ready") {
		if time.Now().After(deadline.Add(wait)) {
			t.Fatal("/ready did not come back after redis restarted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := rd.Publish(t, "user:notifications:u1", `{"after":"restart"}`); n != 1 {
		t.Errorf("ready again, but a PUBLISH reached %d subscribers", n)
	}
	e := d.Wait("c", "event", "notification", wait)
	if got := decode(t, e.Args[0]); !reflect.DeepEqual(got, map[string]any{"after": "restart"}) {
		t.Errorf("got %v", got)
	}
}

func TestTransports(t *testing.T) {
	rd, srv, d := env(t)
	tok := userToken(t, "u1")
	// Default client: polling first, then the upgrade.
	connect(t, d, "default", srv.URL, map[string]any{"auth": map[string]any{"token": tok}})
	if up := d.Wait("default", "upgrade", "", wait); up.Transport != "websocket" {
		t.Errorf("upgraded to %q", up.Transport)
	}
	// Polling only: notifications keep arriving over polling.
	d.Connect("poll", srv.URL, map[string]any{"transports": []string{"polling"}, "auth": map[string]any{"token": tok}})
	if c := d.Wait("poll", "connect", "", wait); c.Transport != "polling" {
		t.Errorf("polling client on %q", c.Transport)
	}
	d.Wait("poll", "event", "connected", wait)
	for i := 0; i < 5; i++ {
		rd.Publish(t, "user:notifications:u1", fmt.Sprintf(`{"i":%d}`, i))
	}
	for _, id := range []string{"default", "poll"} {
		for i, e := range d.Collect(id, "event", "notification", 5, wait) {
			if v := decode(t, e.Args[0]).(map[string]any)["i"]; v != float64(i) {
				t.Errorf("%s: notification %d is %v", id, i, v)
			}
		}
	}
	// A dropped transport is reconnected by the client and gets a new session.
	d.CloseEngine("poll")
	d.Wait("poll", "disconnect", "", wait)
	d.Wait("poll", "connect", "", wait)
	d.Wait("poll", "event", "connected", wait)
	rd.Publish(t, "user:notifications:u1", `{"i":"again"}`)
	d.Wait("poll", "event", "notification", wait)
	d.Wait("default", "event", "notification", wait)
}

func TestGracefulShutdown(t *testing.T) {
	_, srv, d := env(t, "DRAIN_DURATION=0")
	connect(t, d, "ws", srv.URL, wsOnly(userToken(t, "u1")))
	connect(t, d, "poll", srv.URL, map[string]any{"transports": []string{"polling"}, "auth": map[string]any{"token": userToken(t, "u2")}, "reconnection": false})
	start := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		srv.done <- err // for Cleanup
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit within 10 s of SIGTERM")
	}
	t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	// A transport close, not "io server disconnect": the client reconnects elsewhere.
	if e := d.Wait("ws", "disconnect", "", wait); e.Reason != "transport close" {
		t.Errorf("websocket client disconnect reason %q", e.Reason)
	}
	if e := d.Wait("poll", "disconnect", "", wait); e.Reason == "io server disconnect" {
		t.Errorf("polling client disconnect reason %q", e.Reason)
	}
}

func TestClientsReconnectAfterServerRestart(t *testing.T) {
	rd := redistest.Start(t)
	port := freePort(t)
	srv := startServerOn(t, port, rd.URL)
	d := sioclient.Start(t)
	tok := userToken(t, "u1")
	fast := map[string]any{"reconnectionDelay": 100, "reconnectionDelayMax": 300}
	wsOpts := map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"token": tok}}
	pollOpts := map[string]any{"transports": []string{"polling"}, "auth": map[string]any{"token": tok}}
	for k, v := range fast {
		wsOpts[k], pollOpts[k] = v, v
	}
	connect(t, d, "ws", srv.URL, wsOpts)
	connect(t, d, "poll", srv.URL, pollOpts)

	// The server goes away without a word (a crash, a kill -9).
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	srv.done <- nil
	for _, id := range []string{"ws", "poll"} {
		if e := d.Wait(id, "disconnect", "", wait); e.Reason == "io server disconnect" {
			t.Fatalf("%s: reason %q would stop the client reconnecting", id, e.Reason)
		}
	}
	startServerOn(t, port, rd.URL)
	for _, id := range []string{"ws", "poll"} {
		d.Wait(id, "connect", "", 15*time.Second)
		d.Wait(id, "event", "connected", wait)
	}
	rd.Publish(t, "user:notifications:u1", `{"after":"restart"}`)
	for _, id := range []string{"ws", "poll"} {
		d.Wait(id, "event", "notification", wait)
	}
}

func TestPublishCommand(t *testing.T) {
	rd, srv, d := env(t)
	connect(t, d, "c", srv.URL, wsOnly(userToken(t, "u7")))
	d.WaitAck("c", d.EmitAck("c", "join-channel-notifications", "ch1"), wait)
	for _, args := range [][]string{
		{"publish", "--user", "u7", "--type", "FOLLOW", "--data", `{"follower":"u8"}`},
		{"publish", "--channel", "ch1", "--type", "SUBSCRIPTION", "--message", "hi"},
	} {
		cmd := exec.Command(buildBinary(t), args...)
		cmd.Env = append(os.Environ(), "REDIS_URL="+rd.URL)
		cmd.Dir = t.TempDir()
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "1 subscriber") {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	got := d.Collect("c", "event", "notification", 2, wait)
	first := decode(t, got[0].Args[0]).(map[string]any)
	if first["type"] != "FOLLOW" || first["userId"] != "u7" || !reflect.DeepEqual(first["data"], map[string]any{"follower": "u8"}) || first["id"] == "" || first["timestamp"] == "" {
		t.Errorf("user notification %v", first)
	}
	second := decode(t, got[1].Args[0]).(map[string]any)
	if second["type"] != "SUBSCRIPTION" || second["channelId"] != "ch1" || second["message"] != "hi" {
		t.Errorf("channel notification %v", second)
	}
}

func TestHelpListsCommandsAndSettings(t *testing.T) {
	out, err := exec.Command(buildBinary(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"serve", "token", "publish", "healthcheck", "version"} {
		if !strings.Contains(string(out), "\n  "+want) {
			t.Errorf("--help does not list %q", want)
		}
	}
	for _, s := range settings {
		if !strings.Contains(string(out), s.env) || !strings.Contains(string(out), "-"+s.flag) {
			t.Errorf("--help does not list %s / -%s", s.env, s.flag)
		}
	}
}

// PPROF_ADDR serves Go's profiler on its own address, and only there.
func TestProfilerOnlyWhereAsked(t *testing.T) {
	rd := redistest.Start(t)
	pprofAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	srv := startServer(t, rd.URL, "PPROF_ADDR="+pprofAddr)
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatalf("profiler: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile:") {
		t.Fatalf("profiler answered %d: %.200s", resp.StatusCode, body)
	}
	if st, _ := srv.get("/debug/pprof/"); st != http.StatusNotFound {
		t.Fatalf("the public port serves /debug/pprof/ with %d, want 404", st)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// End-to-end tests of a connection's and a server's life: the lame-duck
// drain of a deploy, and tokens that expire or are refreshed.

// noReconnect are options for a WebSocket client that does not come back.
func noReconnect(tok string) map[string]any {
	o := wsOnly(tok)
	o["reconnection"] = false
	return o
}

// waitStatus polls path until it answers want.
func (s *server) waitStatus(path string, want int) {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st, _ := s.get(path)
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s answered %d, want %d", path, st, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exitsWithin waits for the server process to end and fails unless it
// exited 0 within limit.
func (s *server) exitsWithin(limit time.Duration) {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		if err != nil {
			s.t.Fatalf("exit: %v", err)
		}
	case <-time.After(limit):
		s.t.Fatalf("server did not exit within %v", limit)
	}
}

func TestDrainSpreadsClosesOverTheWindow(t *testing.T) {
	const clients = 20
	const window = 2 * time.Second
	_, srv, d := env(t, "DRAIN_DURATION="+window.String())
	for i := range clients {
		connect(t, d, fmt.Sprint("c", i), srv.URL, noReconnect(userToken(t, fmt.Sprint("u", i))))
	}
	start := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Lame duck at once: not ready, "draining", no new sessions.
	srv.waitStatus("/ready", http.StatusServiceUnavailable)
	if h := srv.health(); h["status"] != "draining" {
		t.Errorf("/health status %v while draining", h["status"])
	}
	d.Connect("late", srv.URL, noReconnect(userToken(t, "late")))
	d.Wait("late", "connect_error", "", wait)

	var offsets []time.Duration
	for i := range clients {
		e := d.Wait(fmt.Sprint("c", i), "disconnect", "", wait)
		if e.Reason != "transport close" {
			t.Errorf("c%d: disconnect reason %q, want transport close", i, e.Reason)
		}
		offsets = append(offsets, time.UnixMilli(e.T).Sub(start))
	}
	srv.exitsWithin(wait)
	slices.Sort(offsets)
	t.Logf("closes after SIGTERM: %v", offsets)
	// Evenly over the window: the last quarter of the clients go in the
	// second half, and the first half are not all gone in the first quarter.
	if last := offsets[len(offsets)-1]; last < window/2 {
		t.Errorf("every client closed within %v of SIGTERM; want them spread over %v", last, window)
	}
	if half := offsets[clients/2]; half < window/4 {
		t.Errorf("half the clients closed within %v; want about half by %v", half, window/2)
	}
}

func TestSecondSignalEndsTheDrainAtOnce(t *testing.T) {
	_, srv, d := env(t, "DRAIN_DURATION=60s")
	for i := range 5 {
		connect(t, d, fmt.Sprint("c", i), srv.URL, noReconnect(userToken(t, fmt.Sprint("u", i))))
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	srv.waitStatus("/ready", http.StatusServiceUnavailable)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		d.Wait(fmt.Sprint("c", i), "disconnect", "", wait)
	}
	srv.exitsWithin(wait)
}

// expiringToken mints a token for id that expires in ttl (whole seconds).
func expiringToken(t *testing.T, id string, ttl time.Duration) string {
	return token(t, jwt.MapClaims{"userId": id, "displayName": "User " + id, "exp": time.Now().Add(ttl).Unix()})
}

func TestExpiredTokenClosesTheTransport(t *testing.T) {
	rd, srv, d := env(t)
	short := expiringToken(t, "u1", 2*time.Second)
	fresh := expiringToken(t, "u1", time.Hour)
	// auth as a function: the reconnection after the expiry takes the
	// fresh token, as an app that refreshes its tokens does.
	opts := map[string]any{"transports": []string{"websocket"}, "authTokens": []string{short, fresh},
		"reconnectionDelay": 100, "reconnectionDelayMax": 200}
	connect(t, d, "c", srv.URL, opts)
	if e := d.Wait("c", "disconnect", "", 5*time.Second); e.Reason != "transport close" {
		t.Fatalf("disconnect reason %q, want transport close (so the client reconnects)", e.Reason)
	}
	d.Wait("c", "connect", "", wait)
	d.Wait("c", "event", "connected", wait)
	rd.Publish(t, "user:notifications:u1", `{"after":"refresh"}`)
	d.Wait("c", "event", "notification", wait)
	if !strings.Contains(srv.logs.String(), `"reason":"token expired"`) {
		t.Errorf("no log line with the token expired reason")
	}
}

func TestRefreshTokenExtendsTheSession(t *testing.T) {
	rd, srv, d := env(t)
	connect(t, d, "c", srv.URL, noReconnect(expiringToken(t, "u1", 2*time.Second)))
	later := time.Now().Add(time.Hour).Unix()
	ack := d.WaitAck("c", d.EmitAck("c", "refresh-token", map[string]any{"token": expiringToken(t, "u1", time.Hour)}), wait)
	var got struct {
		OK  bool  `json:"ok"`
		Exp int64 `json:"exp"`
	}
	if len(ack.Args) != 1 || json.Unmarshal(ack.Args[0], &got) != nil || !got.OK || got.Exp < later-5 || got.Exp > later+5 {
		t.Fatalf("refresh ack %v, want {ok:true, exp:~%d}", ack.Args, later)
	}
	// Past the first token's expiry, the socket is still there and served.
	d.NoEvent("c", "disconnect", "", 3*time.Second)
	rd.Publish(t, "user:notifications:u1", `{"still":"here"}`)
	d.Wait("c", "event", "notification", wait)
}

func TestRefreshTokenRefusals(t *testing.T) {
	_, srv, d := env(t)
	connect(t, d, "c", srv.URL, noReconnect(expiringToken(t, "u1", time.Hour)))
	refused := []struct{ name, token string }{
		{"another user's", expiringToken(t, "u2", 2*time.Hour)},
		{"garbage", "a.b.c"},
		{"expired", expiringToken(t, "u1", -time.Minute)},
		{"expiring earlier", expiringToken(t, "u1", 30*time.Minute)},
	}
	for _, r := range refused {
		ack := d.WaitAck("c", d.EmitAck("c", "refresh-token", map[string]any{"token": r.token}), wait)
		var got struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if len(ack.Args) != 1 || json.Unmarshal(ack.Args[0], &got) != nil || got.OK || got.Error == "" {
			t.Errorf("%s token: ack %v, want {ok:false, error}", r.name, ack.Args)
		}
		d.Wait("c", "event", "error", wait)
	}
	// Still connected: the server still answers it.
	d.WaitAck("c", d.EmitAck("c", "join-global-notifications"), wait)
}

package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// socket.io v2 clients (Engine.IO protocol 3) with ALLOW_EIO3: the real
// socket.io-client 2.5 from npm against the real binary and redis-server.

// v2Opts are socket.io-client 2 options: the token in the query (v2 has no
// auth), and the transports unless nil.
func v2Opts(tok string, transports []string) map[string]any {
	opts := map[string]any{"query": map[string]any{"token": tok}}
	if transports != nil {
		opts["transports"] = transports
	}
	return opts
}

func TestV2ClientsGetNotifications(t *testing.T) {
	// Short heartbeats: the v2 client pings every 300 ms and gives up
	// without a pong; the server gives up without pings.
	rd, srv, d := env(t, "ALLOW_EIO3=true", "PING_INTERVAL=300ms", "PING_TIMEOUT=300ms")
	clients := []struct {
		id         string
		transports []string
	}{
		{"polling", []string{"polling"}},
		{"websocket", []string{"websocket"}},
		{"default", nil}, // polling, then the upgrade
	}
	for _, c := range clients {
		d.ConnectWith(sioclient.V2, c.id, srv.URL, v2Opts(userToken(t, "u-"+c.id), c.transports))
		ev := d.Wait(c.id, "connect", "", wait)
		if c.transports != nil && ev.Transport != c.transports[0] {
			t.Errorf("%s: connected over %q", c.id, ev.Transport)
		}
		hello := decode(t, d.Wait(c.id, "event", "connected", wait).Args[0]).(map[string]any)
		if hello["userId"] != "u-"+c.id || hello["socketId"] == "" {
			t.Errorf("%s: connected = %v", c.id, hello)
		}
		ack := d.WaitAck(c.id, d.EmitAck(c.id, "join-channel-notifications", "c1"), wait)
		if got := decode(t, ack.Args[0]); !reflect.DeepEqual(got, map[string]any{"joined": "channel-notifications:c1"}) {
			t.Errorf("%s: join ack = %v", c.id, got)
		}
	}
	if up := d.Wait("default", "upgrade", "", wait); up.Transport != "websocket" {
		t.Errorf("default client upgraded to %q", up.Transport)
	}
	// A v4 client in the same room gets the same notifications.
	connect(t, d, "v4", srv.URL, wsOnly(userToken(t, "u-v4")))
	d.WaitAck("v4", d.EmitAck("v4", "join-channel-notifications", "c1"), wait)

	// Characters outside ASCII and above U+FFFF: EIO3 polling lengths count
	// UTF-16 code units, not bytes.
	payloads := []string{`{"i":0,"msg":"héllo ✓"}`, `{"i":1,"msg":"😀 tip"}`, `{"i":2}`}
	for _, p := range payloads {
		rd.Publish(t, "channel:notifications:c1", p)
	}
	rd.Publish(t, "user:notifications:u-polling", `{"own":"polling"}`)
	for _, id := range []string{"polling", "websocket", "default", "v4"} {
		for i, e := range d.Collect(id, "event", "notification", len(payloads), wait) {
			if got, want := decode(t, e.Args[0]), decode(t, json.RawMessage(payloads[i])); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: notification %d = %v, want %v", id, i, got, want)
			}
		}
	}
	if got := decode(t, d.Wait("polling", "event", "notification", wait).Args[0]); !reflect.DeepEqual(got, map[string]any{"own": "polling"}) {
		t.Errorf("own room: %v", got)
	}
	// Heartbeats in the v2 direction keep every session alive for several
	// ping periods.
	for _, c := range clients {
		d.NoEvent(c.id, "disconnect", "", 500*time.Millisecond)
	}
	rd.Publish(t, "channel:notifications:c1", `{"i":"after the pings"}`)
	for _, c := range clients {
		d.Wait(c.id, "event", "notification", wait)
	}
	if h := srv.health(); h["connectedClients"].(float64) != 4 {
		t.Errorf("health = %v", h)
	}

	// A refused token: the v2 client gets an error with the reason.
	for i, transports := range [][]string{{"websocket"}, {"polling"}} {
		id := fmt.Sprint("bad", i)
		d.ConnectWith(sioclient.V2, id, srv.URL, v2Opts("not.a.jwt", transports))
		e := d.Wait(id, "connect_error", "", wait)
		var data struct{ Reason string }
		if json.Unmarshal(e.Data, &data) != nil || data.Reason != "invalid token" {
			t.Errorf("%v: connect_error = %v", transports, e)
		}
		d.NoEvent(id, "connect", "", 300*time.Millisecond)
	}
}

func TestV2ClientsRefusedByDefault(t *testing.T) {
	_, srv, d := env(t)
	tok := userToken(t, "u1")
	for _, transports := range [][]string{{"websocket"}, {"polling"}} {
		id := fmt.Sprint(transports)
		opts := v2Opts(tok, transports)
		opts["reconnection"] = false
		d.ConnectWith(sioclient.V2, id, srv.URL, opts)
		d.Wait(id, "connect_error", "", wait)
		d.NoEvent(id, "connect", "", 300*time.Millisecond)
	}
	// A v4 client is unaffected.
	connect(t, d, "v4", srv.URL, wsOnly(tok))
}

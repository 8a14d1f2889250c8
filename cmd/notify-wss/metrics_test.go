package main

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/internal/promtest"
)

// scrape fetches and parses the server's /metrics.
func (s *server) scrape() promtest.Families {
	s.t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		s.t.Fatalf("GET /metrics: 404: serve.go does not set engine.Config.HTTPHandler to metrics.serveHTTP")
	}
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /metrics: %s: %s", resp.Status, buf.Bytes())
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		s.t.Errorf("GET /metrics: Content-Type %q", ct)
	}
	return promtest.Parse(s.t, buf.Bytes())
}

// series names one series: a family and at most one label pair.
type series struct{ name, label, value string }

func (s series) labels() []string {
	if s.label == "" {
		return nil
	}
	return []string{s.label, s.value}
}

func (s series) String() string {
	if s.label == "" {
		return s.name
	}
	return fmt.Sprintf("%s{%s=%q}", s.name, s.label, s.value)
}

func ser(name string, label ...string) series {
	s := series{name: name}
	if len(label) == 2 {
		s.label, s.value = label[0], label[1]
	}
	return s
}

// expectMetrics scrapes until every series has the wanted value (counters
// are added by the loops after the write, so a client may see a message a
// moment before it is counted) and fails with the differences otherwise.
// Because the wait is for equality, a counter that overshoots fails too.
func (s *server) expectMetrics(want map[series]float64) promtest.Families {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		fams := s.scrape()
		var diffs []string
		for sr, v := range want {
			got, ok := fams.Lookup(sr.name, sr.labels()...)
			if !ok || got != v {
				diffs = append(diffs, fmt.Sprintf("%v = %v (present %v), want %v", sr, got, ok, v))
			}
		}
		if len(diffs) == 0 {
			return fams
		}
		if time.Now().After(deadline) {
			sort.Strings(diffs)
			s.t.Fatalf("metrics did not reach the expected values:\n  %s", strings.Join(diffs, "\n  "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// frameLen is the size of the WebSocket frame a notification payload becomes:
// header + 42["notification",<payload>].
func frameLen(payload, offset string) float64 {
	n := len(`42["notification",`) + len(payload) + len(`,"`) + len(offset) + len(`"]`)
	switch {
	case n <= 125:
		return float64(2 + n)
	case n <= 65535:
		return float64(4 + n)
	}
	return float64(10 + n)
}

// TestMetricsEndToEnd drives the real binary with real clients and a real
// Redis and checks that every counter moves by exactly what happened.
func TestMetricsEndToEnd(t *testing.T) {
	rd, srv, d := env(t)
	base := srv.scrape()
	c := func(sr series) float64 { return base.Value(t, sr.name, sr.labels()...) }

	var (
		sockets    = ser("notify_wss_sockets")
		sessions   = ser("notify_wss_sessions")
		ws         = ser("notify_wss_connections", "transport", "websocket")
		polling    = ser("notify_wss_connections", "transport", "polling")
		rooms      = ser("notify_wss_rooms")
		joins      = ser("notify_wss_room_joins_total")
		leaves     = ser("notify_wss_room_leaves_total")
		recvUser   = ser("notify_wss_notifications_received_total", "kind", "user")
		recvChan   = ser("notify_wss_notifications_received_total", "kind", "channel")
		recvGlobal = ser("notify_wss_notifications_received_total", "kind", "global")
		invalid    = ser("notify_wss_notifications_invalid_total")
		deliveries = ser("notify_wss_deliveries_total")
		bytesOut   = ser("notify_wss_delivered_bytes_total")
		authFail   = ser("notify_wss_auth_failures_total")
		slow       = ser("notify_wss_slow_consumer_disconnects_total")
		redisUp    = ser("notify_wss_redis_connected")
		reconnects = ser("notify_wss_redis_reconnects_total")
		overRel    = ser("notify_wss_message_over_releases_total")
		accepted   = ser("notify_wss_tcp_accepted_total")
	)
	// A fresh server: nothing connected, every counter at zero but the
	// accepted connections of the readiness probes and this scrape.
	for _, sr := range []series{sockets, sessions, ws, polling, rooms, joins, leaves, recvUser, recvChan,
		recvGlobal, invalid, deliveries, bytesOut, authFail, slow, reconnects, overRel} {
		if v := c(sr); v != 0 {
			t.Errorf("fresh server: %v = %v", sr, v)
		}
	}
	if c(redisUp) != 1 {
		t.Errorf("fresh server: redis_connected = %v", c(redisUp))
	}
	if bi := base["notify_wss_build_info"].GetMetric(); len(bi) != 1 || bi[0].GetGauge().GetValue() != 1 {
		t.Errorf("build_info = %v", bi)
	} else if _, ok := base.Lookup("notify_wss_build_info", "version", buildVersion(), "goversion", runtime.Version()); !ok {
		t.Errorf("build_info labels = %v", bi[0].GetLabel())
	}

	// One WebSocket client: one session, one socket, its own user room.
	connect(t, d, "a", srv.URL, wsOnly(userToken(t, "m1")))
	got := srv.expectMetrics(map[series]float64{
		sockets: 1, sessions: 1, ws: 1, polling: 0, rooms: 1, joins: 1, leaves: 0,
	})
	if got.Value(t, accepted.name) <= c(accepted) {
		t.Errorf("tcp_accepted_total did not grow: %v", got.Value(t, accepted.name))
	}

	// A channel room: one more join and room.
	d.WaitAck("a", d.EmitAck("a", "join-channel-notifications", "c1"), wait)
	srv.expectMetrics(map[series]float64{joins: 2, rooms: 2})

	// A user notification: received once, delivered once, its frame written.
	userPayload := `{"type":"TIP","amount":5}`
	rd.Publish(t, "user:notifications:m1", userPayload)
	d.Wait("a", "event", "notification", wait)
	srv.expectMetrics(map[series]float64{
		recvUser: 1, recvChan: 0, recvGlobal: 0, deliveries: 1, bytesOut: frameLen(userPayload, "1"),
	})

	// A channel notification.
	chanPayload := `{"type":"FOLLOW","channel":"c1"}`
	rd.Publish(t, "channel:notifications:c1", chanPayload)
	d.Wait("a", "event", "notification", wait)
	srv.expectMetrics(map[series]float64{
		recvUser: 1, recvChan: 1, deliveries: 2, bytesOut: frameLen(userPayload, "1") + frameLen(chanPayload, "2"),
	})

	// A global notification nobody joined: received, not delivered. Invalid
	// JSON: counted as invalid, neither received nor delivered.
	rd.Publish(t, "notifications:all", `{"type":"ANNOUNCEMENT"}`)
	rd.Publish(t, "user:notifications:m1", `not json`)
	srv.expectMetrics(map[series]float64{recvGlobal: 1, invalid: 1, recvUser: 1, deliveries: 2})
	d.NoEvent("a", "event", "notification", 200*time.Millisecond)

	// Leaving the channel room.
	d.WaitAck("a", d.EmitAck("a", "leave-channel-notifications", "c1"), wait)
	srv.expectMetrics(map[series]float64{leaves: 1, rooms: 1})

	// A bad token: one auth failure, no socket (socket.io-client then closes
	// its Engine.IO session, which the next step's session count checks).
	d.Connect("bad", srv.URL, map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"token": "not.a.jwt"}, "reconnection": false})
	d.Wait("bad", "connect_error", "", wait)
	srv.expectMetrics(map[series]float64{authFail: 1, sockets: 1})

	// A polling client.
	connect(t, d, "p", srv.URL, map[string]any{"transports": []string{"polling"}, "auth": map[string]any{"token": userToken(t, "m2")}})
	srv.expectMetrics(map[series]float64{sockets: 2, sessions: 2, ws: 1, polling: 1, rooms: 2, joins: 3})
	rd.Publish(t, "user:notifications:m2", `{"to":"polling"}`)
	d.Wait("p", "event", "notification", wait)
	// Deliveries count polling members; written bytes only WebSocket frames.
	srv.expectMetrics(map[series]float64{recvUser: 2, deliveries: 3, bytesOut: frameLen(userPayload, "1") + frameLen(chanPayload, "2")})

	// The write-latency histogram: one observation per notification that
	// reached a member (two user ones, one channel one), none for the
	// global one nobody had joined.
	latUser := ser("notify_wss_write_latency_seconds", "kind", "user")
	latChan := ser("notify_wss_write_latency_seconds", "kind", "channel")
	latGlobal := ser("notify_wss_write_latency_seconds", "kind", "global")
	srv.expectMetrics(map[series]float64{latUser: 2, latChan: 1, latGlobal: 0})

	// Disconnecting leaves the rooms.
	d.Disconnect("a")
	d.Disconnect("p")
	srv.expectMetrics(map[series]float64{sockets: 0, rooms: 0, leaves: 3, joins: 3})

	// Redis down and back: the gauge follows, the reconnect is counted.
	rd.Stop()
	srv.expectMetrics(map[series]float64{redisUp: 0, reconnects: 0})
	if st, _ := srv.get("/ready"); st != http.StatusServiceUnavailable {
		t.Errorf("/ready = %d with redis down", st)
	}
	rd.Restart()
	srv.expectMetrics(map[series]float64{redisUp: 1, reconnects: 1})

	srv.expectMetrics(map[series]float64{slow: 0, overRel: 0})
}

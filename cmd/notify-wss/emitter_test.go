package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// The Socket.IO emitter input (EMITTER=on): the real
// @socket.io/redis-emitter publishing to the real redis-server, the real
// binary, real socket.io-clients.

// waitMetric polls /metrics until name{labels} is want.
func waitMetric(t *testing.T, s *server, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, _ := s.scrape().Lookup(name, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nextEvent returns the next event of id named name and checks its
// arguments.
func nextEvent(t *testing.T, d *sioclient.Driver, id, name string, want ...any) {
	t.Helper()
	ev := d.Wait(id, "event", name, wait)
	got := make([]any, len(ev.Args))
	for i, a := range ev.Args {
		got[i] = decode(t, a)
	}
	wantJSON, _ := json.Marshal(want)
	var w []any
	_ = json.Unmarshal(wantJSON, &w)
	if !reflect.DeepEqual(got, w) {
		t.Fatalf("%s: %s args %v, want %v", id, name, got, w)
	}
}

func TestEmitterInput(t *testing.T) {
	// Without recovery, so that a PUBLISH's frame has no offset argument
	// and the emitter's and the PUBLISH's events compare equal (emitter
	// messages never carry one: they are outside recovery).
	rd, srv, d := env(t, "EMITTER=on", "RECOVERY_WINDOW=0")
	em := sioclient.StartEmitter(t, rd.Addr)
	// a, b on WebSocket, c polling only; b and c in channel c1, everyone
	// but a in the global room.
	connect(t, d, "a", srv.URL, wsOnly(userToken(t, "u-a")))
	connect(t, d, "b", srv.URL, wsOnly(userToken(t, "u-b")))
	connect(t, d, "c", srv.URL, map[string]any{"transports": []string{"polling"}, "auth": map[string]any{"token": userToken(t, "u-c")}})
	for _, id := range []string{"b", "c"} {
		d.WaitAck(id, d.EmitAck(id, "join-channel-notifications", "c1"), wait)
		d.WaitAck(id, d.EmitAck(id, "join-global-notifications"), wait)
	}

	// emitter.to(user room).emit("notification", n) reaches that user
	// alone, exactly as a PUBLISH on its channel does.
	n := map[string]any{"type": "TIP", "amount": 5.5, "big": 9007199254740991, "neg": -3, "s": "héllo \"✓\"\n😀",
		"ok": true, "none": nil, "list": []any{1, "two", []any{}, map[string]any{}}}
	p := em.Emit(sioclient.Emit{Rooms: []string{"user-notifications:u-a"}, Event: "notification", Args: []any{n}})
	if p.Channel != "socket.io#/#user-notifications:u-a#" || p.Receivers != 1 {
		t.Fatalf("published %+v", p)
	}
	nextEvent(t, d, "a", "notification", n)
	raw, _ := json.Marshal(n)
	rd.Publish(t, "user:notifications:u-a", string(raw))
	nextEvent(t, d, "a", "notification", n)

	// to([a, c1]).except(b): a and c, not b (in c1, but excepted).
	em.Emit(sioclient.Emit{Rooms: []string{"user-notifications:u-a", "channel-notifications:c1"}, Except: []string{"user-notifications:u-b"},
		Event: "notification", Args: []any{map[string]any{"i": 1}}})
	// to(global).emit, volatile and compressed: b and c.
	f := false
	em.Emit(sioclient.Emit{Rooms: []string{"global-notifications"}, Volatile: true, Compress: &f, Event: "notification", Args: []any{map[string]any{"i": 2}}})
	// A broadcast to everyone, with another event name and two arguments.
	em.Emit(sioclient.Emit{Event: "maintenance", Args: []any{"at 02:00", 3}})
	// Refused: binary data, another namespace, and a room nobody here is in.
	em.Emit(sioclient.Emit{Rooms: []string{"user-notifications:u-a"}, Event: "notification", Args: []any{sioclient.Buffer([]byte{1, 2, 3})}})
	em.Emit(sioclient.Emit{Nsp: "/admin", Event: "notification", Args: []any{map[string]any{"admin": true}}})
	em.Emit(sioclient.Emit{Rooms: []string{"some-room"}, Event: "notification", Args: []any{"nobody"}})
	// Everyone but b: the last one each sees.
	em.Emit(sioclient.Emit{Except: []string{"user-notifications:u-b"}, Event: "notification", Args: []any{"last"}})

	nextEvent(t, d, "a", "notification", map[string]any{"i": 1})
	nextEvent(t, d, "a", "maintenance", "at 02:00", 3)
	nextEvent(t, d, "a", "notification", "last")
	nextEvent(t, d, "b", "notification", map[string]any{"i": 2})
	nextEvent(t, d, "b", "maintenance", "at 02:00", 3)
	nextEvent(t, d, "c", "notification", map[string]any{"i": 1})
	nextEvent(t, d, "c", "notification", map[string]any{"i": 2})
	nextEvent(t, d, "c", "maintenance", "at 02:00", 3)
	nextEvent(t, d, "c", "notification", "last")
	// b's marker: a notification for it after everything above.
	em.Emit(sioclient.Emit{Rooms: []string{"user-notifications:u-b"}, Event: "notification", Args: []any{"b-last"}})
	nextEvent(t, d, "b", "notification", "b-last")

	waitMetric(t, srv, 1, "notify_wss_emitter_refused_total", "reason", "binary")
	waitMetric(t, srv, 1, "notify_wss_emitter_refused_total", "reason", "namespace")
	waitMetric(t, srv, 6, "notify_wss_notifications_received_total", "kind", "emitter")
	logs := srv.logs.String()
	for _, want := range []string{`"reason":"binary"`, `"reason":"namespace"`} {
		if !strings.Contains(logs, `"msg":"refusing socket.io emitter message"`) || !strings.Contains(logs, want) {
			t.Errorf("no refusal logged with %s", want)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		d.NoEvent(id, "event", "", 0) // nothing else arrived
	}
}

// TestEmitterOff: by default the emitter's channels are not even
// subscribed; its messages reach nobody.
func TestEmitterOff(t *testing.T) {
	rd, srv, d := env(t, "RECOVERY_WINDOW=0")
	em := sioclient.StartEmitter(t, rd.Addr)
	connect(t, d, "a", srv.URL, wsOnly(userToken(t, "u-a")))
	for _, e := range []sioclient.Emit{
		{Rooms: []string{"user-notifications:u-a"}, Event: "notification", Args: []any{"emitted"}},
		{Event: "notification", Args: []any{"broadcast"}},
	} {
		if p := em.Emit(e); p.Receivers != 0 {
			t.Fatalf("%s has %d subscribers with EMITTER off", p.Channel, p.Receivers)
		}
	}
	rd.Publish(t, "user:notifications:u-a", `"published"`)
	nextEvent(t, d, "a", "notification", "published")
	d.NoEvent("a", "event", "", 0)
}

// TestEmitterDynamic: with REDIS_SUBSCRIBE=dynamic the per-room emitter
// channel follows the room's members, and the broadcast channel is always
// subscribed.
func TestEmitterDynamic(t *testing.T) {
	rd, srv, d := env(t, "EMITTER=on", "REDIS_SUBSCRIBE=dynamic", "RECOVERY_WINDOW=0")
	em := sioclient.StartEmitter(t, rd.Addr)
	connect(t, d, "a", srv.URL, wsOnly(userToken(t, "u-a")))
	if p := em.Emit(sioclient.Emit{Rooms: []string{"user-notifications:u-a"}, Event: "notification", Args: []any{1}}); p.Receivers != 1 {
		t.Fatalf("%s: %d subscribers, want 1", p.Channel, p.Receivers)
	}
	nextEvent(t, d, "a", "notification", 1)
	if p := em.Emit(sioclient.Emit{Rooms: []string{"user-notifications:u-nobody"}, Event: "notification", Args: []any{2}}); p.Receivers != 0 {
		t.Fatalf("%s: %d subscribers, want 0 (no member here)", p.Channel, p.Receivers)
	}
	if p := em.Emit(sioclient.Emit{Event: "notification", Args: []any{3}}); p.Receivers != 1 {
		t.Fatalf("%s: %d subscribers, want 1", p.Channel, p.Receivers)
	}
	nextEvent(t, d, "a", "notification", 3)
	d.NoEvent("a", "event", "", 0)
}

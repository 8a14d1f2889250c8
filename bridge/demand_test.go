package bridge

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

func TestChannelFor(t *testing.T) {
	tests := []struct {
		room, channel string
		ok            bool
	}{
		{"user-notifications:42", "user:notifications:42", true},
		{"channel-notifications:general", "channel:notifications:general", true},
		{"global-notifications", "notifications:all", true},
		{"user-notifications:a:b", "user:notifications:a:b", true},
		{"user-notifications:", "", false},
		{"channel-notifications:", "", false},
		{"/admin\x00user-notifications:42", "", false}, // another namespace's room
		{"lobby", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		channel, ok := ChannelFor(tt.room)
		if channel != tt.channel || ok != tt.ok {
			t.Errorf("ChannelFor(%q) = (%q, %v), want (%q, %v)", tt.room, channel, ok, tt.channel, tt.ok)
		}
		if ok { // the reverse of RoomFor
			if room, _, rok := RoomFor(channel); !rok || room != tt.room {
				t.Errorf("RoomFor(ChannelFor(%q)) = %q", tt.room, room)
			}
		}
		// What dynamic mode subscribes room by room, and its lookup.
		own := ok && channel != globalChannel
		if ownChannel(tt.room) != own {
			t.Errorf("ownChannel(%q) = %v, want %v", tt.room, !own, own)
		}
		if b, aok := appendRoom([]byte("x"), channel); aok != own || own && string(b) != "x"+tt.room {
			t.Errorf("appendRoom(%q) = (%q, %v)", channel, b, aok)
		}
	}
}

func TestParseSubscribeMode(t *testing.T) {
	tests := []struct {
		in   string
		want SubscribeMode
		ok   bool
	}{
		{"", SubscribePattern, true},
		{"pattern", SubscribePattern, true},
		{"dynamic", SubscribeDynamic, true},
		{"sharded", SubscribeSharded, true},
		{"Dynamic", "", false},
		{"ssubscribe", "", false},
	}
	for _, tt := range tests {
		got, err := ParseSubscribeMode(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseSubscribeMode(%q) = (%q, %v)", tt.in, got, err)
		}
	}
	if _, err := New(Config{URL: "redis://127.0.0.1:1", Subscribe: "ssubscribe"}, func(m *Message) { m.Release() }); err == nil {
		t.Error("New accepted an unknown subscribe mode")
	}
}

// redisAdmin is a second client on the test's redis-server, to look at
// what the bridge subscribed.
type redisAdmin struct {
	t *testing.T
	c *redis.Client
}

func newAdmin(t *testing.T, srv *redistest.Server) *redisAdmin {
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	t.Cleanup(func() { _ = c.Close() })
	return &redisAdmin{t: t, c: c}
}

// numsub returns how many clients subscribe channel (0 while redis is down).
func (a *redisAdmin) numsub(channel string) int64 {
	n, err := a.c.PubSubNumSub(context.Background(), channel).Result()
	if err != nil {
		return 0
	}
	return n[channel]
}

// channels returns how many channels have a subscriber.
func (a *redisAdmin) channels() int {
	chs, err := a.c.PubSubChannels(context.Background(), "*").Result()
	if err != nil {
		return 0
	}
	return len(chs)
}

var cmdstatRE = regexp.MustCompile(`(?m)^cmdstat_(\w+):calls=(\d+)`)

// calls returns how often redis ran command since it started.
func (a *redisAdmin) calls(command string) int {
	a.t.Helper()
	info, err := a.c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		a.t.Fatalf("INFO commandstats: %v", err)
	}
	for _, m := range cmdstatRE.FindAllStringSubmatch(info, -1) {
		if m[1] == command {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	return 0
}

func userRoom(i int) string    { return UserRoomPrefix + "u" + strconv.Itoa(i) }
func userChannel(i int) string { return userChannelPrefix + "u" + strconv.Itoa(i) }

// waitLive waits until WhenSubscribed says each room is live.
func waitLive(t *testing.T, b *Bridge, rooms ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d rooms live", len(rooms)), func() bool {
		for _, r := range rooms {
			if !b.WhenSubscribed(r, func() {}) {
				return false
			}
		}
		return true
	})
}

// TestDynamicSubscribesOnDemandInBatches: 2,000 rooms wanted at once cost
// a handful of SUBSCRIBE commands; only their channels are subscribed, so
// Redis does not even send the bridge a notification for anyone else.
func TestDynamicSubscribesOnDemandInBatches(t *testing.T) {
	const rooms = 2000
	srv := redistest.Start(t)
	admin := newAdmin(t, srv)
	h := startBridge(t, Config{URL: srv.URL, Subscribe: SubscribeDynamic})
	h.waitReady(t)
	if n := admin.numsub("user:notifications:u0"); n != 0 {
		t.Fatalf("a room's channel is subscribed before anyone wanted it")
	}
	var confirmed atomic.Int64
	names := make([]string, rooms)
	for i := range rooms {
		names[i] = userRoom(i)
		h.b.RoomDemand(names[i], true)
		if h.b.WhenSubscribed(names[i], func() { confirmed.Add(1) }) {
			t.Fatalf("%s live before Redis confirmed it", names[i])
		}
	}
	eventually(t, "every room's confirmation", func() bool { return confirmed.Load() == rooms })
	waitLive(t, h.b, names...)
	// One SUBSCRIBE notifications:all, then batches of at most maxBatch.
	if n := admin.calls("subscribe"); n < 1+rooms/maxBatch || n > 10 {
		t.Errorf("%d SUBSCRIBE commands for %d rooms, want a handful", n, rooms)
	}
	if n := admin.calls("psubscribe"); n != 0 {
		t.Errorf("%d PSUBSCRIBE in dynamic mode", n)
	}
	if n := admin.channels(); n != rooms+1 {
		t.Errorf("PUBSUB CHANNELS: %d, want %d", n, rooms+1)
	}
	st := h.b.SubscriptionStats()
	if st.Mode != SubscribeDynamic || st.Current != rooms+1 || st.SubscribeCommands != uint64(admin.calls("subscribe")) {
		t.Errorf("SubscriptionStats %+v", st)
	}

	if n := srv.Publish(t, userChannel(7), `{"n":7}`); n != 1 {
		t.Fatalf("PUBLISH to a wanted room reached %d subscribers", n)
	}
	if g := h.next(t); g.room != userRoom(7) {
		t.Fatalf("delivered to %s", g.room)
	}
	if n := srv.Publish(t, "user:notifications:nobody", `{"n":0}`); n != 0 {
		t.Fatalf("PUBLISH to an unwanted room reached %d subscribers", n)
	}
	if n := srv.Publish(t, "notifications:all", `{"n":"all"}`); n != 1 {
		t.Fatalf("notifications:all reached %d subscribers", n)
	}
	if g := h.next(t); g.room != GlobalRoom {
		t.Fatalf("delivered to %s, want the global room (nothing for nobody)", g.room)
	}
	if s := h.b.Stats(); s.Dropped != 0 || s.Received != [NumKinds]uint64{1, 0, 1} {
		t.Fatalf("Stats %+v", s)
	}
}

// TestDynamicUnsubscribesAfterGrace: a room nobody wants any more is
// unsubscribed once the grace is over; one wanted again within it is not.
func TestDynamicUnsubscribesAfterGrace(t *testing.T) {
	srv := redistest.Start(t)
	admin := newAdmin(t, srv)
	h := startBridge(t, Config{URL: srv.URL, Subscribe: SubscribeDynamic, UnsubscribeGrace: time.Second})
	h.waitReady(t)
	a, b := userRoom(1), userRoom(2)
	h.b.RoomDemand(a, true)
	h.b.RoomDemand(b, true)
	waitLive(t, h.b, a, b)

	// a leaves and comes back within the grace; b leaves after a, so
	// once b is unsubscribed, a's grace has been dealt with too.
	h.b.RoomDemand(a, false)
	h.b.RoomDemand(b, false)
	h.b.RoomDemand(a, true)
	if !h.b.WhenSubscribed(a, func() { t.Error("waiter called for a live room") }) {
		t.Fatal("a room wanted again within the grace is not live")
	}
	eventually(t, "b's channel unsubscribed", func() bool { return admin.numsub(userChannel(2)) == 0 })
	if n := admin.numsub(userChannel(1)); n != 1 {
		t.Fatalf("a's channel has %d subscribers after its grace, want 1", n)
	}
	if n := admin.calls("unsubscribe"); n != 1 {
		t.Fatalf("%d UNSUBSCRIBE commands, want 1 (b)", n)
	}
	if n := srv.Publish(t, userChannel(2), `{}`); n != 0 {
		t.Fatalf("PUBLISH to b reached %d subscribers", n)
	}

	// b is wanted again: subscribed again, and live once confirmed.
	called := make(chan struct{})
	h.b.RoomDemand(b, true)
	if h.b.WhenSubscribed(b, func() { close(called) }) {
		t.Fatal("b live before its new SUBSCRIBE was confirmed")
	}
	select {
	case <-called:
	case <-time.After(waitFor):
		t.Fatal("b's waiter was never called")
	}
	if n := admin.numsub(userChannel(2)); n != 1 {
		t.Fatalf("b's waiter ran with b subscribed %d times", n)
	}
}

// TestDynamicWaiterOfARoomLeftBeforeItsSubscription: a room wanted while
// Redis is unreachable waits; if everyone leaves it meanwhile, the waiter
// is told (nothing left to wait for) and the room is never subscribed.
func TestDynamicWaiterOfARoomLeftBeforeItsSubscription(t *testing.T) {
	srv := redistest.Start(t)
	admin := newAdmin(t, srv)
	srv.Stop()
	h := startBridge(t, Config{URL: srv.URL, Subscribe: SubscribeDynamic, UnsubscribeGrace: 50 * time.Millisecond})
	kept, left := userRoom(1), userRoom(2)
	h.b.RoomDemand(kept, true)
	h.b.RoomDemand(left, true)
	var keptCalled, leftCalled atomic.Bool
	if h.b.WhenSubscribed(kept, func() { keptCalled.Store(true) }) || h.b.WhenSubscribed(left, func() { leftCalled.Store(true) }) {
		t.Fatal("live without Redis")
	}
	h.b.RoomDemand(left, false)
	srv.Restart()
	h.waitReady(t)
	if !keptCalled.Load() {
		t.Fatal("Connected before the wanted room's subscription was confirmed")
	}
	eventually(t, "the waiter of the room left", leftCalled.Load)
	if n := admin.numsub(userChannel(2)); n != 0 {
		t.Fatalf("the room left is subscribed")
	}
}

// TestDynamicResubscribesAfterRedisRestart: after Redis comes back, every
// wanted room is subscribed again, in batches, before the bridge says it
// is connected.
func TestDynamicResubscribesAfterRedisRestart(t *testing.T) {
	const rooms = 1200
	srv := redistest.Start(t)
	admin := newAdmin(t, srv)
	h := startBridge(t, Config{URL: srv.URL, Subscribe: SubscribeDynamic})
	h.waitReady(t)
	names := make([]string, rooms)
	for i := range names {
		names[i] = userRoom(i)
		h.b.RoomDemand(names[i], true)
	}
	waitLive(t, h.b, names...)

	// While Redis is down no room is live: a waiter registered now runs
	// during the resubscription, on the goroutine that reads the
	// confirmations, and holds it there: the bridge must not be
	// connected yet (notifications:all's confirmation came first).
	srv.Stop()
	entered, release := make(chan struct{}), make(chan struct{})
	blocker := func() { close(entered); <-release }
	eventually(t, "a room waiting for its new subscription", func() bool { return !h.b.WhenSubscribed(names[0], blocker) })
	srv.Restart() // empty: no subscription survives
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("the waiter was not called")
	}
	if h.b.Connected() {
		t.Error("connected while the resubscription is being confirmed")
	}
	close(release)
	eventually(t, "the subscription restored", func() bool { return h.b.Stats().Reconnects == 1 && h.b.Connected() })
	// Connected only once the whole resubscription is confirmed.
	if n := admin.channels(); n != rooms+1 {
		t.Fatalf("connected with %d channels subscribed, want %d", n, rooms+1)
	}
	for _, r := range names {
		if !h.b.WhenSubscribed(r, func() {}) {
			t.Fatalf("%s not live once connected", r)
		}
	}
	if n := admin.calls("subscribe"); n > 1+2*rooms/maxBatch {
		t.Errorf("%d SUBSCRIBE commands to resubscribe %d rooms", n, rooms)
	}
	srv.Publish(t, userChannel(rooms-1), `{"after":"restart"}`)
	if g := h.next(t); g.room != names[rooms-1] {
		t.Fatalf("delivered to %s", g.room)
	}
}

// TestPatternModeNeedsNoDemand: in pattern mode every room is live at
// once, RoomDemand changes nothing, and the patterns are subscribed.
func TestPatternModeNeedsNoDemand(t *testing.T) {
	srv := redistest.Start(t)
	admin := newAdmin(t, srv)
	h := startBridge(t, Config{URL: srv.URL})
	h.waitReady(t)
	h.b.RoomDemand(userRoom(1), true)
	if !h.b.WhenSubscribed(userRoom(1), func() { t.Error("waiter called in pattern mode") }) {
		t.Fatal("not live in pattern mode")
	}
	if n := srv.Publish(t, "user:notifications:anyone", `{}`); n != 1 {
		t.Fatalf("pattern mode: PUBLISH reached %d subscribers", n)
	}
	if st := h.b.SubscriptionStats(); st.Mode != SubscribePattern || st.Current != 3 || st.SubscribeCommands != 2 {
		t.Fatalf("SubscriptionStats %+v", st)
	}
	if n := admin.calls("subscribe") + admin.calls("psubscribe"); n != 2 {
		t.Fatalf("%d subscribe commands", n)
	}
}

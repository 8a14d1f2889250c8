package bridge

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

// slotCases are keys with their CLUSTER KEYSLOT, as Redis 7 answers
// (checked against a live cluster by TestShardedClusterDelivers).
var slotCases = []struct {
	key  string
	slot int
}{
	{"", 0},
	{"123456789", 12739}, // CRC-16/XMODEM's check value 0x31C3
	{"foo", 12182},
	{"bar", 5061},
	{"notifications:all", -1},
	{"user:notifications:42", -1},
	{"{user1000}.following", -1},
	{"{user1000}.followers", -1},                    // same tag, same slot
	{"foo{}{bar}", -1},                              // empty first tag: the whole key
	{"foo{{bar}}zap", -1},                           // tag is "{bar"
	{"foo{bar}{zap}", -1},                           // first tag only
	{"{", -1}, {"}", -1}, {"a{b", -1}, {"a}b{", -1}, // no tag
	{"channel:notifications:é€", -1},
}

func TestSlot(t *testing.T) {
	for _, tt := range slotCases {
		if tt.slot >= 0 && Slot(tt.key) != tt.slot {
			t.Errorf("Slot(%q) = %d, want %d", tt.key, Slot(tt.key), tt.slot)
		}
	}
	if Slot("{user1000}.following") != Slot("{user1000}.followers") || Slot("foo{bar}{zap}") != Slot("bar") ||
		Slot("foo{{bar}}zap") != Slot("{bar") || Slot("foo{}{bar}") == Slot("bar") {
		t.Error("hash tags not honoured")
	}
}

// checkSlotsAgainst compares Slot with the cluster's CLUSTER KEYSLOT for
// every case and a thousand room channels.
func checkSlotsAgainst(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	keys := []string{}
	for _, tt := range slotCases {
		keys = append(keys, tt.key)
	}
	for i := range 1000 {
		keys = append(keys, userChannel(i), "channel:notifications:{c"+strconv.Itoa(i)+"}")
	}
	for _, k := range keys {
		want, err := c.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", k, err)
		}
		if Slot(k) != int(want) {
			t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT says %d", k, Slot(k), want)
		}
	}
}

func TestSlotGroups(t *testing.T) {
	tests := []struct {
		name     string
		channels []string
		groups   int
	}{
		{"empty", nil, 0},
		{"one", []string{"a"}, 1},
		{"same tag", []string{"x{t}1", "y{t}2", "z{t}3"}, 1},
		{"two tags interleaved", []string{"{a}1", "{b}1", "{a}2", "{b}2", "{a}3"}, 2},
		{"all different", []string{userChannel(1), userChannel(2), userChannel(3), userChannel(4)}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chs := slices.Clone(tt.channels)
			ends := slotGroups(chs, nil)
			if len(ends) != tt.groups {
				t.Fatalf("%d groups %v, want %d", len(ends), ends, tt.groups)
			}
			got := slices.Clone(chs)
			slices.Sort(got)
			want := slices.Clone(tt.channels)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("channels changed: %v", chs)
			}
			seen := map[int]bool{}
			from := 0
			for _, end := range ends {
				slot := Slot(chs[from])
				if seen[slot] {
					t.Fatalf("slot %d in two groups: %v %v", slot, chs, ends)
				}
				seen[slot] = true
				for _, ch := range chs[from:end] {
					if Slot(ch) != slot {
						t.Fatalf("group %v mixes slots", chs[from:end])
					}
				}
				from = end
			}
		})
	}
}

// TestShardedStandalone: on one Redis 7 server, sharded mode SSUBSCRIBEs
// notifications:all and each wanted room's channel, and delivers what is
// SPUBLISHed to each kind; nothing is subscribed the classic way.
func TestShardedStandalone(t *testing.T) {
	srv := redistest.Start(t)
	admin := newAdmin(t, srv)
	h := startBridge(t, Config{URL: srv.URL, Subscribe: SubscribeSharded})
	h.waitReady(t)
	h.b.RoomDemand(userRoom(1), true)
	h.b.RoomDemand(ChannelRoomPrefix+"c1", true)
	waitLive(t, h.b, userRoom(1), ChannelRoomPrefix+"c1", GlobalRoom)

	ctx := context.Background()
	for _, ch := range []string{userChannel(1), "channel:notifications:c1", "notifications:all", userChannel(2)} {
		if err := admin.c.SPublish(ctx, ch, `{"on":"`+ch+`"}`).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{userRoom(1), ChannelRoomPrefix + "c1", GlobalRoom} {
		if g := h.next(t); g.room != want {
			t.Fatalf("delivered to %s, want %s", g.room, want)
		}
	}
	h.expectNothing(t, 100*time.Millisecond) // nobody here wants u2
	if n := admin.calls("ssubscribe"); n < 1 || n > 3 {
		t.Errorf("%d SSUBSCRIBE commands for 3 channels", n)
	}
	if n := admin.calls("subscribe") + admin.calls("psubscribe"); n != 0 {
		t.Errorf("%d classic subscriptions in sharded mode", n)
	}
	if st := h.b.SubscriptionStats(); st.Mode != SubscribeSharded || st.Current != 3 {
		t.Errorf("SubscriptionStats %+v", st)
	}
	if s := h.b.Stats(); s.Received != [NumKinds]uint64{1, 1, 1} {
		t.Fatalf("Stats %+v", s)
	}
	stopPromptly(t, h)
}

// shardedCluster is a bridge in sharded mode on a 3-master cluster with
// users whose channels are on every master.
type shardedCluster struct {
	c      *redistest.Cluster
	h      *harness
	pub    *redis.ClusterClient
	users  []int                     // user numbers wanted on the bridge
	byNode map[*redistest.Server]int // how many of them each master serves
}

// perNode is how many users of shardedCluster each master serves at least.
const perNode = 4

func startShardedCluster(t *testing.T) *shardedCluster {
	t.Helper()
	c := redistest.StartCluster(t)
	s := &shardedCluster{c: c, byNode: map[*redistest.Server]int{}}
	s.pub = newPublisher(t, ModeCluster, c.URL).(*redis.ClusterClient)
	for i := 0; len(s.byNode) < len(c.Nodes) || slices.Min(s.counts()) < perNode; i++ {
		s.users = append(s.users, i)
		s.byNode[c.Owner(t, Slot(userChannel(i)))]++
	}
	s.h = startBridge(t, Config{Mode: ModeCluster, URL: c.URL, Subscribe: SubscribeSharded})
	s.h.waitReady(t)
	for _, u := range s.users {
		s.h.b.RoomDemand(userRoom(u), true)
	}
	s.waitLive(t)
	return s
}

func (s *shardedCluster) counts() []int {
	var n []int
	for _, node := range s.c.Nodes {
		n = append(n, s.byNode[node])
	}
	return n
}

// waitLive waits until every user's room and the global room are live.
func (s *shardedCluster) waitLive(t *testing.T) {
	t.Helper()
	rooms := []string{GlobalRoom}
	for _, u := range s.users {
		rooms = append(rooms, userRoom(u))
	}
	waitLive(t, s.h.b, rooms...)
}

// publishAll SPUBLISHes one notification to every user and checks each
// is delivered exactly once.
func (s *shardedCluster) publishAll(t *testing.T, tag string) {
	t.Helper()
	ctx := context.Background()
	want := map[string]bool{}
	for _, u := range s.users {
		if n, err := s.pub.SPublish(ctx, userChannel(u), `{"tag":"`+tag+`"}`).Result(); err != nil || n != 1 {
			t.Fatalf("SPUBLISH to user %d: %d receivers, %v", u, n, err)
		}
		want[userRoom(u)] = true
	}
	for range len(want) {
		g := s.h.next(t)
		if !want[g.room] || string(g.packet) != `42["notification",{"tag":"`+tag+`"}]` {
			t.Fatalf("unexpected or repeated delivery to %s: %s (users %v, left %v)", g.room, g.packet, s.users, want)
		}
		delete(want, g.room)
	}
	s.h.expectNothing(t, 50*time.Millisecond)
}

// TestShardedClusterDelivers: one link per master, each room SSUBSCRIBEd
// on the master of its slot; user, channel and global notifications
// SPUBLISHed through a cluster client all arrive, once.
func TestShardedClusterDelivers(t *testing.T) {
	s := startShardedCluster(t)
	checkSlotsAgainst(t, s.pub)
	s.publishAll(t, "one")

	ctx := context.Background()
	s.h.b.RoomDemand(ChannelRoomPrefix+"c9", true)
	waitLive(t, s.h.b, ChannelRoomPrefix+"c9")
	for _, ch := range []string{"channel:notifications:c9", "notifications:all"} {
		if n, err := s.pub.SPublish(ctx, ch, `{"k":1}`).Result(); err != nil || n != 1 {
			t.Fatalf("SPUBLISH %s: %d receivers, %v", ch, n, err)
		}
	}
	// From two masters' links: in either order.
	want := map[string]bool{ChannelRoomPrefix + "c9": true, GlobalRoom: true}
	for range len(want) {
		if g := s.h.next(t); !want[g.room] {
			t.Fatalf("delivered to %s, want one of %v", g.room, want)
		} else {
			delete(want, g.room)
		}
	}
	st := s.h.b.SubscriptionStats()
	if st.Current != int64(len(s.users)+2) {
		t.Errorf("SubscriptionStats.Current = %d, want %d (summed over the masters)", st.Current, len(s.users)+2)
	}
	// Each master holds exactly its own rooms' channels.
	for _, n := range s.c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, Protocol: 2})
		chs, err := cl.PubSubShardChannels(ctx, "*").Result()
		_ = cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chs {
			if owner := s.c.Owner(t, Slot(ch)); owner != n {
				t.Errorf("%s subscribed on %s, served by %s", ch, n.Addr, owner.Addr)
			}
		}
	}
	stopPromptly(t, s.h)
}

// TestShardedSlotMigration moves the slot of a subscribed room to another
// master: the old master unsubscribes the room on its own, the bridge
// subscribes it on the new one, and afterwards every room still receives.
func TestShardedSlotMigration(t *testing.T) {
	s := startShardedCluster(t)
	moving := s.users[0]
	slot := Slot(userChannel(moving))
	from := s.c.Owner(t, slot)
	to := s.c.Nodes[(slices.Index(s.c.Nodes, from)+1)%len(s.c.Nodes)]
	var waited bool
	s.c.MigrateSlot(t, slot, to)
	eventually(t, "the moved room subscribed on its new master", func() bool {
		cl := redis.NewClient(&redis.Options{Addr: to.Addr, Protocol: 2})
		defer cl.Close()
		n, err := cl.PubSubShardNumSub(context.Background(), userChannel(moving)).Result()
		return err == nil && n[userChannel(moving)] == 1
	})
	s.waitLive(t)
	if !s.h.b.WhenSubscribed(userRoom(moving), func() { waited = true }) || waited {
		t.Fatal("the moved room is not live")
	}
	s.publishAll(t, "after")
	if !s.h.b.Connected() {
		t.Error("not Connected after a slot migration")
	}
	stopPromptly(t, s.h)
}

// TestShardedMasterRestart stops one master's process and starts it
// again: Connected goes false, then true once that master's rooms are
// subscribed again, and every room receives.
func TestShardedMasterRestart(t *testing.T) {
	s := startShardedCluster(t)
	node := s.c.Owner(t, Slot(userChannel(s.users[0])))
	reconnects := s.h.b.Stats().Reconnects
	node.Stop()
	eventually(t, "Connected to go false", func() bool { return !s.h.b.Connected() })
	node.Restart()
	eventually(t, "Connected again", s.h.b.Connected)
	s.waitLive(t)
	s.publishAll(t, "restarted")
	if r := s.h.b.Stats().Reconnects; r != reconnects+1 {
		t.Errorf("Reconnects %d → %d, want one more (only the restarted master's link)", reconnects, r)
	}
	stopPromptly(t, s.h)
}

// TestShardedMovedAfterUnseenMigration: a slot none of the bridge's rooms
// is in moves, so no master tells the bridge; a room of that slot wanted
// afterwards is sent to the old master, which answers MOVED. That
// master's session ends, the slot map is read again, and the room is
// subscribed on its new master and receives.
func TestShardedMovedAfterUnseenMigration(t *testing.T) {
	s := startShardedCluster(t)
	u := s.users[len(s.users)-1] + 1
	for slices.ContainsFunc(s.users, func(v int) bool { return Slot(userChannel(v)) == Slot(userChannel(u)) }) {
		u++
	}
	slot := Slot(userChannel(u))
	from := s.c.Owner(t, slot)
	s.c.MigrateSlot(t, slot, s.c.Nodes[(slices.Index(s.c.Nodes, from)+1)%len(s.c.Nodes)])
	s.users = append(s.users, u)
	s.h.b.RoomDemand(userRoom(u), true)
	s.waitLive(t)
	eventually(t, "Connected again", s.h.b.Connected)
	if !strings.Contains(s.h.logs.String(), "MOVED") {
		t.Error("no MOVED reply logged: the room was not sent to its old master")
	}
	s.publishAll(t, "moved")
	stopPromptly(t, s.h)
}

// TestDemandMoveKeepsWaiters: a room evicted from one link's demand
// (its slot moved) and adopted by another keeps its waiters, which are
// called once the new link confirms it, not before.
func TestDemandMoveKeepsWaiters(t *testing.T) {
	var subs subscriptionCounters
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	from := newDemand(SubscribeSharded, true, Config{}, log, &subs)
	to := newDemand(SubscribeSharded, true, Config{}, log, &subs)
	from.begin()
	to.begin()
	room := userRoom(1)
	from.want(room, true)
	called := 0
	if from.whenSubscribed(room, func() { called++ }) {
		t.Fatal("live before any confirmation")
	}
	moved := from.evict(func(r string) bool { return r == room })
	if len(moved) != 1 || from.settled() != true {
		t.Fatalf("evicted %d rooms, settled %v", len(moved), from.settled())
	}
	call(to.adopt(moved))
	if called != 0 || !from.whenSubscribed(room, func() { t.Error("old link still holds the room") }) {
		t.Fatalf("waiter called %d times on the move", called)
	}
	subs2, _, fire, _ := to.collect(to.session, time.Now(), nil, nil)
	call(fire)
	if len(subs2) != 1 || subs2[0].room != room {
		t.Fatalf("new link sends %v", subs2)
	}
	to.confirm("ssubscribe", userChannel(1))
	if called != 1 || !to.whenSubscribed(room, func() {}) {
		t.Fatalf("waiter called %d times after the confirmation", called)
	}
}

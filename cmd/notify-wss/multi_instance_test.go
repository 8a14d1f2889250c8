package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/internal/promtest"
	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// Shape of TestMultiInstance's scenario.
const (
	// miInstances is the number of notify-wss processes sharing one Redis.
	miInstances = 3
	// miClients is the number of socket.io clients, client i on instance
	// i%miInstances, each its own user u<i>.
	miClients = 30
	// miGhosts is the number of users notified who have no client anywhere:
	// in dynamic mode no instance may receive their notifications.
	miGhosts = 3
	// miPerUser is the number of notifications published to each user
	// (ghosts included).
	miPerUser = 3
	// miPerRoom is the number of notifications published to each channel
	// room and to the global room.
	miPerRoom = 4
	// miWait bounds every wait of the test: generous for three -race
	// servers, a cluster and node on a loaded 2-core machine.
	miWait = 30 * time.Second
)

// Redis channels of the scenario's shared rooms.
const (
	miGlobal = "notifications:all"
	// miShared has members on every instance (clients i%4 == 0).
	miShared = "channel:notifications:shared"
	// miPair has members on instances 0 and 1 only (clients 3 and 7).
	miPair = "channel:notifications:pair"
	// miEmpty has no member anywhere.
	miEmpty = "channel:notifications:empty"
)

// miChannelOf is the channel room client i joins, "" for none.
func miChannelOf(i int) string {
	switch {
	case i%4 == 0:
		return miShared
	case i == 3 || i == 7:
		return miPair
	}
	return ""
}

// miJoinsGlobal reports whether client i joins the global room; client 16
// is in a channel room too.
func miJoinsGlobal(i int) bool { return i%5 == 1 }

// miPublish is one notification the test publishes.
type miPublish struct {
	channel string // Redis channel
	seq     int    // position in the publish order, in the payload
}

// payload is the notification's JSON: its sequence number and channel, so a
// client can tell which room it came through.
func (p miPublish) payload() string {
	return fmt.Sprintf(`{"seq":%d,"channel":%q}`, p.seq, p.channel)
}

// miPublishes returns the notifications in publish order: every user's
// (ghosts included) miPerUser times, with the channel and global ones
// interleaved so that rooms alternate.
func miPublishes() []miPublish {
	var rooms []string
	for range miPerUser {
		for u := range miClients + miGhosts {
			rooms = append(rooms, "user:notifications:"+miUser(u))
		}
	}
	shared := []string{miShared, miPair, miEmpty, miGlobal}
	for k := range miPerRoom * len(shared) {
		at := (k + 1) * len(rooms) / (miPerRoom*len(shared) + 1)
		rooms = slices.Insert(rooms, at, shared[k%len(shared)])
	}
	out := make([]miPublish, len(rooms))
	for i, r := range rooms {
		out[i] = miPublish{channel: r, seq: i}
	}
	return out
}

// miUser is the user id of client u, or of ghost u-miClients.
func miUser(u int) string {
	if u >= miClients {
		return "ghost" + strconv.Itoa(u-miClients)
	}
	return "u" + strconv.Itoa(u)
}

// miRooms returns the Redis channels client i receives from.
func miRooms(i int) []string {
	rooms := []string{"user:notifications:" + miUser(i)}
	if ch := miChannelOf(i); ch != "" {
		rooms = append(rooms, ch)
	}
	if miJoinsGlobal(i) {
		rooms = append(rooms, miGlobal)
	}
	return rooms
}

// TestMultiInstance: three notify-wss processes on one Redis (standalone,
// or a three-master cluster), socket.io clients spread round-robin over
// them. Every client receives exactly the notifications addressed to its
// rooms, each once, in publish order per room, whatever the subscribe mode;
// in dynamic mode an instance receives from Redis only the notifications of
// rooms it has members in (and every global one), in pattern mode every
// notification. In sharded mode the notifications are SPUBLISHed (in a
// cluster by a cluster client, to the master of the channel's slot, whose
// reply then counts every subscriber) and the instances behave as in
// dynamic mode.
func TestMultiInstance(t *testing.T) {
	modes := []struct {
		name      string
		cluster   bool
		subscribe string
	}{
		{"standalone/pattern", false, "pattern"},
		{"standalone/dynamic", false, "dynamic"},
		{"cluster/pattern", true, "pattern"},
		{"cluster/dynamic", true, "dynamic"},
		{"standalone/sharded", false, "sharded"},
		{"cluster/sharded", true, "sharded"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { testMultiInstance(t, m.cluster, m.subscribe) })
	}
}

func testMultiInstance(t *testing.T, cluster bool, subscribe string) {
	start := time.Now()
	// publish publishes one notification and returns PUBLISH's reply, or -1
	// in a cluster, where the reply counts the publishing node's
	// subscribers only.
	var publish func(channel, payload string) int64
	env := []string{"REDIS_SUBSCRIBE=" + subscribe}
	var url string
	switch {
	case cluster:
		c := redistest.StartCluster(t)
		url = c.URL
		env = append(env, "REDIS_MODE=cluster")
		// Classic pub/sub in a cluster is broadcast over the bus, so any
		// node will do; rooms are spread over the nodes, but each room
		// always goes through the same one: messages of one room taking
		// different nodes' bus links could overtake each other.
		if subscribe == "sharded" {
			pub, err := bridge.NewClient(bridge.ModeCluster, c.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = pub.Close() })
			publish = func(channel, payload string) int64 {
				n, err := pub.SPublish(context.Background(), channel, payload).Result()
				if err != nil {
					t.Fatalf("SPUBLISH %s: %v", channel, err)
				}
				return n
			}
			break
		}
		publish = func(channel, payload string) int64 {
			h := fnv.New32a()
			h.Write([]byte(channel))
			c.Nodes[h.Sum32()%uint32(len(c.Nodes))].Publish(t, channel, payload)
			return -1
		}
	default:
		rd := redistest.Start(t)
		url = rd.URL
		publish = func(channel, payload string) int64 { return rd.Publish(t, channel, payload) }
		if subscribe == "sharded" {
			pub := redis.NewClient(&redis.Options{Addr: rd.Addr, Protocol: 2})
			t.Cleanup(func() { _ = pub.Close() })
			publish = func(channel, payload string) int64 {
				n, err := pub.SPublish(context.Background(), channel, payload).Result()
				if err != nil {
					t.Fatalf("SPUBLISH %s: %v", channel, err)
				}
				return n
			}
		}
	}
	srvs := make([]*server, miInstances)
	for i := range srvs {
		srvs[i] = startServer(t, url, env...)
	}
	d := sioclient.Start(t)
	t.Logf("redis, %d servers and the client driver up in %v", miInstances, time.Since(start).Round(time.Millisecond))

	// members[i] holds the Redis channels instance i has members for.
	members := make([]map[string]bool, miInstances)
	for i := range members {
		members[i] = map[string]bool{}
	}
	name := func(i int) string { return "c" + strconv.Itoa(i) }
	for i := range miClients {
		opts := wsOnly(userToken(t, miUser(i)))
		if i%2 == 1 { // default transports: polling, then the upgrade
			opts = map[string]any{"auth": map[string]any{"token": userToken(t, miUser(i))}}
		}
		d.Connect(name(i), srvs[i%miInstances].URL, opts)
		for _, r := range miRooms(i) {
			members[i%miInstances][r] = true
		}
	}
	for i := range miClients {
		d.Wait(name(i), "event", "connected", miWait)
	}
	joins := map[int][]int{}
	for i := range miClients {
		if ch := miChannelOf(i); ch != "" {
			joins[i] = append(joins[i], d.EmitAck(name(i), "join-channel-notifications", strings.TrimPrefix(ch, "channel:notifications:")))
		}
		if miJoinsGlobal(i) {
			joins[i] = append(joins[i], d.EmitAck(name(i), "join-global-notifications"))
		}
	}
	for i, seqs := range joins {
		for _, seq := range seqs {
			d.WaitAck(name(i), seq, miWait)
		}
	}
	for i, s := range srvs {
		if n := miScrape(t, s).Value(t, "notify_wss_sockets"); n != miClients/miInstances {
			t.Fatalf("instance %d has %v sockets, want %d", i, n, miClients/miInstances)
		}
	}
	t.Logf("%d clients connected and joined after %v", miClients, time.Since(start).Round(time.Millisecond))

	// Publish, and work out what each instance must receive and each
	// client get.
	pubs := miPublishes()
	var wantReceived [miInstances]map[string]float64 // by kind
	for i := range wantReceived {
		wantReceived[i] = map[string]float64{"user": 0, "channel": 0, "global": 0}
	}
	wantDeliveries := 0
	var reachedWrong []string // PUBLISH replies off the mark, standalone only
	for _, p := range pubs {
		holders := 0
		for i := range miInstances {
			if subscribe == "pattern" || members[i][p.channel] || p.channel == miGlobal {
				wantReceived[i][miKind(p.channel)]++
				holders++
			}
		}
		if n := publish(p.channel, p.payload()); n >= 0 && n != int64(holders) {
			reachedWrong = append(reachedWrong, fmt.Sprintf("%s reached %d, want %d", p.channel, n, holders))
		}
	}
	if len(reachedWrong) > 0 {
		t.Errorf("%d of %d PUBLISHes reached the wrong number of subscribers, e.g. %q",
			len(reachedWrong), len(pubs), reachedWrong[:min(3, len(reachedWrong))])
	}
	for i := range miClients {
		for _, p := range pubs {
			if slices.Contains(miRooms(i), p.channel) {
				wantDeliveries++
			}
		}
	}

	// Each instance received from Redis exactly what its mode implies.
	for i, s := range srvs {
		miWaitMetrics(t, s, fmt.Sprintf("instance %d received", i), func(f promtest.Families) (any, bool) {
			got := map[string]float64{}
			over := false
			for k, want := range wantReceived[i] {
				got[k] = f.Value(t, "notify_wss_notifications_received_total", "kind", k)
				over = over || got[k] > want
			}
			if over { // counters: they will not come back
				t.Fatalf("instance %d received %v, want %v", i, got, wantReceived[i])
			}
			return got, reflect.DeepEqual(got, wantReceived[i])
		}, wantReceived[i])
	}

	// Every client got exactly its rooms' notifications, in order per room.
	for i := range miClients {
		want := map[string][]int{}
		n := 0
		for _, p := range pubs {
			if slices.Contains(miRooms(i), p.channel) {
				want[p.channel] = append(want[p.channel], p.seq)
				n++
			}
		}
		got := map[string][]int{}
		for _, e := range d.Collect(name(i), "event", "notification", n, miWait) {
			var v struct {
				Seq     int
				Channel string
			}
			if err := json.Unmarshal(e.Args[0], &v); err != nil {
				t.Fatalf("%s: bad notification %s: %v", name(i), e.Args[0], err)
			}
			got[v.Channel] = append(got[v.Channel], v.Seq)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s (instance %d) got seqs by channel %v, want %v", name(i), i%miInstances, got, want)
		}
	}
	// Nothing more: the deliveries counted are those collected, no more
	// arrive, and the instances received no more either.
	miWaitMetrics(t, nil, "deliveries", func(promtest.Families) (any, bool) {
		sum := 0.0
		for _, s := range srvs {
			sum += miScrape(t, s).Value(t, "notify_wss_deliveries_total")
		}
		if sum > float64(wantDeliveries) {
			t.Fatalf("%v deliveries counted, want %d", sum, wantDeliveries)
		}
		return sum, sum == float64(wantDeliveries)
	}, float64(wantDeliveries))
	d.NoEvent(name(0), "event", "notification", 300*time.Millisecond)
	for i := range miClients {
		d.NoEvent(name(i), "event", "notification", 0)
	}
	for i, s := range srvs {
		f := miScrape(t, s)
		sum := 0.0
		for k, want := range wantReceived[i] {
			got := f.Value(t, "notify_wss_notifications_received_total", "kind", k)
			if got != want {
				t.Errorf("instance %d: received %v %s notifications in the end, want %v", i, got, k, want)
			}
			sum += got
		}
		t.Logf("instance %d received %v of %d notifications published", i, sum, len(pubs))
	}
	t.Logf("%d notifications, %d deliveries checked after %v", len(pubs), wantDeliveries, time.Since(start).Round(time.Millisecond))
}

// miKind is the notify_wss_notifications_received_total kind label of a
// Redis channel.
func miKind(channel string) string {
	switch {
	case channel == miGlobal:
		return "global"
	case strings.HasPrefix(channel, "user:"):
		return "user"
	}
	return "channel"
}

// miScrape returns the parsed /metrics of s.
func miScrape(t *testing.T, s *server) promtest.Families {
	t.Helper()
	st, body := s.get("/metrics")
	if st != http.StatusOK {
		t.Fatalf("%s/metrics: %d", s.URL, st)
	}
	return promtest.Parse(t, body)
}

// miWaitMetrics polls check (given s's scrape, or nil when s is nil) until
// it reports true, failing the test with the last value and want after
// miWait.
func miWaitMetrics(t *testing.T, s *server, what string, check func(promtest.Families) (any, bool), want any) {
	t.Helper()
	deadline := time.Now().Add(miWait)
	for {
		var f promtest.Families
		if s != nil {
			f = miScrape(t, s)
		}
		got, ok := check(f)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package redistest_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

// TestStartPublishStopRestart walks one server through its whole life: it
// answers on its own port (never 6379), PUBLISH reaches a real subscriber,
// Stop makes the port refuse connections and Restart brings it back on the
// same port.
func TestStartPublishStopRestart(t *testing.T) {
	srv := redistest.Start(t)
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if host != "127.0.0.1" || port == "6379" {
		t.Fatalf("Addr = %s: want 127.0.0.1 and not the machine Redis port", srv.Addr)
	}
	if srv.URL != "redis://"+srv.Addr {
		t.Fatalf("URL = %q, want redis://%s", srv.URL, srv.Addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ps := c.Subscribe(ctx, "ch")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscribe confirmation
		t.Fatal(err)
	}
	if n := srv.Publish(t, "ch", "hello"); n != 1 {
		t.Fatalf("Publish receivers = %d, want 1", n)
	}
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Channel != "ch" || msg.Payload != "hello" {
		t.Fatalf("got %s/%q, want ch/hello", msg.Channel, msg.Payload)
	}

	srv.Stop()
	if conn, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("port still accepts connections after Stop")
	}
	srv.Stop() // idempotent

	srv.Restart()
	if n := srv.Publish(t, "ch", "again"); n != 0 {
		t.Fatalf("Publish on a fresh server reached %d subscribers, want 0", n)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart on the same address: %v", err)
	}
}

// TestParallelServers starts several servers at once, so the free-port
// picker and the pid check see real contention.
func TestParallelServers(t *testing.T) {
	for i := range 4 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			if n := srv.Publish(t, "nobody", "x"); n != 0 {
				t.Fatalf("server %d: receivers = %d, want 0", i, n)
			}
		})
	}
}

// TestSentinelFailover: the sentinel names the master, and once the
// master is killed it promotes the replica on its own, within seconds.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	if got := s.MasterAddr(t); got != s.Master.Addr {
		t.Fatalf("sentinel names %s as master, want %s", got, s.Master.Addr)
	}
	ctx := context.Background()
	fo, err := redis.ParseFailoverURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if fo.MasterName != redistest.MasterName || len(fo.SentinelAddrs) != 1 || fo.SentinelAddrs[0] != s.Sentinel.Addr {
		t.Fatalf("URL %s parses to %+v", s.URL, fo)
	}
	start := time.Now()
	s.Master.Stop()
	deadline := start.Add(30 * time.Second)
	for s.MasterAddr(t) != s.Replica.Addr {
		if time.Now().After(deadline) {
			t.Fatal("the sentinel did not promote the replica")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("sentinel switched the master %v after the kill", time.Since(start).Round(time.Millisecond))
	r := redis.NewClient(&redis.Options{Addr: s.Replica.Addr, Protocol: 2})
	defer r.Close()
	for {
		info, err := r.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "role:master") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not promoted: %v %s", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterPublishReachesEveryNode: the three nodes serve every slot, and
// a PUBLISH on any node reaches a subscriber on another.
func TestClusterPublishReachesEveryNode(t *testing.T) {
	c := redistest.StartCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	co, err := redis.ParseClusterURL(c.URL)
	if err != nil || len(co.Addrs) != 3 {
		t.Fatalf("URL %s: %v %v", c.URL, co, err)
	}
	sub := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr, Protocol: 2})
	defer sub.Close()
	shards, err := sub.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	// redis-cli gives the masters equal ranges, in the order named.
	owner := map[int64]int{0: 0, 5461: 1, 10923: 2} // first slot → node
	covered := int64(0)
	for _, sh := range shards {
		if len(sh.Nodes) != 1 {
			t.Fatalf("shard %+v: want one node", sh)
		}
		addr := net.JoinHostPort(sh.Nodes[0].IP, strconv.FormatInt(sh.Nodes[0].Port, 10))
		for _, r := range sh.Slots {
			covered += r.End - r.Start + 1
			if i, ok := owner[r.Start]; !ok || addr != c.Nodes[i].Addr {
				t.Errorf("slots %d-%d on %s: not one of the three ranges in node order", r.Start, r.End, addr)
			}
		}
	}
	if covered != 16384 {
		t.Fatalf("slots covered: %d", covered)
	}
	ps := sub.Subscribe(ctx, "ch")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	for i, n := range c.Nodes {
		n.Publish(t, "ch", strconv.Itoa(i))
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil || msg.Payload != strconv.Itoa(i) {
			t.Fatalf("publish on node %d: got %v %v", i, msg, err)
		}
	}
}

package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

// failoverWait bounds a wait that spans a sentinel failover or a cluster
// node's death: the failover itself takes 1-3 s here, the rest is slack for
// a loaded machine.
const failoverWait = 30 * time.Second

// newPublisher returns a client of mode for url, closed by t.Cleanup.
func newPublisher(t *testing.T, mode Mode, url string) redis.UniversalClient {
	t.Helper()
	c, err := NewClient(mode, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// stopPromptly cancels h's Run and fails unless it returns within a
// second: the session's sockets are recorded through the dial hook in every
// mode, so closing them unblocks go-redis' reads.
func stopPromptly(t *testing.T, h *harness) {
	t.Helper()
	h.stop()
	select {
	case err := <-h.done:
		h.done <- err // for the harness' cleanup
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return within 1 s of cancel")
	}
	if h.b.Connected() {
		t.Fatal("Connected() after Run returned")
	}
}

// stamped is the payload of a timed publication.
type stamped struct {
	Seq  int   `json:"seq"`
	Sent int64 `json:"sent"` // unix ns
}

// publishEvery publishes a stamped notification on channel through c every
// interval until the returned stop is called; errors (while Redis fails
// over) are counted, not fatal.
func publishEvery(c redis.UniversalClient, channel string, interval time.Duration) (stop func() (sent, failed int)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed int
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			p, _ := json.Marshal(stamped{Seq: seq, Sent: time.Now().UnixNano()})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := c.Publish(ctx, channel, p).Err(); err != nil {
				failed++
			} else {
				sent++
			}
			cancel()
		}
	})
	return func() (int, int) {
		close(done)
		wg.Wait()
		return sent, failed
	}
}

// TestSentinelFailoverResumesDelivery kills the master under a bridge in
// sentinel mode, with the default backoff: the bridge must drop to
// not-connected, follow the sentinel to the promoted replica on its own,
// report connected only once the subscription there is confirmed, and
// deliver again. The gap from the kill to the first notification delivered
// from a publication after it is logged.
func TestSentinelFailoverResumesDelivery(t *testing.T) {
	s := redistest.StartSentinel(t)
	h := startBridge(t, Config{Mode: ModeSentinel, URL: s.URL, MinBackoff: DefaultMinBackoff, MaxBackoff: DefaultMaxBackoff})
	h.waitReady(t)
	if !strings.Contains(h.logs.String(), "node="+s.Master.Addr) {
		t.Fatalf("subscription not on the master %s:\n%s", s.Master.Addr, h.logs)
	}
	pub := newPublisher(t, ModeSentinel, s.URL)
	if n := pub.Publish(context.Background(), "user:notifications:u1", `{"before":"failover"}`).Val(); n != 1 {
		t.Fatalf("PUBLISH on the master reached %d subscribers, want 1", n)
	}
	if g := h.next(t); g.room != "user-notifications:u1" {
		t.Fatalf("room %s", g.room)
	}

	stopPub := publishEvery(pub, "user:notifications:u1", 10*time.Millisecond)
	killed := time.Now()
	s.Master.Stop()
	eventually(t, "Connected() false after the master died", func() bool { return !h.b.Connected() })

	var restored, switched time.Duration
	deadline := killed.Add(failoverWait)
	for restored == 0 {
		if switched == 0 && s.MasterAddr(t) == s.Replica.Addr {
			switched = time.Since(killed)
		}
		if h.b.Connected() {
			restored = time.Since(killed)
		}
		if time.Now().After(deadline) {
			t.Fatal("subscription not restored after the failover")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Connected means confirmed on the new master: a PUBLISH there reaches it.
	if n := s.Replica.Publish(t, "notifications:all", `{"on":"new master"}`); n != 1 {
		t.Fatalf("PUBLISH on the promoted replica reached %d subscribers right after Connected(), want 1", n)
	}

	var gap time.Duration
	sawGlobal := false
	for gap == 0 || !sawGlobal {
		g := h.next(t) // bounded by waitFor
		if g.kind == KindGlobal {
			sawGlobal = true
			continue
		}
		var p stamped
		body := strings.TrimSuffix(strings.TrimPrefix(string(g.packet), `42["notification",`), "]")
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("packet %s: %v", g.packet, err)
		}
		if gap == 0 && time.Unix(0, p.Sent).After(killed) {
			gap = time.Since(killed)
		}
	}
	sent, failed := stopPub()
	t.Logf("failover gap: first delivery %v after the kill (sentinel switched the master at ≤ %v, subscription restored at %v; publisher: %d sent, %d failed)",
		gap.Round(time.Millisecond), switched.Round(time.Millisecond), restored.Round(time.Millisecond), sent, failed)
	if r := h.b.Stats().Reconnects; r != 1 {
		t.Errorf("Reconnects = %d, want 1", r)
	}
	if !strings.Contains(h.logs.String(), "node="+s.Replica.Addr) {
		t.Errorf("restored subscription not on the promoted replica %s", s.Replica.Addr)
	}
}

// TestSentinelManualFailover: SENTINEL FAILOVER demotes a master that is
// still alive. The sentinel disconnects its pub/sub clients when it
// reconfigures it; the bridge must end up subscribed on the new master.
func TestSentinelManualFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	h := startBridge(t, Config{Mode: ModeSentinel, URL: s.URL})
	h.waitReady(t)
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, Protocol: 2})
	defer sc.Close()
	if err := sc.Failover(context.Background(), redistest.MasterName).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(failoverWait)
	for s.MasterAddr(t) != s.Replica.Addr {
		if time.Now().After(deadline) {
			t.Fatal("manual failover did not happen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The new master must reach the bridge directly, not by replication
	// through the old one: keep publishing there until it counts the bridge.
	eventually(t, "the bridge subscribed on the new master", func() bool {
		return h.b.Connected() && s.Replica.Publish(t, "notifications:all", `{"on":"new master"}`) == 1
	})
	for {
		g := h.next(t)
		if g.kind == KindGlobal {
			break
		}
	}
	if r := h.b.Stats().Reconnects; r < 1 {
		t.Errorf("Reconnects = %d: the old master's pub/sub link survived its demotion", r)
	}
	stopPromptly(t, h)
}

// TestClusterDeliversFromEveryNode: in cluster mode one subscription sees
// the notifications published on every node (classic PUBLISH is broadcast
// over the cluster bus) and those a ClusterClient publishes, for channels in
// every slot range.
func TestClusterDeliversFromEveryNode(t *testing.T) {
	c := redistest.StartCluster(t)
	h := startBridge(t, Config{Mode: ModeCluster, URL: c.URL})
	h.waitReady(t)

	want := map[string]string{} // room → packet
	for i, n := range c.Nodes {
		ch, payload := fmt.Sprintf("user:notifications:node%d", i), fmt.Sprintf(`{"node":%d}`, i)
		n.Publish(t, ch, payload)
		want[fmt.Sprintf("user-notifications:node%d", i)] = `42["notification",` + payload + `]`
	}

	// A channel name in each node's slot range, published through the
	// cluster client (which sends PUBLISH to a node of its choosing).
	pub := newPublisher(t, ModeCluster, c.URL).(*redis.ClusterClient)
	ctx := context.Background()
	ranges := map[int]string{} // range index → channel id
	for k := 0; len(ranges) < len(c.Nodes); k++ {
		id := fmt.Sprintf("c%d", k)
		slot, err := pub.ClusterKeySlot(ctx, "channel:notifications:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		r := int(slot) * len(c.Nodes) / 16384
		if _, ok := ranges[r]; !ok {
			ranges[r] = id
		}
	}
	for r, id := range ranges {
		payload := fmt.Sprintf(`{"range":%d}`, r)
		if err := pub.Publish(ctx, "channel:notifications:"+id, payload).Err(); err != nil {
			t.Fatal(err)
		}
		want["channel-notifications:"+id] = `42["notification",` + payload + `]`
	}
	if err := pub.Publish(ctx, "notifications:all", `{"everyone":1}`).Err(); err != nil {
		t.Fatal(err)
	}
	want[GlobalRoom] = `42["notification",{"everyone":1}]`

	// Over the bus, messages from different nodes may overtake each other.
	for range len(want) {
		g := h.next(t)
		if want[g.room] != string(g.packet) {
			t.Fatalf("unexpected delivery to %s: %s", g.room, g.packet)
		}
		delete(want, g.room)
	}
	h.expectNothing(t, 100*time.Millisecond)
	stopPromptly(t, h)
}

// TestClusterResubscribesOnAnotherNode kills the node the bridge's
// subscription is on: Connected must drop, and the bridge must subscribe
// again on a surviving node and deliver from every survivor.
func TestClusterResubscribesOnAnotherNode(t *testing.T) {
	c := redistest.StartCluster(t)
	h := startBridge(t, Config{Mode: ModeCluster, URL: c.URL})
	h.waitReady(t)

	on := -1
	for i, n := range c.Nodes {
		if strings.Contains(h.logs.String(), "node="+n.Addr) {
			on = i
		}
	}
	if on < 0 {
		t.Fatalf("log does not name the subscribed node:\n%s", h.logs)
	}
	c.Nodes[on].Stop()
	eventually(t, "Connected() false after the node died", func() bool { return !h.b.Connected() })
	deadline := time.Now().Add(failoverWait)
	for !h.b.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("no subscription on a surviving node")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, n := range c.Nodes {
		if i == on {
			continue
		}
		n.Publish(t, "notifications:all", fmt.Sprintf(`{"node":%d}`, i))
		if g := h.next(t); g.room != GlobalRoom {
			t.Fatalf("room %s", g.room)
		}
	}
	if r := h.b.Stats().Reconnects; r != 1 {
		t.Errorf("Reconnects = %d, want 1", r)
	}
}

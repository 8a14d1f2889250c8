package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// MasterName is the name the sentinel of StartSentinel monitors.
	MasterName = "mymaster"
	// sentinelDownAfter is how long the master must be unreachable before
	// the sentinel calls it down: short, so a failover takes seconds.
	sentinelDownAfter = 500 * time.Millisecond
	// sentinelFailoverTimeout bounds one failover attempt (and spaces
	// retries at twice it); short for the same reason.
	sentinelFailoverTimeout = 2 * time.Second
	// clusterNodeTimeout is cluster-node-timeout: how long a node may be
	// unreachable before it is flagged as failing.
	clusterNodeTimeout = 2 * time.Second
	// topologyTimeout bounds a wait for replication, a sentinel or a
	// cluster to settle; generous for a loaded 2-core machine.
	topologyTimeout = 20 * time.Second
)

// Sentinel is a master, one replica of it and one Redis Sentinel
// monitoring them with a quorum of 1, every process a real redis-server on
// a free loopback port, killed by t.Cleanup. The sentinel calls the master
// down after 500 ms, so killing it (Master.Stop) promotes the replica within
// a few seconds.
type Sentinel struct {
	// Master is the server the sentinel monitors at the start.
	Master *Server
	// Replica replicates Master; the sentinel promotes it when Master dies.
	Replica *Server
	// Sentinel is the `redis-server --sentinel` process.
	Sentinel *Server
	// URL is the go-redis failover URL (ParseFailoverURL syntax):
	// redis://127.0.0.1:port?master_name=mymaster.
	URL string
}

// StartSentinel starts a master, a replica and a sentinel, and returns
// once the replica is in sync and the sentinel knows it as a candidate for
// promotion (so that a failover can start as soon as the master dies).
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := Start(t)
	_, mport, _ := net.SplitHostPort(master.Addr)
	replica := start(t, launchOptions{args: func() ([]string, error) {
		return []string{"--replicaof", "127.0.0.1", mport}, nil
	}})
	waitInfo(t, replica.Addr, "replication", "master_link_status:up")

	sentinel := start(t, launchOptions{
		args: func() ([]string, error) { return []string{"--sentinel"}, nil },
		conf: func(int) string {
			// The sentinel rewrites this file: it must be writable, in the
			// server's own directory.
			return fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]s 1\n"+
				"sentinel down-after-milliseconds %[1]s %[3]d\n"+
				"sentinel failover-timeout %[1]s %[4]d\n",
				MasterName, mport, sentinelDownAfter.Milliseconds(), sentinelFailoverTimeout.Milliseconds())
		},
	})
	s := &Sentinel{
		Master:   master,
		Replica:  replica,
		Sentinel: sentinel,
		URL:      "redis://" + sentinel.Addr + "?master_name=" + MasterName,
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr, Protocol: 2})
	defer sc.Close()
	poll(t, "the sentinel to see the replica", func(ctx context.Context) error {
		replicas, err := sc.Replicas(ctx, MasterName).Result()
		if err != nil {
			return err
		}
		for _, r := range replicas {
			if r["ip"]+":"+r["port"] == replica.Addr && r["flags"] == "slave" && r["master-link-status"] == "ok" {
				return nil
			}
		}
		return fmt.Errorf("replicas %v", replicas)
	})
	return s
}

// MasterAddr returns the address the sentinel gives for the master now.
func (s *Sentinel) MasterAddr(t testing.TB) string {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, Protocol: 2})
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	hp, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil || len(hp) != 2 {
		t.Fatalf("redistest: SENTINEL get-master-addr-by-name: %v %v", hp, err)
	}
	return net.JoinHostPort(hp[0], hp[1])
}

// Cluster is a Redis Cluster of three masters and no replicas, each a real
// redis-server on free loopback ports (its client port and its bus port),
// killed by t.Cleanup.
type Cluster struct {
	// Nodes are the three masters, in the order of their slot ranges
	// (Nodes[0] serves slots 0-5460, and so on).
	Nodes []*Server
	// URL is the go-redis cluster URL (ParseClusterURL syntax) naming every
	// node: redis://127.0.0.1:p1?addr=127.0.0.1:p2&addr=127.0.0.1:p3.
	URL string
}

// clusterSize is the number of masters: the least redis-cli accepts.
const clusterSize = 3

// StartCluster starts three cluster-enabled servers, joins them with
// `redis-cli --cluster create` and returns once every node reports
// cluster_state:ok and knows the other two (so PUBLISH on any node reaches
// subscribers on every node). It fails the test if redis-cli is missing.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli not found: run `make deps` (%v)", err)
	}
	c := &Cluster{}
	create := []string{"--cluster", "create"}
	for range clusterSize {
		n := start(t, launchOptions{args: func() ([]string, error) {
			bus, err := freePort()
			if err != nil {
				return nil, fmt.Errorf("pick a cluster bus port: %w", err)
			}
			return []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf", // in the server's dir
				"--cluster-node-timeout", strconv.FormatInt(clusterNodeTimeout.Milliseconds(), 10),
				// Redis 7: a bus port of our choosing, not port+10000,
				// which may be taken or past 65535.
				"--cluster-port", strconv.Itoa(bus),
			}, nil
		}})
		c.Nodes = append(c.Nodes, n)
		create = append(create, n.Addr)
	}
	create = append(create, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(create, " "), err, out)
	}
	c.URL = "redis://" + c.Nodes[0].Addr + "?addr=" + c.Nodes[1].Addr + "&addr=" + c.Nodes[2].Addr
	for _, n := range c.Nodes {
		waitInfo(t, n.Addr, "cluster", "cluster_state:ok", "cluster_known_nodes:"+strconv.Itoa(clusterSize))
	}
	return c
}

// waitInfo polls the server at addr until its INFO section (or CLUSTER
// INFO for "cluster") holds every line of want.
func waitInfo(t testing.TB, addr, section string, want ...string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer c.Close()
	poll(t, fmt.Sprintf("%s to report %s", addr, strings.Join(want, ", ")), func(ctx context.Context) error {
		var info string
		var err error
		if section == "cluster" {
			info, err = c.ClusterInfo(ctx).Result()
		} else {
			info, err = c.Info(ctx, section).Result()
		}
		if err != nil {
			return err
		}
		for _, w := range want {
			if !strings.Contains(info, w+"\r\n") {
				return fmt.Errorf("no %q in:\n%s", w, info)
			}
		}
		return nil
	})
}

// poll calls check until it returns nil, failing the test with its last
// error after topologyTimeout.
func poll(t testing.TB, what string, check func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(topologyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		err := check(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out waiting for %s: %v", what, err)
		}
		time.Sleep(pollInterval)
	}
}

// migrateBatch is how many keys one MIGRATE of MigrateSlot moves.
const migrateBatch = 100

// MigrateSlot moves slot from the master serving it to the master to, as
// redis-cli --cluster reshard does: CLUSTER SETSLOT IMPORTING on to,
// MIGRATING on the owner, MIGRATE of the slot's keys, then SETSLOT NODE on
// every master (the owner last but one: it then drops the slot's sharded
// subscriptions with an unsolicited sunsubscribe). It returns once every
// node's CLUSTER SHARDS names to for slot. It fails the test if to already
// serves slot.
func (c *Cluster) MigrateSlot(t testing.TB, slot int, to *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), topologyTimeout)
	defer cancel()
	clients := map[string]*redis.Client{}
	for _, n := range c.Nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr, Protocol: 2})
		defer cl.Close()
		clients[n.Addr] = cl
	}
	from := c.slotOwner(ctx, t, clients[to.Addr], slot)
	if from == to.Addr {
		t.Fatalf("redistest: slot %d is already on %s", slot, to.Addr)
	}
	src, dst := clients[from], clients[to.Addr]
	if src == nil {
		t.Fatalf("redistest: slot %d is on %s, not one of the cluster's nodes", slot, from)
	}
	srcID, err1 := src.Do(ctx, "CLUSTER", "MYID").Text()
	dstID, err2 := dst.Do(ctx, "CLUSTER", "MYID").Text()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("redistest: CLUSTER MYID: %v", err)
	}
	setslot := func(c *redis.Client, args ...any) {
		t.Helper()
		if err := c.Do(ctx, append([]any{"CLUSTER", "SETSLOT", slot}, args...)...).Err(); err != nil {
			t.Fatalf("redistest: CLUSTER SETSLOT %d %v: %v", slot, args, err)
		}
	}
	setslot(dst, "IMPORTING", srcID)
	setslot(src, "MIGRATING", dstID)
	host, port, _ := net.SplitHostPort(to.Addr)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, migrateBatch).Result()
		if err != nil {
			t.Fatalf("redistest: CLUSTER GETKEYSINSLOT %d: %v", slot, err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, topologyTimeout.Milliseconds(), "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("redistest: MIGRATE of slot %d: %v", slot, err)
		}
	}
	// The new owner first, so no node sends a client back to the old one.
	setslot(dst, "NODE", dstID)
	for addr, cl := range clients {
		if addr != to.Addr && addr != from {
			setslot(cl, "NODE", dstID)
		}
	}
	setslot(src, "NODE", dstID)
	for _, cl := range clients {
		poll(t, fmt.Sprintf("slot %d on %s", slot, to.Addr), func(ctx context.Context) error {
			if owner := c.slotOwner(ctx, t, cl, slot); owner != to.Addr {
				return fmt.Errorf("%s says slot %d is on %s", cl.Options().Addr, slot, owner)
			}
			return nil
		})
	}
}

// slotOwner returns the address of the master serving slot according to
// the node cl talks to ("" if none).
func (c *Cluster) slotOwner(ctx context.Context, t testing.TB, cl *redis.Client, slot int) string {
	t.Helper()
	shards, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: CLUSTER SHARDS: %v", err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if int(r.Start) <= slot && slot <= int(r.End) {
				for _, n := range sh.Nodes {
					if n.Role == "master" {
						return net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
					}
				}
			}
		}
	}
	return ""
}

// Owner returns the node serving slot now, according to the first node.
func (c *Cluster) Owner(t testing.TB, slot int) *Server {
	t.Helper()
	cl := redis.NewClient(&redis.Options{Addr: c.Nodes[0].Addr, Protocol: 2})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	addr := c.slotOwner(ctx, t, cl, slot)
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	t.Fatalf("redistest: slot %d is on %q, not one of the cluster's nodes", slot, addr)
	return nil
}

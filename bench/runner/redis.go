package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisBin is where the machine's redis-server lives.
const redisBin = "/usr/bin/redis-server"

// startRedis starts a throw-away redis-server on a free loopback port, with
// persistence off, and returns its address.
func startRedis(ctx context.Context, ps *procs, log io.Writer) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(redisBin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = log, log
	p, err := ps.start("redis-server", cmd)
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitListening(ctx, p, addr, 10*time.Second); err != nil {
		ps.stop(p)
		return nil, "", fmt.Errorf("runner: redis: %w", err)
	}
	return p, addr, nil
}

// clusterMasters is the number of masters of the cluster startCluster
// starts: the least redis-cli accepts.
const clusterMasters = 3

// clusterReadyTimeout bounds the wait for a new cluster to be usable.
const clusterReadyTimeout = 30 * time.Second

// redisCluster is a throw-away Redis Cluster for the servers that need
// one (serverKind.cluster).
type redisCluster struct {
	addrs []string
	procs []*proc
}

// url is the go-redis cluster URL naming every node (REDIS_URL with
// REDIS_MODE=cluster).
func (c *redisCluster) url() string {
	u := "redis://" + c.addrs[0]
	for i, a := range c.addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// pids returns the masters' pids, comma-separated (loadgen -redis-pid).
func (c *redisCluster) pids() string {
	var s []string
	for _, p := range c.procs {
		s = append(s, strconv.Itoa(p.pid()))
	}
	return strings.Join(s, ",")
}

// startCluster starts three cluster-enabled redis-servers (persistence
// off, their node files in dir), joins them with redis-cli --cluster
// create (no replicas) and waits until every node reports
// cluster_state:ok, as internal/redistest.StartCluster does for tests.
func startCluster(ctx context.Context, ps *procs, dir string, log io.Writer) (*redisCluster, error) {
	c := &redisCluster{}
	for i := range clusterMasters {
		port, err1 := freePort()
		bus, err2 := freePort()
		if err := errors.Join(err1, err2); err != nil {
			return c, err
		}
		ndir := filepath.Join(dir, fmt.Sprintf("redis-cluster-%d", i))
		if err := os.MkdirAll(ndir, 0o755); err != nil {
			return c, fmt.Errorf("runner: cluster node dir: %w", err)
		}
		cmd := exec.Command(redisBin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--dir", ndir,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", strconv.Itoa(bus))
		cmd.Stdout, cmd.Stderr = log, log
		p, err := ps.start(fmt.Sprintf("redis-cluster#%d", i), cmd)
		if err != nil {
			return c, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c.procs, c.addrs = append(c.procs, p), append(c.addrs, addr)
		if err := waitListening(ctx, p, addr, 10*time.Second); err != nil {
			return c, fmt.Errorf("runner: redis cluster: %w", err)
		}
	}
	args := append(append([]string{"--cluster", "create"}, c.addrs...), "--cluster-replicas", "0", "--cluster-yes")
	cctx, cancel := context.WithTimeout(ctx, clusterReadyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(cctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("runner: redis-cli %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for _, a := range c.addrs {
		cl := redis.NewClient(&redis.Options{Addr: a, Protocol: 2})
		for {
			info, err := cl.ClusterInfo(cctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok\r\n") &&
				strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r\n", clusterMasters)) {
				break
			}
			if cctx.Err() != nil {
				cl.Close()
				return c, fmt.Errorf("runner: redis cluster node %s not ready: %v %q", a, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl.Close()
	}
	return c, nil
}

// stop stops every node.
func (c *redisCluster) stop(ps *procs) {
	for _, p := range c.procs {
		ps.stop(p)
	}
}

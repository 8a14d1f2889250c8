package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mode says how a Redis URL is read and which go-redis client reaches it.
type Mode string

// The Redis deployments the bridge can subscribe to.
const (
	// ModeStandalone is one Redis server (go-redis ParseURL):
	// redis://[[user]:password@]host:port[/db].
	ModeStandalone Mode = "standalone"
	// ModeSentinel is a master watched by Redis Sentinel (go-redis
	// ParseFailoverURL, FailoverClient): the URL names the sentinels, not
	// the master, e.g. redis://sentinel1:26379?master_name=mymaster&addr=sentinel2:26379.
	// Its user:password authenticates to the sentinels; the master's are the
	// username= and password= parameters.
	ModeSentinel Mode = "sentinel"
	// ModeCluster is a Redis Cluster (go-redis ParseClusterURL,
	// ClusterClient): redis://[[user]:password@]node1:7000?addr=node2:7001&addr=node3:7002,
	// any reachable nodes as seeds.
	ModeCluster Mode = "cluster"
)

// Modes lists every Mode, in the order help texts show them.
var Modes = []Mode{ModeStandalone, ModeSentinel, ModeCluster}

// ParseMode returns the Mode named s (case-insensitive); "" is
// ModeStandalone.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return ModeStandalone, nil
	}
	for _, m := range Modes {
		if strings.EqualFold(s, string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("bridge: unknown Redis mode %q (want standalone, sentinel or cluster)", s)
}

// NewClient returns a go-redis client for the Redis that mode and url name,
// parsed and dialled as the bridge does (RESP2 unless the URL sets protocol=,
// TCP keepalive, dials that honour ctx): a *redis.Client for standalone and
// sentinel (a FailoverClient that always talks to the current master), a
// *redis.ClusterClient for cluster. It is for publishers, such as the
// publish command and tests; errors never quote a password. The caller
// closes the client.
func NewClient(mode Mode, url string) (redis.UniversalClient, error) {
	t, err := parseTarget(mode, url)
	if err != nil {
		return nil, err
	}
	return t.newClient(), nil
}

// target is a Redis URL parsed for its mode: exactly one of the option
// sets is non-nil. Each newClient builds a fresh client from them.
type target struct {
	mode       Mode
	standalone *redis.Options
	failover   *redis.FailoverOptions
	cluster    *redis.ClusterOptions
}

// parseTarget parses url with the go-redis parser of mode and applies the
// bridge's defaults: RESP2 unless the URL asks otherwise, and a dialer that
// honours ctx for TLS too.
//
// RESP2 because its pub/sub replies are the ones every Redis-protocol
// broker (old Redis, miniredis, KeyDB) speaks alike, and it keeps go-redis'
// RESP3 push-notification machinery off the read path.
func parseTarget(mode Mode, url string) (*target, error) {
	if url == "" {
		return nil, errors.New("bridge: empty Redis URL")
	}
	if mode == "" {
		mode = ModeStandalone
	}
	t := &target{mode: mode}
	var err error
	switch mode {
	case ModeStandalone:
		t.standalone, err = redis.ParseURL(url)
		if err == nil {
			o := t.standalone
			tuneConns(&o.Protocol, &o.DialTimeout, &o.Dialer, o.TLSConfig)
		}
	case ModeSentinel:
		t.failover, err = redis.ParseFailoverURL(url)
		if err == nil {
			err = checkFailover(t.failover)
		}
		if err == nil {
			o := t.failover
			// One dialer for the sentinels and the master alike, as
			// go-redis itself does with one TLSConfig.
			tuneConns(&o.Protocol, &o.DialTimeout, &o.Dialer, o.TLSConfig)
		}
	case ModeCluster:
		t.cluster, err = redis.ParseClusterURL(url)
		if err == nil {
			o := t.cluster
			tuneConns(&o.Protocol, &o.DialTimeout, &o.Dialer, o.TLSConfig)
		}
	default:
		_, err = ParseMode(string(mode))
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: parse %s URL %s: %w", mode, redactURL(url), sanitizeURLError(err))
	}
	return t, nil
}

// checkFailover rejects sentinel URLs go-redis would accept but
// NewFailoverClient cannot serve (it panics on the routing options, which
// need a FailoverClusterClient reading from replicas).
func checkFailover(o *redis.FailoverOptions) error {
	switch {
	case o.MasterName == "":
		return errors.New("missing master_name= (the name in the sentinels' `sentinel monitor` line)")
	case o.RouteByLatency || o.RouteRandomly || o.ReplicaOnly:
		return errors.New("route_by_latency, route_randomly and replica_only are not supported: the bridge subscribes on the master")
	}
	return nil
}

// tuneConns sets what the bridge wants of every connection go-redis opens,
// whichever client's options the fields belong to: RESP2 unless the URL
// asks otherwise, a dial timeout, and the keep-alive dialer.
func tuneConns(protocol *int, dialTimeout *time.Duration, dial *func(ctx context.Context, network, addr string) (net.Conn, error), tlsConfig *tls.Config) {
	*protocol = resp2Unless(*protocol)
	*dialTimeout = dialTimeoutOr(*dialTimeout)
	*dial = dialer(*dialTimeout, tlsConfig)
}

// resp2Unless returns p, or 2 when the URL left the protocol unset.
func resp2Unless(p int) int {
	if p == 0 {
		return 2
	}
	return p
}

// newClient builds a client for t. Each gets its own copy of the options,
// which go-redis fills in (so that several goroutines may call newClient).
func (t *target) newClient() redis.UniversalClient {
	switch {
	case t.failover != nil:
		o := *t.failover
		return redis.NewFailoverClient(&o)
	case t.cluster != nil:
		o := *t.cluster
		return redis.NewClusterClient(&o)
	default:
		o := *t.standalone
		return redis.NewClient(&o)
	}
}

// connSetKey is the context key under which a session carries its connSet
// to recordConns.
type connSetKey struct{}

// withConnSet returns ctx carrying set: every connection the client dials
// with it (the subscription's, including go-redis' own redials inside
// PubSub) is recorded there.
func withConnSet(ctx context.Context, set *connSet) context.Context {
	return context.WithValue(ctx, connSetKey{}, set)
}

// recordConns is a go-redis hook that adds each connection dialled under a
// session's context to that session's connSet, and remembers the peer of
// the newest connection dialled under any context. It is installed on the
// clients that carry data (the standalone or failover client, each cluster
// node), not on go-redis' sentinel clients, so ending a session never cuts
// go-redis' own link to the sentinels, and in sentinel mode the newest peer
// is the master go-redis last dialled. Safe from any goroutine.
type recordConns struct {
	newest atomic.Pointer[string]
}

// DialHook records the connection; see recordConns.
func (r *recordConns) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if set, ok := ctx.Value(connSetKey{}).(*connSet); ok && !set.add(c) {
			return nil, errSessionClosed
		}
		peer := c.RemoteAddr().String()
		r.newest.Store(&peer)
		return c, nil
	}
}

// ProcessHook passes commands through.
func (*recordConns) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// ProcessPipelineHook passes pipelines through.
func (*recordConns) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// newestPeer returns the peer address of the newest connection dialled,
// or "" before the first.
func (r *recordConns) newestPeer() string {
	if p := r.newest.Load(); p != nil {
		return *p
	}
	return ""
}

// install adds r to c, or to every node of a cluster client as go-redis
// creates them.
func (r *recordConns) install(c redis.UniversalClient) {
	switch c := c.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(node *redis.Client) { node.AddHook(r) })
	case *redis.Client:
		c.AddHook(r)
	}
}

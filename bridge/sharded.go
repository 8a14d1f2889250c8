package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sharded pub/sub on a Redis Cluster (SubscribeSharded, ModeCluster).
//
// A shard channel lives on the master serving its slot (Slot): SSUBSCRIBE
// must be sent there, and one command may name channels of one slot only.
// So the bridge holds one subscriber link per master (a shard: its own
// go-redis Client and PubSub, its own demand), and routes each room to the
// link of its channel's slot: RoomDemand and WhenSubscribed look the slot
// up in the owner table under shardSet.mu, then call that link's demand.
// Each link's sessions run as the standalone bridge's do (Bridge.sessions),
// so a master that restarts or drops the connection costs only its own
// rooms a resubscription; the bridge is Connected while every link is up.
//
// The slot map is read with CLUSTER SHARDS from the master itself before
// every session of its link (so a node restarted with other slots, or a
// MOVED reply, which ends the session, is followed), and again when the
// master unsubscribes a room on its own (the unsolicited "sunsubscribe" a
// master sends for every channel of a slot it gives away). Rooms whose
// slot changed owner are moved, with their waiters, to the new owner's
// demand, which subscribes them. When the masters themselves change (a
// new master, a failover in a cluster with replicas) every link is
// stopped and the set is rebuilt from a fresh CLUSTER SHARDS, keeping the
// rooms: all of them are subscribed again.
//
// Lock order: Bridge.linkMu, then shardSet.mu, then a demand's mu.

const (
	// movedSettle is how long a link waits after a master's first
	// unsolicited sunsubscribe before it reads the slot map: the master
	// sends one per channel of the slot, back to back, and one read
	// serves them all.
	movedSettle = 10 * time.Millisecond
	// topologyRetry is the pause between failed reads of the cluster's
	// masters while no link runs.
	topologyRetry = 500 * time.Millisecond
)

// errTopology ends the links' sessions when the cluster's masters are no
// longer the ones the shard set was built for.
var errTopology = errors.New("bridge: the cluster's masters changed")

// shardSet is the sharded mode's links on a cluster. Safe from any
// goroutine.
type shardSet struct {
	b *Bridge

	mu     sync.RWMutex
	owner  []int16  // slot → index in shards; -1 for a slot nobody serves
	shards []*shard // by address
	// parked holds the rooms while no shard runs (before the first
	// CLUSTER SHARDS answer, between rebuilds); it never subscribes.
	parked *demand
	// changed is closed (under mu) when a slot map names other masters.
	changed chan struct{}
	// everUp: the masters whose links were up before a rebuild, so that
	// their next subscription counts as a reconnect (runLinks only).
	everUp map[string]bool
}

// shard is one master's link.
type shard struct {
	link
	client *redis.Client
	rec    *recordConns
	moved  chan struct{} // capacity 1: an unsolicited sunsubscribe came
}

// newShardSet returns b's shard set, with notifications:all's room wanted
// for good.
func newShardSet(b *Bridge) *shardSet {
	s := &shardSet{b: b, parked: newDemand(SubscribeSharded, true, b.cfg, b.log, &b.subs)}
	s.parked.keep(GlobalRoom)
	return s
}

// links returns the masters' links.
func (s *shardSet) links() []*link {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls := make([]*link, len(s.shards))
	for i, sh := range s.shards {
		ls[i] = &sh.link
	}
	return ls
}

// demandFor returns the demand of channel's slot. Under mu.
func (s *shardSet) demandFor(channel string) *demand {
	if len(s.shards) == 0 {
		return s.parked
	}
	return s.shards[s.ownerOf(channel)].demand
}

// ownerOf returns the index of the shard serving channel's slot, 0 for a
// slot nobody serves (its commands fail until it is served). Under mu,
// with shards.
func (s *shardSet) ownerOf(channel string) int {
	return max(int(s.owner[Slot(channel)]), 0)
}

// want is Bridge.RoomDemand.
func (s *shardSet) want(room string, wanted bool) {
	if !ownChannel(room) {
		return
	}
	ch, _ := ChannelFor(room)
	s.mu.RLock()
	s.demandFor(ch).want(room, wanted)
	s.mu.RUnlock()
}

// whenSubscribed is Bridge.WhenSubscribed.
func (s *shardSet) whenSubscribed(room string, fn func()) bool {
	ch, ok := ChannelFor(room)
	if !ok {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.demandFor(ch).whenSubscribed(room, fn)
}

// run runs the links until ctx is done: it reads the masters, starts a
// link per master, and rebuilds them when the masters change.
func (s *shardSet) run(ctx context.Context) error {
	b := s.b
	seed := b.target.newClient()
	defer seed.Close()
	for {
		slots, err := readSlots(ctx, seed)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			b.log.Warn("redis cluster slot map unreadable; retrying", slog.String("url", b.url), slog.Any("err", err))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(topologyRetry):
			}
			continue
		}
		s.runLinks(ctx, slots)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// runLinks builds a link per master of slots, runs them until ctx is done
// or the masters change, then parks the rooms again.
func (s *shardSet) runLinks(ctx context.Context, slots []slotRange) {
	b := s.b
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shards := s.build(slots)
	var wg sync.WaitGroup
	for _, sh := range shards {
		wg.Go(func() {
			b.sessions(lctx, &sh.link, sh.client, sh.rec, func(ctx context.Context) error { return s.refresh(ctx, sh) })
		})
		wg.Go(func() { s.followMoves(lctx, sh) })
	}
	s.mu.RLock()
	changed := s.changed
	s.mu.RUnlock()
	select {
	case <-ctx.Done():
	case <-changed:
		b.log.Warn("redis cluster masters changed; resubscribing every room", slog.String("url", b.url))
	}
	cancel()
	wg.Wait()
	s.everUp = map[string]bool{}
	for _, sh := range shards {
		s.everUp[sh.addr] = sh.everUp
	}
	s.install(nil, nil) // park the rooms
	for _, sh := range shards {
		_ = sh.client.Close()
	}
}

// build makes the links of slots' masters and moves every room to them.
func (s *shardSet) build(slots []slotRange) []*shard {
	b := s.b
	var shards []*shard
	for _, addr := range masters(slots) {
		sh := &shard{
			client: redis.NewClient(b.target.nodeOptions(addr)),
			rec:    &recordConns{},
			moved:  make(chan struct{}, 1),
		}
		sh.addr, sh.everUp = addr, s.everUp[addr]
		sh.primary = len(shards) == 0 // the emitter's pattern, if any
		sh.demand = newDemand(SubscribeSharded, true, b.cfg, b.log.With(slog.String("node", addr)), &b.subs)
		sh.demand.moved = func() {
			select {
			case sh.moved <- struct{}{}:
			default:
			}
		}
		sh.rec.install(sh.client)
		shards = append(shards, sh)
	}
	s.install(shards, slots)
	return shards
}

// masters returns the sorted addresses of slots' masters.
func masters(slots []slotRange) []string {
	var addrs []string
	for _, r := range slots {
		if !slices.Contains(addrs, r.master) {
			addrs = append(addrs, r.master)
		}
	}
	slices.Sort(addrs)
	return addrs
}

// slotRange is a range of slots and the address of the master serving
// them.
type slotRange struct {
	start, end int
	master     string
}

// readSlots reads the slot map from the node c talks to, with CLUSTER
// SHARDS (Redis 7, which sharded pub/sub needs anyway). A master's address
// is its endpoint (or IP) and port (its TLS port when it has no plain one).
func readSlots(ctx context.Context, c redis.Cmdable) ([]slotRange, error) {
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("bridge: cluster shards: %w", err)
	}
	var out []slotRange
	for _, sh := range shards {
		i := slices.IndexFunc(sh.Nodes, func(n redis.Node) bool { return n.Role == "master" })
		if i < 0 {
			continue
		}
		n := sh.Nodes[i]
		host, port := n.Endpoint, n.Port
		if host == "" || host == "?" {
			host = n.IP
		}
		if port == 0 {
			port = n.TLSPort
		}
		for _, r := range sh.Slots {
			out = append(out, slotRange{start: int(r.Start), end: int(r.End), master: net.JoinHostPort(host, strconv.FormatInt(port, 10))})
		}
	}
	return out, nil
}

// install makes shards (nil: none, the rooms are parked) the set's links,
// with the owners of slots, and moves every room to its demand.
func (s *shardSet) install(shards []*shard, slots []slotRange) {
	s.b.linkMu.Lock()
	s.b.connected.Store(false) // the new links are not up yet
	s.mu.Lock()
	var rooms []*roomSub
	for _, d := range s.demands() {
		rooms = append(rooms, d.evict(func(string) bool { return true })...)
	}
	s.shards, s.changed = shards, make(chan struct{})
	s.owner = s.owners(slots)
	var fire []func()
	for _, e := range rooms {
		ch, _ := ChannelFor(e.room)
		fire = append(fire, s.demandFor(ch).adopt([]*roomSub{e})...)
	}
	s.mu.Unlock()
	s.b.linkMu.Unlock()
	call(fire)
}

// demands returns the parked demand and every link's. Under mu.
func (s *shardSet) demands() []*demand {
	ds := []*demand{s.parked}
	for _, sh := range s.shards {
		ds = append(ds, sh.demand)
	}
	return ds
}

// owners returns the owner table of slots for s.shards, or nil when a
// master of slots is not one of them. Under mu.
func (s *shardSet) owners(slots []slotRange) []int16 {
	owner := make([]int16, numSlots)
	for i := range owner {
		owner[i] = -1
	}
	for _, r := range slots {
		if r.start < 0 || r.end >= numSlots {
			continue
		}
		i := slices.IndexFunc(s.shards, func(sh *shard) bool { return sh.addr == r.master })
		if i < 0 {
			return nil
		}
		for slot := r.start; slot <= r.end; slot++ {
			owner[slot] = int16(i)
		}
	}
	return owner
}

// refresh reads the slot map from sh's master and moves the rooms whose
// slot changed owner. When the map names another master it stops every
// link (errTopology): the set is rebuilt.
func (s *shardSet) refresh(ctx context.Context, sh *shard) error {
	slots, err := readSlots(ctx, sh.client)
	if err != nil {
		return fmt.Errorf("bridge: slot map from %s: %w", sh.addr, err)
	}
	s.mu.Lock()
	if s.changed == nil || !slices.Contains(s.shards, sh) {
		s.mu.Unlock()
		return errTopology // a set being rebuilt
	}
	owner := s.owners(slots)
	if owner == nil {
		select {
		case <-s.changed:
		default:
			close(s.changed)
		}
		s.mu.Unlock()
		return errTopology
	}
	s.owner = owner
	var fire []func()
	for i, from := range s.shards {
		moved := from.demand.evict(func(room string) bool {
			ch, _ := ChannelFor(room)
			return s.ownerOf(ch) != i
		})
		for _, e := range moved {
			ch, _ := ChannelFor(e.room)
			s.b.log.Info("room's slot moved; subscribing on its new master",
				slog.String("room", e.room), slog.Int("slot", Slot(ch)), slog.String("from", from.addr))
			fire = append(fire, s.demandFor(ch).adopt([]*roomSub{e})...)
		}
	}
	s.mu.Unlock()
	call(fire)
	return nil
}

// followMoves refreshes the slot map when sh's master unsubscribed rooms
// on its own, then subscribes again whatever stayed with it, until ctx is
// done.
func (s *shardSet) followMoves(ctx context.Context, sh *shard) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sh.moved:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(movedSettle):
		}
		if err := s.refresh(ctx, sh); err != nil {
			s.b.log.Warn("redis slot map unreadable after a slot moved", slog.String("node", sh.addr), slog.Any("err", err))
		}
		sh.demand.requeue()
	}
}

// nodeOptions returns the options of a plain client for the cluster node
// at addr, with the cluster URL's credentials, TLS and timeouts.
func (t *target) nodeOptions(addr string) *redis.Options {
	c := t.cluster
	return &redis.Options{
		Addr:         addr,
		ClientName:   c.ClientName,
		Dialer:       c.Dialer,
		Protocol:     c.Protocol,
		Username:     c.Username,
		Password:     c.Password,
		DialTimeout:  c.DialTimeout,
		ReadTimeout:  c.ReadTimeout,
		WriteTimeout: c.WriteTimeout,
		TLSConfig:    c.TLSConfig,
		PoolSize:     c.PoolSize,
		MaxRetries:   c.MaxRetries,
	}
}

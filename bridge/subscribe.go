package bridge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// SubscribeMode says how the bridge subscribes to the notification
// channels (REDIS_SUBSCRIBE).
type SubscribeMode string

const (
	// SubscribePattern PSUBSCRIBEs user:notifications:* and
	// channel:notifications:* (and SUBSCRIBEs notifications:all): every
	// server receives every notification and drops those for rooms it has
	// no member in. Three commands per connection, whatever the rooms. The
	// default.
	SubscribePattern SubscribeMode = "pattern"
	// SubscribeDynamic SUBSCRIBEs a user's or channel's channel while its
	// room has a member on this server, and UNSUBSCRIBEs it
	// UnsubscribeGrace after the last one left (notifications:all is
	// always subscribed). Redis then sends each server only what its
	// clients listen to. A socket's "connected" and join acks wait for
	// the subscription's confirmation (WhenSubscribed), so a notification
	// published after the client saw them is never missed.
	SubscribeDynamic SubscribeMode = "dynamic"
	// SubscribeSharded follows the rooms as SubscribeDynamic does, with
	// Redis 7 sharded pub/sub: SSUBSCRIBE and SUNSUBSCRIBE, and
	// notifications:all SSUBSCRIBEd too. Publishers SPUBLISH. On a Redis
	// Cluster a message then stays on the master serving its channel's
	// slot instead of crossing the cluster bus to every node, so the
	// cluster's pub/sub capacity grows with its masters; the bridge holds
	// one subscriber connection per master (sharded.go). The Socket.IO
	// emitter, which PUBLISHes, stays on a classic PSUBSCRIBE of
	// EmitterPattern.
	SubscribeSharded SubscribeMode = "sharded"
)

// SubscribeModes lists every SubscribeMode, in the order help texts show
// them.
var SubscribeModes = []SubscribeMode{SubscribePattern, SubscribeDynamic, SubscribeSharded}

// DefaultUnsubscribeGrace is how long, in dynamic mode, a room's channel
// stays subscribed after its last member here left: long enough that a
// client reconnecting after a network blip (socket.io-client retries
// within 1–5 s) finds its channel still subscribed, short enough that
// departed rooms do not pile up.
const DefaultUnsubscribeGrace = 5 * time.Second

// ParseSubscribeMode reads a REDIS_SUBSCRIBE value; "" means
// SubscribePattern.
func ParseSubscribeMode(s string) (SubscribeMode, error) {
	switch m := SubscribeMode(s); m {
	case "", SubscribePattern:
		return SubscribePattern, nil
	case SubscribeDynamic, SubscribeSharded:
		return m, nil
	}
	return "", fmt.Errorf("bridge: subscribe mode %q is not %q, %q or %q", s, SubscribePattern, SubscribeDynamic, SubscribeSharded)
}

// channelCommands are the commands of a mode that subscribes channel by
// channel, and the kinds of their confirmations: classicChannels for
// SubscribeDynamic, shardChannels for SubscribeSharded (whose messages
// come as "smessage", which go-redis hands over as a *redis.Message too).
type channelCommands struct {
	subscribe, unsubscribe   func(ps *redis.PubSub, ctx context.Context, channels ...string) error
	subscribed, unsubscribed string // confirmation kinds
}

// classicChannels are SUBSCRIBE and UNSUBSCRIBE.
var classicChannels = channelCommands{
	subscribe:    (*redis.PubSub).Subscribe,
	unsubscribe:  (*redis.PubSub).Unsubscribe,
	subscribed:   "subscribe",
	unsubscribed: "unsubscribe",
}

// shardChannels are Redis 7's SSUBSCRIBE and SUNSUBSCRIBE.
var shardChannels = channelCommands{
	subscribe:    (*redis.PubSub).SSubscribe,
	unsubscribe:  (*redis.PubSub).SUnsubscribe,
	subscribed:   "ssubscribe",
	unsubscribed: "sunsubscribe",
}

// fixedSubscriptions returns what every connection subscribes first,
// whatever the rooms: the mode's plain channels and patterns. In sharded
// mode notifications:all is one of the demand's rooms (it lives on one
// shard), so only the emitter's pattern is left; on a cluster it goes on
// the first master's connection only (primary): a classic PSUBSCRIBE
// anywhere in a cluster sees every PUBLISH.
func (b *Bridge) fixedSubscriptions(primary bool) (channels, patterns []string) {
	if b.mode == SubscribeSharded {
		if b.cfg.Emitter && primary {
			patterns = []string{EmitterPattern}
		}
		return nil, patterns
	}
	channels, patterns = subscribeChannels, subscribePatterns
	if b.demand != nil {
		patterns = nil
	}
	if b.cfg.Emitter { // emitter.go
		if b.demand != nil {
			channels = append(slices.Clip(channels), EmitterChannel)
		} else {
			patterns = append(slices.Clip(patterns), EmitterPattern)
		}
	}
	return channels, patterns
}

// subscriptionCounters are the counters of SubscriptionStats.
type subscriptionCounters struct {
	commands     atomic.Uint64 // (P|S)SUBSCRIBE commands sent
	unsubscribes atomic.Uint64 // (S)UNSUBSCRIBE commands sent
}

// link is one subscriber connection's state: the bridge has one, or in
// sharded mode on a cluster one per master (sharded.go). Its fields other
// than the atomics are set before its sessions start.
type link struct {
	// addr is the master's address on a cluster, "" otherwise.
	addr string
	// demand follows the rooms on this connection; nil in pattern mode.
	demand *demand
	// primary: the link carries the fixed subscriptions that are not
	// per shard (fixedSubscriptions).
	primary bool
	// classic and sharded are Redis's counts in the last confirmations on
	// the current connection (Redis counts sharded channels apart).
	classic, sharded atomic.Int64
	// up: the link's subscriptions are live.
	up atomic.Bool
	// everUp is touched only by the link's session loop.
	everUp bool
}

// reset zeroes the counts when a connection ends.
func (l *link) reset() {
	l.classic.Store(0)
	l.sharded.Store(0)
}

// SubscriptionStats describe the bridge's subscriptions.
type SubscriptionStats struct {
	// Mode is the subscribe mode.
	Mode SubscribeMode
	// Current is the number of channels and patterns the subscriber
	// connections hold (summed over a cluster's masters in sharded mode),
	// as Redis counted them in its last confirmations; 0 while
	// disconnected.
	Current int64
	// SubscribeCommands counts SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE
	// commands sent (each may name up to maxBatch channels);
	// UnsubscribeCommands counts UNSUBSCRIBE and SUNSUBSCRIBE commands.
	SubscribeCommands, UnsubscribeCommands uint64
}

// SubscriptionStats returns a snapshot. Safe from any goroutine.
func (b *Bridge) SubscriptionStats() SubscriptionStats {
	var current int64
	for _, l := range b.links() {
		current += l.classic.Load() + l.sharded.Load()
	}
	return SubscriptionStats{
		Mode:                b.mode,
		Current:             current,
		SubscribeCommands:   b.subs.commands.Load(),
		UnsubscribeCommands: b.subs.unsubscribes.Load(),
	}
}

// links returns the bridge's subscriber links.
func (b *Bridge) links() []*link {
	if b.shards != nil {
		return b.shards.links()
	}
	return []*link{&b.main}
}

// RoomDemand is the engine's Config.RoomDemand: in dynamic and sharded
// mode it records that room gained its first member on this server
// (wanted) or lost its last one, and the bridge subscribes or (after
// UnsubscribeGrace) unsubscribes its channel. Rooms without a channel of
// their own (notifications:all's room, always subscribed; other
// namespaces' rooms) are ignored. It only updates maps under the bridge's
// locks and never calls back, so it may run under the engine's room lock.
// No-op in pattern mode. Safe from any goroutine.
func (b *Bridge) RoomDemand(room string, wanted bool) {
	switch {
	case b.shards != nil:
		b.shards.want(room, wanted)
	case b.demand != nil:
		b.demand.want(room, wanted)
	}
}

// WhenSubscribed reports whether a notification for room published now
// reaches this bridge: true in pattern mode, for rooms without a channel
// of their own, and in dynamic or sharded mode once Redis has confirmed
// the room's subscription on the current connection (and nothing has been
// sent for the channel since). In sharded mode notifications:all's room
// waits for its SSUBSCRIBE too. Then fn is not called: the caller goes on
// at once. Otherwise it returns false and fn is called once, later, from
// a bridge goroutine (never the caller's), when the subscription is
// confirmed, or when nobody here wants the room any more (there is
// nothing left to wait for). A room whose slot moves to another master
// keeps its waiters. Call it after the room was wanted (after the join).
// fn must not block. Safe from any goroutine.
func (b *Bridge) WhenSubscribed(room string, fn func()) bool {
	switch {
	case b.shards != nil:
		return b.shards.whenSubscribed(room, fn)
	case b.demand != nil:
		return b.demand.whenSubscribed(room, fn)
	}
	return true
}

// startSubscriptions begins what the mode does on l's connection once the
// fixed subscriptions are sent: in dynamic and sharded mode, a goroutine
// (in wg) that resubscribes every wanted room and then keeps the
// subscriptions in step with the rooms until stop is closed or ctx is
// done; fail ends the connection. The returned func is for when the
// connection is over.
func (b *Bridge) startSubscriptions(ctx context.Context, l *link, ps *redis.PubSub, stop <-chan struct{}, fail func(), wg *sync.WaitGroup) (end func()) {
	channels, patterns := b.fixedSubscriptions(l.primary)
	for _, names := range [][]string{channels, patterns} {
		if len(names) > 0 {
			b.subs.commands.Add(1)
		}
	}
	d := l.demand
	if d == nil {
		return l.reset
	}
	session := d.begin()
	wg.Go(func() { d.run(ctx, ps, session, stop, fail) })
	return func() {
		d.end()
		l.reset()
	}
}

// confirmed handles a (un)subscribe confirmation on l: it records Redis's
// count and, in dynamic and sharded mode, a room channel's confirmation
// (it reports whether it was one; in dynamic mode notifications:all's is
// the session's own).
func (b *Bridge) confirmed(l *link, v *redis.Subscription) (room bool) {
	if v.Kind == "ssubscribe" || v.Kind == "sunsubscribe" {
		l.sharded.Store(int64(v.Count))
	} else {
		l.classic.Store(int64(v.Count))
	}
	return l.demand != nil && l.demand.confirm(v.Kind, v.Channel)
}

// resubscribed reports whether every room wanted when l's connection
// began is subscribed again (always true in pattern mode): the link is
// not up before.
func (l *link) resubscribed() bool {
	return l.demand == nil || l.demand.settled()
}

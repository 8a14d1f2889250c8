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
)

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
	case SubscribeDynamic:
		return m, nil
	}
	return "", fmt.Errorf("bridge: subscribe mode %q is not %q or %q", s, SubscribePattern, SubscribeDynamic)
}

// channelCommands are the commands of a mode that subscribes channel by
// channel, and the kinds of their confirmations. A sharded mode (Redis 7
// SSUBSCRIBE) would be another value: (*redis.PubSub).SSubscribe and
// SUnsubscribe, "ssubscribe" and "sunsubscribe" (its messages come as
// "smessage", which go-redis hands over as a *redis.Message too). In a
// cluster it would need one connection, and one demand, per shard.
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

// fixedSubscriptions returns what every connection subscribes first,
// whatever the rooms: the mode's plain channels and patterns.
func (b *Bridge) fixedSubscriptions() (channels, patterns []string) {
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

// subscriptionCounters are the gauges and counters of SubscriptionStats.
type subscriptionCounters struct {
	current      atomic.Int64  // Redis's count on the current connection
	commands     atomic.Uint64 // (P)SUBSCRIBE commands sent
	unsubscribes atomic.Uint64 // UNSUBSCRIBE commands sent
}

// SubscriptionStats describe the bridge's subscriptions.
type SubscriptionStats struct {
	// Mode is the subscribe mode.
	Mode SubscribeMode
	// Current is the number of channels and patterns the subscriber
	// connection holds, as Redis counted them in its last confirmation; 0
	// while disconnected.
	Current int64
	// SubscribeCommands counts SUBSCRIBE and PSUBSCRIBE commands sent
	// (each may name up to maxBatch channels); UnsubscribeCommands counts
	// UNSUBSCRIBE commands.
	SubscribeCommands, UnsubscribeCommands uint64
}

// SubscriptionStats returns a snapshot. Safe from any goroutine.
func (b *Bridge) SubscriptionStats() SubscriptionStats {
	mode := SubscribePattern
	if b.demand != nil {
		mode = SubscribeDynamic
	}
	return SubscriptionStats{
		Mode:                mode,
		Current:             b.subs.current.Load(),
		SubscribeCommands:   b.subs.commands.Load(),
		UnsubscribeCommands: b.subs.unsubscribes.Load(),
	}
}

// RoomDemand is the engine's Config.RoomDemand: in dynamic mode it records
// that room gained its first member on this server (wanted) or lost its
// last one, and the bridge subscribes or (after UnsubscribeGrace)
// unsubscribes its channel. Rooms without a channel (notifications:all's
// room, always subscribed; other namespaces' rooms) are ignored. It only
// updates a map under the bridge's lock and never calls back, so it may
// run under the engine's room lock. No-op in pattern mode. Safe from any
// goroutine.
func (b *Bridge) RoomDemand(room string, wanted bool) {
	if b.demand != nil {
		b.demand.want(room, wanted)
	}
}

// WhenSubscribed reports whether a notification for room published now
// reaches this bridge: true in pattern mode, for rooms without a channel
// of their own, and in dynamic mode once Redis has confirmed the room's
// SUBSCRIBE on the current connection (and nothing has been sent for the
// channel since). Then fn is not called: the caller goes on at once.
// Otherwise it returns false and fn is called once, later, from a bridge
// goroutine (never the caller's), when the subscription is confirmed, or
// when nobody here wants the room any more (there is nothing left to wait
// for). Call it after the room was wanted (after the join). fn must not
// block. Safe from any goroutine.
func (b *Bridge) WhenSubscribed(room string, fn func()) bool {
	if b.demand == nil {
		return true
	}
	return b.demand.whenSubscribed(room, fn)
}

// startSubscriptions begins what the mode does on a connection once the
// fixed subscriptions are sent: in dynamic mode,
// a goroutine (in wg) that resubscribes every wanted room and then keeps
// the subscriptions in step with the rooms until stop is closed or ctx is
// done; fail ends the connection. The returned func is for when the
// connection is over.
func (b *Bridge) startSubscriptions(ctx context.Context, ps *redis.PubSub, stop <-chan struct{}, fail func(), wg *sync.WaitGroup) (end func()) {
	if _, patterns := b.fixedSubscriptions(); len(patterns) > 0 {
		b.subs.commands.Add(2) // SUBSCRIBE and PSUBSCRIBE
	} else {
		b.subs.commands.Add(1)
	}
	d := b.demand
	if d == nil {
		return func() { b.subs.current.Store(0) }
	}
	session := d.begin()
	wg.Go(func() { d.run(ctx, ps, session, stop, fail) })
	return func() {
		d.end()
		b.subs.current.Store(0)
	}
}

// confirmed handles a (un)subscribe confirmation: it records Redis's count
// and, in dynamic mode, a room channel's confirmation (it reports whether
// it was one; notifications:all's is the session's own).
func (b *Bridge) confirmed(v *redis.Subscription) (room bool) {
	b.subs.current.Store(int64(v.Count))
	return b.demand != nil && b.demand.confirm(v.Kind, v.Channel)
}

// resubscribed reports whether every room wanted when the connection
// began is subscribed again (always true in pattern mode): the bridge is
// not Connected before.
func (b *Bridge) resubscribed() bool {
	return b.demand == nil || b.demand.settled()
}

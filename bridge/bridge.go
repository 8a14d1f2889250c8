package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

const (
	// previewLen bounds the payload excerpt logged for an invalid message:
	// enough to recognise the publisher, too short to dump a document.
	previewLen = 64
	// invalidLogEvery rate-limits the invalid-message log: a publisher stuck
	// in a loop must not turn the subscriber goroutine into a log writer.
	// Suppressed lines are counted and reported with the next one.
	invalidLogEvery = 100 * time.Millisecond
	// deadAfterIntervals is how many health intervals without any read from
	// Redis (message, confirmation or PONG) make the connection dead.
	deadAfterIntervals = 2
	// masterCheckInterval is how often a sentinel-mode subscription checks
	// that it is on the master go-redis follows (see followMaster): the
	// longest a subscription stays on a demoted master that is still up,
	// once a sentinel announced the switch. One PING a second.
	masterCheckInterval = time.Second
)

// ErrRunning is returned by Run when the bridge is already running.
var ErrRunning = errors.New("bridge: Run already in progress")

// Deliver receives a message; it owns the one reference it is given and must
// Release it (after Retain-ing more for fan-out, if needed). It is called
// from the bridge's single subscriber goroutine, in Redis order, and must not
// block: while it runs nothing is read from Redis, and Redis disconnects a
// subscriber whose output buffer grows past client-output-buffer-limit pubsub.
// With the streams input in cluster mode every partition has its reader
// goroutine, so Deliver is called concurrently, in stream order within a
// partition (and so within a room); likewise in sharded mode on a cluster
// each master's link calls it, in Redis order within a master (and so
// within a room).
type Deliver func(m *Message)

// Stats are the bridge's counters since New.
type Stats struct {
	// Received counts messages handed to Deliver, indexed by Kind.
	Received [NumKinds]uint64
	// Invalid counts messages dropped because the payload was not valid JSON.
	Invalid uint64
	// Dropped counts messages on a channel we do not serve or with an empty
	// id (user:notifications:), logged at debug level only.
	Dropped uint64
	// Reconnects counts subscriptions re-established after the first one
	// (every one after the bridge had been connected and lost Redis).
	Reconnects uint64
	// EmitterRefused counts Socket.IO emitter messages refused, indexed
	// by RefuseReason (emitter.go). Those delivered are in
	// Received[KindEmitter].
	EmitterRefused [NumRefuseReasons]uint64
}

// Bridge subscribes to the notification channels on Redis and turns every
// message into one Message for Deliver. Run drives it; all other methods are
// safe from any goroutine.
type Bridge struct {
	cfg     Config
	target  *target
	url     string // cfg.URL, redacted, for logs
	deliver Deliver
	log     *slog.Logger

	running   atomic.Bool
	connected atomic.Bool
	readyOnce sync.Once
	ready     chan struct{}

	received   [NumKinds]atomic.Uint64
	invalid    atomic.Uint64
	dropped    atomic.Uint64
	reconnects atomic.Uint64

	// Invalid-message log limiter: several stream readers may log at once.
	invalidMu      sync.Mutex
	lastInvalidLog time.Time
	suppressed     uint64

	// Subscriptions (subscribe.go): the mode, the subscriber link and its
	// room manager (demand, nil in pattern mode; main.demand), or in
	// sharded mode on a cluster the masters' links (sharded.go), and the
	// counters. linkMu orders the links' up/down changes with connected.
	mode   SubscribeMode
	main   link
	demand *demand
	shards *shardSet
	subs   subscriptionCounters
	linkMu sync.Mutex

	// Socket.IO emitter input (emitter.go): the decoder, nil when
	// Config.Emitter is off (Run's goroutine only), and the refusals.
	emitter        *emitterDecoder
	refused        [NumRefuseReasons]atomic.Uint64
	lastRefuseLog  [NumRefuseReasons]time.Time // by reason; Run's goroutine only
	refuseSuppress [NumRefuseReasons]uint64    // Run's goroutine only
	// streams is the streams input's state (streams.go), nil with pub/sub.
	streams *streams
}

// New checks cfg and returns a Bridge; it does not connect (Run does).
func New(cfg Config, deliver Deliver) (*Bridge, error) {
	if deliver == nil {
		return nil, errors.New("bridge: nil Deliver")
	}
	cfg = cfg.withDefaults()
	t, err := parseTarget(cfg.Mode, cfg.URL)
	if err != nil {
		return nil, err
	}
	b := &Bridge{
		cfg:     cfg,
		target:  t,
		url:     redactURL(cfg.URL),
		deliver: deliver,
		log:     cfg.Logger.With(slog.String("component", "bridge"), slog.String("mode", string(t.mode))),
		ready:   make(chan struct{}),
	}
	switch cfg.Input {
	case InputPubSub:
	case InputStreams:
		if err := checkStreams(cfg); err != nil {
			return nil, err
		}
		b.streams = newStreams(cfg, t)
		b.log = b.log.With(slog.String("input", string(cfg.Input)))
		return b, nil
	default:
		_, err := ParseInput(string(cfg.Input))
		return nil, err
	}
	if b.mode, err = ParseSubscribeMode(string(cfg.Subscribe)); err != nil {
		return nil, err
	}
	switch {
	case b.mode == SubscribeSharded && t.cluster != nil:
		b.shards = newShardSet(b)
	case b.mode != SubscribePattern:
		b.demand = newDemand(b.mode, false, cfg, b.log, &b.subs)
		if b.mode == SubscribeSharded {
			b.demand.keep(GlobalRoom)
		}
		b.main.demand = b.demand
	}
	b.main.primary = true
	if cfg.Emitter {
		b.emitter = newEmitterDecoder()
	}
	return b, nil
}

// Connected reports whether the subscription is live right now: true once
// Redis confirmed every SUBSCRIBE/PSUBSCRIBE on the current connection
// (in dynamic mode, those of every room wanted when it began too), false
// as soon as the bridge sees that connection fail (read error, or silence
// past the health check) and until the next one is confirmed.
// Safe from any goroutine.
func (b *Bridge) Connected() bool { return b.connected.Load() }

// Ready returns a channel closed after the first successful subscription.
// It stays open while Redis is unreachable.
func (b *Bridge) Ready() <-chan struct{} { return b.ready }

// Stats returns a snapshot of the counters. Safe from any goroutine.
func (b *Bridge) Stats() Stats {
	var s Stats
	for k := range s.Received {
		s.Received[k] = b.received[k].Load()
	}
	s.Invalid = b.invalid.Load()
	s.Dropped = b.dropped.Load()
	s.Reconnects = b.reconnects.Load()
	for r := range s.EmitterRefused {
		s.EmitterRefused[r] = b.refused[r].Load()
	}
	return s
}

// Run subscribes and delivers until ctx is done. When Redis goes away it
// reconnects on its own, waiting MinBackoff doubling to MaxBackoff (jittered)
// between attempts, and resubscribes. It returns nil once ctx is cancelled,
// after its goroutines and connections are closed, or ErrRunning if another
// Run is in progress. Messages published while disconnected are lost (Redis
// pub/sub does not queue them). Run may be called again after it returned;
// Stats and Ready carry over, so the next subscription counts as a reconnect.
// With the streams input (Config.Input) Run reads the streams instead
// (runStreams) and resumes from the last id read after any error, so
// nothing still in a stream is lost.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer b.running.Store(false)
	if b.streams != nil {
		return b.runStreams(ctx)
	}
	if b.shards != nil {
		return b.shards.run(ctx)
	}

	// One client for the whole Run: in sentinel and cluster mode it keeps
	// what go-redis learnt (the sentinels, the slot map) across sessions.
	client := b.target.newClient()
	rec := &recordConns{}
	rec.install(client)
	defer client.Close()

	b.sessions(ctx, &b.main, client, rec, nil)
	return nil
}

// sessions runs l's sessions on client until ctx is done: after each
// one it waits MinBackoff doubling to MaxBackoff (jittered), and calls
// prepare (if not nil) before the next; an error from prepare counts as a
// failed session.
func (b *Bridge) sessions(ctx context.Context, l *link, client redis.UniversalClient, rec *recordConns, prepare func(context.Context) error) {
	backoff := b.cfg.MinBackoff
	for {
		var wasUp bool
		var err error
		if prepare != nil {
			err = prepare(ctx)
		}
		if err == nil {
			wasUp, err = b.session(ctx, l, client, rec)
		}
		b.down(l)
		if g, ok := b.cfg.Sequencer.(gapper); ok && wasUp {
			g.Gap() // what is published until the next session is lost
		}
		if ctx.Err() != nil {
			return
		}
		if wasUp {
			backoff = b.cfg.MinBackoff
		}
		wait := jitter(backoff)
		b.log.Warn("redis subscription down; retrying",
			slog.String("url", b.url), slog.String("node", l.addr), slog.Any("err", err), slog.Duration("retry_in", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, b.cfg.MaxBackoff)
	}
}

// session runs one connection: subscribe, wait for the confirmations,
// deliver messages until the connection fails or ctx is done. It reports
// whether the subscription became live. Each session owns a fresh PubSub
// and closes it on return, so go-redis' hidden reconnect inside PubSub
// (which redials, through the sentinels or to another cluster node,
// before it returns the error) never outlives the error that reveals it,
// and Connected/Reconnects stay honest in every mode.
func (b *Bridge) session(runCtx context.Context, l *link, client redis.UniversalClient, rec *recordConns) (wasUp bool, err error) {
	conns := &connSet{}
	ctx := withConnSet(runCtx, conns)
	ps := client.Subscribe(ctx)   // no channels: does not connect yet
	var activity atomic.Int64     // ns since start of the last read from Redis
	var on atomic.Pointer[string] // the subscription's server, once live
	start := time.Now()
	stop := make(chan struct{})
	end := func() {
		b.down(l) // now, not after go-redis gives up on the socket
		conns.closeAll()
		_ = ps.Close()
	}
	var wg sync.WaitGroup
	wg.Go(func() { b.watch(ctx, ps, stop, start, &activity, end) })
	if b.target.failover != nil {
		wg.Go(func() { b.followMaster(runCtx, client, rec, &on, stop, end) })
	}
	// On cancel, close the sockets from outside: go-redis reads do not watch
	// ctx, and a read blocked inside PubSub (even in the connection
	// handshake) holds the lock PubSub.Close would need.
	stopCancelWatch := context.AfterFunc(ctx, conns.closeAll)
	defer func() {
		stopCancelWatch()
		close(stop)
		wg.Wait()
		conns.closeAll()
		_ = ps.Close()
	}()

	if b.target.cluster != nil || b.mode == SubscribeSharded {
		// In sharded mode the connection may have nothing to subscribe
		// before the rooms' SSUBSCRIBEs: the PING opens it, and its PONG
		// may be what finds it up (no rooms yet).
		//
		// The command that opens the connection decides where a cluster
		// client opens it: a (P)SUBSCRIBE on the node owning its first
		// name's slot, a PING on a random node. Classic pub/sub is
		// broadcast to every node, so any node will do, and a random one
		// spreads many servers' subscriptions over the cluster instead of
		// piling them on one node, and does not keep choosing a dead node
		// until the slot map is reloaded. Its PONG arrives before the
		// confirmations.
		if err := ps.Ping(ctx); err != nil {
			return false, fmt.Errorf("bridge: ping: %w", err)
		}
	}
	channels, patterns := b.fixedSubscriptions(l.primary)
	if len(channels) > 0 {
		if err := ps.Subscribe(ctx, channels...); err != nil {
			return false, fmt.Errorf("bridge: subscribe: %w", err)
		}
	}
	if len(patterns) > 0 {
		if err := ps.PSubscribe(ctx, patterns...); err != nil {
			return false, fmt.Errorf("bridge: psubscribe: %w", err)
		}
	}
	// Dynamic mode: every wanted room is subscribed again, then the rooms
	// are followed (subscribe.go, demand.go).
	endSubscriptions := b.startSubscriptions(ctx, l, ps, stop, conns.closeAll, &wg)
	defer endSubscriptions()

	confirmed := 0
	for {
		v, err := ps.Receive(ctx)
		if err != nil {
			return wasUp, fmt.Errorf("bridge: receive: %w", err)
		}
		now := time.Now()
		activity.Store(int64(now.Sub(start)))
		switch v := v.(type) {
		case *redis.Message:
			b.handle(v.Channel, v.Payload, Position{}, now)
		case *redis.Subscription:
			switch {
			case b.confirmed(l, v): // a room's channel (dynamic, sharded mode)
			case v.Kind != "subscribe" && v.Kind != "psubscribe":
				return wasUp, fmt.Errorf("bridge: receive: unexpected %s of %q", v.Kind, v.Channel)
			default:
				confirmed++
			}
		case *redis.Pong:
			// Health-check reply; activity is recorded above. In sharded
			// mode the first one may find a connection with nothing to
			// subscribe up.
		}
		if !wasUp && confirmed >= len(channels)+len(patterns) && l.resubscribed() {
			wasUp = true
			node := conns.remote()
			on.Store(&node)
			b.up(l, node)
		}
	}
}

// up records a live subscription of l on the server at node; the bridge
// is Connected once every link is up.
func (b *Bridge) up(l *link, node string) {
	if l.everUp {
		b.reconnects.Add(1)
		b.log.Info("redis subscription restored", slog.String("url", b.url), slog.String("node", node))
	} else {
		l.everUp = true
		b.log.Info("redis subscription live", slog.String("url", b.url), slog.String("node", node))
	}
	b.linkMu.Lock()
	l.up.Store(true)
	all := true
	for _, o := range b.links() {
		all = all && o.up.Load()
	}
	if all {
		b.connected.Store(true)
		b.readyOnce.Do(func() { close(b.ready) })
	}
	b.linkMu.Unlock()
}

// down records that l's subscription is not live: neither is the bridge.
func (b *Bridge) down(l *link) {
	b.linkMu.Lock()
	l.up.Store(false)
	b.connected.Store(false)
	b.linkMu.Unlock()
}

// watch is the health check: it PINGs every interval so that a healthy
// idle connection is never silent, and ends the session when the connection
// has been silent for deadAfterIntervals intervals or a PING fails, by
// calling end (which closes the session's sockets, unblocking Receive, and
// then ps). It returns when stop is closed or ctx is done.
func (b *Bridge) watch(ctx context.Context, ps *redis.PubSub, stop <-chan struct{}, start time.Time, activity *atomic.Int64, end func()) {
	var tick <-chan time.Time
	if b.cfg.HealthInterval > 0 {
		t := time.NewTicker(b.cfg.HealthInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return // the session's AfterFunc closes the sockets
		case <-tick:
			silent := time.Since(start) - time.Duration(activity.Load())
			if silent > deadAfterIntervals*b.cfg.HealthInterval {
				b.log.Warn("redis connection silent; dropping it",
					slog.String("url", b.url), slog.Duration("silent", silent))
				end()
				return
			}
			if err := ps.Ping(ctx); err != nil {
				// go-redis may have redialled inside Ping; close so the
				// session ends and the reconnect is counted by Run.
				end()
				return
			}
		}
	}
}

// followMaster keeps a sentinel-mode subscription on the master go-redis
// follows. A master demoted while it stays up (SENTINEL FAILOVER, a
// partition that heals) keeps its pub/sub clients until the sentinels
// reconfigure it, which may take many seconds, and go-redis moves only its
// command connections when a sentinel announces +switch-master. So every
// masterCheckInterval it PINGs through the failover client, which redials
// to the new master once go-redis heard of the switch, and ends the
// session when the newest connection the client dialled is not on the
// server the subscription is on. A failed PING proves nothing here: the
// subscription's own health check and errors decide. It returns when stop
// is closed or ctx is done.
func (b *Bridge) followMaster(ctx context.Context, client redis.UniversalClient, rec *recordConns, on *atomic.Pointer[string], stop <-chan struct{}, end func()) {
	t := time.NewTicker(masterCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sub := on.Load()
		if sub == nil {
			continue // not live yet
		}
		pctx, cancel := context.WithTimeout(ctx, masterCheckInterval)
		err := client.Ping(pctx).Err()
		cancel()
		if err != nil {
			continue
		}
		if master := rec.newestPeer(); master != "" && master != *sub {
			b.log.Warn("redis master switched; resubscribing on the new one",
				slog.String("url", b.url), slog.String("from", *sub), slog.String("to", master))
			end()
			return
		}
	}
}

// handle routes one message from Redis (channel and payload, from pos in
// its input), builds its frame and delivers it, through the Sequencer when
// there is one. Socket.IO emitter messages go to handleEmit.
func (b *Bridge) handle(channel, payload string, pos Position, now time.Time) {
	if b.emitter != nil && strings.HasPrefix(channel, emitterPrefix) {
		b.handleEmit(channel, payload, now)
		return
	}
	room, kind, ok := RoomFor(channel)
	if !ok {
		b.dropped.Add(1)
		if b.log.Enabled(context.Background(), slog.LevelDebug) {
			b.log.Debug("dropping notification: no room for channel", slog.String("channel", channel))
		}
		return
	}
	var err error
	if seq := b.cfg.Sequencer; seq != nil {
		err = seq.Sequence(pos, func(offset []byte) (*Message, error) {
			return b.build(room, kind, payload, offset, pos, now)
		}, b.deliver)
	} else if !pos.Backfill {
		// Without a Sequencer nobody keeps history: a backfilled entry is
		// neither built nor delivered.
		var m *Message
		if m, err = b.build(room, kind, payload, nil, pos, now); err == nil {
			b.deliver(m)
		}
	}
	if err != nil {
		b.invalid.Add(1)
		b.logInvalid(channel, payload, now)
	}
}

// build builds the message of a payload for room, with offset, and counts
// it as received unless it is backfill: before it is delivered, so that
// Stats never lags a delivery.
func (b *Bridge) build(room string, kind Kind, payload string, offset []byte, pos Position, now time.Time) (*Message, error) {
	m, err := NewMessageAt(room, kind, stringBytes(payload), offset)
	if err != nil {
		return nil, err
	}
	if !pos.Backfill {
		b.received[kind].Add(1)
	}
	m.Received, m.Pos = now, pos
	m.onWritten = b.cfg.OnWritten
	return m, nil
}

// handleEmit decodes a Socket.IO emitter message, builds its frame once and
// delivers it, or refuses it (emitter.go).
func (b *Bridge) handleEmit(channel, payload string, now time.Time) {
	e, err := b.emitter.decode(channel, stringBytes(payload))
	if err != nil {
		var r *refusal
		if !errors.As(err, &r) {
			r = &refusal{reason: RefuseMalformed, detail: err.Error()}
		}
		b.refused[r.reason].Add(1)
		b.logRefused(channel, r, len(payload), now)
		return
	}
	if e.namedRooms && len(e.rooms) == 0 {
		// Only rooms this service does not have: nobody here.
		b.dropped.Add(1)
		if b.log.Enabled(context.Background(), slog.LevelDebug) {
			b.log.Debug("dropping emit: none of its rooms is a notification room", slog.String("channel", channel))
		}
		return
	}
	m := newPacketMessage("", KindEmitter, e.packet)
	m.Rooms, m.Except = e.rooms, e.except
	m.Received = now
	m.onWritten = b.cfg.OnWritten
	b.received[KindEmitter].Add(1)
	b.deliver(m)
}

// logRefused logs a refused emitter message, at most one line per
// invalidLogEvery and reason (a flood of one kind hides no other).
func (b *Bridge) logRefused(channel string, r *refusal, size int, now time.Time) {
	last := &b.lastRefuseLog[r.reason]
	if !last.IsZero() && now.Sub(*last) < invalidLogEvery {
		b.refuseSuppress[r.reason]++
		return
	}
	*last = now
	b.log.Warn("refusing socket.io emitter message",
		slog.String("channel", channel),
		slog.String("reason", r.reason.String()),
		slog.String("detail", r.detail),
		slog.Int("bytes", size),
		slog.Uint64("suppressed_since_last", b.refuseSuppress[r.reason]))
	b.refuseSuppress[r.reason] = 0
}

// logInvalid logs a dropped invalid payload with a short preview, at most one
// line per invalidLogEvery.
func (b *Bridge) logInvalid(channel, payload string, now time.Time) {
	b.invalidMu.Lock()
	defer b.invalidMu.Unlock()
	if !b.lastInvalidLog.IsZero() && now.Sub(b.lastInvalidLog) < invalidLogEvery {
		b.suppressed++
		return
	}
	b.lastInvalidLog = now
	b.log.Warn("dropping notification: payload is not valid JSON",
		slog.String("channel", channel),
		slog.Int("bytes", len(payload)),
		slog.String("preview", preview(payload)),
		slog.Uint64("suppressed_since_last", b.suppressed))
	b.suppressed = 0
}

// preview returns at most previewLen bytes of s, cut on a rune boundary.
func preview(s string) string {
	if len(s) <= previewLen {
		return s
	}
	cut := previewLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// jitter spreads d into [d/2, d] so that many servers restarted with the
// same Redis do not reconnect in lockstep.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(d-half+1)
}

// stringBytes views s as bytes without copying. Safe here because the bytes
// are only read (json.Valid, then one copy into the frame) and s outlives
// the call.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

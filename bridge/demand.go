package bridge

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/fifo"
)

// Dynamic subscriptions (SubscribeDynamic, and SubscribeSharded with
// SSUBSCRIBE/SUNSUBSCRIBE: one demand per subscriber link, see sharded.go).
//
// The engine says when a room gains its first member on this server and
// when it loses its last one (RoomDemand, under the engine's room lock, so
// in the order of the changes). demand keeps Redis in step: a room's
// channel is SUBSCRIBEd when it is wanted and UNSUBSCRIBEd once it has been
// unwanted for the grace period. Commands are batched: at most maxBatch
// channels each, and at most one flush per batchWindow, so a storm of
// joins costs a few commands per window instead of one per room.
//
// Redis answers each channel of a command with one confirmation, in
// command order, on the connection the messages come on. A room's
// subscription is live when its last confirmation was "subscribe" and no
// command for it is still unanswered: from then on every message published
// to the channel reaches the bridge, after the confirmation. WhenSubscribed
// callers wait for that.
//
// Goroutines: want runs on event loops (under the engine's room lock),
// whenSubscribed on event loops, confirm on the session goroutine and run
// (the flusher, one per connection) on its own. All state is under mu,
// which is never held while calling out: waiters are called after it is
// released, never from want (that would re-enter the engine's room lock).
//
// On every new connection everything wanted is subscribed again (a new
// connection has no subscriptions); the bridge is Connected only once all
// of that is confirmed (settled).

const (
	// maxBatch bounds the channels of one SUBSCRIBE or UNSUBSCRIBE: 100K
	// rooms resubscribe in 200 commands, and one command (about 20 KB) and
	// its confirmations do not hold the connection long.
	maxBatch = 500
	// batchWindow is the least time between two flushes. A change goes
	// out at once when the last flush is older; otherwise changes gather
	// until the window ends (or maxBatch of them). While clients connect
	// at N/s this is N/100 channels per command and 100 commands/s at
	// most, and it adds at most this to a client's wait for "connected".
	batchWindow = 10 * time.Millisecond
)

// roomSub is one room's subscription state, under demand.mu: 64 bytes (a
// size class) per room with members here. The channel's name is built
// when a command is sent (go-redis keeps it while subscribed).
type roomSub struct {
	room       string // the engine's string
	waiters    []func()
	inflight   int32  // confirmations awaited (perRoom per command sent)
	graceGen   uint32 // bumped each time the room becomes unwanted
	wanted     bool   // the room has members here
	sent       bool   // the last command sent for the channel is SUBSCRIBE
	subscribed bool   // the last confirmation was a subscribe
	resync     bool   // resubscribed by this connection, not confirmed yet
	queued     bool   // in demand.queue
}

// channel returns the room's Redis channel.
func (e *roomSub) channel() string {
	ch, _ := ChannelFor(e.room)
	return ch
}

// live reports whether the channel's messages reach the bridge.
func (e *roomSub) live() bool { return e.subscribed && e.inflight == 0 }

// graceEntry is a room that became unwanted, to unsubscribe at at unless
// it has been wanted since (gen).
type graceEntry struct {
	e   *roomSub
	gen uint32
	at  time.Time
}

// demand is the subscription manager of one subscriber link in dynamic or
// sharded mode.
type demand struct {
	cmds channelCommands
	// group: send each batch as one command per hash slot (sharded mode
	// on a cluster, which refuses a command naming several slots).
	group bool
	// moved, when set, is called (outside mu, on the session goroutine)
	// when Redis unsubscribed a room's channel on its own: in sharded
	// mode on a cluster its slot moved to another master (sharded.go).
	moved func()
	// emitter: each room also has its Socket.IO emitter channel
	// (EmitterRoomChannel), subscribed and unsubscribed with the room's
	// own in the same commands; perRoom is then 2, the confirmations a
	// command brings per room.
	emitter bool
	perRoom int32
	grace   time.Duration
	log     *slog.Logger
	subs    *subscriptionCounters
	wake    chan struct{} // capacity 1: the flusher has something to do

	mu      sync.Mutex
	rooms   map[string]*roomSub
	queue   fifo.Queue[*roomSub]   // may need a SUBSCRIBE
	graceQ  fifo.Queue[graceEntry] // unwanted rooms, in the order of at (one grace for all)
	session uint64                 // the current connection's number; 0 between connections
	last    uint64                 // the last number given
	resync  int                    // resync rooms not confirmed yet
	scratch []byte                 // confirm's room name, to look it up without allocating

	// The flusher's batches (run's goroutine only).
	subBatch, unsubBatch []*roomSub
	names                []string
	ends                 []int
}

// newDemand returns the manager of a link in mode, SubscribeDynamic or
// SubscribeSharded; group says the link is a cluster master's. In sharded
// mode notifications:all is one of its rooms, always wanted (keep), and
// the emitter's rooms are not followed: the emitter PUBLISHes, so its
// channels are classic ones, matched by EmitterPattern on the classic
// subscription (fixedSubscriptions).
func newDemand(mode SubscribeMode, group bool, cfg Config, log *slog.Logger, subs *subscriptionCounters) *demand {
	grace := cfg.UnsubscribeGrace
	if grace <= 0 {
		grace = DefaultUnsubscribeGrace
	}
	d := &demand{
		perRoom: 1,
		cmds:    classicChannels,
		group:   group,
		grace:   grace,
		log:     log,
		subs:    subs,
		wake:    make(chan struct{}, 1),
		rooms:   make(map[string]*roomSub),
	}
	switch {
	case mode == SubscribeSharded:
		d.cmds = shardChannels
	case cfg.Emitter:
		d.emitter, d.perRoom = true, 2
	}
	return d
}

// keep makes room wanted for good: notifications:all's in sharded mode,
// which the engine's RoomDemand never names.
func (d *demand) keep(room string) {
	d.mu.Lock()
	e := d.rooms[room]
	if e == nil {
		e = &roomSub{room: room}
		d.rooms[room] = e
	}
	e.wanted = true
	if !e.sent && !e.queued && d.session != 0 {
		e.queued = true
		d.queue.Push(e)
	}
	d.mu.Unlock()
	d.signal()
}

// signal wakes the flusher, if it is not already awake.
func (d *demand) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// want records that room gained (wanted) or lost (!wanted) its members
// here. Called under the engine's room lock: it must not call waiters.
func (d *demand) want(room string, wanted bool) {
	if !ownChannel(room) {
		return // notifications:all's room is always subscribed
	}
	wake := false
	d.mu.Lock()
	e := d.rooms[room]
	switch {
	case wanted:
		if e == nil {
			e = &roomSub{room: room}
			d.rooms[room] = e
		}
		e.wanted = true
		if !e.sent && !e.queued {
			e.queued = true
			d.queue.Push(e)
			wake = true
		}
	case e != nil:
		e.wanted = false
		e.graceGen++
		d.graceQ.Push(graceEntry{e: e, gen: e.graceGen, at: time.Now().Add(d.grace)})
		wake = d.graceQ.Len() == 1 // the flusher arms its timer
	}
	d.mu.Unlock()
	if wake {
		d.signal()
	}
}

// whenSubscribed is Bridge.WhenSubscribed in dynamic mode.
func (d *demand) whenSubscribed(room string, fn func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.rooms[room]
	if e == nil || !e.wanted || e.live() {
		// No channel of its own, nobody here in it any more, or live.
		return true
	}
	e.waiters = append(e.waiters, fn)
	return false
}

// forget drops e, which nobody wants and which is not subscribed, and
// returns its waiters. Under mu.
func (d *demand) forget(e *roomSub) []func() {
	if d.rooms[e.room] == e {
		delete(d.rooms, e.room)
	}
	w := e.waiters
	e.waiters = nil
	return w
}

// begin starts a connection's bookkeeping: nothing is subscribed on a new
// connection, so every wanted room is queued for a SUBSCRIBE and counts
// towards settled. It returns the connection's number, for run.
func (d *demand) begin() uint64 {
	d.mu.Lock()
	d.last++
	d.session = d.last
	fire := d.resetLocked(true)
	d.mu.Unlock()
	call(fire)
	d.signal()
	return d.session
}

// end marks the connection lost: no room is live until the next one.
func (d *demand) end() {
	d.mu.Lock()
	d.session = 0
	fire := d.resetLocked(false)
	d.mu.Unlock()
	call(fire)
}

// resetLocked forgets every command and confirmation, drops the unwanted
// rooms, and with resync queues the wanted ones. It returns the waiters
// to call. Under mu.
func (d *demand) resetLocked(resync bool) (fire []func()) {
	d.queue.Clear()
	d.graceQ.Clear()
	d.resync = 0
	for _, e := range d.rooms {
		e.sent, e.subscribed, e.inflight, e.queued, e.resync = false, false, 0, false, false
		if !e.wanted {
			fire = append(fire, d.forget(e)...)
			continue
		}
		if resync {
			e.resync, e.queued = true, true
			d.resync++
			d.queue.Push(e)
		}
	}
	return fire
}

// settled reports whether every room queued by begin is confirmed.
func (d *demand) settled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.resync == 0
}

// confirm handles a confirmation of kind for channel, read on the
// connection, and reports whether it was a room's (else it is the
// session's own: notifications:all). Called on the session goroutine.
func (d *demand) confirm(kind, channel string) (mine bool) {
	if kind != d.cmds.subscribed && kind != d.cmds.unsubscribed {
		return false
	}
	d.mu.Lock()
	var ok bool
	if d.scratch, ok = appendRoom(d.scratch[:0], channel); !ok {
		if channel != globalChannel || d.cmds.subscribed != shardChannels.subscribed {
			d.mu.Unlock()
			return false // dynamic mode's notifications:all: the session's own
		}
		d.scratch = append(d.scratch[:0], GlobalRoom...)
	}
	e := d.rooms[string(d.scratch)]
	if e != nil && e.inflight == 0 && e.sent && kind == d.cmds.unsubscribed {
		// Redis dropped the subscription on its own: a cluster master
		// does when the channel's slot leaves it. The room is no longer
		// subscribed here; moved finds its new master.
		e.sent, e.subscribed = false, false
		d.mu.Unlock()
		if d.moved != nil {
			d.moved()
		} else {
			d.requeue() // not a cluster: subscribe it again here
		}
		return true
	}
	if e == nil || e.inflight == 0 {
		d.mu.Unlock()
		d.log.Warn("unexpected confirmation", slog.String("kind", kind), slog.String("channel", channel))
		return true
	}
	e.inflight--
	e.subscribed = kind == d.cmds.subscribed
	if e.resync && e.inflight == 0 {
		e.resync = false
		d.resync--
	}
	var fire []func()
	switch {
	case e.inflight > 0:
	case e.subscribed:
		fire, e.waiters = e.waiters, nil
	case !e.wanted && !e.sent:
		fire = d.forget(e) // unsubscribed and still unwanted
	}
	d.mu.Unlock()
	call(fire)
	return true
}

// collect takes the commands due now for the connection numbered session:
// SUBSCRIBEs for wanted rooms not yet subscribed, UNSUBSCRIBEs for rooms
// whose grace is over, at most maxBatch of each, marks them sent, and
// appends their rooms to subs and unsubs. It also returns waiters to call,
// and whether more is due.
func (d *demand) collect(session uint64, now time.Time, subs, unsubs []*roomSub) (_, _ []*roomSub, fire []func(), more bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.session != session {
		return subs, unsubs, nil, false // the connection is over
	}
	for d.queue.Len() > 0 && len(subs) < maxBatch {
		e := d.queue.Pop()
		e.queued = false
		switch {
		case e.sent:
		case !e.wanted && !e.resync:
			// Unwanted before its SUBSCRIBE went out: nothing to wait for.
			fire, e.waiters = append(fire, e.waiters...), nil
		default:
			e.sent = true
			e.inflight += d.perRoom
			subs = append(subs, e)
		}
	}
	for d.graceQ.Len() > 0 && len(unsubs) < maxBatch && !d.graceQ.Peek().at.After(now) {
		g := d.graceQ.Pop()
		e := g.e
		switch {
		case e.graceGen != g.gen || e.wanted:
			// Wanted again since.
		case e.sent:
			e.sent = false
			e.inflight += d.perRoom
			unsubs = append(unsubs, e)
		case e.inflight == 0:
			fire = append(fire, d.forget(e)...)
			// else an UNSUBSCRIBE is in flight: confirm forgets it.
		}
	}
	more = d.queue.Len() > 0 || d.graceQ.Len() > 0 && !d.graceQ.Peek().at.After(now)
	return subs, unsubs, fire, more
}

// nextGrace returns when the oldest grace ends (zero: none pending).
func (d *demand) nextGrace() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.graceQ.Len() == 0 {
		return time.Time{}
	}
	return d.graceQ.Peek().at
}

// full reports whether a whole batch is waiting.
func (d *demand) full() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queue.Len() >= maxBatch
}

// run is the flusher of the connection numbered session: it sends the
// commands as they become due, until stop is closed or ctx is done. A
// command that cannot be written ends the connection (fail), and the
// next one resubscribes.
func (d *demand) run(ctx context.Context, ps *redis.PubSub, session uint64, stop <-chan struct{}, fail func()) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var last time.Time
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-timer.C:
		}
		if wait := batchWindow - time.Since(last); wait > 0 && !d.full() {
			timer.Reset(wait)
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		for more := true; more; {
			var fire []func()
			d.subBatch, d.unsubBatch, fire, more = d.collect(session, time.Now(), d.subBatch[:0], d.unsubBatch[:0])
			call(fire)
			if err := d.send(ctx, ps, d.subBatch, d.unsubBatch); err != nil {
				d.log.Warn("redis subscription command failed; reconnecting", slog.Any("err", err))
				fail()
				return
			}
		}
		last = time.Now()
		timer.Stop()
		if at := d.nextGrace(); !at.IsZero() {
			timer.Reset(max(time.Until(at), 0))
		}
	}
}

// send writes one SUBSCRIBE for the channels of subs and one UNSUBSCRIBE
// for those of unsubs, each unless empty; with group, one per hash slot
// instead, back to back. (Run's goroutine.)
func (d *demand) send(ctx context.Context, ps *redis.PubSub, subs, unsubs []*roomSub) error {
	if len(subs) > 0 {
		if err := d.command(ctx, ps, d.cmds.subscribe, d.channels(subs), &d.subs.commands); err != nil {
			return err
		}
	}
	if len(unsubs) > 0 {
		if err := d.command(ctx, ps, d.cmds.unsubscribe, d.channels(unsubs), &d.subs.unsubscribes); err != nil {
			return err
		}
	}
	clear(subs) // the batches keep no room or name alive
	clear(unsubs)
	clear(d.names)
	return nil
}

// command sends cmd for names, as one command or, with group, one per
// slot, counting them in sent. (Run's goroutine.)
func (d *demand) command(ctx context.Context, ps *redis.PubSub, cmd func(*redis.PubSub, context.Context, ...string) error, names []string, sent *atomic.Uint64) error {
	if !d.group {
		sent.Add(1)
		return cmd(ps, ctx, names...)
	}
	d.ends = slotGroups(names, d.ends[:0])
	from := 0
	for _, end := range d.ends {
		if err := cmd(ps, ctx, names[from:end]...); err != nil {
			return err
		}
		sent.Add(1)
		from = end
	}
	return nil
}

// channels returns the channels of rooms, in d.names. (Run's goroutine;
// a room's name never changes, so no lock is needed.)
func (d *demand) channels(rooms []*roomSub) []string {
	d.names = d.names[:0]
	for _, e := range rooms {
		d.names = append(d.names, e.channel())
		if d.emitter {
			d.names = append(d.names, EmitterRoomChannel(e.room))
		}
	}
	return d.names
}

// evict takes out of the manager the rooms for which leave is true (their
// channel's slot moved to another master's link) and returns a fresh
// entry for each, with its waiters and whether it is wanted, for adopt.
// What this link's connection still sends or hears for them is ignored.
// Called with the shard set's lock held (sharded.go).
func (d *demand) evict(leave func(room string) bool) (moved []*roomSub) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for room, e := range d.rooms {
		if !leave(room) {
			continue
		}
		delete(d.rooms, room)
		if e.resync {
			e.resync = false
			d.resync--
		}
		moved = append(moved, &roomSub{room: room, wanted: e.wanted, waiters: e.waiters})
		// The entry may still be in the queues: it is dead to them.
		e.wanted, e.waiters = false, nil
		e.graceGen++
	}
	return moved
}

// adopt takes in rooms evicted from another link: the wanted ones are
// subscribed (on the current connection, or the next one's begin), the
// others dropped; it returns the waiters of those, to call. Called with
// the shard set's lock held (sharded.go).
func (d *demand) adopt(rooms []*roomSub) (fire []func()) {
	d.mu.Lock()
	for _, n := range rooms {
		if !n.wanted {
			fire = append(fire, n.waiters...)
			continue
		}
		if e := d.rooms[n.room]; e != nil {
			e.wanted = true
			e.waiters = append(e.waiters, n.waiters...)
			n = e
		} else {
			d.rooms[n.room] = n
		}
		if !n.sent && !n.queued && d.session != 0 {
			n.queued = true
			d.queue.Push(n)
		}
	}
	d.mu.Unlock()
	d.signal()
	return fire
}

// requeue queues every wanted room that is neither subscribed nor queued
// (one whose subscription Redis dropped, see moved) on the current
// connection.
func (d *demand) requeue() {
	d.mu.Lock()
	if d.session != 0 {
		for _, e := range d.rooms {
			if e.wanted && !e.sent && !e.queued {
				e.queued = true
				d.queue.Push(e)
			}
		}
	}
	d.mu.Unlock()
	d.signal()
}

// call calls each of fns.
func call(fns []func()) {
	for _, fn := range fns {
		fn()
	}
}

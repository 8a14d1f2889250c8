package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Message is one pre-serialized broadcast: the bridge builds it once and the
// engine writes the same bytes to every member. Implementations are
// reference-counted and safe to read from several goroutines.
type Message interface {
	// Frame returns the complete WebSocket frame (header and packet).
	Frame() []byte
	// Packet returns the Engine.IO packet alone, for polling members.
	Packet() []byte
	// Retain adds n references.
	Retain(n int32)
	// Release drops one reference.
	Release()
}

// Deflater is a Message that can also give its frame compressed, for the
// members that negotiated permessage-deflate (Config.Compression).
type Deflater interface {
	// DeflatedFrame returns the frame as one permessage-deflate message
	// without context takeover (RSV1 set), built once however many loops
	// ask, or nil when compressing does not make it smaller. Valid until
	// the caller's Release, like Frame; safe from any goroutine.
	DeflatedFrame() []byte
}

// Server is a Socket.IO v5 / Engine.IO v4 server on gnet event loops. Its
// exported methods are safe from any goroutine.
type Server struct {
	cfg        Config
	handler    Handler
	log        *slog.Logger
	tick       time.Duration // timer period
	fineTick   time.Duration // timer wheel granularity; period during upgrades
	start      time.Time
	namespaces map[string]uint8 // name → index in cfg.Namespaces

	eng      gnet.Engine
	booted   chan struct{}
	draining atomic.Bool // Drain or Shutdown began: no new sessions
	stopping atomic.Bool // Shutdown began: no new connections
	// lastUpgrade is when (server ms) a WebSocket upgrade last started;
	// timers tick finely until it must be over.
	lastUpgrade atomic.Int64

	shardsMu sync.Mutex
	shards   atomic.Pointer[[]*shard] // copy-on-write: read by Broadcast and OnTick

	sessMu   sync.Mutex
	sessions map[string]*session // polling sessions by sid, for their requests and upgrades

	// roomMu guards roomShards, the bitmask of shards with members in each
	// room. Shards change it only when a room gains its first or loses its
	// last local member, so Broadcast takes the read lock once per message.
	roomMu     sync.RWMutex
	roomShards map[string]uint64

	counters serverCounters

	// handoffHook, when set, is called on the loop at each step of an
	// upgrade hand-over (upgrade.go), so that tests can broadcast into
	// every window of it. Tests set it between New and Run; nil otherwise.
	handoffHook func(handoffStep, *handoff)
	acc         acceptor // gnet's AcceptErrorHandler: see accept.go
	// gnetErrs keeps the last errors gnet logged: the cause Run reports when
	// the loops stop without Shutdown.
	gnetErrs recentErrors
}

// serverCounters are the server-wide gauges shown by /health.
type serverCounters struct {
	sessions  atomic.Int64 // open Engine.IO sessions
	sockets   atomic.Int64 // connected Socket.IO sockets
	websocket atomic.Int64 // sessions on WebSocket
	polling   atomic.Int64 // sessions on polling
}

// maxShards is the most event loops the room bitmask can address.
const maxShards = 64

// New returns a server; Run starts it.
func New(cfg Config, h Handler) *Server {
	cfg = cfg.withDefaults()
	cfg.Loops = min(cfg.Loops, maxShards)
	s := &Server{
		cfg:        cfg,
		handler:    h,
		log:        cfg.Logger,
		tick:       cfg.tick(),
		fineTick:   cfg.fineTick(),
		start:      time.Now(),
		namespaces: make(map[string]uint8),
		booted:     make(chan struct{}),
		sessions:   make(map[string]*session),
		roomShards: make(map[string]uint64),
	}
	if len(cfg.Namespaces) > maxNamespaces {
		panic(fmt.Sprintf("engine: %d namespaces, at most %d", len(cfg.Namespaces), maxNamespaces))
	}
	for i, ns := range cfg.Namespaces {
		s.namespaces[ns] = uint8(i)
	}
	s.acc.init(s)
	empty := []*shard{}
	s.shards.Store(&empty)
	s.lastUpgrade.Store(-cfg.UpgradeTimeout.Milliseconds() - upgradeNoopPeriod - 1)
	return s
}

// ErrStopped is returned by Run when the event loops stopped although
// Shutdown was not called: the server is no longer serving, and its process
// should exit non-zero so that a supervisor restarts it.
var ErrStopped = errors.New("engine: event loops stopped without Shutdown")

// Run listens and serves until Shutdown. It returns nil only after
// Shutdown; otherwise the listener's error, or ErrStopped (wrapped with the
// cause gnet logged last) when the loops stopped on their own. A failed
// accept, descriptors running out included, does not stop the server
// (see accept.go).
func (s *Server) Run() error {
	if err := s.acc.open(); err != nil {
		return err
	}
	defer s.acc.close()
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.Loops),
		gnet.WithReusePort(s.cfg.ReusePort),
		gnet.WithReuseAddr(true), // restart at once despite TIME_WAIT, as Node does
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{l: s.log, errs: &s.gnetErrs}),
		gnet.WithAcceptErrorHandler(s.acc.handle), // patched gnet: third_party/gnet
	}
	if s.cfg.SocketSendBuffer > 0 {
		opts = append(opts, gnet.WithSocketSendBuffer(s.cfg.SocketSendBuffer))
	}
	err := gnet.Run(&gnetHandler{srv: s}, "tcp://"+s.cfg.Addr, opts...)
	if err != nil {
		return fmt.Errorf("engine: serve %s: %w", s.cfg.Addr, err)
	}
	if !s.draining.Load() {
		// gnet.Run returns nil whatever stopped the loops (a broken
		// listener, a failed epoll_wait); only Shutdown sets draining.
		if cause := s.gnetErrs.String(); cause != "" {
			return fmt.Errorf("%w: %s", ErrStopped, cause)
		}
		return ErrStopped
	}
	return nil
}

// Booted returns a channel closed once the server is listening.
func (s *Server) Booted() <-chan struct{} { return s.booted }

// Shutdown stops taking new connections, closes every session at the
// transport level (WebSocket close 1001, polling close packet) without a
// Socket.IO DISCONNECT, so that clients reconnect elsewhere, then stops the
// loops. It returns when Run is about to return or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.booted:
	default:
		return errors.New("engine: shutdown before the server started")
	}
	s.draining.Store(true)
	s.stopping.Store(true)
	s.closeEverySession(ctx)
	// Give the close frames a moment to leave; sessions count down as the
	// loops close them.
	wait := time.NewTicker(10 * time.Millisecond)
	defer wait.Stop()
	deadline := time.Now().Add(time.Second)
waiting:
	for s.counters.sessions.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			break waiting
		case <-wait.C:
		}
	}
	// Stop the loops even when ctx has expired: Run must return.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.eng.Stop(stopCtx); err != nil {
		return fmt.Errorf("engine: stop: %w", err)
	}
	return ctx.Err()
}

// Broadcast hands m to every loop with members in room. It takes over the
// caller's reference to m.
//
// The read lock is held while the message is queued, so an upgrade hand-over
// (which takes the write lock) sees each broadcast entirely before or after.
func (s *Server) Broadcast(room string, m Message) {
	s.roomMu.RLock()
	defer s.roomMu.RUnlock()
	mask := s.roomShards[room]
	if mask == 0 {
		m.Release()
		return
	}
	shards := *s.shards.Load()
	targets := 0
	for i := range shards {
		if mask&(1<<uint(i)) != 0 {
			targets++
		}
	}
	if targets > 1 {
		m.Retain(int32(targets - 1))
	}
	for i, sh := range shards {
		if mask&(1<<uint(i)) != 0 {
			sh.enqueue(room, m, nil, false)
		}
	}
}

// Stats is a snapshot of the server's gauges.
type Stats struct {
	Sessions  int64 // open Engine.IO sessions (clients)
	Sockets   int64 // connected Socket.IO sockets
	WebSocket int64 // sessions on WebSocket
	Polling   int64 // sessions on HTTP long-polling
	Rooms     int   // rooms with members
}

// Stats returns the current gauges.
func (s *Server) Stats() Stats {
	s.roomMu.RLock()
	rooms := len(s.roomShards)
	s.roomMu.RUnlock()
	return Stats{
		Sessions:  s.counters.sessions.Load(),
		Sockets:   s.counters.sockets.Load(),
		WebSocket: s.counters.websocket.Load(),
		Polling:   s.counters.polling.Load(),
		Rooms:     rooms,
	}
}

// Queued returns the broadcasts waiting in the loops' queues and their
// frame bytes (a broadcast queued on several loops counts once per loop).
func (s *Server) Queued() (messages, bytes int) {
	for _, sh := range *s.shards.Load() {
		sh.qmu.Lock()
		messages += sh.queue.msgs
		bytes += sh.queue.bytes
		sh.qmu.Unlock()
	}
	return messages, bytes
}

// Counters sums the per-loop counters and adds the acceptor's.
func (s *Server) Counters() Counters {
	var total Counters
	for _, sh := range *s.shards.Load() {
		total.add(&sh.counters)
	}
	total.AcceptShed = s.acc.shed.Load()
	return total
}

// markRoom records that shard idx gained (on) or lost (!on) its members in
// room, and tells Config.RoomDemand when the room gains its first loop or
// loses its last one. (The hand-over in upgrade.go adds a loop to rooms
// that already have one, so it never changes demand.)
func (s *Server) markRoom(room string, idx int, on bool) {
	s.roomMu.Lock()
	defer s.roomMu.Unlock()
	was := s.roomShards[room]
	mask := was
	if on {
		mask |= 1 << uint(idx)
	} else {
		mask &^= 1 << uint(idx)
	}
	if mask == 0 {
		delete(s.roomShards, room)
	} else {
		s.roomShards[room] = mask
	}
	if demand := s.cfg.RoomDemand; demand != nil && (was == 0) != (mask == 0) {
		demand(room, mask != 0)
	}
}

// RoomNames returns up to limit names of rooms with members, and the total
// number of such rooms. Safe from any goroutine.
func (s *Server) RoomNames(limit int) ([]string, int) {
	s.roomMu.RLock()
	defer s.roomMu.RUnlock()
	names := make([]string, 0, min(limit, len(s.roomShards)))
	for name := range s.roomShards {
		if len(names) == limit {
			break
		}
		names = append(names, name)
	}
	return names, len(s.roomShards)
}

// nowMS is the server clock for timers: milliseconds since start.
func (s *Server) nowMS() int64 { return time.Since(s.start).Milliseconds() }

// shardFor returns the shard of loop, creating it on the loop's first
// connection. Called on that loop.
func (s *Server) shardFor(loop gnet.EventLoop) *shard {
	for _, sh := range *s.shards.Load() {
		if sh.loop == loop {
			return sh
		}
	}
	s.shardsMu.Lock()
	defer s.shardsMu.Unlock()
	old := *s.shards.Load()
	sh := newShard(s, loop, len(old))
	next := append(append([]*shard{}, old...), sh)
	s.shards.Store(&next)
	return sh
}

// addPollingSession makes a polling session's sid known. (Sessions born on
// WebSocket are never looked up by sid, and idle connections should not pay
// for an entry.)
func (s *Server) addPollingSession(ss *session) {
	s.sessMu.Lock()
	s.sessions[ss.sid] = ss
	s.sessMu.Unlock()
}

// forgetSession drops a closed session's sid.
func (s *Server) forgetSession(ss *session) {
	s.sessMu.Lock()
	if s.sessions[ss.sid] == ss {
		delete(s.sessions, ss.sid)
	}
	s.sessMu.Unlock()
}

// forgetSessionAfter drops a closed session's sid after delayMS, on its
// loop's timer; a polling client may still come to collect the close.
func (s *Server) forgetSessionAfter(ss *session, delayMS int64) {
	ss.sh.timers.schedule(ss, s.nowMS()+delayMS)
}

// pollingSessionsOf returns the open polling sessions owned by sh.
func (s *Server) pollingSessionsOf(sh *shard) []*session {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	var out []*session
	for _, ss := range s.sessions {
		if ss.sh == sh && !ss.closed {
			out = append(out, ss)
		}
	}
	return out
}

func (s *Server) lookupSession(sid string) *session {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	return s.sessions[sid]
}

// gnetHandler adapts gnet's callbacks to the server.
type gnetHandler struct {
	gnet.BuiltinEventEngine
	srv *Server
}

func (h *gnetHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.srv.eng = eng
	close(h.srv.booted)
	return gnet.None
}

func (h *gnetHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if h.srv.stopping.Load() {
		return nil, gnet.Close
	}
	sh := h.srv.shardFor(c.EventLoop())
	cn := &conn{gc: c, sh: sh}
	c.SetContext(cn)
	sh.trackHTTP(cn)
	sh.counters.Accepted.Add(1)
	h.srv.acc.connOpened()
	return nil, gnet.None
}

func (h *gnetHandler) OnTraffic(c gnet.Conn) gnet.Action {
	cn, ok := c.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	return cn.onTraffic()
}

func (h *gnetHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	if cn, ok := c.Context().(*conn); ok {
		cn.onClose(err)
	}
	return gnet.None
}

// catchUpTick is the tick period while a loop has more timers due than one
// task handles (timerBatch), or a drain waiting for its readers.
const catchUpTick = time.Millisecond

// OnTick runs on gnet's ticker goroutine: it only schedules each loop's
// timer task.
func (h *gnetHandler) OnTick() (time.Duration, gnet.Action) {
	srv := h.srv
	behind := false
	for _, sh := range *srv.shards.Load() {
		behind = behind || sh.behind.Load() || sh.waiting.Load()
		sh.scheduleTick()
	}
	if behind {
		return catchUpTick, gnet.None
	}
	if since := srv.nowMS() - srv.lastUpgrade.Load(); since <= srv.cfg.UpgradeTimeout.Milliseconds()+upgradeNoopPeriod {
		return srv.fineTick, gnet.None
	}
	return srv.tick, gnet.None
}

// gnetLogger routes gnet's logs into slog, so nothing goes to stdout, and
// keeps its last errors in errs.
type gnetLogger struct {
	l    *slog.Logger
	errs *recentErrors
}

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Info(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.error(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.error(fmt.Sprintf(f, a...)) }

func (g gnetLogger) error(msg string) {
	g.errs.add(msg)
	g.l.Error(msg, "component", "gnet")
}

// recentErrors keeps the last few error messages: when gnet stops on its
// own it logs the cause first and then the consequences ("main reactor is
// exiting…", "engine is being shutdown…"), all of which Run reports.
type recentErrors struct {
	mu   sync.Mutex
	msgs []string // oldest first, at most maxRecentErrors
}

// maxRecentErrors is how many messages recentErrors keeps: gnet logs up to
// four lines from a failure to the end of Run.
const maxRecentErrors = 4

func (r *recentErrors) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) == maxRecentErrors {
		r.msgs = append(r.msgs[:0], r.msgs[1:]...)
	}
	r.msgs = append(r.msgs, msg)
}

// String joins the messages, oldest first.
func (r *recentErrors) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "; ")
}

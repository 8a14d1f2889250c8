package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notify-wss/notify-wss/bench/internal/hist"
	"github.com/notify-wss/notify-wss/bench/internal/jwtmint"
	"github.com/notify-wss/notify-wss/bench/internal/wire"
	"github.com/notify-wss/notify-wss/eio"
)

// Loop tuning.
const (
	// readBufSize is the per-loop read buffer: one read(2) per readiness
	// event takes at most this much. 64 KB holds ~200 coalesced deliveries.
	readBufSize = 64 << 10
	// epollBatch is how many events one epoll_wait returns at most.
	epollBatch = 512
	// pollTimeoutMS bounds how long a loop sleeps while it has timers to run
	// (handshakes in flight, churn); idleTimeoutMS when it has none.
	// Commands do not wait for either: they wake the loop via its eventfd.
	pollTimeoutMS = 10
	idleTimeoutMS = 250
	// tickEvery is the period of that housekeeping.
	tickEvery = 10 * time.Millisecond
	// tokenTTL is the lifetime of minted tokens; longer than any run.
	tokenTTL = 24 * time.Hour
)

// errTimeout fails a handshake that took longer than the configured limit.
var errTimeout = errors.New("handshake timed out")

// joinKind is one room a client asks for after CONNECT.
type joinKind uint8

const (
	joinGlobal  joinKind = iota // join-global-notifications
	joinUser                    // join-user-notifications <own id> (explicit)
	joinChannel                 // join-channel-notifications ch<idx % channels>
)

// loop is one epoll event loop and the connections it owns. Everything but
// the atomic counters is touched only by the loop's goroutine; other
// goroutines reach it through call.
type loop struct {
	id      int
	epfd    int
	wakefd  int     // eventfd that interrupts epoll_wait when a command is queued
	conns   []*conn // by fd
	buf     []byte
	scratch []byte
	// inflatedBy maps compressed payloads received to their inflated
	// packets: every member gets the same bytes for one broadcast
	// (no context takeover), and the generator inflates each once, so
	// that its CPU, on the cores it shares with the server, does not
	// become what the benchmark measures.
	inflatedBy map[string][]byte

	src      [4]byte
	targets  []*unix.SockaddrInet4
	upgrade  [][]byte // pre-built upgrade request per target
	pong     []byte
	joins    []joinKind
	channels int
	minter   *jwtmint.Minter
	timeout  time.Duration
	recover  bool // keep the clients' recovery offsets (recovery.go)

	clients     []*conn // every client this loop owns, by role order
	pending     []*conn // handshakes in flight
	dialQ       []*conn
	dialAt      int // next position in dialQ
	maxInflight int

	cmds chan func(*loop)
	quit bool

	// Counters read by the worker from any goroutine.
	ready, failed, closed    atomic.Int64
	pings, delivered, warmed atomic.Int64
	churnCycles, churnFailed atomic.Int64
	slowClosed               atomic.Int64

	connHist  *hist.Hist
	churnHist *hist.Hist
	pingFirst *hist.Hist // open packet → first ping
	pingGap   *hist.Hist // ping → next ping
	errs      map[string]int64
	closes    map[string]int64
	foreign   int64 // notifications that are not benchmark messages

	ph              phase
	churn           churnState
	cut             cutState
	churnReady      []*conn // ready churn clients, oldest first
	churnIdle       []*conn // churn slots free to dial
	lastTick        int64
	lastTimeoutScan int64
}

// loopConfig is what a loop needs from its worker.
type loopConfig struct {
	id       int
	src      [4]byte
	targets  []string
	joins    []joinKind
	channels int
	secret   string
	deflate  bool
	recover  bool
	timeout  time.Duration
	maxFD    int
}

// maxInflateCache bounds inflatedBy; past it the map starts over.
const maxInflateCache = 4096

// inflate returns the packet a compressed frame's payload holds.
func (l *loop) inflate(z []byte) ([]byte, error) {
	if p, ok := l.inflatedBy[string(z)]; ok {
		return p, nil
	}
	p, err := eio.Inflate(nil, z, wire.MaxFramePayload)
	if err != nil {
		return nil, err
	}
	if l.inflatedBy == nil || len(l.inflatedBy) >= maxInflateCache {
		l.inflatedBy = make(map[string][]byte)
	}
	l.inflatedBy[string(z)] = p
	return p, nil
}

func newLoop(cfg loopConfig) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loadgen: epoll_create: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("loadgen: eventfd: %w", err)
	}
	l := &loop{
		id: cfg.id, epfd: epfd, wakefd: wakefd,
		conns:   make([]*conn, cfg.maxFD),
		buf:     make([]byte, readBufSize),
		scratch: make([]byte, 0, 1024),
		src:     cfg.src, joins: cfg.joins, channels: cfg.channels,
		minter:   jwtmint.New(cfg.secret, tokenTTL),
		timeout:  cfg.timeout,
		recover:  cfg.recover,
		cmds:     make(chan func(*loop), 64),
		connHist: hist.New(), churnHist: hist.New(), pingFirst: hist.New(), pingGap: hist.New(),
		errs: map[string]int64{}, closes: map[string]int64{},
		pong: wire.AppendClientText(nil, "3"),
	}
	for _, t := range cfg.targets {
		sa, err := sockaddr(t)
		if err != nil {
			return nil, err
		}
		l.targets = append(l.targets, sa)
		l.upgrade = append(l.upgrade, wire.AppendUpgradeRequest(nil, t, cfg.deflate))
	}
	if err := l.ctl(unix.EPOLL_CTL_ADD, wakefd, unix.EPOLLIN); err != nil {
		return nil, fmt.Errorf("loadgen: watch eventfd: %w", err)
	}
	return l, nil
}

// ctl is epoll_ctl for fd with the given events.
func (l *loop) ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, op, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// call runs f on the loop and waits for it to finish. Safe from any goroutine.
func (l *loop) call(f func(*loop)) {
	done := make(chan struct{})
	l.cmds <- func(l *loop) { f(l); close(done) }
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(l.wakefd, one[:])
	<-done
}

// run is the loop's goroutine. It returns after a command sets quit.
func (l *loop) run() {
	events := make([]unix.EpollEvent, epollBatch)
	for !l.quit {
		timeout := idleTimeoutMS
		if len(l.pending) > 0 || l.churn.on || l.cut.on || len(l.cut.redial) > 0 || l.dialAt < len(l.dialQ) {
			timeout = pollTimeoutMS
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err != nil && err != unix.EINTR {
			panic(fmt.Sprintf("loadgen: epoll_wait: %v", err))
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			ev := events[i].Events
			if fd == l.wakefd {
				var b [8]byte
				_, _ = unix.Read(l.wakefd, b[:])
				continue
			}
			c := l.conns[fd]
			if c == nil {
				continue
			}
			if ev&unix.EPOLLOUT != 0 {
				c.onWritable()
			}
			if c.fd == fd && ev&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				c.onReadable()
			}
		}
		l.runCommands()
		l.dialMore()
		if now := nowNano(); now-l.lastTick >= int64(tickEvery) {
			l.lastTick = now
			l.tick(now)
		}
	}
}

func (l *loop) runCommands() {
	for {
		select {
		case f := <-l.cmds:
			f(l)
		default:
			return
		}
	}
}

// enqueue adds clients to the dial queue.
func (l *loop) enqueue(cs ...*conn) { l.dialQ = append(l.dialQ, cs...) }

// dialMore starts queued dials while fewer than maxInflight are in flight.
func (l *loop) dialMore() {
	for l.dialAt < len(l.dialQ) && len(l.pending) < l.maxInflight {
		c := l.dialQ[l.dialAt]
		l.dialQ[l.dialAt] = nil
		l.dialAt++
		l.pend(c)
		c.start()
	}
	if l.dialAt == len(l.dialQ) {
		l.dialQ, l.dialAt = l.dialQ[:0], 0
	}
}

func (l *loop) pend(c *conn) {
	c.pend = len(l.pending)
	l.pending = append(l.pending, c)
}

func (l *loop) unpend(c *conn) {
	i := c.pend
	if i < 0 {
		return
	}
	last := len(l.pending) - 1
	l.pending[i] = l.pending[last]
	l.pending[i].pend = i
	l.pending[last] = nil
	l.pending = l.pending[:last]
	c.pend = -1
}

// tick runs the timers: churn and handshake time-outs.
func (l *loop) tick(now int64) {
	l.churnTick(now)
	l.cutTick(now)
	if now-l.lastTimeoutScan < int64(100*time.Millisecond) {
		return
	}
	l.lastTimeoutScan = now
	for i := len(l.pending) - 1; i >= 0; i-- {
		if c := l.pending[i]; now-c.dialAt > int64(l.timeout) {
			c.fail(errTimeout)
		}
	}
}

// connectFrame builds the Socket.IO CONNECT frame carrying c's token.
func (l *loop) connectFrame(c *conn) []byte {
	ch := ""
	if l.channels > 0 {
		ch = "ch" + strconv.Itoa(c.idx%l.channels)
	}
	tok, err := l.minter.Mint(userID(c.idx), "Bench user "+strconv.Itoa(c.idx), ch)
	if err != nil {
		panic(err) // encoding a fixed struct cannot fail
	}
	auth := `40{"token":"` + tok + `"`
	if c.recovering && c.pid != "" {
		auth += `,"pid":"` + c.pid + `","offset":"` + string(c.offset) + `"`
	}
	l.scratch = wire.AppendClientText(l.scratch[:0], auth+"}")
	return l.scratch
}

// joinFrame builds the EVENT frame that asks for room j.
func (l *loop) joinFrame(c *conn, j joinKind) []byte {
	var ev string
	switch j {
	case joinGlobal:
		ev = `42["join-global-notifications"]`
	case joinUser:
		ev = `42["join-user-notifications","` + userID(c.idx) + `"]`
	case joinChannel:
		ev = `42["join-channel-notifications","ch` + strconv.Itoa(c.idx%max(l.channels, 1)) + `"]`
	}
	l.scratch = wire.AppendClientText(l.scratch[:0], ev)
	return l.scratch
}

// maxErrKinds bounds the distinct error strings kept per loop.
const maxErrKinds = 32

func (l *loop) countErr(s string) { countInto(l.errs, s) }

func (l *loop) countClose(s string) { countInto(l.closes, s) }

func countInto(m map[string]int64, s string) {
	if _, ok := m[s]; !ok && len(m) >= maxErrKinds {
		s = "other"
	}
	m[s]++
}

// closeAll resets every connection (RST, no TIME_WAIT) and stops the loop.
func (l *loop) closeAll() {
	for _, c := range l.clients {
		c.release(true)
	}
	l.quit = true
	unix.Close(l.wakefd)
	unix.Close(l.epfd)
}

// nowNano is the wall clock in unix ns, the clock the publisher stamps with.
func nowNano() int64 { return time.Now().UnixNano() }

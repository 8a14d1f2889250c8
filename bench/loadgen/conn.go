package loadgen

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/notify-wss/notify-wss/bench/internal/wire"
)

// Connection states, in the order a client goes through them.
const (
	stIdle       uint8 = iota // not dialled yet, or waiting to be re-dialled
	stDialing                 // TCP connect in progress
	stUpgrading               // upgrade request sent, waiting for 101
	stOpening                 // 101 received, waiting for the open packet
	stConnecting              // CONNECT with token sent, waiting for 40{sid}
	stReady                   // Socket.IO connected, rooms requested
	stFailed                  // handshake failed; counted in failures
	stClosed                  // closed after being ready
)

// Roles of a client within a scenario.
const (
	roleStable uint8 = iota // measured: connects once, stays
	roleChurn               // cycles connect/disconnect, not measured for loss
)

// Close reasons recorded when a ready connection ends, by the server or by us.
const (
	reasonEOF        = "server closed TCP"
	reasonCloseFrame = "server sent WS close"
	reasonSIODisc    = "server sent SIO disconnect"
	reasonReadErr    = "read error"
	reasonWriteErr   = "write error"
)

var errAuth = errors.New("connect refused by server (44)")

// conn is one client. It is owned by one loop and touched only by it.
type conn struct {
	l      *loop
	fd     int
	idx    int // global client index: user "u<idx>"
	role   uint8
	state  uint8
	target int // index into the worker's targets
	pend   int // position in l.pending while handshaking, else -1

	in  []byte // unparsed bytes kept between reads (partial frames)
	out []byte // bytes the socket did not take yet

	dialAt  int64 // unix ns when the TCP connect started
	openAt  int64 // unix ns when the Engine.IO open packet arrived
	pingAt  int64 // unix ns of the last heartbeat
	readyAt int64 // unix ns when CONNECT was acknowledged

	// Phase bookkeeping (see phase.go).
	next     int64 // next expected Seq
	recv     int64 // deliveries in this phase
	dups     int64 // Seq below next
	gaps     int64 // Seq skipped
	warm     bool  // got a warm-up message: room membership confirmed
	measured bool  // counted by the current phase
	pings    int64 // heartbeats answered
	slow     bool  // designated slow consumer
	pause    bool  // slow consumer currently not reading

	// Connection state recovery (recovery.go): the socket id and pid of
	// the last CONNECT reply that had a pid, the offset of the last event
	// received, and whether the client was cut and is coming back.
	sid, pid   string
	offset     []byte
	recovering bool
	cutAt      int64 // unix ns of the cut
}

// start dials c. On error c is marked failed.
func (c *conn) start() {
	l := c.l
	c.state = stDialing
	c.dialAt = nowNano()
	c.in, c.out = c.in[:0], c.out[:0]
	if !c.recovering { // a cut client keeps its books across the cut
		c.next, c.recv, c.dups, c.gaps, c.warm = 0, 0, 0, 0, false
	}
	fd, err := dialNonblock(l.src, l.targets[c.target])
	if err != nil {
		c.fd = -1
		c.fail(err)
		return
	}
	c.fd = fd
	l.conns[fd] = c
	if err := l.ctl(unix.EPOLL_CTL_ADD, fd, unix.EPOLLOUT); err != nil {
		c.fail(err)
	}
}

// onWritable handles EPOLLOUT: the end of a connect, or room in the socket
// for pending output.
func (c *conn) onWritable() {
	if c.state == stDialing {
		errno, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && errno != 0 {
			err = fmt.Errorf("connect: %w", unix.Errno(errno))
		}
		if err != nil {
			c.fail(err)
			return
		}
		c.state = stUpgrading
		_ = c.l.ctl(unix.EPOLL_CTL_MOD, c.fd, unix.EPOLLIN)
		c.write(c.l.upgrade[c.target])
		return
	}
	c.flush()
}

// write sends b now, or queues what the socket does not take.
func (c *conn) write(b []byte) {
	if c.fd < 0 {
		return
	}
	if len(c.out) > 0 {
		c.out = append(c.out, b...)
		return
	}
	n, err := unix.Write(c.fd, b)
	if err != nil && err != unix.EAGAIN {
		c.lost(reasonWriteErr, err)
		return
	}
	n = max(n, 0)
	if n < len(b) {
		c.out = append(c.out[:0], b[n:]...)
		_ = c.l.ctl(unix.EPOLL_CTL_MOD, c.fd, unix.EPOLLIN|unix.EPOLLOUT)
	}
}

// flush writes queued output and stops watching EPOLLOUT once it is gone.
func (c *conn) flush() {
	if len(c.out) == 0 {
		return
	}
	n, err := unix.Write(c.fd, c.out)
	if err != nil && err != unix.EAGAIN {
		c.lost(reasonWriteErr, err)
		return
	}
	n = max(n, 0)
	c.out = c.out[:copy(c.out, c.out[n:])]
	if len(c.out) == 0 {
		_ = c.l.ctl(unix.EPOLL_CTL_MOD, c.fd, unix.EPOLLIN)
	}
}

// onReadable does one read(2) into the loop's buffer and handles every
// complete frame in it.
func (c *conn) onReadable() {
	l := c.l
	n, err := unix.Read(c.fd, l.buf)
	if n > 0 {
		now := nowNano()
		data := l.buf[:n]
		inBuf := len(c.in) > 0
		if inBuf {
			c.in = append(c.in, data...)
			data = c.in
		}
		used := c.process(data, now)
		if c.fd < 0 {
			return
		}
		switch rest := data[used:]; {
		case len(rest) == 0:
			c.in = c.in[:0]
			if cap(c.in) > maxKeptInbound {
				c.in = nil
			}
		case inBuf:
			c.in = c.in[:copy(c.in, rest)]
		default:
			c.in = append(c.in[:0], rest...)
		}
		return
	}
	switch {
	case n == 0 && err == nil:
		c.lost(reasonEOF, nil)
	case err == unix.EAGAIN || err == unix.EINTR:
	default:
		c.lost(reasonReadErr, err)
	}
}

// maxKeptInbound is the largest partial-frame buffer a connection keeps
// once drained; bigger ones (after a rare large burst) go back to the GC.
const maxKeptInbound = 64 << 10

// process handles the upgrade response and every complete frame at the start
// of data, and returns how many bytes it consumed.
func (c *conn) process(data []byte, now int64) int {
	off := 0
	if c.state == stUpgrading {
		head, status, err := wire.ParseUpgradeResponse(data)
		if err != nil {
			c.fail(err)
			return 0
		}
		if head == 0 {
			return 0
		}
		if status != 101 {
			c.fail(fmt.Errorf("upgrade refused: HTTP %d", status))
			return 0
		}
		off = head
		c.state = stOpening
	}
	for off < len(data) {
		h, ok, err := wire.ParseHeader(data[off:])
		if err != nil {
			c.lost(reasonReadErr, err)
			return off
		}
		end := off + h.HeadLen + h.Length
		if !ok || end > len(data) {
			break
		}
		payload := data[off+h.HeadLen : end]
		if h.Masked {
			wire.Unmask(payload, h.Mask) // consumed now, so in place is safe
		}
		off = end
		switch h.Opcode {
		case wire.OpText:
			if h.Rsv1 {
				if payload, err = c.l.inflate(payload); err != nil {
					c.lost(reasonReadErr, err)
					return off
				}
			}
			c.onPacket(payload, now)
		case wire.OpClose:
			c.lost(reasonCloseFrame, nil)
		case wire.OpPing:
			c.write(wire.AppendClientFrame(c.l.scratch[:0], wire.OpPong, payload))
		}
		if c.fd < 0 {
			return off
		}
	}
	return off
}

// onPacket handles one Engine.IO text packet.
func (c *conn) onPacket(p []byte, now int64) {
	l := c.l
	switch wire.Classify(p) {
	case wire.KindOpen:
		if c.state == stOpening {
			c.state = stConnecting
			c.openAt, c.pingAt = now, 0
			c.write(l.connectFrame(c))
		}
	case wire.KindPing:
		c.pings++
		l.pings.Add(1)
		if c.pingAt == 0 {
			l.pingFirst.Record(now - c.openAt)
		} else {
			l.pingGap.Record(now - c.pingAt)
		}
		c.pingAt = now
		c.write(l.pong)
	case wire.KindConnect:
		if c.state == stConnecting {
			sid := c.connectReply(p)
			again := c.recovering
			if again {
				l.reconnected(c, sid, now)
			}
			c.ready(now, again)
		}
	case wire.KindConnectError:
		c.fail(errAuth)
	case wire.KindDisconnect:
		c.lost(reasonSIODisc, nil)
	case wire.KindNotification:
		if d, ok := wire.ParseDelivery(p); ok {
			l.deliver(c, d, now)
		} else {
			l.foreign++
		}
		c.noteOffset(p)
	case wire.KindEvent: // "connected", with an offset when recovery is on
		c.noteOffset(p)
	}
}

// ready completes the handshake: record the connect time, then ask for
// rooms. again is a cut client coming back (recovery.go): not counted as a
// new connection.
func (c *conn) ready(now int64, again bool) {
	l := c.l
	c.state = stReady
	c.readyAt = now
	l.unpend(c)
	switch {
	case again:
	case c.role == roleChurn:
		l.churnHist.Record(now - c.dialAt)
		l.churnReady = append(l.churnReady, c)
		l.churnCycles.Add(1)
	default:
		l.connHist.Record(now - c.dialAt)
		l.ready.Add(1)
	}
	for _, j := range l.joins {
		c.write(l.joinFrame(c, j))
	}
}

// fail ends a connection that never became ready.
func (c *conn) fail(err error) {
	l := c.l
	c.state = stFailed
	l.unpend(c)
	l.countErr(err.Error())
	c.release(false)
	if c.role == roleChurn {
		l.churnFailed.Add(1)
		l.churnIdle = append(l.churnIdle, c)
	} else {
		l.failed.Add(1)
	}
}

// lost ends a connection for reason. Before ready it is a handshake failure.
func (c *conn) lost(reason string, err error) {
	if c.state != stReady {
		if err == nil {
			err = errors.New(reason)
		}
		c.fail(err)
		return
	}
	l := c.l
	c.state = stClosed
	if err != nil {
		reason += ": " + err.Error()
	}
	if c.slow {
		reason = "slow client (expected): " + reason
	}
	l.countClose(reason)
	c.release(false)
	switch {
	case c.role == roleChurn:
		l.churnIdle = append(l.churnIdle, c)
	case c.slow:
		l.slowClosed.Add(1)
	default:
		l.closed.Add(1)
	}
}

// release closes the socket (with RST if reset) and forgets the fd.
func (c *conn) release(reset bool) {
	if c.fd < 0 {
		return
	}
	c.l.conns[c.fd] = nil
	if reset {
		closeReset(c.fd)
	} else {
		unix.Close(c.fd)
	}
	c.fd = -1
	c.in, c.out = nil, nil
}

// userID is the benchmark user of client idx.
func userID(idx int) string { return "u" + strconv.Itoa(idx) }

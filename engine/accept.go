package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// What happens when accept(2) fails.
//
// gnet v2.9.7 treats every accept error but EAGAIN, EINTR, ECONNRESET and
// ECONNABORTED as fatal: the main reactor (or, with ReusePort, the loop)
// exits and the whole engine stops, every connection closed. One flood
// past RLIMIT_NOFILE (EMFILE) took the service down. The build therefore
// uses a patched gnet (third_party/gnet, see its PATCHES.md) that asks
// Options.AcceptErrorHandler instead, and this file is that handler:
//
//   - ECONNRESET, ECONNABORTED (a peer gave up while queued): counted,
//     accept the next one at once, as gnet always did.
//   - A broken listener (EBADF, EINVAL, ENOTSOCK, EOPNOTSUPP, EFAULT):
//     accepting cannot succeed again, so the engine stops and Run returns
//     ErrStopped (the process exits non-zero and is restarted).
//   - Anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM, EPERM from a
//     firewall, ...): keep serving the open connections and stop polling
//     that listener for a while, acceptBackoffMin doubling up to
//     acceptBackoffMax, then try again.
//   - Out of descriptors (EMFILE, ENFILE) the backlog is shed first: the
//     acceptor closes a reserve descriptor it holds for this, accepts every
//     queued connection, answers it 503 and closes it, and takes the
//     reserve again. Waiting clients are told at once to come back instead
//     of timing out in the backlog.
//
// Failures are counted by errno (Server.AcceptErrors) and sheds in
// Counters.AcceptShed; a failure is logged at most once per acceptLogInterval
// with the count since the last line, and the first connection opened
// after a pause logs "accepting connections again".

const (
	// acceptBackoffMin is the first pause after a failed accept.
	acceptBackoffMin = 10 * time.Millisecond
	// acceptBackoffMax bounds the pause. A closed connection cannot end
	// gnet's pause early, so this is also how late accepting resumes once
	// descriptors are free; a retry while still short costs one failed
	// accept(2) and a shed of what queued meanwhile.
	acceptBackoffMax = 250 * time.Millisecond
	// acceptBackoffReset is how long a listener must go without a failure
	// for its next pause to start again from acceptBackoffMin.
	acceptBackoffReset = 2 * time.Second
	// acceptLogInterval is the least time between two accept-failure log
	// lines; the failures in between are counted in the next line.
	acceptLogInterval = time.Second
	// maxShed bounds the connections shed in one go, so a flood cannot
	// hold the accepting loop.
	maxShed = 1024
)

// shedResponse answers a connection shed for lack of descriptors.
var shedResponse = []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

// AcceptError classifies failed accepts by errno: the errno label of the
// service's notify_wss_accept_errors_total.
type AcceptError uint8

// Accept error classes.
const (
	AcceptEMFILE       AcceptError = iota // the process is out of descriptors (RLIMIT_NOFILE)
	AcceptENFILE                          // the system is out of descriptors (fs.file-max)
	AcceptENOBUFS                         // the kernel is out of socket buffers
	AcceptENOMEM                          // the kernel is out of memory
	AcceptECONNABORTED                    // a queued connection was reset or aborted by its peer (ECONNRESET too)
	AcceptOther                           // any other errno
	NumAcceptErrors                       // number of classes
)

var acceptErrorNames = [NumAcceptErrors]string{"EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "ECONNABORTED", "other"}

// String returns the errno name, or "other".
func (e AcceptError) String() string {
	if e < NumAcceptErrors {
		return acceptErrorNames[e]
	}
	return "other"
}

// acceptAction is what follows a failed accept.
type acceptAction uint8

const (
	acceptAgain acceptAction = iota // accept the next connection at once
	acceptPause                     // stop accepting for a while
	acceptStop                      // the listener is broken: stop the server
)

// classifyAcceptError returns err's class and what to do about it.
func classifyAcceptError(err error) (AcceptError, acceptAction) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return AcceptOther, acceptPause
	}
	switch errno {
	case unix.EMFILE:
		return AcceptEMFILE, acceptPause
	case unix.ENFILE:
		return AcceptENFILE, acceptPause
	case unix.ENOBUFS:
		return AcceptENOBUFS, acceptPause
	case unix.ENOMEM:
		return AcceptENOMEM, acceptPause
	case unix.ECONNABORTED, unix.ECONNRESET:
		return AcceptECONNABORTED, acceptAgain
	case unix.EBADF, unix.EINVAL, unix.ENOTSOCK, unix.EOPNOTSUPP, unix.EFAULT:
		return AcceptOther, acceptStop
	}
	return AcceptOther, acceptPause
}

// acceptor is the server's gnet AcceptErrorHandler and its state. It is
// called on the accepting loop (the main reactor, or with ReusePort any
// loop); its counters and flags are atomics, the rest is guarded by mu,
// which only failures and the first connection after them take.
type acceptor struct {
	srv *Server

	errs [NumAcceptErrors]atomic.Uint64
	shed atomic.Uint64

	// troubled is set by a failure line and cleared, with an "accepting
	// connections again" line, by the first connection opened after
	// resumeAt (UnixNano), when the last pause ended.
	troubled atomic.Bool
	resumeAt atomic.Int64

	mu           sync.Mutex
	reserve      int                      // descriptor held to make room for shedding, or -1
	pauses       map[int]*listenerBackoff // by listener descriptor
	lastLog      time.Time
	errsSinceLog uint64
	shedSinceLog uint64
}

// listenerBackoff is one listener's pause schedule.
type listenerBackoff struct {
	delay time.Duration // the last pause
	last  time.Time     // the last failure
}

func (a *acceptor) init(srv *Server) {
	a.srv = srv
	a.reserve = -1
	a.pauses = make(map[int]*listenerBackoff)
}

// open takes the reserve descriptor; Run calls it before serving.
func (a *acceptor) open() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reserve >= 0 {
		return nil
	}
	return a.takeReserve()
}

// close releases the reserve; Run calls it once gnet has stopped.
func (a *acceptor) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reserve >= 0 {
		unix.Close(a.reserve)
		a.reserve = -1
	}
}

// handle is gnet's AcceptErrorHandler: it returns 0 to accept again at
// once, a pause, or -1 to stop the engine.
func (a *acceptor) handle(listenerFD int, err error) time.Duration {
	class, action := classifyAcceptError(err)
	a.errs[class].Add(1)
	switch action {
	case acceptAgain:
		return 0
	case acceptStop:
		return -1 // gnet logs err; Run returns ErrStopped
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var shed uint64
	if class == AcceptEMFILE || class == AcceptENFILE {
		shed = a.shedBacklog(listenerFD)
	}
	now := time.Now()
	b := a.pauses[listenerFD]
	if b == nil {
		b = &listenerBackoff{}
		a.pauses[listenerFD] = b
	}
	if now.Sub(b.last) > acceptBackoffReset {
		b.delay = 0
	}
	b.delay = min(max(2*b.delay, acceptBackoffMin), acceptBackoffMax)
	b.last = now
	a.resumeAt.Store(max(a.resumeAt.Load(), now.Add(b.delay).UnixNano()))
	a.logFailure(now, class, err, shed, b.delay)
	return b.delay
}

// shedBacklog answers every connection queued on the listener 503 and
// closes it, in the reserve descriptor's slot. It returns how many it
// shed. Called with mu held.
func (a *acceptor) shedBacklog(listenerFD int) uint64 {
	if a.reserve < 0 {
		_ = a.takeReserve() // lost to another descriptor last time; next time, then
		return 0
	}
	unix.Close(a.reserve)
	a.reserve = -1
	var n uint64
	for n < maxShed {
		nfd, _, err := unix.Accept4(listenerFD, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED || err == unix.ECONNRESET {
			continue
		}
		if err != nil {
			break // EAGAIN: none left; EMFILE: the slot was taken meanwhile
		}
		_, _ = unix.Write(nfd, shedResponse) // best effort: it may not arrive before the close
		unix.Close(nfd)
		n++
	}
	a.shed.Add(n)
	_ = a.takeReserve()
	return n
}

// takeReserve opens the reserve. Any descriptor would do; an eventfd
// needs no file system (the service may run with none it can open) and
// is what Go's and gnet's pollers already use. Called with mu held.
func (a *acceptor) takeReserve() error {
	r, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("engine: reserve descriptor: %w", err)
	}
	a.reserve = r
	return nil
}

// logFailure logs a failed accept, at most once per acceptLogInterval;
// the failures and sheds in between are counted into the next line.
// Called with mu held.
func (a *acceptor) logFailure(now time.Time, class AcceptError, err error, shed uint64, pause time.Duration) {
	a.errsSinceLog++
	a.shedSinceLog += shed
	if now.Sub(a.lastLog) < acceptLogInterval {
		return
	}
	a.srv.log.Error("accept failed; serving open connections, accepting again later",
		"errno", class.String(), "err", err,
		"errors", a.errsSinceLog, "shed", a.shedSinceLog, "pause", pause)
	a.lastLog, a.errsSinceLog, a.shedSinceLog = now, 0, 0
	a.troubled.Store(true)
}

// connOpened is called by OnOpen: the first connection after a failure
// line and its pause logs that accepting works again, with the failures
// and sheds since that line. So a server at its limit, which fails and
// recovers with every freed descriptor, logs at most two lines per
// acceptLogInterval. One atomic load when all is well.
func (a *acceptor) connOpened() {
	if !a.troubled.Load() || time.Now().UnixNano() < a.resumeAt.Load() {
		return
	}
	if !a.troubled.CompareAndSwap(true, false) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.srv.log.Info("accepting connections again", "errors", a.errsSinceLog, "shed", a.shedSinceLog)
	a.errsSinceLog, a.shedSinceLog = 0, 0
}

// AcceptErrors returns how many accepts failed since New, by class
// (index it with AcceptError). Safe from any goroutine.
func (s *Server) AcceptErrors() [NumAcceptErrors]uint64 {
	var out [NumAcceptErrors]uint64
	for i := range out {
		out[i] = s.acc.errs[i].Load()
	}
	return out
}

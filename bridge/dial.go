package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

const (
	// defaultDialTimeout is go-redis' own default, applied here because the
	// bridge installs its own dialer (the URL's dial_timeout still wins).
	defaultDialTimeout = 5 * time.Second
)

// keepAlive mirrors go-redis' TCP keepalive for the connections it dials.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}

// errSessionClosed is returned by the dialer when the session that wanted
// the connection has already ended.
var errSessionClosed = errors.New("bridge: session closed")

// connSet holds the connections dialled for one session so that ending the
// session (ctx cancelled, health check failed) can close them even while
// go-redis holds its PubSub lock in a blocking read, e.g. waiting for the
// reply to the connection handshake from a peer that never answers. go-redis
// reads do not watch ctx; closing the socket is what unblocks them.
type connSet struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// add records c; if the set is already closed it closes c and reports false.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	s.conns = append(s.conns, c)
	return true
}

// remote returns the peer address of the newest recorded connection (the
// subscription's, for logs), or "" when there is none.
func (s *connSet) remote() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return ""
	}
	return s.conns[len(s.conns)-1].RemoteAddr().String()
}

// closeAll closes every recorded connection and any added later.
func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

// dialTimeoutOr returns d, or go-redis' default when the URL left it unset:
// the bridge installs its own dialer, which go-redis would not time out.
func dialTimeoutOr(d time.Duration) time.Duration {
	if d == 0 {
		return defaultDialTimeout
	}
	return d
}

// dialer returns the dial function every client of the bridge uses: TCP
// with keepalive, then TLS when tlsConfig is set, both honouring ctx
// (go-redis' own TLS dial does not, so a cancelled session could wait out
// a TLS handshake with a silent peer).
func dialer(timeout time.Duration, tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := &net.Dialer{Timeout: timeout, KeepAliveConfig: keepAlive}
	if tlsConfig == nil {
		return nd.DialContext
	}
	td := &tls.Dialer{NetDialer: nd, Config: tlsConfig}
	return td.DialContext
}

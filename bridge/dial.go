package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
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

// installDialer makes opts dial through the bridge (TCP with keepalive, TLS
// when the URL is rediss://, both honouring ctx) and record each connection
// in the current session's connSet.
func (b *Bridge) installDialer(opts *redis.Options) {
	if opts.DialTimeout == 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	nd := &net.Dialer{Timeout: opts.DialTimeout, KeepAliveConfig: keepAlive}
	dial := nd.DialContext
	if opts.TLSConfig != nil {
		td := &tls.Dialer{NetDialer: nd, Config: opts.TLSConfig}
		dial = td.DialContext
	}
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if set := b.conns.Load(); set != nil && !set.add(c) {
			return nil, errSessionClosed
		}
		return c, nil
	}
}

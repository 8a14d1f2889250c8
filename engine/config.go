package engine

import (
	"log/slog"
	"runtime"
	"time"
)

// Config configures a Server. Every field's zero value means the default
// written in its comment, so Config{} is a working development setup.
type Config struct {
	// Addr is the listen address, host:port. Zero value means "0.0.0.0:8080".
	Addr string
	// Path is the Engine.IO endpoint; it must end with a slash, as clients
	// always send one. Zero value means "/socket.io/".
	Path string
	// PingInterval is how long after the open packet, and after each pong,
	// the server sends a ping. Zero value means 25s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for a pong before it closes
	// the session. Zero value means 20s.
	PingTimeout time.Duration
	// ConnectTimeout closes a session that has not connected to any
	// namespace in this time. Zero value means 45s.
	ConnectTimeout time.Duration
	// UpgradeTimeout is how long a polling session may take to finish a
	// WebSocket upgrade after the probe. Zero value means 10s.
	UpgradeTimeout time.Duration
	// HTTPIdleTimeout closes a plain HTTP connection (not a WebSocket, not
	// a held long-poll) that has been idle this long, or is still sending
	// its request head: keep-alive connections and slow or stalled clients
	// do not hold sockets forever. Zero value means 30s.
	HTTPIdleTimeout time.Duration
	// Tick is how often the loops run their timers, and so about how late
	// a heartbeat, connect or upgrade deadline may fire. Every tick wakes
	// every loop. Zero value means a twentieth of the shortest of those
	// timings, between 1ms and 1s. The protocol test suites, which check a
	// 500ms ping timeout to the millisecond, need 1ms.
	Tick time.Duration
	// MaxPayload is the largest message (WebSocket) or request body
	// (polling) a client may send, advertised as maxPayload. Zero value
	// means 1,000,000 bytes.
	MaxPayload int
	// MaxOutbound is the per-connection cap on bytes waiting to be written;
	// a connection above it is a slow consumer and is closed. Zero value
	// means 1 MiB.
	MaxOutbound int
	// MaxQueueMessages caps the broadcasts waiting in one event loop's
	// queue (hand-over markers aside). A broadcast that would exceed it
	// sheds the oldest queued one: under a flood the newest notifications
	// win, and the bridge never waits. Zero value means 4096; negative
	// means no cap.
	MaxQueueMessages int
	// MaxQueueBytes caps the frame bytes of the broadcasts waiting in one
	// event loop's queue, shedding the oldest like MaxQueueMessages. Loops
	// share a broadcast's frame, so the server holds at most Loops times
	// this. Zero value means 8 MiB; negative means no cap.
	MaxQueueBytes int
	// MaxQueueAge sheds, when a loop comes to write it, a broadcast that
	// has waited in the loop's queue longer than this: it bounds in time
	// what the caps bound in memory. Zero value means 5s; negative means
	// no limit.
	MaxQueueAge time.Duration
	// SocketSendBuffer sets SO_SNDBUF on accepted sockets, which stops the
	// kernel from hiding megabytes of a stalled peer's backlog from
	// MaxOutbound. Zero value means 256 KiB; negative leaves the kernel's
	// auto-tuning on.
	SocketSendBuffer int
	// CORSOrigins lists the origins allowed by CORS. One entry is returned
	// as is whatever the request's Origin (as the Node cors package does for
	// a string); several are matched against Origin; "*" allows any.
	// Zero value means no CORS headers at all.
	CORSOrigins []string
	// Namespaces lists the Socket.IO namespaces clients may connect to, at
	// most maxNamespaces.
	// Zero value means just "/".
	Namespaces []string
	// Loops is the number of event loops. Zero value means GOMAXPROCS.
	Loops int
	// AllowEIO3 also serves Engine.IO protocol 3 clients (socket.io-client
	// 2.x, older mobile SDKs), as Node's allowEIO3 does: a handshake whose
	// EIO is not 4 opens a protocol 3 session (polling bodies framed
	// "<length>:<packet>", the client pings and the server answers, and the
	// session is connected to "/" at once, with no auth payload: the
	// Handler's Connect gets nil and the credentials are in the query
	// string). Zero value means off: such a handshake gets "Unsupported
	// protocol version".
	AllowEIO3 bool
	// Compression negotiates permessage-deflate (RFC 7692) with WebSocket
	// clients that offer it, always without context takeover in either
	// direction, so that a broadcast is compressed once for every member
	// and no connection keeps a compressor or an inflater: broadcasts of
	// at least CompressionMinBytes go to those clients compressed (when the
	// Message is a Deflater), and compressed client messages are inflated
	// up to MaxPayload. Zero value means off: no offer is accepted.
	Compression bool
	// CompressionMinBytes is the smallest broadcast packet sent compressed
	// to the clients that negotiated it; smaller ones go plain, since
	// compressing them saves a few bytes for much CPU. Zero value means
	// 512 bytes; 1 compresses everything.
	CompressionMinBytes int
	// ReusePort gives each loop its own SO_REUSEPORT listener, so several
	// processes can share one port. Zero value means off.
	ReusePort bool
	// Logger receives the server's and gnet's logs. Zero value means
	// slog.Default().
	Logger *slog.Logger
	// Ready, when set, decides /ready: it returns "" when the server may
	// take traffic, or the reason it may not. Zero value means always ready
	// (until shutdown).
	Ready func() string
	// RawPath, when set, is a second Engine.IO endpoint, e.g. "/engine.io/",
	// whose sessions have no Socket.IO layer (and no connect timeout):
	// each message a client sends there goes to RawMessage. The Engine.IO
	// protocol test suite needs one (cmd/conformance). Zero value means none.
	RawPath string
	// RawMessage handles one message of a RawPath session: text (without
	// the Engine.IO type digit) or binary. data is valid only during the
	// call, which runs on the session's loop. Zero value drops messages.
	RawMessage func(s *RawSession, data []byte, binary bool)
	// HTTPHandler, when set, serves GET requests for paths the engine does
	// not own (for example /health and /metrics). It returns false for paths it does
	// not know either, which get a 404. Called on an event loop.
	HTTPHandler func(path string, w *Response) bool
	// OnWritten, when set, is called on an event loop once per broadcast
	// that loop wrote to (or queued for) at least one member; not when it
	// had none. It is on the delivery path: quick, non-blocking, and it
	// must not keep m.
	OnWritten func(m Message)
	// RoomDemand, when set, is told when a room gains its first member on
	// this server (wanted) and when it loses its last one (!wanted), so
	// that the application can listen to a room's source only while
	// someone here does. Calls for one room come in the order of the
	// changes. It runs on an event loop while the server's room lock is
	// held: it must only record the change and return, and must not call
	// the Server. Rooms of a namespace other than "/" are named
	// "namespace\x00room". Zero value means nobody is told.
	RoomDemand func(room string, wanted bool)
	// RecoveryID, when set, gives every socket of a protocol 4 client a
	// recovery id, sent as "pid" in its CONNECT reply
	// (40{"sid":…,"pid":…}): socket.io-client 4.6 and later then send it
	// back, with the offset of the last event they received, when they
	// reconnect (connection state recovery). A function of the socket id,
	// so that nothing is stored per socket and a recovered socket (same id,
	// SetID) gets the same pid. Called on an event loop. Zero value means
	// no pid.
	RecoveryID func(sid string) string
}

const (
	defaultAddr             = "0.0.0.0:8080"
	defaultPath             = "/socket.io/"
	defaultPingInterval     = 25 * time.Second
	defaultPingTimeout      = 20 * time.Second
	defaultConnectTimeout   = 45 * time.Second
	defaultUpgradeTimeout   = 10 * time.Second
	defaultHTTPIdleTimeout  = 30 * time.Second
	defaultMaxPayload       = 1_000_000
	defaultMaxOutbound      = 1 << 20
	defaultSocketSendBuffer = 256 << 10
	// defaultCompressionMinBytes: below it a notification compresses by
	// a few dozen bytes at most (BENCHMARKS.md, permessage-deflate).
	defaultCompressionMinBytes = 512
	// The queue defaults, from the fanout benchmark (2 loops on 2 cores):
	// a server delivers 1.5–3.8M deliveries/s, that is 80–750 broadcasts/s
	// to every member of a 5,000–19,000 member room. 4096 broadcasts is
	// several seconds of that, so the age bound is what normally sheds, and
	// the count and byte caps bound memory when a flood outruns even that
	// (8 MiB is 4096 frames of 2 KiB).
	defaultMaxQueueMessages = 4096
	defaultMaxQueueBytes    = 8 << 20
	defaultMaxQueueAge      = 5 * time.Second

	// maxHeadBytes is the largest HTTP request head accepted; a larger
	// one is answered 431, as Node does.
	maxHeadBytes = 8 << 10
	// maxNamespaces is how many namespaces a server may have (a socket keeps
	// its namespace as a byte).
	maxNamespaces = 256
	// maxTick bounds the timer period; a shorter one is used when the
	// ping timings are short (tests, the conformance suites).
	maxTick = time.Second
	// upgradeTick is the timer period while an upgrade is under way.
	upgradeTick = 25 * time.Millisecond
)

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = defaultAddr
	}
	if c.Path == "" {
		c.Path = defaultPath
	}
	if c.Path[len(c.Path)-1] != '/' {
		c.Path += "/"
	}
	if c.RawPath != "" && c.RawPath[len(c.RawPath)-1] != '/' {
		c.RawPath += "/"
	}
	if c.PingInterval <= 0 {
		c.PingInterval = defaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = defaultPingTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = defaultConnectTimeout
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = defaultUpgradeTimeout
	}
	if c.HTTPIdleTimeout <= 0 {
		c.HTTPIdleTimeout = defaultHTTPIdleTimeout
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = defaultMaxPayload
	}
	if c.MaxOutbound <= 0 {
		c.MaxOutbound = defaultMaxOutbound
	}
	if c.MaxQueueMessages == 0 {
		c.MaxQueueMessages = defaultMaxQueueMessages
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = defaultMaxQueueBytes
	}
	if c.MaxQueueAge == 0 {
		c.MaxQueueAge = defaultMaxQueueAge
	}
	if c.CompressionMinBytes <= 0 {
		c.CompressionMinBytes = defaultCompressionMinBytes
	}
	if c.SocketSendBuffer == 0 {
		c.SocketSendBuffer = defaultSocketSendBuffer
	}
	if len(c.Namespaces) == 0 {
		c.Namespaces = []string{"/"}
	}
	if c.Loops <= 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// tick returns how often the loops run their timers: Tick when set, else a
// twentieth of the shortest timing, between a millisecond and maxTick.
// Every tick wakes every loop (and, with them, the Go scheduler's monitor),
// so an idle server should tick rarely; with the default timings it ticks
// twice a second.
func (c Config) tick() time.Duration {
	if c.Tick > 0 {
		return max(c.Tick, time.Millisecond)
	}
	t := min(c.PingTimeout, c.PingInterval, c.UpgradeTimeout, c.ConnectTimeout) / 20
	return max(min(t, maxTick), time.Millisecond)
}

// fineTick is the timer wheel's granularity, and the tick used while an
// upgrade is under way: its noop checks come every upgradeNoopPeriod.
func (c Config) fineTick() time.Duration { return min(c.tick(), upgradeTick) }

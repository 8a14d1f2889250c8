package engine

// CloseReason says why a session or a socket ended. Its String is stable:
// the handler's Disconnect receives it, logs print it and the
// notify_wss_disconnects_total metric labels by it, so a dashboard and a
// log line name the same thing. The first ones are engine.io's and
// socket.io's own words, which Node users know from their disconnect
// handlers.
type CloseReason uint8

// The reasons a session or socket ends.
const (
	// CloseTransportClose: the client closed the transport (WebSocket close
	// frame, Engine.IO close packet, or the TCP connection went away).
	CloseTransportClose CloseReason = iota
	// CloseTransportError: the transport broke the protocol (bad framing,
	// a message over maxPayload, overlapping polling requests).
	CloseTransportError
	// CloseParseError: an Engine.IO packet that does not parse.
	CloseParseError
	// ClosePingTimeout: no pong within PingTimeout.
	ClosePingTimeout
	// CloseForced: the server ended the session because of the client's
	// Socket.IO traffic (an undecodable packet, an event for a namespace it
	// is not connected to), as socket.io's conn.close() does.
	CloseForced
	// CloseConnectTimeout: no CONNECT within ConnectTimeout.
	CloseConnectTimeout
	// CloseShutdown: the server is shutting down or draining.
	CloseShutdown
	// CloseSlowConsumer: the connection's unsent backlog passed MaxOutbound.
	CloseSlowConsumer
	// CloseTokenExpired: the application ended the session because the
	// credentials it was opened with expired (Socket.CloseTransport).
	CloseTokenExpired
	// CloseClientNamespace: the client disconnected the socket from its
	// namespace (Socket.IO DISCONNECT); the session may go on.
	CloseClientNamespace
	// CloseServerNamespace: the application disconnected the socket
	// (Socket.Disconnect).
	CloseServerNamespace

	// NumCloseReasons is the number of reasons, for arrays indexed by them.
	NumCloseReasons = iota
)

var closeReasonNames = [NumCloseReasons]string{
	CloseTransportClose:  "transport close",
	CloseTransportError:  "transport error",
	CloseParseError:      "parse error",
	ClosePingTimeout:     "ping timeout",
	CloseForced:          "forced close",
	CloseConnectTimeout:  "connect timeout",
	CloseShutdown:        "server shutting down",
	CloseSlowConsumer:    "slow consumer",
	CloseTokenExpired:    "token expired",
	CloseClientNamespace: "client namespace disconnect",
	CloseServerNamespace: "server namespace disconnect",
}

// String returns the reason's stable name, e.g. "ping timeout".
func (r CloseReason) String() string {
	if int(r) < len(closeReasonNames) {
		return closeReasonNames[r]
	}
	return "unknown"
}

// serverInitiated reports whether the server decided to end the session
// for a reason of its own (not a broken or closed transport): a polling
// client then still gets its close packet on its next GET.
func (r CloseReason) serverInitiated() bool {
	switch r {
	case CloseForced, CloseConnectTimeout, CloseShutdown, CloseTokenExpired:
		return true
	}
	return false
}

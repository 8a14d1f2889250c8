// Package wire is the client side of the wire protocol the benchmark speaks:
// the HTTP/1.1 WebSocket upgrade, RFC 6455 frames (masked from the client,
// unmasked from the server), Engine.IO v4 packets and Socket.IO v5 packets,
// and the benchmark's own notification payload.
//
// Everything here works on byte slices the caller owns and allocates
// nothing on the hot path, so the load generator can parse deliveries straight
// out of its per-loop read buffer. Nothing here is safe for concurrent use of
// the same destination slice; the functions themselves keep no state.
package wire

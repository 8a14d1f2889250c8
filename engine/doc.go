// Package engine is a Socket.IO v5 / Engine.IO v4 server on gnet event
// loops: HTTP/1.1, WebSocket and long-polling transports, heartbeats,
// per-connection state and rooms, and the fan-out of pre-built broadcast
// frames. There is no goroutine per connection. The application on top (see
// package notify) implements Handler; the codecs are in package eio and the
// HTTP head parser in internal/http1.
//
// # Threading model
//
// Three kinds of goroutine touch the engine:
//
//   - The event loops (Config.Loops of them, gnet's). Every gnet callback
//     for a connection (OnOpen, OnTraffic, OnClose) and every task queued
//     with EventLoop.Execute runs on that connection's loop, one at a time.
//     Each loop has a shard (shard.go) that it alone reads and writes: its
//     connections (conn), the sessions it owns (session), their sockets'
//     slots and room bitsets (rooms.Index), its timer wheel (timers.go) and
//     its scratch buffers. None of that needs a lock. Handler methods,
//     Socket methods and RawMessage run here, on the socket's own loop.
//   - Any goroutine calling Server's exported methods: Broadcast (the Redis
//     bridge's subscriber), Stats, Counters, Queued, RoomNames, Drain,
//     Shutdown. They touch only what is built to be shared: the shards list
//     (copy-on-write atomic pointer), the room→loops bitmask (roomMu), the
//     polling sid table (sessMu), a shard's broadcast queue (qmu) and
//     atomic counters. Broadcast never blocks on a loop: it queues the
//     message and wakes the loop (one Execute per batch, not per message).
//     Socket.Later is the one Socket method for other goroutines: it
//     queues a task the same way, for the loop that owns the socket's
//     session (later.go).
//   - gnet's ticker goroutine (OnTick). It only schedules each loop's timer
//     task; timers fire on the loop.
//
// The one piece of a session shared between loops is its polling state
// (pollState, under its own mutex): a long-polling client's requests may
// arrive on any connection, hence any loop, while the session is owned by
// the loop that answered its handshake. Work for the owner is sent to it
// with shard.run. A session upgrading to a WebSocket on another loop moves
// there through the hand-over protocol described in upgrade.go, ordered
// against broadcasts by markers in both loops' queues.
//
// Lock order, where more than one is held: roomMu before a shard's qmu
// (Broadcast and Socket.Later queue under roomMu's read lock; the
// hand-over takes its write lock); pollState.mu is never held while taking
// another. sessMu is a leaf. Config.RoomDemand runs under roomMu's write
// lock (from markRoom), so whatever lock it takes comes after roomMu, and
// its owner must not hold that lock while calling into the Server.
//
// gnet rules this package relies on (../shared/notes/gnet.md): Conn.Write
// and friends are loop-only and must never reach a connection after its
// OnClose (the fd may already belong to another socket), so every table
// forgets a connection in OnClose; unconsumed input is not handed back, so
// OnTraffic consumes every complete request or frame.
//
// # Delivery path
//
// Redis message → one Message (frame built once, by package bridge) →
// Server.Broadcast (server.go: which loops have members) → each loop's
// broadcastQueue (queue.go: capped in messages, bytes and age; the oldest is
// shed) → shard.drain (shard.go: runs of the same room coalesced into one
// write per member; slow consumers cut, or paced) → conn.writeShared
// (conn.go). With Config.Compression, members that negotiated
// permessage-deflate get the run's compressed frames instead
// (shard.deflatedRun: each Message's Deflater frame, compressed once per
// broadcast, no context takeover), and compressed client messages are
// inflated by a pooled inflater (conn.onFrameMessage, eio.Inflate).
//
// # Connection life cycle
//
// accept (server.go OnOpen) → HTTP request (conn.go readHTTP with
// internal/http1) → Engine.IO handshake (engineio.go) → WebSocket (conn.go
// upgrade, readFrame) or polling (polling.go), possibly upgraded
// (upgrade.go) → Socket.IO CONNECT (socket.go: Handler.Connect, slot, user
// room) → events, joins and leaves → close, with a CloseReason (reason.go;
// session.go closeWith and teardown), or a drain (drain.go).
//
// With Config.AllowEIO3, a handshake without EIO=4 opens an Engine.IO
// protocol 3 session (socket.io v2 clients; session.eio3, fixed for its
// life). It differs at a few points only: the polling framing
// (session.appendPollRecord, onPollBodyV3), the heartbeat (the client
// pings: onClientPing), binary frames, and the Socket.IO CONNECT of "/",
// which the engine does itself after the handshake (connectDefault).
// Broadcast frames are the same bytes for both protocols.
//
// # Files
//
//	server.go   Server, Broadcast, gnet callbacks, stats
//	accept.go   accept errors: count, pause the listener, shed the backlog
//	config.go   Config and its defaults
//	conn.go     per-connection state, WebSocket frames, HTTP routing, writes
//	http.go     query strings and HTTP responses
//	engineio.go Engine.IO handshake and error answers, CORS
//	polling.go  the long-polling transport
//	upgrade.go  polling → WebSocket upgrade and hand-over between loops
//	session.go  an Engine.IO session: packets, heartbeats, close
//	socket.go   Handler, Socket, Event: the Socket.IO layer
//	shard.go    what one loop owns: slots, rooms, queue drain, timers tick
//	multicast.go BroadcastTo: several rooms minus others, a bitset per drain
//	queue.go    a loop's bounded broadcast queue
//	timers.go   the per-loop timer wheel
//	drain.go    lame-duck drain
//	later.go    Socket.Later: a task for a socket's loop from anywhere
//	reason.go   CloseReason
//	ready.go    /ready
//	raw.go      bare Engine.IO sessions (for the protocol test suite)
package engine

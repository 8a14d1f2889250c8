// Package loadgen is the benchmark's load generator: Socket.IO v4 clients
// over WebSocket, driven by a few epoll loops per process (no goroutine per
// connection), spread over several worker processes and source addresses so
// that one run can hold more connections than the 20,000 file descriptors a
// process may open.
//
// Layout:
//
//   - conn.go: one client connection's state machine (TCP connect → HTTP
//     upgrade → Engine.IO open → Socket.IO CONNECT with a JWT → rooms →
//     deliveries and heartbeats).
//   - loop.go, dial.go: the epoll loop that owns a set of connections, and
//     the non-blocking, source-bound connect.
//   - phase.go: per-loop bookkeeping of one measurement phase: latency
//     histogram, per-message first/last delivery, per-client sequence checks.
//   - churn.go: connect/disconnect cycling at a fixed rate.
//   - worker.go, protocol.go: a worker process (a re-exec of the same binary)
//     that runs loops and answers the coordinator over stdin/stdout.
//   - coord.go: the coordinator that starts workers and aggregates them.
//   - publish.go: the Redis publisher that stamps every message.
//   - scenario_*.go: the scenarios, each printing one JSON line.
//
// Every published message carries its send time and sequence numbers
// (wire.Delivery), so every delivery yields one latency sample and every
// client checks that it lost nothing and saw nothing twice.
package loadgen

// Package sioclient drives the real socket.io-client (npm, pinned in
// package.json) from Go tests, so end-to-end tests see exactly what a browser
// or Node client of the old socket.io service would see.
//
// Start runs driver.js under node for one test. Commands go to the driver's
// stdin and every client-side happening comes back as an Event, kept per
// socket id in arrival order:
//
//	d := sioclient.Start(t) // stopped by t.Cleanup
//	d.Connect("c1", srv.URL, map[string]any{
//		"transports": []string{"websocket"},
//		"auth":       map[string]any{"token": tok},
//	})
//	ev := d.Wait("c1", "connect", "", 5*time.Second) // ev.SocketID, ev.Transport
//	seq := d.EmitAck("c1", "join-channel-notifications", "c1")
//	ack := d.WaitAck("c1", seq, 5*time.Second)       // ack.Args
//	msgs := d.Collect("c1", "event", "notification", 3, 5*time.Second)
//	d.NoEvent("c1", "event", "notification", 200*time.Millisecond)
//
// Event kinds (Event.Ev): "connect" (SocketID, Transport), "upgrade"
// (Transport), "connect_error" (Message, Data), "disconnect" (Reason, and
// Message when the client gave a description), "reconnect_attempt" (N),
// "event" (Name, Args as received: one JSON value per argument), "ack" (Seq,
// Args) and "error" (Message: the driver could not do what it was told; this
// also fails the test). Binary arguments arrive as Node Buffers, which JSON
// encodes as {"type":"Buffer","data":[...]}.
//
// Timing of the real client worth knowing when writing assertions: with the
// default transports socket.io-client 4.8 emits "connect" one process tick
// after the CONNECT packet, so when the polling response and the WebSocket
// upgrade complete together (usual on loopback) "connect" already reports
// Transport "websocket". Assert the "upgrade" event rather than
// Transport == "polling", or use transports ["polling"] for polling-only.
//
// ConnectWith(V2, …) runs socket.io-client 2.5 instead (Engine.IO protocol
// 3, installed under the npm alias socket.io-client-v2), for servers that
// allow such clients; it takes the token as {"query": {"token": tok}} and
// reports the same event kinds (its CONNECT_ERROR as "connect_error").
//
// StartEmitter (emitter.go) runs the real @socket.io/redis-emitter the same
// way, for tests of the server's emitter input.
//
// Install the client with `make deps`, which runs
// `npm ci --prefix internal/sioclient`. Set DEBUG=socket.io-client*,engine.io-client*
// to get the client's own trace in the test log (node's stderr goes to t.Log).
//
// driver.js is found next to this source file (runtime.Caller), so tests in
// any package can use the harness; a binary built with -trimpath cannot.
package sioclient

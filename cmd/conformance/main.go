// Command conformance serves what the official protocol test suites
// (test-suite/ of socketio/engine.io-protocol and socketio/socket.io-protocol)
// expect, on one listener:
//
//   - /socket.io/: a Socket.IO server with the suite's reference handlers:
//     every socket gets "auth" with its CONNECT payload, "message" is answered
//     with "message-back" and the same arguments (binary included),
//     "message-with-ack" is acknowledged with the same arguments, and the
//     "/custom" namespace exists;
//   - /engine.io/: a bare Engine.IO server that echoes every message (the
//     engine's RawPath option; see engine.go).
//
// Timings are the suites': pingInterval 300 ms, pingTimeout 200 ms,
// connectTimeout 1000 ms, maxPayload 1e6, CORS "*". See README.md for how to
// run the suites.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/notify-wss/notify-wss/eio"
	"github.com/notify-wss/notify-wss/engine"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	loops := flag.Int("loops", 0, "event loops (0: GOMAXPROCS)")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := engine.Config{
		Addr:           *addr,
		Path:           "/socket.io/",
		PingInterval:   300 * time.Millisecond,
		PingTimeout:    200 * time.Millisecond,
		ConnectTimeout: 1000 * time.Millisecond,
		MaxPayload:     1_000_000,
		CORSOrigins:    []string{"*"},
		Namespaces:     []string{"/", "/custom"},
		Loops:          *loops,
		Logger:         log,
	}
	engineIOPath := configureEngine(&cfg)
	srv := engine.New(cfg, handler{})

	served := make(chan error, 1)
	go func() { served <- srv.Run() }()
	select {
	case <-srv.Booted():
	case err := <-served:
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "conformance: listening on %s: Socket.IO at /socket.io/, Engine.IO echo at %s\n",
		*addr, orNone(engineIOPath))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case err := <-served:
		if err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			os.Exit(1)
		}
		return
	}
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: shutdown:", err)
	}
	<-served
}

func orNone(path string) string {
	if path == "" {
		return "(none)"
	}
	return path
}

// handler is the suite's reference application:
//
//	io.on("connection", (socket) => {
//	  socket.emit("auth", socket.handshake.auth);
//	  socket.on("message", (...args) => socket.emit("message-back", ...args));
//	  socket.on("message-with-ack", (...args) => { const ack = args.pop(); ack(...args); });
//	});
//	io.of("/custom").on("connection", (socket) => socket.emit("auth", socket.handshake.auth));
type handler struct{}

var _ engine.Handler = handler{}

// Connect accepts every socket and keeps its auth payload, compacted, for
// the "auth" event ({} when the CONNECT had none, as in Node).
func (handler) Connect(s *engine.Socket, auth []byte) error {
	a := []byte("{}")
	if len(auth) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, auth); err != nil {
			return &engine.ConnectError{Message: "invalid auth payload"}
		}
		a = buf.Bytes()
	}
	s.Data = a
	return nil
}

// Connected emits "auth" with the CONNECT payload.
func (handler) Connected(s *engine.Socket) {
	auth, _ := s.Data.([]byte)
	s.EmitRaw(append(append([]byte(`["auth",`), auth...), ']'), nil)
}

// Event answers "message" and "message-with-ack" on the main namespace.
func (handler) Event(s *engine.Socket, ev *engine.Event) {
	if s.Namespace() != "/" {
		return
	}
	switch ev.Name {
	case "message":
		s.EmitRaw(argsArray([]byte(`"message-back"`), ev.Data), ev.Attachments)
	case "message-with-ack":
		if ev.WantsAck() {
			s.AckRaw(ev.ID, argsArray(nil, ev.Data), ev.Attachments)
		}
	}
}

func (handler) Disconnect(*engine.Socket, engine.CloseReason) {}

// argsArray returns the JSON array of data's arguments (every element after
// the event name), preceded by first when it is not nil. Placeholders of
// binary arguments are kept as they are, so the attachments go along
// unchanged.
func argsArray(first, data []byte) []byte {
	out := append([]byte{'['}, first...)
	comma := len(first) > 0
	_ = eio.ArrayElements(data, func(i int, elem []byte) bool {
		if i == 0 {
			return true
		}
		if comma {
			out = append(out, ',')
		}
		out = append(out, elem...)
		comma = true
		return true
	})
	return append(out, ']')
}

package main

import (
	"time"

	"github.com/notify-wss/notify-wss/engine"
)

// configureEngine sets the engine options only the suites need:
// a 1ms timer tick, because the suites check a 500ms ping timeout to the
// millisecond ("closes the session upon ping timeout", polling), and the
// bare Engine.IO endpoint of the engine.io-protocol suite at /engine.io/,
// which sends every message back as it came, as the suite's reference
// server does:
//
//	server.on("connection", socket => {
//	  socket.on("data", (...args) => socket.send(...args));
//	});
func configureEngine(cfg *engine.Config) string {
	cfg.Tick = time.Millisecond
	cfg.RawPath = "/engine.io/"
	cfg.RawMessage = func(s *engine.RawSession, data []byte, binary bool) {
		s.Send(data, binary)
	}
	return cfg.RawPath
}

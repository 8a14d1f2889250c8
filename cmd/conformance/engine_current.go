//go:build !enginepatch

package main

import "github.com/notify-wss/notify-wss/engine"

// configureEngine would add the bare Engine.IO echo endpoint and the 1ms
// timer tick, but this engine has neither Config.RawPath nor Config.Tick:
// only /socket.io/ is served, with the default tick. Build with
// -tags enginepatch on an engine that has them (see README.md).
func configureEngine(*engine.Config) string { return "" }

// Command floor is the benchmark's floor: the least a gnet server must do to
// serve the notification contract, so the benchmark can show how close
// notify-wss gets to it. It answers the Engine.IO/Socket.IO handshake
// minimally (open packet, 40{"sid"} after an HS256 JWT check, pongs
// ignored, a ping to everyone every 25 s), puts every connection in one
// broadcast set (room joins are ignored), indexes connections by userId for
// unicast, and writes each Redis message as one pre-built frame, coalesced
// per event loop, with a cap on each connection's outbound buffer (the same send buffer
// and cap as notify-wss's defaults).
//
// It follows /work/shared/notes/gnet.md §5 and takes the same environment
// as notify-wss: REDIS_URL, JWT_SECRET, PORT, HOST.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Server tuning, from the measurements in gnet.md.
const (
	// pingInterval matches the Engine.IO default the clients expect.
	pingInterval = 25 * time.Second
	// sendBuffer is SO_SNDBUF: with auto-tuning off, a stuck reader shows up
	// in gnet's outbound buffer instead of hiding up to 4 MB in the kernel.
	// Same value as notify-wss's default, so both drop the same readers.
	sendBuffer = 256 << 10
	// maxOutbound is the per-connection outbound cap; a connection above it
	// is dropped as a slow consumer (notify-wss's default too).
	maxOutbound = 1 << 20
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("floor: ")
	cfg := config{
		redisURL: getenv("REDIS_URL", "redis://127.0.0.1:6379"),
		secret:   os.Getenv("JWT_SECRET"),
		addr:     getenv("HOST", "0.0.0.0") + ":" + getenv("PORT", "3000"),
	}
	if cfg.secret == "" {
		log.Fatal("JWT_SECRET is required")
	}
	// One loop per CPU and one spare P for the Redis reader, as notify-wss
	// does: a loop in epoll_wait keeps its P, so with loops == GOMAXPROCS
	// the Go network poller waits for the scheduler's monitor (up to 10 ms).
	loops := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(loops + 1)
	}
	cfg.loops = loops
	if err := run(cfg); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	redisURL, secret, addr string
	loops                  int
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(cfg config) error {
	srv := newServer(cfg.secret)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sub, err := subscribe(ctx, cfg.redisURL, srv)
	if err != nil {
		return err
	}
	defer sub.Close()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.eng.Stop(sctx)
	}()
	err = gnet.Run(srv, "tcp://"+cfg.addr,
		gnet.WithNumEventLoop(cfg.loops),
		gnet.WithTicker(true),
		gnet.WithSocketSendBuffer(sendBuffer),
		gnet.WithLogger(quietLogger{}),
	)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("gnet: %w", err)
	}
	return nil
}

// quietLogger passes gnet's warnings and errors to the standard logger
// (stderr) and drops the rest; gnet's default logs to stdout.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(f string, a ...any) {
	if !strings.Contains(f, "stale") {
		log.Printf("gnet warn: "+f, a...)
	}
}
func (quietLogger) Errorf(f string, a ...any) { log.Printf("gnet error: "+f, a...) }
func (quietLogger) Fatalf(f string, a ...any) { log.Fatalf("gnet fatal: "+f, a...) }

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/engine"
	"github.com/notify-wss/notify-wss/notify"
)

// serveCommand runs the server until SIGTERM or SIGINT, then drains it;
// a second signal closes the clients left at once.
func serveCommand(args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, ".env", stderr)
	if err != nil {
		return err
	}
	log := newLogger(stdout, cfg.LogLevel)
	slog.SetDefault(log)
	// Deliveries allocate nothing, so the collector's work comes from
	// connection set-up alone; a lower target keeps the heap, and so the
	// memory per idle connection, close to what is live.
	debug.SetGCPercent(cfg.GCPercent)
	cfg.Loops = reserveProcessor(cfg.Loops)
	if cfg.PprofAddr != "" {
		stopProfiler, err := serveProfiler(cfg.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stopProfiler()
	}

	dev, err := prepareDevMode(cfg, log)
	if err != nil {
		return err
	}
	defer dev.stop()

	input, _ := cfg.input() // checked by loadConfig
	svc, err := notify.New(notify.Config{
		Engine:         engineConfig(cfg, log),
		RedisURL:       cfg.RedisURL,
		RedisMode:      cfg.RedisMode,
		RedisSubscribe: bridge.SubscribeMode(cfg.RedisSubscribe),
		Emitter:        cfg.Emitter,
		RedisInput:     input,
		Streams:        cfg.streams(),
		JWTSecret:      cfg.JWTSecret,
		DrainDuration:  cfg.DrainDuration,
		Version:        buildVersion(),
		Logger:         log,
		Recovery: notify.RecoveryConfig{
			Window:       cfg.RecoveryWindow,
			MaxBytes:     cfg.RecoveryMaxBytes,
			RoomMaxBytes: cfg.RecoveryRoomMaxBytes,
		},
	})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	go func() {
		<-signals
		cancel() // drain
		<-signals
		log.Warn("second signal: closing every client left now")
		svc.Hurry()
	}()
	go func() {
		<-svc.Booted()
		log.Info("mode", "mode", map[bool]string{true: "production", false: "development"}[cfg.production()], "path", cfg.Path)
		if dev.active() {
			dev.printBanner(stderr, cfg)
		}
	}()
	return svc.Run(ctx)
}

// engineConfig maps the service's settings onto the engine's.
func engineConfig(cfg *config, log *slog.Logger) engine.Config {
	return engine.Config{
		Addr:                net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Path:                cfg.Path,
		PingInterval:        cfg.PingInterval,
		PingTimeout:         cfg.PingTimeout,
		ConnectTimeout:      cfg.ConnectTimeout,
		AllowEIO3:           cfg.AllowEIO3,
		Compression:         cfg.Compression,
		CompressionMinBytes: cfg.CompressMin,
		MaxPayload:          cfg.MaxPayload,
		MaxOutbound:         cfg.MaxOutbound,
		MaxQueueMessages:    cfg.QueueMessages,
		MaxQueueBytes:       cfg.QueueBytes,
		MaxQueueAge:         cfg.QueueAge,
		SocketSendBuffer:    cfg.SendBuffer,
		CORSOrigins:         cfg.corsOrigins(),
		Loops:               cfg.Loops,
		ReusePort:           cfg.ReusePort,
		Logger:              log,
	}
}

// serveProfiler serves net/http/pprof on addr, off the event loops, until
// the returned function is called.
func serveProfiler(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiler listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// reserveProcessor returns the number of event loops to run (loops, or
// one per processor when zero) and gives the Go scheduler one processor (P)
// more than that, unless the operator set GOMAXPROCS.
//
// A gnet loop waits in epoll_wait(2) inside a system call that keeps its P
// until the scheduler's monitor takes it back, which it does only on its
// next tick (20 µs to 10 ms apart). With as many loops as Ps, every P can
// be parked in a loop's epoll_wait: nothing then watches the Go network
// poller, and a Redis message sits in the socket until the monitor wakes.
// Measured with 19,000 clients and 500 unicasts/s: p99 13.6 ms with
// loops = GOMAXPROCS, 1.4 ms with one spare P (see BENCHMARKS.md).
func reserveProcessor(loops int) int {
	procs := runtime.GOMAXPROCS(0)
	if loops <= 0 {
		loops = procs
	}
	if os.Getenv("GOMAXPROCS") == "" && procs < loops+1 {
		runtime.GOMAXPROCS(loops + 1)
	}
	return loops
}

// devMode holds what development mode started for a newcomer.
type devMode struct {
	redisAddr string // the embedded broker's address, "" when not started
	stopRedis func()
	generated bool // the JWT secret was generated
}

func (d *devMode) active() bool { return d.redisAddr != "" || d.generated }

func (d *devMode) stop() {
	if d.stopRedis != nil {
		d.stopRedis()
	}
}

// prepareDevMode fills in what development mode may leave out: an embedded
// Redis-protocol broker and a generated secret.
func prepareDevMode(cfg *config, log *slog.Logger) (*devMode, error) {
	d := &devMode{}
	if cfg.production() {
		return d, nil
	}
	if cfg.JWTSecret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		cfg.JWTSecret = hex.EncodeToString(b[:])
		d.generated = true
		log.Warn("development mode: generated a JWT secret; set JWT_SECRET to keep tokens valid across restarts")
	}
	if cfg.RedisURL == "" {
		url, stop, err := bridge.StartEmbedded(cfg.DevRedisAddr)
		if err != nil {
			// The preferred port may be taken: any free one will do.
			url, stop, err = bridge.StartEmbedded("127.0.0.1:0")
		}
		if err != nil {
			return nil, fmt.Errorf("start embedded redis broker: %w", err)
		}
		cfg.RedisURL, d.stopRedis = url, stop
		d.redisAddr = url[len("redis://"):]
		log.Warn("development mode: using an embedded Redis-protocol broker; set REDIS_URL for a real Redis", "addr", d.redisAddr)
	}
	return d, nil
}

// printBanner tells a newcomer how to try the server.
func (d *devMode) printBanner(w io.Writer, cfg *config) {
	u := notify.User{ID: "dev-user", DisplayName: "Dev User"}
	token, err := notify.MintToken(cfg.JWTSecret, u, 24*time.Hour)
	if err != nil {
		return
	}
	host := cfg.Host
	if host == "0.0.0.0" || host == "" || host == "::" {
		host = "localhost"
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port))
	fmt.Fprintf(w, "\nnotify-wss is running in development mode on %s\n\n", url)
	fmt.Fprintf(w, "A token for user %q (valid 24h):\n  %s\n\n", u.ID, token)
	fmt.Fprintf(w, "Connect a client:\n  io(%q, { auth: { token: %q } })\n\n", url, token)
	if d.redisAddr != "" {
		_, port, _ := net.SplitHostPort(d.redisAddr)
		ch := "user:notifications:" + u.ID
		if in, _ := cfg.input(); in == bridge.InputStreams {
			capped := ""
			if cfg.StreamMaxLen > 0 {
				capped = fmt.Sprintf("MAXLEN '~' %d ", cfg.StreamMaxLen)
			}
			fmt.Fprintf(w, "Send it a notification:\n  redis-cli -p %s XADD '%s' %s'*' channel %s payload '{\"type\":\"TIP\",\"message\":\"hello from redis\"}'\n\n",
				port, bridge.StreamKey(ch, cfg.StreamPartitions), capped, ch)
		} else {
			fmt.Fprintf(w, "Send it a notification:\n  redis-cli -p %s PUBLISH %s '{\"type\":\"TIP\",\"message\":\"hello from redis\"}'\n\n", port, ch)
		}
	}
}

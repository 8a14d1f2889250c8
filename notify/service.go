package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/engine"
)

// Config configures a Service.
type Config struct {
	// Engine is the transport's configuration. The service sets its
	// HTTPHandler, Ready and OnWritten hooks; Logger defaults to Logger.
	Engine engine.Config
	// RedisURL is the Redis the bridge subscribes to, in the go-redis URL
	// syntax of RedisMode. Required.
	RedisURL string
	// RedisMode says how RedisURL reaches Redis (standalone, sentinel or
	// cluster). Zero value means bridge.ModeStandalone.
	RedisMode bridge.Mode
	// RedisSubscribe is how the bridge subscribes (bridge.SubscribePattern,
	// SubscribeDynamic or SubscribeSharded). Zero value means pattern.
	RedisSubscribe bridge.SubscribeMode
	// Emitter also delivers what Socket.IO emitters publish
	// (@socket.io/redis-emitter; see bridge.Config.Emitter). Zero value
	// means off.
	Emitter bool
	// RedisInput is where notifications come from (bridge.InputPubSub or
	// bridge.InputStreams). Zero value means pub/sub.
	RedisInput bridge.Input
	// Streams configures the streams input (bridge.StreamsConfig).
	Streams bridge.StreamsConfig
	// JWTSecret is the HS256 secret of client tokens. Required.
	JWTSecret string
	// DrainDuration is how long a drain takes to close every client after
	// Run's context ends. Zero value means all at once.
	DrainDuration time.Duration
	// ShutdownGrace bounds the stop after the drain (flushing close frames,
	// stopping the loops). Zero value means 8s.
	ShutdownGrace time.Duration
	// Version labels notify_wss_build_info. Zero value means "dev".
	Version string
	// Logger receives every log line. Zero value means slog.Default().
	Logger *slog.Logger
	// Recovery configures connection state recovery; off when its Window
	// is zero.
	Recovery RecoveryConfig
}

// RecoveryConfig configures connection state recovery (recovery.go).
type RecoveryConfig struct {
	// Window is how long a dropped client's session is held, and
	// notifications kept, for it to recover. Zero means off.
	Window time.Duration
	// MaxBytes bounds the history's memory, frames and bookkeeping; the
	// oldest notifications go first. Zero value means DefaultRecoveryMaxBytes.
	MaxBytes int
	// RoomMaxBytes bounds one room's share of the history. Zero value means
	// DefaultRecoveryRoomMaxBytes.
	RoomMaxBytes int
}

// The history's default bounds: 64 MiB in all (some 200,000 notifications
// of 200 bytes), 256 KiB a room (about 1,000).
const (
	DefaultRecoveryMaxBytes     = 64 << 20
	DefaultRecoveryRoomMaxBytes = 256 << 10
)

// DefaultShutdownGrace bounds the stop after a drain: the engine waits up
// to a second for close frames to leave, then stops its loops.
const DefaultShutdownGrace = 8 * time.Second

// Service is the running notification server: an engine, a bridge and the
// application between them. Its methods are safe from any goroutine.
type Service struct {
	cfg Config
	log *slog.Logger
	srv *engine.Server
	br  *bridge.Bridge
	met *metrics
	rec *recovery // nil when recovery is off

	hurryOnce sync.Once
	hurry     chan struct{}
}

// New checks cfg and builds the service; Run starts it.
func New(cfg Config) (*Service, error) {
	if cfg.JWTSecret == "" {
		return nil, errors.New("notify: empty JWT secret")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	s := &Service{cfg: cfg, log: cfg.Logger, hurry: make(chan struct{})}
	bcfg := bridge.Config{
		URL:       cfg.RedisURL,
		Mode:      cfg.RedisMode,
		Subscribe: cfg.RedisSubscribe,
		Emitter:   cfg.Emitter,
		Input:     cfg.RedisInput,
		Streams:   cfg.Streams,
		Logger:    cfg.Logger,
		OnWritten: func(m *bridge.Message) { s.met.observeWritten(m) },
	}
	if rc := cfg.Recovery; rc.Window > 0 {
		if rc.MaxBytes <= 0 {
			rc.MaxBytes = DefaultRecoveryMaxBytes
		}
		if rc.RoomMaxBytes <= 0 {
			rc.RoomMaxBytes = DefaultRecoveryRoomMaxBytes
		}
		partitions, keepAll := 1, false
		if cfg.RedisInput == bridge.InputStreams {
			// Offsets are the partitions' stream ids, the same on every
			// instance, and the history starts with the window read back
			// from the streams (backfill). What is kept is every room's:
			// sessions held elsewhere are not known here.
			partitions, keepAll = cfg.Streams.Partitions, true
			if partitions <= 0 {
				partitions = bridge.DefaultPartitions
			}
			bcfg.Backfill = rc.Window
		}
		hist := newHistory(partitions, rc.Window, rc.MaxBytes, rc.RoomMaxBytes, nil)
		s.rec = newRecovery(cfg.JWTSecret, hist, rc.Window)
		if !keepAll {
			hist.keep = s.rec.keeps
		} else {
			// Any instance can replay; sessions go to Redis so that any
			// instance can find them (sessions.go).
			rdb, err := bridge.NewClient(bcfg.Mode, cfg.RedisURL)
			if err != nil {
				return nil, fmt.Errorf("notify: recovery sessions: %w", err)
			}
			s.rec.store = newSessionStore(rdb, cfg.Logger.With("component", "recovery"))
		}
		bcfg.Sequencer = hist
	}
	br, err := bridge.New(bcfg, func(m *bridge.Message) {
		if m.Kind == bridge.KindEmitter {
			// emitter.to(room).emit(...), the common form, takes the
			// single-room path: a loop writes a run of consecutive
			// broadcasts to one room in one write per member, where each
			// BroadcastTo entry is written alone (a write(2) per member per
			// message: 30× the CPU per delivery in a burst, BENCHMARKS.md).
			if len(m.Rooms) == 1 && len(m.Except) == 0 {
				s.srv.Broadcast(m.Rooms[0], m)
				return
			}
			s.srv.BroadcastTo(m.Rooms, m.Except, m)
			return
		}
		s.srv.Broadcast(m.Room, m)
	})
	if err != nil {
		if st := s.rec.sessionStore(); st != nil {
			_ = st.rdb.Close()
		}
		return nil, fmt.Errorf("notify: redis: %w", err)
	}
	s.br = br

	ecfg := cfg.Engine
	if ecfg.Logger == nil {
		ecfg.Logger = cfg.Logger
	}
	ecfg.HTTPHandler = s.serveHTTP
	ecfg.Ready = s.notReady
	ecfg.OnWritten = func(m engine.Message) {
		if bm, ok := m.(*bridge.Message); ok {
			bm.MarkWritten()
		}
	}
	a := &app{auth: newVerifier(cfg.JWTSecret), log: cfg.Logger, rec: s.rec}
	if m := br.SubscriptionStats().Mode; m == bridge.SubscribeDynamic || m == bridge.SubscribeSharded {
		// The bridge follows the rooms, and the app waits for their
		// subscriptions; pattern mode needs neither.
		ecfg.RoomDemand = br.RoomDemand
		a.subs = br
	}
	if s.rec != nil {
		// Rooms are wanted while they have members here or held sessions
		// may come back to them: the history keeps their messages, and
		// in dynamic mode the bridge stays subscribed.
		s.rec.demand = ecfg.RoomDemand
		ecfg.RoomDemand = s.rec.roomDemand
		ecfg.RecoveryID = s.rec.pid
	}
	s.srv = engine.New(ecfg, a)
	s.met = newMetrics(s.srv, br, s.rec, cfg.Version)
	return s, nil
}

// Booted returns a channel closed once the server is listening.
func (s *Service) Booted() <-chan struct{} { return s.srv.Booted() }

// Hurry ends a drain under way at once: every client left is closed now
// (an operator's second SIGTERM). Before Run's context ends, it makes the
// coming drain immediate.
func (s *Service) Hurry() { s.hurryOnce.Do(func() { close(s.hurry) }) }

// Run serves until ctx ends, then drains and stops. It returns nil after a
// drain and stop that ctx asked for, and an error when the server could not
// start or stopped on its own: a process should exit non-zero then.
func (s *Service) Run(ctx context.Context) error {
	bridgeCtx, stopBridge := context.WithCancel(context.Background())
	bridgeDone := make(chan struct{})
	go func() {
		defer close(bridgeDone)
		if err := s.br.Run(bridgeCtx); err != nil {
			s.log.Error("redis bridge stopped", "err", err)
		}
	}()
	defer func() { stopBridge(); <-bridgeDone }()

	if st := s.rec.sessionStore(); st != nil {
		go st.run()
		defer func() {
			// After the shutdown: every socket's Disconnect has queued
			// its session's last write, which must reach Redis before
			// the process exits, for its client to recover elsewhere.
			ctx, cancel := context.WithTimeout(context.Background(), sessionWriteTimeout)
			defer cancel()
			if err := st.Close(ctx); err != nil {
				s.log.Warn("recovery sessions", "err", err)
			}
			_ = st.rdb.Close()
		}()
	}
	if s.rec != nil {
		tickCtx, stopTick := context.WithCancel(context.Background())
		defer stopTick()
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-tickCtx.Done():
					return
				case now := <-t.C:
					s.rec.Tick(now)
				}
			}
		}()
	}

	served := make(chan error, 1)
	go func() { served <- s.srv.Run() }()
	select {
	case <-s.srv.Booted():
	case err := <-served:
		return s.unexpectedStop(err)
	}
	s.log.Info("listening", "addr", s.cfg.Engine.Addr)

	select {
	case <-ctx.Done():
	case err := <-served:
		return s.unexpectedStop(err)
	}

	hurryCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.hurry:
			cancel()
		case <-hurryCtx.Done():
		}
	}()
	s.log.Info("draining", "sessions", s.srv.Stats().Sessions, "duration", s.cfg.DrainDuration.String())
	start := time.Now()
	if err := s.srv.Drain(hurryCtx, s.cfg.DrainDuration); err != nil {
		s.log.Warn("drain cut short: closed every client left at once", "after", time.Since(start).String())
	}
	sctx, scancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer scancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.log.Error("shutdown", "err", err)
	}
	select {
	case err := <-served:
		if err != nil {
			return err
		}
	case <-sctx.Done():
		return errors.New("notify: event loops did not stop in time")
	}
	s.log.Info("stopped", "drained_in", time.Since(start).String())
	return nil
}

// unexpectedStop turns the end of the engine's Run before any shutdown
// into an error, whatever Run returned, and logs it: the process should
// exit non-zero, so that its supervisor restarts it.
func (s *Service) unexpectedStop(err error) error {
	if err == nil {
		err = errors.New("engine stopped without a shutdown")
	}
	s.log.Error("server stopped", "err", err)
	return fmt.Errorf("notify: server stopped: %w", err)
}

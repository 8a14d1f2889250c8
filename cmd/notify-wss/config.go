package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
)

// config is everything the server reads from its environment.
type config struct {
	Env        string // "production" or anything else (development)
	RedisURL   string
	RedisMode  bridge.Mode
	JWTSecret  string
	Host       string
	Port       int
	CORSOrigin string
	LogLevel   string
	Path       string

	PingInterval         time.Duration
	PingTimeout          time.Duration
	ConnectTimeout       time.Duration
	AllowEIO3            bool
	Compression          bool
	CompressMin          int
	MaxPayload           int
	MaxOutbound          int
	SendBuffer           int
	Loops                int
	ReusePort            bool
	DevRedisAddr         string
	GCPercent            int
	PprofAddr            string
	DrainDuration        time.Duration
	QueueMessages        int
	QueueBytes           int
	QueueAge             time.Duration
	RedisSubscribe       string // "pattern", "dynamic" or "sharded"
	RecoveryWindow       time.Duration
	RecoveryMaxBytes     int
	RecoveryRoomMaxBytes int
	Emitter              bool // EMITTER: also deliver Socket.IO emitter messages

	RedisInput       string // "pubsub" or "streams"
	StreamPartitions int
	StreamRetention  time.Duration
	StreamMaxLen     int
}

// setting is one configuration knob: its environment variable, its flag,
// its default and what it means. The README's table lists the same ones.
type setting struct {
	env, flag, def, help string
	set                  func(c *config, v string) error
}

func str(p func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error { *p(c) = v; return nil }
}

func integer(p func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*p(c) = n
		return nil
	}
}

// duration accepts Go durations ("25s") and plain milliseconds ("25000"),
// the unit socket.io options use.
func duration(p func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		if ms, err := strconv.Atoi(v); err == nil {
			*p(c) = time.Duration(ms) * time.Millisecond
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration: %q", v)
		}
		*p(c) = d
		return nil
	}
}

func redisMode(p func(*config) *bridge.Mode) func(*config, string) error {
	return func(c *config, v string) error {
		m, err := bridge.ParseMode(v)
		if err != nil {
			return fmt.Errorf("%q is not standalone, sentinel or cluster", v)
		}
		*p(c) = m
		return nil
	}
}

func boolean(p func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		*p(c) = b
		return nil
	}
}

// onOff parses on/off (and what strconv.ParseBool takes).
func onOff(p func(*config) *bool) func(*config, string) error {
	return func(c *config, v string) error {
		switch strings.ToLower(v) {
		case "on":
			*p(c) = true
			return nil
		case "off":
			*p(c) = false
			return nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not on or off: %q", v)
		}
		*p(c) = b
		return nil
	}
}

var settings = []setting{
	{"NODE_ENV", "env", "development", "production requires REDIS_URL and JWT_SECRET; otherwise dev mode", str(func(c *config) *string { return &c.Env })},
	{"REDIS_URL", "redis-url", "", "Redis to subscribe to, in go-redis URL syntax for REDIS_MODE (standalone: redis://[:password@]host:port[/db]); empty in dev mode starts an embedded broker", str(func(c *config) *string { return &c.RedisURL })},
	{"REDIS_MODE", "redis-mode", "standalone", "standalone; sentinel (REDIS_URL redis://[:pw@]sentinel:26379?master_name=NAME&addr=sentinel2:26379); cluster (redis://[:pw@]node:7000?addr=node2:7000)", redisMode(func(c *config) *bridge.Mode { return &c.RedisMode })},
	{"REDIS_SUBSCRIBE", "redis-subscribe", "pattern", "pattern: PSUBSCRIBE every user and channel (each server gets every notification); dynamic: SUBSCRIBE each room's channel while it has members here, UNSUBSCRIBE 5s after the last one left; sharded: the same with Redis 7 SSUBSCRIBE (publishers SPUBLISH), one connection per cluster master", str(func(c *config) *string { return &c.RedisSubscribe })},
	{"EMITTER", "emitter", "off", "on: also deliver what Socket.IO emitters (@socket.io/redis-emitter) publish on socket.io#/#..., to the rooms they name, except those excepted (binary data and other namespaces are refused and logged)", onOff(func(c *config) *bool { return &c.Emitter })},
	{"REDIS_INPUT", "redis-input", "pubsub", "pubsub: read PUBLISHed notifications (lost while Redis is unreachable); streams: XREAD the streams notifications:{0}..{N-1} that publishers XADD to, resuming from the last entry read after any Redis error (see README, Durable input)", str(func(c *config) *string { return &c.RedisInput })},
	{"STREAM_PARTITIONS", "stream-partitions", "8", "REDIS_INPUT=streams: number of streams (partition = CRC-32 of the channel name mod N); every publisher and server must agree", integer(func(c *config) *int { return &c.StreamPartitions })},
	{"STREAM_RETENTION", "stream-retention", "10m", "REDIS_INPUT=streams: every few seconds each server trims the partitions it reads (XTRIM MINID ~) to the entries at most this much older than the newest, and never below the recovery window; 0: never trim", duration(func(c *config) *time.Duration { return &c.StreamRetention })},
	{"STREAM_MAXLEN", "stream-maxlen", "100000", "REDIS_INPUT=streams: `notify-wss publish` caps each partition at about this many entries (XADD MAXLEN ~); 0: no cap", integer(func(c *config) *int { return &c.StreamMaxLen })},
	{"JWT_SECRET", "jwt-secret", "", "HS256 secret for client tokens; empty in dev mode generates one", str(func(c *config) *string { return &c.JWTSecret })},
	{"HOST", "host", "0.0.0.0", "listen address", str(func(c *config) *string { return &c.Host })},
	{"PORT", "port", "8080", "listen port", integer(func(c *config) *int { return &c.Port })},
	{"CORS_ORIGIN", "cors-origin", "", "allowed origin(s), comma-separated, or *; empty sends no CORS headers", str(func(c *config) *string { return &c.CORSOrigin })},
	{"LOG_LEVEL", "log-level", "info", "debug, info, warn or error", str(func(c *config) *string { return &c.LogLevel })},
	{"SOCKET_PATH", "path", "/socket.io/", "Engine.IO endpoint path", str(func(c *config) *string { return &c.Path })},
	{"PING_INTERVAL", "ping-interval", "25s", "server ping period (duration or ms)", duration(func(c *config) *time.Duration { return &c.PingInterval })},
	{"PING_TIMEOUT", "ping-timeout", "20s", "time allowed for a pong (duration or ms)", duration(func(c *config) *time.Duration { return &c.PingTimeout })},
	{"CONNECT_TIMEOUT", "connect-timeout", "45s", "time allowed to send CONNECT after the handshake", duration(func(c *config) *time.Duration { return &c.ConnectTimeout })},
	{"ALLOW_EIO3", "allow-eio3", "false", "also serve socket.io v2 clients (Engine.IO protocol 3), as Node's allowEIO3; they pass the token in the query string", boolean(func(c *config) *bool { return &c.AllowEIO3 })},
	{"COMPRESSION", "compression", "off", "on: negotiate permessage-deflate with WebSocket clients that offer it (no context takeover) and send notifications of COMPRESSION_MIN_BYTES or more compressed, once per broadcast", onOff(func(c *config) *bool { return &c.Compression })},
	{"COMPRESSION_MIN_BYTES", "compression-min-bytes", "512", "with COMPRESSION=on, smaller notification packets are sent plain", integer(func(c *config) *int { return &c.CompressMin })},
	{"MAX_PAYLOAD", "max-payload", "1000000", "largest client message or polling body, bytes", integer(func(c *config) *int { return &c.MaxPayload })},
	{"MAX_OUTBOUND", "max-outbound", "1048576", "per-connection outbound cap before a slow consumer is dropped, bytes", integer(func(c *config) *int { return &c.MaxOutbound })},
	{"MAX_QUEUE_MESSAGES", "max-queue-messages", "4096", "per event loop: notifications waiting to be written; past it the oldest is shed (-1: no cap)", integer(func(c *config) *int { return &c.QueueMessages })},
	{"MAX_QUEUE_BYTES", "max-queue-bytes", "8388608", "per event loop: frame bytes waiting to be written; past it the oldest is shed (-1: no cap)", integer(func(c *config) *int { return &c.QueueBytes })},
	{"MAX_QUEUE_AGE", "max-queue-age", "5s", "a notification that waited longer in a loop's queue is shed (-1: no limit)", duration(func(c *config) *time.Duration { return &c.QueueAge })},
	{"SOCKET_SEND_BUFFER", "send-buffer", "262144", "SO_SNDBUF of client sockets, bytes (-1: kernel auto-tuning)", integer(func(c *config) *int { return &c.SendBuffer })},
	{"EVENT_LOOPS", "loops", "0", "event loops (0: one per CPU); Go gets one processor more, for the Redis reader, unless GOMAXPROCS is set", integer(func(c *config) *int { return &c.Loops })},
	{"REUSE_PORT", "reuse-port", "false", "SO_REUSEPORT, so several processes can share the port", boolean(func(c *config) *bool { return &c.ReusePort })},
	{"GOGC", "gogc", "25", "Go GC target percent; below Go's 100 because idle connections, not CPU, are what fills a machine", integer(func(c *config) *int { return &c.GCPercent })},
	{"DEV_REDIS_ADDR", "dev-redis-addr", "127.0.0.1:6380", "address of the embedded broker in dev mode (port 0: any)", str(func(c *config) *string { return &c.DevRedisAddr })},
	{"DRAIN_DURATION", "drain-duration", "30s", "on SIGTERM/SIGINT: /ready 503, no new sessions, clients closed evenly over this long, then exit 0; a second signal closes the rest at once; 0: all at once", duration(func(c *config) *time.Duration { return &c.DrainDuration })},
	{"RECOVERY_WINDOW", "recovery-window", "2m", "connection state recovery: a client that drops gets its session and every notification it missed back if it reconnects within this long (socket.io-client 4.6+); 0: off", duration(func(c *config) *time.Duration { return &c.RecoveryWindow })},
	{"RECOVERY_MAX_BYTES", "recovery-max-bytes", "67108864", "memory for the notifications kept for recovery; the oldest go first (a client older than what is kept reconnects afresh)", integer(func(c *config) *int { return &c.RecoveryMaxBytes })},
	{"RECOVERY_ROOM_MAX_BYTES", "recovery-room-max-bytes", "262144", "one room's share of RECOVERY_MAX_BYTES", integer(func(c *config) *int { return &c.RecoveryRoomMaxBytes })},
	{"PPROF_ADDR", "pprof-addr", "", "serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060; empty: off. Never expose it publicly", str(func(c *config) *string { return &c.PprofAddr })},
}

// production reports whether the server runs in production mode.
func (c *config) production() bool { return strings.EqualFold(c.Env, "production") }

// loadConfig reads defaults, then the .env file, then the environment, then
// flags: each later source wins. (A variable set in the environment beats
// the same one in .env, as dotenv does.)
func loadConfig(args []string, envFile string, stderr io.Writer) (*config, error) {
	values, err := settingValues(envFile)
	if err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("notify-wss", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flagValues := map[string]*string{}
	for _, s := range settings {
		flagValues[s.env] = fs.String(s.flag, values[s.env], fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := &config{}
	for _, s := range settings {
		if err := s.set(c, strings.TrimSpace(*flagValues[s.env])); err != nil {
			return nil, fmt.Errorf("config %s: %w", s.env, err)
		}
	}
	return c, c.validate()
}

// validate checks what the server cannot start without.
func (c *config) validate() error {
	var missing []string
	if c.production() {
		if c.RedisURL == "" {
			missing = append(missing, "REDIS_URL")
		}
		if c.JWTSecret == "" {
			missing = append(missing, "JWT_SECRET")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("production mode needs %s: set them in the environment or in .env", strings.Join(missing, " and "))
	}
	if c.RedisMode != bridge.ModeStandalone && c.RedisURL == "" {
		return fmt.Errorf("config REDIS_MODE=%s needs REDIS_URL (the embedded dev broker is standalone)", c.RedisMode)
	}
	if c.CompressMin < 1 {
		return fmt.Errorf("config COMPRESSION_MIN_BYTES: %d is not a positive size", c.CompressMin)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("config PORT: %d is not a port", c.Port)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	sub, err := bridge.ParseSubscribeMode(c.RedisSubscribe)
	if err != nil {
		return fmt.Errorf("config REDIS_SUBSCRIBE: %q is not pattern, dynamic or sharded", c.RedisSubscribe)
	}
	in, err := c.input()
	if err != nil {
		return fmt.Errorf("config REDIS_INPUT: %q is not pubsub or streams", c.RedisInput)
	}
	if in == bridge.InputStreams && sub != bridge.SubscribePattern {
		return fmt.Errorf("config REDIS_SUBSCRIBE=%s does not apply to REDIS_INPUT=streams: every server reads every partition; unset it", sub)
	}
	if c.StreamPartitions < 1 || c.StreamPartitions > bridge.MaxPartitions {
		return fmt.Errorf("config STREAM_PARTITIONS: %d is not between 1 and %d", c.StreamPartitions, bridge.MaxPartitions)
	}
	if c.StreamMaxLen < 0 {
		return fmt.Errorf("config STREAM_MAXLEN: %d is negative", c.StreamMaxLen)
	}
	return nil
}

// input returns REDIS_INPUT parsed.
func (c *config) input() (bridge.Input, error) { return bridge.ParseInput(c.RedisInput) }

// streams returns the bridge's streams settings: STREAM_RETENTION 0 (or
// less) means never trim.
func (c *config) streams() bridge.StreamsConfig {
	s := bridge.StreamsConfig{Partitions: c.StreamPartitions, Retention: c.StreamRetention}
	if s.Retention <= 0 {
		s.Retention = -1
	}
	return s
}

// settingValues resolves every setting from its default, then envFile,
// then the environment (flags come on top, in loadConfig).
func settingValues(envFile string) (map[string]string, error) {
	values := map[string]string{}
	for _, s := range settings {
		values[s.env] = s.def
	}
	if err := readDotEnv(envFile, values); err != nil {
		return nil, err
	}
	for _, s := range settings {
		if v, ok := os.LookupEnv(s.env); ok {
			values[s.env] = v
		}
	}
	return values, nil
}

// readDotEnv adds KEY=VALUE lines of path to values; a missing file is not
// an error.
func readDotEnv(path string, values map[string]string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s:%d: expected KEY=VALUE", path, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		values[k] = v
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("config LOG_LEVEL: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// corsOrigins splits CORS_ORIGIN.
func (c *config) corsOrigins() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigin, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

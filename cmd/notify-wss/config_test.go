package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
)

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	if err := os.WriteFile(envFile, []byte(`# comment
export PORT=9000
LOG_LEVEL="debug"
CORS_ORIGIN=http://a.example, http://b.example # trailing comment
PING_INTERVAL=1500
HOST=10.0.0.1
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOST", "127.0.0.1")  // the environment beats .env
	t.Setenv("PING_TIMEOUT", "3s") // a duration
	c, err := loadConfig([]string{"-port", "9100"}, envFile, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"flag beats .env", c.Port, 9100},
		{"env beats .env", c.Host, "127.0.0.1"},
		{".env quoted", c.LogLevel, "debug"},
		{".env milliseconds", c.PingInterval, 1500 * time.Millisecond},
		{"env duration", c.PingTimeout, 3 * time.Second},
		{"default", c.MaxPayload, 1_000_000},
		{"default path", c.Path, "/socket.io/"},
		{"cors list", strings.Join(c.corsOrigins(), "|"), "http://a.example|http://b.example"},
		{"development by default", c.production(), false},
		{"standalone by default", c.RedisMode, bridge.ModeStandalone},
		{"pattern subscriptions by default", c.RedisSubscribe, "pattern"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"production needs both", map[string]string{"NODE_ENV": "production"}, nil, "REDIS_URL and JWT_SECRET"},
		{"production needs secret", map[string]string{"NODE_ENV": "production", "REDIS_URL": "redis://x"}, nil, "JWT_SECRET"},
		{"bad port", nil, []string{"-port", "70000"}, "PORT"},
		{"bad number", map[string]string{"MAX_PAYLOAD": "lots"}, nil, "MAX_PAYLOAD"},
		{"bad duration", map[string]string{"PING_INTERVAL": "soon"}, nil, "PING_INTERVAL"},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, nil, "LOG_LEVEL"},
		{"bad subscribe mode", map[string]string{"REDIS_SUBSCRIBE": "ssubscribe"}, nil, "REDIS_SUBSCRIBE"},
		{"stray argument", nil, []string{"extra"}, "unexpected argument"},
		{"bad redis mode", map[string]string{"REDIS_MODE": "sharded"}, nil, "REDIS_MODE"},
		{"sentinel needs a URL", map[string]string{"REDIS_MODE": "sentinel"}, nil, "REDIS_MODE=sentinel needs REDIS_URL"},
		{"bad input", map[string]string{"REDIS_INPUT": "kafka"}, nil, "REDIS_INPUT"},
		{"streams are not dynamic", map[string]string{"REDIS_INPUT": "streams", "REDIS_SUBSCRIBE": "dynamic"}, nil, "REDIS_SUBSCRIBE=dynamic does not apply"},
		{"streams are not sharded", map[string]string{"REDIS_INPUT": "streams", "REDIS_SUBSCRIBE": "sharded"}, nil, "REDIS_SUBSCRIBE=sharded does not apply"},
		{"no partitions", map[string]string{"STREAM_PARTITIONS": "0"}, nil, "STREAM_PARTITIONS"},
		{"negative maxlen", map[string]string{"STREAM_MAXLEN": "-1"}, nil, "STREAM_MAXLEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := loadConfig(tt.args, filepath.Join(t.TempDir(), "none"), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
}

func TestProductionStartFailsNamingWhatIsMissing(t *testing.T) {
	var stderr strings.Builder
	t.Setenv("NODE_ENV", "production")
	t.Chdir(t.TempDir())
	code := run(nil, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "REDIS_URL and JWT_SECRET") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestReserveProcessorLeavesOnePForTheNetworkPoller(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	cases := []struct {
		name      string
		env       string // GOMAXPROCS as the operator set it
		procs     int    // GOMAXPROCS before the call
		loops     int    // EVENT_LOOPS
		wantLoops int
		wantProcs int
	}{
		{"default: one loop per P, one P more", "", 2, 0, 2, 3},
		{"explicit loops", "", 4, 2, 2, 4},
		{"more loops than Ps", "", 2, 4, 4, 5},
		{"operator's GOMAXPROCS wins", "2", 2, 0, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env)
			runtime.GOMAXPROCS(tc.procs)
			if got := reserveProcessor(tc.loops); got != tc.wantLoops {
				t.Errorf("loops = %d, want %d", got, tc.wantLoops)
			}
			if got := runtime.GOMAXPROCS(0); got != tc.wantProcs {
				t.Errorf("GOMAXPROCS = %d, want %d", got, tc.wantProcs)
			}
		})
	}
}

func TestConfigRedisMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bridge.Mode
	}{{"sentinel", bridge.ModeSentinel}, {"Cluster", bridge.ModeCluster}, {"standalone", bridge.ModeStandalone}} {
		t.Setenv("REDIS_MODE", tt.in)
		t.Setenv("REDIS_URL", "redis://x:1")
		c, err := loadConfig(nil, filepath.Join(t.TempDir(), "none"), io.Discard)
		if err != nil {
			t.Fatalf("REDIS_MODE=%s: %v", tt.in, err)
		}
		if c.RedisMode != tt.want {
			t.Errorf("REDIS_MODE=%s: mode %q, want %q", tt.in, c.RedisMode, tt.want)
		}
	}
}

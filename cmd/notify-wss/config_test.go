package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		{"stray argument", nil, []string{"extra"}, "unexpected argument"},
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

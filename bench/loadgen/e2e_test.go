package loadgen_test

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/bench/loadgen"
	"github.com/notify-wss/notify-wss/internal/redistest"
)

// TestEndToEndAgainstFloor builds the load generator and the floor server,
// runs them against a real redis-server, and checks that every scenario
// family delivers everything exactly once. It takes a few seconds.
func TestEndToEndAgainstFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs real processes")
	}
	rs := redistest.Start(t)
	dir := t.TempDir()
	build(t, dir, "loadgen", "github.com/notify-wss/notify-wss/bench/cmd/loadgen")
	build(t, dir, "floor", "github.com/notify-wss/notify-wss/bench/peers/floor")

	port := freePort(t)
	floor := exec.Command(filepath.Join(dir, "floor"))
	floor.Env = []string{"REDIS_URL=" + rs.URL, "JWT_SECRET=e2e", "HOST=127.0.0.1", "PORT=" + strconv.Itoa(port)}
	floor.Stderr = os.Stderr
	if err := floor.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = floor.Process.Kill(); _ = floor.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitListening(t, addr)

	common := []string{"-target", addr, "-redis", rs.Addr, "-secret", "e2e",
		"-server-pid", strconv.Itoa(floor.Process.Pid), "-settle", "2s"}
	t.Run("fanout", func(t *testing.T) {
		r := run(t, dir, append([]string{"fanout", "-n", "60", "-m", "20", "-paced-m", "3", "-paced-rate", "20"}, common...))
		want(t, r, "connect.ready", 60)
		want(t, r, "burst.deliveries", 60*20)
		want(t, r, "paced.deliveries", 60*3)
		want(t, r, "paced.msgs_complete", 3)
		for _, k := range []string{"burst.lost", "burst.dups", "paced.lost", "paced.dups", "connect.failed"} {
			want(t, r, k, 0)
		}
		if r.Metrics["burst.srv_cpu_s"] <= 0 {
			t.Errorf("server CPU not measured: %v", r.Metrics["burst.srv_cpu_s"])
		}
	})
	t.Run("unicast", func(t *testing.T) {
		r := run(t, dir, append([]string{"unicast", "-n", "40", "-rate", "200", "-d", "1s"}, common...))
		want(t, r, "unicast.deliveries", 200)
		want(t, r, "unicast.lost", 0)
		want(t, r, "unicast.dups", 0)
	})
	t.Run("two workers", func(t *testing.T) {
		r := run(t, dir, append([]string{"fanout", "-n", "50", "-per-worker", "30", "-m", "5", "-paced-m", "0"}, common...))
		if r.Params["workers"] != float64(2) {
			t.Errorf("workers = %v, want 2", r.Params["workers"])
		}
		want(t, r, "burst.deliveries", 50*5)
		want(t, r, "burst.lost", 0)
	})
	t.Run("bad secret", func(t *testing.T) {
		args := append([]string{"connect", "-n", "5"}, common...)
		args = append(args, "-secret", "wrong")
		r := run(t, dir, args)
		want(t, r, "connect.failed", 5)
	})
}

func build(t *testing.T, dir, name, pkg string) {
	t.Helper()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
}

func run(t *testing.T, dir string, args []string) *loadgen.Result {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "loadgen"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var r loadgen.Result
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &r); jerr != nil {
		t.Fatalf("loadgen %v: %v / %v\nstdout: %s\nstderr: %s", args, err, jerr, out, stderr.Bytes())
	}
	if r.Failed != "" {
		t.Fatalf("loadgen %s failed: %s\nstderr: %s", args[0], r.Failed, stderr.Bytes())
	}
	return &r
}

func want(t *testing.T, r *loadgen.Result, key string, v float64) {
	t.Helper()
	if got, ok := r.Metrics[key]; !ok || got != v {
		t.Errorf("%s = %v (present %v), want %v; errors %v notes %v", key, got, ok, v, r.Errors, r.Notes)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("%s not listening", addr)
}

// TestEndToEndEmitterInput runs fanout and unicast with -publish emitter
// against notify-wss with EMITTER=on: every message the loadgen publishes
// in the @socket.io/redis-emitter format reaches every member once.
func TestEndToEndEmitterInput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs real processes")
	}
	rs := redistest.Start(t)
	dir := t.TempDir()
	build(t, dir, "loadgen", "github.com/notify-wss/notify-wss/bench/cmd/loadgen")
	build(t, dir, "notify-wss", "github.com/notify-wss/notify-wss/cmd/notify-wss")

	addr, _ := startNotifyWSS(t, dir, rs.URL, "EMITTER=on", "DRAIN_DURATION=0")

	common := []string{"-target", addr, "-redis", rs.Addr, "-secret", "e2e", "-publish", "emitter", "-settle", "2s"}
	t.Run("fanout", func(t *testing.T) {
		r := run(t, dir, append([]string{"fanout", "-n", "40", "-m", "20", "-paced-m", "3", "-paced-rate", "20"}, common...))
		want(t, r, "burst.deliveries", 40*20)
		want(t, r, "paced.deliveries", 40*3)
		for _, k := range []string{"burst.lost", "burst.dups", "paced.lost", "paced.dups", "connect.failed"} {
			want(t, r, k, 0)
		}
		if r.Params["publish"] != "emitter" {
			t.Errorf("params.publish = %v", r.Params["publish"])
		}
	})
	t.Run("unicast", func(t *testing.T) {
		r := run(t, dir, append([]string{"unicast", "-n", "30", "-rate", "200", "-d", "1s"}, common...))
		want(t, r, "unicast.deliveries", 200)
		want(t, r, "unicast.lost", 0)
		want(t, r, "unicast.dups", 0)
	})
}

// startNotifyWSS runs the notify-wss binary built in dir, in production
// mode against redisURL with the secret "e2e" and the extra KEY=VALUE
// settings, and returns its address and pid once it listens.
func startNotifyWSS(t *testing.T, dir, redisURL string, extra ...string) (addr string, pid int) {
	t.Helper()
	port := freePort(t)
	srv := exec.Command(filepath.Join(dir, "notify-wss"))
	srv.Dir = t.TempDir() // no stray .env
	srv.Env = append([]string{"NODE_ENV=production", "REDIS_URL=" + redisURL, "JWT_SECRET=e2e", "HOST=127.0.0.1",
		"PORT=" + strconv.Itoa(port), "LOG_LEVEL=warn"}, extra...)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	addr = "127.0.0.1:" + strconv.Itoa(port)
	waitListening(t, addr)
	return addr, srv.Process.Pid
}

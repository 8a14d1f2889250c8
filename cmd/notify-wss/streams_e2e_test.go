package main

import (
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// publishStreams runs `notify-wss publish` with REDIS_INPUT=streams and
// the given settings from the environment, and returns its output.
func publishStreams(t *testing.T, url, mode, partitions string, args ...string) string {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append([]string{"publish"}, args...)...)
	cmd.Env = append(os.Environ(), "REDIS_URL="+url, "REDIS_MODE="+mode, "REDIS_INPUT=streams", "STREAM_PARTITIONS="+partitions)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("publish %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// addedTo matches publish's report in streams mode.
var addedTo = regexp.MustCompile(`^added (\S+) to (notifications:\{\d+\}) as \d+-\d+: `)

// TestStreamsEndToEnd runs the binary with REDIS_INPUT=streams on a Redis
// with an fsynced AOF: socket.io-client receives what `notify-wss publish`
// XADDs (to the channel's partition), /ready is 503 while Redis is down,
// and what is published as soon as Redis answers again (the server may or
// may not have reconnected yet) is delivered too, in order.
func TestStreamsEndToEnd(t *testing.T) {
	rd := redistest.StartPersistent(t)
	srv := startServer(t, rd.URL, "REDIS_INPUT=streams", "STREAM_PARTITIONS=4")
	d := sioclient.Start(t)
	connect(t, d, "c", srv.URL, wsOnly(userToken(t, "u1")))

	out := publishStreams(t, rd.URL, "standalone", "4", "--user", "u1", "--message", "m1")
	m := addedTo.FindStringSubmatch(out)
	if m == nil || m[1] != "user:notifications:u1" || m[2] != bridge.StreamKey("user:notifications:u1", 4) {
		t.Fatalf("publish said %q", out)
	}
	e := d.Wait("c", "event", "notification", wait)
	if got := decode(t, e.Args[0]).(map[string]any)["message"]; got != "m1" {
		t.Fatalf("got %v", got)
	}

	rd.Stop()
	waitReady(t, srv, http.StatusServiceUnavailable, wait)
	rd.Restart()
	publishStreams(t, rd.URL, "standalone", "4", "--user", "u1", "--message", "m2")
	publishStreams(t, rd.URL, "standalone", "4", "--user", "u1", "--message", "m3")
	waitReady(t, srv, http.StatusOK, wait)
	for i, e := range d.Collect("c", "event", "notification", 2, wait) {
		if got, want := decode(t, e.Args[0]).(map[string]any)["message"], []string{"m2", "m3"}[i]; got != want {
			t.Fatalf("notification %d after the restart: %v, want %v", i, got, want)
		}
	}
	_, body := srv.get("/metrics")
	if !strings.Contains(string(body), `notify_wss_stream_entries_total{phase="live"} 3`) {
		t.Errorf("metrics do not count 3 live entries:\n%s", grepLines(string(body), "notify_wss_stream"))
	}
}

// TestStreamsClusterEndToEnd: in cluster mode the binary reads the
// partitions on every node; `notify-wss publish` XADDs through the cluster
// client to the node owning the channel's partition, and each user gets
// its own notifications, in order.
func TestStreamsClusterEndToEnd(t *testing.T) {
	c := redistest.StartCluster(t)
	srv := startServer(t, c.URL, "REDIS_MODE=cluster", "REDIS_INPUT=streams")
	d := sioclient.Start(t)
	users := []string{"u1", "u2", "u3"}
	for _, u := range users {
		connect(t, d, u, srv.URL, wsOnly(userToken(t, u)))
	}
	keys := map[string]bool{}
	for i := range 2 {
		for _, u := range users {
			m := addedTo.FindStringSubmatch(publishStreams(t, c.URL, "cluster", "8", "--user", u, "--message", u+"-"+strconv.Itoa(i)))
			if m == nil {
				t.Fatal("publish did not say where it added")
			}
			keys[m[2]] = true
		}
	}
	if len(keys) < 2 {
		t.Fatalf("the users' notifications all went to %v", keys)
	}
	for _, u := range users {
		for i, e := range d.Collect(u, "event", "notification", 2, wait) {
			if got, want := decode(t, e.Args[0]).(map[string]any)["message"], u+"-"+strconv.Itoa(i); got != want {
				t.Fatalf("%s got %v, want %v", u, got, want)
			}
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

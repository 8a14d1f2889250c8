package main

import (
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// publishWith runs `notify-wss publish` with REDIS_URL and REDIS_MODE from
// the environment and returns its combined output and error.
func publishWith(t *testing.T, url, mode string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append([]string{"publish"}, args...)...)
	cmd.Env = append(os.Environ(), "REDIS_URL="+url, "REDIS_MODE="+mode)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitReady polls /ready until it answers want, failing after d.
func waitReady(t *testing.T, srv *server, want int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if st, _ := srv.get("/ready"); st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready did not answer %d within %v", want, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSentinelFailoverEndToEnd: the binary in sentinel mode delivers; when
// the master is killed /ready turns 503, and once the sentinel has promoted
// the replica the server is ready again on its own, `notify-wss publish`
// (sentinel mode too) reaches it, and the client gets the notification.
func TestSentinelFailoverEndToEnd(t *testing.T) {
	s := redistest.StartSentinel(t)
	srv := startServer(t, s.URL, "REDIS_MODE=sentinel")
	d := sioclient.Start(t)
	connect(t, d, "c", srv.URL, wsOnly(userToken(t, "u1")))
	if out, err := publishWith(t, s.URL, "sentinel", "--user", "u1", "--message", "before"); err != nil || !strings.Contains(out, "(1 subscriber(s))") {
		t.Fatalf("publish before the failover: %v\n%s", err, out)
	}
	d.Wait("c", "event", "notification", wait)

	killed := time.Now()
	s.Master.Stop()
	waitReady(t, srv, http.StatusServiceUnavailable, wait)
	waitReady(t, srv, http.StatusOK, 30*time.Second)
	ready := time.Since(killed)
	if got := s.MasterAddr(t); got != s.Replica.Addr {
		t.Fatalf("ready again while the sentinel names %s, not the promoted %s", got, s.Replica.Addr)
	}
	// Ready means subscribed on the new master: the first publish counts it.
	out, err := publishWith(t, s.URL, "sentinel", "--user", "u1", "--message", "after")
	if err != nil || !strings.Contains(out, "(1 subscriber(s))") {
		t.Fatalf("publish after the failover: %v\n%s", err, out)
	}
	e := d.Wait("c", "event", "notification", wait)
	if got := decode(t, e.Args[0]).(map[string]any)["message"]; got != "after" {
		t.Fatalf("got %v", got)
	}
	t.Logf("failover: /ready 200 again %v after the master was killed; delivered %v after", ready.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if !strings.Contains(srv.logs.String(), `"node":"`+s.Replica.Addr+`"`) {
		t.Errorf("log does not show the subscription restored on %s", s.Replica.Addr)
	}
}

// TestClusterEndToEnd: the binary in cluster mode delivers what is
// published on each node and what `notify-wss publish` sends in cluster
// mode.
func TestClusterEndToEnd(t *testing.T) {
	c := redistest.StartCluster(t)
	srv := startServer(t, c.URL, "REDIS_MODE=cluster")
	d := sioclient.Start(t)
	connect(t, d, "c", srv.URL, wsOnly(userToken(t, "u1")))
	for i, n := range c.Nodes {
		n.Publish(t, "user:notifications:u1", `{"node":`+string(rune('0'+i))+`}`)
	}
	got := map[float64]bool{}
	for _, e := range d.Collect("c", "event", "notification", len(c.Nodes), wait) {
		got[decode(t, e.Args[0]).(map[string]any)["node"].(float64)] = true
	}
	if !reflect.DeepEqual(got, map[float64]bool{0: true, 1: true, 2: true}) {
		t.Fatalf("notifications from nodes %v, want 0, 1, 2", got)
	}
	if out, err := publishWith(t, c.URL, "cluster", "--user", "u1", "--message", "via cli"); err != nil || !strings.Contains(out, "on the node that took it") {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	e := d.Wait("c", "event", "notification", wait)
	if got := decode(t, e.Args[0]).(map[string]any)["message"]; got != "via cli" {
		t.Fatalf("got %v", got)
	}
}

// TestShardedClusterEndToEnd: the binary with REDIS_SUBSCRIBE=sharded on a
// cluster delivers what `notify-wss publish` SPUBLISHes in the same mode
// (to the master of the channel's slot, whose reply counts the
// subscription), for a user's room and the global one.
func TestShardedClusterEndToEnd(t *testing.T) {
	c := redistest.StartCluster(t)
	srv := startServer(t, c.URL, "REDIS_MODE=cluster", "REDIS_SUBSCRIBE=sharded")
	d := sioclient.Start(t)
	connect(t, d, "c", srv.URL, wsOnly(userToken(t, "u1")))
	d.WaitAck("c", d.EmitAck("c", "join-global-notifications"), wait)
	t.Setenv("REDIS_SUBSCRIBE", "sharded")
	for _, args := range [][]string{{"--user", "u1", "--message", "mine"}, {"--global", "--message", "all"}} {
		out, err := publishWith(t, c.URL, "cluster", args...)
		if err != nil || !strings.Contains(out, "spublished to ") || !strings.Contains(out, "(1 subscriber(s)") {
			t.Fatalf("publish %v: %v\n%s", args, err, out)
		}
	}
	for _, want := range []string{"mine", "all"} {
		e := d.Wait("c", "event", "notification", wait)
		if got := decode(t, e.Args[0]).(map[string]any)["message"]; got != want {
			t.Fatalf("got %v, want %s", got, want)
		}
	}
}

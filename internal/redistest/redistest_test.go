package redistest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

// TestStartPublishStopRestart walks one server through its whole life: it
// answers on its own port (never 6379), PUBLISH reaches a real subscriber,
// Stop makes the port refuse connections and Restart brings it back on the
// same port.
func TestStartPublishStopRestart(t *testing.T) {
	srv := redistest.Start(t)
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if host != "127.0.0.1" || port == "6379" {
		t.Fatalf("Addr = %s: want 127.0.0.1 and not the machine Redis port", srv.Addr)
	}
	if srv.URL != "redis://"+srv.Addr {
		t.Fatalf("URL = %q, want redis://%s", srv.URL, srv.Addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opt, err := redis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ps := c.Subscribe(ctx, "ch")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscribe confirmation
		t.Fatal(err)
	}
	if n := srv.Publish(t, "ch", "hello"); n != 1 {
		t.Fatalf("Publish receivers = %d, want 1", n)
	}
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Channel != "ch" || msg.Payload != "hello" {
		t.Fatalf("got %s/%q, want ch/hello", msg.Channel, msg.Payload)
	}

	srv.Stop()
	if conn, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("port still accepts connections after Stop")
	}
	srv.Stop() // idempotent

	srv.Restart()
	if n := srv.Publish(t, "ch", "again"); n != 0 {
		t.Fatalf("Publish on a fresh server reached %d subscribers, want 0", n)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart on the same address: %v", err)
	}
}

// TestParallelServers starts several servers at once, so the free-port
// picker and the pid check see real contention.
func TestParallelServers(t *testing.T) {
	for i := range 4 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			if n := srv.Publish(t, "nobody", "x"); n != 0 {
				t.Fatalf("server %d: receivers = %d, want 0", i, n)
			}
		})
	}
}

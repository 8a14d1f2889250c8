package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestEmbeddedBroker runs the bridge against StartEmbedded's miniredis: the
// same subscription, confirmations, pattern delivery and health PINGs as
// with redis-server; stopping the broker disconnects the bridge.
func TestEmbeddedBroker(t *testing.T) {
	m, err := startEmbedded("127.0.0.1:0") // StartEmbedded, with the broker at hand
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	url := embeddedURL(m)

	h := startBridge(t, Config{URL: url, HealthInterval: 100 * time.Millisecond})
	h.waitReady(t)

	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	for _, tt := range []struct{ channel, room string }{
		{"user:notifications:1", "user-notifications:1"},
		{"channel:notifications:a:b", "channel-notifications:a:b"},
		{"notifications:all", "global-notifications"},
	} {
		n, err := c.Publish(ctx, tt.channel, `{"embedded":true}`).Result()
		if err != nil || n != 1 {
			t.Fatalf("PUBLISH %s = %d, %v; want 1 receiver", tt.channel, n, err)
		}
		g := h.next(t)
		if g.room != tt.room || string(g.packet) != `42["notification",{"embedded":true}]` {
			t.Fatalf("%s: got %s %s", tt.channel, g.room, g.packet)
		}
	}
	c.Publish(ctx, "user:notifications:1", `{bad`)
	c.Publish(ctx, "user:notifications:1", `{"good":1}`)
	if g := h.next(t); string(g.packet) != `42["notification",{"good":1}]` {
		t.Fatalf("after invalid: %s", g.packet)
	}

	// PING in subscribed mode is answered by miniredis too: six health
	// intervals (three times the silence that drops a connection) pass
	// without a reconnect. The bridge's PINGs are the only commands the
	// broker sees meanwhile.
	base := m.CommandCount()
	eventually(t, "6 health-check PINGs", func() bool { return m.CommandCount() >= base+6 })
	if s := h.b.Stats(); s.Reconnects != 0 || !h.b.Connected() {
		t.Fatalf("health check dropped the embedded connection: %+v", s)
	}

	m.Close()
	eventually(t, "Connected() false after the broker stopped", func() bool { return !h.b.Connected() })
}

func TestStartEmbeddedBadAddr(t *testing.T) {
	if _, _, err := StartEmbedded("256.0.0.1:0"); err == nil {
		t.Fatal("StartEmbedded accepted an invalid address")
	}
}

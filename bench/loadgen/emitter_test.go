package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/bench/internal/wire"
	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// TestEmitterMatchesNpmEmitter checks that -publish emitter sends, byte for
// byte, what the real @socket.io/redis-emitter publishes for
// emitter.to(room).emit("notification", n) with the same notification, on
// the same channel.
func TestEmitterMatchesNpmEmitter(t *testing.T) {
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	sub := rdb.PSubscribe(ctx, emitterChannel+"*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := sub.Channel()
	em := sioclient.StartEmitter(t, rs.Addr)

	tests := []struct {
		channel, room string
		d             wire.Delivery
		pad           int
	}{
		{ChanGlobal, "global-notifications", wire.Delivery{Phase: 3, ID: 17, Seq: 17, SentAt: 1764691200123456}, 200},
		{"user:notifications:42", "user-notifications:42", wire.Delivery{Phase: 1, ID: 70000, Seq: 5, SentAt: 1}, 0},
		{"channel:notifications:news", "channel-notifications:news", wire.Delivery{Phase: 200, ID: 1 << 33, Seq: 300, SentAt: 1 << 40}, 300},
	}
	for _, tc := range tests {
		t.Run(tc.room, func(t *testing.T) {
			// The notification as JSON with its keys in order, for the npm
			// emitter to emit as an object.
			n := wire.AppendDelivery(nil, tc.d, tc.pad)
			pub := em.Emit(sioclient.Emit{Rooms: []string{tc.room}, Event: "notification", Args: []any{json.RawMessage(n)}})
			if pub.Error != "" {
				t.Fatal(pub.Error)
			}
			var got *redis.Message
			select {
			case got = <-msgs:
			case <-ctx.Done():
				t.Fatal("no message from the npm emitter")
			}
			ch, msg, err := newEmitEncoder(tc.pad).encode(tc.channel, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if ch != got.Channel {
				t.Errorf("channel %q, npm emitter used %q", ch, got.Channel)
			}
			if !bytes.Equal(msg, []byte(got.Payload)) {
				t.Errorf("message differs from the npm emitter's:\n got % x\nwant % x", msg, got.Payload)
			}
		})
	}
}

func TestEmitterRoom(t *testing.T) {
	tests := []struct {
		channel, room, err string
	}{
		{ChanGlobal, "global-notifications", ""},
		{"user:notifications:u-7", "user-notifications:u-7", ""},
		{"channel:notifications:9", "channel-notifications:9", ""},
		{"user:notifications:", "", "has no room"},
		{"other", "", "has no room"},
	}
	for _, tc := range tests {
		room, err := emitterRoom(tc.channel)
		if room != tc.room || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("emitterRoom(%q) = %q, %v; want %q, %q", tc.channel, room, err, tc.room, tc.err)
		}
	}
}

func TestNewPublisherRefusesUnknownMode(t *testing.T) {
	_, err := NewPublisher(context.Background(), "127.0.0.1:1", "xadd", 0)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("want %s, %s or %s", PublishPlain, PublishSharded, PublishEmitter)) {
		t.Fatalf("err = %v", err)
	}
}

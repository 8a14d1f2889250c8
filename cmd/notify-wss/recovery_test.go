package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// Connection state recovery end to end, with socket.io-client 4.8: a
// client whose transport drops while numbered streams are published to
// its three rooms gets its socket back (socket.recovered) with every
// notification it missed, none twice, each room in order.

// numbered is a notification of a numbered stream.
type numbered struct {
	Stream string `json:"stream"`
	N      int    `json:"n"`
}

// publishNumbered publishes n numbered notifications to each channel, one
// round every gap (XADD with streams, else PUBLISH), and returns when done
// (or ctx ends). With retry, a failed publish is tried again until ctx
// ends, so that the stream goes on across a Redis restart.
func publishNumbered(ctx context.Context, url string, streams, retry bool, channels map[string]string, n int, gap time.Duration) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	for i := range n {
		for stream, channel := range channels {
			b, _ := json.Marshal(numbered{Stream: stream, N: i})
			for {
				var err error
				if streams {
					_, err = bridge.PublishStream(ctx, c, channel, string(b), 0, 0)
				} else {
					err = c.Publish(ctx, channel, b).Err()
				}
				if err == nil {
					break
				}
				if !retry || ctx.Err() != nil {
					return fmt.Errorf("publish %d to %s: %w", i, channel, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(gap):
		}
	}
	return nil
}

// checkStreams fails unless events hold, for every stream, 0..n-1 once
// each in order.
func checkStreams(t *testing.T, events []sioclient.Event, streams []string, n int) {
	t.Helper()
	next := map[string]int{}
	for _, e := range events {
		var m numbered
		if len(e.Args) == 0 || json.Unmarshal(e.Args[0], &m) != nil {
			t.Fatalf("notification %v: not a numbered one", e)
		}
		if m.N != next[m.Stream] {
			t.Fatalf("stream %s: got %d, want %d (lost, duplicated or out of order)", m.Stream, m.N, next[m.Stream])
		}
		next[m.Stream]++
	}
	for _, s := range streams {
		if next[s] != n {
			t.Errorf("stream %s: %d of %d received", s, next[s], n)
		}
	}
}

func TestRecoveryReplaysWhatWasMissed(t *testing.T) {
	for _, c := range []struct {
		name, transport string
		streams         bool
	}{
		{"websocket", "websocket", false},
		{"polling", "polling", false},
		{"streams-websocket", "websocket", true},
	} {
		transport := c.transport
		t.Run(c.name, func(t *testing.T) {
			input := "REDIS_INPUT=pubsub"
			if c.streams {
				input = "REDIS_INPUT=streams"
			}
			rd, srv, d := env(t, input)
			opts := map[string]any{
				"transports": []string{transport}, "auth": map[string]any{"token": userToken(t, "u1")},
				"reconnectionDelay": 200, "reconnectionDelayMax": 400,
			}
			first := connect(t, d, "c", srv.URL, opts)
			if len(first.Args) != 2 {
				t.Fatalf("connected %v: want the greeting and an offset", first.Args)
			}
			d.WaitAck("c", d.EmitAck("c", "join-global-notifications"), wait)
			d.WaitAck("c", d.EmitAck("c", "join-channel-notifications", "ch1"), wait)
			socketID := d.Events("c")[0].SocketID

			const n = 300
			channels := map[string]string{
				"user": "user:notifications:u1", "channel": "channel:notifications:ch1", "global": "notifications:all",
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			published := make(chan error, 1)
			go func() { published <- publishNumbered(ctx, rd.URL, c.streams, false, channels, n, 3*time.Millisecond) }()

			// Drop the transport three times while the streams flow.
			for drop := range 3 {
				notifications(t, d, "c", 40*(drop+1))
				d.CloseEngine("c")
				d.Wait("c", "disconnect", "", wait)
				e := d.Wait("c", "connect", "", wait)
				if !e.Recovered || e.SocketID != socketID {
					t.Fatalf("reconnect %d: recovered=%v socket %s, want recovered with %s", drop, e.Recovered, e.SocketID, socketID)
				}
			}
			if err := <-published; err != nil {
				t.Fatal(err)
			}
			notifications(t, d, "c", 3*n)
			time.Sleep(300 * time.Millisecond) // for any duplicate to show
			checkStreams(t, notifications(t, d, "c", 3*n), []string{"user", "channel", "global"}, n)
			if body := srv.metrics(); !strings.Contains(body, "notify_wss_recoveries_total 3") {
				t.Errorf("metrics: no 3 recoveries:\n%s", grepLines(body, "recover"))
			}
		})
	}
}

func TestRecoveryFailsForAnOffsetTooOld(t *testing.T) {
	// A room keeps about 2 KiB: 100 notifications push the client's
	// offset out of it.
	rd, srv, d := env(t, "RECOVERY_ROOM_MAX_BYTES=2048")
	opts := map[string]any{
		"transports": []string{"websocket"}, "auth": map[string]any{"token": userToken(t, "u1")},
		"reconnectionDelay": 1500, "reconnectionDelayMax": 1500, "randomizationFactor": 0,
	}
	connect(t, d, "c", srv.URL, opts)
	socketID := d.Events("c")[0].SocketID
	d.CloseEngine("c")
	d.Wait("c", "disconnect", "", wait)
	for i := range 100 {
		rd.Publish(t, "user:notifications:u1", fmt.Sprintf(`{"stream":"user","n":%d}`, i))
	}
	e := d.Wait("c", "connect", "", wait)
	if e.Recovered || e.SocketID == socketID {
		t.Fatalf("reconnect: recovered=%v socket %s (was %s), want a new connection", e.Recovered, e.SocketID, socketID)
	}
	d.Wait("c", "event", "connected", wait)
	d.NoEvent("c", "event", "notification", 300*time.Millisecond)
	if body := srv.metrics(); !strings.Contains(body, `notify_wss_recovery_failures_total{reason="offset too old"} 1`) {
		t.Errorf("metrics: no failed recovery for offset too old:\n%s", grepLines(body, "recover"))
	}
}

func TestRecoveryOff(t *testing.T) {
	rd, srv, d := env(t, "RECOVERY_WINDOW=0")
	opts := map[string]any{
		"transports": []string{"websocket"}, "auth": map[string]any{"token": userToken(t, "u1")},
		"reconnectionDelay": 100, "reconnectionDelayMax": 100,
	}
	if e := connect(t, d, "c", srv.URL, opts); len(e.Args) != 1 {
		t.Fatalf("connected %v: want the greeting alone", e.Args)
	}
	d.CloseEngine("c")
	if e := d.Wait("c", "connect", "", wait); e.Recovered {
		t.Fatal("recovered with RECOVERY_WINDOW=0")
	}
	d.Wait("c", "event", "connected", wait)
	rd.Publish(t, "user:notifications:u1", `{"a":1}`)
	if e := d.Wait("c", "event", "notification", wait); len(e.Args) != 1 {
		t.Fatalf("notification %v: want the payload alone (no offset)", e.Args)
	}
}

// notifications waits until id has received at least n notifications, and
// returns every one received, consumed or not.
func notifications(t *testing.T, d *sioclient.Driver, id string, n int) []sioclient.Event {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		var got []sioclient.Event
		for _, e := range d.Events(id) {
			if e.Ev == "event" && e.Name == "notification" {
				got = append(got, e)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d notifications", id, len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metrics returns the server's /metrics body.
func (s *server) metrics() string {
	_, body := s.get("/metrics")
	return string(body)
}

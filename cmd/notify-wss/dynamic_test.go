package main

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/internal/promtest"
	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// TestDynamicNoGap: with REDIS_SUBSCRIBE=dynamic, a client that has seen
// "connected", or the ack of a join, misses nothing published after it.
// Many clients connect at once (a third of them polling first, then
// upgrading); the moment the test sees a client's "connected" it publishes
// to the client's own channel, and Redis must already count the server as
// a subscriber (PUBLISH's reply says how many got it), and the client must
// receive it. Then each joins a channel room of its own, and the same holds
// for the join's ack. The server reaches Redis through a link with 100 ms of
// latency each way (Redis in another zone), the test directly, so a
// greeting sent before Redis confirmed the subscription is caught.
func TestDynamicNoGap(t *testing.T) {
	const clients = 120
	rd := redistest.Start(t)
	srv := startServer(t, "redis://"+latencyProxy(t, rd.Addr, 100*time.Millisecond), "REDIS_SUBSCRIBE=dynamic")
	d := sioclient.Start(t)
	name := func(i int) string { return "c" + strconv.Itoa(i) }
	user := func(i int) string { return "u" + strconv.Itoa(i) }
	for i := range clients {
		opts := wsOnly(userToken(t, user(i)))
		if i%3 == 0 {
			opts = map[string]any{"auth": map[string]any{"token": userToken(t, user(i))}}
		}
		d.Connect(name(i), srv.URL, opts)
	}

	// publishWhen publishes to channel(i) as soon as client i has an event
	// matching seen, and checks that Redis delivered it to the server.
	publishWhen := func(what string, seen func(e sioclient.Event) bool, channel func(i int) string) {
		t.Helper()
		done := make([]bool, clients)
		deadline := time.Now().Add(30 * time.Second)
		for left := clients; left > 0; {
			for i := range clients {
				if done[i] || !slices.ContainsFunc(d.Events(name(i)), seen) {
					continue
				}
				if n := rd.Publish(t, channel(i), fmt.Sprintf(`{"after":%q}`, what)); n != 1 {
					t.Errorf("%s saw %s, but a PUBLISH right after reached %d subscribers", name(i), what, n)
				}
				done[i] = true
				left--
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d clients never saw %s", left, what)
			}
			time.Sleep(time.Millisecond)
		}
		for i := range clients {
			e := d.Wait(name(i), "event", "notification", wait)
			if got := string(e.Args[0]); got != fmt.Sprintf(`{"after":%q}`, what) {
				t.Errorf("%s: got %s", name(i), got)
			}
		}
	}

	publishWhen("connected",
		func(e sioclient.Event) bool { return e.Ev == "event" && e.Name == "connected" },
		func(i int) string { return "user:notifications:" + user(i) })

	seqs := make([]int, clients)
	for i := range clients {
		seqs[i] = d.EmitAck(name(i), "join-channel-notifications", "ch"+strconv.Itoa(i))
	}
	publishWhen("join ack",
		func(e sioclient.Event) bool { return e.Ev == "ack" && slices.Contains(seqs, e.Seq) },
		func(i int) string { return "channel:notifications:ch" + strconv.Itoa(i) })

	// Each client's user and channel room, and notifications:all.
	st, body := srv.get("/metrics")
	if st != http.StatusOK {
		t.Fatalf("/metrics: %d", st)
	}
	fams := promtest.Parse(t, body)
	if n := fams.Value(t, "notify_wss_redis_subscriptions"); n != 2*clients+1 {
		t.Errorf("notify_wss_redis_subscriptions = %v, want %d", n, 2*clients+1)
	}
	t.Logf("%v SUBSCRIBE commands for %d subscriptions",
		fams.Value(t, "notify_wss_redis_subscribe_commands_total", "command", "subscribe"), 2*clients+1)
}

// latencyProxy forwards TCP connections to addr, delaying every byte by
// delay in each direction, as a distant Redis would; it returns its own
// address. It stops with the test.
func latencyProxy(t *testing.T, addr string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			open = append(open, in, out)
			mu.Unlock()
			wg.Go(func() { delayedCopy(out, in, delay) })
			wg.Go(func() { delayedCopy(in, out, delay) })
		}
	})
	return l.Addr().String()
}

// delayedCopy copies src to dst, each chunk delay after it was read, in
// order; it closes both when either side ends.
func delayedCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

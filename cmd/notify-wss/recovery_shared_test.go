package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/internal/promtest"
	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/sioclient"
)

// Connection state recovery across instances (REDIS_INPUT=streams): the
// clients reach the servers through a TCP proxy, as through a load
// balancer, and the tests move the proxy from one instance to another.

// switchProxy forwards each TCP connection it accepts to its backend of
// the moment, as a load balancer does: connections made before a switch
// stay where they are.
type switchProxy struct {
	URL     string
	l       net.Listener
	backend atomic.Pointer[string] // host:port
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
}

// startProxy starts a proxy to the server at url.
func startProxy(t *testing.T, url string) *switchProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{URL: "http://" + l.Addr().String(), l: l, conns: map[net.Conn]struct{}{}}
	p.to(url)
	go p.serve()
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

// to sends new connections to the server at url.
func (p *switchProxy) to(url string) {
	host := strings.TrimPrefix(url, "http://")
	p.backend.Store(&host)
}

func (p *switchProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

// forward copies between c and a new connection to the backend until
// either side closes.
func (p *switchProxy) forward(c net.Conn) {
	b, err := net.Dial("tcp", *p.backend.Load())
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// sharedClient is one client of the tests below: user u<i>, in its own
// room, the global room and channel room ch<i%2>, over WebSocket (even i)
// or polling (odd i).
type sharedClient struct {
	id, socketID string
	streams      map[string]string // stream name → channel
}

// connectShared connects n clients through url and joins their rooms.
func connectShared(t *testing.T, d *sioclient.Driver, url string, n int) []sharedClient {
	t.Helper()
	out := make([]sharedClient, n)
	for i := range out {
		c := sharedClient{id: fmt.Sprint("c", i), streams: map[string]string{
			"user":    fmt.Sprint("user:notifications:u", i),
			"channel": fmt.Sprint("channel:notifications:ch", i%2),
			"global":  "notifications:all",
		}}
		transport := "websocket"
		if i%2 == 1 {
			transport = "polling"
		}
		opts := map[string]any{
			"transports": []string{transport}, "auth": map[string]any{"token": userToken(t, fmt.Sprint("u", i))},
			"reconnectionDelay": 300, "reconnectionDelayMax": 600,
		}
		connect(t, d, c.id, url, opts)
		d.WaitAck(c.id, d.EmitAck(c.id, "join-global-notifications"), wait)
		d.WaitAck(c.id, d.EmitAck(c.id, "join-channel-notifications", fmt.Sprint("ch", i%2)), wait)
		c.socketID = d.Events(c.id)[0].SocketID
		out[i] = c
	}
	return out
}

// allChannels returns every channel the clients listen to, by a stream
// name that is unique per channel.
func allChannels(clients []sharedClient) map[string]string {
	out := map[string]string{}
	for _, c := range clients {
		for _, ch := range c.streams {
			out[ch] = ch
		}
	}
	return out
}

// streamContents returns, for each channel, the n of every numbered
// notification in the streams, in stream order: what a client in the
// channel's room must receive, exactly. (A publisher whose XADD was
// applied but whose reply was lost to a Redis restart adds it again: the
// stream then holds it twice, and so must the client.)
func streamContents(t *testing.T, url string) map[string][]int {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	out := map[string][]int{}
	for p := range bridge.DefaultPartitions {
		entries, err := c.XRange(context.Background(), bridge.PartitionKey(p), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			var m numbered
			if err := json.Unmarshal([]byte(fmt.Sprint(e.Values[bridge.StreamPayloadField])), &m); err != nil {
				t.Fatalf("stream entry %v: %v", e, err)
			}
			out[m.Stream] = append(out[m.Stream], m.N)
		}
	}
	return out
}

// checkShared fails unless each client recovered with its socket id after
// the cut, and received, for each of its three channels, every entry of
// the streams once, in order; every n of 0..n-1 must be there.
func checkShared(t *testing.T, d *sioclient.Driver, url string, clients []sharedClient, n int) {
	t.Helper()
	for _, c := range clients {
		e := d.Wait(c.id, "connect", "", 2*wait)
		if !e.Recovered || e.SocketID != c.socketID {
			t.Fatalf("%s reconnected: recovered=%v socket %s, want recovered with %s", c.id, e.Recovered, e.SocketID, c.socketID)
		}
	}
	want := streamContents(t, url)
	for ch, ns := range want {
		if seen := slices.Compact(slices.Sorted(slices.Values(ns))); len(seen) != n {
			t.Fatalf("stream of %s holds %d distinct notifications, want %d", ch, len(seen), n)
		}
		if len(ns) != n {
			t.Logf("stream of %s holds %d entries for %d notifications (a publisher retry)", ch, len(ns), n)
		}
	}
	for _, c := range clients {
		total := 0
		for _, ch := range c.streams {
			total += len(want[ch])
		}
		notifications(t, d, c.id, total)
		time.Sleep(100 * time.Millisecond) // for any duplicate to show
		got := map[string][]int{}
		for _, e := range notifications(t, d, c.id, total) {
			var m numbered
			if len(e.Args) == 0 || json.Unmarshal(e.Args[0], &m) != nil {
				t.Fatalf("%s: notification %v: not a numbered one", c.id, e)
			}
			got[m.Stream] = append(got[m.Stream], m.N)
		}
		for _, ch := range c.streams {
			if !slices.Equal(got[ch], want[ch]) {
				t.Errorf("%s, %s: received %v,\nwant the stream's %v", c.id, ch, got[ch], want[ch])
			}
		}
	}
}

func TestRecoveryOnAnotherInstance(t *testing.T) {
	for _, how := range []string{"reconnect", "drain", "crash"} {
		t.Run(how, func(t *testing.T) {
			rd := redistest.Start(t)
			settings := []string{"REDIS_INPUT=streams", "DRAIN_DURATION=1s"}
			a := startServer(t, rd.URL, settings...)
			b := startServer(t, rd.URL, settings...)
			lb := startProxy(t, a.URL)
			d := sioclient.Start(t)
			clients := connectShared(t, d, lb.URL, 4)

			const n = 150
			ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
			defer cancel()
			published := make(chan error, 1)
			go func() {
				published <- publishNumbered(ctx, rd.URL, true, true, allChannels(clients), n, 5*time.Millisecond)
			}()
			notifications(t, d, "c0", 30)

			// Instance A leaves the rotation, then its clients are cut.
			lb.to(b.URL)
			switch how {
			case "reconnect":
				for _, c := range clients {
					d.CloseEngine(c.id)
				}
			case "drain":
				if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			case "crash":
				// No Disconnect runs: the sessions written at connect
				// and join are what instance B finds.
				if err := a.cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range clients {
				d.Wait(c.id, "disconnect", "", wait)
			}
			if err := <-published; err != nil {
				t.Fatal(err)
			}
			checkShared(t, d, rd.URL, clients, n)
			if how == "drain" {
				a.exitsWithin(wait)
			}
			body := b.metrics()
			if got := promtest.Parse(t, []byte(body)).Value(t, "notify_wss_recoveries_total"); got < float64(len(clients)) {
				t.Errorf("instance B's metrics: %v recoveries, want %d:\n%s", got, len(clients), grepLines(body, "recover"))
			}
		})
	}
}

func TestRecoveryAcrossRedisRestart(t *testing.T) {
	rd := redistest.StartPersistent(t)
	srv := startServer(t, rd.URL, "REDIS_INPUT=streams")
	d := sioclient.Start(t)
	clients := connectShared(t, d, srv.URL, 2)

	const n = 150
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	published := make(chan error, 1)
	go func() {
		published <- publishNumbered(ctx, rd.URL, true, true, allChannels(clients), n, 10*time.Millisecond)
	}()
	notifications(t, d, "c0", 30)

	// The clients drop while Redis restarts: their recovery finds Redis
	// away, and goes on once it is back.
	for _, c := range clients {
		d.CloseEngine(c.id)
	}
	rd.Stop()
	time.Sleep(time.Second)
	rd.Restart()
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	checkShared(t, d, rd.URL, clients, n)
}

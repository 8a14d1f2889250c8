package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
	"github.com/notify-wss/notify-wss/internal/syncbuf"
)

// numbered is the payload of the numbered sequences below.
type numbered struct {
	Channel string `json:"ch"`
	Seq     int    `json:"seq"`
}

// delivery is what a streams test records of a delivered (or sequenced)
// message.
type delivery struct {
	room    string
	payload string
	pos     Position
}

// recorder records deliveries; safe from the concurrent readers of the
// cluster mode.
type recorder struct {
	mu  sync.Mutex
	got []delivery
}

func (r *recorder) add(m *Message) {
	p := string(m.Packet())
	p = strings.TrimSuffix(strings.TrimPrefix(p, packetPrefix), packetSuffix)
	r.mu.Lock()
	r.got = append(r.got, delivery{room: m.Room, payload: p, pos: m.Pos})
	r.mu.Unlock()
}

func (r *recorder) deliver(m *Message) {
	r.add(m)
	m.Release()
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *recorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// sequencer is a Sequencer that records every call and delivers what is
// not Backfill, as package notify's does.
type sequencer struct {
	seen recorder
}

func (s *sequencer) Sequence(pos Position, build func(offset []byte) (*Message, error), deliver Deliver) error {
	m, err := build(nil)
	if err != nil {
		return err
	}
	s.seen.add(m)
	if pos.Backfill {
		m.Release()
		return nil
	}
	deliver(m)
	return nil
}

// runStreams starts a streams bridge with fast backoff and returns it and
// its log; Run is stopped (within a second) by t.Cleanup.
func runStreamsBridge(t *testing.T, cfg Config, deliver Deliver) (*Bridge, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	cfg.Input = InputStreams
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), nil))
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 10 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 100 * time.Millisecond
	}
	b, err := New(cfg, deliver)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(time.Second):
			t.Error("Run did not return within 1 s of cancel")
		}
		if b.Connected() {
			t.Error("Connected() after Run returned")
		}
	})
	select {
	case <-b.Ready():
	case <-time.After(failoverWait):
		t.Fatal("streams bridge not ready")
	}
	return b, logs
}

// testChannels are the Redis channels of the numbered sequences: users,
// channels and the global one, spread over the partitions.
func testChannels() []string {
	var chs []string
	for i := range 12 {
		chs = append(chs, fmt.Sprintf("user:notifications:u%d", i))
	}
	for i := range 4 {
		chs = append(chs, fmt.Sprintf("channel:notifications:c%d", i))
	}
	return append(chs, globalChannel)
}

// checkSequence checks that deliveries hold seq 0..n-1 exactly once, each
// in the room of its channel, read from its channel's partition, in
// publication order within each room.
func checkSequence(t *testing.T, got []delivery, n, partitions int) {
	t.Helper()
	seen := make([]bool, n)
	last := map[string]int{}
	for _, d := range got {
		var p numbered
		if err := json.Unmarshal([]byte(d.payload), &p); err != nil {
			t.Fatalf("delivery to %s: %q: %v", d.room, d.payload, err)
		}
		if room, _, _ := RoomFor(p.Channel); room != d.room {
			t.Fatalf("seq %d of %s delivered to %s", p.Seq, p.Channel, d.room)
		}
		if want := StreamPartition(p.Channel, partitions); d.pos.Partition != want || d.pos.ID.IsZero() || d.pos.Backfill {
			t.Fatalf("seq %d of %s at %+v, want partition %d, an id, not backfill", p.Seq, p.Channel, d.pos, want)
		}
		if p.Seq < 0 || p.Seq >= n || seen[p.Seq] {
			t.Fatalf("seq %d delivered twice or out of range", p.Seq)
		}
		seen[p.Seq] = true
		if prev, ok := last[d.room]; ok && prev > p.Seq {
			t.Fatalf("room %s: seq %d after %d", d.room, p.Seq, prev)
		}
		last[d.room] = p.Seq
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("seq %d never delivered (%d of %d)", i, len(got), n)
		}
	}
}

// TestStreamsDeliverEveryMessageOnce publishes a numbered sequence over
// users, channels and the global channel, so over every partition, in each
// Redis mode: every message must come out once, in its room, in order per
// room. In a cluster the partitions live on every node.
func TestStreamsDeliverEveryMessageOnce(t *testing.T) {
	const n, partitions = 600, 8
	for _, mode := range Modes {
		t.Run(string(mode), func(t *testing.T) {
			var url string
			var nodes []*redistest.Server
			switch mode {
			case ModeStandalone:
				srv := redistest.Start(t)
				url, nodes = srv.URL, []*redistest.Server{srv}
			case ModeSentinel:
				s := redistest.StartSentinel(t)
				url, nodes = s.URL, []*redistest.Server{s.Master}
			case ModeCluster:
				c := redistest.StartCluster(t)
				url, nodes = c.URL, c.Nodes
			}
			rec := &recorder{}
			b, _ := runStreamsBridge(t, Config{Mode: mode, URL: url, Streams: StreamsConfig{Partitions: partitions}}, rec.deliver)
			pub := newPublisher(t, mode, url)
			ctx := context.Background()
			chs := testChannels()
			used := map[int]bool{}
			for i := range n {
				ch := chs[i%len(chs)]
				used[StreamPartition(ch, partitions)] = true
				p, _ := json.Marshal(numbered{Channel: ch, Seq: i})
				if _, err := PublishStream(ctx, pub, ch, string(p), partitions, DefaultStreamMaxLen); err != nil {
					t.Fatal(err)
				}
			}
			if len(used) != partitions {
				t.Fatalf("the channels cover %d partitions of %d", len(used), partitions)
			}
			eventually(t, fmt.Sprintf("%d deliveries", n), func() bool { return rec.len() >= n })
			time.Sleep(50 * time.Millisecond) // a duplicate would come right behind
			checkSequence(t, rec.all(), n, partitions)
			if st := b.StreamStats(); st.Read != n || st.Backfilled != 0 || st.Errors != 0 {
				t.Fatalf("StreamStats = %+v", st)
			}
			if mode == ModeCluster {
				// Every node holds some partition the bridge read.
				for i, node := range nodes {
					c := redis.NewClient(&redis.Options{Addr: node.Addr, Protocol: 2})
					keys, err := c.Keys(ctx, "notifications:{*}").Result()
					_ = c.Close()
					if err != nil || len(keys) == 0 {
						t.Fatalf("node %d holds no partition (%v, %v)", i, keys, err)
					}
				}
			}
		})
	}
}

// retryPublisher adds a numbered sequence to the streams through its own
// client without go-redis' retries, retrying each XADD until it succeeds;
// before a retry it checks whether the failed XADD was applied after all
// (the last entry of the partition is it), so that no entry is doubled.
type retryPublisher struct {
	c          *redis.Client
	partitions int
	chs        []string
	failures   int
}

func (p *retryPublisher) publish(seq int) error {
	ch := p.chs[seq%len(p.chs)]
	payload, _ := json.Marshal(numbered{Channel: ch, Seq: seq})
	deadline := time.Now().Add(failoverWait)
	for retry := false; ; retry = true {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := func() error {
			if retry {
				last, err := p.c.XRevRangeN(ctx, StreamKey(ch, p.partitions), "+", "-", 1).Result()
				if err != nil {
					return err
				}
				if len(last) == 1 && last[0].Values[StreamPayloadField] == string(payload) {
					return nil
				}
			}
			_, err := PublishStream(ctx, p.c, ch, string(payload), p.partitions, DefaultStreamMaxLen)
			return err
		}()
		cancel()
		if err == nil {
			return nil
		}
		p.failures++
		if time.Now().After(deadline) {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamsSurviveRedisRestartWithAOF kills Redis (with an fsynced AOF)
// in the middle of a paced numbered sequence and restarts it: the
// publisher retries until its XADDs succeed, and the bridge must resume on
// its own from the last id it read, with nothing lost and nothing doubled.
// The delivery gap is logged.
func TestStreamsSurviveRedisRestartWithAOF(t *testing.T) {
	const n, partitions, killAt = 1000, 4, 300
	srv := redistest.StartPersistent(t)
	var mu sync.Mutex
	var times []time.Time // delivery times
	rec := &recorder{}
	b, _ := runStreamsBridge(t, Config{URL: srv.URL, Streams: StreamsConfig{Partitions: partitions}}, func(m *Message) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		rec.deliver(m)
	})
	pub := &retryPublisher{
		c:          redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2, MaxRetries: -1}),
		partitions: partitions, chs: testChannels(),
	}
	defer pub.c.Close()

	published := make(chan int, n)
	errc := make(chan error, 1)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond) // 500/s
		defer tick.Stop()
		for i := range n {
			<-tick.C
			if err := pub.publish(i); err != nil {
				errc <- err
				return
			}
			published <- i
		}
		errc <- nil
	}()
	for range killAt {
		<-published
	}
	killed := time.Now()
	srv.Stop()
	eventually(t, "Connected() false after Redis died", func() bool { return !b.Connected() })
	srv.Restart()
	restarted := time.Now()
	eventually(t, "Connected() true after the restart", b.Connected)
	up := time.Now()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	eventually(t, fmt.Sprintf("%d deliveries", n), func() bool { return rec.len() >= n })
	time.Sleep(50 * time.Millisecond)
	checkSequence(t, rec.all(), n, partitions)
	if r := b.Stats().Reconnects; r != 1 {
		t.Fatalf("Reconnects = %d, want 1", r)
	}
	mu.Lock()
	var gap time.Duration
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i].Sub(times[i-1]))
	}
	mu.Unlock()
	t.Logf("redis down %v (kill→restarted), reader live %v after the restart; longest delivery gap %v; %d failed XADD attempts retried; 0 lost, 0 doubled",
		restarted.Sub(killed).Round(time.Millisecond), up.Sub(restarted).Round(time.Millisecond), gap.Round(time.Millisecond), pub.failures)
}

// TestStreamsBackfill adds entries before the bridge starts, some within
// its Backfill window and one older: the in-window ones must come out,
// in order, marked Backfill, and never be delivered; the old one is not
// read; what is added after the start is read live and delivered. Without
// a Sequencer nothing backfilled is delivered either.
func TestStreamsBackfill(t *testing.T) {
	const partitions = 2
	srv := redistest.Start(t)
	pub := newPublisher(t, ModeStandalone, srv.URL)
	ctx := context.Background()
	ch := "user:notifications:u1"
	key := StreamKey(ch, partitions)
	now := time.Now().UnixMilli()
	add := func(ago time.Duration, seq int) {
		t.Helper()
		p, _ := json.Marshal(numbered{Channel: ch, Seq: seq})
		id := fmt.Sprintf("%d-0", now-ago.Milliseconds())
		if ago == 0 {
			id = "*"
		}
		err := pub.XAdd(ctx, &redis.XAddArgs{Stream: key, ID: id, Values: []string{StreamChannelField, ch, StreamPayloadField, string(p)}}).Err()
		if err != nil {
			t.Fatal(err)
		}
	}
	add(10*time.Minute, 0) // too old
	add(40*time.Second, 1)
	add(20*time.Second, 2)
	add(10*time.Second, 3)

	t.Run("sequencer", func(t *testing.T) {
		seq := &sequencer{}
		rec := &recorder{}
		b, _ := runStreamsBridge(t, Config{URL: srv.URL, Backfill: time.Minute, Sequencer: seq,
			Streams: StreamsConfig{Partitions: partitions}}, rec.deliver)
		if got := seq.seen.all(); len(got) != 3 {
			t.Fatalf("sequenced %d entries before live, want 3: %+v", len(got), got)
		}
		add(0, 4)
		eventually(t, "the live entry", func() bool { return rec.len() == 1 })
		got := seq.seen.all()
		for i, d := range got {
			var p numbered
			_ = json.Unmarshal([]byte(d.payload), &p)
			if p.Seq != i+1 || d.pos.Backfill != (i < 3) || d.pos.Partition != StreamPartition(ch, partitions) {
				t.Fatalf("sequenced #%d: seq %d at %+v", i, p.Seq, d.pos)
			}
		}
		if d := rec.all()[0]; !strings.Contains(d.payload, `"seq":4`) || d.pos.Backfill {
			t.Fatalf("delivered %+v", d)
		}
		if st := b.StreamStats(); st.Backfilled != 3 || st.Read != 1 {
			t.Fatalf("StreamStats = %+v", st)
		}
		if r := b.Stats().Received[KindUser]; r != 1 {
			t.Fatalf("Received = %d, want 1 (backfill is not counted)", r)
		}
	})
	t.Run("no sequencer", func(t *testing.T) {
		rec := &recorder{}
		b, _ := runStreamsBridge(t, Config{URL: srv.URL, Backfill: time.Minute,
			Streams: StreamsConfig{Partitions: partitions}}, rec.deliver)
		if st := b.StreamStats(); st.Backfilled != 4 { // 1, 2, 3 and 4
			t.Fatalf("StreamStats = %+v, want 4 backfilled", st)
		}
		add(0, 5)
		eventually(t, "the live entry", func() bool { return rec.len() == 1 })
		if d := rec.all()[0]; !strings.Contains(d.payload, `"seq":5`) {
			t.Fatalf("delivered %+v", d)
		}
	})
	t.Run("no backfill", func(t *testing.T) {
		seq := &sequencer{}
		rec := &recorder{}
		b, _ := runStreamsBridge(t, Config{URL: srv.URL, Sequencer: seq,
			Streams: StreamsConfig{Partitions: partitions}}, rec.deliver)
		add(0, 6)
		eventually(t, "the live entry", func() bool { return rec.len() == 1 })
		if got := seq.seen.all(); len(got) != 1 || !strings.Contains(got[0].payload, `"seq":6`) {
			t.Fatalf("sequenced %+v, want only the live entry", got)
		}
		if st := b.StreamStats(); st.Backfilled != 0 {
			t.Fatalf("StreamStats = %+v", st)
		}
	})
}

// TestStreamsNotReadyWhileRedisDown starts a streams bridge before Redis:
// it must not be Connected (so /ready is 503) until its reader is live,
// and must then read what is added.
func TestStreamsNotReadyWhileRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	b, err := New(Config{URL: srv.URL, Input: InputStreams, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(m *Message) { m.Release() })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "failed reads", func() bool { return b.StreamStats().Errors >= 3 })
	if b.Connected() {
		t.Fatal("Connected() with Redis down")
	}
	select {
	case <-b.Ready():
		t.Fatal("Ready closed with Redis down")
	default:
	}
	srv.Restart()
	eventually(t, "Connected() after Redis started", b.Connected)
}

// TestStreamsTrim checks that the bridge trims the partitions it reads to
// the retention, measured on the ids (MINID ~ removes whole nodes only, so
// the stream is made of several).
func TestStreamsTrim(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a trim interval")
	}
	srv := redistest.Start(t)
	pub := newPublisher(t, ModeStandalone, srv.URL)
	ctx := context.Background()
	// Small nodes, so that MINID ~ can drop some.
	if err := pub.ConfigSet(ctx, "stream-node-max-entries", "10").Err(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	b, _ := runStreamsBridge(t, Config{URL: srv.URL, Streams: StreamsConfig{Partitions: 1, Retention: time.Second}}, rec.deliver)
	key := PartitionKey(0)
	old := time.Now().Add(-time.Minute).UnixMilli()
	for i := range 100 { // a minute old: past the retention
		if err := pub.XAdd(ctx, &redis.XAddArgs{Stream: key, ID: fmt.Sprintf("%d-%d", old, i+1),
			Values: []string{StreamChannelField, globalChannel, StreamPayloadField, "1"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := PublishStream(ctx, pub, globalChannel, `{"new":1}`, 1, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "101 deliveries", func() bool { return rec.len() == 101 })
	deadline := time.Now().Add(3 * trimInterval)
	for {
		l, err := pub.XLen(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if l <= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream still holds %d entries; StreamStats %+v", l, b.StreamStats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := b.StreamStats(); st.Trims == 0 || st.TrimErrors != 0 {
		t.Fatalf("StreamStats = %+v", st)
	}
}

func TestStreamPartitionAndKey(t *testing.T) {
	tests := []struct {
		channel    string
		partitions int
		want       string
	}{
		// CRC-32/IEEE("123456789") = 0xCBF43926 = 3421780262.
		{"123456789", 1000, "notifications:{262}"},
		{"123456789", 7, fmt.Sprintf("notifications:{%d}", 3421780262%7)},
		{"notifications:all", 1, "notifications:{0}"},
	}
	for _, tt := range tests {
		if got := StreamKey(tt.channel, tt.partitions); got != tt.want {
			t.Errorf("StreamKey(%q, %d) = %q, want %q", tt.channel, tt.partitions, got, tt.want)
		}
	}
}

func TestParseInput(t *testing.T) {
	for in, want := range map[string]Input{"": InputPubSub, "pubsub": InputPubSub, "streams": InputStreams, "Streams": InputStreams} {
		if got, err := ParseInput(in); err != nil || got != want {
			t.Errorf("ParseInput(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseInput("kafka"); err == nil {
		t.Error("ParseInput(kafka) succeeded")
	}
}

func TestStreamsConfigErrors(t *testing.T) {
	deliver := func(m *Message) { m.Release() }
	for name, cfg := range map[string]Config{
		"dynamic":        {Subscribe: SubscribeDynamic},
		"partitions":     {Streams: StreamsConfig{Partitions: -1}},
		"partitions>max": {Streams: StreamsConfig{Partitions: MaxPartitions + 1}},
		"input":          {Input: "kafka"},
	} {
		cfg.URL = "redis://127.0.0.1:1"
		if cfg.Input == "" {
			cfg.Input = InputStreams
		}
		if _, err := New(cfg, deliver); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestParseStreamID(t *testing.T) {
	id, err := ParseStreamID("1700000000000-7")
	if err != nil || id != (StreamID{1700000000000, 7}) || id.String() != "1700000000000-7" {
		t.Fatalf("ParseStreamID = %v, %v", id, err)
	}
	for _, bad := range []string{"", "1", "1-", "-1", "a-1", "1-2-3"} {
		if _, err := ParseStreamID(bad); err == nil {
			t.Errorf("ParseStreamID(%q) succeeded", bad)
		}
	}
	if (StreamID{1, ^uint64(0)}).next() != (StreamID{2, 0}) {
		t.Error("next does not carry into ms")
	}
}

// TestStreamsOnEmbeddedBroker: the dev mode's miniredis serves the
// commands the streams input uses.
func TestStreamsOnEmbeddedBroker(t *testing.T) {
	url, stop, err := StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pub := newPublisher(t, ModeStandalone, url)
	if _, err := PublishStream(context.Background(), pub, globalChannel, `{"before":1}`, DefaultPartitions, 10); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	b, _ := runStreamsBridge(t, Config{URL: url, Backfill: time.Minute, HealthInterval: 200 * time.Millisecond}, rec.deliver)
	if _, err := PublishStream(context.Background(), pub, globalChannel, `{"after":1}`, DefaultPartitions, 10); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the live entry", func() bool { return rec.len() == 1 })
	if got := rec.all()[0]; got.payload != `{"after":1}` || got.room != GlobalRoom {
		t.Fatalf("delivered %+v", got)
	}
	if st := b.StreamStats(); st.Backfilled != 1 || st.Read != 1 {
		t.Fatalf("StreamStats = %+v", st)
	}
}

// TestStreamsWarnsOfMisroutedEntries: an entry in another partition than
// its channel's (a publisher with another STREAM_PARTITIONS) is delivered,
// and logged once.
func TestStreamsWarnsOfMisroutedEntries(t *testing.T) {
	srv := redistest.Start(t)
	pub := newPublisher(t, ModeStandalone, srv.URL)
	rec := &recorder{}
	_, logs := runStreamsBridge(t, Config{URL: srv.URL, Streams: StreamsConfig{Partitions: 4}}, rec.deliver)
	ch := "user:notifications:u1"
	wrong := PartitionKey((StreamPartition(ch, 4) + 1) % 4)
	for range 2 {
		err := pub.XAdd(context.Background(), &redis.XAddArgs{Stream: wrong, Values: []string{StreamChannelField, ch, StreamPayloadField, "{}"}}).Err()
		if err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "both entries", func() bool { return rec.len() == 2 })
	if n := strings.Count(logs.String(), "same STREAM_PARTITIONS"); n != 1 {
		t.Fatalf("warned %d times, want once", n)
	}
}

// TestStreamsFollowSentinelFailover kills the master under a streams
// bridge in sentinel mode: it must follow the sentinel to the promoted
// replica on its own and resume from its last id there, so that what was
// replicated before the kill is not read twice and what is added after
// the promotion is read once.
func TestStreamsFollowSentinelFailover(t *testing.T) {
	const partitions, before, after = 4, 50, 50
	s := redistest.StartSentinel(t)
	rec := &recorder{}
	b, _ := runStreamsBridge(t, Config{Mode: ModeSentinel, URL: s.URL, Streams: StreamsConfig{Partitions: partitions}}, rec.deliver)
	pub := newPublisher(t, ModeSentinel, s.URL)
	chs := testChannels()
	replicated := true
	add := func(seq int) error {
		ch := chs[seq%len(chs)]
		p, _ := json.Marshal(numbered{Channel: ch, Seq: seq})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := PublishStream(ctx, pub, ch, string(p), partitions, 0); err != nil {
			return err
		}
		if !replicated {
			return nil
		}
		// Replicated before it counts: the kill must not lose it.
		return pub.Do(ctx, "WAIT", 1, 1000).Err()
	}
	for i := range before {
		if err := add(i); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the entries before the kill", func() bool { return rec.len() == before })
	s.Master.Stop()
	replicated = false // the promoted replica has none
	eventually(t, "Connected() false after the kill", func() bool { return !b.Connected() })
	deadline := time.Now().Add(failoverWait)
	for i := before; i < before+after; {
		if err := add(i); err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("seq %d: %v", i, err)
			}
			time.Sleep(50 * time.Millisecond)
			continue // refused while there is no master: not applied
		}
		i++
	}
	if !holdsWithin(failoverWait, func() bool { return rec.len() >= before+after }) {
		t.Fatalf("%d of %d delivered", rec.len(), before+after)
	}
	time.Sleep(50 * time.Millisecond)
	checkSequence(t, rec.all(), before+after, partitions)
	if !b.Connected() {
		t.Fatal("not Connected() after the failover")
	}
}

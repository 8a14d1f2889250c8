package bridge

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The streams input (Config.Input = InputStreams): publishers XADD to one
// of Partitions streams instead of PUBLISHing, and every bridge reads every
// partition with XREAD, from the id it last read. Nothing published while a
// bridge is away from Redis is lost as long as it is still in the stream,
// and the entry ids are the positions connection state recovery needs.

// Input says where the bridge reads notifications from (REDIS_INPUT).
type Input string

const (
	// InputPubSub subscribes to the notification channels (PUBLISH). The
	// default: nothing is kept, a message published while the bridge is
	// disconnected is lost.
	InputPubSub Input = "pubsub"
	// InputStreams reads the partitioned streams (XADD, see StreamKey)
	// with XREAD and resumes from the last entry read after any error.
	InputStreams Input = "streams"
)

// ParseInput reads a REDIS_INPUT value; "" means InputPubSub.
func ParseInput(s string) (Input, error) {
	switch in := Input(strings.ToLower(s)); in {
	case "", InputPubSub:
		return InputPubSub, nil
	case InputStreams:
		return in, nil
	}
	return "", fmt.Errorf("bridge: input %q is not %q or %q", s, InputPubSub, InputStreams)
}

const (
	// DefaultPartitions is the number of streams when
	// StreamsConfig.Partitions is zero: enough for a Redis Cluster of a
	// few masters to share the load, few enough for one XREAD.
	DefaultPartitions = 8
	// MaxPartitions bounds Partitions: every bridge holds one blocking
	// connection per partition in a cluster.
	MaxPartitions = 1024
	// DefaultStreamRetention is how long entries stay in a stream, behind
	// its newest one, when StreamsConfig.Retention is zero: what a bridge
	// cut off from Redis (while Redis stays up) can still catch up on.
	DefaultStreamRetention = 10 * time.Minute
	// DefaultStreamMaxLen is the publishers' cap per partition
	// (XADD MAXLEN ~), a safety net under the time-based trimming.
	DefaultStreamMaxLen = 100_000

	// StreamChannelField and StreamPayloadField are the fields of a stream
	// entry: the Redis channel name the notification would be PUBLISHed
	// on, and its JSON payload.
	StreamChannelField = "channel"
	StreamPayloadField = "payload"

	// streamKeyPrefix + "{p}" is partition p's key.
	streamKeyPrefix = "notifications:"
	// streamReadCount bounds the entries one XREAD or XRANGE returns per
	// stream.
	streamReadCount = 512
	// trimInterval is how often a bridge trims the partitions it read new
	// entries from.
	trimInterval = 5 * time.Second
)

// StreamsConfig configures the streams input.
type StreamsConfig struct {
	// Partitions is the number of streams, notifications:{0} to
	// notifications:{Partitions-1}. Every publisher and every bridge must
	// use the same number. Zero means DefaultPartitions.
	Partitions int
	// Retention is how long entries are kept behind the newest one of their
	// partition: every bridge trims (XTRIM MINID ~) each partition it read
	// from to max(Retention, Config.Backfill) every few seconds, measured on
	// the entry ids (Redis's clock). Zero means DefaultStreamRetention;
	// negative means the bridge never trims (publishers' MAXLEN only).
	Retention time.Duration
}

// StreamPartition returns the partition of a Redis channel's notifications:
// the CRC-32 (IEEE) of the channel name modulo partitions. All of a room's
// notifications go to one partition, so they are read in the order they
// were added.
func StreamPartition(channel string, partitions int) int {
	return int(crc32.ChecksumIEEE([]byte(channel)) % uint32(partitions))
}

// PartitionKey returns partition p's stream key, notifications:{p}. The
// braces are a Redis Cluster hash tag: the slot is that of "p", so the
// partitions spread over the cluster's masters.
func PartitionKey(p int) string {
	return streamKeyPrefix + "{" + strconv.Itoa(p) + "}"
}

// StreamKey returns the stream key a notification for channel is added to.
func StreamKey(channel string, partitions int) string {
	return PartitionKey(StreamPartition(channel, partitions))
}

// PublishStream adds a notification for channel (a pub/sub channel name:
// user:notifications:{id}, channel:notifications:{id} or
// notifications:all) to its partition with XADD, capped at about maxLen
// entries (MAXLEN ~; zero or negative: no cap), and returns the entry id.
func PublishStream(ctx context.Context, c redis.Cmdable, channel, payload string, partitions int, maxLen int64) (string, error) {
	if partitions <= 0 {
		partitions = DefaultPartitions
	}
	key := StreamKey(channel, partitions)
	a := &redis.XAddArgs{
		Stream: key,
		Values: []string{StreamChannelField, channel, StreamPayloadField, payload},
	}
	if maxLen > 0 {
		a.MaxLen, a.Approx = maxLen, true
	}
	id, err := c.XAdd(ctx, a).Result()
	if err != nil {
		return "", fmt.Errorf("bridge: XADD %s: %w", key, err)
	}
	return id, nil
}

// ParseStreamID parses a stream entry id, "<ms>-<seq>".
func ParseStreamID(s string) (StreamID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	if ok {
		m, err1 := strconv.ParseUint(ms, 10, 64)
		q, err2 := strconv.ParseUint(seq, 10, 64)
		if err1 == nil && err2 == nil {
			return StreamID{Ms: m, Seq: q}, nil
		}
	}
	return StreamID{}, fmt.Errorf("bridge: bad stream id %q", s)
}

// String returns the id as Redis writes it, "<ms>-<seq>".
func (id StreamID) String() string {
	return strconv.FormatUint(id.Ms, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// next returns the smallest id after id (XRANGE's start is inclusive).
func (id StreamID) next() StreamID {
	if id.Seq == ^uint64(0) {
		return StreamID{Ms: id.Ms + 1}
	}
	return StreamID{Ms: id.Ms, Seq: id.Seq + 1}
}

// StreamStats describe the streams input.
type StreamStats struct {
	// Read counts entries read live; Backfilled counts entries read at the
	// start for recovery history (Position.Backfill).
	Read, Backfilled uint64
	// Errors counts failed reads: each ends the partition's connection,
	// which resumes from its last id.
	Errors uint64
	// Trims counts XTRIM commands that succeeded; TrimErrors the failed
	// ones.
	Trims, TrimErrors uint64
	// Last is, per partition, the id of the last entry read (or the
	// stream's last id when the bridge started); zero before.
	Last []StreamID
}

// StreamStats returns a snapshot; zero outside the streams input. Safe from
// any goroutine.
func (b *Bridge) StreamStats() StreamStats {
	s := b.streams
	if s == nil {
		return StreamStats{}
	}
	st := StreamStats{
		Read:       s.read.Load(),
		Backfilled: s.backfilled.Load(),
		Errors:     s.errors.Load(),
		Trims:      s.trims.Load(),
		TrimErrors: s.trimErrors.Load(),
		Last:       make([]StreamID, len(s.parts)),
	}
	for i := range s.parts {
		st.Last[i] = StreamID{Ms: s.parts[i].lastMs.Load(), Seq: s.parts[i].lastSeq.Load()}
	}
	return st
}

// streams is the state of the streams input.
type streams struct {
	parts     []partition
	retention time.Duration // negative: no trimming
	block     time.Duration // XREAD BLOCK

	read, backfilled, errors, trims, trimErrors atomic.Uint64

	readers []*reader
	// misrouted is set after the first entry found in a partition its
	// channel does not hash to (a publisher with another Partitions).
	misrouted atomic.Bool
	mu        sync.Mutex // guards up and the readers' everUp
	up        int        // readers positioned and reading
}

// partition is one stream's reading position. pos, backfillEnd and phase
// belong to the one reader goroutine of the partition; lastMs/lastSeq
// mirror pos for StreamStats and the trimmer.
type partition struct {
	key         string
	phase       partPhase
	pos         StreamID // last entry read (or the position read from)
	backfillEnd StreamID // the stream's last id at the start

	lastMs, lastSeq atomic.Uint64
}

// partPhase is how far a partition's reader is.
type partPhase uint8

const (
	unpositioned partPhase = iota // the stream's last id is not known yet
	backfilling                   // reading (pos, backfillEnd] for history
	live                          // reading after pos with XREAD
)

// setPos records the last entry read.
func (p *partition) setPos(id StreamID) {
	p.pos = id
	p.lastMs.Store(id.Ms)
	p.lastSeq.Store(id.Seq)
}

// reader reads a set of partitions with one XREAD: all of them on one
// server (standalone, sentinel), one partition per reader in a cluster
// (every partition is its own slot, and a multi-key command across slots
// is refused with CROSSSLOT even when they share a node).
type reader struct {
	parts  []int
	everUp bool // guarded by streams.mu
}

// newStreams returns the state of the streams input for cfg and t.
func newStreams(cfg Config, t *target) *streams {
	n := cfg.Streams.Partitions
	s := &streams{parts: make([]partition, n), retention: cfg.Streams.Retention, block: cfg.HealthInterval}
	for i := range s.parts {
		s.parts[i].key = PartitionKey(i)
	}
	if s.retention == 0 {
		s.retention = DefaultStreamRetention
	}
	if s.retention > 0 && s.retention < cfg.Backfill {
		s.retention = cfg.Backfill
	}
	if s.block <= 0 {
		s.block = DefaultHealthInterval
	}
	s.readers = s.split(t)
	return s
}

// checkStreams validates the streams settings of cfg (defaults applied).
func checkStreams(cfg Config) error {
	if cfg.Input != InputStreams {
		return nil
	}
	if cfg.Subscribe != "" && cfg.Subscribe != SubscribePattern {
		return fmt.Errorf("bridge: subscribe mode %s does not apply to the streams input (every bridge reads every partition)", cfg.Subscribe)
	}
	if cfg.Streams.Partitions < 1 || cfg.Streams.Partitions > MaxPartitions {
		return fmt.Errorf("bridge: %d stream partitions: want 1 to %d", cfg.Streams.Partitions, MaxPartitions)
	}
	return nil
}

// split splits the partitions into readers for the target.
func (s *streams) split(t *target) []*reader {
	if t.cluster != nil {
		rs := make([]*reader, len(s.parts))
		for p := range rs {
			rs[p] = &reader{parts: []int{p}}
		}
		return rs
	}
	all := &reader{}
	for p := range s.parts {
		all.parts = append(all.parts, p)
	}
	return []*reader{all}
}

// runStreams is Run for the streams input: a goroutine per reader, each
// reconnecting on its own, and one trimming.
func (b *Bridge) runStreams(ctx context.Context) error {
	s := b.streams
	var wg sync.WaitGroup
	for _, r := range s.readers {
		wg.Go(func() { b.runReader(ctx, r) })
	}
	if s.retention > 0 {
		wg.Go(func() { b.trimLoop(ctx) })
	}
	wg.Wait()
	b.connected.Store(false)
	return nil
}

// runReader runs a reader's connections until ctx is done, with Run's
// backoff between them.
func (b *Bridge) runReader(ctx context.Context, r *reader) {
	backoff := b.cfg.MinBackoff
	for {
		wasUp, err := b.readSession(ctx, r)
		if wasUp {
			b.readerDown()
		}
		if ctx.Err() != nil {
			return
		}
		b.streams.errors.Add(1)
		if wasUp {
			backoff = b.cfg.MinBackoff
		}
		wait := jitter(backoff)
		b.log.Warn("redis stream reader down; resuming from the last id read",
			slog.String("url", b.url), slog.String("streams", b.streamNames(r)),
			slog.Any("err", err), slog.Duration("retry_in", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, b.cfg.MaxBackoff)
	}
}

// streamNames lists a reader's keys for logs.
func (b *Bridge) streamNames(r *reader) string {
	keys := make([]string, len(r.parts))
	for i, p := range r.parts {
		keys[i] = b.streams.parts[p].key
	}
	return strings.Join(keys, ",")
}

// readSession runs one connection of a reader: it positions the partitions
// not positioned yet (reading the backfill), then XREADs after the last id
// of each until an error or ctx is done. Each session has its own client,
// whose connections are closed when it ends, so a read blocked in XREAD
// never outlives it; it reports whether the reader became live.
func (b *Bridge) readSession(runCtx context.Context, r *reader) (wasUp bool, err error) {
	conns := &connSet{}
	ctx := withConnSet(runCtx, conns)
	client := b.target.newReaderClient()
	installHook(client, sessionConns{conns})
	stopCancelWatch := context.AfterFunc(runCtx, conns.closeAll)
	defer func() {
		stopCancelWatch()
		conns.closeAll()
		_ = client.Close()
	}()

	if err := b.position(ctx, client, r); err != nil {
		return false, err
	}
	b.readerUp(r, conns.remote())
	s := b.streams
	args := make([]string, 2*len(r.parts))
	for i, p := range r.parts {
		args[i] = s.parts[p].key
	}
	for {
		for i, p := range r.parts {
			args[len(r.parts)+i] = s.parts[p].pos.String()
		}
		res, err := client.XRead(ctx, &redis.XReadArgs{Streams: args, Count: streamReadCount, Block: s.block}).Result()
		if errors.Is(err, redis.Nil) {
			continue // the block timed out: idle, and the connection answers
		}
		if err != nil {
			return true, fmt.Errorf("bridge: xread: %w", err)
		}
		now := time.Now()
		for _, st := range res {
			p := r.partOf(s, st.Stream)
			if p < 0 {
				return true, fmt.Errorf("bridge: xread: reply for unknown stream %q", st.Stream)
			}
			for _, m := range st.Messages {
				b.entry(p, m, false, now)
			}
		}
	}
}

// newReaderClient is newClient without go-redis' command retries: a read
// that fails ends the session at once (Connected false, logged, counted),
// and the next one resumes from the ids, through a fresh client (the
// sentinels' current master, the cluster's current slot map). Cluster
// redirections (MOVED, ASK) are still followed.
func (t *target) newReaderClient() redis.UniversalClient {
	switch {
	case t.failover != nil:
		o := *t.failover
		o.MaxRetries = -1
		return redis.NewFailoverClient(&o)
	case t.cluster != nil:
		o := *t.cluster
		o.MaxRetries = -1
		return redis.NewClusterClient(&o)
	default:
		o := *t.standalone
		o.MaxRetries = -1
		return redis.NewClient(&o)
	}
}

// sessionConns is a go-redis hook that records every connection its
// client dials (one client per reader session, so every one is the
// session's), whatever context go-redis dials it under: the pool may dial
// in the background, not under the context of the command that waits.
type sessionConns struct{ set *connSet }

// DialHook records the connection, or closes it when the session is over.
func (h sessionConns) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if !h.set.add(c) {
			return nil, errSessionClosed
		}
		return c, nil
	}
}

// ProcessHook passes commands through.
func (sessionConns) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

// ProcessPipelineHook passes pipelines through.
func (sessionConns) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// installHook adds h to c, or to every node of a cluster client as go-redis
// creates them.
func installHook(c redis.UniversalClient, h redis.Hook) {
	switch c := c.(type) {
	case *redis.ClusterClient:
		c.OnNewNode(func(node *redis.Client) { node.AddHook(h) })
	case *redis.Client:
		c.AddHook(h)
	}
}

// partOf returns the partition of key among r's, or -1.
func (r *reader) partOf(s *streams, key string) int {
	for _, p := range r.parts {
		if s.parts[p].key == key {
			return p
		}
	}
	return -1
}

// position makes every partition of r live: at the first start it reads
// the stream's last id and, with a Backfill, the entries from
// now-Backfill up to it; a backfill cut short by an error resumes after
// the last entry it handed over.
func (b *Bridge) position(ctx context.Context, c redis.UniversalClient, r *reader) error {
	s := b.streams
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("bridge: ping: %w", err)
	}
	for _, p := range r.parts {
		part := &s.parts[p]
		if part.phase == unpositioned {
			last, err := lastID(ctx, c, part.key)
			if err != nil {
				return err
			}
			part.backfillEnd = last
			if b.cfg.Backfill <= 0 || last.IsZero() {
				part.setPos(last)
				part.phase = live
				continue
			}
			now, err := c.Time(ctx).Result()
			if err != nil {
				return fmt.Errorf("bridge: time: %w", err)
			}
			from := uint64(max(now.Add(-b.cfg.Backfill).UnixMilli(), 0))
			// pos is "just before from": from-0 itself is read.
			part.pos = StreamID{Ms: from}
			if from > 0 {
				part.pos = StreamID{Ms: from - 1, Seq: ^uint64(0)}
			}
			part.phase = backfilling
		}
		if part.phase == backfilling {
			if err := b.backfill(ctx, c, p); err != nil {
				return err
			}
			part.setPos(part.backfillEnd)
			part.phase = live
		}
	}
	return nil
}

// lastID returns the id of key's last entry, 0-0 when it is empty or
// missing.
func lastID(ctx context.Context, c redis.UniversalClient, key string) (StreamID, error) {
	msgs, err := c.XRevRangeN(ctx, key, "+", "-", 1).Result()
	if err != nil {
		return StreamID{}, fmt.Errorf("bridge: XREVRANGE %s: %w", key, err)
	}
	if len(msgs) == 0 {
		return StreamID{}, nil
	}
	return ParseStreamID(msgs[0].ID)
}

// backfill hands partition p's entries after its pos up to its
// backfillEnd to handle, marked Backfill.
func (b *Bridge) backfill(ctx context.Context, c redis.UniversalClient, p int) error {
	part := &b.streams.parts[p]
	for part.pos.Less(part.backfillEnd) {
		msgs, err := c.XRangeN(ctx, part.key, part.pos.next().String(), part.backfillEnd.String(), streamReadCount).Result()
		if err != nil {
			return fmt.Errorf("bridge: XRANGE %s: %w", part.key, err)
		}
		if len(msgs) == 0 {
			return nil
		}
		now := time.Now()
		for _, m := range msgs {
			b.entry(p, m, true, now)
		}
	}
	return nil
}

// entry handles one stream entry of partition p and records its id.
func (b *Bridge) entry(p int, m redis.XMessage, backfill bool, now time.Time) {
	s := b.streams
	id, err := ParseStreamID(m.ID)
	if err != nil {
		// Redis never sends one; skipping it would lose the position.
		b.log.Error("stream entry with a bad id", slog.String("stream", s.parts[p].key), slog.String("id", m.ID))
		return
	}
	if backfill {
		s.backfilled.Add(1)
	} else {
		s.read.Add(1)
	}
	channel, ok1 := m.Values[StreamChannelField].(string)
	payload, ok2 := m.Values[StreamPayloadField].(string)
	if ok1 && ok2 {
		if want := StreamPartition(channel, len(s.parts)); want != p && !s.misrouted.Swap(true) {
			b.log.Warn("stream entry in another partition than its channel's: do the publishers use the same STREAM_PARTITIONS? Entries in partitions past ours are never read",
				slog.String("stream", s.parts[p].key), slog.String("id", m.ID),
				slog.String("channel", channel), slog.String("expected", s.parts[want].key))
		}
		b.handle(channel, payload, Position{Partition: p, ID: id, Backfill: backfill}, now)
	} else {
		b.dropped.Add(1)
		if b.log.Enabled(context.Background(), slog.LevelDebug) {
			b.log.Debug("dropping stream entry without channel and payload fields",
				slog.String("stream", s.parts[p].key), slog.String("id", m.ID))
		}
	}
	s.parts[p].setPos(id)
}

// readerUp records that r is positioned and reading; the bridge is
// Connected once every reader is.
func (b *Bridge) readerUp(r *reader, node string) {
	s := b.streams
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up++
	if r.everUp {
		b.reconnects.Add(1)
		b.log.Info("redis stream reader restored", slog.String("url", b.url), slog.String("streams", b.streamNames(r)), slog.String("node", node))
	} else {
		r.everUp = true
		b.log.Info("redis stream reader live", slog.String("url", b.url), slog.String("streams", b.streamNames(r)), slog.String("node", node))
	}
	if s.up == len(s.readers) {
		b.connected.Store(true)
		b.readyOnce.Do(func() { close(b.ready) })
	}
}

// readerDown records that a reader lost its connection.
func (b *Bridge) readerDown() {
	s := b.streams
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up--
	b.connected.Store(false)
}

// trimLoop trims every trimInterval each partition that was read from since
// its last trim, to the entries at most retention older than the newest
// one read (XTRIM MINID ~: Redis removes whole nodes only, so it is cheap
// and keeps a little more).
func (b *Bridge) trimLoop(ctx context.Context) {
	s := b.streams
	conns := &connSet{}
	client := b.target.newClient()
	installHook(client, sessionConns{conns})
	stopCancelWatch := context.AfterFunc(ctx, conns.closeAll)
	defer func() {
		stopCancelWatch()
		conns.closeAll()
		_ = client.Close()
	}()
	trimmed := make([]uint64, len(s.parts)) // newest ms at the last trim
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for p := range s.parts {
			newest := s.parts[p].lastMs.Load()
			keep := uint64(s.retention.Milliseconds())
			if newest == trimmed[p] || newest <= keep {
				continue
			}
			tctx, cancel := context.WithTimeout(ctx, trimInterval)
			err := client.XTrimMinIDApprox(tctx, s.parts[p].key, StreamID{Ms: newest - keep}.String(), 0).Err()
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.trimErrors.Add(1)
				b.log.Warn("redis stream trim failed", slog.String("stream", s.parts[p].key), slog.Any("err", err))
				continue
			}
			s.trims.Add(1)
			trimmed[p] = newest
		}
	}
}

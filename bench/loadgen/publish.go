package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/bench/internal/wire"
)

// Redis channels the servers subscribe to (the product contract).
const (
	ChanGlobal     = "notifications:all"
	chanUserPrefix = "user:notifications:"
)

// pipelineChunk is how many PUBLISHes go in one round trip when sending back
// to back: enough to hide the round trip, small enough that the first
// message of a chunk is not stamped long before it leaves.
const pipelineChunk = 32

// Publisher stamps and publishes benchmark messages. Not safe for
// concurrent use.
type Publisher struct {
	rdb     redis.UniversalClient
	sharded bool // SPUBLISH instead of PUBLISH
	pad     int
	buf     []byte
	emit    *emitEncoder // non-nil in PublishEmitter mode
}

// NewPublisher connects to Redis at addrs ("ip:port", or several
// comma-separated: a cluster's nodes, reached through a cluster client).
// mode is PublishPlain, PublishSharded (SPUBLISH, for servers with
// REDIS_SUBSCRIBE=sharded: a cluster client sends each to the master of
// its channel's slot, pipelines split per master) or PublishEmitter. pad
// is the filler length of every message.
func NewPublisher(ctx context.Context, addrs, mode string, pad int) (*Publisher, error) {
	p := &Publisher{pad: pad, sharded: mode == PublishSharded}
	switch mode {
	case "", PublishPlain, PublishSharded:
	case PublishEmitter:
		p.emit = newEmitEncoder(pad)
	default:
		return nil, fmt.Errorf("loadgen: -publish %q: want %s, %s or %s", mode, PublishPlain, PublishSharded, PublishEmitter)
	}
	if list := splitList(addrs); len(list) > 1 {
		p.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: list, PoolSize: 2, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
	} else {
		p.rdb = redis.NewClient(&redis.Options{Addr: addrs, PoolSize: 2, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
	}
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		p.rdb.Close()
		return nil, fmt.Errorf("loadgen: redis %s: %w", addrs, err)
	}
	return p, nil
}

// message is what to publish for d on the product channel: the JSON there,
// or the emitter's message on its room channel.
func (p *Publisher) message(channel string, d wire.Delivery) (string, []byte, error) {
	if p.emit != nil {
		return p.emit.encode(channel, d)
	}
	p.buf = wire.AppendDelivery(p.buf[:0], d, p.pad)
	return channel, p.buf, nil
}

// publish sends one message on c (the client or a pipeline), PUBLISH or
// SPUBLISH.
func (p *Publisher) publish(ctx context.Context, c redis.Cmdable, channel string, msg any) *redis.IntCmd {
	if p.sharded {
		return c.SPublish(ctx, channel, msg)
	}
	return c.Publish(ctx, channel, msg)
}

// Close closes the Redis connection.
func (p *Publisher) Close() error { return p.rdb.Close() }

// SetPad changes the filler length for later messages.
func (p *Publisher) SetPad(pad int) {
	p.pad = pad
	if p.emit != nil {
		p.emit = newEmitEncoder(pad)
	}
}

// Subscribers returns how many subscriptions each channel has (pattern
// subscriptions are not counted by Redis here; sharded ones are, with
// -publish sharded).
func (p *Publisher) Subscribers(ctx context.Context, channel string) (int64, error) {
	numsub := p.rdb.PubSubNumSub
	if p.sharded {
		numsub = p.rdb.PubSubShardNumSub
	}
	m, err := numsub(ctx, channel).Result()
	if err != nil {
		return 0, fmt.Errorf("loadgen: PUBSUB NUMSUB: %w", err)
	}
	return m[channel], nil
}

// Warm publishes one warm-up message (phase 0) to the global channel and
// returns how many server subscriptions received it.
func (p *Publisher) Warm(ctx context.Context) (int64, error) {
	ch, msg, err := p.message(ChanGlobal, wire.Delivery{SentAt: nowNano()})
	if err != nil {
		return 0, err
	}
	n, err := p.publish(ctx, p.rdb, ch, msg).Result()
	if err != nil {
		return 0, fmt.Errorf("loadgen: publish warm-up: %w", err)
	}
	return n, nil
}

// Route picks the channel and stream sequence number of message id.
type Route func(id int) (channel string, seq int64)

// Broadcast routes every message to the global room, seq = id.
func Broadcast(id int) (string, int64) { return ChanGlobal, int64(id) }

// Send publishes count messages of phase, routed by route. With rate 0 they
// go back to back (pipelined); otherwise message k is due k/rate seconds
// after the start. It returns each message's send stamp and the smallest
// receiver count Redis reported for any PUBLISH.
func (p *Publisher) Send(ctx context.Context, phase int64, count int, rate float64, route Route) (sentAt []int64, minRecv int64, err error) {
	sentAt = make([]int64, count)
	minRecv = -1
	start := time.Now()
	for id := 0; id < count; {
		n := min(pipelineChunk, count-id)
		if rate > 0 {
			due := int(time.Since(start).Seconds()*rate) + 1
			if due <= id {
				wait := time.Duration(float64(id)/rate*float64(time.Second)) - time.Since(start)
				select {
				case <-ctx.Done():
					return sentAt[:id], minRecv, ctx.Err()
				case <-time.After(wait):
				}
				continue
			}
			n = min(n, due-id)
		}
		pipe := p.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, n)
		for k := range n {
			ch, seq := route(id + k)
			now := nowNano()
			sentAt[id+k] = now
			ch, msg, err := p.message(ch, wire.Delivery{Phase: phase, ID: int64(id + k), Seq: seq, SentAt: now})
			if err != nil {
				return sentAt[:id], minRecv, err
			}
			cmds[k] = p.publish(ctx, pipe, ch, string(msg))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return sentAt[:id], minRecv, fmt.Errorf("loadgen: publish: %w", err)
		}
		for _, c := range cmds {
			if r := c.Val(); minRecv < 0 || r < minRecv {
				minRecv = r
			}
		}
		id += n
	}
	return sentAt, minRecv, nil
}

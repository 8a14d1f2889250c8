package main

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/bench/internal/wire"
)

// Channels of the product contract.
const (
	chanGlobal  = "notifications:all"
	patUser     = "user:notifications:*"
	patChannel  = "channel:notifications:*"
	userPrefix  = "user:notifications:"
	eventPrefix = `42["notification",`
)

// subscription is the Redis subscriber; Close stops it.
type subscription struct {
	rdb *redis.Client
	ps  *redis.PubSub
}

func (s *subscription) Close() {
	_ = s.ps.Close()
	_ = s.rdb.Close()
}

// subscribe subscribes to the product channels and relays every message to
// srv until ctx ends.
func subscribe(ctx context.Context, url string, srv *server) (*subscription, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("floor: REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	ps := rdb.Subscribe(ctx, chanGlobal)
	if err := ps.PSubscribe(ctx, patUser, patChannel); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("floor: psubscribe: %w", err)
	}
	if _, err := ps.Receive(ctx); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("floor: subscribe: %w", err)
	}
	go func() {
		for {
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.Printf("redis: %v", err)
				}
				return
			}
			srv.relay(msg.Channel, msg.Payload)
		}
	}()
	return &subscription{rdb: rdb, ps: ps}, nil
}

// relay builds the notification frame once and queues it: to every loop
// for the global channel, to the user's connection for a user channel.
// Channel rooms are not modelled by the floor.
func (s *server) relay(channel, payload string) {
	frame := make([]byte, 0, len(payload)+len(eventPrefix)+11)
	body := append(append([]byte(eventPrefix), payload...), ']')
	frame = wire.AppendServerFrame(frame, wire.OpText, body)
	switch {
	case channel == chanGlobal:
		for _, sh := range *s.shards.Load() {
			sh.enqueue(entry{frame: frame})
		}
	case strings.HasPrefix(channel, userPrefix):
		if v, ok := s.users.Load(channel[len(userPrefix):]); ok {
			f := v.(*fconn)
			f.sh.enqueue(entry{frame: frame, to: f})
		}
	}
}

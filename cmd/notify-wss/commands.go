package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/notify"
)

// settingValue returns a setting from the environment or .env, or its
// default, for the subcommands' flag defaults (a bad .env leaves defaults).
func settingValue(env string) string {
	values, err := settingValues(".env")
	if err != nil {
		return ""
	}
	return values[env]
}

// tokenCommand mints a client token.
func tokenCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("notify-wss token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	userID := fs.String("user", "", "userId claim (required)")
	channel := fs.String("channel", "", "channelId claim")
	name := fs.String("name", "", "displayName claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime; 0 for a token that never expires")
	secret := fs.String("jwt-secret", settingValue("JWT_SECRET"), "HS256 secret (env JWT_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *userID == "" {
		return errors.New("token: --user is required")
	}
	if *secret == "" {
		return errors.New("token: JWT_SECRET is not set (the dev server prints a ready token instead)")
	}
	if *name == "" {
		*name = *userID
	}
	t, err := notify.MintToken(*secret, notify.User{ID: *userID, DisplayName: *name, ChannelID: *channel}, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, t)
	return nil
}

// publishCommand publishes one notification, shaped as the notify-worker
// sends them, to the configured Redis: PUBLISH, SPUBLISH with
// REDIS_SUBSCRIBE=sharded, or XADD to its partition with
// REDIS_INPUT=streams.
func publishCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("notify-wss publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	userID := fs.String("user", "", "send to this user's room")
	channel := fs.String("channel", "", "send to this channel's room")
	global := fs.Bool("global", false, "send to everyone in the global room")
	typ := fs.String("type", "TIP", "notification type: TIP, FOLLOW, SUBSCRIPTION, …")
	data := fs.String("data", "", "JSON object for the notification's data field")
	message := fs.String("message", "", "human-readable message")
	url := fs.String("redis-url", settingValue("REDIS_URL"), "Redis URL (env REDIS_URL)")
	modeName := fs.String("redis-mode", settingValue("REDIS_MODE"), "standalone, sentinel or cluster (env REDIS_MODE)")
	subscribeName := fs.String("redis-subscribe", settingValue("REDIS_SUBSCRIBE"), "pattern or dynamic (PUBLISH), sharded (SPUBLISH); ignored with streams (env REDIS_SUBSCRIBE)")
	inputName := fs.String("redis-input", settingValue("REDIS_INPUT"), "pubsub (PUBLISH) or streams (XADD to the channel's partition) (env REDIS_INPUT)")
	partitions := fs.Int("stream-partitions", atoiOr(settingValue("STREAM_PARTITIONS"), bridge.DefaultPartitions), "number of streams, with streams (env STREAM_PARTITIONS)")
	maxLen := fs.Int64("stream-maxlen", int64(atoiOr(settingValue("STREAM_MAXLEN"), bridge.DefaultStreamMaxLen)), "cap each stream at about this many entries, with streams; 0: no cap (env STREAM_MAXLEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	input, err := bridge.ParseInput(*inputName)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	subscribe, err := bridge.ParseSubscribeMode(*subscribeName)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if input == bridge.InputStreams && (*partitions < 1 || *partitions > bridge.MaxPartitions) {
		return fmt.Errorf("publish: --stream-partitions %d is not between 1 and %d", *partitions, bridge.MaxPartitions)
	}
	targets := 0
	var redisChannel string
	if *userID != "" {
		targets++
		redisChannel = "user:notifications:" + *userID
	}
	if *channel != "" {
		targets++
		redisChannel = "channel:notifications:" + *channel
	}
	if *global {
		targets++
		redisChannel = "notifications:all"
	}
	if targets != 1 {
		return errors.New("publish: give exactly one of --user, --channel or --global")
	}
	if *url == "" {
		return errors.New("publish: REDIS_URL is not set")
	}
	mode, err := bridge.ParseMode(*modeName)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	payload, err := notificationJSON(*typ, *userID, *channel, *message, *data)
	if err != nil {
		return err
	}
	// The bridge's own client: the master the sentinels name, or any node
	// of a cluster (PUBLISH is broadcast to every node).
	rdb, err := bridge.NewClient(mode, *url)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if input == bridge.InputStreams {
		// Its partition's stream: on the node owning its slot in a cluster.
		id, err := bridge.PublishStream(ctx, rdb, redisChannel, string(payload), *partitions, *maxLen)
		if err != nil {
			return fmt.Errorf("publish to %s: %w", redisChannel, err)
		}
		fmt.Fprintf(stdout, "added %s to %s as %s: %s\n", redisChannel, bridge.StreamKey(redisChannel, *partitions), id, payload)
		return nil
	}
	verb, publish := "published", rdb.Publish
	if subscribe == bridge.SubscribeSharded {
		// A shard channel: on the master serving its slot in a cluster.
		verb, publish = "spublished", rdb.SPublish
	}
	n, err := publish(ctx, redisChannel, payload).Result()
	if err != nil {
		return fmt.Errorf("%s to %s: %w", verb, redisChannel, err)
	}
	where := ""
	if mode == bridge.ModeCluster {
		where = " on the node that took it"
	}
	fmt.Fprintf(stdout, "%s to %s (%d subscriber(s)%s): %s\n", verb, redisChannel, n, where, payload)
	return nil
}

// atoiOr returns s as a number, or def when it is not one.
func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// notificationJSON builds a notification: id, type, target, data, timestamp.
func notificationJSON(typ, userID, channelID, message, data string) ([]byte, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	n := map[string]any{
		"id":        hex.EncodeToString(id[:]),
		"type":      typ,
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if userID != "" {
		n["userId"] = userID
	}
	if channelID != "" {
		n["channelId"] = channelID
	}
	if message != "" {
		n["message"] = message
	}
	if data != "" {
		var d any
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return nil, fmt.Errorf("publish: --data is not JSON: %w", err)
		}
		n["data"] = d
	}
	return json.Marshal(n)
}

// healthcheckCommand asks the local server's /ready; for HEALTHCHECK in
// images that have no curl.
func healthcheckCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("notify-wss healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 0, "port of the local server (default: PORT)")
	path := fs.String("path", "/ready", "path to ask")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *port == 0 {
		p, err := strconv.Atoi(settingValue("PORT"))
		if err != nil {
			return fmt.Errorf("healthcheck: PORT: %w", err)
		}
		*port = p
	}
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(*port) + *path)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: %s", resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return nil
}

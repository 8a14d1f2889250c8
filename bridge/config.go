package bridge

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	// DefaultMinBackoff is the first pause after a failed or lost
	// subscription: short enough that a quick Redis restart or failover
	// loses little, long enough not to spin on a refused port.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff caps the doubling, so a Redis that is down for
	// minutes is retried every few seconds, not every few minutes.
	DefaultMaxBackoff = 5 * time.Second
	// DefaultHealthInterval is how often an idle subscription is PINGed.
	// A connection silent for two intervals (no message, no PONG) is
	// declared dead, which catches half-open TCP (Redis host gone without a
	// FIN) in 20–30 s instead of the kernel's keepalive minutes.
	DefaultHealthInterval = 10 * time.Second
)

// Config configures a Bridge.
type Config struct {
	// URL is the redis:// or rediss:// URL in the go-redis syntax of Mode:
	// redis://:password@host:6379/0 for standalone,
	// redis://sentinel1:26379?master_name=mymaster&addr=sentinel2:26379 for
	// sentinel, redis://node1:7000?addr=node2:7001 for cluster (see the
	// Mode constants). Required. Passwords are redacted in logs and errors.
	URL string
	// Mode says how URL reaches Redis. Zero value means ModeStandalone.
	Mode Mode
	// Logger receives connection state changes and dropped messages.
	// Nil means slog.Default().
	Logger *slog.Logger
	// MinBackoff is the first reconnect delay; it doubles up to MaxBackoff
	// and each wait is jittered into [d/2, d]. Zero means DefaultMinBackoff.
	MinBackoff time.Duration
	// MaxBackoff caps the reconnect delay. Zero means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// HealthInterval is how often the subscription is PINGed; two intervals
	// without any reply drop the connection and reconnect. Zero means
	// DefaultHealthInterval; negative disables the check (a dead peer is then
	// noticed only by TCP).
	HealthInterval time.Duration
	// OnWritten, when set, is called once per notification that some member
	// was written to (see Message.MarkWritten), when its last reference is
	// released, that is when the last event loop is done with it. For
	// delivery-latency metrics; it runs on an event loop and must be quick.
	OnWritten func(m *Message)
	// Subscribe says how the bridge subscribes: SubscribePattern,
	// SubscribeDynamic or SubscribeSharded (see subscribe.go). Zero value
	// means SubscribePattern.
	Subscribe SubscribeMode
	// UnsubscribeGrace is, in dynamic mode, how long a room's channel stays
	// subscribed after its last member here left, so that flapping clients
	// do not make the bridge unsubscribe and subscribe again. Zero value
	// means DefaultUnsubscribeGrace.
	UnsubscribeGrace time.Duration
	// Sequencer, when set, gives every message its recovery offset and
	// delivers it (see Sequencer); nil means messages go straight to
	// Deliver, without offsets.
	Sequencer Sequencer
	// Emitter also subscribes to the Socket.IO emitter's channels and
	// delivers its emits (emitter.go): by pattern (EmitterPattern) in
	// SubscribePattern and SubscribeSharded mode; in SubscribeDynamic
	// mode EmitterChannel and each wanted room's EmitterRoomChannel. Zero value means off.
	Emitter bool
	// Input is where notifications come from: InputPubSub (PUBLISH) or
	// InputStreams (XADD to partitioned streams, see streams.go). Zero
	// value means InputPubSub.
	Input Input
	// Streams configures the streams input; ignored with pub/sub.
	Streams StreamsConfig
	// Backfill, with the streams input, is how far back the bridge reads
	// each stream when it starts: the entries added in the last Backfill
	// before the start are handed over with Position.Backfill set (for
	// recovery history; never delivered), then reading goes on live from
	// the stream's last id at the start. Zero: start at that last id.
	Backfill time.Duration
}

// withDefaults returns cfg with zero values replaced by the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.Input == "" {
		cfg.Input = InputPubSub
	}
	if cfg.Streams.Partitions == 0 {
		cfg.Streams.Partitions = DefaultPartitions
	}
	return cfg
}

// redactURL returns raw safe to log: the password of a parsable URL, and
// the value of any query parameter whose name holds "password" (a sentinel
// URL carries the master's there), become "xxxxx"; for a URL that does not parse, everything between "://" and the
// last '@' of the authority is dropped, since we cannot tell user from
// password there.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.Scheme == "" || u.Opaque != "" {
			// "secret" or "redis:secret": no authority, nothing safe to show.
			return "(unparsable URL)"
		}
		redactQuery(u)
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		// No authority to find; a bare string may itself be a secret.
		return "(unparsable URL)"
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if q := strings.IndexByte(rest, '?'); q >= end && strings.Contains(strings.ToLower(rest[q:]), "password") {
		rest = rest[:q] + "?xxxxx"
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		rest = "xxxxx" + rest[at:]
	}
	return scheme + "://" + rest
}

// redactQuery replaces the values of u's password parameters with "xxxxx".
// The query is re-encoded only when there is one, so other URLs log as
// written.
func redactQuery(u *url.URL) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		// Unparsable parameters may hide a password anywhere in them.
		u.RawQuery = "xxxxx"
		return
	}
	found := false
	for k, vs := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			for i := range vs {
				vs[i] = "xxxxx"
			}
			found = true
		}
	}
	if found {
		u.RawQuery = q.Encode()
	}
}

// sanitizeURLError strips the URL that net/url errors quote (password
// included) and keeps only the reason.
func sanitizeURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

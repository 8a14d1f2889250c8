package loadgen

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options are the knobs of every scenario; each scenario uses a subset.
// Zero values are replaced by the defaults in RegisterFlags.
type Options struct {
	Label      string   // server name written into the result ("notify-wss", "node", ...)
	Targets    []string // server ip:port, one per server process
	ServerPIDs []int    // processes whose CPU and memory are measured
	Redis      string   // redis ip:port, or several (a cluster's seeds) comma-separated
	RedisPIDs  []int    // redis-server pids, for their summed CPU (none: not measured)
	Publish    string   // PublishPlain, PublishSharded (several Redis addresses: through a cluster client) or PublishEmitter
	Secret     string   // JWT HS256 secret shared with the server

	N           int           // measured clients
	Concurrency int           // handshakes in flight (all workers)
	PerWorker   int           // clients per worker process
	Workers     int           // minimum worker processes
	Loops       int           // epoll loops per worker
	SourceBase  int           // first source address is 127.0.0.<SourceBase>
	Pad         int           // filler bytes per message
	Hold        time.Duration // idle: how long to hold the connections
	Msgs        int           // fanout: messages back to back; slow: at SlowRate
	PacedMsgs   int           // fanout/churn: messages at PacedRate
	PacedRate   float64       // messages per second
	Rate        float64       // unicast/scaleout: publishes per second
	Duration    time.Duration // unicast/scaleout/churn: how long to publish or churn
	ChurnRate   float64       // churn: connects (and disconnects) per second
	ChurnHold   time.Duration // churn: how long a churning client stays
	SlowEvery   int           // slow: one in SlowEvery clients stops reading
	SlowRate    float64       // slow: messages per second
	FloodFactor float64       // flood: publish at this many times the deliverable rate
	FloodRate   float64       // flood: messages per second (0: FloodFactor × measured)
	Settle      time.Duration // a phase ends when deliveries stall this long
	PhaseMax    time.Duration // a phase never waits longer than this
	Seed        uint64        // unicast target choice
	Deflate     bool          // offer permessage-deflate; inflate compressed frames
	CutShare    float64       // recovery: share of the clients cut every second
	CutDelay    time.Duration // recovery: how long a cut client waits before coming back
}

// RegisterFlags binds o to fs with the defaults of a full-size run.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Label, "label", "", "server name recorded in the result")
	fs.Func("target", "server ip:port; repeat or comma-separate for several servers (required)", func(s string) error {
		o.Targets = append(o.Targets, splitList(s)...)
		return nil
	})
	fs.Func("server-pid", "pid of a server process to measure; repeat or comma-separate", func(s string) error {
		for _, p := range splitList(s) {
			v, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("bad pid %q", p)
			}
			o.ServerPIDs = append(o.ServerPIDs, v)
		}
		return nil
	})
	fs.StringVar(&o.Redis, "redis", "127.0.0.1:6379", "redis ip:port the server subscribes to; several comma-separated: a cluster's nodes")
	fs.Func("redis-pid", "pids of redis-server, comma-separated, to measure their CPU summed (scaleout's unicast phase)", func(s string) error {
		o.RedisPIDs = nil
		for _, p := range splitList(s) {
			v, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("bad pid %q", p)
			}
			o.RedisPIDs = append(o.RedisPIDs, v)
		}
		return nil
	})
	fs.StringVar(&o.Secret, "secret", "bench-secret", "JWT HS256 secret (JWT_SECRET of the server)")
	fs.IntVar(&o.N, "n", 1000, "measured clients")
	fs.IntVar(&o.Concurrency, "c", 200, "handshakes in flight over all workers")
	fs.IntVar(&o.PerWorker, "per-worker", DefaultPerWorker, "clients per worker process (descriptor limit 20000)")
	fs.IntVar(&o.Workers, "workers", 1, "minimum number of worker processes")
	fs.IntVar(&o.Loops, "loops", 0, "epoll loops per worker (0: 2 with one worker, else 1)")
	fs.IntVar(&o.SourceBase, "source-base", 2, "worker w binds to 127.0.0.<source-base+w>")
	fs.IntVar(&o.Pad, "pad", 200, "filler bytes per message (fanout/unicast/churn)")
	fs.DurationVar(&o.Hold, "hold", 60*time.Second, "idle: hold time (server pings every 25 s by default)")
	fs.IntVar(&o.Msgs, "m", 200, "fanout/flood: messages back to back; slow: messages at -slow-rate")
	fs.IntVar(&o.PacedMsgs, "paced-m", 40, "fanout/churn/scaleout: messages at -paced-rate")
	fs.Float64Var(&o.PacedRate, "paced-rate", 4, "fanout/churn/scaleout: messages per second")
	fs.Float64Var(&o.Rate, "rate", 2000, "unicast/scaleout: publishes per second (scaleout: 0 skips its unicast phase)")
	fs.DurationVar(&o.Duration, "d", 10*time.Second, "unicast/scaleout/churn/flood: duration")
	fs.Float64Var(&o.ChurnRate, "churn-rate", 100, "churn: connects per second")
	fs.DurationVar(&o.ChurnHold, "churn-hold", 2*time.Second, "churn: how long a churning client stays")
	fs.IntVar(&o.SlowEvery, "slow-every", 100, "slow: one client in this many stops reading")
	fs.Float64Var(&o.SlowRate, "slow-rate", 20, "slow: messages per second (healthy clients must keep up)")
	fs.Float64Var(&o.FloodFactor, "flood-factor", 5, "flood: publish at this many times the rate measured by -m messages back to back")
	fs.Float64Var(&o.FloodRate, "flood-rate", 0, "flood: messages per second (0: -flood-factor × the measured rate)")
	fs.DurationVar(&o.Settle, "settle", 5*time.Second, "a phase ends when deliveries stall this long")
	fs.DurationVar(&o.PhaseMax, "phase-max", 180*time.Second, "longest wait for one phase")
	fs.Uint64Var(&o.Seed, "seed", 1, "unicast: seed of the target choice")
	fs.Float64Var(&o.CutShare, "cut-share", 0.05, "recovery: share of the clients cut (TCP reset) every second")
	fs.DurationVar(&o.CutDelay, "cut-delay", 500*time.Millisecond, "recovery: how long a cut client waits before coming back (socket.io-client: 0.5–1.5 s)")
	fs.StringVar(&o.Publish, "publish", PublishPlain, "plain: PUBLISH the JSON on the product channels; sharded: SPUBLISH it (servers with REDIS_SUBSCRIBE=sharded), through a cluster client when -redis names several nodes; emitter: PUBLISH what @socket.io/redis-emitter sends for to(room).emit(\"notification\", ...) on socket.io#/#room# (server needs EMITTER=on)")
	fs.BoolVar(&o.Deflate, "deflate", false, "offer permessage-deflate (as browsers do) and inflate the compressed frames received")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

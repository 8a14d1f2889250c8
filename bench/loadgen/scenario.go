package loadgen

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// scenarioFunc runs one scenario, filling res.
type scenarioFunc func(ctx context.Context, opt Options, res *Result) error

var scenarios = map[string]scenarioFunc{
	"connect":  runConnect,
	"idle":     runIdle,
	"fanout":   runFanout,
	"scaleout": runScaleout, // fanout and unicast over several server processes (-target list)
	"unicast":  runUnicast,
	"churn":    runChurn,
	"slow":     runSlow,
	"flood":    runFlood,
	"recovery": runRecovery, // paced broadcast while a share of the clients is cut and recovers
}

// Scenarios lists the scenario names.
func Scenarios() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run runs the named scenario and returns its result. A scenario that
// fails midway still returns what it measured, with Failed set.
func Run(ctx context.Context, name string, opt Options) *Result {
	res := newResult(name, opt)
	f, ok := scenarios[name]
	if !ok {
		res.Failed = fmt.Sprintf("unknown scenario %q (have %s)", name, strings.Join(Scenarios(), ", "))
		return res
	}
	start := time.Now()
	res.Params["n"] = opt.N
	if err := f(ctx, opt, res); err != nil {
		res.Failed = err.Error()
	}
	res.Seconds = time.Since(start).Seconds()
	return res
}

// warmTimeout bounds the warm-up of any scenario.
const warmTimeout = 60 * time.Second

// setup starts the workers, connects every stable client and waits until
// all of them are in the global room.
func setup(ctx context.Context, opt Options, res *Result, s Split) (*env, error) {
	e, err := newEnv(ctx, res, opt, s)
	if err != nil {
		return nil, err
	}
	if _, err := e.connect(ctx, "connect"); err != nil {
		e.close()
		return nil, err
	}
	if err := e.warm(ctx, warmTimeout); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// runConnect measures handshakes: N clients at concurrency C.
func runConnect(ctx context.Context, opt Options, res *Result) error {
	res.Params["concurrency"] = opt.Concurrency
	e, err := newEnv(ctx, res, opt, Split{Stable: opt.N, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	_, err = e.connect(ctx, "connect")
	return err
}

// runIdle holds N connections through several heartbeats and measures what
// they cost the server at rest.
func runIdle(ctx context.Context, opt Options, res *Result) error {
	res.Params["hold_s"] = opt.Hold.Seconds()
	e, err := newEnv(ctx, res, opt, Split{Stable: opt.N, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	mem0, haveMem := e.serverMem()
	ready, err := e.connect(ctx, "connect")
	if err != nil {
		return err
	}
	if err := e.warm(ctx, warmTimeout); err != nil {
		return err
	}
	st0, err := e.status()
	if err != nil {
		return err
	}
	cpu0, haveCPU := e.serverCPU()
	gen0 := e.genCPU()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(opt.Hold):
	}
	cpu1, _ := e.serverCPU()
	gen1 := e.genCPU()
	mem1, _ := e.serverMem()
	st1, err := e.status()
	if err != nil {
		return err
	}
	res.set("idle.hold_s", opt.Hold.Seconds())
	res.set("idle.ready_end", float64(st1.ReadyNow))
	res.set("idle.closed", float64(st1.Closed-st0.Closed))
	res.set("idle.pings_min", float64(st1.PingsMin))
	res.set("idle.pings_max", float64(st1.PingsMax))
	// When the server's heartbeats really came: open → first ping, and
	// between pings (the Engine.IO default is 25 s for both).
	if h := histFrom(st1.PingFirst); h.Count() > 0 {
		res.set("idle.ping_first_min_s", h.Min().Seconds())
		res.set("idle.ping_first_p50_s", h.Quantile(0.5).Seconds())
		res.set("idle.ping_first_max_s", h.Max().Seconds())
	}
	if h := histFrom(st1.PingGap); h.Count() > 0 {
		res.set("idle.ping_gap_p50_s", h.Quantile(0.5).Seconds())
		res.set("idle.ping_gap_max_s", h.Max().Seconds())
	}
	if haveMem && ready > 0 {
		res.set("idle.rss_empty_mb", float64(mem0.RSS)/(1<<20))
		res.set("idle.rss_mb", float64(mem1.RSS)/(1<<20))
		res.set("idle.rss_per_conn_kb", float64(mem1.RSS-mem0.RSS)/float64(ready)/1024)
		res.set("idle.hwm_mb", float64(mem1.HWM)/(1<<20))
	}
	if haveCPU {
		d := cpu1.Sub(cpu0).Total()
		res.set("idle.srv_cpu_pct", 100*d.Seconds()/opt.Hold.Seconds())
	}
	res.set("idle.gen_cpu_pct", 100*gen1.Sub(gen0).Total().Seconds()/opt.Hold.Seconds())
	return nil
}

// runFanout broadcasts to N clients in the global room: first Msgs messages
// back to back (throughput, CPU per delivery), then PacedMsgs at PacedRate
// (publish → last delivery of one message at a time).
func runFanout(ctx context.Context, opt Options, res *Result) error {
	res.Params["msgs"], res.Params["paced_msgs"], res.Params["paced_rate"] = opt.Msgs, opt.PacedMsgs, opt.PacedRate
	res.Params["pad"] = opt.Pad
	e, err := setup(ctx, opt, res, Split{Stable: opt.N, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	return e.runBroadcasts(ctx, opt)
}

// runBroadcasts runs the fanout phases to the global room: Msgs messages
// back to back ("burst"), then PacedMsgs at PacedRate ("paced").
func (e *env) runBroadcasts(ctx context.Context, opt Options) error {
	if opt.Msgs > 0 {
		if _, err := e.runPhase(ctx, phaseSpec{name: "burst", broadcast: true, count: opt.Msgs, route: Broadcast}); err != nil {
			return err
		}
	}
	if opt.PacedMsgs > 0 {
		if _, err := e.runPhase(ctx, phaseSpec{name: "paced", broadcast: true, count: opt.PacedMsgs, rate: opt.PacedRate, route: Broadcast}); err != nil {
			return err
		}
	}
	return nil
}

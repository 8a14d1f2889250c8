package loadgen

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// runUnicast has N clients, each in its own user room, and publishes at
// Rate to uniformly random users for Duration.
func runUnicast(ctx context.Context, opt Options, res *Result) error {
	count := int(opt.Rate * opt.Duration.Seconds())
	res.Params["rate"], res.Params["msgs"], res.Params["pad"] = opt.Rate, count, opt.Pad
	// Clients also join the global room: that is how warm-up proves the
	// server has processed their CONNECT (and so their own user room).
	e, err := setup(ctx, opt, res, Split{Stable: opt.N, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	_, err = unicastPhase(ctx, e, opt, count)
	return err
}

// unicastPlan draws count target users uniformly from [0, n) and numbers
// each user's messages: message id goes to user to[id] as its seq[id]-th,
// and user u gets perUser[u] messages in all.
func unicastPlan(seed uint64, n, count int) (to []int, seq []int64, perUser []int32) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	to, seq, perUser = make([]int, count), make([]int64, count), make([]int32, n)
	for id := range to {
		u := rng.IntN(n)
		to[id], seq[id] = u, int64(perUser[u])
		perUser[u]++
	}
	return to, seq, perUser
}

// unicastPhase publishes count messages at opt.Rate to random users'
// rooms, records the phase under "unicast", and returns the target user of
// every message.
func unicastPhase(ctx context.Context, e *env, opt Options, count int) ([]int, error) {
	to, seq, perUser := unicastPlan(opt.Seed, opt.N, count)
	route := func(id int) (string, int64) { return chanUserPrefix + userID(to[id]), seq[id] }
	_, err := e.runPhase(ctx, phaseSpec{
		name: "unicast", count: count, rate: opt.Rate, route: route,
		expectPer:   func(cfg WorkerConfig) []int32 { return perUser[cfg.First : cfg.First+cfg.Count] },
		expectTotal: int64(count),
	})
	return to, err
}

// runChurn keeps N measured clients in the global room while churn clients
// connect at ChurnRate and leave after ChurnHold, and meanwhile publishes
// paced broadcasts for Duration.
func runChurn(ctx context.Context, opt Options, res *Result) error {
	// Slots: the population rate×hold, plus room for handshakes in flight.
	slots := int(math.Ceil(opt.ChurnRate*(opt.ChurnHold.Seconds()+1))) + 16
	msgs := max(1, int(opt.PacedRate*opt.Duration.Seconds()))
	res.Params["churn_rate"], res.Params["churn_hold_s"], res.Params["churn_slots"] = opt.ChurnRate, opt.ChurnHold.Seconds(), slots
	res.Params["duration_s"], res.Params["paced_rate"], res.Params["pad"] = opt.Duration.Seconds(), opt.PacedRate, opt.Pad
	e, err := setup(ctx, opt, res, Split{Stable: opt.N, Churn: slots, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	st0, err := e.status()
	if err != nil {
		return err
	}
	cpu0, haveCPU := e.serverCPU()
	start := time.Now()
	if _, err := e.co.Each(func(_ int, cfg WorkerConfig) Request {
		return Request{Op: "churn", Rate: opt.ChurnRate * float64(cfg.ChurnCount) / float64(slots), Hold: opt.ChurnHold}
	}); err != nil {
		return err
	}
	_, phaseErr := e.runPhase(ctx, phaseSpec{name: "churn", broadcast: true, count: msgs, rate: opt.PacedRate, route: Broadcast})
	st1, err := e.status()
	elapsed := time.Since(start)
	cpu1, _ := e.serverCPU()
	if _, stopErr := e.co.All(Request{Op: "churn"}); err == nil {
		err = stopErr
	}
	if phaseErr != nil {
		return phaseErr
	}
	if err != nil {
		return err
	}
	cycles := st1.ChurnReady - st0.ChurnReady
	res.set("churn.elapsed_s", elapsed.Seconds())
	res.set("churn.cycles", float64(cycles))
	res.set("churn.connects_per_s", float64(cycles)/elapsed.Seconds())
	res.set("churn.failed", float64(st1.ChurnFail-st0.ChurnFail))
	res.set("churn.starved", float64(st1.Starved))
	res.set("churn.stable_closed", float64(st1.Closed-st0.Closed))
	h := histFrom(st1.ChurnHist)
	res.setLatency("churn.connect", h)
	if haveCPU {
		res.set("churn.srv_cpu_pct", 100*cpu1.Sub(cpu0).Total().Seconds()/elapsed.Seconds())
	}
	return nil
}

// runSlow makes one client in SlowEvery stop reading, publishes Msgs at
// SlowRate (a pace the healthy clients can follow, so only the stopped ones
// fall behind), and measures the healthy clients, the server's memory and
// how the server treated the slow ones.
func runSlow(ctx context.Context, opt Options, res *Result) error {
	res.Params["msgs"], res.Params["pad"], res.Params["slow_every"], res.Params["rate"] = opt.Msgs, opt.Pad, opt.SlowEvery, opt.SlowRate
	e, err := setup(ctx, opt, res, Split{Stable: opt.N, SlowEvery: opt.SlowEvery, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	slow := int64(0)
	if opt.SlowEvery > 0 {
		slow = int64((opt.N + opt.SlowEvery - 1) / opt.SlowEvery)
	}
	if _, err := e.co.All(Request{Op: "slow", Pause: true}); err != nil {
		return err
	}
	mem0, haveMem := e.serverMem()
	if _, err := e.runPhase(ctx, phaseSpec{name: "slow", broadcast: true, count: opt.Msgs, rate: opt.SlowRate, route: Broadcast}); err != nil {
		return err
	}
	mem1, _ := e.serverMem()
	if _, err := e.co.All(Request{Op: "slow", Pause: false}); err != nil {
		return err
	}
	// Let the slow clients drain what the server kept for them, until
	// their deliveries stop growing.
	var side int64 = -1
	for {
		reps, err := e.co.All(Request{Op: "report", ExpectAll: int64(opt.Msgs)})
		if err != nil {
			return err
		}
		var s int64
		for _, r := range reps {
			s += r.Phase.Side
		}
		if s == side {
			break
		}
		side = s
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	p, err := e.co.Progress()
	if err != nil {
		return err
	}
	res.set("slow.slow_clients", float64(slow))
	res.set("slow.slow_dropped", float64(p.SlowClosed))
	res.set("slow.slow_deliveries", float64(side))
	res.set("slow.slow_expected", float64(slow*int64(opt.Msgs)))
	if haveMem {
		res.set("slow.srv_rss_before_mb", float64(mem0.RSS)/(1<<20))
		res.set("slow.srv_rss_after_mb", float64(mem1.RSS)/(1<<20))
	}
	return nil
}

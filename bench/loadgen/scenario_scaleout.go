package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/notify-wss/notify-wss/bench/internal/procstat"
)

// Metric families scaleout reads from each notify-wss instance's /metrics.
const (
	metricReceived   = "notify_wss_notifications_received_total"
	metricDeliveries = "notify_wss_deliveries_total"
)

// runScaleout spreads N clients over the -target servers (client i, and so
// user i, on target i mod K), then broadcasts like fanout (Msgs back to back,
// PacedMsgs at PacedRate) and, with Rate > 0, publishes to random users at
// Rate for Duration. For the unicast phase it scrapes every instance's
// /metrics before and after: an instance subscribed by pattern receives
// every message (ratio K), one subscribed per room only its own members'
// (ratio 1).
func runScaleout(ctx context.Context, opt Options, res *Result) error {
	res.Params["msgs"], res.Params["paced_msgs"], res.Params["paced_rate"] = opt.Msgs, opt.PacedMsgs, opt.PacedRate
	res.Params["pad"], res.Params["instances"] = opt.Pad, len(opt.Targets)
	count := int(opt.Rate * opt.Duration.Seconds())
	if count > 0 {
		res.Params["rate"], res.Params["unicast_msgs"] = opt.Rate, count
	}
	e, err := setup(ctx, opt, res, Split{Stable: opt.N, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.runBroadcasts(ctx, opt); err != nil {
		return err
	}
	if count <= 0 {
		return nil
	}
	before := scrapeEach(ctx, opt.Targets)
	redis0, redisErr := redisCPU(opt.RedisPIDs)
	start := time.Now()
	to, err := unicastPhase(ctx, e, opt, count)
	elapsed := time.Since(start)
	redis1, redisErr1 := redisCPU(opt.RedisPIDs)
	after := scrapeEach(ctx, opt.Targets)
	if err != nil {
		return err
	}
	if redisErr == nil && redisErr1 == nil {
		res.set("unicast.redis_cpu_pct", 100*redis1.Sub(redis0).Total().Seconds()/elapsed.Seconds())
	}
	setInstanceRatios(res, ownMessages(to, len(opt.Targets)), before, after)
	return nil
}

// ownMessages counts, per instance, the messages addressed to its users:
// user u is connected to instance u mod k (see worker.go).
func ownMessages(to []int, k int) []int64 {
	own := make([]int64, k)
	for _, u := range to {
		own[u%k]++
	}
	return own
}

// setInstanceRatios records, per instance i, notifications received from
// Redis ÷ messages for its own members (own[i]) and the server's deliveries,
// from /metrics scraped before and after the phase, and the max and min of
// the ratio over instances. An instance without those metrics (not
// notify-wss) records nothing.
func setInstanceRatios(res *Result, own []int64, before, after []map[string]float64) {
	var sumRecv, sumDeliv float64
	lo, hi, have := 0.0, 0.0, false
	for i, n := range own {
		r1, ok1 := after[i][metricReceived]
		d1, ok2 := after[i][metricDeliveries]
		if !ok1 || !ok2 || n == 0 {
			continue
		}
		recv, deliv := r1-before[i][metricReceived], d1-before[i][metricDeliveries]
		ratio := recv / float64(n)
		res.set(fmt.Sprintf("unicast.srv%d_received", i), recv)
		res.set(fmt.Sprintf("unicast.srv%d_deliveries", i), deliv)
		res.set(fmt.Sprintf("unicast.srv%d_own", i), float64(n))
		res.set(fmt.Sprintf("unicast.srv%d_recv_ratio", i), ratio)
		sumRecv += recv
		sumDeliv += deliv
		if !have || ratio > hi {
			hi = ratio
		}
		if !have || ratio < lo {
			lo = ratio
		}
		have = true
	}
	if have {
		res.set("unicast.recv_ratio_max", hi)
		res.set("unicast.recv_ratio_min", lo)
		res.set("unicast.srv_received", sumRecv)
		res.set("unicast.srv_deliveries", sumDeliv)
	}
}

// redisCPU reads the CPU of the redis-servers pids, summed (a cluster's
// masters); none means not measured.
func redisCPU(pids []int) (procstat.CPU, error) {
	if len(pids) == 0 {
		return procstat.CPU{}, fmt.Errorf("loadgen: no -redis-pid")
	}
	var sum procstat.CPU
	for _, pid := range pids {
		c, err := procstat.ReadCPU(pid)
		if err != nil {
			return procstat.CPU{}, err
		}
		sum = sum.Add(c)
	}
	return sum, nil
}

package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// runFlood publishes to N clients in the global room faster than the server
// can deliver: first Msgs messages back to back, whose deliveries per second
// over N are the rate the server sustains (unless FloodRate sets it), then
// FloodFactor times that rate for Duration. It reports what the server did
// with the excess: its peak RSS, the latency of what it delivered, what
// never arrived (shed) and how many clients it cut.
func runFlood(ctx context.Context, opt Options, res *Result) error {
	res.Params["msgs"], res.Params["pad"], res.Params["duration_s"] = opt.Msgs, opt.Pad, opt.Duration.Seconds()
	res.Params["flood_factor"], res.Params["flood_rate"] = opt.FloodFactor, opt.FloodRate
	e, err := setup(ctx, opt, res, Split{Stable: opt.N, Joins: []string{"global"}})
	if err != nil {
		return err
	}
	defer e.close()

	base := opt.FloodRate / opt.FloodFactor
	if opt.FloodRate <= 0 {
		if _, err := e.runPhase(ctx, phaseSpec{name: "measure", broadcast: true, count: opt.Msgs, route: Broadcast}); err != nil {
			return err
		}
		perS, clients := res.Metrics["measure.deliveries_per_s"], res.Metrics["measure.measured_clients"]
		if perS <= 0 || clients <= 0 {
			return fmt.Errorf("loadgen: flood: no deliverable rate measured")
		}
		base = perS / clients
	}
	rate := base * opt.FloodFactor
	count := max(1, int(rate*opt.Duration.Seconds()))
	res.set("flood.deliverable_msgs_per_s", base)
	res.set("flood.rate", rate)

	st0, err := e.status()
	if err != nil {
		return err
	}
	srv0 := scrapeServers(ctx, opt.Targets)
	rep, err := e.runPhase(ctx, phaseSpec{name: "flood", broadcast: true, count: count, rate: rate, route: Broadcast})
	if err != nil {
		return err
	}
	st1, err := e.status()
	if err != nil {
		return err
	}
	srv1 := scrapeServers(ctx, opt.Targets)

	measured := int64(res.Metrics["flood.measured_clients"])
	unseen, partial := 0, 0
	for id := range count {
		var n int64
		if id < len(rep.Count) {
			n = rep.Count[id]
		}
		switch {
		case n == 0:
			unseen++
		case n < measured:
			partial++
		}
	}
	res.set("flood.msgs_unseen", float64(unseen))
	res.set("flood.msgs_partial", float64(partial))
	if exp := res.Metrics["flood.expected"]; exp > 0 {
		res.set("flood.delivered_pct", 100*float64(rep.Delivered)/exp)
	}
	res.set("flood.clients_closed", float64(st1.Closed-st0.Closed))
	// What the server says it shed, when it exports it (notify-wss's
	// /metrics, full and stale together); per loop, so a message shed by
	// both loops counts twice.
	for _, c := range []struct{ metric, key string }{
		{"notify_wss_shed_messages_total", "flood.srv_shed"},
		{"notify_wss_slow_consumer_disconnects_total", "flood.srv_slow_consumers"},
	} {
		if v1, ok := srv1[c.metric]; ok {
			res.set(c.key, v1-srv0[c.metric])
		}
	}
	return nil
}

// scrapeServers sums each family of every target's GET /metrics
// (Prometheus text format) over its series, whatever their labels. A
// target without metrics adds nothing.
func scrapeServers(ctx context.Context, targets []string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range scrapeEach(ctx, targets) {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

// scrapeEach is scrapeServers per target, in the order of targets.
func scrapeEach(ctx context.Context, targets []string) []map[string]float64 {
	client := &http.Client{Timeout: 5 * time.Second}
	out := make([]map[string]float64, len(targets))
	for i, t := range targets {
		out[i] = scrapeOne(ctx, client, t)
	}
	return out
}

// scrapeOne sums each family of target's GET /metrics over its series; it
// is empty when the target has no metrics.
func scrapeOne(ctx context.Context, client *http.Client, target string) map[string]float64 {
	out := map[string]float64{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := client.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body)
}

// parseMetrics sums each family of a Prometheus text exposition over its
// series.
func parseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		name, val := line[:sp], line[sp+1:]
		if brace := strings.IndexByte(name, '{'); brace >= 0 {
			name = name[:brace]
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] += v
		}
	}
	return out
}

package loadgen

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/notify-wss/notify-wss/bench/internal/hist"
)

// phaseSpec describes one measurement phase: what to publish and what each
// client should receive.
type phaseSpec struct {
	name      string  // metric prefix
	broadcast bool    // every measured client gets every message
	count     int     // messages to publish
	rate      float64 // messages per second; 0 = back to back
	route     Route
	// Unicast only: per-worker expected deliveries per stable client, and
	// their total.
	expectPer   func(WorkerConfig) []int32
	expectTotal int64
}

// progressEvery is how often a phase polls the workers for completion.
const progressEvery = 20 * time.Millisecond

// While no delivery arrives, a phase looks at the server's CPU every
// busyEvery; if the server used more than busyShare of a core meanwhile, it
// is busy with the phase, and the stall clock (Settle) starts again.
const (
	busyEvery = 500 * time.Millisecond
	busyShare = 0.5
)

// runPhase publishes the phase's messages, waits until every expected
// delivery arrived (or deliveries stall for Settle), and records metrics
// under sp.name.
func (e *env) runPhase(ctx context.Context, sp phaseSpec) (PhaseReport, error) {
	e.phase++
	id := e.phase
	reps, err := e.co.All(Request{Op: "phase", Phase: id, Broadcast: sp.broadcast, Msgs: sp.count})
	if err != nil {
		return PhaseReport{}, err
	}
	var measured int64
	for _, r := range reps {
		measured += r.Measured
	}
	expected := sp.expectTotal
	if sp.broadcast {
		expected = measured * int64(sp.count)
	}
	cpu0, haveCPU := e.serverCPU()
	gen0 := e.genCPU()
	sampler := e.sampleMem()

	pubStart := time.Now()
	sentAt, minRecv, pubErr := e.pub.Send(ctx, id, sp.count, sp.rate, sp.route)
	pubDur := time.Since(pubStart)

	var delivered int64 = -1
	lastChange := time.Now()
	busyMark, busyAt := cpu0, time.Now()
	complete := false
	for pubErr == nil {
		p, err := e.co.Progress()
		if err != nil {
			pubErr = err
			break
		}
		if p.Delivered >= expected {
			complete = true
			break
		}
		if p.Delivered != delivered {
			delivered, lastChange = p.Delivered, time.Now()
		} else if since := time.Since(busyAt); haveCPU && since >= busyEvery {
			// A server still working hard is not stalled: Node handles a
			// whole burst of Redis messages before its first write callback
			// runs, and delivers nothing new meanwhile.
			if c, ok := e.serverCPU(); ok {
				if c.Sub(busyMark).Total() > time.Duration(busyShare*float64(since)) {
					lastChange = time.Now()
				}
				busyMark, busyAt = c, time.Now()
			}
		}
		if time.Since(lastChange) > e.opt.Settle {
			e.res.note(fmt.Sprintf("%s: deliveries stalled at %d of %d for %v", sp.name, p.Delivered, expected, e.opt.Settle))
			break
		}
		if time.Since(pubStart) > e.opt.PhaseMax {
			e.res.note(fmt.Sprintf("%s: gave up after %v at %d of %d deliveries", sp.name, e.opt.PhaseMax, p.Delivered, expected))
			break
		}
		select {
		case <-ctx.Done():
			pubErr = ctx.Err()
		case <-time.After(progressEvery):
		}
	}
	cpu1, _ := e.serverCPU()
	gen1 := e.genCPU()
	rssPeak, tcpPeak := sampler.finish()
	if pubErr != nil {
		return PhaseReport{}, pubErr
	}

	reps, err = e.co.Each(func(_ int, cfg WorkerConfig) Request {
		req := Request{Op: "report", ExpectAll: int64(sp.count)}
		if sp.expectPer != nil {
			req.ExpectAll, req.ExpectPer = 0, sp.expectPer(cfg)
		}
		return req
	})
	if err != nil {
		return PhaseReport{}, err
	}
	var rep PhaseReport
	for _, r := range reps {
		rep.Merge(*r.Phase)
	}

	r, n := e.res, sp.name
	r.set(n+".msgs", float64(sp.count))
	r.set(n+".measured_clients", float64(measured))
	r.set(n+".expected", float64(expected))
	r.set(n+".deliveries", float64(rep.Delivered))
	r.set(n+".lost", float64(rep.Lost))
	r.set(n+".dups", float64(rep.Dups))
	r.set(n+".loss_clients", float64(rep.LossClients))
	r.set(n+".complete", float64(boolInt(complete)))
	if rep.Stray > 0 {
		r.set(n+".stray", float64(rep.Stray))
	}
	r.set(n+".redis_receivers_min", float64(minRecv))
	r.set(n+".publish_s", pubDur.Seconds())
	h := hist.New()
	h.MergeSnapshot(rep.Hist)
	r.setLatency(n+".lat", h)
	if sp.broadcast {
		setPerMessage(r, n, sentAt, rep, measured)
	}
	if len(sentAt) > 0 && rep.LastNs > 0 {
		span := time.Duration(rep.LastNs - sentAt[0])
		r.set(n+".span_s", span.Seconds())
		if span > 0 {
			r.set(n+".deliveries_per_s", float64(rep.Delivered)/span.Seconds())
		}
	}
	if haveCPU {
		d := cpu1.Sub(cpu0)
		r.set(n+".srv_cpu_s", d.Total().Seconds())
		r.set(n+".srv_cpu_user_s", d.User.Seconds())
		r.set(n+".srv_cpu_sys_s", d.Sys.Seconds())
		if rep.Delivered > 0 {
			r.set(n+".srv_cpu_s_per_1m", d.Total().Seconds()/float64(rep.Delivered)*1e6)
		}
		r.set(n+".srv_rss_peak_mb", float64(rssPeak)/(1<<20))
	}
	if rep.Delivered > 0 {
		r.set(n+".gen_cpu_s_per_1m", gen1.Sub(gen0).Total().Seconds()/float64(rep.Delivered)*1e6)
	}
	r.set(n+".kernel_tcp_mem_peak_mb", float64(tcpPeak)/(1<<20))
	return rep, nil
}

// setPerMessage records, over the messages of a broadcast phase, the time
// from publish to the first and to the last delivery.
func setPerMessage(r *Result, n string, sentAt []int64, rep PhaseReport, measured int64) {
	var last, first []float64
	completeMsgs := 0
	for id, t0 := range sentAt {
		if id >= len(rep.Count) || rep.Count[id] == 0 {
			continue
		}
		first = append(first, ms(time.Duration(rep.First[id]-t0)))
		if rep.Count[id] >= measured {
			completeMsgs++
			last = append(last, ms(time.Duration(rep.Last[id]-t0)))
		}
	}
	r.set(n+".msgs_complete", float64(completeMsgs))
	if len(last) > 0 {
		slices.Sort(last)
		r.set(n+".last_p50_ms", nearestRank(last, 0.50))
		r.set(n+".last_p99_ms", nearestRank(last, 0.99))
		r.set(n+".last_min_ms", last[0])
		r.set(n+".last_max_ms", last[len(last)-1])
	}
	if len(first) > 0 {
		slices.Sort(first)
		r.set(n+".first_p50_ms", nearestRank(first, 0.50))
	}
}

// nearestRank is the q-quantile of sorted by the nearest-rank method.
func nearestRank(sorted []float64, q float64) float64 {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/notify-wss/notify-wss/bench/internal/hist"
	"github.com/notify-wss/notify-wss/bench/internal/procstat"
)

// env is what every scenario works with: its workers, the publisher and the
// result being filled in.
type env struct {
	opt   Options
	co    *Coordinator
	pub   *Publisher
	res   *Result
	phase int64 // last phase number used
}

func newEnv(ctx context.Context, res *Result, opt Options, s Split) (*env, error) {
	if len(opt.Targets) == 0 {
		return nil, errors.New("loadgen: -target is required")
	}
	s.Targets, s.Secret, s.Deflate = opt.Targets, opt.Secret, opt.Deflate
	s.PerWorker, s.MinWorkers, s.Loops, s.SourceBase = opt.PerWorker, opt.Workers, opt.Loops, opt.SourceBase
	pub, err := NewPublisher(ctx, opt.Redis, opt.Publish, opt.Pad)
	if err != nil {
		return nil, err
	}
	co, err := StartWorkers(ctx, s)
	if err != nil {
		pub.Close()
		return nil, err
	}
	res.Params["workers"] = len(co.workers)
	res.Params["loops_per_worker"] = co.workers[0].cfg.Loops
	res.Params["targets"] = opt.Targets
	if opt.Publish != "" && opt.Publish != PublishPlain {
		res.Params["publish"] = opt.Publish
	}
	return &env{opt: opt, co: co, pub: pub, res: res}, nil
}

// close records the workers' final status and stops them.
func (e *env) close() {
	if st, err := e.status(); err == nil {
		e.res.addErrors("handshake: ", st.Errors)
		e.res.addErrors("closed: ", st.CloseReasons)
		if st.Foreign > 0 {
			e.res.note(fmt.Sprintf("%d notifications were not benchmark messages", st.Foreign))
		}
	}
	e.co.Close()
	e.pub.Close()
}

// status merges every worker's Status.
func (e *env) status() (Status, error) {
	reps, err := e.co.All(Request{Op: "status"})
	st := Status{Errors: map[string]int64{}, CloseReasons: map[string]int64{}, PingsMin: -1}
	ch, pf, pg, rh := hist.New(), hist.New(), hist.New(), hist.New()
	for _, r := range reps {
		s := r.Status
		if s == nil {
			continue
		}
		st.Progress.Add(s.Progress)
		for k, v := range s.Errors {
			st.Errors[k] += v
		}
		for k, v := range s.CloseReasons {
			st.CloseReasons[k] += v
		}
		if s.ReadyNow > 0 && (st.PingsMin < 0 || s.PingsMin < st.PingsMin) {
			st.PingsMin = s.PingsMin
		}
		st.PingsMax = max(st.PingsMax, s.PingsMax)
		st.ReadyNow += s.ReadyNow
		st.Starved += s.Starved
		st.Foreign += s.Foreign
		st.Cuts += s.Cuts
		st.Recovered += s.Recovered
		st.NotRecovered += s.NotRecovered
		rh.MergeSnapshot(s.RecoveryHist)
		st.CPU = st.CPU.Add(s.CPU)
		ch.MergeSnapshot(s.ChurnHist)
		pf.MergeSnapshot(s.PingFirst)
		pg.MergeSnapshot(s.PingGap)
	}
	st.PingsMin = max(st.PingsMin, 0)
	st.ChurnHist = ch.Snapshot()
	st.PingFirst, st.PingGap = pf.Snapshot(), pg.Snapshot()
	st.RecoveryHist = rh.Snapshot()
	return st, err
}

// serverCPU sums the CPU time of the measured server processes.
func (e *env) serverCPU() (procstat.CPU, bool) {
	if len(e.opt.ServerPIDs) == 0 {
		return procstat.CPU{}, false
	}
	c, err := procstat.ReadCPUs(e.opt.ServerPIDs)
	return c, err == nil
}

// serverMem sums VmRSS and VmHWM of the measured server processes.
func (e *env) serverMem() (procstat.Mem, bool) {
	if len(e.opt.ServerPIDs) == 0 {
		return procstat.Mem{}, false
	}
	m, err := procstat.ReadMems(e.opt.ServerPIDs)
	return m, err == nil
}

// genCPU sums the CPU time of the worker processes.
func (e *env) genCPU() procstat.CPU {
	c, _ := procstat.ReadCPUs(e.co.PIDs())
	return c
}

// connect dials every stable client and records connect metrics under
// prefix. It returns how many became ready.
func (e *env) connect(ctx context.Context, prefix string) (int64, error) {
	cpu0, haveCPU := e.serverCPU()
	gen0 := e.genCPU()
	per := max(1, e.opt.Concurrency/len(e.co.workers))
	reps, err := e.co.All(Request{Op: "connect", Concurrency: per})
	if err != nil {
		return 0, err
	}
	cpu1, _ := e.serverCPU()
	gen1 := e.genCPU()
	h := hist.New()
	var ready, failed, start, end int64
	for _, r := range reps {
		c := r.Connect
		ready += c.Ready
		failed += c.Failed
		h.MergeSnapshot(c.Hist)
		if start == 0 || c.StartNs < start {
			start = c.StartNs
		}
		end = max(end, c.EndNs)
		e.res.addErrors(prefix+" handshake: ", c.Errors)
	}
	wall := time.Duration(end - start)
	r := e.res
	r.set(prefix+".ready", float64(ready))
	r.set(prefix+".failed", float64(failed))
	r.set(prefix+".wall_s", wall.Seconds())
	if wall > 0 {
		r.set(prefix+".conns_per_s", float64(ready)/wall.Seconds())
	}
	r.setLatency(prefix+".connect", h)
	if haveCPU && ready > 0 {
		d := cpu1.Sub(cpu0)
		r.set(prefix+".srv_cpu_s", d.Total().Seconds())
		r.set(prefix+".srv_cpu_us_per_conn", float64(d.Total().Microseconds())/float64(ready))
	}
	if ready > 0 {
		r.set(prefix+".gen_cpu_us_per_conn", float64(gen1.Sub(gen0).Total().Microseconds())/float64(ready))
	}
	return ready, ctx.Err()
}

// warmInterval is the pause between warm-up publishes.
const warmInterval = 200 * time.Millisecond

// warm publishes warm-up messages until every ready stable client has
// received one, which proves its room joins were processed. It fails after
// timeout.
func (e *env) warm(ctx context.Context, timeout time.Duration) error {
	start := time.Now()
	deadline := start.Add(timeout)
	var subs int64
	for {
		p, err := e.co.Progress()
		if err != nil {
			return err
		}
		ready := p.Ready - p.Closed - p.SlowClosed
		if p.Warmed >= ready {
			e.res.set("warmup_s", time.Since(start).Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			if subs == 0 {
				return errors.New("loadgen: warm-up: no server is subscribed to " + ChanGlobal)
			}
			return fmt.Errorf("loadgen: warm-up: only %d of %d clients got a global message within %v", p.Warmed, ready, timeout)
		}
		// A server may accept clients before its subscription is up: a
		// publish nobody receives is simply repeated.
		n, err := e.pub.Warm(ctx)
		if err != nil {
			return err
		}
		subs = max(subs, n)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(warmInterval):
		}
	}
}

// memSampler records the peak server RSS and kernel TCP memory while it runs.
type memSampler struct {
	stop    chan struct{}
	done    sync.WaitGroup
	rssPeak int64
	tcpPeak int64
}

// sampleEvery is the memory sampling period during a phase.
const sampleEvery = 100 * time.Millisecond

func (e *env) sampleMem() *memSampler {
	s := &memSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			if m, ok := e.serverMem(); ok {
				s.rssPeak = max(s.rssPeak, m.RSS)
			}
			if tcp, _, err := procstat.TCPMem(); err == nil {
				s.tcpPeak = max(s.tcpPeak, tcp)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *memSampler) finish() (rssPeak, tcpPeak int64) {
	close(s.stop)
	s.done.Wait()
	return s.rssPeak, s.tcpPeak
}

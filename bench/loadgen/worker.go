package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notify-wss/notify-wss/bench/internal/hist"
	"github.com/notify-wss/notify-wss/bench/internal/procstat"
)

// worker runs the loops of one worker process.
type worker struct {
	cfg   WorkerConfig
	loops []*loop
	wg    sync.WaitGroup
}

// fdHeadroom is how many descriptors beyond its clients a worker needs:
// epoll, eventfd, stdio, the Go runtime's own.
const fdHeadroom = 64

// RunWorker is the main function of a worker process: it reads the
// WorkerConfig and then Requests from r, and writes Replies to w.
func RunWorker(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(r)
	enc := json.NewEncoder(w)
	var cfg WorkerConfig
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("loadgen worker: read config: %w", err)
	}
	wk, err := newWorker(cfg)
	if err != nil {
		_ = enc.Encode(Reply{Err: err.Error()})
		return err
	}
	if err := enc.Encode(Reply{}); err != nil {
		wk.stop()
		return fmt.Errorf("loadgen worker: write hello: %w", err)
	}
	for {
		var req Request
		if err := dec.Decode(&req); err != nil {
			wk.stop()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("loadgen worker: read request: %w", err)
		}
		rep := wk.handle(req)
		if req.Op == "close" {
			wk.stop()
		}
		if err := enc.Encode(rep); err != nil {
			wk.stop()
			return fmt.Errorf("loadgen worker: write reply: %w", err)
		}
		if req.Op == "close" {
			return nil
		}
	}
}

func newWorker(cfg WorkerConfig) (*worker, error) {
	src, err := netip.ParseAddr(cfg.Source)
	if err != nil || !src.Is4() {
		return nil, fmt.Errorf("loadgen worker: source %q is not an IPv4 address", cfg.Source)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, fmt.Errorf("loadgen worker: getrlimit: %w", err)
	}
	need := uint64(cfg.Count+cfg.ChurnCount) + fdHeadroom
	if lim.Cur < need {
		return nil, fmt.Errorf("loadgen worker: %d clients need %d descriptors, limit is %d", cfg.Count+cfg.ChurnCount, need, lim.Cur)
	}
	joins, err := parseJoins(cfg.Joins)
	if err != nil {
		return nil, err
	}
	wk := &worker{cfg: cfg}
	for i := range max(cfg.Loops, 1) {
		l, err := newLoop(loopConfig{
			id: i, src: src.As4(), targets: cfg.Targets, joins: joins,
			channels: cfg.Channels, secret: cfg.Secret, deflate: cfg.Deflate, recover: cfg.Recover, timeout: cfg.HandshakeTimeout,
			maxFD: int(lim.Cur) + 1,
		})
		if err != nil {
			wk.stop()
			return nil, err
		}
		wk.loops = append(wk.loops, l)
	}
	add := func(idx int, role uint8) {
		l := wk.loops[idx%len(wk.loops)]
		c := &conn{l: l, fd: -1, idx: idx, role: role, pend: -1, target: idx % len(cfg.Targets)}
		c.slow = role == roleStable && cfg.SlowEvery > 0 && idx%cfg.SlowEvery == 0
		l.clients = append(l.clients, c)
		if role == roleChurn {
			l.churnIdle = append(l.churnIdle, c)
		}
	}
	for i := range cfg.Count {
		add(cfg.First+i, roleStable)
	}
	for i := range cfg.ChurnCount {
		add(cfg.ChurnFirst+i, roleChurn)
	}
	for _, l := range wk.loops {
		wk.wg.Add(1)
		go func() { defer wk.wg.Done(); l.run() }()
	}
	return wk, nil
}

func parseJoins(names []string) ([]joinKind, error) {
	var out []joinKind
	for _, n := range names {
		switch n {
		case "global":
			out = append(out, joinGlobal)
		case "user":
			out = append(out, joinUser)
		case "channel":
			out = append(out, joinChannel)
		default:
			return nil, fmt.Errorf("loadgen: unknown room kind %q (want global, user, channel)", n)
		}
	}
	return out, nil
}

// stop closes every connection and waits for the loops to exit.
func (wk *worker) stop() {
	for _, l := range wk.loops {
		if !l.quit {
			l.call((*loop).closeAll)
		}
	}
	wk.wg.Wait()
	wk.loops = nil
}

func (wk *worker) handle(req Request) Reply {
	switch req.Op {
	case "connect":
		return Reply{Connect: wk.connect(req.Concurrency)}
	case "progress":
		p := wk.progress()
		return Reply{Progress: &p}
	case "phase":
		var measured int64
		wk.each(func(l *loop) { measured += l.beginPhase(req.Phase, req.Broadcast, req.Msgs) })
		return Reply{Measured: measured}
	case "report":
		var r PhaseReport
		var mu sync.Mutex
		wk.each(func(l *loop) {
			lr := l.phaseReport(req.ExpectAll, req.ExpectPer, wk.cfg.First)
			mu.Lock()
			r.Merge(lr)
			mu.Unlock()
		})
		return Reply{Phase: &r}
	case "slow":
		wk.each(func(l *loop) { l.setPaused(req.Pause) })
		return Reply{}
	case "churn":
		per := req.Rate / float64(len(wk.loops))
		wk.each(func(l *loop) {
			if req.Rate > 0 {
				l.startChurn(per, req.Hold)
			} else {
				l.stopChurn()
			}
		})
		return Reply{}
	case "cut":
		wk.each(func(l *loop) { l.startCuts(req.Rate, req.Hold, req.Until) })
		return Reply{}
	case "status":
		s := wk.status()
		return Reply{Status: &s}
	case "close":
		return Reply{}
	}
	return Reply{Err: fmt.Sprintf("unknown op %q", req.Op)}
}

// each runs f on every loop (one after another) and waits.
func (wk *worker) each(f func(*loop)) {
	for _, l := range wk.loops {
		l.call(f)
	}
}

// progressPoll is how often connect checks whether every handshake ended.
const progressPoll = 10 * time.Millisecond

// connect dials every stable client that is not connected, with at most
// concurrency handshakes in flight, and waits until each is ready or failed.
func (wk *worker) connect(concurrency int) *ConnectReport {
	start := nowNano()
	perLoop := max(1, (concurrency+len(wk.loops)-1)/len(wk.loops))
	base := wk.progress()
	var queued int64
	wk.each(func(l *loop) {
		l.maxInflight = perLoop
		for _, c := range l.clients {
			if c.role == roleStable && (c.state == stIdle || c.state == stFailed) {
				c.state = stIdle
				l.enqueue(c)
				queued++
			}
		}
	})
	for {
		p := wk.progress()
		if (p.Ready-base.Ready)+(p.Failed-base.Failed) >= queued {
			break
		}
		time.Sleep(progressPoll)
	}
	rep := &ConnectReport{StartNs: start, EndNs: nowNano(), Errors: map[string]int64{}}
	h := hist.New()
	wk.each(func(l *loop) {
		h.Merge(l.connHist)
		for k, v := range l.errs {
			rep.Errors[k] += v
		}
	})
	p := wk.progress()
	rep.Ready, rep.Failed = p.Ready-base.Ready, p.Failed-base.Failed
	rep.Hist = h.Snapshot()
	return rep
}

func (wk *worker) progress() Progress {
	var p Progress
	for _, l := range wk.loops {
		p.Add(Progress{
			Ready: l.ready.Load(), Failed: l.failed.Load(), Closed: l.closed.Load(),
			SlowClosed: l.slowClosed.Load(), Warmed: l.warmed.Load(),
			Delivered: l.delivered.Load(), Pings: l.pings.Load(),
			ChurnReady: l.churnCycles.Load(), ChurnFail: l.churnFailed.Load(),
		})
	}
	return p
}

func (wk *worker) status() Status {
	s := Status{Progress: wk.progress(), Errors: map[string]int64{}, CloseReasons: map[string]int64{}, PingsMin: -1}
	ch, pf, pg, rh := hist.New(), hist.New(), hist.New(), hist.New()
	wk.each(func(l *loop) {
		s.Cuts += l.cut.cuts
		s.Recovered += l.cut.recovered
		s.NotRecovered += l.cut.notRecovered
		if l.cut.hist != nil {
			rh.Merge(l.cut.hist)
		}
		pf.Merge(l.pingFirst)
		pg.Merge(l.pingGap)
		for k, v := range l.errs {
			s.Errors[k] += v
		}
		for k, v := range l.closes {
			s.CloseReasons[k] += v
		}
		ch.Merge(l.churnHist)
		s.Starved += l.churn.starved
		s.Foreign += l.foreign
		for _, c := range l.clients {
			if c.role != roleStable || c.state != stReady {
				continue
			}
			s.ReadyNow++
			if s.PingsMin < 0 || c.pings < s.PingsMin {
				s.PingsMin = c.pings
			}
			s.PingsMax = max(s.PingsMax, c.pings)
		}
	})
	s.PingsMin = max(s.PingsMin, 0)
	s.ChurnHist = ch.Snapshot()
	s.PingFirst, s.PingGap = pf.Snapshot(), pg.Snapshot()
	s.RecoveryHist = rh.Snapshot()
	s.CPU, _ = procstat.ReadCPU(os.Getpid())
	return s
}

// setPaused stops (pause) or resumes reading on this loop's slow consumers.
// A paused socket is removed from epoll, so a hang-up cannot spin the loop.
func (l *loop) setPaused(pause bool) {
	for _, c := range l.clients {
		if !c.slow || c.fd < 0 || c.state != stReady || c.pause == pause {
			continue
		}
		c.pause = pause
		if pause {
			_ = l.ctl(unix.EPOLL_CTL_DEL, c.fd, 0)
			continue
		}
		ev := uint32(unix.EPOLLIN)
		if len(c.out) > 0 {
			ev |= unix.EPOLLOUT
		}
		_ = l.ctl(unix.EPOLL_CTL_ADD, c.fd, ev)
	}
}

package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Split says how a scenario's clients are spread over worker processes.
type Split struct {
	Targets []string // server ip:port list
	Stable  int      // measured clients
	Churn   int      // churn slots
	// PerWorker caps clients per worker process; each holds one descriptor
	// and a process may open at most 20,000. Zero means DefaultPerWorker.
	PerWorker  int
	MinWorkers int // at least this many workers
	// Loops per worker; zero means 2 for a single worker, else 1 (the
	// machine has 2 cores, shared with the server).
	Loops int
	// SourceBase is the last octet of the first source address: worker w
	// binds to 127.0.0.(SourceBase+w). Zero means 2.
	SourceBase int
	Secret     string
	Deflate    bool // offer permessage-deflate
	Recover    bool // track recovery offsets (the recovery scenario)
	Joins      []string
	Channels   int
	SlowEvery  int
	Timeout    time.Duration // handshake time-out; zero means 30 s
	Exe        string        // binary to re-exec as worker; zero means os.Executable
}

// DefaultPerWorker leaves headroom under the 20,000-descriptor limit.
const DefaultPerWorker = 15000

// WorkerArg is the first argument that makes the loadgen binary a worker.
const WorkerArg = "__worker"

// Coordinator owns the worker processes of one scenario.
type Coordinator struct {
	workers []*workerProc
}

type workerProc struct {
	cfg   WorkerConfig
	cmd   *exec.Cmd
	stdin io.WriteCloser
	enc   *json.Encoder
	dec   *json.Decoder
}

// Plan returns the worker configurations for s.
func (s Split) Plan() ([]WorkerConfig, error) {
	per := s.PerWorker
	if per <= 0 {
		per = DefaultPerWorker
	}
	total := s.Stable + s.Churn
	n := max(s.MinWorkers, (total+per-1)/per, 1)
	base := s.SourceBase
	if base == 0 {
		base = 2
	}
	if base+n-1 > 254 {
		return nil, fmt.Errorf("loadgen: %d workers need source addresses up to 127.0.0.%d", n, base+n-1)
	}
	if len(s.Targets) == 0 {
		return nil, errors.New("loadgen: no target")
	}
	loops := s.Loops
	if loops <= 0 {
		loops = 1
		if n == 1 {
			loops = 2
		}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cfgs := make([]WorkerConfig, n)
	stableAt, churnAt := 0, s.Stable
	for w := range n {
		sc := s.Stable/n + boolInt(w < s.Stable%n)
		cc := s.Churn/n + boolInt(w < s.Churn%n)
		cfgs[w] = WorkerConfig{
			Worker: w, Targets: s.Targets, Source: fmt.Sprintf("127.0.0.%d", base+w),
			First: stableAt, Count: sc, ChurnFirst: churnAt, ChurnCount: cc,
			Loops: loops, Secret: s.Secret, Deflate: s.Deflate, Recover: s.Recover, Joins: s.Joins, Channels: s.Channels,
			SlowEvery: s.SlowEvery, HandshakeTimeout: timeout,
		}
		stableAt += sc
		churnAt += cc
	}
	return cfgs, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// StartWorkers launches one worker process per configuration and waits
// until each has its loops running.
func StartWorkers(ctx context.Context, s Split) (*Coordinator, error) {
	cfgs, err := s.Plan()
	if err != nil {
		return nil, err
	}
	exe := s.Exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("loadgen: find own binary: %w", err)
		}
	}
	co := &Coordinator{}
	for _, cfg := range cfgs {
		wp, err := startWorker(ctx, exe, cfg)
		if err != nil {
			co.Close()
			return nil, err
		}
		co.workers = append(co.workers, wp)
	}
	return co, nil
}

func startWorker(ctx context.Context, exe string, cfg WorkerConfig) (*workerProc, error) {
	cmd := exec.CommandContext(ctx, exe, WorkerArg)
	cmd.Stderr = os.Stderr
	// The kernel kills a worker whose coordinator dies, even by SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("loadgen: worker %d stdin: %w", cfg.Worker, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("loadgen: worker %d stdout: %w", cfg.Worker, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadgen: start worker %d: %w", cfg.Worker, err)
	}
	wp := &workerProc{cfg: cfg, cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin),
		dec: json.NewDecoder(bufio.NewReader(stdout))}
	if err := wp.enc.Encode(cfg); err != nil {
		wp.kill()
		return nil, fmt.Errorf("loadgen: configure worker %d: %w", cfg.Worker, err)
	}
	var hello Reply
	if err := wp.dec.Decode(&hello); err != nil {
		wp.kill()
		return nil, fmt.Errorf("loadgen: worker %d did not start: %w", cfg.Worker, err)
	}
	if hello.Err != "" {
		wp.kill()
		return nil, fmt.Errorf("loadgen: worker %d: %s", cfg.Worker, hello.Err)
	}
	return wp, nil
}

func (wp *workerProc) call(req Request) (Reply, error) {
	if err := wp.enc.Encode(req); err != nil {
		return Reply{}, fmt.Errorf("loadgen: send %s to worker %d: %w", req.Op, wp.cfg.Worker, err)
	}
	var rep Reply
	if err := wp.dec.Decode(&rep); err != nil {
		return Reply{}, fmt.Errorf("loadgen: reply to %s from worker %d: %w", req.Op, wp.cfg.Worker, err)
	}
	if rep.Err != "" {
		return rep, fmt.Errorf("loadgen: worker %d: %s: %s", wp.cfg.Worker, req.Op, rep.Err)
	}
	return rep, nil
}

func (wp *workerProc) kill() {
	_ = wp.cmd.Process.Kill()
	_ = wp.cmd.Wait()
}

// Configs returns the worker configurations, in worker order.
func (co *Coordinator) Configs() []WorkerConfig {
	out := make([]WorkerConfig, len(co.workers))
	for i, w := range co.workers {
		out[i] = w.cfg
	}
	return out
}

// PIDs returns the worker process ids.
func (co *Coordinator) PIDs() []int {
	out := make([]int, len(co.workers))
	for i, w := range co.workers {
		out[i] = w.cmd.Process.Pid
	}
	return out
}

// Each sends req(i) to every worker i at once and returns the replies in
// worker order.
func (co *Coordinator) Each(req func(i int, cfg WorkerConfig) Request) ([]Reply, error) {
	reps := make([]Reply, len(co.workers))
	errs := make([]error, len(co.workers))
	var wg sync.WaitGroup
	for i, w := range co.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = w.call(req(i, w.cfg))
		}()
	}
	wg.Wait()
	return reps, errors.Join(errs...)
}

// All sends the same request to every worker.
func (co *Coordinator) All(req Request) ([]Reply, error) {
	return co.Each(func(int, WorkerConfig) Request { return req })
}

// Progress sums the workers' counters.
func (co *Coordinator) Progress() (Progress, error) {
	reps, err := co.All(Request{Op: "progress"})
	var p Progress
	for _, r := range reps {
		if r.Progress != nil {
			p.Add(*r.Progress)
		}
	}
	return p, err
}

// closeGrace is how long Close waits for a worker to exit by itself.
const closeGrace = 10 * time.Second

// Close asks every worker to reset its connections and exit, and kills the
// ones that do not within closeGrace.
func (co *Coordinator) Close() {
	var wg sync.WaitGroup
	for _, w := range co.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() {
				_, _ = w.call(Request{Op: "close"})
				_ = w.stdin.Close()
				_ = w.cmd.Wait()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(closeGrace):
				w.kill()
			}
		}()
	}
	wg.Wait()
	co.workers = nil
}

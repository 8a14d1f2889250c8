package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/notify-wss/notify-wss/bench/loadgen"
)

// Config is what benchrun was asked to do.
type Config struct {
	Root       string   // repository root
	Quick      bool     // small sizes, for a run under 5 minutes
	Runs       int      // repetitions of the whole suite; zero means 3 (1 if Quick)
	Servers    []string // implementations, in interleaving order
	Scenarios  []string // subset of the plan; empty means all
	Out        string   // report path; empty means <Root>/BENCHMARKS.md
	ResultsDir string   // raw results and logs; empty means <Root>/bench/results
	NoBuild    bool     // use the binaries already in bin/
	Secret     string   // JWT secret given to servers and load generator
	Progress   io.Writer
}

// record is the outcome of one scenario against one server in one run.
type record struct {
	Run       int             `json:"run"`
	Server    string          `json:"server"`
	Scenario  string          `json:"scenario"`
	Result    *loadgen.Result `json:"result,omitempty"`
	Command   string          `json:"command"`
	ServerCmd string          `json:"serverCmd"`
	Err       string          `json:"err,omitempty"`
}

// suite is the state of one benchrun invocation.
type suite struct {
	cfg      Config
	ps       *procs
	redis    string
	redisPID int           // redis-server's pid, for its CPU
	cluster  *redisCluster // for the cluster kinds; nil when none runs
	log      io.Writer     // server and redis output
	records  []record
	notes    []string
	started  time.Time
	dir      string // this invocation's results directory
}

// Run executes the suite and writes the report. Every child process is
// stopped before it returns, whatever happened.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Runs <= 0 {
		cfg.Runs = 3
		if cfg.Quick {
			cfg.Runs = 1
		}
	}
	if cfg.Out == "" {
		cfg.Out = filepath.Join(cfg.Root, "BENCHMARKS.md")
	}
	if cfg.ResultsDir == "" {
		cfg.ResultsDir = filepath.Join(cfg.Root, "bench", "results")
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	plan, err := selectPlan(cfg)
	if err != nil {
		return err
	}
	for _, sv := range cfg.Servers {
		if _, ok := serverKinds[sv]; !ok {
			return fmt.Errorf("runner: unknown server %q", sv)
		}
	}
	s := &suite{cfg: cfg, ps: newProcs(), started: time.Now()}
	defer s.ps.stopAll()
	s.dir = filepath.Join(cfg.ResultsDir, s.started.UTC().Format("20060102-150405"))
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("runner: results dir: %w", err)
	}
	logf, err := os.Create(filepath.Join(s.dir, "servers.log"))
	if err != nil {
		return fmt.Errorf("runner: server log: %w", err)
	}
	defer logf.Close()
	s.log = logf

	if !cfg.NoBuild {
		s.build(ctx)
	}
	if slices.Contains(s.cfg.Servers, Node) {
		if err := s.npmInstall(ctx); err != nil {
			s.dropServer(Node, err)
		}
	}
	if len(s.cfg.Servers) == 0 {
		return errors.New("runner: no server left to benchmark")
	}
	m := describeMachine(ctx, cfg.Root)
	if err := s.saveMachine(m); err != nil {
		return err
	}

	rp, raddr, err := startRedis(ctx, s.ps, s.log)
	if err != nil {
		return err
	}
	defer s.ps.stop(rp)
	s.redis, s.redisPID = raddr, rp.pid()
	if slices.ContainsFunc(s.cfg.Servers, func(sv string) bool { return serverKinds[sv].cluster }) {
		c, err := startCluster(ctx, s.ps, s.dir, s.log)
		defer c.stop(s.ps)
		if err != nil {
			return err
		}
		s.cluster = c
	}

	for run := 1; run <= cfg.Runs && ctx.Err() == nil; run++ {
		for _, sc := range plan {
			for _, srv := range s.cfg.Servers {
				if ctx.Err() != nil {
					break
				}
				rec := s.runOne(ctx, run, sc, srv)
				s.records = append(s.records, rec)
				s.saveRecord(rec)
			}
		}
		// Rewrite the report after every run, so an interrupted suite
		// still leaves what it measured.
		if err := s.writeReport(m, plan); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		s.notes = append(s.notes, "The suite was interrupted: "+ctx.Err().Error())
		_ = s.writeReport(m, plan)
		return ctx.Err()
	}
	return nil
}

func selectPlan(cfg Config) ([]scenarioPlan, error) {
	all := fullPlan()
	if cfg.Quick {
		all = quickPlan()
	}
	if len(cfg.Scenarios) == 0 {
		return all, nil
	}
	var out []scenarioPlan
	for _, name := range cfg.Scenarios {
		i := slices.IndexFunc(all, func(p scenarioPlan) bool { return p.name == name })
		if i < 0 {
			return nil, fmt.Errorf("runner: unknown scenario %q", name)
		}
		out = append(out, all[i])
	}
	return out, nil
}

// build compiles the load generator, the floor and notify-wss into bin/. A
// server that does not build is left out of the suite, with a note.
func (s *suite) build(ctx context.Context) {
	targets := []struct{ server, out, pkg string }{
		{"", "loadgen", "./bench/cmd/loadgen"},
		{Floor, "bench-floor", "./bench/peers/floor"},
		{NotifyWSS, "notify-wss", "./cmd/notify-wss"},
	}
	for _, t := range targets {
		if t.server != "" && !needsBinary(s.cfg.Servers, t.server) {
			continue
		}
		fmt.Fprintf(s.cfg.Progress, "build %s\n", t.pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join("bin", t.out), t.pkg)
		cmd.Dir = s.cfg.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			err = fmt.Errorf("go build %s: %v: %s", t.pkg, err, bytes.TrimSpace(out))
			if t.server == "" {
				s.notes = append(s.notes, err.Error())
				s.cfg.Servers = nil // nothing can run without the generator
				return
			}
			for _, sv := range slices.Clone(s.cfg.Servers) {
				if serverKinds[sv].binary == t.server {
					s.dropServer(sv, err)
				}
			}
		}
	}
}

// npmInstall installs the Node peer's pinned dependencies if missing.
func (s *suite) npmInstall(ctx context.Context) error {
	dir := filepath.Join(s.cfg.Root, "bench", "peers", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io")); err == nil {
		return nil
	}
	fmt.Fprintln(s.cfg.Progress, "npm ci in bench/peers/node")
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func (s *suite) dropServer(name string, why error) {
	s.notes = append(s.notes, fmt.Sprintf("%s was left out: %v", name, why))
	s.cfg.Servers = slices.DeleteFunc(s.cfg.Servers, func(n string) bool { return n == name })
}

// runOne starts fresh server processes, runs one scenario against them and
// stops them again.
func (s *suite) runOne(ctx context.Context, run int, sc scenarioPlan, server string) record {
	rec := record{Run: run, Server: server, Scenario: sc.name}
	t0 := time.Now()
	fmt.Fprintf(s.cfg.Progress, "run %d/%d  %-9s %-10s ", run, s.cfg.Runs, sc.name, server)
	defer func() {
		status := "ok"
		if rec.Err != "" {
			status = "FAILED: " + firstLine(rec.Err)
		}
		fmt.Fprintf(s.cfg.Progress, "%5.1fs  %s\n", time.Since(t0).Seconds(), status)
	}()

	kind := serverKinds[server]
	redisURL, redisArgs := "redis://"+s.redis, []string{"-redis", s.redis, "-redis-pid", strconv.Itoa(s.redisPID)}
	if kind.cluster {
		redisURL = s.cluster.url()
		redisArgs = []string{"-redis", strings.Join(s.cluster.addrs, ","), "-redis-pid", s.cluster.pids(), "-publish", "sharded"}
	}
	insts, err := startServers(ctx, s.ps, s.cfg.Root, kind, sc.instances, redisURL, s.cfg.Secret, s.log)
	defer func() {
		for _, in := range insts {
			s.ps.stop(in.p)
		}
	}()
	if len(insts) > 0 {
		rec.ServerCmd = insts[0].cmd
	}
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	var targets, pids []string
	for _, in := range insts {
		targets = append(targets, in.addr)
		pids = append(pids, strconv.Itoa(in.p.pid()))
	}
	argv := append([]string{filepath.Join(s.cfg.Root, "bin", "loadgen"), sc.name,
		"-label", server, "-secret", s.cfg.Secret,
		"-target", strings.Join(targets, ","), "-server-pid", strings.Join(pids, ",")}, append(redisArgs, sc.args...)...)
	argv = append(argv, kind.loadgen...)
	rec.Command = shellJoin(argv)

	lctx, cancel := context.WithTimeout(ctx, sc.timeout)
	defer cancel()
	errLog, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("run%d-%s-%s.stderr", run, sc.name, server)))
	if err != nil {
		rec.Err = err.Error()
		return rec
	}
	defer errLog.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.cfg.Root
	out, runErr := s.ps.runCmd(lctx, "loadgen "+sc.name, cmd, errLog)
	if res := lastJSONLine(out); res != nil {
		rec.Result = res
		if res.Failed != "" {
			rec.Err = res.Failed
		}
	}
	if runErr != nil && rec.Err == "" {
		rec.Err = runErr.Error()
	}
	for _, in := range insts {
		if in.p.exited() {
			msg := fmt.Sprintf("%s exited during the scenario (%v)", in.p.name, in.p.err)
			rec.Err = strings.TrimPrefix(rec.Err+"; "+msg, "; ")
		}
	}
	return rec
}

// lastJSONLine decodes the last non-empty line of out as a Result.
func lastJSONLine(out []byte) *loadgen.Result {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) == 0 || len(lines[len(lines)-1]) == 0 {
		return nil
	}
	var r loadgen.Result
	if err := json.Unmarshal(lines[len(lines)-1], &r); err != nil {
		return nil
	}
	return &r
}

// saveRecord appends rec to results.jsonl in the invocation's directory.
func (s *suite) saveRecord(rec record) {
	f, err := os.OpenFile(filepath.Join(s.dir, "results.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_ = json.NewEncoder(f).Encode(rec)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// machineFile holds the machine description of an invocation, next to its
// results.jsonl, so that Render can rebuild the report later.
const machineFile = "machine.json"

// saveMachine writes m into the invocation's results directory.
func (s *suite) saveMachine(m machine) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("runner: encode machine: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, machineFile), b, 0o644); err != nil {
		return fmt.Errorf("runner: save machine: %w", err)
	}
	return nil
}

// Render rewrites the report from the results of an earlier invocation,
// dir (bench/results/<timestamp>), without running anything: after the
// report's format, its targets or bench/ANALYSIS.md changed. Only the
// scenarios and servers found in dir are reported.
func Render(cfg Config, dir string) error {
	if cfg.Out == "" {
		cfg.Out = filepath.Join(cfg.Root, "BENCHMARKS.md")
	}
	s := &suite{cfg: cfg, dir: dir}
	started, err := time.Parse("20060102-150405", filepath.Base(dir))
	if err != nil {
		return fmt.Errorf("runner: %s is not a results directory (bench/results/<timestamp>): %w", dir, err)
	}
	s.started = started
	var m machine
	if b, err := os.ReadFile(filepath.Join(dir, machineFile)); err != nil {
		return fmt.Errorf("runner: %w", err)
	} else if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("runner: %s: %w", machineFile, err)
	}
	if err := s.loadRecords(filepath.Join(dir, "results.jsonl")); err != nil {
		return err
	}
	all, err := selectPlan(cfg)
	if err != nil {
		return err
	}
	var plan []scenarioPlan
	for _, sc := range all {
		if slices.ContainsFunc(s.records, func(r record) bool { return r.Scenario == sc.name }) {
			plan = append(plan, sc)
		}
	}
	s.cfg.Servers, s.cfg.Runs = nil, 0
	for _, srv := range []string{NotifyWSS, Node, Floor} {
		if slices.ContainsFunc(s.records, func(r record) bool { return r.Server == srv }) {
			s.cfg.Servers = append(s.cfg.Servers, srv)
		}
	}
	for _, r := range s.records {
		s.cfg.Runs = max(s.cfg.Runs, r.Run)
	}
	return s.writeReport(m, plan)
}

// loadRecords reads results.jsonl.
func (s *suite) loadRecords(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("runner: %s: %w", path, err)
		}
		s.records = append(s.records, r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("runner: %s: %w", path, err)
	}
	return nil
}

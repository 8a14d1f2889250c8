// Command benchrun runs the benchmark suite and rewrites BENCHMARKS.md.
//
//	go run ./bench/cmd/benchrun           # full suite, 3 interleaved runs
//	go run ./bench/cmd/benchrun -quick    # small N, 1 run, under 5 minutes
//
// It builds bin/loadgen, bin/bench-floor and bin/notify-wss, installs the
// Node peer's pinned packages if needed, starts redis-server on a free port
// and every server itself, and stops all of them on exit, on error, on
// timeout and on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/notify-wss/notify-wss/bench/runner"
)

func main() {
	var cfg runner.Config
	var servers, scenarios string
	var timeout time.Duration
	var render string
	flag.BoolVar(&cfg.Quick, "quick", false, "small sizes and 1 run (bench-quick)")
	flag.IntVar(&cfg.Runs, "runs", 0, "runs of the whole suite (default 3, or 1 with -quick)")
	flag.StringVar(&servers, "servers", "notify-wss,node,floor", "servers to compare, in interleaving order: notify-wss, notify-wss-dynamic (REDIS_SUBSCRIBE=dynamic), notify-wss-sharded (REDIS_SUBSCRIBE=sharded on a 3-master cluster), notify-wss-norecovery (RECOVERY_WINDOW=0), notify-wss-deflate (COMPRESSION=on, clients offering permessage-deflate), node, floor")
	flag.StringVar(&scenarios, "scenarios", "", "comma-separated subset: connect,idle,fanout,unicast,churn,slow,flood,recovery,scaleout")
	flag.StringVar(&cfg.Out, "out", "", "report path (default <repo>/BENCHMARKS.md)")
	flag.StringVar(&cfg.ResultsDir, "results", "", "raw results directory (default <repo>/bench/results)")
	flag.BoolVar(&cfg.NoBuild, "no-build", false, "use the binaries already in bin/")
	flag.StringVar(&cfg.Secret, "secret", "bench-secret", "JWT secret shared by servers and load generator")
	flag.DurationVar(&timeout, "timeout", 0, "stop everything after this long (default 10m with -quick, 4h otherwise)")
	flag.StringVar(&render, "render", "", "only rewrite the report from an earlier run's results directory (bench/results/<timestamp>)")
	flag.Parse()

	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
	cfg.Root = root
	cfg.Servers = split(servers)
	cfg.Scenarios = split(scenarios)
	cfg.Progress = os.Stderr
	if render != "" {
		if err := runner.Render(cfg, render); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun:", err)
			os.Exit(1)
		}
		return
	}
	if timeout == 0 {
		timeout = 4 * time.Hour
		if cfg.Quick {
			timeout = 10 * time.Minute
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	err = runner.Run(ctx, cfg)
	fmt.Fprintf(os.Stderr, "benchrun: finished in %v\n", time.Since(start).Round(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// repoRoot is the directory of the main module's go.mod.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the notify-wss module")
	}
	return filepath.Dir(mod), nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

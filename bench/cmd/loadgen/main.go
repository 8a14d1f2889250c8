// Command loadgen drives a Socket.IO v4 notification server with many
// WebSocket clients and prints one JSON line per scenario run.
//
// Usage:
//
//	loadgen <scenario> -target 127.0.0.1:3000 -redis 127.0.0.1:6379 -secret s \
//	        [-server-pid PID] [-n 1000] [flags]
//
// Scenarios: connect, idle, fanout, scaleout, unicast, churn, slow. Run
// "loadgen <scenario> -h" for the flags. The binary re-executes itself as
// worker processes (first argument __worker) to hold more connections than
// one process may open.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/notify-wss/notify-wss/bench/loadgen"
)

// profileEnv names a directory; when set, each worker writes a CPU profile
// there (worker-<pid>.pprof), for checking that the generator is cheap.
const profileEnv = "LOADGEN_PROFILE_DIR"

func startProfile() (stop func()) {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s/worker-%d.pprof", dir, os.Getpid()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: profile:", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == loadgen.WorkerArg {
		// Workers ignore SIGINT and SIGTERM sent to the whole process group:
		// the coordinator shuts them down in order, and the kernel kills
		// them if the coordinator dies (Pdeathsig).
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		stopProfile := startProfile()
		err := loadgen.RunWorker(os.Stdin, os.Stdout)
		stopProfile()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintf(os.Stderr, "usage: loadgen <%s> [flags]\n", strings.Join(loadgen.Scenarios(), "|"))
		os.Exit(2)
	}
	name := os.Args[1]
	fs := flag.NewFlagSet("loadgen "+name, flag.ExitOnError)
	var opt loadgen.Options
	opt.RegisterFlags(fs)
	_ = fs.Parse(os.Args[2:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res := loadgen.Run(ctx, name, opt)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: write result:", err)
		os.Exit(1)
	}
	if res.Failed != "" {
		fmt.Fprintln(os.Stderr, "loadgen:", name, "failed:", res.Failed)
		os.Exit(1)
	}
}

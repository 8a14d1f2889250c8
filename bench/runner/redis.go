package runner

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"time"
)

// redisBin is where the machine's redis-server lives.
const redisBin = "/usr/bin/redis-server"

// startRedis starts a throw-away redis-server on a free loopback port, with
// persistence off, and returns its address.
func startRedis(ctx context.Context, ps *procs, log io.Writer) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(redisBin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = log, log
	p, err := ps.start("redis-server", cmd)
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitListening(ctx, p, addr, 10*time.Second); err != nil {
		ps.stop(p)
		return nil, "", fmt.Errorf("runner: redis: %w", err)
	}
	return p, addr, nil
}

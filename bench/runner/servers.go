package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Server names, as used on the command line and in the report.
const (
	NotifyWSS = "notify-wss"
	// NotifyWSSDynamic is the same binary with REDIS_SUBSCRIBE=dynamic: one
	// SUBSCRIBE per room with members here instead of PSUBSCRIBE to all.
	NotifyWSSDynamic = "notify-wss-dynamic"
	// NotifyWSSSharded is the same binary with REDIS_SUBSCRIBE=sharded on
	// a three-master Redis Cluster the runner starts: SSUBSCRIBE per room
	// with members here, on the master of its slot; the load generator
	// SPUBLISHes through a cluster client.
	NotifyWSSSharded = "notify-wss-sharded"
	// NotifyWSSNoRecovery is the same binary with RECOVERY_WINDOW=0: no
	// offsets in the frames, no history. Beside notify-wss it prices
	// connection state recovery.
	NotifyWSSNoRecovery = "notify-wss-norecovery"
	// NotifyWSSDeflate is the same binary with COMPRESSION=on and every
	// notification compressed (COMPRESSION_MIN_BYTES=1), its clients
	// offering permessage-deflate as browsers do (-deflate). Beside
	// notify-wss it prices compression.
	NotifyWSSDeflate = "notify-wss-deflate"
	Node             = "node"
	Floor            = "floor"
)

// serverStartTimeout bounds how long a server may take to listen.
const serverStartTimeout = 20 * time.Second

// serverKind knows how to start one implementation.
type serverKind struct {
	name string
	// argv returns the command line, relative to the repository root.
	argv func(root string) []string
	// env is added to serverEnv: the settings that make this kind.
	env []string
	// binary is the build target (a server name in build) whose output
	// argv runs; "" when nothing is built.
	binary string
	// loadgen are load generator flags this kind's runs add.
	loadgen []string
	// cluster: the kind runs on the runner's Redis Cluster (REDIS_MODE=
	// cluster) instead of its single redis-server, and the load generator
	// SPUBLISHes.
	cluster bool
}

func notifyWSSArgv(root string) []string { return []string{filepath.Join(root, "bin", "notify-wss")} }

var serverKinds = map[string]serverKind{
	NotifyWSS:           {name: NotifyWSS, argv: notifyWSSArgv, binary: NotifyWSS},
	NotifyWSSDynamic:    {name: NotifyWSSDynamic, argv: notifyWSSArgv, env: []string{"REDIS_SUBSCRIBE=dynamic"}, binary: NotifyWSS},
	NotifyWSSSharded:    {name: NotifyWSSSharded, argv: notifyWSSArgv, env: []string{"REDIS_SUBSCRIBE=sharded", "REDIS_MODE=cluster"}, binary: NotifyWSS, cluster: true},
	NotifyWSSNoRecovery: {name: NotifyWSSNoRecovery, argv: notifyWSSArgv, env: []string{"RECOVERY_WINDOW=0"}, binary: NotifyWSS},
	NotifyWSSDeflate: {name: NotifyWSSDeflate, argv: notifyWSSArgv, env: []string{"COMPRESSION=on", "COMPRESSION_MIN_BYTES=1"},
		binary: NotifyWSS, loadgen: []string{"-deflate"}},
	Node: {name: Node, argv: func(root string) []string {
		return []string{"node", filepath.Join(root, "bench", "peers", "node", "server.js")}
	}},
	Floor: {name: Floor, argv: func(root string) []string { return []string{filepath.Join(root, "bin", "bench-floor")} }, binary: Floor},
}

// needsBinary reports whether any of servers runs the binary built for
// target.
func needsBinary(servers []string, target string) bool {
	for _, sv := range servers {
		if serverKinds[sv].binary == target {
			return true
		}
	}
	return false
}

// instance is one running server process.
type instance struct {
	p    *proc
	addr string // 127.0.0.1:port
	cmd  string // shell form of the command, for the report
}

// serverEnv is the environment every implementation gets (the product
// contract), plus PATH.
func serverEnv(redisURL, secret string, port int) []string {
	return []string{
		"REDIS_URL=" + redisURL,
		"JWT_SECRET=" + secret,
		"PORT=" + strconv.Itoa(port),
		"HOST=127.0.0.1",
		"NODE_ENV=production",
		"LOG_LEVEL=warn",
	}
}

// startServers starts count instances of kind on fresh ports and waits
// until each answers GET /health.
func startServers(ctx context.Context, ps *procs, root string, k serverKind, count int, redisURL, secret string, log io.Writer) ([]instance, error) {
	var out []instance
	for i := range count {
		port, err := freePort()
		if err != nil {
			return out, err
		}
		argv := k.argv(root)
		env := append(serverEnv(redisURL, secret, port), k.env...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(env, "PATH="+pathEnv())
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = log, log
		p, err := ps.start(fmt.Sprintf("%s#%d", k.name, i), cmd)
		if err != nil {
			return out, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		out = append(out, instance{p: p, addr: addr, cmd: shellJoin(append(env, argv...))})
		if err := waitListening(ctx, p, addr, serverStartTimeout); err != nil {
			return out, err
		}
		if err := waitHealthy(ctx, addr); err != nil {
			return out, fmt.Errorf("runner: %s: %w", p.name, err)
		}
	}
	return out, nil
}

// waitHealthy polls GET /health until it answers 200.
func waitHealthy(ctx context.Context, addr string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(serverStartTimeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /health: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/syncbuf"
)

const (
	// startAttempts bounds how often Start picks a new port when the one it
	// chose was taken between closing the probe listener and redis-server's
	// bind (another process raced us to it).
	startAttempts = 5
	// readyTimeout bounds the wait for the first PONG. redis-server answers in
	// a few milliseconds; 10 s leaves room for a loaded 2-core CI machine.
	readyTimeout = 10 * time.Second
	// pollInterval is the pause between readiness probes.
	pollInterval = 10 * time.Millisecond
	// dialTimeout bounds one readiness probe's connect, write and read.
	dialTimeout = 500 * time.Millisecond
	// logTail is how much of redis-server's output a failure message quotes.
	logTail = 2048
)

// Server is a real redis-server started for one test on a free loopback port.
//
// Its methods are safe from any goroutine, except that Publish calls
// t.Fatalf and therefore belongs on the test goroutine.
type Server struct {
	// Addr is host:port of the server, always on 127.0.0.1.
	Addr string
	// URL is the go-redis URL of the server: redis://127.0.0.1:port.
	URL string

	t     testing.TB
	bin   string
	dir   string
	port  int
	extra []string // more redis-server arguments, the same on Restart
	conf  string   // config file passed first ("" for none), e.g. a sentinel's
	// persistent: started by StartPersistent, Restart waits for the AOF
	// to be loaded.
	persistent bool

	mu     sync.Mutex
	proc   *process      // nil when stopped
	client *redis.Client // lazily created by Publish; closed by Stop
}

// process is one running redis-server and the channel closed when it exits.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *syncbuf.Buffer
}

// Start launches redis-server on a free loopback port with persistence off
// and its directory in t.TempDir(), waits until it answers (an INFO server
// probe that also checks that the answering process is ours) and registers
// t.Cleanup to kill it. It fails the test if redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, launchOptions{})
}

// StartPersistent is Start with the append-only file on and fsynced after
// every write (--appendonly yes --appendfsync always): every command Redis
// acknowledged survives Stop (SIGKILL), and Restart loads it back, on the
// same port and in the same directory.
func StartPersistent(t testing.TB) *Server {
	t.Helper()
	s := start(t, launchOptions{args: func() ([]string, error) {
		return []string{"--appendonly", "yes", "--appendfsync", "always"}, nil
	}})
	s.persistent = true
	return s
}

// launchOptions are what Start's variants add to a plain server.
type launchOptions struct {
	// args returns more arguments for one launch attempt; it may pick
	// free ports of its own (a cluster bus port), so each attempt calls it
	// again. Nil means none.
	args func() ([]string, error)
	// conf returns the contents of a config file written to the server's
	// directory and passed first; nil means none. It is given the port of
	// the attempt.
	conf func(port int) string
}

// start is Start with options.
func start(t testing.TB, o launchOptions) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found: run `make deps` (%v)", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(s.Stop)

	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: pick a free port: %v", err)
		}
		s.extra, s.conf = nil, ""
		if o.args != nil {
			if s.extra, err = o.args(); err != nil {
				t.Fatalf("redistest: %v", err)
			}
		}
		if o.conf != nil {
			s.conf = filepath.Join(s.dir, "redis.conf")
			if err := os.WriteFile(s.conf, []byte(o.conf(port)), 0o600); err != nil {
				t.Fatalf("redistest: write %s: %v", s.conf, err)
			}
		}
		p, err := s.launch(port)
		if err != nil {
			// Most likely a bind race on the port; pick another one.
			lastErr = err
			continue
		}
		s.mu.Lock()
		s.port, s.proc = port, p
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.URL = "redis://" + s.Addr
		s.mu.Unlock()
		return s
	}
	t.Fatalf("redistest: start redis-server after %d attempts: %v", startAttempts, lastErr)
	return nil
}

// Stop kills the server and waits for it to exit. Clients connected to it see
// the connection drop. Stop is idempotent; Start registers it with t.Cleanup.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		_ = s.client.Close()
		s.client = nil
	}
	if s.proc == nil {
		return
	}
	s.proc.kill()
	s.proc = nil
}

// Restart starts the server again on the same port and directory (stopping
// it first if it is running) and waits until it answers. The new server
// starts empty, except one from StartPersistent, which has loaded its
// append-only file when Restart returns. It fails the test if the port has
// been taken in the meantime.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Right after a kill the port may still be held for a moment; retry the
	// launch briefly rather than failing on the first attempt.
	deadline := time.Now().Add(readyTimeout)
	for {
		p, err := s.launch(s.port)
		if err == nil {
			s.proc = p
			if s.persistent {
				waitInfo(s.t, s.Addr, "persistence", "loading:0")
			}
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr, err)
		}
		time.Sleep(pollInterval)
	}
}

// Publish publishes payload on channel through a go-redis client and returns
// the number of subscribers that received it (the PUBLISH reply). It fails
// the test on error, so call it from the test goroutine.
func (s *Server) Publish(t testing.TB, channel, payload string) int64 {
	t.Helper()
	s.mu.Lock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: 2})
	}
	c := s.client
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	n, err := c.Publish(ctx, channel, payload).Result()
	if err != nil {
		t.Fatalf("redistest: PUBLISH %s: %v", channel, err)
	}
	return n
}

// launch starts redis-server on port and waits until it answers. On
// failure the process is killed and the error quotes its output.
func (s *Server) launch(port int) (*process, error) {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		// A replica's first sync starts at once, not after Redis 7's
		// default 5 s wait for more replicas to share the transfer.
		"--repl-diskless-sync-delay", "0",
	)
	args = append(args, s.extra...)
	cmd := exec.Command(s.bin, args...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redistest: exec %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("redistest: redis-server exited before answering: %s", out.Tail(logTail))
		default:
		}
		pid, err := serverPID(addr)
		if err == nil && pid == cmd.Process.Pid {
			return p, nil
		}
		if err == nil {
			// Someone else's server answers on this port: we lost a bind race
			// (our process is about to exit with "Address already in use").
			p.kill()
			return nil, fmt.Errorf("redistest: port %d answered by another redis-server (pid %d)", port, pid)
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("redistest: redis-server on %s not ready after %v: %w: %s", addr, readyTimeout, err, out.Tail(logTail))
		}
		time.Sleep(pollInterval)
	}
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// serverPID asks the server on addr for its process id with an inline
// INFO server, without any client library. Comparing it with the pid we
// started proves the answer comes from our process and not from a server
// that won a bind race on the same port.
func serverPID(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	rd := bufio.NewReader(c)
	head, err := rd.ReadString('\n')
	if err != nil {
		return 0, err
	}
	head = strings.TrimSpace(head)
	if !strings.HasPrefix(head, "$") {
		// "-LOADING …" and similar: not ready yet.
		return 0, errors.New("redistest: unexpected INFO reply " + strconv.Quote(head))
	}
	n, err := strconv.Atoi(head[1:])
	if err != nil || n < 0 {
		return 0, errors.New("redistest: bad INFO length " + strconv.Quote(head))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("redistest: INFO server has no process_id")
}

// freePort asks the kernel for a free loopback port. The port is free when
// this returns but may be taken before redis-server binds it; Start retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

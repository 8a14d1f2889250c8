package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a child gets between SIGTERM and SIGKILL.
const stopGrace = 5 * time.Second

// proc is a child process in its own process group, so stopping it also
// stops anything it started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// procs tracks every live child so that all of them can be stopped on any
// exit path, including a signal to the runner.
type procs struct {
	mu   sync.Mutex
	live map[*proc]struct{}
}

func newProcs() *procs { return &procs{live: map[*proc]struct{}{}} }

// start launches cmd (already configured) as a tracked child.
func (ps *procs) start(name string, cmd *exec.Cmd) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("runner: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.live[p] = struct{}{}
	ps.mu.Unlock()
	return p, nil
}

// pid is the child's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the child has already ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's group, then SIGKILL after stopGrace.
func (ps *procs) stop(p *proc) {
	if !p.exited() {
		_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
			<-p.done
		}
	}
	ps.mu.Lock()
	delete(ps.live, p)
	ps.mu.Unlock()
}

// stopAll stops every live child.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	all := make([]*proc, 0, len(ps.live))
	for p := range ps.live {
		all = append(all, p)
	}
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() { defer wg.Done(); ps.stop(p) }()
	}
	wg.Wait()
}

// runCmd runs cmd to completion as a tracked child, stopping it when ctx
// ends. Its stdout is returned; stderr goes to errOut.
func (ps *procs) runCmd(ctx context.Context, name string, cmd *exec.Cmd, errOut io.Writer) ([]byte, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runner: pipe for %s: %w", name, err)
	}
	cmd.Stdout = pw
	cmd.Stderr = errOut
	p, err := ps.start(name, cmd)
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, err
	}
	outc := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		pr.Close()
		outc <- b
	}()
	select {
	case <-p.done:
	case <-ctx.Done():
		ps.stop(p)
	}
	ps.stop(p)
	out := <-outc
	if ctx.Err() != nil {
		return out, fmt.Errorf("runner: %s: %w", name, ctx.Err())
	}
	if p.err != nil {
		return out, fmt.Errorf("runner: %s: %w", name, p.err)
	}
	return out, nil
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("runner: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errExited is returned when a child dies while we wait for it to listen.
var errExited = errors.New("exited before listening")

// waitListening polls addr until it accepts a TCP connection.
func waitListening(ctx context.Context, p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("runner: %s: %w", p.name, errExited)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("runner: %s not listening on %s after %v", p.name, addr, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

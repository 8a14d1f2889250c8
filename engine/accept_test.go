package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notify-wss/notify-wss/internal/syncbuf"
)

// The descriptor-exhaustion test runs the server in a child process (this
// test binary, re-executed) whose RLIMIT_NOFILE is lowered, so the limit of
// the test process itself is untouched.
const (
	childEnv       = "ENGINE_TEST_CHILD"           // "limited-server" selects the child mode
	childAddrEnv   = "ENGINE_TEST_CHILD_ADDR"      // the child's listen address
	childNofileEnv = "ENGINE_TEST_CHILD_NOFILE"    // the child's RLIMIT_NOFILE
	childReuseEnv  = "ENGINE_TEST_CHILD_REUSEPORT" // "1": Config.ReusePort
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "limited-server" {
		os.Exit(runLimitedServer())
	}
	os.Exit(m.Run())
}

// runLimitedServer is the child: it lowers RLIMIT_NOFILE, serves on
// childAddrEnv, prints "ready" on stdout once booted, and exits when Run
// returns (1 if it returned an error) or after a clean Shutdown on SIGTERM.
// Logs go to stderr, where the parent looks for the accept error.
func runLimitedServer() int {
	n, err := strconv.ParseUint(os.Getenv(childNofileEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: bad", childNofileEnv, err)
		return 2
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		fmt.Fprintln(os.Stderr, "child: setrlimit:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var srv *Server
	srv = New(Config{
		Addr:        os.Getenv(childAddrEnv),
		Loops:       2,
		ReusePort:   os.Getenv(childReuseEnv) == "1",
		Logger:      logger,
		HTTPHandler: func(path string, w *Response) bool { return serveAcceptStats(srv, path, w) },
	}, &testHandler{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()
	select {
	case <-srv.Booted():
		fmt.Println("ready")
	case err := <-done:
		fmt.Fprintln(os.Stderr, "child: run:", err)
		return 1
	}
	select {
	case err := <-done:
		fmt.Fprintln(os.Stderr, "child: run returned without shutdown:", err)
		if err != nil {
			return 1
		}
		return 0
	case <-sigs:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "child: shutdown:", err)
		}
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "child: run after shutdown:", err)
			return 1
		}
		return 0
	}
}

// serveAcceptStats answers GET /accept-stats with the accept error
// counters by errno name, and "shed".
func serveAcceptStats(srv *Server, path string, w *Response) bool {
	if path != "/accept-stats" {
		return false
	}
	st := map[string]uint64{"shed": srv.Counters().AcceptShed}
	for class, n := range srv.AcceptErrors() {
		st[AcceptError(class).String()] = n
	}
	b, err := json.Marshal(st)
	if err != nil {
		w.Reply(500, "text/plain", []byte(err.Error()))
		return true
	}
	w.Reply(200, "application/json", b)
	return true
}

// acceptStats fetches /accept-stats on h.
func acceptStats(t *testing.T, h *httpConn) map[string]uint64 {
	t.Helper()
	st, body, err := h.get("/accept-stats")
	if err != nil || st != 200 {
		t.Fatalf("accept-stats: %d %v", st, err)
	}
	var out map[string]uint64
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("accept-stats %q: %v", body, err)
	}
	return out
}

// limitedServer is a child process serving with a low descriptor limit.
type limitedServer struct {
	t      *testing.T
	addr   string
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	exited chan struct{} // closed when the child has exited
	err    error         // the child's exit status, once exited is closed
}

func startLimitedServer(t *testing.T, nofile int, reusePort bool) *limitedServer {
	t.Helper()
	addr := freeAddr(t)
	ls := &limitedServer{t: t, addr: addr, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	ls.cmd = exec.Command(os.Args[0], "-test.run=^$")
	ls.cmd.Env = append(os.Environ(),
		childEnv+"=limited-server",
		childAddrEnv+"="+addr,
		childNofileEnv+"="+strconv.Itoa(nofile),
		childReuseEnv+"="+map[bool]string{false: "0", true: "1"}[reusePort])
	ls.cmd.Stderr = ls.stderr
	stdout, err := ls.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		ready <- false
		ls.err = ls.cmd.Wait()
		close(ls.exited)
	}()
	t.Cleanup(func() {
		_ = ls.cmd.Process.Kill()
		<-ls.exited
		if t.Failed() || os.Getenv("ENGINE_TEST_CHILD_LOG") != "" {
			t.Logf("child stderr:\n%s", ls.stderr)
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			<-ls.exited
			t.Fatalf("child exited before it was ready: %v", ls.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready after 30s")
	}
	return ls
}

// running fails the test if the child has exited.
func (ls *limitedServer) running() {
	ls.t.Helper()
	select {
	case <-ls.exited:
		ls.t.Fatalf("server process exited: %v", ls.err)
	default:
	}
}

// httpConn is a keep-alive HTTP/1.1 client connection.
type httpConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialHTTP(addr string) (*httpConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &httpConn{c: c, br: bufio.NewReader(c)}, nil
}

// get sends GET path and returns the status and body.
func (h *httpConn) get(path string) (int, string, error) {
	_ = h.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(h.c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0, "", err
	}
	line, err := h.br.ReadString('\n')
	if err != nil {
		return 0, "", fmt.Errorf("read status: %w", err)
	}
	parts := strings.SplitN(strings.TrimSpace(line), " ", 3)
	if len(parts) < 2 {
		return 0, "", fmt.Errorf("status line %q", line)
	}
	status, _ := strconv.Atoi(parts[1])
	length := 0
	for {
		l, err := h.br.ReadString('\n')
		if err != nil {
			return 0, "", fmt.Errorf("read header: %w", err)
		}
		l = strings.TrimSpace(l)
		if l == "" {
			break
		}
		if k, v, _ := strings.Cut(l, ":"); strings.EqualFold(k, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(h.br, body); err != nil {
		return 0, "", fmt.Errorf("read body: %w", err)
	}
	return status, string(body), nil
}

// TestAcceptSurvivesDescriptorExhaustion floods a server whose descriptor
// limit is low with more connections than it can hold: the server must keep
// serving the connections it has, and accept new ones once descriptors are
// free again, instead of stopping.
func TestAcceptSurvivesDescriptorExhaustion(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reusePort bool
	}{
		{"one listener", false},
		{"ReusePort", true},
	} {
		t.Run(tc.name, func(t *testing.T) { testDescriptorExhaustion(t, tc.reusePort) })
	}
}

func testDescriptorExhaustion(t *testing.T, reusePort bool) {
	const nofile = 200
	ls := startLimitedServer(t, nofile, reusePort)

	keep, err := dialHTTP(ls.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.c.Close()
	if st, _, err := keep.get("/ready"); err != nil || st != 200 {
		t.Fatalf("ready before the flood: %d %v", st, err)
	}

	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for range nofile + 200 {
		c, err := net.DialTimeout("tcp", ls.addr, 5*time.Second)
		if err != nil {
			t.Logf("flood dial %d: %v", len(flood), err)
			break
		}
		flood = append(flood, c)
	}
	eventually(t, "the server to run out of descriptors", func() bool {
		return strings.Contains(ls.stderr.String(), "too many open files")
	})

	ls.running()
	if st, _, err := keep.get("/ready"); err != nil || st != 200 {
		t.Fatalf("ready on the kept connection while out of descriptors: %d %v", st, err)
	}
	if n := acceptStats(t, keep)["EMFILE"]; n == 0 {
		t.Fatal("EMFILE was logged but not counted")
	}
	// The connections left in the backlog are answered 503 and closed,
	// not left waiting for a descriptor.
	eventually(t, "the backlog to be shed", func() bool {
		return acceptStats(t, keep)["shed"] > 0
	})

	for _, c := range flood {
		c.Close()
	}
	flood = nil
	eventually(t, "a new connection to be served", func() bool {
		ls.running()
		h, err := dialHTTP(ls.addr)
		if err != nil {
			return false
		}
		defer h.c.Close()
		st, _, err := h.get("/ready")
		return err == nil && st == 200
	})
	ls.running()
	if st, _, err := keep.get("/ready"); err != nil || st != 200 {
		t.Fatalf("ready on the kept connection after the flood: %d %v", st, err)
	}

	if err := ls.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ls.exited:
		if ls.err != nil {
			t.Fatalf("exit after SIGTERM: %v", ls.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
}

// TestAcceptErrorHandler checks what each accept error leads to and the
// pause schedule, without a listener (no error here sheds).
func TestAcceptErrorHandler(t *testing.T) {
	for _, tc := range []struct {
		err    error
		class  AcceptError
		pauses []time.Duration // successive results
	}{
		{unix.ENOBUFS, AcceptENOBUFS, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{unix.ENOMEM, AcceptENOMEM, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}},
		{unix.EPERM, AcceptOther, []time.Duration{10 * time.Millisecond}},
		{errors.New("not an errno"), AcceptOther, []time.Duration{10 * time.Millisecond}},
		{unix.ECONNABORTED, AcceptECONNABORTED, []time.Duration{0, 0}},
		{unix.ECONNRESET, AcceptECONNABORTED, []time.Duration{0}},
		{unix.EBADF, AcceptOther, []time.Duration{-1}},
		{unix.EINVAL, AcceptOther, []time.Duration{-1}},
		{unix.ENOTSOCK, AcceptOther, []time.Duration{-1}},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			srv := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, &testHandler{})
			const listenerFD = 1 << 20 // never accepted from: nothing here sheds
			for i, want := range tc.pauses {
				if got := srv.acc.handle(listenerFD, tc.err); got != want {
					t.Fatalf("failure %d: pause %v, want %v", i+1, got, want)
				}
			}
			errs := srv.AcceptErrors()
			for class, n := range errs {
				want := uint64(0)
				if AcceptError(class) == tc.class {
					want = uint64(len(tc.pauses))
				}
				if n != want {
					t.Errorf("AcceptErrors()[%v] = %d, want %d", AcceptError(class), n, want)
				}
			}
		})
	}
}

// TestAcceptErrorPauseIsPerListenerAndResets: with ReusePort each loop's
// listener backs off on its own, and a quiet listener starts over.
func TestAcceptErrorPauseIsPerListenerAndResets(t *testing.T) {
	srv := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, &testHandler{})
	a := &srv.acc
	if d := a.handle(1<<20, unix.ENOBUFS); d != acceptBackoffMin {
		t.Fatalf("first pause %v", d)
	}
	if d := a.handle(1<<20, unix.ENOBUFS); d != 2*acceptBackoffMin {
		t.Fatalf("second pause %v", d)
	}
	if d := a.handle(1<<20+1, unix.ENOBUFS); d != acceptBackoffMin {
		t.Fatalf("other listener's first pause %v", d)
	}
	a.pauses[1<<20].last = time.Now().Add(-acceptBackoffReset - time.Second)
	if d := a.handle(1<<20, unix.ENOBUFS); d != acceptBackoffMin {
		t.Fatalf("pause after a quiet spell %v", d)
	}
}

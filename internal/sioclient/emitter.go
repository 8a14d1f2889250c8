package sioclient

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Emitter publishes through the real @socket.io/redis-emitter (npm,
// pinned in package.json) from Go tests: emitter.js runs under node, and
// each Emit returns once Redis answered the PUBLISH.
//
//	em := sioclient.StartEmitter(t, rd.Addr) // stopped by t.Cleanup
//	em.Emit(sioclient.Emit{Rooms: []string{"user-notifications:42"}, Event: "notification", Args: []any{n}})
type Emitter struct {
	t   testing.TB
	cmd *exec.Cmd
	mu  sync.Mutex // one command at a time
	enc *json.Encoder
	out *bufio.Scanner
	seq int
}

// Emit is one io.of(Nsp).to(Rooms).except(Except)[.volatile][.compress(c)].emit(Event, ...Args).
// An argument Buffer(b) is sent as a Node Buffer (binary data).
type Emit struct {
	Seq      int      `json:"seq"`
	Nsp      string   `json:"nsp,omitempty"`
	Rooms    []string `json:"rooms,omitempty"`
	Except   []string `json:"except,omitempty"`
	Volatile bool     `json:"volatile,omitempty"`
	Compress *bool    `json:"compress,omitempty"`
	Event    string   `json:"event"`
	Args     []any    `json:"args,omitempty"`
}

// Buffer marks bytes to be emitted as a Node Buffer.
func Buffer(b []byte) any {
	ints := make([]int, len(b))
	for i, c := range b {
		ints[i] = int(c)
	}
	return map[string]any{"$buffer": ints}
}

// Published is what Redis answered to an emit's PUBLISH.
type Published struct {
	Channel   string `json:"channel"`
	Receivers int    `json:"receivers"`
	Error     string `json:"error"`
	Seq       int    `json:"seq"`
}

// StartEmitter runs emitter.js against the Redis at addr (host:port).
func StartEmitter(t testing.TB, addr string) *Emitter {
	t.Helper()
	dir := sourceDir(t)
	requireModule(t, dir, "@socket.io/redis-emitter")
	cmd := exec.Command("node", filepath.Join(dir, "emitter.js"), addr)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sioclient: start emitter.js: %v", err)
	}
	e := &Emitter{t: t, cmd: cmd, enc: json.NewEncoder(stdin), out: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(exitTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return e
}

// Emit publishes e and returns Redis's answer; a failure fails the test.
func (em *Emitter) Emit(e Emit) Published {
	em.t.Helper()
	em.mu.Lock()
	defer em.mu.Unlock()
	em.seq++
	e.Seq = em.seq
	if err := em.enc.Encode(e); err != nil {
		em.t.Fatalf("sioclient: emitter: %v", err)
	}
	if !em.out.Scan() {
		em.t.Fatalf("sioclient: emitter.js exited: %v", em.out.Err())
	}
	var p Published
	if err := json.Unmarshal(em.out.Bytes(), &p); err != nil || p.Seq != e.Seq {
		em.t.Fatalf("sioclient: emitter answered %s (%v)", em.out.Bytes(), err)
	}
	if p.Error != "" {
		em.t.Fatalf("sioclient: emit %+v: %s", e, p.Error)
	}
	return p
}

// logWriter copies emitter.js's stderr to the test log (exec's copier
// ends before Cleanup's Wait returns, so never after the test).
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("emitter.js: %s", p)
	return len(p), nil
}

package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestRunFailsWhenEventLoopsStopWithoutShutdown: a server that stops for
// any reason other than Shutdown must say so, so that the process exits
// non-zero and a supervisor restarts it.
func TestRunFailsWhenEventLoopsStopWithoutShutdown(t *testing.T) {
	srv := New(Config{Addr: freeAddr(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, &testHandler{})
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()
	select {
	case <-srv.Booted():
	case err := <-done:
		t.Fatal(err)
	}
	// gnet stopping on its own (as its main reactor does after a failed
	// accept) looks like this to the server.
	if err := srv.eng.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Run returned %v after the event loops stopped without Shutdown; want ErrStopped", err)
		}
		t.Logf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

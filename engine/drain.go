package engine

import (
	"context"
	"errors"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// drainStep is how often a drain closes its next share of sessions: often
// enough that the closes look continuous to the clients' reconnects, rarely
// enough that an idle drain costs nothing.
const drainStep = 20 * time.Millisecond

// Drain puts the server in lame-duck mode and empties it: from the call on,
// Draining reports true, /ready answers 503 and new Engine.IO sessions are
// refused with 503 (plain HTTP, /health and the sessions already open go on);
// the open sessions are then closed at the transport level, as Shutdown
// closes them, spread evenly over d, so that the clients' reconnects reach
// the other instances as a steady stream rather than a storm. Drain
// returns once no session is left, or at once with d ≤ 0 after closing
// every session; when ctx is done first (a second signal, say), it closes
// the rest at once and returns ctx's error. Shutdown then stops the loops.
func (s *Server) Drain(ctx context.Context, d time.Duration) error {
	select {
	case <-s.booted:
	default:
		return errors.New("engine: drain before the server started")
	}
	s.draining.Store(true)
	total := s.counters.sessions.Load()
	start := time.Now()
	tick := time.NewTicker(drainStep)
	defer tick.Stop()
	step := 0
	for d > 0 && s.counters.sessions.Load() > 0 {
		elapsed := time.Since(start)
		if elapsed >= d {
			break
		}
		// Sessions that should be gone by now, minus those already gone
		// (closed by the drain or by their clients); each loop closes its
		// share of the difference.
		due := total*int64(elapsed)/int64(d) - (total - s.counters.sessions.Load())
		if due > 0 {
			shards := *s.shards.Load()
			n := int64(len(shards))
			for i, sh := range shards {
				// The remainder goes to the loops in turn, so that one
				// close due is one close made.
				share := due / n
				if (int64(step)+int64(i))%n < due%n {
					share++
				}
				if share > 0 {
					sh.run(func() { sh.closeSome(int(share)) })
				}
			}
			step++
		}
		select {
		case <-ctx.Done():
			s.closeEverySession(context.Background())
			return ctx.Err()
		case <-tick.C:
		}
	}
	s.closeEverySession(ctx)
	return nil
}

// Draining reports whether Drain or Shutdown has begun. Safe from any
// goroutine.
func (s *Server) Draining() bool { return s.draining.Load() }

// closeEverySession asks every loop to close all of its sessions.
func (s *Server) closeEverySession(ctx context.Context) {
	for _, sh := range *s.shards.Load() {
		_ = sh.loop.Execute(ctx, gnet.RunnableFunc(func(context.Context) error {
			sh.closeAll()
			return nil
		}))
	}
}

// closeSome closes up to n of the loop's sessions for a drain, walking its
// slots from where the last call stopped (no new socket takes a slot while
// the server drains). Polling sessions without a socket yet are left to the
// final closeAll.
func (sh *shard) closeSome(n int) {
	for sh.drainCursor < len(sh.members) && n > 0 {
		m := sh.members[sh.drainCursor]
		sh.drainCursor++
		if m.sock != nil && !m.sock.sess.closed {
			m.sock.sess.shutdown()
			n--
		}
	}
}

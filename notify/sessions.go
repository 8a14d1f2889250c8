package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sessions shared through Redis (REDIS_INPUT=streams with recovery on).
//
// With the streams input every instance reads the same partitions and
// offsets are their stream ids, so any instance's history can replay what
// a client missed; what it also needs is the client's session (socket id,
// user, rooms). sessionStore keeps it in Redis, under a key of the user and
// the pid, so that it is found by whichever instance the client reaches:
//
//   - written when a socket connects, and again when its rooms or its token
//     change, with a TTL of the token's remaining life plus the window:
//     after an instance crash the session is still there;
//   - when the socket drops for a recoverable reason, its TTL becomes the
//     window; for any other reason it is deleted;
//   - a recovery takes it with GETDEL: one instance wins, and a second
//     attempt with the same pid finds nothing.
//
// The key holds the user id, so a token for another user looks up another
// key: nobody can take (and so destroy) a session that is not theirs.
//
// With pub/sub, offsets are one instance's own arrival numbers: a session
// could not be recovered anywhere else, and it stays in that instance's
// memory (recovery.go), where no Redis round trip is spent on it.
//
// Writes are queued and one goroutine sends them in pipelines, in queue
// order (so a key's writes keep theirs): a storm of connects costs a
// round trip per few hundred sockets, and a loop never waits for Redis.
// They are best effort: when Redis cannot be reached they are counted as
// failed and dropped, and such a client reconnects as a new one.

const (
	// sessionKeyPrefix starts every session key: prefix + uid + ":" + pid.
	sessionKeyPrefix = "notify-wss:session:"
	// sessionTTLNoExpiry is how long a connected session is kept when its
	// token has no expiry (plus the window); rewritten at each change.
	sessionTTLNoExpiry = 24 * time.Hour
	// sessionBatch bounds the commands of one pipeline.
	sessionBatch = 512
	// sessionQueueMax bounds the writes queued while Redis is slow or away;
	// beyond it new ones are dropped (and counted).
	sessionQueueMax = 1 << 17
	// sessionWriteTimeout bounds one pipeline.
	sessionWriteTimeout = 5 * time.Second
	// sessionTakeRetry is the pause between two GETDEL attempts while Redis
	// cannot be reached (a restart, a failover).
	sessionTakeRetry = 100 * time.Millisecond
)

// storedSession is a session as kept in Redis.
type storedSession struct {
	SID   string   `json:"sid"`
	Rooms []string `json:"rooms"`
}

// sessionOp is one queued write: SET with a TTL (value non-nil), EXPIRE
// (value nil, ttl > 0) or DEL (value nil, ttl 0).
type sessionOp struct {
	key   string
	value []byte
	ttl   time.Duration
}

// sessionStore writes and takes sessions in Redis. Safe from any goroutine.
type sessionStore struct {
	rdb redis.UniversalClient
	log *slog.Logger

	mu      sync.Mutex
	queue   []sessionOp
	closing bool
	wake    chan struct{} // capacity 1
	done    chan struct{} // closed when the writer has stopped

	written, failed, dropped atomic.Uint64
	lastErrLog               atomic.Int64 // unix nanos of the last failure logged
}

// newSessionStore returns a store over rdb; run is its writer, and Close
// stops it.
func newSessionStore(rdb redis.UniversalClient, log *slog.Logger) *sessionStore {
	return &sessionStore{rdb: rdb, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// sessionKey is the key of pid's session for user uid.
func sessionKey(uid, pid string) string { return sessionKeyPrefix + uid + ":" + pid }

// sessionTTL is how long a connected session is kept: the token's
// remaining life (a socket cannot outlive it) plus the window, in which a
// client cut by a crash may come back.
func sessionTTL(expires, now time.Time, window time.Duration) time.Duration {
	if expires.IsZero() {
		return sessionTTLNoExpiry + window
	}
	return max(expires.Sub(now), 0) + window
}

// put queues the session of pid for user uid, kept for ttl.
func (st *sessionStore) put(uid, pid string, s storedSession, ttl time.Duration) {
	b, err := json.Marshal(s)
	if err != nil {
		return // strings only: cannot fail
	}
	st.push(sessionOp{key: sessionKey(uid, pid), value: b, ttl: ttl})
}

// expire queues a new TTL for pid's session, if it still exists.
func (st *sessionStore) expire(uid, pid string, ttl time.Duration) {
	st.push(sessionOp{key: sessionKey(uid, pid), ttl: ttl})
}

// del queues the deletion of pid's session.
func (st *sessionStore) del(uid, pid string) {
	st.push(sessionOp{key: sessionKey(uid, pid)})
}

func (st *sessionStore) push(op sessionOp) {
	st.mu.Lock()
	if st.closing || len(st.queue) >= sessionQueueMax {
		st.mu.Unlock()
		st.dropped.Add(1)
		return
	}
	st.queue = append(st.queue, op)
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// run is the writer: it sends what is queued, in order, until Close.
// Start it once, on its own goroutine.
func (st *sessionStore) run() {
	defer close(st.done)
	var batch []sessionOp
	for {
		<-st.wake
		for {
			st.mu.Lock()
			batch, st.queue = st.queue, batch[:0]
			closing := st.closing
			st.mu.Unlock()
			if len(batch) == 0 {
				if closing {
					return
				}
				break
			}
			for i := 0; i < len(batch); i += sessionBatch {
				st.send(batch[i:min(i+sessionBatch, len(batch))])
			}
			clear(batch) // keep no key or value alive
		}
	}
}

// send writes ops in one pipeline.
func (st *sessionStore) send(ops []sessionOp) {
	ctx, cancel := context.WithTimeout(context.Background(), sessionWriteTimeout)
	defer cancel()
	_, err := st.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, op := range ops {
			switch {
			case op.value != nil:
				p.Set(ctx, op.key, op.value, op.ttl)
			case op.ttl > 0:
				p.Expire(ctx, op.key, op.ttl)
			default:
				p.Del(ctx, op.key)
			}
		}
		return nil
	})
	if err != nil {
		st.failed.Add(uint64(len(ops)))
		now := time.Now().UnixNano()
		if last := st.lastErrLog.Load(); now-last > int64(time.Second) && st.lastErrLog.CompareAndSwap(last, now) {
			st.log.Warn("recovery sessions not written to redis", "writes", len(ops), "err", err)
		}
		return
	}
	st.written.Add(uint64(len(ops)))
}

// take removes and returns pid's session for user uid. found is false when
// there is none (never written, expired, or taken already). While Redis
// cannot be reached it tries again until ctx ends.
func (st *sessionStore) take(ctx context.Context, uid, pid string) (s storedSession, found bool, err error) {
	key := sessionKey(uid, pid)
	for {
		b, err := st.rdb.GetDel(ctx, key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			return s, false, nil
		case err == nil:
			if err := json.Unmarshal(b, &s); err != nil || s.SID == "" {
				return s, false, fmt.Errorf("notify: recovery session %s: invalid %q", key, b)
			}
			return s, true, nil
		}
		select {
		case <-ctx.Done():
			return s, false, fmt.Errorf("notify: take recovery session: %w", err)
		case <-time.After(sessionTakeRetry):
		}
	}
}

// Close sends what is queued and stops the writer, or gives up when ctx
// ends first.
func (st *sessionStore) Close(ctx context.Context) error {
	st.mu.Lock()
	st.closing = true
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
	select {
	case <-st.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("notify: recovery sessions not all written: %w", ctx.Err())
	}
}

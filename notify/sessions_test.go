package notify

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

func TestSessionTTL(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	const window = 2 * time.Minute
	for _, c := range []struct {
		name    string
		expires time.Time
		want    time.Duration
	}{
		{"token for an hour", now.Add(time.Hour), time.Hour + window},
		{"token without expiry", time.Time{}, sessionTTLNoExpiry + window},
		{"token expired already", now.Add(-time.Minute), window},
	} {
		if got := sessionTTL(c.expires, now, window); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// startStore returns a store on a fresh redis-server, its writer running.
func startStore(t *testing.T, rd *redistest.Server) (*sessionStore, *redis.Client) {
	t.Helper()
	opt, err := redis.ParseURL(rd.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	st := newSessionStore(rdb, slog.New(slog.DiscardHandler))
	go st.run()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Error(err)
		}
		rdb.Close()
	})
	return st, rdb
}

// flush waits until the writer has sent everything queued so far.
func (st *sessionStore) flush(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st.mu.Lock()
		empty := len(st.queue) == 0
		st.mu.Unlock()
		// One more write: once it is counted, everything before it was
		// sent too (one writer, in order).
		if empty {
			before := st.written.Load() + st.failed.Load()
			st.del("flush", "marker")
			for st.written.Load()+st.failed.Load() <= before {
				if time.Now().After(deadline) {
					t.Fatal("session writes not sent in time")
				}
				time.Sleep(time.Millisecond)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("session writes not sent in time")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSessionStoreLifecycle(t *testing.T) {
	rd := redistest.Start(t)
	st, rdb := startStore(t, rd)
	ctx := context.Background()

	st.put("u1", "pid1", storedSession{SID: "sid1", Rooms: []string{"user-notifications:u1"}}, time.Hour)
	st.put("u1", "pid1", storedSession{SID: "sid1", Rooms: []string{"user-notifications:u1", "global-notifications"}}, time.Hour)
	st.put("u2", "pid2", storedSession{SID: "sid2"}, time.Hour)
	st.expire("u2", "pid2", 30*time.Second)
	st.put("u3", "pid3", storedSession{SID: "sid3"}, time.Hour)
	st.del("u3", "pid3")
	st.flush(t)

	if ttl := rdb.TTL(ctx, sessionKey("u2", "pid2")).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("after expire: TTL %v, want at most 30s", ttl)
	}
	if ttl := rdb.TTL(ctx, sessionKey("u1", "pid1")).Val(); ttl <= 30*time.Second {
		t.Errorf("connected session: TTL %v, want about an hour", ttl)
	}

	// Another user's token looks up another key: the session stays.
	if _, found, err := st.take(ctx, "u9", "pid1"); err != nil || found {
		t.Fatalf("take with another user: found=%v err=%v", found, err)
	}
	s, found, err := st.take(ctx, "u1", "pid1")
	if err != nil || !found {
		t.Fatalf("take: found=%v err=%v", found, err)
	}
	if s.SID != "sid1" || !slices.Equal(s.Rooms, []string{"user-notifications:u1", "global-notifications"}) {
		t.Errorf("take: %+v, want the last write", s)
	}
	// Taken once: a second attempt finds nothing.
	if _, found, _ := st.take(ctx, "u1", "pid1"); found {
		t.Error("a session was taken twice")
	}
	if _, found, _ := st.take(ctx, "u3", "pid3"); found {
		t.Error("a deleted session was found")
	}
	if st.failed.Load() != 0 || st.dropped.Load() != 0 {
		t.Errorf("failed %d, dropped %d writes", st.failed.Load(), st.dropped.Load())
	}
}

func TestSessionStoreTakeWaitsForRedis(t *testing.T) {
	rd := redistest.StartPersistent(t)
	st, _ := startStore(t, rd)
	st.put("u1", "pid1", storedSession{SID: "sid1"}, time.Hour)
	st.flush(t)

	rd.Stop()
	restarted := make(chan struct{})
	go func() {
		time.Sleep(500 * time.Millisecond)
		rd.Restart()
		close(restarted)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, found, err := st.take(ctx, "u1", "pid1")
	<-restarted
	if err != nil || !found || s.SID != "sid1" {
		t.Fatalf("take across a restart: %+v found=%v err=%v", s, found, err)
	}

	// Redis away for longer than the caller waits: an error, not a hang.
	rd.Stop()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, found, err := st.take(ctx, "u1", "pid1"); err == nil || found {
		t.Fatalf("take with Redis away: found=%v err=%v, want an error", found, err)
	}
	st.put("u1", "pid1", storedSession{SID: "sid1"}, time.Hour)
	st.flush(t)
	if st.failed.Load() == 0 {
		t.Error("a write with Redis away was not counted as failed")
	}
	rd.Restart() // for Cleanup's Close
}

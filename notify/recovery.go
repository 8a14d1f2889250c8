package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notify-wss/notify-wss/engine"
	"github.com/notify-wss/notify-wss/internal/fifo"
)

// Connection state recovery, as socket.io 4.6 added it, for unmodified
// socket.io-client 4.6+:
//
//   - Every socket's CONNECT reply carries a pid (engine.Config.RecoveryID:
//     an HMAC of the socket id, so nothing is stored per socket), and every
//     notification frame carries the history's cursor as its last argument,
//     the offset (history.go). The "connected" greeting carries one too, so
//     a client that has received no notification yet has an offset.
//   - When a socket drops for a reason a client reconnects after (transport
//     close or error, ping timeout, slow consumer, token expiry, a drain),
//     its session is held for the window: socket id, user, rooms. Its rooms
//     stay wanted meanwhile (in dynamic mode they stay subscribed), so the
//     history keeps their messages. The hold is taken in Disconnect, which
//     the engine calls before the socket leaves its rooms: no message
//     sequenced in between can be left out of the history.
//   - A client reconnecting with {pid, offset} in its CONNECT auth and a
//     token for the same user takes the held session back: same socket id
//     (socket.recovered is true on the client), same rooms, and every
//     message of those rooms above its offset, in order, before anything
//     new (see app.recover). Anything else is a new connection.

// recoverableReasons are the reasons after which a client reconnects, so
// its session is held. Not a client's or the server's namespace
// disconnect, a protocol violation, or a connect timeout.
var recoverableReasons = [engine.NumCloseReasons]bool{
	engine.CloseTransportClose: true,
	engine.CloseTransportError: true,
	engine.ClosePingTimeout:    true,
	engine.CloseForced:         true,
	engine.CloseShutdown:       true,
	engine.CloseSlowConsumer:   true,
	engine.CloseTokenExpired:   true,
}

// The reasons a recovery fails, for logs and the recoveries metric.
const (
	failUnknown   recoverFail = "unknown session"
	failOtherUser recoverFail = "another user"
	failRace      recoverFail = "history moved"
)

// recovery holds the sessions that may come back and counts which rooms
// the history must keep. Safe from any goroutine.
type recovery struct {
	hist   *history
	window time.Duration
	key    []byte

	mu       sync.Mutex
	sessions map[string]*heldSession  // by pid
	expiry   fifo.Queue[*heldSession] // by deadline (the window is fixed)
	interest map[string]int           // room → members here (0/1) + held sessions
	// demand is told when a room becomes wanted or not (bridge.RoomDemand
	// in dynamic mode), or nil.
	demand func(room string, wanted bool)
	// store keeps sessions in Redis, for any instance (sessions.go): with
	// the streams input only; nil otherwise.
	store *sessionStore

	recovered atomic.Uint64
	replayed  atomic.Uint64
	failed    sync.Map // recoverFail → *atomic.Uint64
}

// heldSession is a disconnected socket that may be recovered.
type heldSession struct {
	pid, sid, uid string
	rooms         []string
	deadline      time.Time
	gone          bool // taken back or expired
}

func newRecovery(secret string, hist *history, window time.Duration) *recovery {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("notify-wss connection state recovery pid"))
	return &recovery{
		hist: hist, window: window, key: mac.Sum(nil),
		sessions: make(map[string]*heldSession),
		interest: make(map[string]int),
	}
}

// pid returns the recovery id of socket id sid: not a secret (recovery
// needs the user's token too), only unique and the same on every server
// that shares the JWT secret.
func (r *recovery) pid(sid string) string {
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(sid))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0])[:12])
}

// roomDemand is the engine's RoomDemand: a room gains its first member
// here, or loses its last.
func (r *recovery) roomDemand(room string, wanted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if wanted {
		r.want(room)
	} else {
		r.unwant(room)
	}
}

func (r *recovery) want(room string) {
	r.interest[room]++
	if r.interest[room] == 1 && r.demand != nil {
		r.demand(room, true)
	}
}

func (r *recovery) unwant(room string) {
	n := r.interest[room] - 1
	if n > 0 {
		r.interest[room] = n
		return
	}
	delete(r.interest, room)
	if r.demand != nil {
		r.demand(room, false)
	}
}

// keeps reports whether the history keeps room's messages: someone here
// is in it, or may come back to it.
func (r *recovery) keeps(room string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.interest[room] > 0
}

// hold keeps a disconnected socket's session for the window.
func (r *recovery) hold(sid, uid string, rooms []string, now time.Time) {
	hs := &heldSession{pid: r.pid(sid), sid: sid, uid: uid, rooms: rooms, deadline: now.Add(r.window)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	if old := r.sessions[hs.pid]; old != nil {
		r.release(old)
	}
	for _, room := range rooms {
		r.want(room)
	}
	r.sessions[hs.pid] = hs
	r.expiry.Push(hs)
}

// take hands back the held session pid for user uid, or says why not.
// The session's rooms stay wanted: the caller joins them, then calls
// done, which lets the hold on them go.
func (r *recovery) take(pid, uid string, now time.Time) (_ *heldSession, done func(), fail recoverFail) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	hs := r.sessions[pid]
	switch {
	case hs == nil:
		return nil, nil, failUnknown
	case hs.uid != uid:
		return nil, nil, failOtherUser
	}
	delete(r.sessions, pid)
	hs.gone = true
	return hs, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, room := range hs.rooms {
			r.unwant(room)
		}
	}, ""
}

// release lets a held session go; r.mu is held.
func (r *recovery) release(hs *heldSession) {
	if hs.gone {
		return
	}
	hs.gone = true
	delete(r.sessions, hs.pid)
	for _, room := range hs.rooms {
		r.unwant(room)
	}
}

// expire lets go of sessions past their deadline; r.mu is held.
func (r *recovery) expire(now time.Time) {
	for r.expiry.Len() > 0 && !now.Before(r.expiry.Peek().deadline) {
		r.release(r.expiry.Pop())
	}
	for r.expiry.Len() > 0 && r.expiry.Peek().gone {
		r.expiry.Pop() // taken back: nothing to release
	}
}

// Tick expires sessions and history for a server with no traffic.
func (r *recovery) Tick(now time.Time) {
	r.mu.Lock()
	r.expire(now)
	r.mu.Unlock()
	r.hist.Tick(now)
}

// sessionStore returns the shared sessions' store, nil when there is none
// (r may be nil: recovery off).
func (r *recovery) sessionStore() *sessionStore {
	if r == nil {
		return nil
	}
	return r.store
}

// Held returns the number of sessions held.
func (r *recovery) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// fail counts a failed recovery.
func (r *recovery) fail(reason recoverFail) {
	c, _ := r.failed.LoadOrStore(reason, new(atomic.Uint64))
	c.(*atomic.Uint64).Add(1)
}

// Failed returns the failed recoveries by reason.
func (r *recovery) Failed() map[string]uint64 {
	out := make(map[string]uint64)
	r.failed.Range(func(k, v any) bool {
		out[string(k.(recoverFail))] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// recoveryAuth is what socket.io-client adds to the CONNECT auth of a
// socket it wants recovered.
type recoveryAuth struct {
	PID    string `json:"pid"`
	Offset string `json:"offset"`
}

// recoveryFrom reads {pid, offset} from a CONNECT auth payload.
func recoveryFrom(auth []byte) (recoveryAuth, bool) {
	var a recoveryAuth
	if len(auth) == 0 || json.Unmarshal(auth, &a) != nil || a.PID == "" {
		return a, false
	}
	return a, true
}

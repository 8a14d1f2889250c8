package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/engine"
)

// authFailed is the CONNECT_ERROR message of a refused token, as the Node
// service sent it; the reason is in err.data.reason.
const authFailed = "Authentication failed"

// app is the notification service on top of the engine: it authenticates
// sockets and manages their room subscriptions. Its methods run on event
// loops.
type app struct {
	auth *verifier
	log  *slog.Logger
	// subs says when a room's notifications reach this server (the
	// bridge); nil means always.
	subs roomSubscriptions
	// rec is connection state recovery, nil when off.
	rec *recovery
}

// roomSubscriptions is what the app needs of the bridge.
type roomSubscriptions interface {
	// WhenSubscribed reports whether notifications for room reach the
	// server now; if not, it calls fn from another goroutine once they do
	// (see bridge.Bridge.WhenSubscribed).
	WhenSubscribed(room string, fn func()) bool
}

// whenLive runs fn on s's loop once notifications for room reach the
// server, so that a client told it is connected or joined cannot miss a
// notification published after it heard so: at once when they already do
// (pattern mode, a room already subscribed), else from Socket.Later after
// Redis confirmed the room's subscription.
func (a *app) whenLive(s *engine.Socket, room string, fn func()) {
	if a.subs == nil || a.subs.WhenSubscribed(room, func() { s.Later(fn) }) {
		fn()
	}
}

var _ engine.Handler = (*app)(nil)

// userID is what a connected socket keeps in Socket.Data.
type userID string

// Connect authenticates the socket from its token.
func (a *app) Connect(s *engine.Socket, auth []byte) error {
	hs := s.Handshake()
	u, err := a.auth.verify(tokenFrom(auth, hs.QueryValue, hs.Authorization))
	if err != nil {
		reason := publicReason(err)
		a.log.Info("authentication failed", "reason", reason, "detail", err.Error())
		return &engine.ConnectError{Message: authFailed, Data: map[string]string{"reason": reason}}
	}
	if a.rec != nil {
		if ra, ok := recoveryFrom(auth); ok {
			if a.rec.store != nil {
				a.recoverShared(s, u, ra)
				return nil
			}
			if a.resumeSession(s, u, ra) {
				return nil
			}
		}
	}
	s.Data = &u
	if a.subs != nil {
		// The CONNECT reply waits for the user room's subscription with
		// "connected" (see Connected), so that both leave in one write.
		s.HoldConnect()
	}
	return nil
}

// connectedEvent is the "connected" greeting, keys in the order the Node
// service sent them. A struct, not a map: no per-connection map to build
// and sort while a reconnect storm is being served.
type connectedEvent struct {
	Message     string `json:"message"`
	UserID      string `json:"userId"`
	DisplayName string `json:"displayName"`
	SocketID    string `json:"socketId"`
	Timestamp   string `json:"timestamp"`
}

// Connected joins the user's own room and greets the client once the
// room's notifications reach the server (in dynamic mode the CONNECT reply
// waits with the greeting: one write, and a client's connect means its
// notifications flow). From then on the socket keeps
// only the user id: an idle connection should hold no more than it needs.
func (a *app) Connected(s *engine.Socket) {
	switch d := s.Data.(type) {
	case *resuming:
		a.resumed(s, d)
	case *pendingRecovery:
		// The session is being looked up in Redis: tookShared goes on.
	case *User:
		a.connectNew(s, d)
	}
}

// connectNew joins a new socket to its user's room and greets it once the
// room's notifications reach the server. On the socket's loop.
func (a *app) connectNew(s *engine.Socket, u *User) {
	room := bridge.UserRoomPrefix + u.ID
	s.Data = userID(room[len(bridge.UserRoomPrefix):]) // shares the room name's bytes
	// With recovery on, the greeting carries the offset of the moment the
	// socket joined: a client that drops before its first notification
	// recovers what was published since.
	offset := ""
	if a.rec != nil {
		offset = a.rec.hist.Offset()
	}
	s.Join(room)
	s.SetExpiry(u.Expires)
	a.saveSession(s, u.ID, u.Expires)
	id, name := u.ID, u.DisplayName
	a.whenLive(s, room, func() {
		s.ReleaseConnect()
		a.greet(s, id, name, offset)
	})
	a.log.Debug("socket connected", "socketId", s.ID(), "userId", u.ID, "transport", s.Transport())
}

// greet sends the "connected" event, with the recovery offset as its last
// argument when there is one.
func (a *app) greet(s *engine.Socket, id, name, offset string) {
	ev := connectedEvent{
		Message:     "Connected to notification server",
		UserID:      id,
		DisplayName: name,
		SocketID:    s.ID(),
		Timestamp:   time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if offset != "" {
		_ = s.Emit("connected", ev, offset)
		return
	}
	_ = s.Emit("connected", ev)
}

// resuming is a socket's Data between Connect and Connected when it takes
// a held session back.
type resuming struct {
	user   User
	held   *heldSession
	offset string
	done   func() // lets the held session's hold on its rooms go
}

// resumeSession, from Connect, takes back the held session the client
// names, when its token is for the same user and the history can give what
// it missed: the socket gets the old id (and so the same pid), is muted
// and its CONNECT reply held until resumed has queued the replay. It
// reports false, counting why, for a normal connection.
func (a *app) resumeSession(s *engine.Socket, u User, ra recoveryAuth) bool {
	hs, done, fail := a.rec.take(ra.PID, u.ID, time.Now())
	if fail == "" {
		if fail = a.rec.hist.check(ra.Offset, hs.rooms); fail != "" {
			done()
		}
	}
	if fail != "" {
		a.rec.fail(fail)
		a.log.Debug("recovery failed", "reason", string(fail), "userId", u.ID)
		return false
	}
	s.SetID(hs.sid)
	s.Mute()
	s.HoldConnect()
	s.Data = &resuming{user: u, held: hs, offset: ra.Offset, done: done}
	return true
}

// resumed, from Connected, joins the recovered socket to its rooms, then
// under the history's lock collects what it missed and queues the task
// that sends the CONNECT reply, the missed messages and the greeting, and
// unmutes it: broadcasts queued before that task skip the socket (they
// are among the missed), those after reach it.
func (a *app) resumed(s *engine.Socket, rs *resuming) {
	u := rs.user
	s.Data = userID(u.ID)
	for _, room := range rs.held.rooms {
		s.Join(room)
	}
	s.Join(bridge.UserRoomPrefix + u.ID)
	rs.done()
	s.SetExpiry(u.Expires)
	a.saveSession(s, u.ID, u.Expires)
	fail := a.rec.hist.since(rs.offset, rs.held.rooms, func(missed []*bridge.Message, cursor string) {
		s.Later(func() {
			s.ReleaseConnect()
			for _, m := range missed {
				s.Deliver(m)
				m.Unkeep()
			}
			s.Unmute()
			a.greet(s, u.ID, u.DisplayName, cursor)
			a.rec.recovered.Add(1)
			a.rec.replayed.Add(uint64(len(missed)))
		})
	})
	if fail != "" {
		// The history moved between Connect and now (rare): the client
		// cannot be told it recovered; it reconnects afresh.
		a.rec.fail(failRace)
		s.CloseTransport(engine.CloseForced)
		return
	}
	a.log.Debug("socket recovered", "socketId", s.ID(), "userId", u.ID, "rooms", len(rs.held.rooms))
}

// Event handles join-/leave- requests for the three kinds of rooms, and
// refresh-token.
func (a *app) Event(s *engine.Socket, ev *engine.Event) {
	data, ok := s.Data.(userID)
	if !ok {
		// Not connected yet for the application (a recovery being looked
		// up): a client sends nothing before its CONNECT reply.
		return
	}
	uid := string(data)
	if ev.Name == refreshTokenEvent {
		a.refreshToken(s, uid, ev)
		return
	}
	action, kind, ok := strings.Cut(ev.Name, "-")
	if !ok || (action != "join" && action != "leave") {
		a.log.Debug("unknown event", "event", ev.Name, "socketId", s.ID())
		return
	}
	var room, problem string
	switch kind {
	case "user-notifications":
		id, given := idString(ev.Arg(0))
		switch {
		case !given && ev.Arg(0) != nil && string(ev.Arg(0)) != "null":
			problem = "userId must be a string or a number"
		case given && id != uid:
			problem = "Cannot " + action + " another user's notifications"
		default:
			room = bridge.UserRoomPrefix + uid
		}
	case "channel-notifications":
		id, given := idString(ev.Arg(0))
		if !given || id == "" {
			problem = "channelId is required"
		} else {
			room = bridge.ChannelRoomPrefix + id
		}
	case "global-notifications":
		room = bridge.GlobalRoom
	default:
		a.log.Debug("unknown event", "event", ev.Name, "socketId", s.ID())
		return
	}
	if problem != "" {
		_ = s.Emit("error", map[string]string{"message": problem})
		if ev.WantsAck() {
			_ = s.Ack(ev.ID, map[string]string{"error": problem})
		}
		return
	}
	if action == "leave" {
		s.Leave(room)
		a.saveSession(s, uid, s.Expiry())
		if ev.WantsAck() {
			_ = s.Ack(ev.ID, map[string]string{"left": room})
		}
		return
	}
	s.Join(room)
	a.saveSession(s, uid, s.Expiry())
	if ev.WantsAck() {
		id := ev.ID
		a.whenLive(s, room, func() { _ = s.Ack(id, map[string]string{"joined": room}) })
	}
}

// Disconnect logs the end of a socket; an expired token at info level,
// since the client was cut on purpose.
func (a *app) Disconnect(s *engine.Socket, reason engine.CloseReason) {
	uid, ok := s.Data.(userID)
	if !ok {
		return
	}
	if a.rec != nil {
		recoverable := recoverableReasons[reason]
		if recoverable {
			a.rec.hold(s.ID(), string(uid), s.Rooms(), time.Now())
		}
		if st := a.rec.store; st != nil {
			if pid := a.rec.pid(s.ID()); recoverable {
				st.expire(string(uid), pid, a.rec.window)
			} else {
				st.del(string(uid), pid)
			}
		}
	}
	level := slog.LevelDebug
	if reason == engine.CloseTokenExpired {
		level = slog.LevelInfo
	}
	a.log.Log(context.Background(), level, "socket disconnected",
		"socketId", s.ID(), "userId", string(uid), "reason", reason.String())
}

// refreshTokenEvent carries {token}: a newer token for the same user, which
// moves the socket's expiry later without a reconnect.
const refreshTokenEvent = "refresh-token"

// refreshToken checks the new token (valid, same user, expiring no earlier
// than the current one) and moves the deadline; it acks {ok:true, exp}
// (exp in Unix seconds, 0 for a token without one), or emits "error" and
// acks {ok:false, error}.
func (a *app) refreshToken(s *engine.Socket, uid string, ev *engine.Event) {
	problem := ""
	u, err := a.auth.verify(tokenArg(ev.Arg(0)))
	cur := s.Expiry()
	switch {
	case err != nil:
		problem = "refresh-token: " + publicReason(err)
	case u.ID != uid:
		problem = "refresh-token: the token is for another user"
	case !cur.IsZero() && !u.Expires.IsZero() && u.Expires.Before(cur):
		problem = "refresh-token: the token expires before the current one"
	}
	if problem != "" {
		a.log.Info("token refresh refused", "socketId", s.ID(), "userId", uid, "reason", problem)
		_ = s.Emit("error", map[string]string{"message": problem})
		if ev.WantsAck() {
			_ = s.Ack(ev.ID, refreshAck{Error: problem})
		}
		return
	}
	s.SetExpiry(u.Expires)
	a.saveSession(s, uid, u.Expires)
	if ev.WantsAck() {
		ack := refreshAck{OK: true}
		if !u.Expires.IsZero() {
			ack.Exp = u.Expires.Unix()
		}
		_ = s.Ack(ev.ID, ack)
	}
}

// refreshAck answers refresh-token.
type refreshAck struct {
	OK    bool   `json:"ok"`
	Exp   int64  `json:"exp,omitempty"`
	Error string `json:"error,omitempty"`
}

// tokenArg returns the token of a {token} argument, or of a bare string.
func tokenArg(raw []byte) string {
	var obj struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Token != "" {
		return obj.Token
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// saveSession writes the socket's session to Redis, where any instance
// finds it (sessions.go), when sessions are shared: at connect, and when
// its rooms or its token's expiry change. On the socket's loop.
func (a *app) saveSession(s *engine.Socket, uid string, expires time.Time) {
	if a.rec == nil || a.rec.store == nil {
		return
	}
	sid := s.ID()
	a.rec.store.put(uid, a.rec.pid(sid), storedSession{SID: sid, Rooms: s.Rooms()},
		sessionTTL(expires, time.Now(), a.rec.window))
}

// How long a recovery may wait for Redis (the session) and for this
// instance's history to reach the client's offset.
const (
	// sessionTakeTimeout bounds the GETDEL of a shared session, retries
	// included (a Redis restart or failover in progress).
	sessionTakeTimeout = 10 * time.Second
	// aheadWait bounds the wait for a history behind the client's offset:
	// the client was served by an instance that had read further in the
	// streams than this one has yet. aheadPoll is how often it looks.
	aheadWait = 5 * time.Second
	aheadPoll = 20 * time.Millisecond
)

// pendingRecovery is a socket's Data while its shared session is being
// taken from Redis.
type pendingRecovery struct {
	user User
	ra   recoveryAuth
}

// recoverShared, from Connect, starts a recovery through the shared
// sessions: the CONNECT reply is held while a goroutine takes the session
// from Redis, and tookShared goes on, on the socket's loop.
func (a *app) recoverShared(s *engine.Socket, u User, ra recoveryAuth) {
	s.HoldConnect()
	p := &pendingRecovery{user: u, ra: ra}
	s.Data = p
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), sessionTakeTimeout)
		defer cancel()
		stored, found, err := a.rec.store.take(ctx, u.ID, ra.PID)
		if err != nil {
			a.log.Warn("recovery session not read", "userId", u.ID, "err", err)
		}
		s.Later(func() { a.tookShared(s, p, stored, found) })
	}()
}

// tookShared goes on with a recovery once its shared session was looked
// up: found, or else held by this instance (a write to Redis was lost),
// it resumes the socket when the history can vouch for the client's
// offset; otherwise the socket connects as a new one.
func (a *app) tookShared(s *engine.Socket, p *pendingRecovery, stored storedSession, found bool) {
	u := p.user
	// This instance may hold the session too (the client came back here).
	// Its hold on the rooms can go at once: with shared sessions the
	// history keeps every room's messages.
	hs, done, fail := a.rec.take(p.ra.PID, u.ID, time.Now())
	if done != nil {
		done()
	}
	if found {
		hs, fail = &heldSession{pid: p.ra.PID, sid: stored.SID, uid: u.ID, rooms: stored.Rooms}, ""
	}
	if fail != "" {
		a.rec.fail(fail)
		a.log.Debug("recovery failed", "reason", string(fail), "userId", u.ID)
		a.connectNew(s, &u)
		return
	}
	a.resumeWhenCaughtUp(s, &resuming{user: u, held: hs, offset: p.ra.Offset, done: func() {}}, time.Now().Add(aheadWait))
}

// resumeWhenCaughtUp resumes the socket once this instance's history
// reaches the client's offset (at once, nearly always), or connects it as a
// new one if the history cannot vouch for it, or is still behind at
// deadline. On the socket's loop.
func (a *app) resumeWhenCaughtUp(s *engine.Socket, rs *resuming, deadline time.Time) {
	fail := a.rec.hist.check(rs.offset, rs.held.rooms)
	if fail == failAhead && time.Now().Before(deadline) {
		time.AfterFunc(aheadPoll, func() { s.Later(func() { a.resumeWhenCaughtUp(s, rs, deadline) }) })
		return
	}
	if fail != "" {
		a.rec.fail(fail)
		a.log.Debug("recovery failed", "reason", string(fail), "userId", rs.user.ID)
		a.connectNew(s, &rs.user)
		return
	}
	s.SetID(rs.held.sid)
	s.Mute()
	a.resumed(s, rs)
}

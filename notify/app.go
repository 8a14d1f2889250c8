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
	u := s.Data.(*User)
	room := bridge.UserRoomPrefix + u.ID
	s.Data = userID(room[len(bridge.UserRoomPrefix):]) // shares the room name's bytes
	s.Join(room)
	s.SetExpiry(u.Expires)
	id, name := u.ID, u.DisplayName
	a.whenLive(s, room, func() {
		s.ReleaseConnect()
		_ = s.Emit("connected", connectedEvent{
			Message:     "Connected to notification server",
			UserID:      id,
			DisplayName: name,
			SocketID:    s.ID(),
			Timestamp:   time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		})
	})
	a.log.Debug("socket connected", "socketId", s.ID(), "userId", u.ID, "transport", s.Transport())
}

// Event handles join-/leave- requests for the three kinds of rooms, and
// refresh-token.
func (a *app) Event(s *engine.Socket, ev *engine.Event) {
	uid := string(s.Data.(userID))
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
		if ev.WantsAck() {
			_ = s.Ack(ev.ID, map[string]string{"left": room})
		}
		return
	}
	s.Join(room)
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

package main

import (
	"log/slog"
	"strings"
	"time"

	"github.com/notify-wss/notify-wss/engine"
)

// Room name prefixes; a Redis channel maps onto them in package bridge.
const (
	userRoomPrefix    = "user-notifications:"
	channelRoomPrefix = "channel-notifications:"
	globalRoom        = "global-notifications"
)

// app is the notification service on top of the engine: it authenticates
// sockets and manages their room subscriptions. Its methods run on event
// loops.
type app struct {
	auth *verifier
	log  *slog.Logger
}

var _ engine.Handler = (*app)(nil)

// userID is what a connected socket keeps in Socket.Data.
type userID string

// Connect authenticates the socket from its token.
func (a *app) Connect(s *engine.Socket, auth []byte) error {
	hs := s.Handshake()
	u, err := a.auth.verify(tokenFrom(auth, hs.QueryValue, hs.Authorization))
	if err != nil {
		reason := err.Error()
		if !strings.HasPrefix(reason, errTokenInvalid.Error()) {
			a.log.Info("authentication failed", "reason", reason)
		} else {
			a.log.Info("authentication failed", "reason", errTokenInvalid.Error(), "detail", reason)
			reason = errTokenInvalid.Error()
		}
		return &engine.ConnectError{Message: "Authentication failed", Data: map[string]string{"reason": reason}}
	}
	s.Data = &u
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

// Connected joins the user's own room and greets the client. From then on
// the socket keeps only the user id: an idle connection should hold no
// more than it needs.
func (a *app) Connected(s *engine.Socket) {
	u := s.Data.(*user)
	room := userRoomPrefix + u.ID
	s.Data = userID(room[len(userRoomPrefix):]) // shares the room name's bytes
	s.Join(room)
	_ = s.Emit("connected", connectedEvent{
		Message:     "Connected to notification server",
		UserID:      u.ID,
		DisplayName: u.DisplayName,
		SocketID:    s.ID(),
		Timestamp:   time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
	})
	a.log.Debug("socket connected", "socketId", s.ID(), "userId", u.ID, "transport", s.Transport())
}

// Event handles join-/leave- requests for the three kinds of rooms.
func (a *app) Event(s *engine.Socket, ev *engine.Event) {
	uid := string(s.Data.(userID))
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
			room = userRoomPrefix + uid
		}
	case "channel-notifications":
		id, given := idString(ev.Arg(0))
		if !given || id == "" {
			problem = "channelId is required"
		} else {
			room = channelRoomPrefix + id
		}
	case "global-notifications":
		room = globalRoom
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
	if action == "join" {
		s.Join(room)
	} else {
		s.Leave(room)
	}
	if ev.WantsAck() {
		past := "joined"
		if action == "leave" {
			past = "left"
		}
		_ = s.Ack(ev.ID, map[string]string{past: room})
	}
}

// Disconnect logs the end of a socket.
func (a *app) Disconnect(s *engine.Socket, reason string) {
	if uid, ok := s.Data.(userID); ok {
		a.log.Debug("socket disconnected", "socketId", s.ID(), "userId", string(uid), "reason", reason)
	}
}

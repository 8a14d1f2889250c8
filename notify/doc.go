// Package notify is the notification service: the rules on top of the
// Socket.IO engine (JWT authentication, the user, channel and global rooms,
// join-/leave- and refresh-token events, token expiry), its HTTP answers
// (/health, /metrics) and the wiring of the Redis bridge into the engine.
//
// A Service is built from a Config and run until its context ends, then it
// drains: /ready turns 503, new sessions are refused and the open ones are
// closed evenly over Config.DrainDuration, so that a deploy does not become
// a reconnect storm. cmd/notify-wss only reads the settings and runs one.
//
// Room names and Redis channel names are defined once, in package bridge
// (bridge.UserRoomPrefix, bridge.ChannelRoomPrefix, bridge.GlobalRoom and
// bridge.RoomFor).
package notify

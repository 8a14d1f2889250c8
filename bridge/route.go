package bridge

import "strings"

// Kind says which family of Redis channel a message came from. It indexes
// Stats.Received and is meant for metric labels (see Kind.String).
type Kind uint8

// The channel families the bridge serves.
const (
	// KindUser is user:notifications:{userId} → room user-notifications:{userId}.
	KindUser Kind = iota
	// KindChannel is channel:notifications:{channelId} → room channel-notifications:{channelId}.
	KindChannel
	// KindGlobal is notifications:all → room global-notifications.
	KindGlobal
	// KindEmitter is a Socket.IO emitter's message (emitter.go): its
	// Message has Rooms and Except instead of Room.
	KindEmitter

	// NumKinds is the number of kinds, the length of Stats.Received.
	NumKinds = 4
)

// String returns the kind's metric label: "user", "channel" or "global".
func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindChannel:
		return "channel"
	case KindGlobal:
		return "global"
	case KindEmitter:
		return "emitter"
	}
	return "unknown"
}

// Redis channel names and the rooms they map to: the one place where the
// service's names are written (package notify uses the room names). The two prefixed families
// are pattern subscriptions (prefix + "*"); the global one is a plain channel.
const (
	userChannelPrefix    = "user:notifications:"
	channelChannelPrefix = "channel:notifications:"
	globalChannel        = "notifications:all"

	// UserRoomPrefix + userId is a user's room.
	UserRoomPrefix = "user-notifications:"
	// ChannelRoomPrefix + channelId is a channel's room.
	ChannelRoomPrefix = "channel-notifications:"
	// GlobalRoom is the room every notifications:all message goes to.
	GlobalRoom = "global-notifications"
)

// Subscriptions: what the bridge asks Redis for on every connection. Their
// confirmations are counted to decide when the subscription is live. In
// dynamic mode the patterns are left out, and each room's channel
// (ChannelFor) is subscribed while the room has members (demand.go).
var (
	subscribeChannels = []string{globalChannel}
	subscribePatterns = []string{userChannelPrefix + "*", channelChannelPrefix + "*"}
)

// RoomFor maps a Redis channel to its room. ok=false for channels we do not
// serve or with an empty id. The id is everything after the family prefix,
// colons included (user:notifications:a:b → user-notifications:a:b), because
// the pattern subscription delivers those too. The room string is allocated
// for prefixed families; GlobalRoom is a constant.
func RoomFor(channel string) (room string, kind Kind, ok bool) {
	if id, found := strings.CutPrefix(channel, userChannelPrefix); found {
		if id == "" {
			return "", KindUser, false
		}
		return UserRoomPrefix + id, KindUser, true
	}
	if id, found := strings.CutPrefix(channel, channelChannelPrefix); found {
		if id == "" {
			return "", KindChannel, false
		}
		return ChannelRoomPrefix + id, KindChannel, true
	}
	if channel == globalChannel {
		return GlobalRoom, KindGlobal, true
	}
	return "", 0, false
}

// ChannelFor maps a room to its Redis channel, the reverse of RoomFor.
// ok=false for a room that has no channel: another namespace's
// ("nsp\x00room"), an unknown name, or an empty id.
func ChannelFor(room string) (channel string, ok bool) {
	if id, found := strings.CutPrefix(room, UserRoomPrefix); found && id != "" {
		return userChannelPrefix + id, true
	}
	if id, found := strings.CutPrefix(room, ChannelRoomPrefix); found && id != "" {
		return channelChannelPrefix + id, true
	}
	if room == GlobalRoom {
		return globalChannel, true
	}
	return "", false
}

// ownChannel reports whether room has a channel of its own (a user's or a
// channel's room: what dynamic mode subscribes room by room), without
// building its name.
func ownChannel(room string) bool {
	return len(room) > len(UserRoomPrefix) && strings.HasPrefix(room, UserRoomPrefix) ||
		len(room) > len(ChannelRoomPrefix) && strings.HasPrefix(room, ChannelRoomPrefix)
}

// appendRoom appends the room of a user's or channel's channel to dst, as
// RoomFor names it, or of its emitter channel (EmitterRoomChannel);
// ok=false for any other channel. It lets a map keyed by
// room be looked up without allocating (m[string(b)]).
func appendRoom(dst []byte, channel string) (_ []byte, ok bool) {
	if r, found := strings.CutPrefix(channel, EmitterChannel); found {
		// The emitter's channel of a room (EmitterRoomChannel).
		if r, found = strings.CutSuffix(r, "#"); found && ownChannel(r) {
			return append(dst, r...), true
		}
		return dst, false
	}
	if id, found := strings.CutPrefix(channel, userChannelPrefix); found && id != "" {
		return append(append(dst, UserRoomPrefix...), id...), true
	}
	if id, found := strings.CutPrefix(channel, channelChannelPrefix); found && id != "" {
		return append(append(dst, ChannelRoomPrefix...), id...), true
	}
	return dst, false
}

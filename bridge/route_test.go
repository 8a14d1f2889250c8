package bridge

import "testing"

func TestRoomFor(t *testing.T) {
	tests := []struct {
		channel string
		room    string
		kind    Kind
		ok      bool
	}{
		// The three families.
		{channel: "user:notifications:42", room: "user-notifications:42", kind: KindUser, ok: true},
		{channel: "channel:notifications:general", room: "channel-notifications:general", kind: KindChannel, ok: true},
		{channel: "notifications:all", room: "global-notifications", kind: KindGlobal, ok: true},
		// Ids with colons, spaces, unicode: everything after the prefix.
		{channel: "user:notifications:a:b:c", room: "user-notifications:a:b:c", kind: KindUser, ok: true},
		{channel: "channel:notifications::", room: "channel-notifications::", kind: KindChannel, ok: true},
		{channel: "user:notifications:ünï cøde", room: "user-notifications:ünï cøde", kind: KindUser, ok: true},
		// Empty ids.
		{channel: "user:notifications:", kind: KindUser, ok: false},
		{channel: "channel:notifications:", kind: KindChannel, ok: false},
		// Channels we do not serve.
		{channel: "", ok: false},
		{channel: "notifications:all:extra", ok: false},
		{channel: "notifications:al", ok: false},
		{channel: "user:notifications", ok: false},
		{channel: "user-notifications:42", ok: false},
		{channel: "USER:notifications:42", ok: false},
		{channel: "xuser:notifications:42", ok: false},
		{channel: "global-notifications", ok: false},
	}
	for _, tt := range tests {
		room, kind, ok := RoomFor(tt.channel)
		if ok != tt.ok || room != tt.room || (ok && kind != tt.kind) {
			t.Errorf("RoomFor(%q) = (%q, %v, %v), want (%q, %v, %v)",
				tt.channel, room, kind, ok, tt.room, tt.kind, tt.ok)
		}
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{KindUser: "user", KindChannel: "channel", KindGlobal: "global", Kind(NumKinds): "unknown"}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), s)
		}
	}
}

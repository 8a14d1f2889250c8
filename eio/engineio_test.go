package eio

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestParsePacket(t *testing.T) {
	for _, tt := range []struct {
		in   string
		typ  PacketType
		data string
		err  error
	}{
		{in: `0{"sid":"x"}`, typ: PacketOpen, data: `{"sid":"x"}`},
		{in: "1", typ: PacketClose},
		{in: "2", typ: PacketPing},
		{in: "2probe", typ: PacketPing, data: "probe"},
		{in: "3", typ: PacketPong},
		{in: "3probe", typ: PacketPong, data: "probe"},
		{in: `42["hello"]`, typ: PacketMessage, data: `42["hello"]`[1:]},
		{in: "41", typ: PacketMessage, data: "1"},
		{in: "4", typ: PacketMessage},
		{in: "5", typ: PacketUpgrade},
		{in: "6", typ: PacketNoop},
		{in: "", err: ErrEmptyPacket},
		{in: "7", err: ErrPacketType},
		{in: "9", err: ErrPacketType}, // e §10
		{in: "/", err: ErrPacketType}, // '0'-1
		{in: "bAQIDBA==", err: ErrPacketType},
		{in: "\x1e", err: ErrPacketType},
		{in: " 4", err: ErrPacketType},
	} {
		typ, data, err := ParsePacket([]byte(tt.in))
		if !errors.Is(err, tt.err) || (tt.err != nil) != (err != nil) {
			t.Errorf("ParsePacket(%q) error %v, want %v", tt.in, err, tt.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Errorf("ParsePacket(%q) error %v is not ErrInvalidPacket", tt.in, err)
			}
			continue
		}
		if typ != tt.typ || string(data) != tt.data {
			t.Errorf("ParsePacket(%q) = %v, %q; want %v, %q", tt.in, typ, data, tt.typ, tt.data)
		}
		if back := AppendPacket(nil, typ, data); string(back) != tt.in {
			t.Errorf("AppendPacket(%v, %q) = %q", typ, data, back)
		}
	}
}

func TestParsePacketAliasesInput(t *testing.T) {
	in := []byte("4hello")
	_, data, err := ParsePacket(in)
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 'H'
	if string(in) != "4Hello" {
		t.Errorf("data does not alias the input: %q", in)
	}
}

func TestPacketTypeString(t *testing.T) {
	want := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop", "PacketType(7)"}
	for i, w := range want {
		if got := PacketType(i).String(); got != w {
			t.Errorf("PacketType(%d).String() = %q, want %q", i, got, w)
		}
	}
	if PacketNoop != 6 || PacketOpen != 0 {
		t.Error("packet type values moved")
	}
}

func TestAppendPacketAppends(t *testing.T) {
	got := AppendPacket([]byte("xx"), PacketPong, []byte("probe"))
	if string(got) != "xx3probe" {
		t.Errorf("got %q", got)
	}
}

func TestAppendOpen(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   OpenInfo
		want string
	}{
		{
			name: "b §1: WebSocket-only session, upgrades nil",
			in:   OpenInfo{SID: "4c0HS5xVFQ4XbIsLAAAB", PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, MaxPayload: 1000000},
			want: `0{"sid":"4c0HS5xVFQ4XbIsLAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		},
		{
			name: "upgrades empty, not nil",
			in:   OpenInfo{SID: "4c0HS5xVFQ4XbIsLAAAB", Upgrades: []string{}, PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, MaxPayload: 1000000},
			want: `0{"sid":"4c0HS5xVFQ4XbIsLAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		},
		{
			name: "a §1: polling session",
			in:   OpenInfo{SID: "RBYLSNyHx6hS08fcAAAA", Upgrades: []string{"websocket"}, PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second, MaxPayload: 1000000},
			want: `0{"sid":"RBYLSNyHx6hS08fcAAAA","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		},
		{
			name: "g §2: short timers",
			in:   OpenInfo{SID: "hUvNMrJcCu-SlZ9EAAAV", PingInterval: time.Second, PingTimeout: 1500 * time.Millisecond, MaxPayload: 1000000},
			want: `0{"sid":"hUvNMrJcCu-SlZ9EAAAV","upgrades":[],"pingInterval":1000,"pingTimeout":1500,"maxPayload":1000000}`,
		},
		{
			name: "two upgrades, escaped sid, sub-millisecond durations truncated",
			in:   OpenInfo{SID: `a"b`, Upgrades: []string{"websocket", "webtransport"}, PingInterval: 300*time.Millisecond + 999*time.Microsecond, PingTimeout: 200 * time.Millisecond},
			want: `0{"sid":"a\"b","upgrades":["websocket","webtransport"],"pingInterval":300,"pingTimeout":200,"maxPayload":0}`,
		},
	} {
		if got := AppendOpen([]byte("keep"), tt.in); string(got) != "keep"+tt.want {
			t.Errorf("%s:\n got %s\nwant keep%s", tt.name, got, tt.want)
		}
	}
}

func TestAppendOpenParsesBack(t *testing.T) {
	pkt := AppendOpen(nil, OpenInfo{SID: "x", Upgrades: []string{"websocket"}, PingInterval: time.Second})
	typ, data, err := ParsePacket(pkt)
	if err != nil || typ != PacketOpen || !bytes.HasPrefix(data, []byte(`{"sid":"x"`)) {
		t.Errorf("ParsePacket(%q) = %v, %q, %v", pkt, typ, data, err)
	}
}

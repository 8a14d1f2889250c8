package engine

import (
	"testing"

	"github.com/notify-wss/notify-wss/internal/http1"
)

func TestQueryValue(t *testing.T) {
	q := []byte("EIO=4&transport=polling&sid=abc&token=a%2Bb&empty=&flag")
	tests := []struct {
		key, raw, decoded string
		ok                bool
	}{
		{"EIO", "4", "4", true},
		{"sid", "abc", "abc", true},
		{"token", "a%2Bb", "a+b", true},
		{"empty", "", "", true},
		{"flag", "", "", true},
		{"missing", "", "", false},
	}
	for _, tt := range tests {
		v, ok := queryValue(q, tt.key)
		if string(v) != tt.raw || ok != tt.ok {
			t.Errorf("queryValue(%q) = %q,%v", tt.key, v, ok)
		}
		if got := queryString(q, tt.key); got != tt.decoded {
			t.Errorf("queryString(%q) = %q", tt.key, got)
		}
	}
}

// FuzzPollBody feeds arbitrary POST bodies to a polling session, of
// protocol 4 or 3: it must never panic, and a closed session must stay
// closed.
func FuzzPollBody(f *testing.F) {
	for _, s := range []string{
		"40{\"token\":\"ok\"}\x1e42[\"echo\",1]",
		"451-[\"echo\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA==",
		"3\x1e3",
		"",
		"40\x1e",
		"\x1e\x1e",
		"bnot base64",
		"41",
		"1",
	} {
		f.Add([]byte(s), false)
	}
	for _, s := range []string{
		`2:4020:42["echo","héllo ✓"]`,
		`31:451-["echo",{"_placeholder":true,"num":0}]10:b4AQIDBA==`,
		"1:21:2",
		"0:",
		"1:3",
		"5:42",
		"3:b4!",
		"1:1",
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, eio3 bool) {
		sh, _ := fanoutShard(0)
		ss := newSession(sh, &Handshake{}, false, eio3)
		ss.poll = &pollState{owner: sh}
		ss.onPollBody(body)
		ss.onPollBody(ss.appendPollRecord(nil, []byte(`42["after"]`)))
		if ss.closed && len(ss.sockets) != 0 {
			t.Fatal("closed session kept sockets")
		}
	})
}

// BenchmarkUpgrade measures the WebSocket handshake of every connection:
// parsing the upgrade request and writing the 101 answer.
func BenchmarkUpgrade(b *testing.B) {
	sh := newShard(New(Config{}, &testHandler{}), nil, 0)
	cn := &conn{gc: &discardConn{}, sh: sh}
	req := []byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost:8080\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\nOrigin: http://localhost:3000\r\n\r\n")
	lim := http1.Limits{MaxHead: maxHeadBytes, MaxBody: defaultMaxPayload}
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		var r http1.Request
		if n, err := cn.http.Parse(req, lim, &r); n != len(req) || err != nil {
			b.Fatalf("parse: %v %v", n, err)
		}
		cn.ws = false
		if !cn.upgrade(&r, nil) {
			b.Fatal("upgrade refused")
		}
	}
}

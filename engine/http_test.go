package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		ok       bool
		err      error
		path     string
		query    string
		keep     bool
		upgrade  bool
		bodySize int
	}{
		{name: "polling GET", in: "GET /socket.io/?EIO=4&transport=polling&t=x HTTP/1.1\r\nHost: a\r\n\r\n",
			ok: true, path: "/socket.io/", query: "EIO=4&transport=polling&t=x", keep: true, bodySize: -1},
		{name: "Connection close", in: "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", ok: true, path: "/", bodySize: -1},
		{name: "HTTP/1.0", in: "GET / HTTP/1.0\r\n\r\n", ok: true, path: "/", bodySize: -1},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", ok: true, path: "/", keep: true, bodySize: -1},
		{name: "websocket upgrade", in: "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
			ok: true, path: "/socket.io/", query: "EIO=4&transport=websocket", keep: true, upgrade: true, bodySize: -1},
		{name: "POST with body", in: "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nok", ok: true, path: "/x", keep: true, bodySize: 2},
		{name: "incomplete", in: "GET / HTTP/1.1\r\nHost: a\r\n", ok: false},
		{name: "bad request line", in: "GARBAGE\r\n\r\n", err: errMalformedHTTP},
		{name: "bad version", in: "GET / HTTP/2.0\r\n\r\n", err: errMalformedHTTP},
		{name: "relative target", in: "GET x HTTP/1.1\r\n\r\n", err: errMalformedHTTP},
		{name: "header without colon", in: "GET / HTTP/1.1\r\nnocolon\r\n\r\n", err: errMalformedHTTP},
		{name: "negative length", in: "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", err: errMalformedHTTP},
		{name: "chunked upload", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", err: errChunkedUpload},
		{name: "head too large", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHeadBytes) + "\r\n\r\n", err: errHeadTooLarge},
		{name: "unterminated too large", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHeadBytes), err: errHeadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r request
			ok, err := parseRequest([]byte(tt.in), &r)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || ok != tt.ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if !ok {
				return
			}
			if string(r.path) != tt.path || string(r.query) != tt.query || r.keepAlive != tt.keep ||
				(r.upgradeWebSocket && r.connectionUpgrade) != tt.upgrade || r.contentLength != tt.bodySize {
				t.Fatalf("got path=%q query=%q keep=%v upgrade=%v len=%d", r.path, r.query, r.keepAlive,
					r.upgradeWebSocket && r.connectionUpgrade, r.contentLength)
			}
		})
	}
}

// Every prefix of a valid head is "incomplete", never an error: gnet may
// hand the request over in any number of reads.
func TestParseRequestSplit(t *testing.T) {
	full := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for i := 0; i < len(full); i++ {
		var r request
		if ok, err := parseRequest([]byte(full[:i]), &r); ok || err != nil {
			t.Fatalf("prefix %d: ok=%v err=%v", i, ok, err)
		}
	}
	var r request
	if ok, err := parseRequest([]byte(full), &r); !ok || err != nil || r.headLen != len(full) {
		t.Fatalf("full: ok=%v err=%v headLen=%d", ok, err, r.headLen)
	}
}

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

func TestParseRequestAllocs(t *testing.T) {
	in := []byte("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nOrigin: http://x\r\n\r\n")
	var r request
	if n := testing.AllocsPerRun(100, func() { _, _ = parseRequest(in, &r) }); n != 0 {
		t.Fatalf("parseRequest allocates %.1f times", n)
	}
}

func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		"POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 26\r\n\r\n40{\"token\":\"secret-token\"}",
		"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r request
		ok, err := parseRequest(b, &r)
		if ok && err == nil {
			if r.headLen > len(b) || r.headLen > maxHeadBytes {
				t.Fatalf("headLen %d of %d", r.headLen, len(b))
			}
			_, _ = queryValue(r.query, "sid")
		}
	})
}

// FuzzPollBody feeds arbitrary POST bodies to a polling session: it must
// never panic, and a closed session must stay closed.
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
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sh, _ := fanoutShard(0)
		ss := newSession(sh, &Handshake{}, false)
		ss.poll = &pollState{owner: sh}
		ss.onPollBody(body)
		ss.onPollBody([]byte(`42["after"]`))
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
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		var r request
		if ok, err := parseRequest(req, &r); !ok || err != nil {
			b.Fatalf("parse: %v %v", ok, err)
		}
		cn.ws = false
		if !cn.upgrade(&r, nil) {
			b.Fatal("upgrade refused")
		}
	}
}

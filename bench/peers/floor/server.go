package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/notify-wss/notify-wss/bench/internal/wire"
)

// maxHead bounds an HTTP request head.
const maxHead = 8 << 10

// wsGUID is the RFC 6455 accept-key suffix.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"

// server is the gnet event handler.
type server struct {
	gnet.BuiltinEventEngine
	eng    gnet.Engine
	secret []byte

	shardsMu sync.Mutex
	shards   atomic.Pointer[[]*shard] // copy-on-write: one per event loop

	users sync.Map // userId → *fconn (the latest connection of that user)
	sids  atomic.Uint64
}

// fconn is one connection's state; touched only on its loop.
type fconn struct {
	c        gnet.Conn
	sh       *shard
	slot     int // index in sh.members, -1 when not a member
	upgraded bool
	user     string
	open     bool
}

func newServer(secret string) *server {
	s := &server{secret: []byte(secret)}
	s.shards.Store(&[]*shard{})
	return s
}

func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	return gnet.None
}

// shardOf returns the shard of loop el, creating it on first use.
func (s *server) shardOf(el gnet.EventLoop) *shard {
	for _, sh := range *s.shards.Load() {
		if sh.loop == el {
			return sh
		}
	}
	s.shardsMu.Lock()
	defer s.shardsMu.Unlock()
	cur := *s.shards.Load()
	for _, sh := range cur {
		if sh.loop == el {
			return sh
		}
	}
	sh := &shard{loop: el}
	next := append(append([]*shard(nil), cur...), sh)
	s.shards.Store(&next)
	return sh
}

func (s *server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&fconn{c: c, sh: s.shardOf(c.EventLoop()), slot: -1, open: true})
	return nil, gnet.None
}

func (s *server) OnClose(c gnet.Conn, _ error) gnet.Action {
	f, _ := c.Context().(*fconn)
	if f == nil {
		return gnet.None
	}
	f.open = false
	f.sh.leave(f)
	if f.user != "" {
		s.users.CompareAndDelete(f.user, f)
	}
	return gnet.None
}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	f := c.Context().(*fconn)
	buf, _ := c.Peek(-1)
	used := 0
	if !f.upgraded {
		n, act := s.handshake(f, buf)
		if act != gnet.None || n == 0 {
			return act
		}
		used = n
	}
	for used < len(buf) {
		h, ok, err := wire.ParseHeader(buf[used:])
		if err != nil || (ok && !h.Masked) {
			return gnet.Close
		}
		end := used + h.HeadLen + h.Length
		if !ok || end > len(buf) {
			break
		}
		payload := buf[used+h.HeadLen : end]
		wire.Unmask(payload, h.Mask) // discarded below, so in place is safe
		used = end
		switch h.Opcode {
		case wire.OpClose:
			return gnet.Close
		case wire.OpText:
			s.onPacket(f, payload)
		}
	}
	if used > 0 {
		_, _ = c.Discard(used)
	}
	return gnet.None
}

// handshake answers the HTTP request at the start of buf: a WebSocket
// upgrade gets 101 and the Engine.IO open packet, GET /health gets a tiny
// JSON body. It returns the bytes consumed (0 while incomplete).
func (s *server) handshake(f *fconn, buf []byte) (int, gnet.Action) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if len(buf) > maxHead {
			return 0, gnet.Close
		}
		return 0, gnet.None
	}
	head := buf[:end+4]
	if bytes.HasPrefix(head, []byte("GET /health")) {
		body := `{"status":"ok","connectedClients":` + strconv.Itoa(s.eng.CountConnections()-1) + `}`
		_, _ = f.c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body))
		return 0, gnet.Close
	}
	key := headerValue(head, "sec-websocket-key")
	if key == nil || !bytes.HasPrefix(head, []byte("GET /socket.io/")) {
		_, _ = f.c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
		return 0, gnet.Close
	}
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(wsGUID))
	var sum [sha1.Size]byte
	out := make([]byte, 0, 256)
	out = append(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	out = base64.StdEncoding.AppendEncode(out, h.Sum(sum[:0]))
	out = append(out, "\r\n\r\n"...)
	open := `0{"sid":"` + s.newSID() + `","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	out = wire.AppendServerFrame(out, wire.OpText, []byte(open))
	_, _ = f.c.Write(out)
	f.upgraded = true
	return end + 4, gnet.None
}

// headerValue returns the value of header name (lower case) in head.
func headerValue(head []byte, name string) []byte {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && string(bytes.ToLower(bytes.TrimSpace(k))) == name {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}

// newSID returns a unique 20-character id.
func (s *server) newSID() string {
	id := strconv.FormatUint(s.sids.Add(1), 36)
	return "floor" + "000000000000000"[:15-len(id)] + id
}

// tokenKey precedes the token in the CONNECT payload.
var tokenKey = []byte(`"token":"`)

// onPacket handles one Engine.IO packet from the client. Only CONNECT
// matters; pongs and room events are ignored.
func (s *server) onPacket(f *fconn, p []byte) {
	if !bytes.HasPrefix(p, []byte("40")) || f.slot >= 0 {
		return
	}
	var user string
	err := errToken
	if i := bytes.Index(p, tokenKey); i >= 0 {
		tok := p[i+len(tokenKey):]
		if j := bytes.IndexByte(tok, '"'); j >= 0 {
			user, err = verifyToken(s.secret, tok[:j])
		}
	}
	if err != nil {
		_, _ = f.c.Write(wire.AppendServerFrame(nil, wire.OpText, []byte(`44{"message":"Authentication failed"}`)))
		return
	}
	f.user = user
	s.users.Store(user, f)
	_, _ = f.c.Write(wire.AppendServerFrame(nil, wire.OpText, []byte(`40{"sid":"`+s.newSID()+`"}`)))
	f.sh.join(f)
}

// OnTick pings every member of every loop.
func (s *server) OnTick() (delay time.Duration, action gnet.Action) {
	for _, sh := range *s.shards.Load() {
		sh.enqueue(entry{frame: pingFrame})
	}
	return pingInterval, gnet.None
}

// pingFrame is the Engine.IO PING as a server text frame.
var pingFrame = wire.AppendServerFrame(nil, wire.OpText, []byte("2"))

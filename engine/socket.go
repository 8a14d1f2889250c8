package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/notify-wss/notify-wss/eio"
)

// Handler is the application on top of the engine. Every method runs on the
// socket's event loop and must not block.
type Handler interface {
	// Connect decides whether s may join its namespace; auth is the CONNECT
	// packet's JSON (nil when the client sent none). A protocol 3 client
	// (Config.AllowEIO3) has no auth payload: nil for "/", which the engine
	// connects by itself after the handshake, and for other namespaces the
	// query of its CONNECT as a JSON object of strings. A non-nil error
	// refuses the socket with CONNECT_ERROR: its message is sent, and the
	// Data of a *ConnectError too (for protocol 3, the Data alone when set).
	Connect(s *Socket, auth []byte) error
	// Connected runs after the CONNECT reply has been sent.
	Connected(s *Socket)
	// Event handles one client event.
	Event(s *Socket, ev *Event)
	// Disconnect runs once when the socket goes away, with the reason,
	// before it leaves its rooms (Rooms lists them). The session may be
	// closed already: nothing sent then reaches the client.
	Disconnect(s *Socket, reason CloseReason)
}

// ConnectError refuses a CONNECT with a message and optional data, which
// the client sees as connect_error's err.message and err.data.
type ConnectError struct {
	Message string
	Data    any
}

func (e *ConnectError) Error() string { return e.Message }

// Event is one event from a client. Its slices are valid only during the
// Handler call.
type Event struct {
	// Name is the event name.
	Name string
	// Data is the packet's JSON array: the name followed by the arguments,
	// with binary arguments as {"_placeholder":true,"num":i}.
	Data []byte
	// ID is the acknowledgement id, or eio.NoAckID when none was asked for.
	ID int64
	// Attachments are the binary arguments, in placeholder order.
	Attachments [][]byte
}

// Arg returns the raw JSON of argument i (0 is the first after the name),
// or nil when there is none.
func (ev *Event) Arg(i int) []byte {
	var out []byte
	_ = eio.ArrayElements(ev.Data, func(k int, elem []byte) bool {
		if k == i+1 {
			out = elem
			return false
		}
		return true
	})
	return out
}

// WantsAck reports whether the client asked for an acknowledgement.
func (ev *Event) WantsAck() bool { return ev.ID != eio.NoAckID }

// Handshake is what the client sent when its session opened. It is shared
// and must not be changed.
type Handshake struct {
	// Query is the raw query string of the opening request, or "" when it
	// held only Engine.IO's own parameters.
	Query string
	// Authorization is the Authorization header, if any.
	Authorization string
	// Origin is the Origin header, if any.
	Origin string
}

// QueryValue returns the decoded value of key in the query string.
func (h *Handshake) QueryValue(key string) string { return queryString([]byte(h.Query), key) }

// Socket is one client connected to one namespace. Its methods must be
// called on its event loop: from Handler callbacks.
type Socket struct {
	id    string
	sess  *session
	slot  int32
	nsp   uint8 // index in Config.Namespaces
	held  bool  // the CONNECT reply waits for ReleaseConnect
	muted bool  // broadcasts skip the socket (Mute)
	rooms []string

	// Data is free for the application (the authenticated user, say).
	Data any
}

// ID returns the socket id (not the Engine.IO session id).
func (s *Socket) ID() string { return s.id }

// Namespace returns the namespace, "/" by default.
func (s *Socket) Namespace() string { return s.sess.sh.srv.cfg.Namespaces[s.nsp] }

// Handshake returns the session's opening request details.
func (s *Socket) Handshake() *Handshake { return s.sess.hs }

// Transport returns "websocket" or "polling".
func (s *Socket) Transport() string {
	if s.sess.directWS() != nil {
		return "websocket"
	}
	return "polling"
}

// roomKey scopes room names by namespace; broadcasts go to "/".
func (s *Socket) roomKey(room string) string {
	if s.Namespace() == "/" {
		return room
	}
	return s.Namespace() + "\x00" + room
}

// Join adds the socket to room.
func (s *Socket) Join(room string) {
	key := s.roomKey(room)
	if s.slot < 0 || slices.Contains(s.rooms, key) {
		return
	}
	s.rooms = append(s.rooms, key)
	s.sess.sh.join(key, s)
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	key := s.roomKey(room)
	i := slices.Index(s.rooms, key)
	if i < 0 {
		return
	}
	s.rooms = slices.Delete(s.rooms, i, i+1)
	s.sess.sh.leave(key, s)
}

// HoldConnect, called from Handler.Connect, keeps the socket's CONNECT
// reply until ReleaseConnect: the client's connect then waits for what the
// application needs first (a Redis subscription, say). Meanwhile the socket
// is connected on the server (Connected runs, it may join rooms) but must
// not be sent anything: the reply comes first.
func (s *Socket) HoldConnect() { s.held = true }

// ReleaseConnect sends a CONNECT reply held by HoldConnect; it does
// nothing otherwise. Call it on the socket's loop (Connected, or a
// Socket.Later task, whose writes to the socket leave in one write: the
// reply and what follows it).
func (s *Socket) ReleaseConnect() {
	if !s.held || s.slot < 0 || s.sess.closed {
		return
	}
	s.held = false
	s.sess.sendConnectReply(s)
}

// SetID, called from Handler.Connect, gives the socket the id of an earlier
// one it takes over (connection state recovery). The caller vouches that
// the id is no longer in use.
func (s *Socket) SetID(id string) { s.id = id }

// Mute keeps the room broadcasts that the loop drains from now on away from
// the socket, until Unmute; everything else (Emit, Deliver) still reaches
// it. Call it from Handler.Connect. With Later, it lets an application join
// a socket to its rooms at once (so that broadcasts from then on are routed
// to this loop) while the socket starts receiving them at a point of its
// choosing in the loop's queue: broadcasts queued before a Later task skip
// the socket, those after reach it once the task has called Unmute.
// Connection state recovery replays what the client missed in between.
func (s *Socket) Mute() {
	s.muted = true
	if s.slot >= 0 {
		s.sess.sh.members[s.slot].muted = true
	}
}

// Unmute undoes Mute. Call it on the socket's loop.
func (s *Socket) Unmute() {
	s.muted = false
	if s.slot >= 0 && !s.sess.closed {
		s.sess.sh.members[s.slot].muted = false
	}
}

// Deliver writes one broadcast message to this socket alone (its frame on
// a WebSocket, its packet when polling): what a recovering client missed.
// Call it on the socket's loop; m is not kept.
func (s *Socket) Deliver(m Message) {
	if s.slot < 0 || s.sess.closed {
		return
	}
	s.sess.sendText(m.Packet())
}

// SetExpiry makes the session end at t, with CloseTokenExpired: a
// transport close (WebSocket close 1008, the polling close packet), not a
// Socket.IO DISCONNECT, so the client reconnects and authenticates afresh.
// A zero t removes the deadline. It applies to the whole session, which
// carries one socket in practice. Call it once the socket is connected
// (from Connected or Event).
func (s *Socket) SetExpiry(t time.Time) {
	ss := s.sess
	if s.slot < 0 || ss.closed {
		return
	}
	ss.deadline = 0
	if !t.IsZero() {
		// At least 1 ms: 0 means "none".
		ss.deadline = max(t.Sub(ss.sh.srv.start).Milliseconds(), 1)
	}
	ss.reschedule()
}

// Expiry returns when the session ends for its credentials, or the zero
// time when it has no such deadline.
func (s *Socket) Expiry() time.Time {
	ss := s.sess
	if s.slot < 0 || ss.deadline == 0 {
		return time.Time{}
	}
	return ss.sh.srv.start.Add(time.Duration(ss.deadline) * time.Millisecond)
}

// CloseTransport ends the socket's whole session at the transport level
// with reason, without a Socket.IO DISCONNECT: the client sees "transport
// close" and reconnects, as after a network failure.
func (s *Socket) CloseTransport(reason CloseReason) {
	if s.slot < 0 || s.sess.closed {
		return
	}
	s.sess.close(reason)
}

// Rooms returns the rooms the socket is in (a copy).
func (s *Socket) Rooms() []string {
	out := make([]string, 0, len(s.rooms))
	for _, key := range s.rooms {
		if ns := s.Namespace(); ns != "/" {
			key = key[len(ns)+1:]
		}
		out = append(out, key)
	}
	return out
}

// InRoom reports whether the socket is in room.
func (s *Socket) InRoom(room string) bool { return slices.Contains(s.rooms, s.roomKey(room)) }

// Emit sends an event with JSON-encoded arguments.
func (s *Socket) Emit(event string, args ...any) error {
	data, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return fmt.Errorf("engine: emit %q: %w", event, err)
	}
	s.EmitRaw(data, nil)
	return nil
}

// EmitRaw sends an event whose JSON array (name first) is data, with binary
// attachments matching its placeholders.
func (s *Socket) EmitRaw(data []byte, attachments [][]byte) {
	t := eio.SIOEvent
	if len(attachments) > 0 {
		t = eio.SIOBinaryEvent
	}
	s.send(eio.SIOPacket{Type: t, ID: eio.NoAckID, Data: data, Attachments: len(attachments)}, attachments)
}

// Ack answers the client's acknowledgement id with JSON-encoded arguments.
func (s *Socket) Ack(id int64, args ...any) error {
	if args == nil {
		args = []any{}
	}
	data, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("engine: ack %d: %w", id, err)
	}
	s.AckRaw(id, data, nil)
	return nil
}

// AckRaw answers an acknowledgement with a JSON array and attachments.
func (s *Socket) AckRaw(id int64, data []byte, attachments [][]byte) {
	t := eio.SIOAck
	if len(attachments) > 0 {
		t = eio.SIOBinaryAck
	}
	s.send(eio.SIOPacket{Type: t, ID: id, Data: data, Attachments: len(attachments)}, attachments)
}

// Disconnect sends DISCONNECT for this namespace and removes the socket;
// with closeTransport the whole session is closed too (the client then does
// not reconnect, as with socket.disconnect(true) in Node).
func (s *Socket) Disconnect(closeTransport bool) {
	ss := s.sess
	if s.slot < 0 || ss.closed {
		return
	}
	s.send(eio.SIOPacket{Type: eio.SIODisconnect, ID: eio.NoAckID}, nil)
	ss.removeSocket(s, CloseServerNamespace)
	if closeTransport {
		ss.close(CloseForced)
	}
}

// send writes one Socket.IO packet of this socket's namespace.
func (s *Socket) send(p eio.SIOPacket, attachments [][]byte) {
	if ns := s.Namespace(); ns != "/" {
		p.Namespace = []byte(ns)
	}
	s.sess.sendSIO(p, attachments)
}

// sendSIO encodes and sends a Socket.IO packet and its attachments.
func (ss *session) sendSIO(p eio.SIOPacket, attachments [][]byte) {
	sh := ss.sh
	sh.pbuf = append(sh.pbuf[:0], '0'+byte(eio.PacketMessage))
	sh.pbuf = eio.AppendSIO(sh.pbuf, p)
	ss.sendText(sh.pbuf)
	for _, a := range attachments {
		ss.sendBinary(a)
	}
}

// onSocketIO handles the Socket.IO packet inside an Engine.IO message. A
// packet socket.io's decoder refuses ends the session as socket.io does,
// with conn.close(): a forced close, not an Engine.IO parse error.
func (ss *session) onSocketIO(data []byte) {
	if ss.bin != nil { // text while attachments are awaited
		ss.close(CloseForced)
		return
	}
	p, err := eio.DecodeSIO(data)
	if err != nil {
		ss.sh.srv.log.Debug("bad socket.io packet", "sid", ss.sid, "err", err)
		ss.close(CloseForced)
		return
	}
	switch p.Type {
	case eio.SIOConnect:
		if ss.eio3 { // socket.io v2: "/nsp?k=v", and the query is the auth
			ns, auth := splitNamespaceQuery(p.Namespace)
			ss.connect(ns, auth)
			return
		}
		ss.connect(p.Namespace, p.Data)
	case eio.SIODisconnect:
		if sock := ss.socketFor(p.Namespace); sock != nil {
			ss.removeSocket(sock, CloseClientNamespace)
		}
	case eio.SIOEvent, eio.SIOAck:
		if ss.socketFor(p.Namespace) == nil {
			ss.close(CloseForced)
			return
		}
		ss.dispatch(p, nil)
	case eio.SIOBinaryEvent, eio.SIOBinaryAck:
		if ss.socketFor(p.Namespace) == nil {
			ss.close(CloseForced)
			return
		}
		raw := append([]byte(nil), data...)
		kept, _ := eio.DecodeSIO(raw) // same bytes: cannot fail
		ss.bin = &pendingBinary{packet: kept, raw: raw}
	default:
		ss.close(CloseForced)
	}
}

// dispatch hands a complete event to the handler; acks from clients are
// accepted and dropped (the server asks for none).
func (ss *session) dispatch(p eio.SIOPacket, attachments [][]byte) {
	if p.Type != eio.SIOEvent && p.Type != eio.SIOBinaryEvent {
		return
	}
	sock := ss.socketFor(p.Namespace)
	if sock == nil {
		return
	}
	name, err := eio.EventName(p.Data)
	if err != nil {
		ss.close(CloseForced)
		return
	}
	ev := Event{Name: name, Data: p.Data, ID: p.ID, Attachments: attachments}
	ss.sh.srv.handler.Event(sock, &ev)
}

// socketFor returns the socket connected to namespace ns, or nil.
func (ss *session) socketFor(ns []byte) *Socket {
	for _, s := range ss.sockets {
		if s.Namespace() == string(ns) {
			return s
		}
	}
	return nil
}

// rootNamespace is the default namespace, "/".
var rootNamespace = []byte("/")

// connectDefault connects a protocol 3 session to "/" right after its
// handshake, as socket.io does for v2 clients, which send no CONNECT for the
// main namespace. There is no auth payload: the Handler's Connect gets nil,
// and v2 clients pass credentials in the query string.
func (ss *session) connectDefault() {
	if ss.eio3 && !ss.raw && !ss.closed {
		ss.connect(rootNamespace, nil)
	}
}

// splitNamespaceQuery splits a socket.io v2 CONNECT namespace,
// "/admin?token=x", into the namespace and its query as a JSON object
// ({"token":"x"}; the last value of a repeated key, as socket.io's
// Object.fromEntries does), which socket.io takes as the auth payload.
// Without a query, auth is nil.
func splitNamespaceQuery(nsp []byte) (ns, auth []byte) {
	i := bytes.IndexByte(nsp, '?')
	if i < 0 {
		return nsp, nil
	}
	values, _ := url.ParseQuery(string(nsp[i+1:]))
	obj := make(map[string]string, len(values))
	for k, v := range values {
		obj[k] = v[len(v)-1]
	}
	auth, _ = json.Marshal(obj) // strings only: cannot fail
	return nsp[:i], auth
}

// connect handles CONNECT to namespace ns with the auth payload.
func (ss *session) connect(ns, auth []byte) {
	srv := ss.sh.srv
	reply := eio.SIOPacket{Type: eio.SIOConnectError, ID: eio.NoAckID}
	if string(ns) != "/" {
		reply.Namespace = ns
	}
	nsp, ok := srv.namespaces[string(ns)]
	if !ok {
		reply.Data = []byte(`{"message":"Invalid namespace"}`)
		ss.sendSIO(reply, nil)
		return
	}
	if ss.socketFor(ns) != nil {
		return // already connected: socket.io ignores a repeated CONNECT
	}
	sock := &Socket{id: ss.socketID(ns), nsp: nsp, sess: ss, slot: -1}
	if err := srv.handler.Connect(sock, auth); err != nil {
		ss.sh.counters.AuthFailures.Add(1)
		reply.Data = connectErrorJSON(err, ss.eio3)
		ss.sendSIO(reply, nil)
		return
	}
	ss.sockets = append(ss.sockets, sock)
	if !ss.connected {
		ss.connected, ss.deadline = true, 0 // no connect timeout, no expiry yet
	}
	ss.sh.allocSlot(sock, ss.directWS())
	srv.counters.sockets.Add(1)
	if !sock.held {
		ss.sendConnectReply(sock)
	}
	ss.reschedule()
	srv.handler.Connected(sock)
}

// sendConnectReply sends the CONNECT reply of a socket that connected.
func (ss *session) sendConnectReply(sock *Socket) {
	reply := eio.SIOPacket{Type: eio.SIOConnect, ID: eio.NoAckID}
	if ns := sock.Namespace(); ns != "/" {
		reply.Namespace = []byte(ns)
	}
	if !ss.eio3 { // socket.io v2 clients get a bare "40"
		reply.Data = append(append([]byte(`{"sid":"`), sock.id...), '"')
		if pid := ss.sh.srv.cfg.RecoveryID; pid != nil {
			reply.Data = append(append(append(reply.Data, `,"pid":"`...), pid(sock.id)...), '"')
		}
		reply.Data = append(reply.Data, '}')
	}
	ss.sendSIO(reply, nil)
}

// socketID returns the id of a new socket in namespace ns: random, or for
// protocol 3, as socket.io names v2 clients' sockets, the session id
// prefixed with the namespace and '#' outside "/".
func (ss *session) socketID(ns []byte) string {
	switch {
	case !ss.eio3:
		return newID()
	case string(ns) == "/":
		return ss.sid
	default:
		return string(ns) + "#" + ss.sid
	}
}

// connectErrorJSON encodes the CONNECT_ERROR payload {"message","data"};
// for protocol 3, as socket.io does for v2 clients, the Data of a
// *ConnectError alone, or else the message as a JSON string.
func connectErrorJSON(err error, eio3 bool) []byte {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Message: err.Error()}
	var ce *ConnectError
	if errors.As(err, &ce) {
		body.Data = ce.Data
	}
	if eio3 {
		var v any = body.Message
		if body.Data != nil {
			v = body.Data
		}
		if b, mErr := json.Marshal(v); mErr == nil {
			return b
		}
		return []byte(`"Authentication failed"`)
	}
	b, mErr := json.Marshal(body)
	if mErr != nil {
		return []byte(`{"message":"Authentication failed"}`)
	}
	return b
}

// removeSocket disconnects sock: rooms left, slot freed, handler told.
func (ss *session) removeSocket(sock *Socket, reason CloseReason) {
	i := slices.Index(ss.sockets, sock)
	if i < 0 {
		return
	}
	ss.sockets = slices.Delete(ss.sockets, i, i+1)
	sh := ss.sh
	if !ss.closed { // a session's end is counted once, by teardown
		sh.counters.Disconnects[reason].Add(1)
	}
	// The handler first, while the socket is still in its rooms: whatever
	// it does with them (connection state recovery holds them) happens
	// before a room can lose its last member here.
	sh.srv.handler.Disconnect(sock, reason)
	for _, room := range sock.rooms {
		sh.leave(room, sock)
	}
	sock.rooms = nil
	sh.freeSlot(sock.slot)
	sock.slot = -1
	sh.srv.counters.sockets.Add(-1)
}

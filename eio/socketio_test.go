package eio

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// sioCase is one Socket.IO packet with its fields labelled. wire is the whole
// Engine.IO message as it crossed the WebSocket or sat in a polling record.
type sioCase struct {
	src   string // where it was seen: trace letter and section, or "made up"
	wire  string
	typ   SIOType
	nsp   string
	id    int64
	att   int
	data  string // "" = absent
	event string // EventName, for EVENT and BINARY_EVENT
	// reenc is what AppendSIO gives when it is not the input byte for byte.
	reenc string
}

var sioCases = []sioCase{
	{src: "a §1", wire: `40{"token":"secret-token"}`, typ: SIOConnect, nsp: "/", id: NoAckID, data: `{"token":"secret-token"}`},
	{src: "a §1", wire: `40{"sid":"6OCCUP9kJALW9bTsAAAA"}`, typ: SIOConnect, nsp: "/", id: NoAckID, data: `{"sid":"6OCCUP9kJALW9bTsAAAA"}`},
	{src: "d §4", wire: `40`, typ: SIOConnect, nsp: "/", id: NoAckID},
	{src: "a §2", wire: `42["join-global-notifications"]`, typ: SIOEvent, nsp: "/", id: NoAckID,
		data: `["join-global-notifications"]`, event: "join-global-notifications"},
	{src: "b §1", wire: `42["connected",{"message":"Welcome to the notification server","socketId":"ZxNnB3wGru3RDhTAAAAB"}]`,
		typ: SIOEvent, nsp: "/", id: NoAckID, event: "connected",
		data: `["connected",{"message":"Welcome to the notification server","socketId":"ZxNnB3wGru3RDhTAAAAB"}]`},
	{src: "b §2", wire: `420["join-global-notifications"]`, typ: SIOEvent, nsp: "/", id: 0,
		data: `["join-global-notifications"]`, event: "join-global-notifications"},
	{src: "b §2", wire: `430[{"joined":"global-notifications"}]`, typ: SIOAck, nsp: "/", id: 0, data: `[{"joined":"global-notifications"}]`},
	{src: "b §4", wire: `420["server-question","ping?"]`, typ: SIOEvent, nsp: "/", id: 0, data: `["server-question","ping?"]`, event: "server-question"},
	{src: "b §4", wire: `430["pong!"]`, typ: SIOAck, nsp: "/", id: 0, data: `["pong!"]`},
	{src: "b §6", wire: `41`, typ: SIODisconnect, nsp: "/", id: NoAckID},
	{src: "c §2", wire: `420["client-message","third with ack"]`, typ: SIOEvent, nsp: "/", id: 0,
		data: `["client-message","third with ack"]`, event: "client-message"},
	{src: "d §1", wire: `44{"message":"Authentication failed"}`, typ: SIOConnectError, nsp: "/", id: NoAckID,
		data: `{"message":"Authentication failed"}`},
	{src: "d §3", wire: `44{"message":"Authentication failed","data":{"reason":"token expired"}}`, typ: SIOConnectError, nsp: "/", id: NoAckID,
		data: `{"message":"Authentication failed","data":{"reason":"token expired"}}`},
	{src: "k §2c (EIO3 client, same parser)", wire: `44"Authentication failed"`, typ: SIOConnectError, nsp: "/", id: NoAckID,
		data: `"Authentication failed"`},
	{src: "h §1", wire: `40{"sid":"jTACzvrgUPU0oZliAAAR","pid":"cZBJAjOpIaWwzFQbAAAS"}`, typ: SIOConnect, nsp: "/", id: NoAckID,
		data: `{"sid":"jTACzvrgUPU0oZliAAAR","pid":"cZBJAjOpIaWwzFQbAAAS"}`},
	{src: "h §3", wire: `42["notification",{"id":43,"type":"info","message":"missed while offline #2"},"Q8KIoSg.0"]`,
		typ: SIOEvent, nsp: "/", id: NoAckID, event: "notification",
		data: `["notification",{"id":43,"type":"info","message":"missed while offline #2"},"Q8KIoSg.0"]`},
	{src: "i §1", wire: `451-["binary-data",{"_placeholder":true,"num":0},{"note":"a Buffer is sent as an attachment"}]`,
		typ: SIOBinaryEvent, nsp: "/", id: NoAckID, att: 1, event: "binary-data",
		data: `["binary-data",{"_placeholder":true,"num":0},{"note":"a Buffer is sent as an attachment"}]`},
	{src: "i §2", wire: `452-0["binary-upload",{"_placeholder":true,"num":0},{"extra":{"_placeholder":true,"num":1}}]`,
		typ: SIOBinaryEvent, nsp: "/", id: 0, att: 2, event: "binary-upload",
		data: `["binary-upload",{"_placeholder":true,"num":0},{"extra":{"_placeholder":true,"num":1}}]`},
	{src: "i §3", wire: `451-0["binary-upload",{"_placeholder":true,"num":0}]`, typ: SIOBinaryEvent, nsp: "/", id: 0, att: 1,
		data: `["binary-upload",{"_placeholder":true,"num":0}]`, event: "binary-upload"},
	{src: "i §2", wire: `430[{"size":4}]`, typ: SIOAck, nsp: "/", id: 0, data: `[{"size":4}]`},
	{src: "j §1", wire: `40/admin,{"token":"secret-token"}`, typ: SIOConnect, nsp: "/admin", id: NoAckID, data: `{"token":"secret-token"}`},
	{src: "j §1", wire: `40/admin,{"sid":"HsFgBsVzuU1DF6a9AAAc"}`, typ: SIOConnect, nsp: "/admin", id: NoAckID, data: `{"sid":"HsFgBsVzuU1DF6a9AAAc"}`},
	{src: "j §1", wire: `42/admin,["admin-hello",{"nsp":"/admin"}]`, typ: SIOEvent, nsp: "/admin", id: NoAckID,
		data: `["admin-hello",{"nsp":"/admin"}]`, event: "admin-hello"},
	{src: "j §2", wire: `42/admin,0["admin-ping"]`, typ: SIOEvent, nsp: "/admin", id: 0, data: `["admin-ping"]`, event: "admin-ping"},
	{src: "j §2", wire: `43/admin,0["admin-pong"]`, typ: SIOAck, nsp: "/admin", id: 0, data: `["admin-pong"]`},
	{src: "j §3", wire: `44/does-not-exist,{"message":"Invalid namespace"}`, typ: SIOConnectError, nsp: "/does-not-exist", id: NoAckID,
		data: `{"message":"Invalid namespace"}`},
	{src: "j §4", wire: `41/admin,`, typ: SIODisconnect, nsp: "/admin", id: NoAckID},

	// Corners of the grammar, checked against socket.io-parser's decodeString.
	{src: "made up: namespace to the end of input, no ','", wire: `41/admin`, typ: SIODisconnect, nsp: "/admin", id: NoAckID, reenc: `41/admin,`},
	{src: "made up: CONNECT of a namespace without ','", wire: `40/admin`, typ: SIOConnect, nsp: "/admin", id: NoAckID, reenc: `40/admin,`},
	{src: "made up: explicit root namespace", wire: `42/,["a"]`, typ: SIOEvent, nsp: "/", id: NoAckID, data: `["a"]`, event: "a", reenc: `42["a"]`},
	{src: "made up: nested namespace", wire: `40/a/b,{}`, typ: SIOConnect, nsp: "/a/b", id: NoAckID, data: `{}`},
	{src: "made up: everything at once", wire: `466-/admin,123[{"_placeholder":true,"num":0}]`, typ: SIOBinaryAck, nsp: "/admin", id: 123, att: 6,
		data: `[{"_placeholder":true,"num":0}]`},
	{src: "made up: ten attachments", wire: `4510-["a"]`, typ: SIOBinaryEvent, nsp: "/", id: NoAckID, att: 10, data: `["a"]`, event: "a"},
	{src: "made up: leading zero in the count", wire: `4501-["a"]`, typ: SIOBinaryEvent, nsp: "/", id: NoAckID, att: 1, data: `["a"]`, event: "a", reenc: `451-["a"]`},
	{src: "made up: leading zeros in the id", wire: `42007["a"]`, typ: SIOEvent, nsp: "/", id: 7, data: `["a"]`, event: "a", reenc: `427["a"]`},
	{src: "made up: largest id", wire: `439007199254740991[]`, typ: SIOAck, nsp: "/", id: MaxAckID, data: `[]`},
	{src: "made up: numeric event name", wire: `42[42,"x"]`, typ: SIOEvent, nsp: "/", id: NoAckID, data: `[42,"x"]`, event: "42"},
	{src: "made up: negative float event name", wire: `42[-1.5e3]`, typ: SIOEvent, nsp: "/", id: NoAckID, data: `[-1.5e3]`, event: "-1.5e3"},
	{src: "made up: escaped event name", wire: `42["caf\u00e9\n"]`, typ: SIOEvent, nsp: "/", id: NoAckID, data: `["caf\u00e9\n"]`, event: "café\n"},
	{src: "made up: 'connected' is not reserved", wire: `42["connected"]`, typ: SIOEvent, nsp: "/", id: NoAckID, data: `["connected"]`, event: "connected"},
	{src: "made up: spaces inside and after the JSON", wire: `42[ "a" , 1 ] `, typ: SIOEvent, nsp: "/", id: NoAckID, data: `[ "a" , 1 ] `, event: "a"},
	{src: "made up: DISCONNECT with an id (socket.io-parser reads id 0, no data)", wire: `410`, typ: SIODisconnect, nsp: "/", id: 0},
	{src: "made up: a long event name (past the reserved-name check)", wire: `42["` + strings.Repeat("x", 100) + `"]`, typ: SIOEvent, nsp: "/", id: NoAckID,
		data: `["` + strings.Repeat("x", 100) + `"]`, event: strings.Repeat("x", 100)},
	{src: "made up: empty ACK", wire: `431[]`, typ: SIOAck, nsp: "/", id: 1, data: `[]`},
	{src: "made up: ',' in a namespace ends it", wire: `42/a,b,["x"]`, typ: SIOEvent, nsp: "/a", id: NoAckID, data: `b,["x"]`,
		reenc: "invalid"},
}

func TestDecodeSIO(t *testing.T) {
	for _, tt := range sioCases {
		typ, msg, err := ParsePacket([]byte(tt.wire))
		if err != nil || typ != PacketMessage {
			t.Fatalf("%s: ParsePacket(%q) = %v, %v", tt.src, tt.wire, typ, err)
		}
		p, err := DecodeSIO(msg)
		if tt.reenc == "invalid" {
			if err == nil {
				t.Errorf("%s: DecodeSIO(%q) = %+v, want an error", tt.src, msg, p)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: DecodeSIO(%q): %v", tt.src, msg, err)
			continue
		}
		if p.Type != tt.typ || string(p.Namespace) != tt.nsp || p.ID != tt.id || p.Attachments != tt.att || string(p.Data) != tt.data {
			t.Errorf("%s: DecodeSIO(%q) =\n  type %v nsp %q id %d att %d data %q\nwant type %v nsp %q id %d att %d data %q",
				tt.src, msg, p.Type, p.Namespace, p.ID, p.Attachments, p.Data, tt.typ, tt.nsp, tt.id, tt.att, tt.data)
		}
		if (tt.data == "") != (p.Data == nil) {
			t.Errorf("%s: Data %#v, want nil only when absent", tt.src, p.Data)
		}
		want := tt.wire
		if tt.reenc != "" {
			want = tt.reenc
		}
		if got := AppendPacket(nil, PacketMessage, AppendSIO(nil, p)); string(got) != want {
			t.Errorf("%s: re-encoded as %q, want %q", tt.src, got, want)
		}
		if tt.typ == SIOEvent || tt.typ == SIOBinaryEvent {
			if name, err := EventName(p.Data); err != nil || name != tt.event {
				t.Errorf("%s: EventName = %q, %v; want %q", tt.src, name, err, tt.event)
			}
		}
	}
}

func TestDecodeSIOAliasesInput(t *testing.T) {
	in := []byte(`2/admin,["a"]`)
	p, err := DecodeSIO(in)
	if err != nil {
		t.Fatal(err)
	}
	if &p.Namespace[0] != &in[1] || &p.Data[0] != &in[8] {
		t.Error("Namespace and Data do not alias the input")
	}
}

func TestDecodeSIOErrors(t *testing.T) {
	for _, tt := range []struct {
		in  string // without the Engine.IO '4'
		err error
		why string
	}{
		{``, ErrSIOType, "empty"},
		{`7[]`, ErrSIOType, "type 7"},
		{`9`, ErrSIOType, "type 9"},
		{`/`, ErrSIOType, "below '0'"},
		{`a["x"]`, ErrSIOType, "not a digit"},

		{`2{"not":"an array"}`, ErrSIOPayload, "e §12: EVENT data is an object"},
		{`2[]`, ErrSIOPayload, "EVENT with an empty array"},
		{`2`, ErrSIOPayload, "EVENT without data"},
		{`2/admin,`, ErrSIOPayload, "EVENT without data in a namespace"},
		{`2/admin["x"]`, ErrSIOPayload, "no ',': the namespace runs to the end, leaving no data"},
		{`20`, ErrSIOPayload, "EVENT with an id and no data"},
		{`2"x"`, ErrSIOPayload, "EVENT data is a string"},
		{`2[{"a":1}]`, ErrSIOPayload, "event name is an object"},
		{`2[["a"]]`, ErrSIOPayload, "event name is an array"},
		{`2[true]`, ErrSIOPayload, "event name is true"},
		{`2[null]`, ErrSIOPayload, "event name is null"},
		{`2["connect"]`, ErrSIOPayload, "reserved name"},
		{`2["connect_error"]`, ErrSIOPayload, "reserved name"},
		{`2["disconnect",1]`, ErrSIOPayload, "reserved name"},
		{`2["disconnecting"]`, ErrSIOPayload, "reserved name"},
		{`2["newListener"]`, ErrSIOPayload, "reserved name"},
		{`2["removeListener"]`, ErrSIOPayload, "reserved name"},
		{`2[ "removeListener" ]`, ErrSIOPayload, "reserved name after a space"},
		{`2["conn\u0065ct"]`, ErrSIOPayload, "reserved name, escaped"},
		{`2["\u0072\u0065\u006d\u006f\u0076\u0065\u004c\u0069\u0073\u0074\u0065\u006e\u0065\u0072"]`, ErrSIOPayload, "reserved name, all escaped"},
		{`5-["a"]`, ErrSIOAttachments, "BINARY_EVENT count missing"},
		{`51["a"]`, ErrSIOAttachments, "BINARY_EVENT '-' missing"},
		{`5`, ErrSIOAttachments, "BINARY_EVENT with nothing after the type"},
		{`51`, ErrSIOAttachments, "BINARY_EVENT count without '-'"},
		{`50-["a"]`, ErrSIOAttachments, "zero attachments"},
		{`511-["a"]`, ErrSIOAttachments, "11 attachments"},
		{`5100-["a"]`, ErrSIOAttachments, "three digits"},
		{`6-1[]`, ErrSIOAttachments, "negative count"},
		{`5a-["a"]`, ErrSIOAttachments, "count not a number"},
		{`51-[]`, ErrSIOPayload, "BINARY_EVENT empty array"},
		{`61-{}`, ErrSIOPayload, "BINARY_ACK data an object"},
		{`61-`, ErrSIOPayload, "BINARY_ACK without data"},
		{`21-["a"]`, ErrSIOJSON, "count on a non-binary type: id 1 then data -[...]"},

		{`3`, ErrSIOPayload, "ACK without data"},
		{`30`, ErrSIOPayload, "ACK with id, no data"},
		{`30{}`, ErrSIOPayload, "ACK data an object"},
		{`30"x"`, ErrSIOPayload, "ACK data a string"},
		{`0[]`, ErrSIOPayload, "CONNECT data an array"},
		{`0"x"`, ErrSIOPayload, "CONNECT data a string"},
		{`0null`, ErrSIOPayload, "CONNECT data null"},
		{`1{}`, ErrSIOPayload, "DISCONNECT with data"},
		{`1/admin,{}`, ErrSIOPayload, "DISCONNECT with data in a namespace"},
		{`4`, ErrSIOPayload, "CONNECT_ERROR without data"},
		{`4[]`, ErrSIOPayload, "CONNECT_ERROR data an array"},
		{`41`, ErrSIOPayload, "CONNECT_ERROR data a number, read as an id"},
		{`4true`, ErrSIOPayload, "CONNECT_ERROR data true"},

		{`2[`, ErrSIOJSON, "JSON cut short"},
		{`2["a"`, ErrSIOJSON, "JSON cut short"},
		{`2["a",]`, ErrSIOJSON, "trailing comma"},
		{`2['a']`, ErrSIOJSON, "single quotes"},
		{`2["a"]x`, ErrSIOJSON, "garbage after the JSON"},
		{`2["a"]["b"]`, ErrSIOJSON, "two values"},
		{"2[\"a\x01\"]", ErrSIOJSON, "control character in a string"},
		{`0{"a":1`, ErrSIOJSON, "object cut short"},
		{`2 ["a"]`, ErrSIOPayload, "space before the JSON (Node would read it as ack id 0)"},
		{"2\n[\"a\"]", ErrSIOPayload, "newline before the JSON"},

		{`212345678901234567["a"]`, ErrSIOAckID, "17 digits"},
		{`29007199254740992["a"]`, ErrSIOAckID, "2^53"},
		{`299999999999999999999999["a"]`, ErrSIOAckID, "overflows int64"},
		{`200000000000000001["a"]`, ErrSIOAckID, "17 digits, leading zeros"},
	} {
		p, err := DecodeSIO([]byte(tt.in))
		if err != tt.err { // sentinels are returned as they are, never wrapped
			t.Errorf("%s: DecodeSIO(%q) = %+v, %v; want %v", tt.why, tt.in, p, err, tt.err)
		}
		if !errors.Is(err, ErrInvalidSIOPacket) {
			t.Errorf("%s: DecodeSIO(%q) error %v is not ErrInvalidSIOPacket", tt.why, tt.in, err)
		}
	}
}

func TestSIOJSONErrorMatchesBothClasses(t *testing.T) {
	_, err := DecodeSIO([]byte(`2[`))
	if !errors.Is(err, ErrInvalidSIOPacket) || !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("error %v should match ErrInvalidSIOPacket and ErrInvalidJSON", err)
	}
	if !strings.HasPrefix(err.Error(), "eio: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
}

func TestAppendSIO(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    SIOPacket
		want string
	}{
		{"root namespace as nil", SIOPacket{Type: SIOEvent, ID: NoAckID, Data: []byte(`["a"]`)}, `2["a"]`},
		{"root namespace as /", SIOPacket{Type: SIOEvent, Namespace: []byte("/"), ID: NoAckID, Data: []byte(`["a"]`)}, `2["a"]`},
		{"any negative id is none", SIOPacket{Type: SIOAck, ID: -7, Data: []byte(`[]`)}, `3[]`},
		{"id 0", SIOPacket{Type: SIOEvent, ID: 0, Data: []byte(`["a"]`)}, `20["a"]`},
		{"j §4", SIOPacket{Type: SIODisconnect, Namespace: []byte("/admin"), ID: NoAckID}, `1/admin,`},
		{"b §6", SIOPacket{Type: SIODisconnect, ID: NoAckID}, `1`},
		{"i §2", SIOPacket{Type: SIOBinaryEvent, ID: 0, Attachments: 2, Data: []byte(`["x"]`)}, `52-0["x"]`},
		{"attachments ignored on EVENT", SIOPacket{Type: SIOEvent, ID: NoAckID, Attachments: 3, Data: []byte(`["x"]`)}, `2["x"]`},
		{"large id", SIOPacket{Type: SIOEvent, ID: 1234567890, Data: []byte(`["x"]`)}, `21234567890["x"]`},
	} {
		if got := AppendSIO([]byte("4"), tt.p); string(got) != "4"+tt.want {
			t.Errorf("%s: AppendSIO = %q, want %q", tt.name, got, "4"+tt.want)
		}
	}
}

func TestSIOTypeString(t *testing.T) {
	want := []string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK", "SIOType(7)"}
	for i, w := range want {
		if got := SIOType(i).String(); got != w {
			t.Errorf("SIOType(%d).String() = %q, want %q", i, got, w)
		}
	}
	for typ := SIOType(0); typ < 8; typ++ {
		if typ.IsBinary() != (typ == SIOBinaryEvent || typ == SIOBinaryAck) {
			t.Errorf("%v.IsBinary() = %v", typ, typ.IsBinary())
		}
	}
}

// sioSentinels are the errors DecodeSIO returns, as they are.
var sioSentinels = []error{ErrSIOType, ErrSIOAttachments, ErrSIOAckID, ErrSIOPayload, ErrSIOJSON}

// TestDecodeSIOEveryPrefix feeds DecodeSIO every proper prefix of every
// Socket.IO packet of the traces and of sioCases: a message cut short
// anywhere. Each prefix must
//
//   - be refused with exactly one of the sentinels, or be accepted as a
//     packet consistent with the whole one (checkSIOPrefix);
//   - for the traces, get socket.io-parser's verdict (the oracle file holds
//     every such prefix), under the rules of TestDecodeSIOMatchesNode.
func TestDecodeSIOEveryPrefix(t *testing.T) {
	verdicts := map[string]nodeVerdict{}
	for _, v := range loadNodeVerdicts(t) {
		verdicts[v.In] = v
	}
	var compared, accepted int
	for _, f := range textFixtures(t) {
		for _, pkt := range f.packets(t) {
			if len(pkt) == 0 || pkt[0] != '0'+byte(PacketMessage) {
				continue
			}
			whole := pkt[1:]
			for i := range whole {
				prefix := whole[:i]
				checkSIOPrefix(t, whole, prefix)
				if !utf8.Valid(prefix) {
					continue // cut inside a character: no text frame carries it
				}
				v, ok := verdicts[string(prefix)]
				if !ok {
					t.Fatalf("%v: no socket.io-parser verdict for the prefix %q; regenerate %s with socketio_parser_oracle.js",
						f, prefix, nodeVerdictsFile)
				}
				compared++
				if checkNodeVerdict(t, v) == bothAccept {
					accepted++
				}
			}
		}
	}
	for _, tt := range sioCases {
		whole := []byte(tt.wire[1:])
		for i := range whole {
			checkSIOPrefix(t, whole, whole[:i])
		}
	}
	if compared < 1000 || accepted < 50 {
		t.Errorf("only %d prefixes compared with socket.io-parser, %d accepted by both", compared, accepted)
	}
	t.Logf("%d trace prefixes compared with socket.io-parser, %d accepted by both", compared, accepted)
}

// checkSIOPrefix decodes prefix, a proper prefix of the packet whole. An
// error must be one of sioSentinels. An accepted prefix must re-encode
// (AppendSIO) to a packet that decodes to the same fields, and agree with
// the whole packet as far as it goes: same type and attachment count, a
// namespace that begins the whole one, data (if any) that begins the whole
// data.
func checkSIOPrefix(t *testing.T, whole, prefix []byte) {
	t.Helper()
	p, err := DecodeSIO(bytes.Clone(prefix))
	if err != nil {
		if !slices.Contains(sioSentinels, err) {
			t.Errorf("DecodeSIO(%q): %v, not one of the sentinels", prefix, err)
		}
		return
	}
	enc := AppendSIO(nil, p)
	if q, err := DecodeSIO(enc); err != nil || !sameSIO(p, q) {
		t.Errorf("DecodeSIO(%q) = %+v; its re-encoding %q decodes to %+v, %v", prefix, p, enc, q, err)
	}
	w, err := DecodeSIO(whole)
	if err != nil {
		return // a made-up invalid case: nothing to agree with
	}
	if p.Type != w.Type || p.Attachments != w.Attachments || !bytes.HasPrefix(w.Namespace, p.Namespace) ||
		(p.Data != nil && !bytes.HasPrefix(w.Data, p.Data)) {
		t.Errorf("DecodeSIO(%q) = %+v, which does not begin %q (%+v)", prefix, p, whole, w)
	}
}

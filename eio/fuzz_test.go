package eio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Seeds: every packet of the trace fixtures, the labelled tables and the
// socket.io-parser verdicts. testdata/fuzz/<Name>/ holds inputs that once
// failed.

func seedPackets(f *testing.F) [][]byte {
	var out [][]byte
	for _, fx := range textFixtures(f) {
		out = append(out, fx.payload)
		if fx.isPoll() {
			out = append(out, records(f, fx.payload)...)
		}
	}
	for _, c := range sioCases {
		out = append(out, []byte(c.wire))
	}
	return out
}

// seedSIO returns Socket.IO packets (without the Engine.IO '4').
func seedSIO(f *testing.F) [][]byte {
	var out [][]byte
	for _, p := range seedPackets(f) {
		if len(p) > 1 && p[0] == '4' && !bytes.Contains(p, []byte{RecordSeparator}) {
			out = append(out, p[1:])
		}
	}
	file, err := os.Open("testdata/socketio_parser_verdicts.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for n := 0; sc.Scan(); n++ {
		var v nodeVerdict
		if n%5 == 0 && json.Unmarshal(sc.Bytes(), &v) == nil { // a fifth is plenty as seeds
			out = append(out, []byte(v.In))
		}
	}
	return out
}

func FuzzParsePacket(f *testing.F) {
	for _, p := range seedPackets(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, data, err := ParsePacket(b)
		if err != nil {
			if len(b) > 0 && b[0] >= '0' && b[0] <= '6' {
				t.Fatalf("ParsePacket(%q): %v", b, err)
			}
			return
		}
		if back := AppendPacket(nil, typ, data); !bytes.Equal(back, b) {
			t.Fatalf("ParsePacket(%q) = %v, %q; AppendPacket gives %q", b, typ, data, back)
		}
	})
}

func FuzzDecodeSIO(f *testing.F) {
	for _, p := range seedSIO(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeSIO(b)
		if err != nil {
			return
		}
		if len(p.Namespace) == 0 || p.Namespace[0] != '/' || bytes.IndexByte(p.Namespace, ',') >= 0 {
			t.Fatalf("DecodeSIO(%q): namespace %q", b, p.Namespace)
		}
		if p.ID < NoAckID || p.ID > MaxAckID {
			t.Fatalf("DecodeSIO(%q): id %d", b, p.ID)
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("DecodeSIO(%q): data %q is not JSON", b, p.Data)
		}
		if (p.Attachments > 0) != p.Type.IsBinary() || p.Attachments > MaxAttachments {
			t.Fatalf("DecodeSIO(%q): %v with %d attachments", b, p.Type, p.Attachments)
		}
		if p.Type == SIOEvent || p.Type == SIOBinaryEvent {
			name, err := EventName(p.Data)
			if err != nil || IsReservedEvent(name) && p.Data[1] == '"' {
				t.Fatalf("DecodeSIO(%q) accepted event name %q, %v", b, name, err)
			}
		}
		enc := AppendSIO(nil, p)
		q, err := DecodeSIO(enc)
		if err != nil {
			t.Fatalf("DecodeSIO(%q) = %+v; AppendSIO gives %q, which fails: %v", b, p, enc, err)
		}
		if !sameSIO(p, q) {
			t.Fatalf("DecodeSIO(%q) = %+v\nAppendSIO = %q\ndecodes to %+v", b, p, enc, q)
		}
		if again := AppendSIO(nil, q); !bytes.Equal(again, enc) {
			t.Fatalf("AppendSIO is not stable: %q then %q", enc, again)
		}
	})
}

func sameSIO(p, q SIOPacket) bool {
	return p.Type == q.Type && bytes.Equal(p.Namespace, q.Namespace) && p.ID == q.ID &&
		p.Attachments == q.Attachments && bytes.Equal(p.Data, q.Data) && (p.Data == nil) == (q.Data == nil)
}

func FuzzPayload(f *testing.F) {
	for _, p := range seedPackets(f) {
		f.Add(p)
	}
	f.Add([]byte("\x1e\x1e"))
	f.Add([]byte("bAQIDBA==\x1eb\x1eb=\x1eb\r\nAQ=="))
	f.Fuzz(func(t *testing.T, body []byte) {
		var recs [][]byte
		trailing := false
		for rest := body; ; {
			rec, next, ok := NextRecord(rest)
			if !ok {
				trailing = len(body) > 0
				break
			}
			if bytes.IndexByte(rec, RecordSeparator) >= 0 {
				t.Fatalf("record %q holds a separator", rec)
			}
			recs = append(recs, rec)
			if IsBase64Message(rec) {
				bin, err := DecodeBase64Message(nil, rec)
				if err == nil {
					// Re-encoding is canonical: it decodes to the same bytes.
					enc := AppendBase64Message(nil, bin)
					if again, err := DecodeBase64Message(nil, enc); err != nil || !bytes.Equal(again, bin) {
						t.Fatalf("%q: decoded %x, re-encoded %q, decoded again %x, %v", rec, bin, enc, again, err)
					}
				}
			} else {
				ParsePacket(rec)
			}
			if next == nil {
				break
			}
			rest = next
		}
		// Joining the records gives the body back.
		var joined []byte
		for i, r := range recs {
			if i > 0 {
				joined = append(joined, RecordSeparator)
			}
			joined = append(joined, r...)
		}
		if trailing {
			joined = append(joined, RecordSeparator)
		}
		if !bytes.Equal(joined, body) {
			t.Fatalf("records %q do not rebuild %q", recs, body)
		}
		// Any bytes survive the polling binary form.
		if bin, err := DecodeBase64Message(nil, AppendBase64Message(nil, body)); err != nil || !bytes.Equal(bin, body) {
			t.Fatalf("base64 round trip of %x: %x, %v", body, bin, err)
		}
	})
}

func FuzzParseFrameHeader(f *testing.F) {
	for _, c := range headerCases {
		f.Add(c.in)
	}
	for _, fx := range loadFixtures(f) {
		if !fx.isPoll() && fx.payload != nil {
			f.Add(AppendFrame(nil, ws.OpText, fx.payload))
		}
	}
	f.Add(bits("c1 05"))
	f.Add(bits("82 7f 80 00 00 00 00 00 00 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseFrameHeader(b)
		if n < 0 || n > len(b) || n > ws.MaxHeaderSize {
			t.Fatalf("ParseFrameHeader(% x): n = %d", b, n)
		}
		if err != nil || n == 0 {
			if n != 0 || h != (ws.Header{}) {
				t.Fatalf("ParseFrameHeader(% x) = %+v, %d, %v", b, h, n, err)
			}
			if err == nil {
				// "Need more" only while the header is incomplete.
				if wh, werr := ws.ReadHeader(bytes.NewReader(b)); werr == nil && len(b) >= ws.HeaderSize(wh) {
					t.Fatalf("ParseFrameHeader(% x) wants more, ws.ReadHeader reads %+v", b, wh)
				}
			}
			return
		}
		// Agrees with gobwas/ws, and passes its server-side checks (bar masking).
		wh, werr := ws.ReadHeader(bytes.NewReader(b))
		if werr != nil || wh != h || n != encodedHeaderSize(b) {
			t.Fatalf("ParseFrameHeader(% x) = %+v, %d; ws.ReadHeader = %+v, %v", b, h, n, wh, werr)
		}
		if cerr := ws.CheckHeader(h, ws.StateServerSide|ws.StateFragmented); cerr != nil && cerr != ws.ErrProtocolMaskRequired &&
			cerr != ws.ErrProtocolContinuationExpected && cerr != ws.ErrProtocolContinuationUnexpected {
			t.Fatalf("ParseFrameHeader(% x) accepted %+v; ws.CheckHeader: %v", b, h, cerr)
		}
		// An unmasked header of minimal length encoding is what PutFrameHeader writes.
		if !h.Masked && h.Fin && n == FrameHeaderSize(int(h.Length)) && h.Length <= 1<<40 {
			dst := make([]byte, MaxServerHeaderSize)
			if m := PutFrameHeader(dst, h.OpCode, int(h.Length)); !bytes.Equal(dst[:m], b[:n]) {
				t.Fatalf("PutFrameHeader(%v, %d) = % x, parsed from % x", h.OpCode, h.Length, dst[:m], b[:n])
			}
		}
	})
}

// encodedHeaderSize is the size of the frame header at the start of b, from
// its length marker and mask bit (ws.HeaderSize assumes the shortest encoding).
func encodedHeaderSize(b []byte) int {
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

func FuzzEventName(f *testing.F) {
	for _, p := range seedSIO(f) {
		if i := bytes.IndexAny(p, `[{"`); i >= 0 {
			f.Add(p[i:])
		}
	}
	f.Add([]byte(`["\ud83d\ude00","\ud83d",1]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var elems [][]byte
		err := ArrayElements(data, func(i int, elem []byte) bool {
			if i != len(elems) {
				t.Fatalf("index %d after %d elements", i, len(elems))
			}
			elems = append(elems, elem)
			return true
		})
		name, nerr := EventName(data)
		if err != nil {
			if json.Valid(data) && data[skipSpace(data, 0)] == '[' {
				t.Fatalf("ArrayElements(%q): %v", data, err)
			}
			if nerr == nil {
				t.Fatalf("EventName(%q) = %q on a non-array", data, name)
			}
			return
		}
		// The elements, joined again, are the same JSON value.
		var want, got []any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("ArrayElements accepted %q: %v", data, err)
		}
		if err := json.Unmarshal([]byte("["+string(bytes.Join(elems, []byte(",")))+"]"), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("ArrayElements(%q) = %q (%v)", data, elems, err)
		}
		if len(elems) == 0 {
			if nerr == nil {
				t.Fatalf("EventName(%q) = %q for an empty array", data, name)
			}
			return
		}
		switch first := want[0].(type) {
		case string:
			if nerr != nil || name != first {
				t.Fatalf("EventName(%q) = %q, %v; encoding/json says %q", data, name, nerr, first)
			}
			raw := elems[0]
			if isReservedRaw(raw) != IsReservedEvent(first) {
				t.Fatalf("isReservedRaw(%s) disagrees with IsReservedEvent(%q)", raw, first)
			}
		case float64:
			if nerr != nil || name != string(elems[0]) {
				t.Fatalf("EventName(%q) = %q, %v; want the literal %s", data, name, nerr, elems[0])
			}
		default:
			if nerr == nil {
				t.Fatalf("EventName(%q) = %q for a %T", data, name, first)
			}
		}
	})
}

func FuzzValidJSON(f *testing.F) {
	for _, p := range seedSIO(f) {
		f.Add(p)
		if len(p) > 1 {
			f.Add(p[1:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := ValidJSON(b), json.Valid(b); got != want {
			t.Fatalf("ValidJSON(%q) = %v, encoding/json.Valid says %v", b, got, want)
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "RBYLSNyHx6hS08fcAAAA", "a\"b\\c\n\x00\x1e", "<&>\u2028", "héllo ✓ 😀", "a\xffb\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendJSONString(%q) = %s: %v", s, out, err)
		}
		// Valid UTF-8 comes back as it was; each invalid byte as U+FFFD.
		var want strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r)
			i += size
		}
		if back != want.String() {
			t.Fatalf("AppendJSONString(%q) = %s, decodes to %q", s, out, back)
		}
		// Only what JSON.stringify escapes is escaped.
		if n := bytes.Count(out, []byte{'\\'}); utf8.ValidString(s) && n != expectedEscapes(s) {
			t.Fatalf("AppendJSONString(%q) = %s: %d escapes, want %d", s, out, n, expectedEscapes(s))
		}
	})
}

// expectedEscapes counts the backslashes JSON.stringify writes for s: one
// per escape, two for a backslash itself.
func expectedEscapes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			n += 2
		case c < ' ' || c == '"':
			n++
		}
	}
	return n
}

package eio

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// bits decodes a frame written as hex with spaces, like gobwas/ws's tables.
func bits(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

var headerCases = []struct {
	label string
	in    []byte // the header, then maybe some payload
	h     ws.Header
	n     int
}{
	{"text, 7-bit length 0", bits("81 00"), ws.Header{Fin: true, OpCode: ws.OpText}, 2},
	{"text, 7-bit length 6, a §1 3probe", bits("81 06 33 70 72 6f 62 65"), ws.Header{Fin: true, OpCode: ws.OpText, Length: 6}, 2},
	{"text, 7-bit length 125", bits("81 7d"), ws.Header{Fin: true, OpCode: ws.OpText, Length: 125}, 2},
	{"masked text, 7-bit length 6, a §1 2probe", bits("81 86 37 fa 21 3d 05 8a 53 52 55 9f"),
		ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: [4]byte{0x37, 0xfa, 0x21, 0x3d}, Length: 6}, 6},
	{"text, 16-bit length 126", bits("81 7e 00 7e"), ws.Header{Fin: true, OpCode: ws.OpText, Length: 126}, 4},
	{"text, 16-bit length 65535", bits("81 7e ff ff"), ws.Header{Fin: true, OpCode: ws.OpText, Length: 65535}, 4},
	{"masked binary, 16-bit length 300", bits("82 fe 01 2c 01 02 03 04"),
		ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 300}, 8},
	{"text, 64-bit length 65536", bits("81 7f 00 00 00 00 00 01 00 00"), ws.Header{Fin: true, OpCode: ws.OpText, Length: 65536}, 10},
	{"masked text, 64-bit length 1000002 (e §14)", bits("81 ff 00 00 00 00 00 0f 42 42 aa bb cc dd"),
		ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: [4]byte{0xaa, 0xbb, 0xcc, 0xdd}, Length: 1000002}, 14},
	{"text, largest 64-bit length", bits("81 7f 7f ff ff ff ff ff ff ff"), ws.Header{Fin: true, OpCode: ws.OpText, Length: 1<<63 - 1}, 10},
	{"text, not final", bits("01 03"), ws.Header{OpCode: ws.OpText, Length: 3}, 2},
	{"continuation, final", bits("80 03"), ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 3}, 2},
	{"close, empty (a §4)", bits("88 00"), ws.Header{Fin: true, OpCode: ws.OpClose}, 2},
	{"masked close, empty (a §4)", bits("88 80 01 02 03 04"), ws.Header{Fin: true, OpCode: ws.OpClose, Masked: true, Mask: [4]byte{1, 2, 3, 4}}, 6},
	{"close 1009 (e §14)", bits("88 02 03 f1"), ws.Header{Fin: true, OpCode: ws.OpClose, Length: 2}, 2},
	{"ping 125", bits("89 7d"), ws.Header{Fin: true, OpCode: ws.OpPing, Length: 125}, 2},
	{"pong", bits("8a 00"), ws.Header{Fin: true, OpCode: ws.OpPong}, 2},
	{"16-bit length that fits 7 bits (accepted)", bits("81 7e 00 05"), ws.Header{Fin: true, OpCode: ws.OpText, Length: 5}, 4},
}

func TestParseFrameHeader(t *testing.T) {
	for _, tt := range headerCases {
		h, n, err := ParseFrameHeader(tt.in)
		if err != nil || n != tt.n || h != tt.h {
			t.Errorf("%s: ParseFrameHeader(% x) = %+v, %d, %v; want %+v, %d", tt.label, tt.in, h, n, err, tt.h, tt.n)
		}
		// gobwas/ws agrees.
		wh, err := ws.ReadHeader(bytes.NewReader(tt.in))
		if err != nil || wh != tt.h {
			t.Errorf("%s: ws.ReadHeader = %+v, %v", tt.label, wh, err)
		}
	}
}

// TestParseFrameHeaderSplit cuts every header at every byte: a prefix is
// "need more" (0, nil), never an error or a short header.
func TestParseFrameHeaderSplit(t *testing.T) {
	for _, tt := range headerCases {
		for i := 0; i < tt.n; i++ {
			h, n, err := ParseFrameHeader(tt.in[:i])
			if n != 0 || err != nil || h != (ws.Header{}) {
				t.Errorf("%s: prefix of %d bytes: %+v, %d, %v; want need-more", tt.label, i, h, n, err)
			}
		}
		// Bytes after the header do not change it.
		long := append(bytes.Clone(tt.in[:tt.n]), bytes.Repeat([]byte{0xff}, 20)...)
		if h, n, err := ParseFrameHeader(long); h != tt.h || n != tt.n || err != nil {
			t.Errorf("%s: with trailing bytes: %+v, %d, %v", tt.label, h, n, err)
		}
	}
}

// TestParseFrameHeaderByteAtATime feeds a stream of frames one byte at a
// time, as a slow peer would, and finds every header and payload.
func TestParseFrameHeaderByteAtATime(t *testing.T) {
	payloads := []string{"2probe", "5", strings.Repeat("x", 200), strings.Repeat("y", 70000), ""}
	mask := [4]byte{9, 8, 7, 6}
	var stream []byte
	for _, p := range payloads {
		var buf bytes.Buffer
		ws.WriteHeader(&buf, ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: mask, Length: int64(len(p))})
		body := []byte(p)
		ws.Cipher(body, mask, 0)
		stream = append(append(stream, buf.Bytes()...), body...)
	}
	var got []string
	var pending []byte
	for i := 0; i < len(stream); {
		pending = append(pending, stream[i])
		i++
		h, n, err := ParseFrameHeader(pending)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		end := n + int(h.Length)
		for len(pending) < end { // the payload, also byte by byte
			pending = append(pending, stream[i])
			i++
		}
		body := pending[n:end]
		Unmask(body, h.Mask)
		got = append(got, string(body))
		pending = pending[:0]
	}
	if len(got) != len(payloads) {
		t.Fatalf("got %d frames, want %d", len(got), len(payloads))
	}
	for i := range payloads {
		if got[i] != payloads[i] {
			t.Errorf("frame %d: %d bytes, want %d", i, len(got[i]), len(payloads[i]))
		}
	}
}

func TestParseFrameHeaderErrors(t *testing.T) {
	for _, tt := range []struct {
		label string
		in    []byte
		err   error
	}{
		{"RSV1 (permessage-deflate was not negotiated)", bits("c1 05"), ErrFrameRsv},
		{"RSV2", bits("a1 05"), ErrFrameRsv},
		{"RSV3", bits("91 05"), ErrFrameRsv},
		{"RSV1, one byte is enough to tell", bits("c1"), ErrFrameRsv},
		{"opcode 3", bits("83 00"), ErrFrameOpCode},
		{"opcode 7", bits("87 00"), ErrFrameOpCode},
		{"opcode 0xB", bits("8b 00"), ErrFrameOpCode},
		{"opcode 0xF, one byte", bits("8f"), ErrFrameOpCode},
		{"ping without FIN", bits("09 00"), ErrFrameControlFragmented},
		{"close without FIN, one byte", bits("08"), ErrFrameControlFragmented},
		{"ping with 126 bytes", bits("89 7e 00 7e"), ErrFrameControlLength},
		{"close with a 16-bit length", bits("88 7e"), ErrFrameControlLength},
		{"pong with a 64-bit length", bits("8a ff"), ErrFrameControlLength},
		{"64-bit length with the high bit", bits("82 7f 80 00 00 00 00 00 00 00"), ErrFrameLength},
		{"64-bit length all ones, masked", bits("82 ff ff ff ff ff ff ff ff ff 01 02 03 04"), ErrFrameLength},
	} {
		h, n, err := ParseFrameHeader(tt.in)
		if err != tt.err || n != 0 || h != (ws.Header{}) {
			t.Errorf("%s: ParseFrameHeader(% x) = %+v, %d, %v; want %v", tt.label, tt.in, h, n, err, tt.err)
		}
	}
}

func TestFrameHeaderSize(t *testing.T) {
	for _, tt := range []struct{ n, size int }{
		{0, 2}, {1, 2}, {125, 2}, {126, 4}, {65535, 4}, {65536, 10}, {1 << 30, 10},
	} {
		if got := FrameHeaderSize(tt.n); got != tt.size {
			t.Errorf("FrameHeaderSize(%d) = %d, want %d", tt.n, got, tt.size)
		}
		if want := ws.HeaderSize(ws.Header{Length: int64(tt.n)}); want != tt.size {
			t.Errorf("ws.HeaderSize(%d) = %d, want %d", tt.n, want, tt.size)
		}
	}
}

// TestPutFrameHeader compares PutFrameHeader with gobwas/ws's WriteHeader at
// every length boundary.
func TestPutFrameHeader(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1000002, 1 << 40} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary, ws.OpClose} {
			dst := bytes.Repeat([]byte{0xee}, MaxServerHeaderSize+2)
			size := PutFrameHeader(dst, op, n)
			if size != FrameHeaderSize(n) {
				t.Errorf("PutFrameHeader(%v, %d) = %d, want %d", op, n, size, FrameHeaderSize(n))
			}
			var want bytes.Buffer
			ws.WriteHeader(&want, ws.Header{Fin: true, OpCode: op, Length: int64(n)})
			if !bytes.Equal(dst[:size], want.Bytes()) {
				t.Errorf("PutFrameHeader(%v, %d) wrote % x, ws.WriteHeader % x", op, n, dst[:size], want.Bytes())
			}
			if dst[size] != 0xee {
				t.Errorf("PutFrameHeader(%v, %d) wrote past its size", op, n)
			}
		}
	}
}

func TestAppendFrame(t *testing.T) {
	for _, tt := range []struct {
		label   string
		op      ws.OpCode
		payload []byte
		want    []byte
	}{
		{"b §5 ping", ws.OpText, []byte("2"), bits("81 01 32")},
		{"a §1 3probe", ws.OpText, []byte("3probe"), bits("81 06 33 70 72 6f 62 65")},
		{"i §1 attachment", ws.OpBinary, []byte{1, 2, 3, 4}, bits("82 04 01 02 03 04")},
		{"empty text", ws.OpText, nil, bits("81 00")},
	} {
		if got := AppendFrame([]byte{0xaa}, tt.op, tt.payload); !bytes.Equal(got, append([]byte{0xaa}, tt.want...)) {
			t.Errorf("%s: AppendFrame = % x, want aa % x", tt.label, got, tt.want)
		}
	}
	for _, n := range []int{125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{'x'}, n)
		frame := AppendFrame(nil, ws.OpText, payload)
		h, hn, err := ParseFrameHeader(frame)
		if err != nil || h.Length != int64(n) || !bytes.Equal(frame[hn:], payload) {
			t.Errorf("AppendFrame of %d bytes: %+v, %d, %v", n, h, hn, err)
		}
		var want bytes.Buffer
		ws.WriteFrame(&want, ws.NewTextFrame(payload))
		if !bytes.Equal(frame, want.Bytes()) {
			t.Errorf("AppendFrame of %d bytes differs from ws.WriteFrame", n)
		}
	}
}

func TestAppendCloseFrame(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes, two per rune
	for _, tt := range []struct {
		label  string
		code   ws.StatusCode
		reason string
		want   []byte
	}{
		{"socket.io's empty close (a §4, b §6)", 0, "", bits("88 00")},
		{"code 0 drops the reason", 0, "ignored", bits("88 00")},
		{"1009 (e §14)", ws.StatusMessageTooBig, "", bits("88 02 03 f1")},
		{"1000 with a reason", ws.StatusNormalClosure, "bye", bits("88 05 03 e8 62 79 65")},
		{"reason cut to 123 bytes on a rune boundary", ws.StatusGoingAway, long,
			append(bits("88 7c 03 e9"), long[:122]...)},
		{"ASCII reason cut to exactly 123 bytes", ws.StatusGoingAway, strings.Repeat("a", 200),
			append(bits("88 7d 03 e9"), strings.Repeat("a", 123)...)},
	} {
		got := AppendCloseFrame([]byte{0xaa}, tt.code, tt.reason)
		if !bytes.Equal(got, append([]byte{0xaa}, tt.want...)) {
			t.Errorf("%s: AppendCloseFrame = % x\nwant aa % x", tt.label, got, tt.want)
		}
		h, n, err := ParseFrameHeader(got[1:])
		if err != nil || h.OpCode != ws.OpClose || int(h.Length) != len(got)-1-n {
			t.Errorf("%s: does not parse back: %+v, %v", tt.label, h, err)
		}
	}
}

func TestUnmask(t *testing.T) {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, n := range []int{0, 1, 3, 4, 5, 15, 16, 17, 100, 1000} {
		plain := bytes.Repeat([]byte("42[\"notification\"]"), n/18+1)[:n]
		masked := bytes.Clone(plain)
		for i := range masked {
			masked[i] ^= mask[i%4]
		}
		Unmask(masked, mask)
		if !bytes.Equal(masked, plain) {
			t.Errorf("Unmask of %d bytes: %q", n, masked)
		}
	}
}

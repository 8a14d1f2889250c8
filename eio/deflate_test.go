package eio

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// Notification packets as the bridge builds them, shaped like the
// notify-worker's (notify-wss publish): a TIP and a FOLLOW.
var (
	tipPacket    = []byte(`42["notification",{"data":{"amount":5,"currency":"USD","fromDisplayName":"Alice Martin","fromUserId":"1042","message":"Great stream, keep it up!","tipId":"tip_8f3a2c91"},"id":"9f86d081884c7d65","message":"Alice Martin tipped you $5.00","timestamp":"2026-11-25T21:23:18.000Z","type":"TIP","userId":"42"}]`)
	followPacket = []byte(`42["notification",{"data":{"followerAvatarUrl":"https://cdn.example.com/avatars/1042.png","followerDisplayName":"Alice Martin","followerId":"1042"},"id":"2c26b46b68ffc68f","message":"Alice Martin started following you","timestamp":"2026-11-25T21:23:18.000Z","type":"FOLLOW","userId":"42"}]`)
)

// inflateOracle inflates a permessage-deflate frame's payload with gobwas'
// wsflate reader over the standard library's inflater: an implementation
// of RFC 7692 §7.2.2 independent of Inflate.
func inflateOracle(t *testing.T, payload []byte) []byte {
	t.Helper()
	r := wsflate.NewReader(bytes.NewReader(payload), func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("oracle inflate: %v", err)
	}
	return out
}

// deflateOracle compresses a message as a permessage-deflate sender
// (gobwas' wsflate writer over the standard library's compressor).
func deflateOracle(t testing.TB, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := wsflate.NewWriter(&buf, func(w io.Writer) wsflate.Compressor {
		fw, _ := flate.NewWriter(w, flate.DefaultCompression)
		return fw
	})
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendDeflatedFrame(t *testing.T) {
	big := []byte(`42["notification",{"blob":"` + strings.Repeat("abcdefgh", 20000) + `"}]`) // 64-bit length when plain
	for _, tt := range []struct {
		label   string
		payload []byte
		ok      bool
	}{
		{"TIP", tipPacket, true},
		{"FOLLOW", followPacket, true},
		{"tiny: compressing does not pay", []byte(`42["notification",{}]`), false},
		{"empty", nil, false},
		{"large, 16-bit length compressed", big, true},
	} {
		prefix := []byte("xyz")
		frame, ok := AppendDeflatedFrame(prefix, ws.OpText, tt.payload)
		if ok != tt.ok {
			t.Errorf("%s: ok = %v, want %v", tt.label, ok, tt.ok)
		}
		if !bytes.HasPrefix(frame, []byte("xyz")) {
			t.Fatalf("%s: prefix lost: % x", tt.label, frame[:min(len(frame), 8)])
		}
		if !ok {
			if len(frame) != 3 {
				t.Errorf("%s: not ok but appended %d bytes", tt.label, len(frame)-3)
			}
			continue
		}
		frame = frame[3:]
		h, hn, err := ParseDeflateFrameHeader(frame)
		if err != nil || hn == 0 {
			t.Fatalf("%s: header: %v", tt.label, err)
		}
		if !h.Fin || !h.Rsv1() || h.OpCode != ws.OpText || h.Masked || int(h.Length) != len(frame)-hn {
			t.Errorf("%s: header %+v (frame %d bytes, header %d)", tt.label, h, len(frame), hn)
		}
		if len(frame) >= FrameHeaderSize(len(tt.payload))+len(tt.payload) {
			t.Errorf("%s: compressed frame %d bytes, not smaller than plain", tt.label, len(frame))
		}
		if got := inflateOracle(t, frame[hn:]); !bytes.Equal(got, tt.payload) {
			t.Errorf("%s: oracle inflates to %q", tt.label, got[:min(len(got), 80)])
		}
		got, err := Inflate(nil, frame[hn:], len(tt.payload))
		if err != nil || !bytes.Equal(got, tt.payload) {
			t.Errorf("%s: Inflate = %d bytes, %v", tt.label, len(got), err)
		}
		t.Logf("%s: %d → %d bytes on the wire", tt.label, FrameHeaderSize(len(tt.payload))+len(tt.payload), len(frame))
	}
}

// The same packet always compresses to the same bytes: what lets one
// frame serve every member.
func TestAppendDeflatedFrameDeterministic(t *testing.T) {
	a, _ := AppendDeflatedFrame(nil, ws.OpText, tipPacket)
	_, _ = AppendDeflatedFrame(nil, ws.OpText, followPacket) // the pooled compressor has seen something else
	b, _ := AppendDeflatedFrame(nil, ws.OpText, tipPacket)
	if !bytes.Equal(a, b) {
		t.Errorf("two compressions differ:\n% x\n% x", a, b)
	}
}

func TestAppendDeflatedFrameAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	AppendDeflatedFrame(dst, ws.OpText, tipPacket) // warm the pool
	if n := testing.AllocsPerRun(100, func() { AppendDeflatedFrame(dst, ws.OpText, tipPacket) }); n != 0 && !raceEnabled {
		t.Errorf("AppendDeflatedFrame allocates %v times", n)
	}
}

func TestInflate(t *testing.T) {
	msg := []byte(strings.Repeat("hello deflate ", 1000)) // 14,000 bytes
	z := deflateOracle(t, msg)
	stored := bits("01 03 00 fc ff 61 62 63") // a final stored block, "abc" (BFINAL set by the sender: allowed)
	for _, tt := range []struct {
		label string
		in    []byte
		limit int
		want  []byte
		err   error
	}{
		{"a client's message", z, len(msg), msg, nil},
		{"one byte over the limit", z, len(msg) - 1, nil, ErrInflateTooLarge},
		{"limit 0", z, 0, nil, ErrInflateTooLarge},
		{"final stored block", stored, 3, []byte("abc"), nil},
		{"empty message", deflateOracle(t, nil), 10, []byte{}, nil},
		{"empty input", nil, 10, []byte{}, nil},
		{"truncated", z[:len(z)/2], len(msg), nil, ErrInflateData},
		{"reserved block type 3", bits("07 00"), 10, nil, ErrInflateData},
		{"garbage", []byte("not deflate at all"), 100, nil, ErrInflateData},
	} {
		got, err := Inflate([]byte("pre"), tt.in, tt.limit)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.label, err, tt.err)
			continue
		}
		if !bytes.HasPrefix(got, []byte("pre")) {
			t.Errorf("%s: dst's bytes lost", tt.label)
		}
		if tt.err == nil && !bytes.Equal(got[3:], tt.want) {
			t.Errorf("%s: got %d bytes %q", tt.label, len(got)-3, got[3:min(len(got), 40)])
		}
		if tt.err != nil && len(got) != 3 {
			t.Errorf("%s: error but %d bytes appended", tt.label, len(got)-3)
		}
	}
}

// A small message that inflates to a large one (a "zip bomb") stops at the
// limit: Inflate never holds much more than limit bytes.
func TestInflateBomb(t *testing.T) {
	z := deflateOracle(t, make([]byte, 50<<20)) // 50 MiB of zeros: ~50 KiB compressed
	got, err := Inflate(nil, z, 1_000_000)
	if !errors.Is(err, ErrInflateTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if cap(got) > 2_000_000 {
		t.Errorf("Inflate grew its buffer to %d bytes for a limit of 1,000,000", cap(got))
	}
}

func TestParseDeflateFrameHeader(t *testing.T) {
	for _, tt := range []struct {
		label string
		in    []byte
		rsv1  bool
		err   error
	}{
		{"compressed text", bits("c1 85 00 00 00 00"), true, nil},
		{"compressed binary", bits("c2 85 00 00 00 00"), true, nil},
		{"compressed first fragment", bits("41 85 00 00 00 00"), true, nil},
		{"plain text", bits("81 85 00 00 00 00"), false, nil},
		{"RSV1 on a continuation", bits("c0 85 00 00 00 00"), false, ErrFrameRsv},
		{"RSV1 on a ping", bits("c9 80 00 00 00 00"), false, ErrFrameRsv},
		{"RSV1 on a close", bits("c8 80 00 00 00 00"), false, ErrFrameRsv},
		{"RSV2", bits("a1 85 00 00 00 00"), false, ErrFrameRsv},
		{"RSV1 and RSV3", bits("d1 85 00 00 00 00"), false, ErrFrameRsv},
		{"RSV1 on a reserved opcode", bits("c3 80 00 00 00 00"), false, ErrFrameRsv},
	} {
		h, n, err := ParseDeflateFrameHeader(tt.in)
		if err != tt.err {
			t.Errorf("%s: err = %v, want %v", tt.label, err, tt.err)
			continue
		}
		if err == nil && (n != 6 || h.Rsv1() != tt.rsv1 || h.Length != 5) {
			t.Errorf("%s: %+v, %d", tt.label, h, n)
		}
	}
	// Without the extension, RSV1 stays an error.
	if _, _, err := ParseFrameHeader(bits("c1 85 00 00 00 00")); err != ErrFrameRsv {
		t.Errorf("ParseFrameHeader accepts RSV1: %v", err)
	}
}

func TestAcceptDeflate(t *testing.T) {
	for _, tt := range []struct {
		label  string
		fields []string
		want   bool
	}{
		{"none", nil, false},
		{"Chrome", []string{"permessage-deflate; client_max_window_bits"}, true},
		{"Firefox", []string{"permessage-deflate"}, true},
		{"Node ws", []string{"permessage-deflate; client_max_window_bits"}, true},
		{"Safari", []string{"permessage-deflate; client_max_window_bits=15"}, true},
		{"both no_context_takeover", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, true},
		{"quoted value", []string{`permessage-deflate; client_max_window_bits="10"`}, true},
		{"server_max_window_bits=15", []string{"permessage-deflate; server_max_window_bits=15"}, true},
		{"server_max_window_bits=10: declined", []string{"permessage-deflate; server_max_window_bits=10"}, false},
		{"second offer acceptable", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"}, true},
		{"second field", []string{"x-webkit-deflate-frame", "permessage-deflate"}, true},
		{"other extension only", []string{"x-webkit-deflate-frame"}, false},
		{"unknown parameter", []string{"permessage-deflate; foo=1"}, false},
		{"repeated parameter", []string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, false},
		{"window bits out of range", []string{"permessage-deflate; client_max_window_bits=16"}, false},
		{"window bits not a number", []string{"permessage-deflate; client_max_window_bits=x"}, false},
		{"server_max_window_bits without value", []string{"permessage-deflate; server_max_window_bits"}, false},
		{"malformed field", []string{"permessage-deflate;;=,"}, false},
		{"case matters", []string{"PerMessage-Deflate"}, false},
	} {
		var fields [][]byte
		for _, f := range tt.fields {
			fields = append(fields, []byte(f))
		}
		if got := AcceptDeflate(fields...); got != tt.want {
			t.Errorf("%s: AcceptDeflate(%q) = %v, want %v", tt.label, tt.fields, got, tt.want)
		}
	}
}

// FuzzInflate feeds Inflate arbitrary bytes: it must never panic, never
// return more than the limit, and give back what a compressor made of the
// input.
func FuzzInflate(f *testing.F) {
	f.Add([]byte(nil), uint16(100))
	f.Add(deflateOracle(f, tipPacket), uint16(len(tipPacket)))
	f.Add(deflateOracle(f, []byte(strings.Repeat("a", 5000))), uint16(4999))
	f.Add(bits("01 03 00 fc ff 61 62 63"), uint16(3))
	f.Add(bits("07 00"), uint16(10))
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		out, err := Inflate(nil, in, int(limit))
		if len(out) > int(limit) {
			t.Fatalf("%d bytes out for a limit of %d", len(out), limit)
		}
		if err != nil && !errors.Is(err, ErrInflateData) && !errors.Is(err, ErrInflateTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
		// Round trip: the input, compressed as a server frame, inflates
		// back to itself.
		frame, ok := AppendDeflatedFrame(nil, ws.OpBinary, in)
		if !ok {
			return
		}
		h, hn, err := ParseDeflateFrameHeader(frame)
		if err != nil || !h.Rsv1() {
			t.Fatalf("own frame: %+v %v", h, err)
		}
		back, err := Inflate(nil, frame[hn:], len(in))
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("round trip: %v, %d bytes back of %d", err, len(back), len(in))
		}
	})
}

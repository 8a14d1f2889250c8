package bridge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// parseFrame decodes a server frame header by hand (RFC 6455 §5.2) and
// checks the invariants every frame must meet: FIN, text opcode, no RSV
// bits, unmasked, and a declared length equal to what follows the header.
// It returns the header length and the payload.
func parseFrame(t *testing.T, frame []byte) (hdr int, payload []byte) {
	t.Helper()
	if len(frame) < 2 {
		t.Fatalf("frame too short: %d bytes", len(frame))
	}
	fin, rsv, opcode := frame[0]&0x80 != 0, frame[0]&0x70, frame[0]&0x0f
	masked, len7 := frame[1]&0x80 != 0, int(frame[1]&0x7f)
	if !fin || rsv != 0 || opcode != 0x1 {
		t.Fatalf("first byte %#02x: want FIN, no RSV, opcode 1 (text)", frame[0])
	}
	if masked {
		t.Fatal("server frame is masked")
	}
	var n uint64
	switch len7 {
	case 126:
		hdr, n = 4, uint64(binary.BigEndian.Uint16(frame[2:4]))
		if n <= 125 {
			t.Fatalf("16-bit length %d should have used the 7-bit form", n)
		}
	case 127:
		hdr, n = 10, binary.BigEndian.Uint64(frame[2:10])
		if n <= 0xffff || n>>63 != 0 {
			t.Fatalf("64-bit length %d not minimal or MSB set", n)
		}
	default:
		hdr, n = 2, uint64(len7)
	}
	if n != uint64(len(frame)-hdr) {
		t.Fatalf("header declares %d payload bytes, frame carries %d", n, len(frame)-hdr)
	}

	// Cross-check with an independent decoder.
	h, err := ws.ReadHeader(bytes.NewReader(frame))
	if err != nil {
		t.Fatalf("gobwas ReadHeader: %v", err)
	}
	if !h.Fin || h.OpCode != ws.OpText || h.Masked || h.Length != int64(n) {
		t.Fatalf("gobwas header %+v disagrees", h)
	}
	return hdr, frame[hdr:]
}

// jsonString returns a JSON string literal of exactly n bytes (n ≥ 2).
func jsonString(n int) []byte {
	return []byte(`"` + strings.Repeat("a", n-2) + `"`)
}

func TestNewMessageFrameSizes(t *testing.T) {
	overhead := len(packetPrefix) + len(packetSuffix) // 19
	tests := []struct {
		packetLen int // frame payload length
		hdr       int
	}{
		{packetLen: overhead + 1, hdr: 2}, // smallest payload: one digit
		{packetLen: 124, hdr: 2},
		{packetLen: 125, hdr: 2},
		{packetLen: 126, hdr: 4},
		{packetLen: 127, hdr: 4},
		{packetLen: 65534, hdr: 4},
		{packetLen: 65535, hdr: 4},
		{packetLen: 65536, hdr: 10},
		{packetLen: 65537, hdr: 10},
	}
	for _, tt := range tests {
		var payload []byte
		if tt.packetLen == overhead+1 {
			payload = []byte("7")
		} else {
			payload = jsonString(tt.packetLen - overhead)
		}
		m, err := NewMessage("room", KindUser, payload)
		if err != nil {
			t.Fatalf("packet %d: %v", tt.packetLen, err)
		}
		hdr, packet := parseFrame(t, m.Frame())
		if hdr != tt.hdr {
			t.Errorf("packet %d: header %d bytes, want %d", tt.packetLen, hdr, tt.hdr)
		}
		if len(packet) != tt.packetLen {
			t.Errorf("packet %d: got %d bytes", tt.packetLen, len(packet))
		}
		want := packetPrefix + string(payload) + packetSuffix
		if string(packet) != want || string(m.Packet()) != want {
			t.Errorf("packet %d: packet bytes differ from prefix+payload+suffix", tt.packetLen)
		}
		if len(m.Frame()) != hdr+tt.packetLen {
			t.Errorf("packet %d: frame has trailing bytes", tt.packetLen)
		}
		m.Release()
	}
}

func TestNewMessageVerbatim(t *testing.T) {
	big := []byte(`{"items":[` + strings.Repeat(`{"id":12345,"text":"lorem ipsum dolor"},`, 2600) + `{}]}`)
	if len(big) < 100<<10 {
		t.Fatalf("fixture is %d bytes, want ≥ 100 KB", len(big))
	}
	tests := []struct {
		name    string
		payload string
	}{
		// Whitespace, key order, escapes and number spelling must survive:
		// re-encoding would change every one of them.
		{"object", `{"b":1, "a" : [true,null,1.0e2], "s":"x\"y\\u00e9\n"}`},
		{"unicode", `{"msg":"héllo 🌍 — 日本語","esc":"\u00e9\ud83c\udf0d"}`},
		{"scalar", `42`},
		{"string", `"just a string"`},
		{"padded", " \t\n{}\r\n "},
		{"100KB", string(big)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMessage("user-notifications:1", KindUser, []byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Release()
			_, packet := parseFrame(t, m.Frame())
			want := `42["notification",` + tt.payload + `]`
			if string(packet) != want {
				t.Fatalf("packet differs from 42[\"notification\",<payload>] (len %d vs %d)", len(packet), len(want))
			}
			if !bytes.Equal(m.Packet(), packet) {
				t.Fatal("Packet() differs from the frame payload")
			}
			if m.Room != "user-notifications:1" || m.Kind != KindUser || m.Received.IsZero() {
				t.Fatalf("fields: room %q kind %v received %v", m.Room, m.Kind, m.Received)
			}
		})
	}
}

func TestNewMessageInvalid(t *testing.T) {
	for _, payload := range []string{
		"",
		" ",
		"{",
		`{"a":}`,
		`{"a":1}x`,
		`{"a":1}{"b":2}`,
		"nul",
		"undefined",
		"'single'",
		"{\"a\":\"\xff\"}", // json.Valid accepts this; a text frame must not carry it
		"\"\xed\xa0\x80\"", // UTF-8-encoded surrogate
	} {
		m, err := NewMessage("r", KindGlobal, []byte(payload))
		if !errors.Is(err, ErrInvalidJSON) || m != nil {
			t.Errorf("NewMessage(%q) = %v, %v; want nil, ErrInvalidJSON", payload, m, err)
		}
	}
}

func TestMessageCopiesPayload(t *testing.T) {
	payload := []byte(`{"a":1}`)
	m, err := NewMessage("r", KindUser, payload)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	copy(payload, `{"b":2}`)
	if string(m.Packet()) != `42["notification",{"a":1}]` {
		t.Fatalf("message changed with the caller's slice: %s", m.Packet())
	}
}

func TestRetainRelease(t *testing.T) {
	before := OverReleases()
	m, err := NewMessage("r", KindUser, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	m.Retain(2) // 3 owners
	m.Retain(0) // no-op
	m.Retain(-5)
	m.Release()
	m.Release()
	if m.buf == nil {
		t.Fatal("buffer returned to the pool while one reference remains")
	}
	m.Release()
	if m.buf != nil || m.state.Load() != 0 {
		t.Fatalf("last Release did not free: buf %v refs %d", m.buf != nil, m.state.Load())
	}
	if OverReleases() != before {
		t.Fatal("over-release counted for balanced calls")
	}
	m.Release() // one too many: ignored and counted, refs stays 0
	if got := OverReleases() - before; got != 1 {
		t.Fatalf("OverReleases grew by %d, want 1", got)
	}
	if m.state.Load() != 0 {
		t.Fatalf("refs = %d after over-release, want 0", m.state.Load())
	}
}

// TestKeepOutlivesReferences: a keeper (the recovery history) holds the
// bytes past the last reference, OnWritten still runs at the last
// reference, and the bytes go back at the last Unkeep, whichever comes last.
func TestKeepOutlivesReferences(t *testing.T) {
	before := OverReleases()
	written := 0
	m, err := NewMessage("r", KindUser, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	m.onWritten = func(*Message) { written++ }
	m.Keep()
	m.Retain(1)
	m.MarkWritten()
	m.Release()
	m.Release()
	if written != 1 {
		t.Fatalf("OnWritten ran %d times at the last reference, want 1", written)
	}
	if m.buf == nil || string(m.Packet()) != `42["notification",{"a":1}]` {
		t.Fatal("kept bytes gone after the last reference")
	}
	m.Keep() // a replay of the kept message
	m.Unkeep()
	m.Unkeep()
	if m.buf != nil || m.state.Load() != 0 {
		t.Fatal("last Unkeep did not free")
	}
	if written != 1 {
		t.Fatalf("OnWritten ran %d times, want 1", written)
	}
	m.Unkeep()
	if got := OverReleases() - before; got != 1 {
		t.Fatalf("an Unkeep too many counted %d over-releases, want 1", got)
	}
}

// TestConcurrentRelease shares one message between readers on several
// goroutines, like the engine's loops: all see intact bytes, exactly one of
// them frees it, and the race detector sees no conflict.
func TestConcurrentRelease(t *testing.T) {
	const readers = 8
	before := OverReleases()
	for range 200 {
		m, err := NewMessage("r", KindChannel, []byte(`{"n":123456789}`))
		if err != nil {
			t.Fatal(err)
		}
		want := string(m.Frame())
		m.Retain(readers - 1)
		var wg sync.WaitGroup
		errs := make(chan string, readers)
		for range readers {
			wg.Go(func() {
				if string(m.Frame()) != want {
					errs <- "frame changed while referenced"
				}
				m.Release()
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
		if m.state.Load() != 0 {
			t.Fatalf("refs = %d after all releases", m.state.Load())
		}
	}
	if OverReleases() != before {
		t.Fatal("concurrent releases over-released")
	}
}

// TestNewMessageReleaseAllocs enforces what the benchmark reports: no
// allocation per message once the pools are warm. sync.Pool drops items at
// random under the race detector, so the check only runs without -race.
func TestNewMessageReleaseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool is deliberately lossy under -race")
	}
	payload := []byte(`{"id":"5f1c","type":"comment","text":"hello there","at":1732550400}`)
	allocs := testing.AllocsPerRun(1000, func() {
		m, err := NewMessage("user-notifications:42", KindUser, payload)
		if err != nil {
			t.Fatal(err)
		}
		m.Retain(3)
		for range 4 {
			m.Release()
		}
	})
	if allocs != 0 {
		t.Fatalf("NewMessage+Release allocate %.1f times per message, want 0", allocs)
	}
}

// BenchmarkNewMessageRelease measures building one frame and returning it,
// per payload size. Each size starts from a fresh framePool: bytebufferpool
// calibrates to the sizes it sees and drops buffers above its 95th
// percentile, so a pool trained on 64-byte payloads by the previous sub-run
// would (correctly) refuse to keep 64 KiB buffers and the numbers would mix
// two distributions. BenchmarkNewMessageReleaseMixed shows a mixed one.
func BenchmarkNewMessageRelease(b *testing.B) {
	for _, size := range []int{64, 512, 4096, 65536} {
		payload := jsonString(size)
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			framePool = bytebufferpool.Pool{}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				m, err := NewMessage("user-notifications:42", KindUser, payload)
				if err != nil {
					b.Fatal(err)
				}
				m.Release()
			}
		})
	}
}

// BenchmarkNewMessageReleaseMixed draws sizes from a skewed distribution
// (90% 200 B, 9% 2 KiB, 1% 32 KiB), closer to production traffic. Once the
// pool has calibrated (about 42000 calls), buffers above its 95th percentile
// are allocated and dropped instead of pooled, so expect a small non-zero
// B/op from the 1% tail, by design: one 32 KiB outlier must not pin 32 KiB in
// every pooled buffer.
func BenchmarkNewMessageReleaseMixed(b *testing.B) {
	var payloads [100][]byte
	for i := range payloads {
		switch {
		case i == 0:
			payloads[i] = jsonString(32 << 10)
		case i < 10:
			payloads[i] = jsonString(2 << 10)
		default:
			payloads[i] = jsonString(200)
		}
	}
	framePool = bytebufferpool.Pool{}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m, err := NewMessage("user-notifications:42", KindUser, payloads[i%len(payloads)])
		if err != nil {
			b.Fatal(err)
		}
		m.Release()
		i++
	}
}

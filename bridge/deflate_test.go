package bridge

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/notify-wss/notify-wss/engine"
)

var _ engine.Deflater = (*Message)(nil)

// largeTip is a notification large enough to be worth compressing.
var largeTip = []byte(`{"type":"TIP","message":"` + strings.Repeat("thanks for the great stream! ", 30) + `"}`)

// inflateFrame checks a compressed frame's header and inflates its
// payload with gobwas' wsflate reader (not eio's inflater).
func inflateFrame(t *testing.T, frame []byte) []byte {
	t.Helper()
	h, err := ws.ReadHeader(bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	hn := len(frame) - int(h.Length)
	if !h.Fin || !h.Rsv1() || h.Rsv2() || h.Rsv3() || h.OpCode != ws.OpText || h.Masked || hn < 2 {
		t.Fatalf("compressed frame header %+v", h)
	}
	r := wsflate.NewReader(bytes.NewReader(frame[hn:]), func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func TestDeflatedFrame(t *testing.T) {
	m, err := NewMessage("r", KindUser, largeTip)
	if err != nil {
		t.Fatal(err)
	}
	z := m.DeflatedFrame()
	if z == nil {
		t.Fatal("a large notification did not compress")
	}
	if len(z) >= len(m.Frame()) {
		t.Errorf("compressed %d bytes, plain %d", len(z), len(m.Frame()))
	}
	if got := inflateFrame(t, z); !bytes.Equal(got, m.Packet()) {
		t.Errorf("inflates to %q", got)
	}
	if z2 := m.DeflatedFrame(); &z2[0] != &z[0] {
		t.Error("a second call compressed again")
	}
	m.Release()

	tiny, _ := NewMessage("r", KindUser, []byte(`1`))
	if z := tiny.DeflatedFrame(); z != nil {
		t.Errorf("42[\"notification\",1] compressed to %d bytes", len(z))
	}
	tiny.Release()

	// A recycled Message compresses its new payload, not the old one's.
	other := []byte(`{"type":"FOLLOW","message":"` + strings.Repeat("someone followed you. ", 30) + `"}`)
	for range 3 {
		m, _ := NewMessage("r", KindUser, other)
		if got := inflateFrame(t, m.DeflatedFrame()); !bytes.Equal(got, m.Packet()) {
			t.Fatalf("recycled message inflates to %q", got[:40])
		}
		m.Release()
	}
}

// Loops ask at the same time: one compresses, all get the same bytes.
func TestDeflatedFrameConcurrent(t *testing.T) {
	m, _ := NewMessage("r", KindUser, largeTip)
	defer m.Release()
	const n = 8
	frames := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { frames[i] = m.DeflatedFrame() })
	}
	wg.Wait()
	for i := range frames {
		if &frames[i][0] != &frames[0][0] {
			t.Fatalf("goroutine %d got its own compressed frame", i)
		}
	}
}

func TestDeflatedFrameAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool is deliberately lossy under -race")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		m, _ := NewMessage("r", KindUser, largeTip)
		m.Retain(1)
		_ = m.DeflatedFrame()
		_ = m.DeflatedFrame()
		m.Release()
		m.Release()
	})
	if allocs != 0 {
		t.Fatalf("NewMessage+DeflatedFrame+Release allocate %.1f times per message, want 0", allocs)
	}
}

// BenchmarkDeflatedFrame measures compressing one notification, once per
// broadcast: the CPU compression adds to a broadcast, whatever its
// member count.
func BenchmarkDeflatedFrame(b *testing.B) {
	for _, bc := range []struct {
		name    string
		payload []byte
	}{
		{"TIP", seedTip},
		{"FOLLOW", seedFollow},
		{"1KiB", largeTip},
		{"16KiB", jsonString(16 << 10)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var plain, zipped int
			for b.Loop() {
				m, _ := NewMessage("r", KindUser, bc.payload)
				plain, zipped = len(m.Frame()), len(m.DeflatedFrame())
				m.Release()
			}
			b.ReportMetric(float64(plain), "plain-B")
			b.ReportMetric(float64(zipped), "deflated-B")
		})
	}
}

// The notify-worker's TIP and FOLLOW notifications (notify-wss publish's
// shape, with a realistic data field).
var (
	seedTip    = []byte(`{"data":{"amount":5,"currency":"USD","fromDisplayName":"Alice Martin","fromUserId":"1042","message":"Great stream, keep it up!","tipId":"tip_8f3a2c91"},"id":"9f86d081884c7d65","message":"Alice Martin tipped you $5.00","timestamp":"2026-11-25T21:23:18.000Z","type":"TIP","userId":"42"}`)
	seedFollow = []byte(`{"data":{"followerAvatarUrl":"https://cdn.example.com/avatars/1042.png","followerDisplayName":"Alice Martin","followerId":"1042"},"id":"2c26b46b68ffc68f","message":"Alice Martin started following you","timestamp":"2026-11-25T21:23:18.000Z","type":"FOLLOW","userId":"42"}`)
)

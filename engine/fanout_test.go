package engine

import (
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// discardConn stands in for a gnet connection that takes every write at
// once, so the fan-out path can be measured without the kernel.
type discardConn struct {
	gnet.Conn
	written int
}

func (d *discardConn) Write(p []byte) (int, error) { d.written += len(p); return len(p), nil }
func (d *discardConn) OutboundBuffered() int       { return 0 }
func (d *discardConn) Flush() error                { return nil }

// fanoutShard builds a shard with members in room "global".
func fanoutShard(members int) (*shard, []*discardConn) {
	srv := New(Config{}, &testHandler{})
	sh := newShard(srv, nil, 0)
	conns := make([]*discardConn, members)
	for i := range conns {
		conns[i] = &discardConn{}
		sock := &Socket{sess: &session{sh: sh}}
		sh.allocSlot(sock, &conn{gc: conns[i], sh: sh})
		sh.join("global", sock)
	}
	return sh, conns
}

// deliver pushes msgs through the loop's queue and drains it, as a
// broadcast from the bridge would.
func (sh *shard) deliverNow(msgs ...*testMessage) {
	sh.scheduled.Store(true) // no loop here: drain by hand
	for _, m := range msgs {
		m.Retain(1) // keep the test message alive across iterations
		sh.enqueue("global", m, nil, false)
	}
	for sh.scheduled.Load() {
		sh.drain()
		if sh.queue.len() > 0 {
			sh.scheduled.Store(true)
		}
	}
}

func TestFanoutWritesEveryMemberOnceAndAllocatesNothing(t *testing.T) {
	sh, conns := fanoutShard(1000)
	m := newTestMessage(`42["notification",{"type":"TIP","amount":5}]`)
	sh.deliverNow(m) // warm the scratch buffers
	for _, c := range conns {
		if c.written != len(m.frame) {
			t.Fatalf("member got %d bytes, want %d", c.written, len(m.frame))
		}
	}
	if allocs := testing.AllocsPerRun(50, func() { sh.deliverNow(m) }); allocs != 0 {
		t.Fatalf("one broadcast to 1000 members allocated %.1f times", allocs)
	}
	batch := []*testMessage{m, newTestMessage(`42["notification",2]`), newTestMessage(`42["notification",3]`)}
	sh.deliverNow(batch...)
	if allocs := testing.AllocsPerRun(50, func() { sh.deliverNow(batch...) }); allocs != 0 {
		t.Fatalf("a coalesced run allocated %.1f times", allocs)
	}
	// AllocsPerRun calls its function once more than asked, to warm up.
	if got := sh.counters.Deliveries.Load(); got != 1000*(1+51+3+3*51) {
		t.Fatalf("deliveries counted %d", got)
	}
}

// BenchmarkFanout measures the loop's side of one broadcast: walking the
// room and writing the frame to every member (kernel excluded).
func BenchmarkFanout(b *testing.B) {
	for _, bc := range []struct {
		name    string
		members int
		run     int
	}{
		{"1msg-1000members", 1000, 1},
		{"1msg-19000members", 19000, 1},
		{"8msg-coalesced-19000members", 19000, 8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sh, _ := fanoutShard(bc.members)
			msgs := make([]*testMessage, bc.run)
			for i := range msgs {
				msgs[i] = newTestMessage(`42["notification",{"type":"TIP","from":"someone","amount":5,"message":"thanks for the stream!"}]`)
			}
			sh.deliverNow(msgs...)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sh.deliverNow(msgs...)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.members*bc.run), "ns/delivery")
		})
	}
}

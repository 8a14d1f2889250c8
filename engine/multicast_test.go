package engine

import (
	"fmt"
	"testing"
)

// multiShard builds a shard of members in "global", and in rooms "by2",
// "by3", "by5" when their index is a multiple of 2, 3, 5.
func multiShard(members int) (*shard, []*discardConn) {
	sh, conns := fanoutShard(members)
	for i := range conns {
		sock := sh.members[i].sock
		for _, k := range []int{2, 3, 5} {
			if i%k == 0 {
				sh.join(fmt.Sprintf("by%d", k), sock)
			}
		}
	}
	return sh, conns
}

// deliverMultiNow queues m for t on the shard and drains it by hand.
func (sh *shard) deliverMultiNow(t *multiTarget, m *testMessage) {
	sh.scheduled.Store(true)
	m.Retain(1)
	sh.push(queued{msg: m, multi: t})
	for sh.scheduled.Load() {
		sh.drain()
		if sh.queue.len() > 0 {
			sh.scheduled.Store(true)
		}
	}
}

func TestBroadcastToUnionMinusExcept(t *testing.T) {
	tests := []struct {
		name          string
		rooms, except []string
		want          func(i int) bool
	}{
		{"one room", []string{"by2"}, nil, func(i int) bool { return i%2 == 0 }},
		{"union", []string{"by2", "by3"}, nil, func(i int) bool { return i%2 == 0 || i%3 == 0 }},
		{"union minus except", []string{"by2", "by3"}, []string{"by5"}, func(i int) bool { return (i%2 == 0 || i%3 == 0) && i%5 != 0 }},
		{"all minus except", nil, []string{"by2"}, func(i int) bool { return i%2 != 0 }},
		{"all", nil, nil, func(int) bool { return true }},
		{"unknown rooms", []string{"nobody"}, []string{"nobody-either"}, func(int) bool { return false }},
		{"except everyone", []string{"by3"}, []string{"global"}, func(int) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh, conns := multiShard(1000) // bitsets: every room outgrows its inline set
			m := newTestMessage(`42["notification",{"n":1}]`)
			sh.deliverMultiNow(&multiTarget{rooms: tt.rooms, except: tt.except}, m)
			want := 0
			for i, c := range conns {
				exp := 0
				if tt.want(i) {
					exp = len(m.frame)
					want++
				}
				if c.written != exp {
					t.Fatalf("member %d got %d bytes, want %d", i, c.written, exp)
				}
			}
			if got := sh.counters.Deliveries.Load(); got != uint64(want) {
				t.Fatalf("deliveries %d, want %d", got, want)
			}
		})
	}
}

// A small room (inline set) and an except of a member in it.
func TestBroadcastToSmallRooms(t *testing.T) {
	sh, conns := fanoutShard(10)
	sh.join("u1", sh.members[3].sock)
	sh.join("u1", sh.members[7].sock)
	sh.join("u2", sh.members[8].sock)
	sh.join("x", sh.members[7].sock)
	m := newTestMessage(`42["e"]`)
	sh.deliverMultiNow(&multiTarget{rooms: []string{"u1", "u2"}, except: []string{"x"}}, m)
	for i, c := range conns {
		want := 0
		if i == 3 || i == 8 {
			want = len(m.frame)
		}
		if c.written != want {
			t.Fatalf("member %d got %d bytes, want %d", i, c.written, want)
		}
	}
}

// Between single-room broadcasts, a BroadcastTo is neither coalesced with
// them nor reordered.
func TestBroadcastToKeepsOrder(t *testing.T) {
	sh, conns := fanoutShard(3)
	sh.scheduled.Store(true)
	a, b, c := newTestMessage(`42["a"]`), newTestMessage(`42["bb"]`), newTestMessage(`42["ccc"]`)
	sh.enqueue("global", a, nil, false)
	sh.push(queued{msg: b, multi: &multiTarget{except: []string{"nobody"}}})
	sh.enqueue("global", c, nil, false)
	sh.drain()
	want := len(a.frame) + len(b.frame) + len(c.frame)
	for i, cn := range conns {
		if cn.written != want {
			t.Fatalf("member %d got %d bytes, want %d", i, cn.written, want)
		}
	}
	if got := sh.counters.Deliveries.Load(); got != 9 {
		t.Fatalf("deliveries %d, want 9", got)
	}
}

func TestBroadcastToAllocatesNothingOnTheLoop(t *testing.T) {
	sh, _ := multiShard(1000)
	m := newTestMessage(`42["notification",{"n":1}]`)
	tgt := &multiTarget{rooms: []string{"by2", "by3"}, except: []string{"by5"}}
	sh.deliverMultiNow(tgt, m)
	if allocs := testing.AllocsPerRun(50, func() { sh.deliverMultiNow(tgt, m) }); allocs != 0 {
		t.Fatalf("a BroadcastTo's drain allocated %.1f times", allocs)
	}
}

// BenchmarkFanoutMulti is BenchmarkFanout for a BroadcastTo: two rooms
// minus a third, and everyone minus a room.
func BenchmarkFanoutMulti(b *testing.B) {
	for _, bc := range []struct {
		name string
		t    *multiTarget
	}{
		{"2rooms-except1-19000members", &multiTarget{rooms: []string{"by2", "by3"}, except: []string{"by5"}}},
		{"all-except1-19000members", &multiTarget{except: []string{"by5"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sh, _ := multiShard(19000)
			m := newTestMessage(`42["notification",{"type":"TIP","from":"someone","amount":5,"message":"thanks for the stream!"}]`)
			sh.deliverMultiNow(bc.t, m)
			before := sh.counters.Deliveries.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sh.deliverMultiNow(bc.t, m)
			}
			n := sh.counters.Deliveries.Load() - before
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/delivery")
		})
	}
}

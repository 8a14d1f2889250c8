package engine

import (
	"strconv"
	"testing"
)

// TestBroadcastQueueShedsOldestBroadcastNotMarkers: shedding takes the
// oldest broadcast wherever it is, and the markers keep their places
// relative to the broadcasts that stay.
func TestBroadcastQueueShedsOldestBroadcastNotMarkers(t *testing.T) {
	adopt, release := &handoff{}, &handoff{}
	msg := func(i int) queued { return queued{room: "r", msg: newTestMessage(`42[` + strconv.Itoa(i) + `]`)} }
	for _, tc := range []struct {
		name string
		in   []queued
		shed int    // broadcasts to shed
		want string // what stays, oldest first: m<i> or A/R for markers
	}{
		{"broadcasts only", []queued{msg(1), msg(2), msg(3)}, 2, "m3"},
		{"marker at the head stays", []queued{{handoff: adopt}, msg(1), msg(2)}, 1, "A m2"},
		{"markers between", []queued{msg(1), {handoff: adopt}, msg(2), {handoff: release, release: true}, msg(3)}, 2, "A R m3"},
		{"never the markers", []queued{{handoff: adopt}, msg(1), {handoff: release, release: true}}, 3, "A R"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bq broadcastQueue
			for _, e := range tc.in {
				bq.push(e)
			}
			for range tc.shed {
				if e, ok := bq.shedOldest(); ok {
					e.msg.Release()
				}
			}
			got := ""
			for bq.len() > 0 {
				e := bq.pop()
				if got != "" {
					got += " "
				}
				switch {
				case e.handoff == adopt:
					got += "A"
				case e.handoff == release:
					got += "R"
				default:
					got += "m" + string(e.msg.Packet()[3:len(e.msg.Packet())-1])
				}
			}
			if got != tc.want {
				t.Fatalf("left %q, want %q", got, tc.want)
			}
			if bq.msgs != 0 || bq.bytes != 0 {
				t.Fatalf("empty queue counts %d broadcasts, %d bytes", bq.msgs, bq.bytes)
			}
		})
	}
}

// TestBroadcastQueueWrapsAround keeps a ring of a fixed size busy well past
// its length: pushes and pops across the end keep FIFO order and counts.
func TestBroadcastQueueWrapsAround(t *testing.T) {
	var bq broadcastQueue
	msgs := make([]*testMessage, 10)
	for i := range msgs {
		msgs[i] = newTestMessage(`42[` + strconv.Itoa(i) + `]`)
	}
	next := 0
	for i := range 1000 {
		bq.push(queued{msg: msgs[i%len(msgs)]})
		if bq.len() > 40 {
			if e := bq.pop(); e.msg != Message(msgs[next%len(msgs)]) {
				t.Fatalf("pop %d: got %s", next, e.msg.Packet())
			}
			next++
		}
	}
	if len(bq.buf) != 64 {
		t.Fatalf("ring grew to %d entries for 41 in flight", len(bq.buf))
	}
	size := 0
	for i := next; i < 1000; i++ {
		size += len(msgs[i%len(msgs)].frame)
	}
	if bq.msgs != 1000-next || bq.bytes != size {
		t.Fatalf("counts %d broadcasts %d bytes, want %d, %d", bq.msgs, bq.bytes, 1000-next, size)
	}
}

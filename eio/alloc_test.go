package eio

import (
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Hot-path inputs, taken from the traces.
var (
	allocEvent    = []byte(`42["notification",{"id":1,"type":"info","message":"You are now subscribed to global notifications"}]`)
	allocNSAck    = []byte(`3/admin,0["admin-pong"]`)
	allocBinary   = []byte(`52-0["binary-upload",{"_placeholder":true,"num":0},{"extra":{"_placeholder":true,"num":1}}]`)
	allocBody     = []byte("42[\"notification\",{\"id\":9}]\x1e42[\"notification\",{\"id\":10}]\x1e6\x1ebAQIDBA==")
	allocHeader   = bits("81 fe 01 2c 37 fa 21 3d")
	allocEscaped  = []byte(`["caf\u00e9",1]`)
	allocReserved = []byte(`2["conn\u0065ct"]`)
)

// noAllocs fails when f allocates on average.
func noAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

func TestZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters change allocation counts")
	}
	var sink int
	noAllocs(t, "ParsePacket", func() {
		typ, data, _ := ParsePacket(allocEvent)
		sink += int(typ) + len(data)
	})
	noAllocs(t, "NextRecord loop", func() {
		for rest := allocBody; rest != nil; {
			var rec []byte
			rec, rest, _ = NextRecord(rest)
			sink += len(rec)
		}
	})
	for _, in := range [][]byte{allocEvent[1:], allocNSAck, allocBinary, allocReserved, []byte(`2{"not":"an array"}`), []byte(`2[`)} {
		noAllocs(t, "DecodeSIO "+string(in), func() {
			p, _ := DecodeSIO(in)
			sink += len(p.Data)
		})
	}
	noAllocs(t, "ArrayElements", func() {
		ArrayElements(allocEvent[2:], func(i int, elem []byte) bool {
			sink += i + len(elem)
			return true
		})
	})
	buf := make([]byte, 0, 64)
	noAllocs(t, "AppendEventName", func() {
		name, _ := AppendEventName(buf[:0], allocEscaped)
		sink += len(name)
	})
	noAllocs(t, "ParseFrameHeader", func() {
		h, n, _ := ParseFrameHeader(allocHeader)
		sink += n + int(h.Length)
	})
	frame := make([]byte, 0, 256)
	noAllocs(t, "AppendFrame into a sized buffer", func() {
		frame = AppendFrame(frame[:0], ws.OpText, allocEvent)
	})
	noAllocs(t, "AppendCloseFrame into a sized buffer", func() {
		frame = AppendCloseFrame(frame[:0], ws.StatusMessageTooBig, "")
	})
	noAllocs(t, "PutFrameHeader", func() {
		sink += PutFrameHeader(frame[:MaxServerHeaderSize], ws.OpText, 70000)
	})
	noAllocs(t, "Unmask", func() {
		Unmask(frame[:cap(frame)], [4]byte{1, 2, 3, 4})
	})
	out := make([]byte, 0, 512)
	p, _ := DecodeSIO(allocBinary)
	noAllocs(t, "AppendPacket+AppendSIO into a sized buffer", func() {
		out = AppendSIO(AppendPacket(out[:0], PacketMessage, nil), p)
	})
	noAllocs(t, "AppendRecord into a sized buffer", func() {
		out = AppendRecord(AppendRecord(out[:0], allocEvent), allocEvent)
	})
	open := OpenInfo{SID: "RBYLSNyHx6hS08fcAAAA", Upgrades: []string{"websocket"}, PingInterval: 25 * time.Second,
		PingTimeout: 20 * time.Second, MaxPayload: 1e6}
	noAllocs(t, "AppendOpen into a sized buffer", func() {
		out = AppendOpen(out[:0], open)
	})
	noAllocs(t, "AppendJSONString into a sized buffer", func() {
		out = AppendJSONString(out[:0], "héllo \"world\"\n")
	})
	noAllocs(t, "DecodeBase64Message into a sized buffer", func() {
		out, _ = DecodeBase64Message(out[:0], []byte("bAQIDBA=="))
	})
	noAllocs(t, "AppendBase64Message into a sized buffer", func() {
		out = AppendBase64Message(out[:0], allocEvent)
	})
	noAllocs(t, "AppendRecordV3 into a sized buffer", func() {
		out = AppendRecordV3(AppendRecordV3(out[:0], allocEvent), []byte(`42["héllo ✓"]`))
	})
	bodyV3 := AppendRecordV3(AppendRecordV3(nil, allocEvent), []byte("b4AQIDBA=="))
	noAllocs(t, "NextRecordV3 loop", func() {
		for rest := bodyV3; len(rest) > 0; {
			var rec []byte
			rec, rest, _ = NextRecordV3(rest)
			sink += len(rec)
		}
	})
	_ = sink
}

func TestEventNameAllocatesOnlyTheString(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters change allocation counts")
	}
	var sink string
	for _, in := range [][]byte{allocEvent[2:], allocEscaped} {
		if n := testing.AllocsPerRun(200, func() { sink, _ = EventName(in) }); n != 1 {
			t.Errorf("EventName(%s): %v allocations, want 1", in, n)
		}
	}
	_ = sink
}

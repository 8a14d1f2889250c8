package eio

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Benchmark inputs are trace packets (see alloc_test.go). Run with
//
//	go test ./eio -run '^$' -bench . -benchmem

func BenchmarkParsePacket(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(allocEvent)))
	for b.Loop() {
		ParsePacket(allocEvent)
	}
}

func BenchmarkDecodeSIO(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"event", allocEvent[1:]},
		{"namespace_ack", allocNSAck},
		{"binary_event", allocBinary},
		{"connect", []byte(`0{"token":"secret-token"}`)},
		{"invalid_json", []byte(`2["notification",{"id":1,"type":"info"`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				DecodeSIO(bc.in)
			}
		})
	}
}

func BenchmarkAppendSIO(b *testing.B) {
	p, err := DecodeSIO(allocBinary)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendSIO(AppendPacket(buf[:0], PacketMessage, nil), p)
	}
}

func BenchmarkNextRecord(b *testing.B) {
	body := bytes.Repeat(append(bytes.Clone(allocEvent), RecordSeparator), 25)
	body = body[:len(body)-1] // e §17: 25 notifications in one GET
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		for rest := body; rest != nil; {
			_, rest, _ = NextRecord(rest)
		}
	}
}

// BenchmarkPayloadV3 frames 25 notifications as an EIO3 polling body (what
// a protocol 3 polling member costs per delivery: counting UTF-16 units)
// and splits them again.
func BenchmarkPayloadV3(b *testing.B) {
	pkt := []byte(`42["notification",{"type":"TIP","from":"Zoë","message":"merci beaucoup ✓ 😀"}]`)
	var body []byte
	for range 25 {
		body = AppendRecordV3(body, pkt)
	}
	b.Run("append", func(b *testing.B) {
		out := make([]byte, 0, len(body))
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			out = out[:0]
			for range 25 {
				out = AppendRecordV3(out, pkt)
			}
		}
	})
	b.Run("next", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			for rest := body; len(rest) > 0; {
				_, rest, _ = NextRecordV3(rest)
			}
		}
	})
}

func BenchmarkParseFrameHeader(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{"len7", bits("81 86 37 fa 21 3d")},
		{"len16_masked", allocHeader},
		{"len64_masked", bits("81 ff 00 00 00 00 00 0f 42 42 aa bb cc dd")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ParseFrameHeader(bc.in)
			}
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, bc := range []struct {
		name    string
		payload []byte
	}{
		{"ping_1B", []byte("2")},
		{"event_100B", allocEvent},
		{"event_2KB", bytes.Repeat(allocEvent, 20)},
		{"event_70KB", bytes.Repeat(allocEvent, 700)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, FrameHeaderSize(len(bc.payload))+len(bc.payload))
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.payload)))
			for b.Loop() {
				buf = AppendFrame(buf[:0], ws.OpText, bc.payload)
			}
		})
	}
}

func BenchmarkUnmask(b *testing.B) {
	payload := bytes.Repeat(allocEvent, 10)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		Unmask(payload, [4]byte{0x37, 0xfa, 0x21, 0x3d})
	}
}

func BenchmarkEventName(b *testing.B) {
	data := allocEvent[2:]
	b.Run("string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			EventName(data)
		}
	})
	b.Run("append", func(b *testing.B) {
		buf := make([]byte, 0, 64)
		b.ReportAllocs()
		for b.Loop() {
			AppendEventName(buf[:0], data)
		}
	})
}

func BenchmarkArrayElements(b *testing.B) {
	data := allocBinary[4:]
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ArrayElements(data, func(int, []byte) bool { return true })
	}
}

// BenchmarkValidJSON compares ValidJSON with encoding/json.Valid, which it
// replaces in the decoders.
func BenchmarkValidJSON(b *testing.B) {
	data := allocEvent[2:]
	bad := []byte(`["notification",{"id":1,"type":"info"`)
	for _, bc := range []struct {
		name  string
		in    []byte
		valid func([]byte) bool
	}{
		{"eio/valid", data, ValidJSON},
		{"encoding_json/valid", data, json.Valid},
		{"eio/invalid", bad, ValidJSON},
		{"encoding_json/invalid", bad, json.Valid},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				bc.valid(bc.in)
			}
		})
	}
}

func BenchmarkAppendOpen(b *testing.B) {
	o := OpenInfo{SID: "RBYLSNyHx6hS08fcAAAA", Upgrades: []string{"websocket"}, PingInterval: 25 * time.Second,
		PingTimeout: 20 * time.Second, MaxPayload: 1e6}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendOpen(buf[:0], o)
	}
}

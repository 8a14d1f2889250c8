package wire

import (
	"bytes"
	"testing"
)

func TestClientFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{'a'}, n)
		f := AppendClientFrame(nil, OpText, payload)
		h, ok, err := ParseHeader(f)
		if err != nil || !ok {
			t.Fatalf("n=%d: ParseHeader ok=%v err=%v", n, ok, err)
		}
		if !h.Fin || h.Opcode != OpText || !h.Masked || h.Length != n || h.HeadLen+n != len(f) {
			t.Fatalf("n=%d: header %+v, frame %d bytes", n, h, len(f))
		}
		got := append([]byte(nil), f[h.HeadLen:]...)
		Unmask(got, h.Mask)
		if !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: payload mismatch", n)
		}
	}
}

func TestParseHeaderSplit(t *testing.T) {
	f := AppendServerFrame(nil, OpText, bytes.Repeat([]byte{'z'}, 300))
	for cut := 0; cut < 4; cut++ {
		if _, ok, err := ParseHeader(f[:cut]); ok || err != nil {
			t.Fatalf("cut %d: ok=%v err=%v, want incomplete", cut, ok, err)
		}
	}
	h, ok, _ := ParseHeader(f[:4])
	if !ok || h.Length != 300 || h.HeadLen != 4 || h.Masked {
		t.Fatalf("header %+v ok=%v", h, ok)
	}
}

func TestParseUpgradeResponse(t *testing.T) {
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x01x"
	for cut := 0; cut < len(resp)-3; cut++ {
		if n, _, err := ParseUpgradeResponse([]byte(resp[:cut])); n != 0 || err != nil {
			t.Fatalf("cut %d: n=%d err=%v", cut, n, err)
		}
	}
	n, status, err := ParseUpgradeResponse([]byte(resp))
	if err != nil || status != 101 || n != len(resp)-3 {
		t.Fatalf("n=%d status=%d err=%v", n, status, err)
	}
}

func TestClassify(t *testing.T) {
	cases := map[string]Kind{
		`0{"sid":"x","pingInterval":25000}`:     KindOpen,
		`2`:                                     KindPing,
		`2probe`:                                KindOther,
		`40{"sid":"abc"}`:                       KindConnect,
		`44{"message":"Authentication failed"}`: KindConnectError,
		`41`:                                    KindDisconnect,
		`42["notification",{"a":1}]`:            KindNotification,
		`42["connected",{}]`:                    KindEvent,
		`430[{}]`:                               KindAck,
		``:                                      KindOther,
	}
	for in, want := range cases {
		if got := Classify([]byte(in)); got != want {
			t.Errorf("Classify(%q) = %d, want %d", in, got, want)
		}
	}
	if v := OpenPingInterval([]byte(`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000}`)); v != 25000 {
		t.Errorf("pingInterval = %d", v)
	}
}

func TestDeliveryRoundTrip(t *testing.T) {
	d := Delivery{Phase: 3, ID: 17, Seq: 4, SentAt: 1764110000123456789}
	obj := AppendDelivery(nil, d, 10)
	pkt := append(append([]byte(`42["notification",`), obj...), ']')
	got, ok := ParseDelivery(pkt)
	if !ok || got != d {
		t.Fatalf("ParseDelivery(%s) = %+v, %v", pkt, got, ok)
	}
	// Node.js relays the stamp through a float64: digits survive, low bits
	// may not. The parser must still read it.
	node := []byte(`42["notification",{"type":"BENCH","ph":3,"id":17,"seq":4,"sentAt":1764110000123456800,"pad":"x"}]`)
	if got, ok := ParseDelivery(node); !ok || got.SentAt != 1764110000123456800 {
		t.Fatalf("node form: %+v %v", got, ok)
	}
	if _, ok := ParseDelivery([]byte(`42["notification",{"type":"OTHER"}]`)); ok {
		t.Fatal("non-bench payload parsed")
	}
}

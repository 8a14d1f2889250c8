package eio

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// The EIO3 polling bodies of trace k (k-eio3-v2-client.txt: socket.io-client
// 2.5.0 against socket.io 4.8 with allowEIO3), with their records.
var v3TraceBodies = []struct {
	src  string
	body string
	recs []string
}{
	{"k§1 S->C open", `116:0{"sid":"IqbFLm09WXrk0teDAAAj","upgrades":["websocket"],"pingInterval":2000,"pingTimeout":2000,"maxPayload":1000000}`,
		[]string{`0{"sid":"IqbFLm09WXrk0teDAAAj","upgrades":["websocket"],"pingInterval":2000,"pingTimeout":2000,"maxPayload":1000000}`}},
	{"k§1 S->C implicit CONNECT and event", `2:4098:42["connected",{"message":"Welcome to the notification server","socketId":"IqbFLm09WXrk0teDAAAj"}]`,
		[]string{`40`, `42["connected",{"message":"Welcome to the notification server","socketId":"IqbFLm09WXrk0teDAAAj"}]`}},
	{"k§1 C->S event", `31:42["join-global-notifications"]`, []string{`42["join-global-notifications"]`}},
	{"k§2 C->S 20 characters, 23 bytes", `20:42["echo","héllo ✓"]`, []string{`42["echo","héllo ✓"]`}},
	{"k§2a S->C binary event and its attachment", `94:451-["binary-data",{"_placeholder":true,"num":0},{"note":"a Buffer is sent as an attachment"}]10:b4AQIDBA==`,
		[]string{`451-["binary-data",{"_placeholder":true,"num":0},{"note":"a Buffer is sent as an attachment"}]`, `b4AQIDBA==`}},
	{"k§2b C->S ping", `1:2`, []string{`2`}},
	{"k§2b S->C pong", `1:3`, []string{`3`}},
	{"k§2c S->C CONNECT_ERROR", `25:44"Authentication failed"`, []string{`44"Authentication failed"`}},
}

// v3Records splits a body with NextRecordV3, empty records included.
func v3Records(body []byte) ([]string, error) {
	if len(body) == 0 {
		_, _, err := NextRecordV3(body)
		return nil, err
	}
	var out []string
	for rest := body; len(rest) > 0; {
		rec, next, err := NextRecordV3(rest)
		if err != nil {
			return out, err
		}
		out = append(out, string(rec))
		rest = next
	}
	return out, nil
}

func TestPayloadV3TraceBodies(t *testing.T) {
	for _, tt := range v3TraceBodies {
		got, err := v3Records([]byte(tt.body))
		if err != nil || !reflect.DeepEqual(got, tt.recs) {
			t.Errorf("%s: records %q, %v; want %q", tt.src, got, err, tt.recs)
		}
		var body []byte
		for _, r := range tt.recs {
			body = AppendRecordV3(body, []byte(r))
		}
		if string(body) != tt.body {
			t.Errorf("%s: AppendRecordV3 built %q", tt.src, body)
		}
	}
}

func TestNextRecordV3(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
		recs []string
		err  error
	}{
		{name: "emoji counts 2", body: "3:4😀5:42[1]", recs: []string{"4😀", "42[1]"}},
		{name: "three bytes, one character", body: "3:4✓✓", recs: []string{"4✓✓"}},
		{name: "empty record skipped by callers", body: "0:1:6", recs: []string{"", "6"}},
		{name: "leading zero", body: "01:6", recs: []string{"6"}},
		{name: "empty body", body: "", err: ErrEmptyPacket},
		{name: "no colon", body: "12", err: ErrPayloadV3},
		{name: "no length", body: ":6", err: ErrPayloadV3},
		{name: "not a number", body: "1a:6", err: ErrPayloadV3},
		{name: "sign", body: "+1:6", err: ErrPayloadV3},
		{name: "v4 body", body: "6\x1e1", err: ErrPayloadV3},
		{name: "runs past the end", body: "5:42", err: ErrPayloadV3},
		{name: "length in bytes, not characters", body: "4:4é", err: ErrPayloadV3},
		{name: "half a surrogate pair", body: "2:4😀", err: ErrPayloadV3},
		{name: "invalid UTF-8", body: "2:4\xff", err: ErrPayloadV3},
		{name: "huge length", body: "99999999999999999999999:4", err: ErrPayloadV3},
		{name: "good then bad", body: "1:6x", recs: []string{"6"}, err: ErrPayloadV3},
	} {
		got, err := v3Records([]byte(tt.body))
		if !errors.Is(err, tt.err) || !reflect.DeepEqual(got, tt.recs) {
			t.Errorf("%s: %q gives %q, %v; want %q, %v", tt.name, tt.body, got, err, tt.recs, tt.err)
		}
	}
}

// TestUTF16Len compares with what Node 20 says: for each input,
// Buffer.from(hex, "hex").toString("utf8").length (new TextDecoder() gives
// the same).
func TestUTF16Len(t *testing.T) {
	for _, tt := range []struct {
		hex  string
		want int
	}{
		{"", 0},
		{"34325b2268c3a96c6c6f20e29c93225d", 13}, // 42["héllo ✓"]
		{"c3a9", 1},
		{"e29c93", 1},
		{"f09f9880", 2},
		{"e29c", 1},     // cut short: one U+FFFD
		{"f09f98", 1},   // ditto
		{"f09f9841", 2}, // cut short, then "A"
		{"ffff", 2},
		{"c0af", 2},   // overlong: each byte
		{"eda080", 3}, // a surrogate: each byte
		{"edbfbf", 3},
		{"f4908080", 4}, // above U+10FFFF
		{"f48fbfbf", 2}, // U+10FFFF
		{"e0808f", 3},
		{"e0a0", 1},
		{"e0a080", 1},
		{"80", 1},
		{"c3", 1},
		{"c328", 2},
		{"e2289c", 3},
		{"efbfbd", 1},
	} {
		b, err := hex.DecodeString(tt.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := UTF16Len(b); got != tt.want {
			t.Errorf("UTF16Len(%x) = %d, Node says %d", b, got, tt.want)
		}
	}
}

func TestBase64MessageV3(t *testing.T) {
	bin := []byte{1, 2, 3, 4}
	rec := AppendBase64MessageV3(nil, bin)
	if string(rec) != "b4AQIDBA==" { // k §2a
		t.Fatalf("AppendBase64MessageV3 = %q", rec)
	}
	if !IsBase64Message(rec) {
		t.Fatalf("IsBase64Message(%q) = false", rec)
	}
	if got, err := DecodeBase64MessageV3(nil, rec); err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("DecodeBase64MessageV3(%q) = %x, %v", rec, got, err)
	}
	for _, bad := range []string{"", "b", "4AQIDBA==", "bAQIDBA==", "b2AQIDBA==", "b4AQIDBA", "b4!!!!"} {
		if got, err := DecodeBase64MessageV3([]byte("x"), []byte(bad)); !errors.Is(err, ErrBase64) || string(got) != "x" {
			t.Errorf("DecodeBase64MessageV3(%q) = %q, %v; want ErrBase64", bad, got, err)
		}
	}
	if got, err := DecodeBase64MessageV3(nil, []byte("b4")); err != nil || len(got) != 0 {
		t.Errorf(`DecodeBase64MessageV3("b4") = %q, %v; want an empty message`, got, err)
	}
}

// jsLen is String.length of valid UTF-8 s.
func jsLen(s []byte) int { return len(utf16.Encode([]rune(string(s)))) }

func FuzzPayloadV3(f *testing.F) {
	for _, b := range v3TraceBodies {
		f.Add([]byte(b.body))
	}
	for _, p := range seedPackets(f) {
		f.Add(AppendRecordV3(nil, p))
		f.Add(p)
	}
	f.Add([]byte("4:4😀0:2:4é"))
	f.Add([]byte("1:\xe2\x9c"))
	f.Fuzz(func(t *testing.T, body []byte) {
		// Every body NextRecordV3 accepts is rebuilt by AppendRecordV3 from
		// its records, up to leading zeros in the lengths.
		var rebuilt []byte
		ok := len(body) > 0
		for rest := body; len(rest) > 0; {
			rec, next, err := NextRecordV3(rest)
			if err != nil {
				ok = false
				break
			}
			if !utf8.Valid(rec) {
				t.Fatalf("%q: record %q is not UTF-8", body, rec)
			}
			if len(next) >= len(rest) {
				t.Fatalf("%q: no progress at %q", body, rest)
			}
			rebuilt = AppendRecordV3(rebuilt, rec)
			rest = next
		}
		if ok {
			canonical, err := v3Records(rebuilt)
			orig, _ := v3Records(body)
			if err != nil || !reflect.DeepEqual(canonical, orig) {
				t.Fatalf("%q: records %q, rebuilt %q gives %q, %v", body, orig, rebuilt, canonical, err)
			}
			if !bytes.Contains(body, []byte(":0")) && !bytes.HasPrefix(body, []byte("0")) && !bytes.Equal(rebuilt, body) {
				t.Fatalf("%q rebuilt as %q", body, rebuilt)
			}
		}
		// The length AppendRecordV3 writes is JavaScript's, and the record
		// reads back whole.
		n := UTF16Len(body)
		if n > len(body) {
			t.Fatalf("UTF16Len(%q) = %d, more than its bytes", body, n)
		}
		if utf8.Valid(body) {
			if want := jsLen(body); n != want {
				t.Fatalf("UTF16Len(%q) = %d, want %d", body, n, want)
			}
			rec, rest, err := NextRecordV3(AppendRecordV3(nil, body))
			if len(body) > 0 && (err != nil || !bytes.Equal(rec, body) || len(rest) != 0) {
				t.Fatalf("record of %q reads back as %q, %q, %v", body, rec, rest, err)
			}
		} else if want := jsLen(bytes.ToValidUTF8(body, []byte("\uFFFD"))); n < want {
			// ToValidUTF8 merges each run of invalid bytes into one U+FFFD,
			// so it is a lower bound for WHATWG's one per invalid subpart.
			t.Fatalf("UTF16Len(%q) = %d, below %d", body, n, want)
		}
		// Any bytes survive the EIO3 binary form.
		if bin, err := DecodeBase64MessageV3(nil, AppendBase64MessageV3(nil, body)); err != nil || !bytes.Equal(bin, body) {
			t.Fatalf("base64 round trip of %x: %x, %v", body, bin, err)
		}
	})
}

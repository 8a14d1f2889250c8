package eio

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// nodeVerdict is socket.io-parser 4.2.7's decoding of one packet, recorded by
// testdata/socketio_parser_oracle.js.
type nodeVerdict struct {
	In    string  `json:"in"`
	Quirk bool    `json:"quirk"` // built from a part only Node's loose parsing accepts
	OK    bool    `json:"ok"`
	Err   string  `json:"err"`
	Type  SIOType `json:"type"`
	Nsp   string  `json:"nsp"`
	ID    float64 `json:"id"` // a JavaScript number: -1 when absent
	Att   int     `json:"att"`
	Data  *string `json:"data"` // JSON.stringify of the payload, null when absent
}

// TestDecodeSIOMatchesNode compares DecodeSIO with the real socket.io-parser
// on the trace packets and on ~2500 packets generated from odd parts:
//
//   - what Node rejects, DecodeSIO rejects, without exception;
//   - what Node accepts, DecodeSIO accepts with the same fields, except for
//     the documented strict corners: EVENT/ACK/CONNECT_ERROR without data,
//     ack ids above MaxAckID, and packets built from a quirky part
//     (whitespace or non-decimal numbers where Node's Number() reads digits,
//     and the empty packet, which Number("") reads as a CONNECT).
func TestDecodeSIOMatchesNode(t *testing.T) {
	verdicts := loadNodeVerdicts(t)
	var accepted, strict int
	for _, v := range verdicts {
		switch checkNodeVerdict(t, v) {
		case bothAccept:
			accepted++
		case nodeOnlyAccepts:
			strict++
		}
	}
	if len(verdicts) < 2000 || accepted < 300 {
		t.Errorf("only %d verdicts, %d accepted by both", len(verdicts), accepted)
	}
	t.Logf("%d packets: %d accepted by both, %d accepted only by Node (strict corners)", len(verdicts), accepted, strict)
}

// nodeVerdictsFile holds socket.io-parser's verdicts, one JSON line each.
const nodeVerdictsFile = "testdata/socketio_parser_verdicts.jsonl"

// loadNodeVerdicts reads nodeVerdictsFile.
func loadNodeVerdicts(t *testing.T) []nodeVerdict {
	t.Helper()
	file, err := os.Open(nodeVerdictsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	var out []nodeVerdict
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		var v nodeVerdict
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// agreement is how DecodeSIO's verdict on a packet relates to Node's.
type agreement int

const (
	bothReject      agreement = iota
	bothAccept                // with the same fields
	nodeOnlyAccepts           // one of the documented strict corners
)

// checkNodeVerdict decodes v.In and reports an error unless DecodeSIO
// agrees with socket.io-parser's verdict v, as TestDecodeSIOMatchesNode
// describes.
func checkNodeVerdict(t *testing.T, v nodeVerdict) agreement {
	t.Helper()
	p, err := DecodeSIO([]byte(v.In))
	switch {
	case !v.OK && err == nil:
		t.Errorf("DecodeSIO(%q) accepted %+v; socket.io-parser says %q", v.In, p, v.Err)
		return bothReject
	case !v.OK:
		return bothReject
	case err != nil:
		allowed := v.Quirk ||
			(v.Data == nil && v.Type != SIOConnect && v.Type != SIODisconnect && err == ErrSIOPayload) ||
			(v.ID > float64(MaxAckID) && err == ErrSIOAckID)
		if !allowed {
			t.Errorf("DecodeSIO(%q): %v; socket.io-parser accepts it: %+v", v.In, err, v)
		}
		return nodeOnlyAccepts
	}
	if p.Type != v.Type || string(p.Namespace) != v.Nsp || float64(p.ID) != v.ID || p.Attachments != v.Att {
		t.Errorf("DecodeSIO(%q) = type %v nsp %q id %d att %d; socket.io-parser: type %v nsp %q id %v att %d",
			v.In, p.Type, p.Namespace, p.ID, p.Attachments, v.Type, v.Nsp, v.ID, v.Att)
	}
	if (v.Data == nil) != (p.Data == nil) {
		t.Errorf("DecodeSIO(%q) data %q; socket.io-parser: %v", v.In, p.Data, v.Data)
	} else if v.Data != nil && !sameJSON(t, p.Data, []byte(*v.Data)) {
		t.Errorf("DecodeSIO(%q) data %s; socket.io-parser: %s", v.In, p.Data, *v.Data)
	}
	return bothAccept
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Errorf("%s: %v", a, err)
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Errorf("%s: %v", b, err)
		return false
	}
	return reflect.DeepEqual(va, vb)
}

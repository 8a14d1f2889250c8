package eio

import (
	"bufio"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// traceFixturesFile is cut from ../shared/protocol/traces by
// testdata/cut_traces.py; the tests read only this copy.
const traceFixturesFile = "testdata/trace_payloads.txt"

// fixture is one WebSocket frame or polling body seen on the wire.
type fixture struct {
	src     string   // trace letter and section, "a§1"
	dir     string   // "C->S" or "S->C"
	carrier string   // "poll", or the frame as "text,fin=1,masked,len=6"
	labels  []string // the capture proxy's decoding of each packet, in order
	payload []byte   // the bytes on the wire; nil when the trace truncated them
	raw     string   // the payload as printed in the fixture file
}

func (f fixture) String() string { return f.src + " " + f.dir + " " + f.raw }

// isPoll reports whether f is an HTTP long-polling body.
func (f fixture) isPoll() bool { return f.carrier == "poll" }

// frame returns the WebSocket frame fields of a non-polling fixture.
func (f fixture) frame(t *testing.T) (kind string, fin, masked bool, length int64) {
	t.Helper()
	parts := strings.Split(f.carrier, ",")
	if len(parts) != 4 {
		t.Fatalf("%v: bad carrier %q", f, f.carrier)
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(parts[3], "len="), 10, 64)
	if err != nil {
		t.Fatalf("%v: bad carrier %q: %v", f, f.carrier, err)
	}
	return parts[0], parts[1] == "fin=1", parts[2] == "masked", n
}

// loadFixtures reads traceFixturesFile.
func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	file, err := os.Open(traceFixturesFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer file.Close()
	var out []fixture
	sc := bufio.NewScanner(file)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.SplitN(text, "\t", 5)
		if len(fields) != 5 {
			tb.Fatalf("%s:%d: want 5 tab-separated fields, got %d", traceFixturesFile, line, len(fields))
		}
		f := fixture{src: fields[0], dir: fields[1], carrier: fields[2],
			labels: strings.Split(fields[3], " | "), raw: fields[4]}
		switch raw := fields[4]; {
		case raw == "-":
		case strings.HasPrefix(raw, "hex:"):
			if f.payload, err = hex.DecodeString(raw[len("hex:"):]); err != nil {
				tb.Fatalf("%s:%d: %v", traceFixturesFile, line, err)
			}
		case strings.HasPrefix(raw, "close:"):
			f.payload = []byte{}
		default:
			f.payload = unescapeTrace(tb, raw)
		}
		out = append(out, f)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) < 200 {
		tb.Fatalf("%s: only %d fixtures", traceFixturesFile, len(out))
	}
	return out
}

// unescapeTrace turns the trace notation \xNN back into the byte.
func unescapeTrace(tb testing.TB, s string) []byte {
	tb.Helper()
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			b, err := hex.DecodeString(s[i+2 : i+4])
			if err != nil {
				tb.Fatalf("bad escape in %q: %v", s, err)
			}
			out = append(out, b[0])
			i += 3
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// records splits a polling body with NextRecord, failing on an empty body or a
// trailing separator.
func records(tb testing.TB, body []byte) [][]byte {
	tb.Helper()
	var out [][]byte
	for rest := body; ; {
		rec, next, ok := NextRecord(rest)
		if !ok {
			tb.Fatalf("body %q: empty body or trailing separator", body)
		}
		out = append(out, rec)
		if next == nil {
			return out
		}
		rest = next
	}
}

// packets returns the Engine.IO packets of a text fixture: the records of a
// polling body, or the single packet of a text frame.
func (f fixture) packets(tb testing.TB) [][]byte {
	if f.isPoll() {
		return records(tb, f.payload)
	}
	return [][]byte{f.payload}
}

// textFixtures returns the fixtures that carry Engine.IO text packets with a
// known payload.
func textFixtures(tb testing.TB) []fixture {
	var out []fixture
	for _, f := range loadFixtures(tb) {
		if f.payload != nil && (f.isPoll() || strings.HasPrefix(f.carrier, "text,")) {
			out = append(out, f)
		}
	}
	return out
}

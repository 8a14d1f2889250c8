package http1

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// testLimits are the engine's: 8 KiB heads, 1 MB bodies.
var testLimits = Limits{MaxHead: DefaultMaxHead, MaxBody: 1_000_000}

const upgradeHead = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost:8080\r\n" +
	"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\nOrigin: http://localhost:3000\r\n\r\n"

// parseOnce parses in with a fresh Parser, as one read.
func parseOnce(in []byte) (int, Request, error) {
	var p Parser
	var r Request
	n, err := p.Parse(in, testLimits, &r)
	return n, r, err
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Request // HeadLen is checked as len(in) - len(body)
		body string
	}{
		{name: "polling GET", in: "GET /socket.io/?EIO=4&transport=polling&t=x HTTP/1.1\r\nHost: a\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/socket.io/"), Query: []byte("EIO=4&transport=polling&t=x"), ContentLength: -1, KeepAlive: true}},
		{name: "Connection close", in: "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/"), ContentLength: -1}},
		{name: "HTTP/1.0", in: "GET / HTTP/1.0\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/"), ContentLength: -1}},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/"), ContentLength: -1, KeepAlive: true}},
		{name: "empty query", in: "GET /x? HTTP/1.1\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/x"), Query: []byte{}, ContentLength: -1, KeepAlive: true}},
		{name: "websocket upgrade", in: upgradeHead,
			want: Request{Method: []byte("GET"), Path: []byte("/socket.io/"), Query: []byte("EIO=4&transport=websocket"), ContentLength: -1,
				KeepAlive: true, UpgradeWebSocket: true, ConnectionUpgrade: true, WSKey: []byte("dGhlIHNhbXBsZSBub25jZQ=="),
				WSVersion: []byte("13"), Origin: []byte("http://localhost:3000")}},
		{name: "websocket extensions, repeated, the third dropped", in: "GET / HTTP/1.1\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
			"sec-websocket-extensions:x-webkit-deflate-frame \r\nSec-WebSocket-Extensions: third\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/"), ContentLength: -1, KeepAlive: true,
				WSExtensions: [MaxExtensionFields][]byte{[]byte("permessage-deflate; client_max_window_bits"), []byte("x-webkit-deflate-frame")}}},
		{name: "connection list", in: "GET / HTTP/1.1\r\nConnection:keep-alive ,\tUpgrade\r\nUpgrade: WebSocket\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/"), ContentLength: -1, KeepAlive: true, UpgradeWebSocket: true, ConnectionUpgrade: true}},
		{name: "POST with body", in: "POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok", body: "ok",
			want: Request{Method: []byte("POST"), Path: []byte("/x"), ContentLength: 2, KeepAlive: true, ContentType: []byte("text/plain")}},
		{name: "zero length", in: "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			want: Request{Method: []byte("POST"), Path: []byte("/x"), ContentLength: 0, KeepAlive: true}},
		{name: "leading zeros", in: "POST /x HTTP/1.1\r\nContent-Length: 002\r\n\r\nok", body: "ok",
			want: Request{Method: []byte("POST"), Path: []byte("/x"), ContentLength: 2, KeepAlive: true}},
		{name: "length with OWS", in: "POST /x HTTP/1.1\r\nContent-Length:\t2 \r\n\r\nok", body: "ok",
			want: Request{Method: []byte("POST"), Path: []byte("/x"), ContentLength: 2, KeepAlive: true}},
		{name: "preflight", in: "OPTIONS /socket.io/ HTTP/1.1\r\nOrigin: http://a\r\nAccess-Control-Request-Headers: content-type\r\n\r\n",
			want: Request{Method: []byte("OPTIONS"), Path: []byte("/socket.io/"), ContentLength: -1, KeepAlive: true,
				Origin: []byte("http://a"), AccessControlRequestHeaders: []byte("content-type")}},
		{name: "authorization, empty and obs-text values", in: "GET / HTTP/1.1\r\nAuthorization: Bearer x.y\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/"), ContentLength: -1, KeepAlive: true, Authorization: []byte("Bearer x.y")}},
		{name: "extension method", in: "M-SEARCH /x HTTP/1.1\r\n\r\n",
			want: Request{Method: []byte("M-SEARCH"), Path: []byte("/x"), ContentLength: -1, KeepAlive: true}},
		{name: "head of exactly the limit", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", DefaultMaxHead-len("GET / HTTP/1.1\r\nX: \r\n\r\n")) + "\r\n\r\n",
			want: Request{Method: []byte("GET"), Path: []byte("/"), ContentLength: -1, KeepAlive: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, r, err := parseOnce([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Fatalf("n=%d err=%v, want %d", n, err, len(tt.in))
			}
			tt.want.HeadLen = len(tt.in) - len(tt.body)
			if !reflect.DeepEqual(r, tt.want) {
				t.Fatalf("got  %s\nwant %s", dump(r), dump(tt.want))
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const get = "GET / HTTP/1.1\r\n"
	tests := []struct {
		name string
		in   string
		err  error
	}{
		// Framing: where the request ends must be beyond doubt.
		{"Content-Length with plus sign", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", errContentLength},
		{"Content-Length with minus sign", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", errContentLength},
		{"Content-Length empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", errContentLength},
		{"Content-Length hex", "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", errContentLength},
		{"Content-Length inner space", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", errContentLength},
		{"Content-Length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello", errContentLength},
		{"Content-Length overflow", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", errContentLength},
		{"Content-Length differing repeats", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", errRepeatedLength},
		{"Content-Length equal repeats", "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello", errRepeatedLength},
		{"Content-Length and chunked", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", errLengthAndTE},
		{"chunked and Content-Length", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", errLengthAndTE},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTransferEncoding},
		{"identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", ErrTransferEncoding},
		// Line endings and folding.
		{"bare LF request", "GET / HTTP/1.1\nHost: a\n\n", errBareLF},
		{"bare LF in a header", get + "Host: a\n\r\n", errBareLF},
		{"bare LF blank line", get + "Host: a\r\n\n", errBareLF},
		{"LF first", "\n", errBareLF},
		{"bare CR", get + "Host: a\rb\r\n\r\n", errBareCR},
		{"CR line endings", "GET / HTTP/1.1\rHost: a\r\r", errBareCR},
		{"empty line first", "\r\nGET / HTTP/1.1\r\n\r\n", errEmptyLine},
		{"obs-fold", get + "X-A: a\r\n b\r\n\r\n", errObsFold},
		{"obs-fold with tab", get + "X-A: a\r\n\tb\r\n\r\n", errObsFold},
		{"folded first line", get + " Host: a\r\n\r\n", errObsFold},
		// Fields.
		{"space before colon", get + "Content-Length : 5\r\n\r\nhello", errSpaceBeforeColon},
		{"tab before colon", get + "Host\t: a\r\n\r\n", errSpaceBeforeColon},
		{"no colon", get + "nocolon\r\n\r\n", errFieldName},
		{"empty name", get + ": a\r\n\r\n", errFieldName},
		{"bad name", get + "X@Y: a\r\n\r\n", errFieldName},
		{"NUL in value", get + "X: a\x00b\r\n\r\n", errFieldValue},
		{"DEL in value", get + "X: a\x7f\r\n\r\n", errFieldValue},
		// Request line.
		{"no spaces", "GARBAGE\r\n\r\n", errRequestLine},
		{"empty method", " / HTTP/1.1\r\n\r\n", errMethod},
		{"bad method", "G(T / HTTP/1.1\r\n\r\n", errMethod},
		{"relative target", "GET x HTTP/1.1\r\n\r\n", errTarget},
		{"asterisk target", "OPTIONS * HTTP/1.1\r\n\r\n", errTarget},
		{"empty target", "GET  HTTP/1.1\r\n\r\n", errTarget},
		{"control byte in target", "GET /\x01 HTTP/1.1\r\n\r\n", errTarget},
		{"bad version", "GET / HTTP/2.0\r\n\r\n", errVersion},
		{"two spaces", "GET /  HTTP/1.1\r\n\r\n", errVersion},
		{"lower-case version", "GET / http/1.1\r\n\r\n", errVersion},
		// Limits.
		{"head too large", get + "X: " + strings.Repeat("a", DefaultMaxHead) + "\r\n\r\n", ErrHeadTooLarge},
		{"head one byte over", get + "X: " + strings.Repeat("a", DefaultMaxHead-len(get+"X: \r\n\r\n")+1) + "\r\n\r\n", ErrHeadTooLarge},
		{"unterminated too large", get + "X: " + strings.Repeat("a", DefaultMaxHead), ErrHeadTooLarge},
		{"body too large", "POST / HTTP/1.1\r\nContent-Length: 1000001\r\n\r\n", ErrBodyTooLarge},
		{"body far too large", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", ErrBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, _, err := parseOnce([]byte(tt.in))
			if err != tt.err || n != 0 {
				t.Fatalf("n=%d err=%v, want %v", n, err, tt.err)
			}
			// Every reason is one of the four errors a server maps to a status.
			if !errors.Is(err, ErrMalformed) && err != ErrTransferEncoding && err != ErrHeadTooLarge && err != ErrBodyTooLarge {
				t.Fatalf("%v is none of the exported errors", err)
			}
		})
	}
}

// A bad line ending is reported as soon as it arrives, not when the head
// ends (a bare-LF head never does) or reaches the size limit.
func TestParseRejectsBadLineEndingAtOnce(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\n", "GET / HTTP/1.1\r\nHost: a\rX"} {
		if _, _, err := parseOnce([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", in, err)
		}
	}
}

func TestParseIncomplete(t *testing.T) {
	for _, in := range []string{
		"",
		"G",
		"GET / HTTP/1.1\r",
		"GET / HTTP/1.1\r\nHost: a\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nab",
	} {
		if n, _, err := parseOnce([]byte(in)); n != 0 || err != nil {
			t.Errorf("%q: n=%d err=%v, want 0, nil", in, n, err)
		}
	}
}

// Pipelined requests: Parse returns the first one's length, and the same
// Parser then reads the next one.
func TestParsePipelined(t *testing.T) {
	first := "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	second := "GET /b HTTP/1.1\r\n\r\n"
	buf := []byte(first + second + "GET /c")
	var p Parser
	var r Request
	n, err := p.Parse(buf, testLimits, &r)
	if err != nil || n != len(first) || string(r.Path) != "/a" || string(buf[r.HeadLen:n]) != "abc" {
		t.Fatalf("first: n=%d err=%v path=%q", n, err, r.Path)
	}
	buf = buf[n:]
	if n, err = p.Parse(buf, testLimits, &r); err != nil || n != len(second) || string(r.Path) != "/b" {
		t.Fatalf("second: n=%d err=%v path=%q", n, err, r.Path)
	}
	if n, err = p.Parse(buf[n:], testLimits, &r); err != nil || n != 0 {
		t.Fatalf("third: n=%d err=%v, want incomplete", n, err)
	}
}

// fixtures returns the seed corpus of FuzzParseRequest (requests cut from
// the wire traces of the Node reference server, one per request shape) and
// the valid requests of the tables above.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzParseRequest")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{"upgrade": []byte(upgradeHead)}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		// go test fuzz v1 \n []byte("…")
		_, lit, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
		lit = strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")")
		s, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = []byte(s)
	}
	return out
}

// Cutting a request anywhere, and handing it over as two reads or as one
// byte per read, gives what one read gives: gnet may deliver a request in
// any number of pieces. This holds for bad requests too (same error).
func TestParseSplit(t *testing.T) {
	cases := fixtures(t)
	cases["body"] = []byte("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
	cases["smuggle"] = []byte("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
	cases["bare LF"] = []byte("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n")
	cases["CR"] = []byte("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n")
	valid := 0
	for name, in := range cases {
		wantN, wantR, wantErr := parseOnce(in)
		if wantErr == nil && wantN == 0 {
			t.Fatalf("%s: fixture is incomplete", name)
		}
		if wantErr == nil {
			valid++
		}
		check := func(how string, n int, r Request, err error) {
			t.Helper()
			if n != wantN || err != wantErr || (err == nil && !reflect.DeepEqual(r, wantR)) {
				t.Fatalf("%s, %s: n=%d err=%v, want n=%d err=%v\ngot  %s\nwant %s", name, how, n, err, wantN, wantErr, dump(r), dump(wantR))
			}
		}
		for cut := 1; cut < len(in); cut++ {
			var p Parser
			var r Request
			n, err := p.Parse(in[:cut], testLimits, &r)
			if err == nil {
				if n != 0 {
					t.Fatalf("%s: prefix %d of %d complete (n=%d)", name, cut, len(in), n)
				}
				n, err = p.Parse(in, testLimits, &r)
			}
			check("cut at "+strconv.Itoa(cut), n, r, err)
		}
		n, r, err := dribble(in)
		check("one byte per read", n, r, err)
	}
	if valid < 30 {
		t.Fatalf("only %d valid fixtures", valid)
	}
}

// dribble feeds in to one Parser one byte per read, stopping at the first
// result.
func dribble(in []byte) (int, Request, error) {
	var p Parser
	var r Request
	for k := 1; k <= len(in); k++ {
		if n, err := p.Parse(in[:k], testLimits, &r); n != 0 || err != nil {
			return n, r, err
		}
	}
	return 0, Request{}, nil
}

// A head that arrives one byte per read is scanned once, not once per
// read: each call looks only at the bytes that arrived since the last one
// (and the two before them, for a CRLF CRLF cut in the middle). To prove
// it, the bytes behind the resume point are overwritten with bare LFs,
// which the scan rejects wherever it sees one; and the bytes examined are
// counted from the resume points. The final call parses the whole head
// once more, from the real bytes.
func TestParseDoesNotRescan(t *testing.T) {
	head := []byte("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n" +
		strings.Repeat("X-Filler: "+strings.Repeat("a", 80)+"\r\n", 80) + "\r\n")
	if len(head) > DefaultMaxHead {
		t.Fatalf("head of %d bytes", len(head))
	}
	poisoned := make([]byte, len(head))
	var p Parser
	var r Request
	examined, poisonedTo := 0, 0
	for k := 1; k < len(head); k++ {
		poisoned[k-1] = head[k-1]
		from := int(p.state)
		examined += k - from
		// Overwrite everything the parser must not read again.
		for ; poisonedTo < from-2; poisonedTo++ {
			poisoned[poisonedTo] = '\n'
		}
		if n, err := p.Parse(poisoned[:k], testLimits, &r); n != 0 || err != nil {
			t.Fatalf("after %d bytes: n=%d err=%v: bytes before the resume point %d were read again", k, n, err, from)
		}
	}
	if n, err := p.Parse(head, testLimits, &r); n != len(head) || err != nil {
		t.Fatalf("complete head: n=%d err=%v", n, err)
	}
	// One call per byte, each examining its new byte (a CR is looked at
	// again with its LF): at most 2 per byte, against n²/2 = 23M for a
	// parser that starts over on each read.
	if examined > 2*len(head) {
		t.Fatalf("examined %d bytes for a %d-byte head", examined, len(head))
	}
	t.Logf("head %d bytes, %d reads, %d bytes examined by the end-of-head scan", len(head), len(head), examined)
}

// While a body arrives, the head is not parsed again on every read.
func TestParseWaitsForBodyWithoutReparsing(t *testing.T) {
	head := "POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
	in := []byte(head + strings.Repeat("b", 100))
	var p Parser
	var r Request
	if n, err := p.Parse(in[:len(head)], testLimits, &r); n != 0 || err != nil {
		t.Fatalf("head: n=%d err=%v", n, err)
	}
	// The head's bytes are garbage now: a parser that looked at them
	// again would fail.
	poisoned := bytes.Repeat([]byte{'\n'}, len(in))
	for k := len(head) + 1; k < len(in); k++ {
		if n, err := p.Parse(poisoned[:k], testLimits, &r); n != 0 || err != nil {
			t.Fatalf("body byte %d: n=%d err=%v", k, n, err)
		}
	}
	if n, err := p.Parse(in, testLimits, &r); n != len(in) || err != nil || r.ContentLength != 100 {
		t.Fatalf("complete: n=%d err=%v", n, err)
	}
}

func TestParseAllocs(t *testing.T) {
	in := []byte(upgradeHead)
	post := []byte("POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
	var p Parser
	var r Request
	if n := testing.AllocsPerRun(100, func() {
		_, _ = p.Parse(in, testLimits, &r)
		_, _ = p.Parse(post[:len(post)-1], testLimits, &r)
		_, _ = p.Parse(post, testLimits, &r)
	}); n != 0 {
		t.Fatalf("Parse allocates %.1f times", n)
	}
}

func BenchmarkParse(b *testing.B) {
	in := []byte(upgradeHead)
	var p Parser
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if n, err := p.Parse(in, testLimits, &r); n != len(in) || err != nil {
			b.Fatal(n, err)
		}
	}
}

// FuzzParseRequest: Parse never panics; what it accepts is framed inside
// the input, reads the same when split into reads, and, where net/http
// accepts it too, has the same method, target and body length (a proxy
// built on net/http would frame it the same way).
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
		"POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 26\r\n\r\n40{\"token\":\"secret-token\"}",
		"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"GET / HTTP/1.1\nHost: a\n\n",
		"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\naGET /b HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, r, err := parseOnce(b)
		if err != nil || n == 0 {
			if n != 0 {
				t.Fatalf("n=%d with err %v", n, err)
			}
			return
		}
		if n > len(b) || r.HeadLen > n || r.HeadLen > testLimits.MaxHead || n-r.HeadLen != max(r.ContentLength, 0) {
			t.Fatalf("n=%d headLen=%d contentLength=%d of %d bytes", n, r.HeadLen, r.ContentLength, len(b))
		}
		for _, s := range [][]byte{r.Method, r.Path, r.Query, r.WSKey, r.WSVersion, r.Origin, r.Authorization, r.ContentType, r.AccessControlRequestHeaders, r.WSExtensions[0], r.WSExtensions[1]} {
			if len(s) > 0 && !aliases(s, b[:r.HeadLen]) {
				t.Fatalf("%q does not alias the head", s)
			}
		}
		if dn, dr, derr := dribble(b); dn != n || derr != nil || !reflect.DeepEqual(dr, r) {
			t.Fatalf("one byte per read: n=%d err=%v, want %d", dn, derr, n)
		}
		hr, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if herr != nil {
			return // net/http is stricter on some points (Host, for one)
		}
		target := string(r.Path)
		if r.Query != nil {
			target += "?" + string(r.Query)
		}
		if hr.Method != string(r.Method) || hr.RequestURI != target ||
			hr.ContentLength != int64(max(r.ContentLength, 0)) || hr.Close == r.KeepAlive {
			t.Fatalf("net/http reads %s %s length %d close %v; we read %s", hr.Method, hr.RequestURI, hr.ContentLength, hr.Close, dump(r))
		}
	})
}

// aliases reports whether s lies inside b's memory.
func aliases(s, b []byte) bool {
	for i := range b {
		if &b[i] == &s[0] {
			return i+len(s) <= len(b)
		}
	}
	return false
}

// dump shows a Request in test failures.
func dump(r Request) string {
	return strconv.Quote(string(r.Method)) + " " + strconv.Quote(string(r.Path)) + " ? " + strconv.Quote(string(r.Query)) +
		" head=" + strconv.Itoa(r.HeadLen) + " length=" + strconv.Itoa(r.ContentLength) +
		" keep=" + strconv.FormatBool(r.KeepAlive) + " upgrade=" + strconv.FormatBool(r.UpgradeWebSocket) +
		"/" + strconv.FormatBool(r.ConnectionUpgrade) + " key=" + strconv.Quote(string(r.WSKey)) +
		" origin=" + strconv.Quote(string(r.Origin)) + " ctype=" + strconv.Quote(string(r.ContentType))
}

// BenchmarkParseDribbled: a 7 KB head arriving one byte per read, parsed
// after every read. The cost per op grows linearly with the head.
func BenchmarkParseDribbled(b *testing.B) {
	head := []byte("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n" +
		strings.Repeat("X-Filler: "+strings.Repeat("a", 80)+"\r\n", 80) + "\r\n")
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(head)))
	for b.Loop() {
		var p Parser
		for k := 1; k <= len(head); k++ {
			if n, err := p.Parse(head[:k], testLimits, &r); err != nil || (n != 0) != (k == len(head)) {
				b.Fatal(k, n, err)
			}
		}
	}
}

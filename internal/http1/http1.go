// Package http1 parses HTTP/1.1 requests in place, for a server that reads
// from an event loop's buffer (gnet) rather than from a blocking reader.
//
// The buffer is the bytes received so far on one connection, starting at
// the request being read; it grows from call to call until a whole request
// (head and body) is there. A Parser keeps, between those calls, how far it
// has already checked the head, so each byte is examined a constant number
// of times however the head is split into reads: a client that sends one
// byte at a time costs O(n), not O(n²). The Parser is 4 bytes, to fit in
// a per-connection struct.
//
// Parsing is zero-copy and does not allocate: every []byte of a Request
// aliases the buffer given to Parse and is valid as long as it is.
//
// It is strict wherever leniency would let a proxy in front of the server
// and the server disagree about where a request ends (request smuggling,
// RFC 9112 §11.2), and reports such a request as soon as the offending
// bytes arrive rather than waiting for a head that will never end. These
// are ErrMalformed (answer 400):
//   - a line ended by a bare LF, or a CR not followed by LF (RFC 9112 §2.2);
//   - a line folded onto the previous one (obs-fold: starting with SP or HT);
//   - whitespace between a field name and its colon (RFC 9112 §5.1);
//   - a method that is not a token, a target not in origin form, a version
//     other than HTTP/1.0 or HTTP/1.1;
//   - a field name that is not a token, a field value with control bytes;
//   - a Content-Length that is not 1*DIGIT (no sign, no spaces, no list) or
//     overflows, or that appears more than once, even with the same value
//     (RFC 9112 §6.3 allows collapsing equal repeats; like nginx, this
//     parser rejects them, which is simpler and as safe);
//   - Content-Length together with Transfer-Encoding.
//
// Request bodies with a Transfer-Encoding are not supported
// (ErrTransferEncoding); a head over Limits.MaxHead is ErrHeadTooLarge
// (431), a Content-Length over Limits.MaxBody ErrBodyTooLarge (413).
package http1

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// Errors returned by Parse. The malformed cases wrap ErrMalformed with the
// reason, for logs; test them with errors.Is.
var (
	ErrMalformed        = errors.New("http1: malformed request")
	ErrHeadTooLarge     = errors.New("http1: request head too large")
	ErrBodyTooLarge     = errors.New("http1: request body too large")
	ErrTransferEncoding = errors.New("http1: request transfer codings are not supported")
)

var (
	errBareLF           = fmt.Errorf("%w: LF without CR", ErrMalformed)
	errBareCR           = fmt.Errorf("%w: CR without LF", ErrMalformed)
	errEmptyLine        = fmt.Errorf("%w: empty line before the request line", ErrMalformed)
	errRequestLine      = fmt.Errorf("%w: request line is not method SP target SP version", ErrMalformed)
	errMethod           = fmt.Errorf("%w: method is not a token", ErrMalformed)
	errTarget           = fmt.Errorf("%w: target is not an absolute path", ErrMalformed)
	errVersion          = fmt.Errorf("%w: version is not HTTP/1.0 or HTTP/1.1", ErrMalformed)
	errObsFold          = fmt.Errorf("%w: folded header line", ErrMalformed)
	errSpaceBeforeColon = fmt.Errorf("%w: whitespace between field name and colon", ErrMalformed)
	errFieldName        = fmt.Errorf("%w: field name is not a token followed by a colon", ErrMalformed)
	errFieldValue       = fmt.Errorf("%w: control byte in a field value", ErrMalformed)
	errContentLength    = fmt.Errorf("%w: Content-Length is not a decimal number", ErrMalformed)
	errRepeatedLength   = fmt.Errorf("%w: repeated Content-Length", ErrMalformed)
	errLengthAndTE      = fmt.Errorf("%w: Content-Length with Transfer-Encoding", ErrMalformed)
)

// DefaultMaxHead is the head limit used when Limits.MaxHead is zero: 8 KiB,
// as Node's HTTP server.
const DefaultMaxHead = 8 << 10

// Limits bound what Parse accepts.
type Limits struct {
	// MaxHead is the largest head, request line to blank line included.
	// Zero value means DefaultMaxHead.
	MaxHead int
	// MaxBody is the largest Content-Length. Zero value means no body.
	// MaxHead+MaxBody is capped at math.MaxInt32.
	MaxBody int
}

// Request is one parsed request head. Only the fields the server acts on
// are kept; every slice aliases the buffer given to Parse.
type Request struct {
	Method []byte
	Path   []byte // the target up to '?'
	Query  []byte // the target after '?', nil when there is none
	// HeadLen is the length of the head, up to and including the blank
	// line; the body follows it.
	HeadLen int
	// ContentLength is the Content-Length, or -1 when there is none.
	ContentLength int
	// KeepAlive: HTTP/1.1 without "Connection: close", or HTTP/1.0 with
	// "Connection: keep-alive".
	KeepAlive bool
	// UpgradeWebSocket: "Upgrade: websocket". ConnectionUpgrade: the
	// Connection field lists "upgrade".
	UpgradeWebSocket, ConnectionUpgrade bool

	// Field values, trimmed; nil when the field is absent. For repeated
	// fields, the last one.
	WSKey                       []byte // Sec-WebSocket-Key
	WSVersion                   []byte // Sec-WebSocket-Version
	Origin                      []byte
	Authorization               []byte
	ContentType                 []byte
	AccessControlRequestHeaders []byte
	// WSExtensions are the Sec-WebSocket-Extensions fields, in order: the
	// first MaxExtensionFields of them (a server may ignore any offer, so
	// the rest are dropped).
	WSExtensions [MaxExtensionFields][]byte
}

// MaxExtensionFields is how many Sec-WebSocket-Extensions fields a Request
// keeps: browsers and Node send one.
const MaxExtensionFields = 2

// Parser parses the requests of one connection, one after another. Its
// zero value is ready to use. It is not safe for concurrent use; it is
// meant to live in the per-connection state of an event loop.
type Parser struct {
	// state >= 0: the first state bytes of the buffer hold no end of head
	// and no bad line ending; scanning resumes there. state < 0: the head
	// is complete and valid, and the request, body included, is -state
	// bytes long.
	state int32
}

// Parse parses the request at the start of buf: the bytes received so far,
// beginning at the first byte of this request, each call with the same
// bytes as the last call plus any that arrived since.
//
// When the whole request, head and body, is in buf, Parse fills r and
// returns its length n: the head is buf[:r.HeadLen], the body
// buf[r.HeadLen:n]; the next request starts at buf[n], and the Parser is
// ready for it. While the request is incomplete it returns 0, nil. On an
// error the request must be refused; the Parser is reset.
func (p *Parser) Parse(buf []byte, lim Limits, r *Request) (n int, err error) {
	maxHead := lim.MaxHead
	if maxHead <= 0 {
		maxHead = DefaultMaxHead
	}
	maxHead = min(maxHead, math.MaxInt32)
	maxBody := min(max(lim.MaxBody, 0), math.MaxInt32-maxHead)

	from := 0
	if p.state < 0 { // waiting for the body
		if len(buf) < int(-p.state) {
			return 0, nil
		}
	} else {
		from = min(int(p.state), len(buf))
	}
	headLen, next, err := scanHead(buf[:min(len(buf), maxHead)], from)
	switch {
	case err != nil:
		p.state = 0
		return 0, err
	case headLen == 0 && len(buf) >= maxHead:
		// The head, still incomplete at maxHead bytes, is longer.
		p.state = 0
		return 0, ErrHeadTooLarge
	case headLen == 0:
		p.state = int32(next)
		return 0, nil
	}
	if err := parseHead(buf[:headLen], maxBody, r); err != nil {
		p.state = 0
		return 0, err
	}
	n = headLen + max(r.ContentLength, 0)
	if len(buf) < n {
		// The body is on its way: until it is all there, no need to look
		// at the head again.
		p.state = -int32(n)
		return 0, nil
	}
	p.state = 0
	return n, nil
}

// scanHead looks for the blank line that ends the head in buf, checking
// line endings on the way, and starting at from: the bytes before from were
// checked by an earlier call. It returns the head's length, or 0 and where
// the next call should resume.
func scanHead(buf []byte, from int) (headLen, next int, err error) {
	for i := from; i < len(buf); {
		lf := bytes.IndexByte(buf[i:], '\n')
		line := buf[i:] // the rest of a line, up to its LF or the end of buf
		if lf >= 0 {
			line = line[:lf]
		}
		// A CR may only end a line: right before its LF, or as the last
		// byte so far (its LF may be in the next read).
		if cr := bytes.IndexByte(line, '\r'); cr >= 0 && cr != len(line)-1 {
			return 0, 0, errBareCR
		}
		if lf < 0 {
			if len(line) > 0 && line[len(line)-1] == '\r' {
				return 0, len(buf) - 1, nil // look at the CR again with its LF
			}
			return 0, len(buf), nil
		}
		lf += i
		if lf == 0 || buf[lf-1] != '\r' {
			return 0, 0, errBareLF
		}
		switch {
		case lf == 1:
			return 0, 0, errEmptyLine
		case lf >= 3 && buf[lf-2] == '\n': // CRLF CRLF: the blank line
			return lf + 1, 0, nil
		}
		i = lf + 1
	}
	return 0, len(buf), nil
}

// parseHead parses a complete head, line endings already checked.
func parseHead(head []byte, maxBody int, r *Request) error {
	*r = Request{HeadLen: len(head), ContentLength: -1}
	length := int64(-1)
	line, rest := cutLine(head)
	if err := parseRequestLine(line, r); err != nil {
		return err
	}
	sawLength, sawTE := false, false
	extFields := 0
	for {
		line, rest = cutLine(rest)
		if len(line) == 0 { // the blank line
			break
		}
		name, value, err := splitField(line)
		if err != nil {
			return err
		}
		switch {
		case eqFold(name, "content-length"):
			if sawLength {
				return errRepeatedLength
			}
			sawLength = true
			n, ok := parseDigits(value)
			if !ok {
				return errContentLength
			}
			length = n
		case eqFold(name, "transfer-encoding"):
			sawTE = true
		case eqFold(name, "connection"):
			parseConnection(value, r)
		case eqFold(name, "upgrade"):
			r.UpgradeWebSocket = eqFold(value, "websocket")
		case eqFold(name, "sec-websocket-key"):
			r.WSKey = value
		case eqFold(name, "sec-websocket-version"):
			r.WSVersion = value
		case eqFold(name, "sec-websocket-extensions"):
			if i := extFields; i < MaxExtensionFields {
				r.WSExtensions[i] = value
				extFields++
			}
		case eqFold(name, "origin"):
			r.Origin = value
		case eqFold(name, "authorization"):
			r.Authorization = value
		case eqFold(name, "content-type"):
			r.ContentType = value
		case eqFold(name, "access-control-request-headers"):
			r.AccessControlRequestHeaders = value
		}
	}
	switch {
	case sawTE && sawLength:
		return errLengthAndTE
	case sawTE:
		return ErrTransferEncoding
	case length > int64(maxBody):
		return ErrBodyTooLarge
	}
	r.ContentLength = int(length)
	return nil
}

// parseRequestLine parses "method SP target SP version".
func parseRequestLine(line []byte, r *Request) error {
	method, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return errRequestLine
	}
	target, version, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return errRequestLine
	}
	if len(method) == 0 || tokenLen(method) != len(method) {
		return errMethod
	}
	if len(target) == 0 || target[0] != '/' {
		return errTarget
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return errTarget
		}
	}
	switch string(version) {
	case "HTTP/1.1":
		r.KeepAlive = true
	case "HTTP/1.0":
	default:
		return errVersion
	}
	r.Method = method
	r.Path, r.Query, _ = bytes.Cut(target, []byte("?"))
	return nil
}

// splitField splits a header line into its name and its value, trimmed of
// optional whitespace.
func splitField(line []byte) (name, value []byte, err error) {
	n := tokenLen(line)
	switch {
	case n == 0 && (line[0] == ' ' || line[0] == '\t'):
		return nil, nil, errObsFold
	case n == len(line):
		return nil, nil, errFieldName
	case line[n] == ' ' || line[n] == '\t':
		return nil, nil, errSpaceBeforeColon
	case n == 0 || line[n] != ':':
		return nil, nil, errFieldName
	}
	value = trimOWS(line[n+1:])
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return nil, nil, errFieldValue
		}
	}
	return line[:n], value, nil
}

// parseConnection notes the Connection options the server acts on.
func parseConnection(v []byte, r *Request) {
	for len(v) > 0 {
		var tok []byte
		tok, v, _ = bytes.Cut(v, []byte(","))
		tok = trimOWS(tok)
		switch {
		case eqFold(tok, "close"):
			r.KeepAlive = false
		case eqFold(tok, "keep-alive"):
			r.KeepAlive = true
		case eqFold(tok, "upgrade"):
			r.ConnectionUpgrade = true
		}
	}
}

// parseDigits parses 1*DIGIT; it reports false for anything else,
// including a number that overflows an int64.
func parseDigits(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// cutLine splits a head with valid line endings at its first CRLF.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return b[:i-1], b[i+1:]
}

// trimOWS trims spaces and tabs at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// tokenLen returns the length of the token (RFC 9110 §5.6.2) at the start
// of b.
func tokenLen(b []byte) int {
	for i, c := range b {
		if !isTchar[c] {
			return i
		}
	}
	return len(b)
}

// isTchar: "!#$%&'*+-.^_`|~", digits and letters.
var isTchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// eqFold reports whether b equals the lower-case ASCII string s, ignoring
// case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

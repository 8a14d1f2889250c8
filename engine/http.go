package engine

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
)

// HTTP/1.1 request heads are parsed in place, straight from gnet's inbound
// buffer: every []byte in request aliases that buffer and is valid only until
// the request is discarded.

var (
	errMalformedHTTP = errors.New("engine: malformed HTTP request")
	errHeadTooLarge  = errors.New("engine: HTTP request head too large")
	errBodyTooLarge  = errors.New("engine: HTTP request body too large")
	errChunkedUpload = errors.New("engine: chunked request bodies are not supported")
)

// request is one parsed HTTP request head.
type request struct {
	method, path, query []byte
	headLen             int // bytes up to and including the blank line
	contentLength       int // -1 when absent
	keepAlive           bool
	upgradeWebSocket    bool // "Upgrade: websocket"
	connectionUpgrade   bool // "Connection: … upgrade …"
	wsKey, wsVersion    []byte
	origin              []byte
	authorization       []byte
	contentType         []byte
	acrHeaders          []byte // Access-Control-Request-Headers
}

// parseRequest parses the head at the start of buf. It returns ok=false and
// no error while the head is incomplete.
func parseRequest(buf []byte, r *request) (ok bool, err error) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		if len(buf) > maxHeadBytes {
			return false, errHeadTooLarge
		}
		return false, nil
	}
	if end+4 > maxHeadBytes {
		return false, errHeadTooLarge
	}
	*r = request{headLen: end + 4, contentLength: -1}
	head := buf[:end+2] // keep the last line's CRLF
	line, rest := cutLine(head)
	// Request line: METHOD SP target SP HTTP/1.x
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false, errMalformedHTTP
	}
	r.method = line[:sp]
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return false, errMalformedHTTP
	}
	target, version := line[:sp], line[sp+1:]
	switch string(version) {
	case "HTTP/1.1":
		r.keepAlive = true
	case "HTTP/1.0":
	default:
		return false, errMalformedHTTP
	}
	if target[0] != '/' {
		return false, errMalformedHTTP
	}
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.path, r.query = target[:q], target[q+1:]
	} else {
		r.path = target
	}
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return false, errMalformedHTTP
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case eqFold(name, "content-length"):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return false, errMalformedHTTP
			}
			r.contentLength = n
		case eqFold(name, "transfer-encoding"):
			if !eqFold(value, "identity") {
				return false, errChunkedUpload
			}
		case eqFold(name, "connection"):
			forEachToken(value, func(tok []byte) {
				switch {
				case eqFold(tok, "close"):
					r.keepAlive = false
				case eqFold(tok, "keep-alive"):
					r.keepAlive = true
				case eqFold(tok, "upgrade"):
					r.connectionUpgrade = true
				}
			})
		case eqFold(name, "upgrade"):
			r.upgradeWebSocket = eqFold(value, "websocket")
		case eqFold(name, "sec-websocket-key"):
			r.wsKey = value
		case eqFold(name, "sec-websocket-version"):
			r.wsVersion = value
		case eqFold(name, "origin"):
			r.origin = value
		case eqFold(name, "authorization"):
			r.authorization = value
		case eqFold(name, "content-type"):
			r.contentType = value
		case eqFold(name, "access-control-request-headers"):
			r.acrHeaders = value
		}
	}
	return true, nil
}

// cutLine splits b at the first CRLF.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+2:]
}

// forEachToken calls fn for each comma-separated, trimmed token of v.
func forEachToken(v []byte, fn func([]byte)) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			tok, v = v, nil
		}
		if tok = bytes.TrimSpace(tok); len(tok) > 0 {
			fn(tok)
		}
	}
}

// eqFold reports whether b equals the lower-case ASCII string s, ignoring case.
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

// queryValue returns the raw value of key in a query string, and whether it
// was present.
func queryValue(q []byte, key string) ([]byte, bool) {
	for len(q) > 0 {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		k, v, _ := bytes.Cut(pair, []byte("="))
		if string(k) == key {
			return v, true
		}
	}
	return nil, false
}

// queryString returns the decoded value of key as a string ("" if absent or
// undecodable).
func queryString(q []byte, key string) string {
	v, ok := queryValue(q, key)
	if !ok {
		return ""
	}
	if bytes.IndexByte(v, '%') < 0 && bytes.IndexByte(v, '+') < 0 {
		return string(v)
	}
	s, err := url.QueryUnescape(string(v))
	if err != nil {
		return ""
	}
	return s
}

// statusText holds the reason phrases of the statuses the engine sends.
var statusText = map[int]string{
	101: "Switching Protocols",
	200: "OK",
	204: "No Content",
	400: "Bad Request",
	403: "Forbidden",
	404: "Not Found",
	413: "Payload Too Large",
	431: "Request Header Fields Too Large",
	500: "Internal Server Error",
	503: "Service Unavailable",
}

// Response is the answer an HTTPHandler gives. It is owned by the event loop
// and reused; it must not be kept.
type Response struct {
	status      int
	contentType string
	body        []byte
}

// Reply sets the status, content type and body of the answer. body is
// copied before the handler returns.
func (w *Response) Reply(status int, contentType string, body []byte) {
	w.status, w.contentType, w.body = status, contentType, body
}

// appendResponse appends a complete HTTP/1.1 response. extra holds
// additional header lines, each ending in CRLF.
func appendResponse(dst []byte, status int, contentType string, extra []byte, body []byte, keepAlive bool) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText[status]...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, extra...)
	if contentType != "" {
		dst = append(dst, "Content-Type: "...)
		dst = append(dst, contentType...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	if keepAlive {
		dst = append(dst, "\r\nConnection: keep-alive\r\n\r\n"...)
	} else {
		dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	}
	return append(dst, body...)
}

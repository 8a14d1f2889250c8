package engine

import (
	"bytes"
	"net/url"
	"strconv"
)

// HTTP/1.1 request heads are parsed by internal/http1, in place: every
// []byte of an http1.Request aliases gnet's inbound buffer and is valid
// only until the request is discarded. This file holds the rest: query
// strings and the responses.

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

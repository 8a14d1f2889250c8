package engine

import (
	"bytes"
	"strconv"

	"github.com/notify-wss/notify-wss/internal/http1"
)

// Engine.IO HTTP error codes (README §11 of the protocol reference).
const (
	errTransportUnknown = iota
	errSessionUnknown
	errBadHandshakeMethod
	errBadRequest
	errForbidden
	errUnsupportedProtocol
)

var errorMessages = [...]string{
	errTransportUnknown:    "Transport unknown",
	errSessionUnknown:      "Session ID unknown",
	errBadHandshakeMethod:  "Bad handshake method",
	errBadRequest:          "Bad request",
	errForbidden:           "Forbidden",
	errUnsupportedProtocol: "Unsupported protocol version",
}

// serveEngineIO answers a request under the Engine.IO path, or under
// RawPath when raw is set.
func (cn *conn) serveEngineIO(r *http1.Request, body []byte, raw bool) {
	srv := cn.sh.srv
	sh := cn.sh
	cors := srv.appendCORS(sh.corsBuf[:0], r)
	sh.corsBuf = cors
	if string(r.Method) == "OPTIONS" && len(srv.cfg.CORSOrigins) > 0 {
		cn.preflight(r)
		return
	}
	transport, _ := queryValue(r.Query, "transport")
	isWS := string(transport) == "websocket"
	upgradeReq := r.UpgradeWebSocket
	if !isWS && string(transport) != "polling" {
		cn.engineError(r, errTransportUnknown, upgradeReq)
		return
	}
	// Like engine.io, anything but EIO=4 (even none) is protocol 3.
	eioVersion, _ := queryValue(r.Query, "EIO")
	eio3 := string(eioVersion) != "4"
	if sid, ok := queryValue(r.Query, "sid"); ok {
		ss := srv.lookupSession(string(sid))
		switch {
		case ss == nil || ss.raw != raw: // raw: a sid of the other endpoint
			cn.engineError(r, errSessionUnknown, upgradeReq)
		case eio3 != ss.eio3:
			cn.engineError(r, errBadRequest, upgradeReq)
		case isWS:
			if !upgradeReq {
				cn.engineError(r, errBadRequest, false)
				return
			}
			cn.startUpgrade(ss, r)
		default:
			cn.servePolling(ss, r, body)
		}
		return
	}
	if string(r.Method) != "GET" {
		cn.engineError(r, errBadHandshakeMethod, upgradeReq)
		return
	}
	if isWS && !upgradeReq {
		cn.engineError(r, errBadRequest, false)
		return
	}
	if eio3 && !srv.cfg.AllowEIO3 {
		cn.engineError(r, errUnsupportedProtocol, upgradeReq)
		return
	}
	if srv.draining.Load() {
		cn.reply(r, 503, "application/json", jsonObject("status", "unavailable", "reason", "draining"))
		return
	}
	hs := newHandshake(r)
	if isWS {
		if !cn.upgrade(r, cors) {
			return
		}
		ss := newSession(sh, hs, raw, eio3)
		ss.ws = cn
		cn.sess = ss
		srv.counters.websocket.Add(1)
		ss.sendText(ss.openPacket(nil))
		ss.connectDefault()
		return
	}
	cn.pollingHandshake(r, hs, raw, eio3)
}

// engineError answers with an Engine.IO error: JSON for plain requests, a
// raw 400 for WebSocket upgrade requests (as the Node ws server does).
func (cn *conn) engineError(r *http1.Request, code int, upgradeReq bool) {
	if upgradeReq {
		cn.wsRefuse(errorMessages[code])
		return
	}
	status := 400
	if code == errForbidden {
		status = 403
	}
	body := append(cn.sh.jsonBuf[:0], `{"code":`...)
	body = strconv.AppendInt(body, int64(code), 10)
	body = append(body, `,"message":"`...)
	body = append(body, errorMessages[code]...)
	body = append(body, `"}`...)
	cn.sh.jsonBuf = body
	cn.replyHeaders(r, status, "application/json", cn.sh.corsBuf, body)
}

// preflight answers a CORS preflight with 204, as the cors package does.
func (cn *conn) preflight(r *http1.Request) {
	h := append(cn.sh.corsBuf, "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"...)
	if len(r.AccessControlRequestHeaders) > 0 {
		h = append(h, "Vary: Access-Control-Request-Headers\r\n"...)
		h = append(h, "Access-Control-Allow-Headers: "...)
		h = append(h, r.AccessControlRequestHeaders...)
		h = append(h, "\r\n"...)
	}
	cn.sh.corsBuf = h
	cn.replyHeaders(r, 204, "", h, nil)
}

// appendCORS appends the CORS response headers for r (nothing when CORS is
// off).
func (s *Server) appendCORS(dst []byte, r *http1.Request) []byte {
	origins := s.cfg.CORSOrigins
	if len(origins) == 0 {
		return dst
	}
	var allow []byte
	switch {
	case len(origins) == 1:
		allow = []byte(origins[0])
	case len(r.Origin) > 0:
		for _, o := range origins {
			if o == "*" || o == string(r.Origin) {
				allow = r.Origin
				break
			}
		}
	}
	if allow != nil {
		dst = append(dst, "Access-Control-Allow-Origin: "...)
		dst = append(dst, allow...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Vary: Origin\r\n"...)
	if !bytes.Equal(allow, []byte("*")) {
		dst = append(dst, "Access-Control-Allow-Credentials: true\r\n"...)
	}
	return dst
}

// plainHandshake is shared by the many sessions whose opening request
// carried nothing for the application, to keep idle connections small.
var plainHandshake = &Handshake{}

// newHandshake keeps what the application may need from the opening
// request: the query string only when it has more than the Engine.IO
// parameters (EIO, transport, t, sid, and protocol 3's b64), and the
// Authorization and Origin headers.
func newHandshake(r *http1.Request) *Handshake {
	appQuery := false
	for q := r.Query; len(q) > 0 && !appQuery; {
		var pair []byte
		pair, q, _ = bytes.Cut(q, []byte("&"))
		k, _, _ := bytes.Cut(pair, []byte("="))
		switch string(k) {
		case "EIO", "transport", "t", "sid", "b64", "":
		default:
			appQuery = true
		}
	}
	if !appQuery && len(r.Authorization) == 0 && len(r.Origin) == 0 {
		return plainHandshake
	}
	hs := &Handshake{Authorization: string(r.Authorization), Origin: string(r.Origin)}
	if appQuery {
		hs.Query = string(r.Query)
	}
	return hs
}

package engine

import (
	"encoding/json"
	"strconv"
	"time"
)

// maxHealthRooms bounds the room names /health lists, so the answer stays
// small with a million connections; roomCount has the total.
const maxHealthRooms = 1000

// healthJSON renders GET /health.
func (s *Server) healthJSON() []byte {
	names, count := s.roomNames(maxHealthRooms)
	st := s.Stats()
	status := "ok"
	if s.draining.Load() {
		status = "draining"
	}
	body := map[string]any{
		"status":           status,
		"timestamp":        time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"connectedClients": st.Sessions,
		"totalSockets":     st.Sockets,
		"rooms":            names,
		"roomCount":        count,
		"transports":       map[string]int64{"websocket": st.WebSocket, "polling": st.Polling},
	}
	if s.cfg.HealthExtra != nil {
		for k, v := range s.cfg.HealthExtra() {
			body[k] = v
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return jsonObject("status", "error")
	}
	return b
}

// notReady returns why the server should not get traffic, or "".
func (s *Server) notReady() string {
	if s.draining.Load() {
		return "draining"
	}
	if s.cfg.Ready != nil {
		return s.cfg.Ready()
	}
	return ""
}

// jsonObject renders a flat object of string pairs.
func jsonObject(kv ...string) []byte {
	b := []byte{'{'}
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, kv[i])
		b = append(b, ':')
		b = strconv.AppendQuote(b, kv[i+1])
	}
	return append(b, '}')
}

// appendInt appends n in decimal.
func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

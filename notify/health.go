package notify

import (
	"encoding/json"
	"time"

	"github.com/notify-wss/notify-wss/engine"
)

// maxHealthRooms bounds the room names /health lists, so the answer stays
// small with a million connections; roomCount has the total.
const maxHealthRooms = 1000

// Health statuses: monitoring written against the Node service matches
// "healthy".
const (
	statusHealthy  = "healthy"
	statusDraining = "draining"
)

// health is GET /health's body, keys in the Node service's order first.
type health struct {
	Status           string           `json:"status"`
	Timestamp        string           `json:"timestamp"`
	ConnectedClients int64            `json:"connectedClients"`
	TotalSockets     int64            `json:"totalSockets"`
	Rooms            []string         `json:"rooms"`
	RoomCount        int              `json:"roomCount"`
	Transports       map[string]int64 `json:"transports"`
	Redis            redisHealth      `json:"redis"`
}

type redisHealth struct {
	Connected  bool   `json:"connected"`
	Reconnects uint64 `json:"reconnects"`
}

// healthJSON renders GET /health.
func (s *Service) healthJSON() []byte {
	names, count := s.srv.RoomNames(maxHealthRooms)
	st := s.srv.Stats()
	h := health{
		Status:           statusHealthy,
		Timestamp:        time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		ConnectedClients: st.Sessions,
		TotalSockets:     st.Sockets,
		Rooms:            names,
		RoomCount:        count,
		Transports:       map[string]int64{"websocket": st.WebSocket, "polling": st.Polling},
		Redis:            redisHealth{Connected: s.br.Connected(), Reconnects: s.br.Stats().Reconnects},
	}
	if s.srv.Draining() {
		h.Status = statusDraining
	}
	b, err := json.Marshal(h)
	if err != nil {
		return []byte(`{"status":"error"}`)
	}
	return b
}

// notReady is the engine's Ready hook: /ready answers 503 with the reason
// while the Redis subscription is down (the engine adds "draining").
func (s *Service) notReady() string {
	if !s.br.Connected() {
		return "redis subscription down"
	}
	return ""
}

// serveHTTP is the engine's HTTPHandler: /health and /metrics. It runs on
// an event loop.
func (s *Service) serveHTTP(path string, w *engine.Response) bool {
	switch path {
	case "/health":
		w.Reply(200, "application/json", s.healthJSON())
		return true
	case metricsPath:
		status, contentType, body := s.met.render()
		w.Reply(status, contentType, body)
		return true
	}
	return false
}

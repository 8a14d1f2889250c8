package notify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/engine"
	"github.com/notify-wss/notify-wss/internal/promtest"
)

// serviceMetrics are the notify_wss_ families and their types.
var serviceMetrics = map[string]dto.MetricType{
	"notify_wss_connections":                     dto.MetricType_GAUGE,
	"notify_wss_sessions":                        dto.MetricType_GAUGE,
	"notify_wss_sockets":                         dto.MetricType_GAUGE,
	"notify_wss_rooms":                           dto.MetricType_GAUGE,
	"notify_wss_tcp_accepted_total":              dto.MetricType_COUNTER,
	"notify_wss_room_joins_total":                dto.MetricType_COUNTER,
	"notify_wss_room_leaves_total":               dto.MetricType_COUNTER,
	"notify_wss_notifications_received_total":    dto.MetricType_COUNTER,
	"notify_wss_notifications_invalid_total":     dto.MetricType_COUNTER,
	"notify_wss_notifications_unroutable_total":  dto.MetricType_COUNTER,
	"notify_wss_emitter_refused_total":           dto.MetricType_COUNTER,
	"notify_wss_deliveries_total":                dto.MetricType_COUNTER,
	"notify_wss_delivered_bytes_total":           dto.MetricType_COUNTER,
	"notify_wss_compressed_frames_total":         dto.MetricType_COUNTER,
	"notify_wss_inflated_messages_total":         dto.MetricType_COUNTER,
	"notify_wss_slow_consumer_disconnects_total": dto.MetricType_COUNTER,
	"notify_wss_auth_failures_total":             dto.MetricType_COUNTER,
	"notify_wss_disconnects_total":               dto.MetricType_COUNTER,
	"notify_wss_accept_errors_total":             dto.MetricType_COUNTER,
	"notify_wss_tcp_shed_total":                  dto.MetricType_COUNTER,
	"notify_wss_shed_messages_total":             dto.MetricType_COUNTER,
	"notify_wss_shed_bytes_total":                dto.MetricType_COUNTER,
	"notify_wss_queued_messages":                 dto.MetricType_GAUGE,
	"notify_wss_queued_bytes":                    dto.MetricType_GAUGE,
	"notify_wss_redis_connected":                 dto.MetricType_GAUGE,
	"notify_wss_redis_reconnects_total":          dto.MetricType_COUNTER,
	"notify_wss_redis_subscriptions":             dto.MetricType_GAUGE,
	"notify_wss_redis_subscribe_commands_total":  dto.MetricType_COUNTER,
	"notify_wss_message_over_releases_total":     dto.MetricType_COUNTER,
	"notify_wss_build_info":                      dto.MetricType_GAUGE,
	"notify_wss_write_latency_seconds":           dto.MetricType_HISTOGRAM,
}

// testMetrics returns metrics over a server that is not running and a bridge
// that is not connected: every value is zero, every series is there.
func testMetrics(t *testing.T) *metrics {
	t.Helper()
	br, err := bridge.New(bridge.Config{URL: "redis://127.0.0.1:1"}, func(m *bridge.Message) { m.Release() })
	if err != nil {
		t.Fatal(err)
	}
	return newMetrics(engine.New(engine.Config{}, nil), br, nil, "test")
}

// TestMetricsExposition checks the rendering alone: the text format, every
// family with its type, and promlint's naming rules.
func TestMetricsExposition(t *testing.T) {
	m := testMetrics(t)
	status, ctype, body := m.render()
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if !strings.HasPrefix(ctype, "text/plain; version=0.0.4") {
		t.Errorf("content type %q, want the text format", ctype)
	}
	fams := promtest.Parse(t, body)
	for name, typ := range serviceMetrics {
		f, ok := fams[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s is a %v, want a %v", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "notify_wss_") {
			if _, ok := serviceMetrics[name]; !ok {
				t.Errorf("%s is not in the test's list (nor, probably, in the README)", name)
			}
		}
	}
	for _, kind := range []string{"user", "channel", "global", "emitter"} {
		if v := fams.Value(t, "notify_wss_notifications_received_total", "kind", kind); v != 0 {
			t.Errorf("received{kind=%q} = %v on a fresh bridge", kind, v)
		}
	}
	for _, tr := range []string{"websocket", "polling"} {
		fams.Value(t, "notify_wss_connections", "transport", tr)
	}
	if v := fams.Value(t, "notify_wss_redis_connected"); v != 0 {
		t.Errorf("redis_connected = %v before Run", v)
	}
	// The process collector is what shows open descriptors against the limit.
	for _, name := range []string{"process_open_fds", "process_max_fds", "go_goroutines"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}

	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "notify_wss_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestServiceServeHTTP checks the engine handler's routing and /health's
// body on a service that is not running.
func TestServiceServeHTTP(t *testing.T) {
	svc, err := New(Config{RedisURL: "redis://127.0.0.1:1", JWTSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var w engine.Response
	if svc.serveHTTP("/other", &w) {
		t.Error("serveHTTP took /other")
	}
	if !svc.serveHTTP("/metrics", &w) {
		t.Error("serveHTTP declined /metrics")
	}
	var h map[string]any
	if err := json.Unmarshal(svc.healthJSON(), &h); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "timestamp", "connectedClients", "totalSockets", "rooms", "roomCount", "transports", "redis"} {
		if _, ok := h[k]; !ok {
			t.Errorf("/health has no %q: %v", k, h)
		}
	}
	if h["status"] != "healthy" {
		t.Errorf(`/health status %v, want "healthy"`, h["status"])
	}
}

// TestMetricsObserveWritten checks the write-latency hook: labelled by kind,
// and free of allocations (it would run on the delivery path).
func TestMetricsObserveWritten(t *testing.T) {
	m := testMetrics(t)
	msg, err := bridge.NewMessage("user-notifications:u1", bridge.KindUser, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer msg.Release()
	m.observeWritten(msg)
	// Observations: 1 above, 1 AllocsPerRun warm-up, 100 runs.
	allocs := testing.AllocsPerRun(100, func() { m.observeWritten(msg) })
	if allocs != 0 {
		t.Errorf("observeWritten allocates %v times", allocs)
	}
	_, _, body := m.render()
	fams := promtest.Parse(t, body)
	if n := fams.Value(t, "notify_wss_write_latency_seconds", "kind", "user"); n != 102 {
		t.Errorf("user observations = %v, want 102", n)
	}
	if n := fams.Value(t, "notify_wss_write_latency_seconds", "kind", "global"); n != 0 {
		t.Errorf("global observations = %v, want 0", n)
	}
}

// blockingGatherer answers with its call number, once release lets it.
type blockingGatherer struct {
	calls   atomic.Int32
	release chan struct{}
}

func (g *blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	n := g.calls.Add(1)
	if n > 1 {
		<-g.release
	}
	name, v := "calls", float64(n)
	return []*dto.MetricFamily{{
		Name: &name, Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: &v}}},
	}}, nil
}

// wait bounds what a test waits for.
const wait = 10 * time.Second

// TestMetricsBackgroundGatherer checks that a scrape never waits for the
// slow gatherer: it gets the previous result while the next one runs.
func TestMetricsBackgroundGatherer(t *testing.T) {
	g := &blockingGatherer{release: make(chan struct{})}
	bg := newBackgroundGatherer(g) // first call, synchronous
	value := func() float64 {
		done := make(chan []*dto.MetricFamily)
		go func() { mfs, _ := bg.Gather(); done <- mfs }()
		select {
		case mfs := <-done:
			return mfs[0].GetMetric()[0].GetGauge().GetValue()
		case <-time.After(wait):
			t.Fatal("Gather blocked on the slow gatherer")
			return 0
		}
	}
	if v := value(); v != 1 { // starts call 2, which blocks
		t.Errorf("first scrape = %v, want 1", v)
	}
	if v := value(); v != 1 { // call 2 still running: no call 3
		t.Errorf("second scrape = %v, want 1", v)
	}
	close(g.release)
	deadline := time.Now().Add(wait)
	for value() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the background result never arrived")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkMetricsScrape measures what one scrape costs an event loop: the
// fresh gathering and the encoding, without the background refresh of the
// runtime and process series (which runs on a goroutine of its own).
func BenchmarkMetricsScrape(b *testing.B) {
	br, err := bridge.New(bridge.Config{URL: "redis://127.0.0.1:1"}, func(m *bridge.Message) { m.Release() })
	if err != nil {
		b.Fatal(err)
	}
	m := newMetrics(engine.New(engine.Config{}, nil), br, nil, "test")
	m.bg.busy.Store(true) // as if a refresh were always running
	b.ReportAllocs()
	var size int
	for b.Loop() {
		_, _, body := m.render()
		size = len(body)
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/engine"
)

// families is one parsed scrape.
type families map[string]*dto.MetricFamily

// parseExposition parses the Prometheus text format.
func parseExposition(t *testing.T, body []byte) families {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the series name{labels...} (label pairs as
// "k", "v", …), failing the test when it is absent.
func (f families) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := f.lookup(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in the scrape", name, labels)
	}
	return v
}

func (f families) lookup(name string, labels ...string) (float64, bool) {
	fam, ok := f[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) != len(labels)/2 {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch fam.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		default:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

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
	"notify_wss_deliveries_total":                dto.MetricType_COUNTER,
	"notify_wss_delivered_bytes_total":           dto.MetricType_COUNTER,
	"notify_wss_slow_consumer_disconnects_total": dto.MetricType_COUNTER,
	"notify_wss_auth_failures_total":             dto.MetricType_COUNTER,
	"notify_wss_redis_connected":                 dto.MetricType_GAUGE,
	"notify_wss_redis_reconnects_total":          dto.MetricType_COUNTER,
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
	return newMetrics(engine.New(engine.Config{}, nil), br)
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
	fams := parseExposition(t, body)
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
	for _, kind := range []string{"user", "channel", "global"} {
		if v := fams.value(t, "notify_wss_notifications_received_total", "kind", kind); v != 0 {
			t.Errorf("received{kind=%q} = %v on a fresh bridge", kind, v)
		}
	}
	for _, tr := range []string{"websocket", "polling"} {
		fams.value(t, "notify_wss_connections", "transport", tr)
	}
	if v := fams.value(t, "notify_wss_redis_connected"); v != 0 {
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

// TestMetricsServeHTTP checks the engine handler's routing.
func TestMetricsServeHTTP(t *testing.T) {
	m := testMetrics(t)
	var w engine.Response
	if m.serveHTTP("/other", &w) {
		t.Error("serveHTTP took /other")
	}
	if !m.serveHTTP("/metrics", &w) {
		t.Error("serveHTTP declined /metrics")
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
	fams := parseExposition(t, body)
	if n := fams.value(t, "notify_wss_write_latency_seconds", "kind", "user"); n != 102 {
		t.Errorf("user observations = %v, want 102", n)
	}
	if n := fams.value(t, "notify_wss_write_latency_seconds", "kind", "global"); n != 0 {
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

// scrape fetches and parses the server's /metrics.
func (s *server) scrape() families {
	s.t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		s.t.Fatalf("GET /metrics: 404: serve.go does not set engine.Config.HTTPHandler to metrics.serveHTTP")
	}
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /metrics: %s: %s", resp.Status, buf.Bytes())
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		s.t.Errorf("GET /metrics: Content-Type %q", ct)
	}
	return parseExposition(s.t, buf.Bytes())
}

// series names one series: a family and at most one label pair.
type series struct{ name, label, value string }

func (s series) labels() []string {
	if s.label == "" {
		return nil
	}
	return []string{s.label, s.value}
}

func (s series) String() string {
	if s.label == "" {
		return s.name
	}
	return fmt.Sprintf("%s{%s=%q}", s.name, s.label, s.value)
}

func ser(name string, label ...string) series {
	s := series{name: name}
	if len(label) == 2 {
		s.label, s.value = label[0], label[1]
	}
	return s
}

// expectMetrics scrapes until every series has the wanted value (counters
// are added by the loops after the write, so a client may see a message a
// moment before it is counted) and fails with the differences otherwise.
// Because the wait is for equality, a counter that overshoots fails too.
func (s *server) expectMetrics(want map[series]float64) families {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		fams := s.scrape()
		var diffs []string
		for sr, v := range want {
			got, ok := fams.lookup(sr.name, sr.labels()...)
			if !ok || got != v {
				diffs = append(diffs, fmt.Sprintf("%v = %v (present %v), want %v", sr, got, ok, v))
			}
		}
		if len(diffs) == 0 {
			return fams
		}
		if time.Now().After(deadline) {
			sort.Strings(diffs)
			s.t.Fatalf("metrics did not reach the expected values:\n  %s", strings.Join(diffs, "\n  "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// frameLen is the size of the WebSocket frame a notification payload becomes:
// header + 42["notification",<payload>].
func frameLen(payload string) float64 {
	n := len(`42["notification",`) + len(payload) + len(`]`)
	switch {
	case n <= 125:
		return float64(2 + n)
	case n <= 65535:
		return float64(4 + n)
	}
	return float64(10 + n)
}

// TestMetricsEndToEnd drives the real binary with real clients and a real
// Redis and checks that every counter moves by exactly what happened.
func TestMetricsEndToEnd(t *testing.T) {
	rd, srv, d := env(t)
	base := srv.scrape()
	c := func(sr series) float64 { return base.value(t, sr.name, sr.labels()...) }

	var (
		sockets    = ser("notify_wss_sockets")
		sessions   = ser("notify_wss_sessions")
		ws         = ser("notify_wss_connections", "transport", "websocket")
		polling    = ser("notify_wss_connections", "transport", "polling")
		rooms      = ser("notify_wss_rooms")
		joins      = ser("notify_wss_room_joins_total")
		leaves     = ser("notify_wss_room_leaves_total")
		recvUser   = ser("notify_wss_notifications_received_total", "kind", "user")
		recvChan   = ser("notify_wss_notifications_received_total", "kind", "channel")
		recvGlobal = ser("notify_wss_notifications_received_total", "kind", "global")
		invalid    = ser("notify_wss_notifications_invalid_total")
		deliveries = ser("notify_wss_deliveries_total")
		bytesOut   = ser("notify_wss_delivered_bytes_total")
		authFail   = ser("notify_wss_auth_failures_total")
		slow       = ser("notify_wss_slow_consumer_disconnects_total")
		redisUp    = ser("notify_wss_redis_connected")
		reconnects = ser("notify_wss_redis_reconnects_total")
		overRel    = ser("notify_wss_message_over_releases_total")
		accepted   = ser("notify_wss_tcp_accepted_total")
	)
	// A fresh server: nothing connected, every counter at zero but the
	// accepted connections of the readiness probes and this scrape.
	for _, sr := range []series{sockets, sessions, ws, polling, rooms, joins, leaves, recvUser, recvChan,
		recvGlobal, invalid, deliveries, bytesOut, authFail, slow, reconnects, overRel} {
		if v := c(sr); v != 0 {
			t.Errorf("fresh server: %v = %v", sr, v)
		}
	}
	if c(redisUp) != 1 {
		t.Errorf("fresh server: redis_connected = %v", c(redisUp))
	}
	if bi := base["notify_wss_build_info"].GetMetric(); len(bi) != 1 || bi[0].GetGauge().GetValue() != 1 {
		t.Errorf("build_info = %v", bi)
	} else if _, ok := base.lookup("notify_wss_build_info", "version", buildVersion(), "goversion", runtime.Version()); !ok {
		t.Errorf("build_info labels = %v", bi[0].GetLabel())
	}

	// One WebSocket client: one session, one socket, its own user room.
	connect(t, d, "a", srv.URL, wsOnly(userToken(t, "m1")))
	got := srv.expectMetrics(map[series]float64{
		sockets: 1, sessions: 1, ws: 1, polling: 0, rooms: 1, joins: 1, leaves: 0,
	})
	if got.value(t, accepted.name) <= c(accepted) {
		t.Errorf("tcp_accepted_total did not grow: %v", got.value(t, accepted.name))
	}

	// A channel room: one more join and room.
	d.WaitAck("a", d.EmitAck("a", "join-channel-notifications", "c1"), wait)
	srv.expectMetrics(map[series]float64{joins: 2, rooms: 2})

	// A user notification: received once, delivered once, its frame written.
	userPayload := `{"type":"TIP","amount":5}`
	rd.Publish(t, "user:notifications:m1", userPayload)
	d.Wait("a", "event", "notification", wait)
	srv.expectMetrics(map[series]float64{
		recvUser: 1, recvChan: 0, recvGlobal: 0, deliveries: 1, bytesOut: frameLen(userPayload),
	})

	// A channel notification.
	chanPayload := `{"type":"FOLLOW","channel":"c1"}`
	rd.Publish(t, "channel:notifications:c1", chanPayload)
	d.Wait("a", "event", "notification", wait)
	srv.expectMetrics(map[series]float64{
		recvUser: 1, recvChan: 1, deliveries: 2, bytesOut: frameLen(userPayload) + frameLen(chanPayload),
	})

	// A global notification nobody joined: received, not delivered. Invalid
	// JSON: counted as invalid, neither received nor delivered.
	rd.Publish(t, "notifications:all", `{"type":"ANNOUNCEMENT"}`)
	rd.Publish(t, "user:notifications:m1", `not json`)
	srv.expectMetrics(map[series]float64{recvGlobal: 1, invalid: 1, recvUser: 1, deliveries: 2})
	d.NoEvent("a", "event", "notification", 200*time.Millisecond)

	// Leaving the channel room.
	d.WaitAck("a", d.EmitAck("a", "leave-channel-notifications", "c1"), wait)
	srv.expectMetrics(map[series]float64{leaves: 1, rooms: 1})

	// A bad token: one auth failure, no socket (socket.io-client then closes
	// its Engine.IO session, which the next step's session count checks).
	d.Connect("bad", srv.URL, map[string]any{"transports": []string{"websocket"}, "auth": map[string]any{"token": "not.a.jwt"}, "reconnection": false})
	d.Wait("bad", "connect_error", "", wait)
	srv.expectMetrics(map[series]float64{authFail: 1, sockets: 1})

	// A polling client.
	connect(t, d, "p", srv.URL, map[string]any{"transports": []string{"polling"}, "auth": map[string]any{"token": userToken(t, "m2")}})
	srv.expectMetrics(map[series]float64{sockets: 2, sessions: 2, ws: 1, polling: 1, rooms: 2, joins: 3})
	rd.Publish(t, "user:notifications:m2", `{"to":"polling"}`)
	d.Wait("p", "event", "notification", wait)
	// Deliveries count polling members; written bytes only WebSocket frames.
	srv.expectMetrics(map[series]float64{recvUser: 2, deliveries: 3, bytesOut: frameLen(userPayload) + frameLen(chanPayload)})

	// The write-latency histogram: one observation per notification that
	// reached a member (two user ones, one channel one), none for the
	// global one nobody had joined.
	latUser := ser("notify_wss_write_latency_seconds", "kind", "user")
	latChan := ser("notify_wss_write_latency_seconds", "kind", "channel")
	latGlobal := ser("notify_wss_write_latency_seconds", "kind", "global")
	srv.expectMetrics(map[series]float64{latUser: 2, latChan: 1, latGlobal: 0})

	// Disconnecting leaves the rooms.
	d.Disconnect("a")
	d.Disconnect("p")
	srv.expectMetrics(map[series]float64{sockets: 0, rooms: 0, leaves: 3, joins: 3})

	// Redis down and back: the gauge follows, the reconnect is counted.
	rd.Stop()
	srv.expectMetrics(map[series]float64{redisUp: 0, reconnects: 0})
	if st, _ := srv.get("/ready"); st != http.StatusServiceUnavailable {
		t.Errorf("/ready = %d with redis down", st)
	}
	rd.Restart()
	srv.expectMetrics(map[series]float64{redisUp: 1, reconnects: 1})

	srv.expectMetrics(map[series]float64{slow: 0, overRel: 0})
}

// BenchmarkMetricsScrape measures what one scrape costs an event loop: the
// fresh gathering and the encoding, without the background refresh of the
// runtime and process series (which runs on a goroutine of its own).
func BenchmarkMetricsScrape(b *testing.B) {
	br, err := bridge.New(bridge.Config{URL: "redis://127.0.0.1:1"}, func(m *bridge.Message) { m.Release() })
	if err != nil {
		b.Fatal(err)
	}
	m := newMetrics(engine.New(engine.Config{}, nil), br)
	m.bg.busy.Store(true) // as if a refresh were always running
	b.ReportAllocs()
	var size int
	for b.Loop() {
		_, _, body := m.render()
		size = len(body)
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

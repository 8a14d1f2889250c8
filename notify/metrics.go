package notify

import (
	"bytes"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/engine"
)

// metricsPath is where Prometheus scrapes.
const metricsPath = "/metrics"

// metrics serves /metrics in the Prometheus text format. Nothing is counted
// on the hot path for it: the engine and the bridge keep their counters in
// atomics anyway, and a custom collector reads them on scrape, so a
// delivery costs no lock and no allocation more than without metrics.
//
// A scrape is answered on an event loop, so what it gathers there must be
// cheap: the service's own series (atomics) are read fresh; the Go runtime
// and process series, whose collection reads /proc (process_open_fds lists
// /proc/self/fd, a million entries at a million sockets), are gathered on a
// goroutine the scrape starts and served from the previous one's result, so
// they are up to one scrape interval old.
type metrics struct {
	bg      *backgroundGatherer // runtime and process series
	handler http.Handler        // serves both registries

	// written holds notify_wss_write_latency_seconds' children by kind,
	// resolved once so that observeWritten does no label look-up.
	written [bridge.NumKinds]prometheus.Observer
}

// newMetrics builds the registries; srv and br may be nil (tests).
func newMetrics(srv *engine.Server, br *bridge.Bridge, rec *recovery, version string) *metrics {
	reg := prometheus.NewRegistry() // gathered fresh on every scrape
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "notify_wss_write_latency_seconds",
		Help: "Time from reading a notification from Redis to the last event loop having written it to its members; one observation per notification that reached at least one member.",
		// 100µs (a small room, idle server) to 5s (a global fan-out to a
		// million sockets on a busy server).
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"kind"})
	reg.MustRegister(&collector{srv: srv, br: br, rec: rec, version: version}, latency)

	slow := prometheus.NewRegistry()
	slow.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	background := newBackgroundGatherer(slow)

	m := &metrics{
		bg: background,
		// No compression (the request's headers are not passed on anyway),
		// no timeout goroutine: the handler runs inline on an event loop.
		handler: promhttp.HandlerFor(prometheus.Gatherers{reg, background}, promhttp.HandlerOpts{
			DisableCompression: true,
			ErrorHandling:      promhttp.ContinueOnError,
		}),
	}
	for k := range m.written {
		m.written[k] = latency.WithLabelValues(bridge.Kind(k).String())
	}
	return m
}

// observeWritten records a notification's Redis-to-last-write latency. It
// is the bridge's OnWritten hook: called once per notification that reached
// a member, on the event loop that released it last; no lock, no allocation.
func (m *metrics) observeWritten(bm *bridge.Message) {
	if int(bm.Kind) >= len(m.written) {
		return
	}
	m.written[bm.Kind].Observe(time.Since(bm.Received).Seconds())
}

// backgroundGatherer serves the result of the previous gathering of g and
// starts the next one on a goroutine of its own, so the caller never waits
// for g. It gathers once, synchronously, when created (at startup, while
// there are few descriptors to list).
type backgroundGatherer struct {
	g    prometheus.Gatherer
	last atomic.Pointer[[]*dto.MetricFamily] // read-only once stored
	busy atomic.Bool
}

func newBackgroundGatherer(g prometheus.Gatherer) *backgroundGatherer {
	b := &backgroundGatherer{g: g}
	b.busy.Store(true)
	b.refresh()
	return b
}

func (b *backgroundGatherer) refresh() {
	defer b.busy.Store(false)
	if mfs, err := b.g.Gather(); len(mfs) > 0 || err == nil {
		b.last.Store(&mfs)
	}
}

// Gather returns the last result; Gatherers copies the families it merges
// and only reads the metrics, so concurrent scrapes may share them.
func (b *backgroundGatherer) Gather() ([]*dto.MetricFamily, error) {
	if b.busy.CompareAndSwap(false, true) {
		go b.refresh()
	}
	if p := b.last.Load(); p != nil {
		return *p, nil
	}
	return nil, nil
}

// render gathers the registry and encodes it in the text exposition format
// (the format promhttp picks when a request has no Accept header). It
// returns a fresh body each time: the engine copies it after the handler has
// returned, and several loops may scrape at once.
func (m *metrics) render() (status int, contentType string, body []byte) {
	rw := &bufferResponse{header: http.Header{}, status: http.StatusOK}
	m.handler.ServeHTTP(rw, scrapeRequest)
	return rw.status, rw.header.Get("Content-Type"), rw.body.Bytes()
}

// scrapeRequest is what promhttp is handed for every scrape: a GET with no
// headers. promhttp only reads its headers and context.
var scrapeRequest = func() *http.Request {
	r, err := http.NewRequest(http.MethodGet, metricsPath, nil)
	if err != nil {
		panic(err)
	}
	return r
}()

// bufferResponse is an http.ResponseWriter into memory.
type bufferResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferResponse) Header() http.Header         { return b.header }
func (b *bufferResponse) WriteHeader(status int)      { b.status = status }
func (b *bufferResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// collector turns the engine's and the bridge's atomics into metrics on
// every scrape. Counters are cumulative since the process started; gauges
// are the current values.
type collector struct {
	srv     *engine.Server
	br      *bridge.Bridge
	rec     *recovery // nil when recovery is off
	version string
}

// Metric names and help. Keep the README's metrics table in step.
var (
	descConnections = prometheus.NewDesc("notify_wss_connections",
		"Open Engine.IO sessions (clients), by current transport.", []string{"transport"}, nil)
	descSessions = prometheus.NewDesc("notify_wss_sessions",
		"Open Engine.IO sessions, including those still in the handshake.", nil, nil)
	descSockets = prometheus.NewDesc("notify_wss_sockets",
		"Connected (authenticated) Socket.IO sockets.", nil, nil)
	descRooms = prometheus.NewDesc("notify_wss_rooms",
		"Rooms with at least one member.", nil, nil)
	descAccepted = prometheus.NewDesc("notify_wss_tcp_accepted_total",
		"TCP connections accepted (WebSocket, polling and plain HTTP).", nil, nil)
	descAcceptErrors = prometheus.NewDesc("notify_wss_accept_errors_total",
		"Failed accept(2) calls by errno; the server keeps serving its connections and retries with backoff.", []string{"errno"}, nil)
	descAcceptShed = prometheus.NewDesc("notify_wss_tcp_shed_total",
		"Connections answered 503 and closed at accept because the process was out of descriptors.", nil, nil)
	descJoins = prometheus.NewDesc("notify_wss_room_joins_total",
		"Sockets added to a room (the automatic user room and join- requests).", nil, nil)
	descLeaves = prometheus.NewDesc("notify_wss_room_leaves_total",
		"Sockets removed from a room (leave- requests and disconnects).", nil, nil)
	descReceived = prometheus.NewDesc("notify_wss_notifications_received_total",
		"Notifications received from Redis and handed to the engine, by channel kind.", []string{"kind"}, nil)
	descInvalid = prometheus.NewDesc("notify_wss_notifications_invalid_total",
		"Notifications dropped because the payload was not valid UTF-8 JSON.", nil, nil)
	descDropped = prometheus.NewDesc("notify_wss_notifications_unroutable_total",
		"Redis messages dropped because their channel maps to no room (e.g. empty id).", nil, nil)
	descDeliveries = prometheus.NewDesc("notify_wss_deliveries_total",
		"Notification packets handed to sockets (one per notification per member).", nil, nil)
	descBytes = prometheus.NewDesc("notify_wss_delivered_bytes_total",
		"Notification bytes (WebSocket frames) written to WebSocket members.", nil, nil)
	descCompressed = prometheus.NewDesc("notify_wss_compressed_frames_total",
		"Deliveries written as permessage-deflate frames (COMPRESSION=on, to clients that negotiated it); each notification is compressed once, whatever its members.", nil, nil)
	descInflated = prometheus.NewDesc("notify_wss_inflated_messages_total",
		"Compressed (permessage-deflate) client messages inflated.", nil, nil)
	descSlow = prometheus.NewDesc("notify_wss_slow_consumer_disconnects_total",
		"Connections closed because their unsent output exceeded MAX_OUTBOUND.", nil, nil)
	descShed = prometheus.NewDesc("notify_wss_shed_messages_total",
		"Notifications an event loop dropped from its queue unwritten, once per loop: past MAX_QUEUE_MESSAGES/MAX_QUEUE_BYTES (full) or older than MAX_QUEUE_AGE (stale).", []string{"reason"}, nil)
	descShedBytes = prometheus.NewDesc("notify_wss_shed_bytes_total",
		"Frame bytes of the notifications shed.", nil, nil)
	descQueued = prometheus.NewDesc("notify_wss_queued_messages",
		"Notifications waiting in the event loops' queues (once per loop).", nil, nil)
	descQueuedBytes = prometheus.NewDesc("notify_wss_queued_bytes",
		"Frame bytes of the notifications waiting in the event loops' queues.", nil, nil)
	descDisconnects = prometheus.NewDesc("notify_wss_disconnects_total",
		"Sessions ended, and sockets disconnected from their namespace, by reason (engine.CloseReason).", []string{"reason"}, nil)
	descAuthFailures = prometheus.NewDesc("notify_wss_auth_failures_total",
		"Socket.IO CONNECTs refused (token missing, expired or invalid).", nil, nil)
	descRedisUp = prometheus.NewDesc("notify_wss_redis_connected",
		"1 while the Redis subscription is live, else 0 (then /ready answers 503).", nil, nil)
	descReconnects = prometheus.NewDesc("notify_wss_redis_reconnects_total",
		"Redis subscriptions re-established after a loss.", nil, nil)
	descSubscriptions = prometheus.NewDesc("notify_wss_redis_subscriptions",
		"Channels and patterns the Redis subscriber connection holds (REDIS_SUBSCRIBE=dynamic: notifications:all and one channel per room with members here, or in its unsubscribe grace); 0 while disconnected.", nil, nil)
	descSubscribeCommands = prometheus.NewDesc("notify_wss_redis_subscribe_commands_total",
		"Subscription commands sent to Redis: subscribe counts SUBSCRIBE and PSUBSCRIBE, unsubscribe UNSUBSCRIBE; each names up to 500 channels.", []string{"command"}, nil)
	descEmitterRefused = prometheus.NewDesc("notify_wss_emitter_refused_total",
		"Socket.IO emitter messages refused (EMITTER=on), by reason: binary, namespace (not \"/\"), flags, malformed. Delivered ones count as notifications received of kind emitter.", []string{"reason"}, nil)
	descStreamEntries = prometheus.NewDesc("notify_wss_stream_entries_total",
		"REDIS_INPUT=streams: stream entries read, live or at the start for recovery history (backfill).", []string{"phase"}, nil)
	descStreamErrors = prometheus.NewDesc("notify_wss_stream_read_errors_total",
		"REDIS_INPUT=streams: failed stream reads; each reconnects and resumes from the last id read.", nil, nil)
	descStreamTrims = prometheus.NewDesc("notify_wss_stream_trims_total",
		"REDIS_INPUT=streams: XTRIM MINID ~ commands sent, by result.", []string{"result"}, nil)
	descStreamLastID = prometheus.NewDesc("notify_wss_stream_last_id_seconds",
		"REDIS_INPUT=streams: the time (Unix seconds, Redis's clock) in the id of the last entry read, per partition.", []string{"partition"}, nil)
	descOverReleases = prometheus.NewDesc("notify_wss_message_over_releases_total",
		"Broadcast message releases without a reference left: a bug if ever above 0.", nil, nil)
	descRecoveries = prometheus.NewDesc("notify_wss_recoveries_total",
		"Sockets recovered (connection state recovery): same socket id, rooms, and the notifications missed replayed.", nil, nil)
	descRecoveryFailures = prometheus.NewDesc("notify_wss_recovery_failures_total",
		"Recovery attempts that became new connections, by reason (unknown session, another user, offset too old, invalid offset, …).", []string{"reason"}, nil)
	descReplayed = prometheus.NewDesc("notify_wss_recovery_replayed_total",
		"Notifications replayed to recovered sockets.", nil, nil)
	descHeld = prometheus.NewDesc("notify_wss_recovery_sessions",
		"Disconnected sessions held for recovery (for RECOVERY_WINDOW).", nil, nil)
	descSessionWrites = prometheus.NewDesc("notify_wss_recovery_session_writes_total",
		"REDIS_INPUT=streams: writes of recoverable sessions to Redis (at connect, join, leave, token refresh and disconnect), by result.", []string{"result"}, nil)
	descHistoryMessages = prometheus.NewDesc("notify_wss_recovery_history_messages",
		"Notifications kept for recovery.", nil, nil)
	descHistoryBytes = prometheus.NewDesc("notify_wss_recovery_history_bytes",
		"Memory of the notifications kept for recovery (frames and bookkeeping), bounded by RECOVERY_MAX_BYTES.", nil, nil)
	descHistoryRooms = prometheus.NewDesc("notify_wss_recovery_history_rooms",
		"Rooms with notifications kept for recovery.", nil, nil)
	descHistoryEvicted = prometheus.NewDesc("notify_wss_recovery_history_evicted_total",
		"Notifications dropped from the recovery history for its byte caps (the window's expiry not counted).", nil, nil)
	descBuildInfo = prometheus.NewDesc("notify_wss_build_info",
		"Always 1; labels carry the build.", []string{"version", "goversion"}, nil)
)

var allDescs = []*prometheus.Desc{
	descConnections, descSessions, descSockets, descRooms, descAccepted, descAcceptErrors, descAcceptShed,
	descJoins, descLeaves, descReceived, descInvalid, descDropped,
	descDeliveries, descBytes, descCompressed, descInflated, descSlow, descShed, descShedBytes, descQueued, descQueuedBytes, descDisconnects, descAuthFailures, descRedisUp,
	descReconnects, descSubscriptions, descSubscribeCommands, descOverReleases, descBuildInfo,
	descRecoveries, descRecoveryFailures, descReplayed, descHeld, descSessionWrites, descHistoryMessages, descHistoryBytes,
	descHistoryRooms, descHistoryEvicted,
	descEmitterRefused,
	descStreamEntries, descStreamErrors, descStreamTrims, descStreamLastID,
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descBuildInfo, 1, c.version, runtime.Version())
	counter(descOverReleases, bridge.OverReleases())

	if c.srv != nil {
		st := c.srv.Stats()
		gauge(descConnections, float64(st.WebSocket), "websocket")
		gauge(descConnections, float64(st.Polling), "polling")
		gauge(descSessions, float64(st.Sessions))
		gauge(descSockets, float64(st.Sockets))
		gauge(descRooms, float64(st.Rooms))

		n := c.srv.Counters()
		counter(descAccepted, n.Accepted)
		counter(descAcceptShed, n.AcceptShed)
		for class, v := range c.srv.AcceptErrors() {
			counter(descAcceptErrors, v, engine.AcceptError(class).String())
		}
		counter(descJoins, n.Joins)
		counter(descLeaves, n.Leaves)
		counter(descDeliveries, n.Deliveries)
		counter(descBytes, n.BytesWritten)
		counter(descCompressed, n.Compressed)
		counter(descInflated, n.Inflated)
		counter(descSlow, n.SlowConsumers)
		counter(descAuthFailures, n.AuthFailures)
		counter(descShed, n.Shed-n.ShedStale, "full")
		counter(descShed, n.ShedStale, "stale")
		counter(descShedBytes, n.ShedBytes)
		qm, qb := c.srv.Queued()
		gauge(descQueued, float64(qm))
		gauge(descQueuedBytes, float64(qb))
		for r, v := range n.Disconnects {
			counter(descDisconnects, v, engine.CloseReason(r).String())
		}
	}

	if r := c.rec; r != nil {
		counter(descRecoveries, r.recovered.Load())
		counter(descReplayed, r.replayed.Load())
		for reason, v := range r.Failed() {
			counter(descRecoveryFailures, v, reason)
		}
		gauge(descHeld, float64(r.Held()))
		if st := r.store; st != nil {
			counter(descSessionWrites, st.written.Load(), "written")
			counter(descSessionWrites, st.failed.Load(), "failed")
			counter(descSessionWrites, st.dropped.Load(), "dropped")
		}
		hs := r.hist.Stats()
		gauge(descHistoryMessages, float64(hs.Messages))
		gauge(descHistoryBytes, float64(hs.Bytes))
		gauge(descHistoryRooms, float64(hs.Rooms))
		counter(descHistoryEvicted, hs.Evicted)
	}

	if c.br != nil {
		bs := c.br.Stats()
		for k := range bs.Received {
			counter(descReceived, bs.Received[k], bridge.Kind(k).String())
		}
		counter(descInvalid, bs.Invalid)
		counter(descDropped, bs.Dropped)
		for r, v := range bs.EmitterRefused {
			counter(descEmitterRefused, v, bridge.RefuseReason(r).String())
		}
		counter(descReconnects, bs.Reconnects)
		up := 0.0
		if c.br.Connected() {
			up = 1
		}
		gauge(descRedisUp, up)
		ss := c.br.SubscriptionStats()
		gauge(descSubscriptions, float64(ss.Current))
		counter(descSubscribeCommands, ss.SubscribeCommands, "subscribe")
		counter(descSubscribeCommands, ss.UnsubscribeCommands, "unsubscribe")
		if st := c.br.StreamStats(); st.Last != nil {
			counter(descStreamEntries, st.Read, "live")
			counter(descStreamEntries, st.Backfilled, "backfill")
			counter(descStreamErrors, st.Errors)
			counter(descStreamTrims, st.Trims, "ok")
			counter(descStreamTrims, st.TrimErrors, "error")
			for p, id := range st.Last {
				gauge(descStreamLastID, float64(id.Ms)/1e3, strconv.Itoa(p))
			}
		}
	}
}

package runner

// direction says which way a metric is better.
type direction uint8

const (
	up   direction = iota // higher is better
	down                  // lower is better
	none                  // a count or a setting: neither
)

// metric is one row of a report table.
type metric struct {
	key   string // Result.Metrics key
	label string
	dir   direction
	// headline rows also appear in the summary at the top of the report.
	headline bool
}

// scenarioMetrics lists, per scenario, the rows of its table in order.
var scenarioMetrics = map[string][]metric{
	"connect": {
		{"connect.conns_per_s", "handshakes per second", up, true},
		{"connect.connect_p50_ms", "connect time p50 (ms)", down, false},
		{"connect.connect_p99_ms", "connect time p99 (ms)", down, true},
		{"connect.connect_max_ms", "connect time max (ms)", down, false},
		{"connect.srv_cpu_us_per_conn", "server CPU per connection (µs)", down, true},
		{"connect.failed", "failed handshakes", down, false},
		{"connect.gen_cpu_us_per_conn", "load generator CPU per connection (µs)", down, false},
	},
	"idle": {
		{"idle.rss_per_conn_kb", "server RSS per idle connection (KiB)", down, true},
		{"idle.rss_empty_mb", "server RSS, empty (MB)", none, false},
		{"idle.rss_mb", "server RSS with all connections (MB)", none, false},
		{"idle.srv_cpu_pct", "server CPU while idle (% of one core)", down, true},
		{"idle.pings_min", "heartbeats answered per client (min)", none, false},
		{"idle.ping_first_p50_s", "open packet → first ping, p50 (s)", none, false},
		{"idle.ping_first_max_s", "open packet → first ping, max (s)", none, false},
		{"idle.ping_gap_max_s", "ping → next ping, max (s; needs a hold over 2 intervals)", none, false},
		{"idle.closed", "connections lost while idle", down, false},
	},
	"fanout": {
		{"burst.deliveries_per_s", "burst: deliveries per second", up, true},
		{"burst.srv_cpu_s_per_1m", "burst: server CPU s per 1M deliveries", down, true},
		{"burst.lat_p50_ms", "burst: per-delivery latency p50 (ms)", down, false},
		{"burst.lat_p99_ms", "burst: per-delivery latency p99 (ms)", down, false},
		{"burst.lat_p999_ms", "burst: per-delivery latency p99.9 (ms)", down, false},
		{"burst.last_max_ms", "burst: publish → last delivery of the burst (ms)", down, false},
		{"paced.last_p50_ms", "paced: publish → last delivery, p50 over messages (ms)", down, true},
		{"paced.last_max_ms", "paced: publish → last delivery, max over messages (ms)", down, false},
		{"paced.lat_p50_ms", "paced: per-delivery latency p50 (ms)", down, false},
		{"paced.lat_p99_ms", "paced: per-delivery latency p99 (ms)", down, false},
		{"paced.lat_p999_ms", "paced: per-delivery latency p99.9 (ms)", down, false},
		{"paced.srv_cpu_s_per_1m", "paced: server CPU s per 1M deliveries", down, false},
		{"burst.srv_rss_peak_mb", "server RSS peak (MB)", down, false},
		{"burst.lost", "burst: lost deliveries", down, false},
		{"burst.dups", "burst: duplicate deliveries", down, false},
		{"paced.lost", "paced: lost deliveries", down, false},
		{"paced.dups", "paced: duplicate deliveries", down, false},
		{"burst.gen_cpu_s_per_1m", "load generator CPU s per 1M deliveries (burst)", down, false},
	},
	"unicast": {
		{"unicast.lat_p50_ms", "latency p50 (ms)", down, true},
		{"unicast.lat_p99_ms", "latency p99 (ms)", down, true},
		{"unicast.lat_p999_ms", "latency p99.9 (ms)", down, false},
		{"unicast.lat_max_ms", "latency max (ms)", down, false},
		{"unicast.deliveries_per_s", "deliveries per second", none, false},
		{"unicast.srv_cpu_s_per_1m", "server CPU s per 1M deliveries", down, false},
		{"unicast.lost", "lost deliveries", down, false},
		{"unicast.dups", "duplicate deliveries", down, false},
	},
	"churn": {
		{"churn.connects_per_s", "churn connects per second achieved", none, false},
		{"churn.connect_p50_ms", "churn connect time p50 (ms)", down, false},
		{"churn.connect_p99_ms", "churn connect time p99 (ms)", down, true},
		{"churn.failed", "churn handshakes failed", down, false},
		{"churn.srv_cpu_pct", "server CPU during churn (% of one core)", down, true},
		{"churn.last_p50_ms", "stable clients: publish → last delivery p50 (ms)", down, false},
		{"churn.lat_p99_ms", "stable clients: per-delivery latency p99 (ms)", down, false},
		{"churn.lost", "stable clients: lost deliveries", down, false},
		{"churn.dups", "stable clients: duplicate deliveries", down, false},
		{"churn.stable_closed", "stable clients disconnected", down, false},
	},
	"slow": {
		{"slow.lat_p50_ms", "healthy clients: latency p50 (ms)", down, false},
		{"slow.lat_p99_ms", "healthy clients: latency p99 (ms)", down, true},
		{"slow.lost", "healthy clients: lost deliveries", down, false},
		{"slow.dups", "healthy clients: duplicate deliveries", down, false},
		{"slow.slow_clients", "slow clients (stopped reading)", none, false},
		{"slow.slow_dropped", "slow clients dropped by the server", none, false},
		{"slow.slow_deliveries", "deliveries to slow clients after they resumed", none, false},
		{"slow.slow_expected", "deliveries published for slow clients", none, false},
		{"slow.srv_rss_peak_mb", "server RSS peak (MB)", down, true},
		{"slow.kernel_tcp_mem_peak_mb", "kernel TCP memory peak, whole box (MB)", down, false},
		{"slow.srv_cpu_s_per_1m", "server CPU s per 1M deliveries", down, false},
	},
	"flood": {
		{"flood.deliverable_msgs_per_s", "rate sustained by M messages back to back (messages/s)", none, false},
		{"flood.rate", "flood: published (messages/s, 5× that)", none, false},
		{"flood.srv_rss_peak_mb", "server RSS peak (MB)", down, true},
		{"flood.lat_p50_ms", "delivered: per-delivery latency p50 (ms)", down, false},
		{"flood.lat_p99_ms", "delivered: per-delivery latency p99 (ms)", down, true},
		{"flood.first_p50_ms", "publish → first delivery, p50 over messages (ms)", down, false},
		{"flood.delivered_pct", "deliveries made, % of messages × clients", none, false},
		{"flood.msgs_unseen", "messages no client received", none, false},
		{"flood.msgs_partial", "messages some clients received", none, false},
		{"flood.srv_shed", "broadcasts shed, server count (per event loop)", none, false},
		{"flood.clients_closed", "clients disconnected by the server", down, true},
		{"flood.srv_slow_consumers", "of which slow-consumer disconnects, server count", down, false},
		{"flood.kernel_tcp_mem_peak_mb", "kernel TCP memory peak, whole box (MB)", down, false},
		{"flood.srv_cpu_s_per_1m", "server CPU s per 1M deliveries", down, false},
		{"flood.dups", "duplicate deliveries", down, false},
	},
	"recovery": {
		{"recovery.cuts", "clients cut (TCP reset) while the stream flowed", none, false},
		{"recovery.recovered", "of which recovered (same socket id back)", up, true},
		{"recovery.lost", "lost deliveries", down, true},
		{"recovery.dups", "duplicate deliveries", down, true},
		{"recovery.reconnect_p50_ms", "recovery: re-dial → CONNECT reply, p50 (ms)", down, false},
		{"recovery.reconnect_p99_ms", "recovery: re-dial → CONNECT reply, p99 (ms)", down, true},
		{"recovery.last_p99_ms", "publish → last delivery, p99 over messages, replays included (ms)", down, false},
		{"recovery.lat_p50_ms", "per-delivery latency p50 (ms)", down, false},
		{"recovery.history_mb", "recovery history at the end, server count (MB)", none, false},
		{"recovery.srv_rss_peak_mb", "server RSS peak (MB)", down, false},
		{"recovery.srv_cpu_s_per_1m", "server CPU s per 1M deliveries", down, false},
	},
	"scaleout": {
		{"connect.ready", "connections held (all servers)", up, true},
		{"connect.conns_per_s", "handshakes per second", up, false},
		{"connect.failed", "failed handshakes", down, false},
		{"burst.deliveries_per_s", "burst: deliveries per second", up, true},
		{"burst.srv_cpu_s_per_1m", "burst: server CPU s per 1M deliveries", down, false},
		{"paced.last_p50_ms", "paced: publish → last delivery, p50 (ms)", down, true},
		{"paced.last_max_ms", "paced: publish → last delivery, max (ms)", down, false},
		{"paced.lat_p99_ms", "paced: per-delivery latency p99 (ms)", down, false},
		{"burst.srv_rss_peak_mb", "server RSS peak, all processes (MB)", down, false},
		{"burst.lost", "burst: lost deliveries", down, false},
		{"paced.lost", "paced: lost deliveries", down, false},
		{"paced.dups", "paced: duplicate deliveries", down, false},
		{"unicast.recv_ratio_max", "unicast: received from Redis ÷ own members' messages, max over instances", down, true},
		{"unicast.recv_ratio_min", "unicast: received from Redis ÷ own members' messages, min over instances", down, false},
		{"unicast.deliveries_per_s", "unicast: deliveries per second", none, false},
		{"unicast.srv_deliveries", "unicast: deliveries, server count (all instances)", none, false},
		{"unicast.lat_p99_ms", "unicast: latency p99 (ms)", down, false},
		{"unicast.redis_cpu_pct", "unicast: redis-server CPU (% of one core)", down, true},
		{"unicast.lost", "unicast: lost deliveries", down, false},
		{"unicast.dups", "unicast: duplicate deliveries", down, false},
	},
}

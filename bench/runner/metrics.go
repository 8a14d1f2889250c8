package runner

// metric is one row of a report table.
type metric struct {
	key    string // Result.Metrics key
	label  string
	higher bool // higher is better
	// headline rows also appear in the summary at the top of the report.
	headline bool
}

// scenarioMetrics lists, per scenario, the rows of its table in order.
var scenarioMetrics = map[string][]metric{
	"connect": {
		{"connect.conns_per_s", "handshakes per second", true, true},
		{"connect.connect_p50_ms", "connect time p50 (ms)", false, false},
		{"connect.connect_p99_ms", "connect time p99 (ms)", false, true},
		{"connect.connect_max_ms", "connect time max (ms)", false, false},
		{"connect.srv_cpu_us_per_conn", "server CPU per connection (µs)", false, true},
		{"connect.failed", "failed handshakes", false, false},
		{"connect.gen_cpu_us_per_conn", "load generator CPU per connection (µs)", false, false},
	},
	"idle": {
		{"idle.rss_per_conn_kb", "server RSS per idle connection (KB)", false, true},
		{"idle.rss_empty_mb", "server RSS, empty (MB)", false, false},
		{"idle.rss_mb", "server RSS with all connections (MB)", false, false},
		{"idle.srv_cpu_pct", "server CPU while idle (% of one core)", false, true},
		{"idle.pings_min", "heartbeats answered per client (min)", true, false},
		{"idle.closed", "connections lost while idle", false, false},
	},
	"fanout": {
		{"burst.deliveries_per_s", "burst: deliveries per second", true, true},
		{"burst.srv_cpu_s_per_1m", "burst: server CPU s per 1M deliveries", false, true},
		{"burst.lat_p50_ms", "burst: per-delivery latency p50 (ms)", false, false},
		{"burst.lat_p99_ms", "burst: per-delivery latency p99 (ms)", false, false},
		{"burst.lat_p999_ms", "burst: per-delivery latency p99.9 (ms)", false, false},
		{"burst.last_max_ms", "burst: publish → last delivery of the burst (ms)", false, false},
		{"paced.last_p50_ms", "paced: publish → last delivery, p50 over messages (ms)", false, true},
		{"paced.last_max_ms", "paced: publish → last delivery, max over messages (ms)", false, false},
		{"paced.lat_p50_ms", "paced: per-delivery latency p50 (ms)", false, false},
		{"paced.lat_p99_ms", "paced: per-delivery latency p99 (ms)", false, false},
		{"paced.lat_p999_ms", "paced: per-delivery latency p99.9 (ms)", false, false},
		{"paced.srv_cpu_s_per_1m", "paced: server CPU s per 1M deliveries", false, false},
		{"burst.srv_rss_peak_mb", "server RSS peak (MB)", false, false},
		{"burst.lost", "burst: lost deliveries", false, false},
		{"burst.dups", "burst: duplicate deliveries", false, false},
		{"paced.lost", "paced: lost deliveries", false, false},
		{"paced.dups", "paced: duplicate deliveries", false, false},
		{"burst.gen_cpu_s_per_1m", "load generator CPU s per 1M deliveries (burst)", false, false},
	},
	"unicast": {
		{"unicast.lat_p50_ms", "latency p50 (ms)", false, true},
		{"unicast.lat_p99_ms", "latency p99 (ms)", false, true},
		{"unicast.lat_p999_ms", "latency p99.9 (ms)", false, false},
		{"unicast.lat_max_ms", "latency max (ms)", false, false},
		{"unicast.deliveries_per_s", "deliveries per second", true, false},
		{"unicast.srv_cpu_s_per_1m", "server CPU s per 1M deliveries", false, false},
		{"unicast.lost", "lost deliveries", false, false},
		{"unicast.dups", "duplicate deliveries", false, false},
	},
	"churn": {
		{"churn.connects_per_s", "churn connects per second achieved", true, false},
		{"churn.connect_p50_ms", "churn connect time p50 (ms)", false, false},
		{"churn.connect_p99_ms", "churn connect time p99 (ms)", false, true},
		{"churn.failed", "churn handshakes failed", false, false},
		{"churn.srv_cpu_pct", "server CPU during churn (% of one core)", false, true},
		{"churn.last_p50_ms", "stable clients: publish → last delivery p50 (ms)", false, false},
		{"churn.lat_p99_ms", "stable clients: per-delivery latency p99 (ms)", false, false},
		{"churn.lost", "stable clients: lost deliveries", false, false},
		{"churn.dups", "stable clients: duplicate deliveries", false, false},
		{"churn.stable_closed", "stable clients disconnected", false, false},
	},
	"slow": {
		{"slow.lat_p50_ms", "healthy clients: latency p50 (ms)", false, false},
		{"slow.lat_p99_ms", "healthy clients: latency p99 (ms)", false, true},
		{"slow.lost", "healthy clients: lost deliveries", false, false},
		{"slow.dups", "healthy clients: duplicate deliveries", false, false},
		{"slow.slow_clients", "slow clients (stopped reading)", false, false},
		{"slow.slow_dropped", "slow clients dropped by the server", true, false},
		{"slow.slow_deliveries", "deliveries to slow clients after they resumed", false, false},
		{"slow.slow_expected", "deliveries published for slow clients", false, false},
		{"slow.srv_rss_peak_mb", "server RSS peak (MB)", false, true},
		{"slow.kernel_tcp_mem_peak_mb", "kernel TCP memory peak, whole box (MB)", false, false},
		{"slow.srv_cpu_s_per_1m", "server CPU s per 1M deliveries", false, false},
	},
	"scaleout": {
		{"connect.ready", "connections held (all servers)", true, true},
		{"connect.conns_per_s", "handshakes per second", true, false},
		{"connect.failed", "failed handshakes", false, false},
		{"burst.deliveries_per_s", "burst: deliveries per second", true, true},
		{"burst.srv_cpu_s_per_1m", "burst: server CPU s per 1M deliveries", false, false},
		{"paced.last_p50_ms", "paced: publish → last delivery, p50 (ms)", false, true},
		{"paced.last_max_ms", "paced: publish → last delivery, max (ms)", false, false},
		{"paced.lat_p99_ms", "paced: per-delivery latency p99 (ms)", false, false},
		{"burst.srv_rss_peak_mb", "server RSS peak, all processes (MB)", false, false},
		{"burst.lost", "burst: lost deliveries", false, false},
		{"paced.lost", "paced: lost deliveries", false, false},
		{"paced.dups", "paced: duplicate deliveries", false, false},
	},
}

package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// target is one performance target of the benchmark issue: the median of
// key of server (notify-wss when empty) must be at most (or, with atLeast,
// at least) a limit, which is factor itself or, with against set, factor ×
// that server's median.
type target struct {
	what     string // the target in words
	scenario string
	key      string // Result.Metrics key
	against  string // "" for an absolute limit, else another server
	factor   float64
	atLeast  bool
	server   string // the server judged; "" means NotifyWSS
}

// subject is the server t judges.
func (t target) subject() string {
	if t.server == "" {
		return NotifyWSS
	}
	return t.server
}

// targets are the targets, in its order. "lost = dups = 0" is
// checked over every scenario separately (worstLoss).
var targets = []target{
	{"memory: ≤ 1.5 KiB RSS per idle connection", "idle", "idle.rss_per_conn_kb", "", 1.5, false, NotifyWSS},
	{"memory: ≥ 9× less than Node", "idle", "idle.rss_per_conn_kb", Node, 1.0 / 9, false, NotifyWSS},
	{"connect: ≥ 10× Node's connections/s", "connect", "connect.conns_per_s", Node, 10, true, NotifyWSS},
	{"connect: ≤ 1/10 of Node's CPU per connection", "connect", "connect.srv_cpu_us_per_conn", Node, 0.1, false, NotifyWSS},
	{"fanout: ≥ 4× Node's sustained deliveries/s", "fanout", "burst.deliveries_per_s", Node, 4, true, NotifyWSS},
	{"fanout: ≤ 1/4 of Node's CPU per 1M deliveries", "fanout", "burst.srv_cpu_s_per_1m", Node, 0.25, false, NotifyWSS},
	{"fanout: deliveries/s within 20% of the floor", "fanout", "burst.deliveries_per_s", Floor, 0.8, true, NotifyWSS},
	{"fanout: one message to all in ≤ 1.2× the floor's time", "fanout", "paced.last_p50_ms", Floor, 1.2, false, NotifyWSS},
	{"unicast: p99 ≤ 5 ms at 500/s", "unicast", "unicast.lat_p99_ms", "", 5, false, NotifyWSS},
	{"idle: CPU ≤ 1/3 of Node's", "idle", "idle.srv_cpu_pct", Node, 1.0 / 3, false, NotifyWSS},
	{"scale-out: ≥ 100,000 connections on one machine", "scaleout", "connect.ready", "", 100000, true, NotifyWSS},
	{what: "scale-out, dynamic: received from Redis ÷ own members' messages ≤ 1.1 on every instance",
		scenario: "scaleout", key: "unicast.recv_ratio_max", factor: 1.1, server: NotifyWSSDynamic},
	{what: "scale-out, sharded: received from Redis ÷ own members' messages ≤ 1.1 on every instance",
		scenario: "scaleout", key: "unicast.recv_ratio_max", factor: 1.1, server: NotifyWSSSharded},
	{what: "recovery: deliveries/s with recovery offsets ≥ 0.9× without (RECOVERY_WINDOW=0)",
		scenario: "fanout", key: "burst.deliveries_per_s", against: NotifyWSSNoRecovery, factor: 0.9, atLeast: true, server: NotifyWSS},
	{what: "compression: deliveries/s with every notification compressed ≥ 0.9× uncompressed",
		scenario: "fanout", key: "burst.deliveries_per_s", against: NotifyWSS, factor: 0.9, atLeast: true, server: NotifyWSSDeflate},
	{what: "compression: ≤ 1.5 KiB RSS per idle connection with permessage-deflate negotiated",
		scenario: "idle", key: "idle.rss_per_conn_kb", factor: 1.5, server: NotifyWSSDeflate},
	{what: "connect, dynamic: ≥ 0.9× pattern's connections/s",
		scenario: "connect", key: "connect.conns_per_s", against: NotifyWSS, factor: 0.9, atLeast: true, server: NotifyWSSDynamic},
}

// verdict checks t against notify-wss's median nw, other holding the median
// of t.against, and says what it was compared with.
func (t target) verdict(nw, other stat) (reference string, met, known bool) {
	if nw.n == 0 {
		return "—", false, false
	}
	limit := t.factor
	reference = "limit " + fmtNum(limit)
	if t.against != "" {
		name := displayName(t.against)
		if other.n == 0 || other.med == 0 {
			return name + ": not measured", false, false
		}
		limit = other.med * t.factor
		reference = fmt.Sprintf("%s %s → limit %s", name, fmtNum(other.med), fmtNum(limit))
	}
	if t.atLeast {
		return reference, nw.med >= limit, true
	}
	return reference, nw.med <= limit, true
}

// displayName is how the report's prose names a server.
func displayName(server string) string {
	if server == Node {
		return "Node"
	}
	return server
}

// targetsTable writes the targets with the medians of this report
// and whether each holds.
func (s *suite) targetsTable(b *strings.Builder) {
	b.WriteString("| target | notify-wss (median) | compared with | |\n|---|---:|---|---|\n")
	for _, t := range targets {
		nw := statOf(s.values(t.scenario, t.subject(), t.key))
		other := statOf(s.values(t.scenario, t.against, t.key))
		reference, met, known := t.verdict(nw, other)
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", t.what, nw, reference, verdictWord(met, known))
	}
	worst, known := s.worstLoss()
	fmt.Fprintf(b, "| lost = duplicated = 0 in every scenario | %s | every run of every scenario | %s |\n",
		lossCell(worst, known), verdictWord(worst == 0, known))
}

// worstLoss is the largest lost or duplicated count notify-wss (any of its
// kinds) reported in any run of any scenario, but for the recovery
// scenario without recovery, whose cut clients lose what they missed by
// design.
func (s *suite) worstLoss() (worst float64, known bool) {
	for _, r := range s.records {
		switch {
		case r.Result == nil:
			continue
		case r.Server == NotifyWSSNoRecovery && r.Scenario == "recovery":
			continue
		case !slices.Contains([]string{NotifyWSS, NotifyWSSDynamic, NotifyWSSSharded, NotifyWSSNoRecovery, NotifyWSSDeflate}, r.Server):
			continue
		}
		for k, v := range r.Result.Metrics {
			if strings.HasSuffix(k, ".lost") || strings.HasSuffix(k, ".dups") {
				known = true
				worst = max(worst, v)
			}
		}
	}
	return worst, known
}

func lossCell(worst float64, known bool) string {
	if !known {
		return "—"
	}
	return fmtNum(worst)
}

func verdictWord(met, known bool) string {
	switch {
	case !known:
		return "not measured"
	case met:
		return "**met**"
	default:
		return "**missed**"
	}
}

// analysisFile is hand-written: why missed targets are missed, with the
// profiles. The report includes it verbatim, so a new run keeps it.
const analysisFile = "bench/ANALYSIS.md"

// analysis returns the analysis file's text, or "" when there is none.
func (s *suite) analysis() (string, error) {
	b, err := os.ReadFile(filepath.Join(s.cfg.Root, analysisFile))
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("runner: read %s: %w", analysisFile, err)
	}
	return string(b), nil
}

package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// bound says how a target compares notify-wss's median with a limit.
type bound uint8

const (
	atMost       bound = iota // notify-wss ≤ limit
	atLeast                   // notify-wss ≥ limit
	timesNode                 // notify-wss ≥ limit × Node (a rate)
	shareOfNode               // notify-wss ≤ Node ÷ limit (a cost)
	shareOfFloor              // notify-wss ≥ limit × floor (a rate)
	timesFloor                // notify-wss ≤ limit × floor (a time)
)

// target is one performance target of the benchmark issue.
type target struct {
	what     string // the target in words
	scenario string
	key      string // Result.Metrics key
	bound    bound
	limit    float64
}

// targets are the targets, in its order. "lost = dups = 0" is
// checked over every scenario separately (zeroLossRow).
var targets = []target{
	{"memory: ≤ 1.5 KiB RSS per idle connection", "idle", "idle.rss_per_conn_kb", atMost, 1.5},
	{"memory: ≥ 9× less than Node", "idle", "idle.rss_per_conn_kb", shareOfNode, 9},
	{"connect: ≥ 10× Node's connections/s", "connect", "connect.conns_per_s", timesNode, 10},
	{"connect: ≤ 1/10 of Node's CPU per connection", "connect", "connect.srv_cpu_us_per_conn", shareOfNode, 10},
	{"fanout: ≥ 4× Node's sustained deliveries/s", "fanout", "burst.deliveries_per_s", timesNode, 4},
	{"fanout: ≤ 1/4 of Node's CPU per 1M deliveries", "fanout", "burst.srv_cpu_s_per_1m", shareOfNode, 4},
	{"fanout: deliveries/s within 20% of the floor", "fanout", "burst.deliveries_per_s", shareOfFloor, 0.8},
	{"fanout: one message to all in ≤ 1.2× the floor's time", "fanout", "paced.last_p50_ms", timesFloor, 1.2},
	{"unicast: p99 ≤ 5 ms at 500/s", "unicast", "unicast.lat_p99_ms", atMost, 5},
	{"idle: CPU ≤ 1/3 of Node's", "idle", "idle.srv_cpu_pct", shareOfNode, 3},
	{"scale-out: ≥ 100,000 connections on one machine", "scaleout", "connect.ready", atLeast, 100000},
}

// verdict checks t against the medians of notify-wss, Node and the floor
// and says what it was compared with.
func (t target) verdict(nw, node, floor stat) (reference string, met, known bool) {
	if nw.n == 0 {
		return "—", false, false
	}
	ref := func(name string, other stat, limit float64) (float64, bool) {
		if other.n == 0 || other.med == 0 {
			reference = name + ": not measured"
			return 0, false
		}
		reference = fmt.Sprintf("%s %s → limit %s", name, fmtNum(other.med), fmtNum(limit))
		return limit, true
	}
	var limit float64
	ok := true
	switch t.bound {
	case atMost, atLeast:
		limit, reference = t.limit, "limit "+fmtNum(t.limit)
	case timesNode:
		limit, ok = ref("Node", node, node.med*t.limit)
	case shareOfNode:
		limit, ok = ref("Node", node, node.med/t.limit)
	case shareOfFloor:
		limit, ok = ref("floor", floor, floor.med*t.limit)
	case timesFloor:
		limit, ok = ref("floor", floor, floor.med*t.limit)
	}
	if !ok {
		return reference, false, false
	}
	switch t.bound {
	case atLeast, timesNode, shareOfFloor:
		return reference, nw.med >= limit, true
	default:
		return reference, nw.med <= limit, true
	}
}

// targetsTable writes the targets with the medians of this report
// and whether each holds.
func (s *suite) targetsTable(b *strings.Builder) {
	b.WriteString("| target | notify-wss (median) | compared with | |\n|---|---:|---|---|\n")
	for _, t := range targets {
		nw := statOf(s.values(t.scenario, NotifyWSS, t.key))
		node := statOf(s.values(t.scenario, Node, t.key))
		floor := statOf(s.values(t.scenario, Floor, t.key))
		reference, met, known := t.verdict(nw, node, floor)
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", t.what, nw, reference, verdictWord(met, known))
	}
	worst, known := s.worstLoss()
	fmt.Fprintf(b, "| lost = duplicated = 0 in every scenario | %s | every run of every scenario | %s |\n",
		lossCell(worst, known), verdictWord(worst == 0, known))
}

// worstLoss is the largest lost or duplicated count notify-wss reported in
// any run of any scenario.
func (s *suite) worstLoss() (worst float64, known bool) {
	for _, r := range s.records {
		if r.Server != NotifyWSS || r.Result == nil {
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

package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/notify-wss/notify-wss/bench/loadgen"
)

func TestStatAndFormat(t *testing.T) {
	st := statOf([]float64{3, 1, 2})
	if st.med != 2 || st.min != 1 || st.max != 3 || st.String() != "2 [1..3]" {
		t.Errorf("odd: %+v %q", st, st)
	}
	if st := statOf([]float64{1, 2, 4, 10}); st.med != 3 {
		t.Errorf("even median %v, want 3", st.med)
	}
	if s := (stat{}).String(); s != "—" {
		t.Errorf("empty: %q", s)
	}
	for v, want := range map[float64]string{0: "0", 5: "5", 0.1234: "0.123", 12.34: "12.3", 1234.5: "1234", 123456: "123K", 2.5e6: "2.50M"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
	if r := ratio(statOf([]float64{10}), statOf([]float64{4}), up); r != "2.50×" {
		t.Errorf("ratio %q", r)
	}
	if r := ratio(statOf([]float64{10}), statOf([]float64{0}), down); r != "—" {
		t.Errorf("ratio by zero %q", r)
	}
	if r := ratio(statOf([]float64{10}), statOf([]float64{5}), none); r != "—" {
		t.Errorf("ratio of a count %q", r)
	}
}

func TestLastJSONLine(t *testing.T) {
	out := []byte("noise\n{\"scenario\":\"fanout\",\"metrics\":{\"burst.lost\":0}}\n\n")
	r := lastJSONLine(out)
	if r == nil || r.Scenario != "fanout" {
		t.Fatalf("got %+v", r)
	}
	if lastJSONLine([]byte("not json")) != nil || lastJSONLine(nil) != nil {
		t.Fatal("garbage parsed")
	}
}

func TestEveryPlannedScenarioHasMetrics(t *testing.T) {
	for _, plan := range [][]scenarioPlan{fullPlan(), quickPlan()} {
		for _, sc := range plan {
			if len(scenarioMetrics[sc.name]) == 0 || scenarioBlurb[sc.name] == "" {
				t.Errorf("%s: no metrics or description for the report", sc.name)
			}
			if !slices.Contains(loadgen.Scenarios(), sc.name) {
				t.Errorf("%s: the load generator has no such scenario", sc.name)
			}
		}
	}
	if _, err := selectPlan(Config{Scenarios: []string{"nope"}}); err == nil {
		t.Error("unknown scenario accepted")
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	s := &suite{cfg: Config{Root: dir, Out: filepath.Join(dir, "B.md"), Runs: 2, Servers: []string{NotifyWSS, Node, Floor}}, dir: dir}
	for run := 1; run <= 2; run++ {
		for i, srv := range s.cfg.Servers {
			s.records = append(s.records, record{Run: run, Server: srv, Scenario: "fanout", Command: "loadgen fanout",
				Result: &loadgen.Result{Metrics: map[string]float64{"burst.deliveries_per_s": float64(1000 * (i + 1) * run)}}})
		}
	}
	s.records = append(s.records, record{Run: 2, Server: Node, Scenario: "fanout", Err: "boom"})
	if err := s.writeReport(machine{}, []scenarioPlan{{name: "fanout", instances: 1}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.cfg.Out)
	md := string(b)
	for _, want := range []string{
		"| burst: deliveries per second ↑ | 1500 [1000..2000] | 3000 [2000..4000] | 4500 [3000..6000] | 0.50× | 0.33× |",
		"run 2, fanout, node: boom",
		"loadgen fanout",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestTargetVerdicts(t *testing.T) {
	one := func(v float64) stat { return statOf([]float64{v}) }
	cases := []struct {
		name       string
		tg         target
		nw, other  stat
		met, known bool
	}{
		{"at most, under", target{factor: 1.5}, one(1.3), stat{}, true, true},
		{"at most, over", target{factor: 1.5}, one(1.6), stat{}, false, true},
		{"at least", target{factor: 100, atLeast: true}, one(100), stat{}, true, true},
		{"rate vs node, enough", target{against: Node, factor: 4, atLeast: true}, one(400), one(100), true, true},
		{"rate vs node, short", target{against: Node, factor: 10, atLeast: true}, one(400), one(100), false, true},
		{"cost vs node", target{against: Node, factor: 0.25}, one(20), one(100), true, true},
		{"cost vs node, too high", target{against: Node, factor: 0.1}, one(20), one(100), false, true},
		{"rate vs floor", target{against: Floor, factor: 0.8, atLeast: true}, one(85), one(100), true, true},
		{"time vs floor", target{against: Floor, factor: 1.2}, one(130), one(100), false, true},
		{"node not measured", target{against: Node, factor: 4, atLeast: true}, one(400), stat{}, false, false},
		{"notify-wss not measured", target{factor: 1}, stat{}, stat{}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, met, known := tc.tg.verdict(tc.nw, tc.other)
			if met != tc.met || known != tc.known {
				t.Errorf("met, known = %v, %v; want %v, %v", met, known, tc.met, tc.known)
			}
		})
	}
}

func TestReportHasTargetsAndAnalysis(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bench"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, analysisFile), []byte("## Why\n\nBecause.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &suite{cfg: Config{Root: dir, Out: filepath.Join(dir, "B.md"), Runs: 1, Servers: []string{NotifyWSS, Node}}, dir: dir}
	s.records = []record{
		{Run: 1, Server: NotifyWSS, Scenario: "unicast", Result: &loadgen.Result{Metrics: map[string]float64{"unicast.lat_p99_ms": 3, "unicast.lost": 0}}},
		{Run: 1, Server: NotifyWSS, Scenario: "idle", Result: &loadgen.Result{Metrics: map[string]float64{"idle.rss_per_conn_kb": 1.6}}},
		{Run: 1, Server: Node, Scenario: "idle", Result: &loadgen.Result{Metrics: map[string]float64{"idle.rss_per_conn_kb": 18}}},
		{Run: 1, Server: NotifyWSS, Scenario: "fanout", Result: &loadgen.Result{Metrics: map[string]float64{"burst.dups": 2}}},
	}
	if err := s.writeReport(machine{}, []scenarioPlan{{name: "unicast", instances: 1}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.cfg.Out)
	md := string(b)
	for _, want := range []string{
		"| unicast: p99 ≤ 5 ms at 500/s | 3 | limit 5 | **met** |",
		"| memory: ≤ 1.5 KiB RSS per idle connection | 1.60 | limit 1.50 | **missed** |",
		"| memory: ≥ 9× less than Node | 1.60 | Node 18 → limit 2 | **met** |",
		"| connect: ≥ 10× Node's connections/s | — | — | not measured |",
		"| lost = duplicated = 0 in every scenario | 2 | every run of every scenario | **missed** |",
		"## Why\n\nBecause.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// Render rebuilds a report from a results directory alone.
func TestRender(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "bench", "results", "20261126-002143")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &suite{dir: dir}
	if err := s.saveMachine(machine{CPU: "Test CPU", Cores: 2, Commit: "abc1234"}); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []record{
		{Run: 1, Server: NotifyWSS, Scenario: "idle", Result: &loadgen.Result{Metrics: map[string]float64{"idle.rss_per_conn_kb": 1.3}}},
		{Run: 2, Server: NotifyWSS, Scenario: "idle", Result: &loadgen.Result{Metrics: map[string]float64{"idle.rss_per_conn_kb": 1.4}}},
		{Run: 1, Server: Floor, Scenario: "idle", Result: &loadgen.Result{Metrics: map[string]float64{"idle.rss_per_conn_kb": 1.0}}},
	} {
		s.saveRecord(rec)
	}
	out := filepath.Join(root, "B.md")
	if err := Render(Config{Root: root, Out: out}, dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	md := string(b)
	for _, want := range []string{
		"on 2026-11-26 00:21 UTC, 2 run(s)",
		"interleaved (notify-wss, floor)",
		"Test CPU, 2 cores",
		"Commit: abc1234",
		"| server RSS per idle connection (KiB) ↓ | 1.35 [1.30..1.40] | 1 | 1.35× |",
		"| memory: ≤ 1.5 KiB RSS per idle connection | 1.35 [1.30..1.40] | limit 1.50 | **met** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("rendered report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "## fanout") {
		t.Error("a scenario without results is reported")
	}
	if err := Render(Config{Root: root, Out: out}, root); err == nil {
		t.Error("a directory without a timestamp name was accepted")
	}
}

// A quick run is too small for the targets: it says so instead of
// judging them, and leaves the full run's analysis out.
func TestQuickReportDoesNotJudgeTargets(t *testing.T) {
	dir := t.TempDir()
	s := &suite{cfg: Config{Root: dir, Out: filepath.Join(dir, "B.md"), Runs: 1, Quick: true, Servers: []string{NotifyWSS}}, dir: dir}
	s.records = []record{{Run: 1, Server: NotifyWSS, Scenario: "idle", Result: &loadgen.Result{Metrics: map[string]float64{"idle.rss_per_conn_kb": 3}}}}
	if err := s.writeReport(machine{}, []scenarioPlan{{name: "idle", instances: 1}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.cfg.Out)
	if md := string(b); strings.Contains(md, "**missed**") || !strings.Contains(md, "Checked only by the full run") {
		t.Errorf("quick report judges targets:\n%s", md)
	}
}

func TestComparisons(t *testing.T) {
	cases := []struct {
		servers []string
		want    []comparison
	}{
		{[]string{NotifyWSS, Node, Floor}, []comparison{{NotifyWSS, Node}, {NotifyWSS, Floor}}},
		{[]string{NotifyWSS, NotifyWSSDynamic}, []comparison{{NotifyWSSDynamic, NotifyWSS}}},
		{[]string{NotifyWSSDynamic, Node}, nil},
		{[]string{NotifyWSS}, nil},
	}
	for _, tc := range cases {
		if got := comparisons(tc.servers); !slices.Equal(got, tc.want) {
			t.Errorf("comparisons(%v) = %v, want %v", tc.servers, got, tc.want)
		}
	}
}

// The dynamic kind runs the notify-wss binary with REDIS_SUBSCRIBE=dynamic,
// so building notify-wss is needed for either kind, and nothing else is.
func TestServerKinds(t *testing.T) {
	dyn := serverKinds[NotifyWSSDynamic]
	if !slices.Contains(dyn.env, "REDIS_SUBSCRIBE=dynamic") || !slices.Equal(dyn.argv("/r"), serverKinds[NotifyWSS].argv("/r")) {
		t.Errorf("notify-wss-dynamic: env %v, argv %v", dyn.env, dyn.argv("/r"))
	}
	if len(serverKinds[NotifyWSS].env) != 0 {
		t.Errorf("notify-wss has extra env %v", serverKinds[NotifyWSS].env)
	}
	for _, tc := range []struct {
		servers []string
		target  string
		want    bool
	}{
		{[]string{NotifyWSSDynamic}, NotifyWSS, true},
		{[]string{Node, NotifyWSS}, NotifyWSS, true},
		{[]string{NotifyWSSDynamic}, Floor, false},
		{[]string{Node}, NotifyWSS, false},
	} {
		if got := needsBinary(tc.servers, tc.target); got != tc.want {
			t.Errorf("needsBinary(%v, %s) = %v", tc.servers, tc.target, got)
		}
	}
	err := Run(t.Context(), Config{Root: t.TempDir(), Servers: []string{"notify-wss-dinamic"}})
	if err == nil || !strings.Contains(err.Error(), "unknown server") {
		t.Errorf("unknown server: %v", err)
	}
}

// A report of pattern against dynamic has the dynamic ÷ pattern column and
// judges the dynamic-mode targets on the dynamic server's medians.
func TestReportDynamicAgainstPattern(t *testing.T) {
	dir := t.TempDir()
	s := &suite{cfg: Config{Root: dir, Out: filepath.Join(dir, "B.md"), Runs: 1, Servers: []string{NotifyWSS, NotifyWSSDynamic}}, dir: dir}
	s.records = []record{
		{Run: 1, Server: NotifyWSS, Scenario: "connect", Result: &loadgen.Result{Metrics: map[string]float64{"connect.conns_per_s": 1000}}},
		{Run: 1, Server: NotifyWSSDynamic, Scenario: "connect", Result: &loadgen.Result{Metrics: map[string]float64{"connect.conns_per_s": 950}}},
		{Run: 1, Server: NotifyWSS, Scenario: "scaleout", Result: &loadgen.Result{Metrics: map[string]float64{"unicast.recv_ratio_max": 3.2}}},
		{Run: 1, Server: NotifyWSSDynamic, Scenario: "scaleout", Result: &loadgen.Result{Metrics: map[string]float64{"unicast.recv_ratio_max": 1.2, "unicast.lost": 1}}},
	}
	if err := s.writeReport(machine{}, []scenarioPlan{{name: "connect", instances: 1}, {name: "scaleout", instances: 3}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(s.cfg.Out)
	md := string(b)
	for _, want := range []string{
		"| metric | notify-wss | notify-wss-dynamic | notify-wss-dynamic ÷ notify-wss |",
		"| handshakes per second ↑ | 1000 | 950 | 0.95× |",
		"| unicast: received from Redis ÷ own members' messages, max over instances ↓ | 3.20 | 1.20 | 0.37× |",
		"| connect, dynamic: ≥ 0.9× pattern's connections/s | 950 | notify-wss 1000 → limit 900 | **met** |",
		"| scale-out, dynamic: received from Redis ÷ own members' messages ≤ 1.1 on every instance | 1.20 | limit 1.10 | **missed** |",
		"| lost = duplicated = 0 in every scenario | 1 |",
		"REDIS_SUBSCRIBE=dynamic",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

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

package main

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)

func TestParseDashboardFlattensRowsAndSortsByGrid(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []int // panel ids in layout order
		wantErr string
	}{
		{
			name: "sorted by row then column",
			json: `{"panels":[{"id":2,"gridPos":{"x":12,"y":0,"w":12,"h":8}},{"id":3,"gridPos":{"x":0,"y":8,"w":24,"h":8}},{"id":1,"gridPos":{"x":0,"y":0,"w":12,"h":8}}]}`,
			want: []int{1, 2, 3},
		},
		{
			name: "collapsed row's panels lifted out",
			json: `{"panels":[{"id":10,"type":"row","gridPos":{"x":0,"y":0,"w":24,"h":1},"panels":[{"id":11,"gridPos":{"x":0,"y":1,"w":24,"h":4}}]},{"id":12,"gridPos":{"x":0,"y":5,"w":6,"h":4}}]}`,
			want: []int{10, 11, 12},
		},
		{
			name:    "wider than the grid",
			json:    `{"panels":[{"id":1,"title":"wide","gridPos":{"x":20,"y":0,"w":8,"h":4}}]}`,
			wantErr: `panel 1 "wide": gridPos`,
		},
		{
			name:    "no size",
			json:    `{"panels":[{"id":1,"gridPos":{"x":0,"y":0}}]}`,
			wantErr: "is not on the 24-column grid",
		},
		{name: "not JSON", json: `{"panels":`, wantErr: "preview: dashboard:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDashboard([]byte(tc.json))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for _, p := range d.Panels {
				ids = append(ids, p.ID)
				if p.Type == "" {
					t.Errorf("panel %d has no type after parsing", p.ID)
				}
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("order = %v, want %v", ids, tc.want)
			}
		})
	}
}

// TestShippedDashboard checks the previewer understands the dashboard it
// renders: every panel placed, every query interpolated with no variable
// left, every stat panel with explicit thresholds.
func TestShippedDashboard(t *testing.T) {
	raw, err := os.ReadFile("../notify-wss.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDashboard(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Panels) == 0 || GridRows(d.Panels) == 0 {
		t.Fatal("no panels")
	}
	w := Window{From: t0, To: t0.Add(5 * time.Minute), Step: 2 * time.Second, Scrape: 2 * time.Second}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			expr, err := Interpolate(tg.Expr, w, d, DefaultVars(d))
			if err != nil {
				t.Errorf("panel %q: %v", p.Title, err)
			}
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: %q still has a variable", p.Title, expr)
			}
		}
		if p.Type == "stat" && p.FieldConfig.Defaults.Thresholds == nil {
			t.Errorf("stat panel %q has no thresholds: Grafana would color it red from 80", p.Title)
		}
	}
}

func TestGridRect(t *testing.T) {
	// 24 columns of 40 px with 8 px gaps: 24*40 + 23*8 = 1144 px.
	tests := []struct {
		g    GridPos
		want Rect
	}{
		{GridPos{X: 0, Y: 0, W: 24, H: 1}, Rect{X: 10, Y: 20, W: 1144, H: 30}},
		{GridPos{X: 0, Y: 0, W: 1, H: 1}, Rect{X: 10, Y: 20, W: 40, H: 30}},
		{GridPos{X: 12, Y: 4, W: 12, H: 8}, Rect{X: 10 + 12*48, Y: 20 + 4*38, W: 12*40 + 11*8, H: 8*30 + 7*8}},
		{GridPos{X: 20, Y: 0, W: 4, H: 4}, Rect{X: 10 + 20*48, Y: 20, W: 4*40 + 3*8, H: 4*30 + 3*8}},
	}
	for _, tc := range tests {
		if got := GridRect(tc.g, 10, 20, 1144); got != tc.want {
			t.Errorf("GridRect(%+v) = %+v, want %+v", tc.g, got, tc.want)
		}
	}
	if got, want := GridHeight(8), 8.0*30+7*8; got != want {
		t.Errorf("GridHeight(8) = %v, want %v", got, want)
	}
}

func TestInterpolate(t *testing.T) {
	dash := &Dashboard{}
	dash.Templating.List = []Variable{
		{Name: "instance", Type: "query", Multi: true, IncludeAll: true, AllValue: ".*"},
		{Name: "job", Type: "custom"},
		{Name: "env", Type: "query", IncludeAll: true}, // All without allValue
	}
	w := Window{From: t0, To: t0.Add(3 * time.Minute), Step: 2 * time.Second, Scrape: 2 * time.Second}
	tests := []struct {
		name    string
		expr    string
		w       Window
		vars    Vars
		want    string
		wantErr string
	}{
		{name: "rate interval is 4 scrapes at a fine step", expr: `rate(x[$__rate_interval])`, w: w, want: `rate(x[8s])`},
		{
			name: "rate interval is step + scrape at a coarse step",
			expr: `rate(x[$__rate_interval])`,
			w:    Window{From: t0, To: t0.Add(time.Hour), Step: 10 * time.Second, Scrape: 2 * time.Second},
			want: `rate(x[12s])`,
		},
		{name: "interval and range", expr: `x[$__interval] offset $__range`, w: w, want: `x[2s] offset 180s`},
		{name: "interval in ms", expr: `$__interval_ms $__range_s`, w: w, want: `2000 180`},
		{name: "All is the allValue", expr: `x{instance=~"$instance"}`, w: w, vars: Vars{"instance": {AllValue}}, want: `x{instance=~".*"}`},
		{name: "unset is All", expr: `x{instance=~"$instance"}`, w: w, want: `x{instance=~".*"}`},
		{name: "one value, regex-escaped", expr: `x{instance=~"${instance}"}`, w: w, vars: Vars{"instance": {"127.0.0.1:8080"}}, want: `x{instance=~"127\.0\.0\.1:8080"}`},
		{name: "several values", expr: `x{instance=~"[[instance]]"}`, w: w, vars: Vars{"instance": {"a:1", "b:2"}}, want: `x{instance=~"(a:1|b:2)"}`},
		{name: "single-value variable as is", expr: `x{job="$job"}`, w: w, vars: Vars{"job": {"a.b"}}, want: `x{job="a.b"}`},
		{name: "regex format forced", expr: `x{job=~"${job:regex}"}`, w: w, vars: Vars{"job": {"a.b"}}, want: `x{job=~"a\.b"}`},
		{name: "All without allValue", expr: `x{env=~"$env"}`, w: w, vars: Vars{"env": {"All"}}, want: `x{env=~".*"}`},
		{name: "variable given only on the command line", expr: `x{dc="$dc"}`, w: w, vars: Vars{"dc": {"eu"}}, want: `x{dc="eu"}`},
		{name: "unknown variable", expr: `x{a="$nope"}`, w: w, wantErr: "unknown variable(s) nope"},
		{name: "no variables", expr: `sum(up)`, w: w, want: `sum(up)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Interpolate(tc.expr, tc.w, dash, tc.vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAutoStep(t *testing.T) {
	tests := []struct {
		rng, scrape time.Duration
		points      int
		want        time.Duration
	}{
		{3 * time.Minute, 2 * time.Second, 800, 2 * time.Second},   // range/points < scrape
		{24 * time.Hour, 15 * time.Second, 800, 108 * time.Second}, // 86400/800
		{time.Hour, time.Second, 700, 5 * time.Second},             // 5.14 s rounds to 5 s
	}
	for _, tc := range tests {
		if got := AutoStep(tc.rng, tc.scrape, tc.points); got != tc.want {
			t.Errorf("AutoStep(%v, %v, %d) = %v, want %v", tc.rng, tc.scrape, tc.points, got, tc.want)
		}
	}
}

func TestLegendName(t *testing.T) {
	tests := []struct {
		format string
		labels map[string]string
		want   string
	}{
		{"{{transport}}", map[string]string{"transport": "polling"}, "polling"},
		{"accept {{ errno }}/s", map[string]string{"errno": "EMFILE"}, "accept EMFILE/s"},
		{"shed {{reason}}/s", map[string]string{}, "shed /s"},
		{"deliveries/s", nil, "deliveries/s"},
		{"", map[string]string{"__name__": "up", "job": "a", "instance": "b"}, `up{instance="b", job="a"}`},
		{"", map[string]string{"kind": "user"}, `{kind="user"}`},
		{"", nil, "sum(x)"},
		{"__auto", nil, "sum(x)"},
	}
	for _, tc := range tests {
		if got := LegendName(tc.format, tc.labels, "sum(x)"); got != tc.want {
			t.Errorf("LegendName(%q, %v) = %q, want %q", tc.format, tc.labels, got, tc.want)
		}
	}
}

func pts(vs ...float64) []Point {
	out := make([]Point, len(vs))
	for i, v := range vs {
		out[i] = Point{T: t0.Add(time.Duration(i) * 2 * time.Second), V: v}
	}
	return out
}

func TestSegments(t *testing.T) {
	nan := math.NaN()
	gap := append(pts(1, 2), Point{T: t0.Add(10 * time.Second), V: 3})
	tests := []struct {
		name   string
		points []Point
		want   []int // lengths of the runs
	}{
		{"one run", pts(1, 2, 3), []int{3}},
		{"NaN breaks", pts(1, nan, 2, 3, nan), []int{1, 2}},
		{"all NaN", pts(nan, nan), nil},
		{"missing samples break", gap, []int{2, 1}},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		var got []int
		for _, s := range Segments(tc.points, 3*time.Second) {
			got = append(got, len(s))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: runs %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPlotPaths(t *testing.T) {
	// 100×50 px from (10,5), 4 s wide, values 0..10.
	p := Plot{Area: Rect{X: 10, Y: 5, W: 100, H: 50}, From: t0, To: t0.Add(4 * time.Second), Min: 0, Max: 10}
	tests := []struct {
		name       string
		seg        []Point
		line, area string
	}{
		{
			name: "three points",
			seg:  pts(0, 5, 10),
			line: "M10 55L60 30L110 5",
			area: "M10 55L60 30L110 5L110 55L10 55Z",
		},
		{
			name: "clamped above the axis",
			seg:  pts(20, 2.5),
			line: "M10 5L60 42.5",
			area: "M10 5L60 42.5L60 55L10 55Z",
		},
		{name: "empty", seg: nil, line: "", area: ""},
	}
	for _, tc := range tests {
		if got := p.LinePath(tc.seg); got != tc.line {
			t.Errorf("%s: LinePath = %q, want %q", tc.name, got, tc.line)
		}
		if got := p.AreaPath(tc.seg); got != tc.area {
			t.Errorf("%s: AreaPath = %q, want %q", tc.name, got, tc.area)
		}
	}
	// An axis above zero fills down to its minimum.
	q := p
	q.Min, q.Max = 5, 15
	if got, want := q.AreaPath(pts(10, 15)), "M10 30L60 5L60 55L10 55Z"; got != want {
		t.Errorf("AreaPath over min 5 = %q, want %q", got, want)
	}
}

func TestNiceAxis(t *testing.T) {
	tests := []struct {
		unit   string
		lo, hi float64
		n      int
		labels []string
	}{
		{"short", 0, 1600, 4, []string{"0", "500", "1.0 K", "1.5 K", "2.0 K"}},
		{"ops", 10, 780000, 4, []string{"0 ops/s", "200 K ops/s", "400 K ops/s", "600 K ops/s", "800 K ops/s"}},
		{"s", 0, 4.9, 5, []string{"0 s", "1 s", "2 s", "3 s", "4 s", "5 s"}},
		{"s", 0, 0.0042, 4, []string{"0 s", "1 ms", "2 ms", "3 ms", "4 ms", "5 ms"}},
		{"bytes", 0, 83 << 20, 4, []string{"0 B", "20 MiB", "40 MiB", "60 MiB", "80 MiB", "100 MiB"}},
		{"short", 0, 0.9, 4, []string{"0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{"short", math.NaN(), math.NaN(), 4, []string{"0", "0.2", "0.4", "0.6", "0.8", "1.0"}}, // no data
		{"short", -3, 3, 3, []string{"-4", "-2", "0", "2", "4"}},
	}
	for _, tc := range tests {
		a := NiceAxis(tc.unit, tc.lo, tc.hi, tc.n)
		if !reflect.DeepEqual(a.Labels, tc.labels) {
			t.Errorf("NiceAxis(%s, %v, %v) labels %q, want %q", tc.unit, tc.lo, tc.hi, a.Labels, tc.labels)
		}
		if len(a.Ticks) != len(a.Labels) || a.Ticks[0] != a.Min || a.Ticks[len(a.Ticks)-1] != a.Max {
			t.Errorf("NiceAxis(%s, %v, %v): ticks %v not spanning [%v, %v]", tc.unit, tc.lo, tc.hi, a.Ticks, a.Min, a.Max)
		}
	}
}

func TestFormatValue(t *testing.T) {
	two := 2
	tests := []struct {
		unit     string
		v        float64
		decimals *int
		want     string
	}{
		{"short", 1640, nil, "1.64 K"},
		{"short", 0, nil, "0"},
		{"short", 42, nil, "42"},
		{"ops", 8037.87, nil, "8.04 K ops/s"},
		{"s", 0.0972, nil, "97.2 ms"},
		{"s", 0.00045, nil, "450 µs"},
		{"bytes", 29.3 * (1 << 20), nil, "29.3 MiB"},
		{"percentunit", 0.5, nil, "50%"},
		{"short", 3.14159, &two, "3.14"},
		{"short", math.NaN(), nil, "No data"},
		{"widgets", 3, nil, "3 widgets"},
	}
	for _, tc := range tests {
		if got := FormatValue(tc.unit, tc.v, tc.decimals); got != tc.want {
			t.Errorf("FormatValue(%s, %v) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
}

func TestStatColors(t *testing.T) {
	var fc FieldConfig
	fc.Defaults.Mappings = []Mapping{{Type: "value", Options: map[string]struct {
		Text  string `json:"text"`
		Color string `json:"color"`
	}{"0": {Text: "DOWN", Color: "red"}, "1": {Text: "UP", Color: "green"}}}}
	if text, color, ok := fc.mapValue(1); !ok || text != "UP" || color != "green" {
		t.Errorf("mapValue(1) = %q %q %v", text, color, ok)
	}
	if _, _, ok := fc.mapValue(0.5); ok {
		t.Error("mapValue(0.5) matched")
	}
	// No thresholds: Grafana's default, red from 80.
	for v, want := range map[float64]string{79: "green", 80: "red", math.NaN(): "green"} {
		if got := fc.thresholdColor(v); got != want {
			t.Errorf("default thresholdColor(%v) = %s, want %s", v, got, want)
		}
	}
	fc.Defaults.Thresholds = &Thresholds{Steps: []ThresholdStep{{Color: "green"}, {Color: "yellow", Value: ptr(0.1)}, {Color: "red", Value: ptr(0.5)}}}
	for v, want := range map[float64]string{0.05: "green", 0.1: "yellow", 0.49: "yellow", 2: "red"} {
		if got := fc.thresholdColor(v); got != want {
			t.Errorf("thresholdColor(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestParseMatrix(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"matrix","result":[
		{"metric":{"transport":"websocket"},"values":[[1764691200,"600"],[1764691202.5,"NaN"]]},
		{"metric":{"transport":"polling"},"values":[[1764691200,"40"],[1764691202,"+Inf"]]}]}}`
	got, err := ParseMatrix([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Labels["transport"] != "polling" || got[1].Labels["transport"] != "websocket" {
		t.Fatalf("series not sorted by labels: %+v", got)
	}
	ws := got[1].Points
	if ws[0].V != 600 || !ws[0].T.Equal(time.Unix(1764691200, 0)) || !math.IsNaN(ws[1].V) ||
		!ws[1].T.Equal(time.Unix(1764691202, 5e8)) {
		t.Errorf("websocket points %+v", ws)
	}
	if !math.IsNaN(got[0].Points[1].V) {
		t.Errorf("+Inf not drawn as a gap: %v", got[0].Points[1].V)
	}

	for _, tc := range []struct{ body, wantErr string }{
		{`{"status":"error","errorType":"bad_data","error":"parse error"}`, "bad_data: parse error"},
		{`{"status":"success","data":{"resultType":"vector","result":[]}}`, `result type "vector"`},
		{`<html>`, "not the Prometheus API's JSON"},
		{`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}`, `sample value "x"`},
	} {
		if _, err := ParseMatrix([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseMatrix(%s) err = %v, want %q", tc.body, err, tc.wantErr)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	from := t0.Add(5*time.Minute + 42*time.Second)
	ticks, step := TimeTicks(from, from.Add(3*time.Minute+5*time.Second), 7)
	if step != 30*time.Second {
		t.Fatalf("step = %v, want 30s", step)
	}
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, TimeLabel(tk, step))
	}
	want := []string{"16:06:00", "16:06:30", "16:07:00", "16:07:30", "16:08:00", "16:08:30"}
	if !reflect.DeepEqual(labels, want) {
		t.Errorf("ticks %v, want %v", labels, want)
	}
	if _, step := TimeTicks(t0, t0.Add(6*time.Hour), 6); step != time.Hour || TimeLabel(t0, step) != "16:00" {
		t.Errorf("6 h in 6 ticks: step %v", step)
	}
}

func TestLegendRows(t *testing.T) {
	short := []string{"p50", "p90", "p99"}
	long := []string{"client namespace disconnect", "connect timeout", "forced close", "parse error", "ping timeout"}
	tests := []struct {
		names []string
		width float64
		want  int
	}{
		{nil, 500, 0},
		{short, 500, 1},
		{long, 2000, 1},
		{long, 300, 3},
	}
	for _, tc := range tests {
		if got := legendRows(tc.names, tc.width); got != tc.want {
			t.Errorf("legendRows(%d names, %v) = %d, want %d", len(tc.names), tc.width, got, tc.want)
		}
	}
}

package notify

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/notify-wss/notify-wss/internal/promtest"
)

// dashboardFile is the Grafana dashboard shipped for operators.
const dashboardFile = "../deploy/grafana/notify-wss.json"

// seriesName finds the metric names a PromQL expression uses (the
// families this server exports are prefixed notify_wss_, process_, go_).
var seriesName = regexp.MustCompile(`\b(?:notify_wss|process|go)_[a-z0-9_]+\b`)

// TestDashboardQueriesNameExportedMetrics checks that every query of the
// Grafana dashboard names only series that /metrics exports, so that no
// panel stays empty after a metric is renamed.
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("%s: no uid or no panels", dashboardFile)
	}

	_, _, body := testMetrics(t).render()
	exported := promtest.Parse(t, body)
	known := func(name string) bool {
		if _, ok := exported[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if f, ok := exported[base]; ok && f.GetType() == dto.MetricType_HISTOGRAM {
					return true
				}
			}
		}
		return false
	}

	check := func(where, expr string) {
		names := seriesName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: query %q names no metric", where, expr)
		}
		for _, n := range names {
			if !known(n) {
				t.Errorf("%s: %s is not exported (query %q)", where, n, expr)
			}
		}
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
			for _, n := range seriesName.FindAllString(tg.Expr, -1) {
				used[n] = true
			}
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			check("variable", v.Definition)
		}
	}
	// What the issue asks the dashboard to show.
	for _, want := range []string{
		"notify_wss_connections", "notify_wss_deliveries_total", "notify_wss_notifications_received_total",
		"notify_wss_write_latency_seconds_bucket", "notify_wss_slow_consumer_disconnects_total",
		"notify_wss_redis_connected", "notify_wss_auth_failures_total",
	} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

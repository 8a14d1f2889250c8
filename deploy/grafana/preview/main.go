// Command preview renders a Grafana dashboard's panels from Prometheus
// data into one self-contained HTML page, for a screenshot where Grafana
// itself cannot run.
//
// It reads the dashboard JSON (deploy/grafana/notify-wss.json), and for
// each panel, placed on Grafana's 24-column grid by its gridPos, runs every
// target's PromQL expr over the time window on Prometheus's
// /api/v1/query_range, with Grafana's variables substituted the way
// Grafana's Prometheus data source does ($__interval, $__rate_interval,
// $__range, and the template variables at their current value or -var).
// Time series panels become inline SVG line charts with the panel's unit
// on the axis and legendFormat names; stat panels show the last non-null
// value, mapped or colored by thresholds as Grafana would, over a
// sparkline. It draws what the queries return and nothing else: it is not
// Grafana, only the same queries on the same layout.
//
// Usage:
//
//	preview -prometheus http://127.0.0.1:9090 -scrape 2s -last 3m -out dash.html
//	preview -print-height            # the page height, for the screenshot
//
// deploy/grafana/preview/render.sh runs a bench load, Prometheus and this,
// then screenshots the page with headless Chromium.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxDataPoints bounds the samples per series, as Grafana's maxDataPoints
// (about one per pixel of a full-width panel) does.
const maxDataPoints = 800

func main() {
	var (
		dashPath   = flag.String("dashboard", "deploy/grafana/notify-wss.json", "dashboard JSON model")
		promURL    = flag.String("prometheus", "http://127.0.0.1:9090", "Prometheus base URL")
		from       = flag.String("from", "", "window start: RFC 3339 or Unix seconds (default: -last before -to)")
		to         = flag.String("to", "", "window end: RFC 3339 or Unix seconds (default: now)")
		last       = flag.Duration("last", 15*time.Minute, "window length when -from is not set")
		scrape     = flag.Duration("scrape", 15*time.Second, "Prometheus scrape interval (Grafana's data source setting)")
		step       = flag.Duration("step", 0, "query resolution (0: Grafana's auto interval)")
		width      = flag.Float64("width", 1600, "page width in CSS pixels")
		out        = flag.String("out", "-", "HTML output file (- for stdout)")
		note       = flag.String("note", "", "extra text for the provenance line (e.g. what load ran)")
		timeout    = flag.Duration("timeout", 30*time.Second, "limit for all queries together")
		heightOnly = flag.Bool("print-height", false, "print the page height in pixels and exit (no queries)")
	)
	vars := Vars{}
	flag.Func("var", "template variable name=value (repeat for several values)", func(s string) error {
		name, val, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return fmt.Errorf("want name=value, got %q", s)
		}
		vars[name] = append(vars[name], val)
		return nil
	})
	flag.Parse()
	if err := run(*dashPath, *promURL, *from, *to, *last, *scrape, *step, *width, *out, *note, *timeout, *heightOnly, vars); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dashPath, promURL, from, to string, last, scrape, step time.Duration, width float64, out, note string,
	timeout time.Duration, heightOnly bool, vars Vars) error {
	raw, err := os.ReadFile(dashPath)
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	d, err := ParseDashboard(raw)
	if err != nil {
		return err
	}
	w := Window{To: time.Now().UTC(), Scrape: scrape}
	if to != "" {
		if w.To, err = parseTime(to); err != nil {
			return err
		}
	}
	w.From = w.To.Add(-last)
	if from != "" {
		if w.From, err = parseTime(from); err != nil {
			return err
		}
	}
	if !w.From.Before(w.To) {
		return fmt.Errorf("preview: window %v .. %v is empty", w.From, w.To)
	}
	w.Step = step
	if w.Step <= 0 {
		w.Step = AutoStep(w.To.Sub(w.From), scrape, maxDataPoints)
	}
	all := DefaultVars(d)
	for k, v := range vars {
		all[k] = v
	}
	pg := Page{Title: d.Title, Width: width, Window: w, Subtitle: provenance(dashPath, w, d, all, note)}
	for _, p := range d.Panels {
		pg.Panels = append(pg.Panels, PanelData{Panel: p})
	}
	if heightOnly {
		fmt.Println(pg.Height())
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	prom := Prom{Base: strings.TrimRight(promURL, "/")}
	for i := range pg.Panels {
		pd := &pg.Panels[i]
		color := 0
		for _, t := range pd.Panel.Targets {
			if t.Hide || t.Expr == "" {
				continue
			}
			expr, err := Interpolate(t.Expr, w, d, all)
			if err != nil {
				return err
			}
			series, err := prom.QueryRange(ctx, expr, w)
			if err != nil {
				pd.Errors = append(pd.Errors, err.Error())
				continue
			}
			for _, s := range series {
				pd.Series = append(pd.Series, Drawn{
					Name:   LegendName(t.LegendFormat, s.Labels, expr),
					Color:  palette[color%len(palette)],
					Points: s.Points,
				})
				color++
			}
		}
	}
	f := os.Stdout
	if out != "-" {
		if f, err = os.Create(out); err != nil {
			return fmt.Errorf("preview: %w", err)
		}
	}
	if err := pg.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("preview: write %s: %w", out, err)
	}
	if f != os.Stdout {
		if err := f.Close(); err != nil {
			return fmt.Errorf("preview: write %s: %w", out, err)
		}
	}
	return nil
}

// provenance is the line under the title saying what the page is.
func provenance(dashPath string, w Window, d *Dashboard, vars Vars, note string) string {
	var vs []string
	for _, tv := range d.Templating.List {
		if tv.Type == "datasource" {
			continue
		}
		val := strings.Join(vars[tv.Name], ", ")
		if val == AllValue || val == "" {
			val = "All"
		}
		vs = append(vs, tv.Name+" = "+val)
	}
	s := fmt.Sprintf("%s rendered by deploy/grafana/preview (not Grafana): each panel's own PromQL on Prometheus query_range · %s – %s UTC · step %s, $__rate_interval %s",
		dashPath, w.From.UTC().Format("2006-01-02 15:04:05"), w.To.UTC().Format("15:04:05"), PromDuration(w.Step), PromDuration(w.RateInterval()))
	if len(vs) > 0 {
		s += " · " + strings.Join(vs, " · ")
	}
	if note != "" {
		s += " · " + note
	}
	return s
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(s string) (time.Time, error) {
	if sec, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(sec*1e9)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("preview: time %q: want RFC 3339 or Unix seconds", s)
	}
	return t.UTC(), nil
}

package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Window is the time range and resolution of the queries, the inputs of
// Grafana's built-in interval variables.
type Window struct {
	From, To time.Time
	// Step is the query_range resolution, what Grafana calls the interval:
	// max(scrape interval, range / max data points).
	Step time.Duration
	// Scrape is the Prometheus data source's scrape interval, Grafana's
	// floor for $__interval and the base of $__rate_interval.
	Scrape time.Duration
}

// AutoStep is Grafana's interval for a range drawn with at most maxPoints
// points and a data source scraped every scrape: range/maxPoints rounded
// up to whole seconds, never below scrape.
func AutoStep(rng, scrape time.Duration, maxPoints int) time.Duration {
	step := (rng + time.Duration(maxPoints) - 1) / time.Duration(maxPoints)
	step = step.Round(time.Second)
	return max(step, scrape)
}

// RateInterval is Grafana's $__rate_interval: max($__interval + scrape
// interval, 4 × scrape interval), so that a rate always spans at least
// four samples whatever the zoom.
func (w Window) RateInterval() time.Duration {
	return max(w.Step+w.Scrape, 4*w.Scrape)
}

// Vars are the values of a dashboard's template variables: one value, or
// several for a multi-value variable; AllValue marks "All".
type Vars map[string][]string

// AllValue is the value of a variable set to "All" (Grafana's $__all).
const AllValue = "$__all"

// DefaultVars takes each variable's current value from the dashboard.
func DefaultVars(d *Dashboard) Vars {
	v := Vars{}
	for _, tv := range d.Templating.List {
		switch cur := tv.Current.Value.(type) {
		case string:
			v[tv.Name] = []string{cur}
		case []any:
			for _, x := range cur {
				if s, ok := x.(string); ok {
					v[tv.Name] = append(v[tv.Name], s)
				}
			}
		}
	}
	return v
}

// varRef matches the variable syntaxes Grafana interpolates: $name,
// ${name}, ${name:format} and [[name]].
var varRef = regexp.MustCompile(`\$([A-Za-z0-9_]+)|\$\{([A-Za-z0-9_]+)(?::([A-Za-z0-9_]+))?\}|\[\[([A-Za-z0-9_]+)\]\]`)

// Interpolate substitutes the built-in interval variables and the
// dashboard's template variables in a PromQL expression, as Grafana's
// Prometheus data source does: a variable that is multi-value or has an
// "All" option is written as a regex ((a|b), the regex-escaped values;
// All is its allValue, or every value's alternation when it has none —
// here ".*"). An unknown variable is an error, so that no query is sent
// with a literal $name in it.
func Interpolate(expr string, w Window, d *Dashboard, vars Vars) (string, error) {
	var unknown []string
	out := varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[4]
		if v, ok := builtin(name, w); ok {
			return v
		}
		tv := variable(d, name)
		vals, set := vars[name]
		if tv == nil && !set {
			unknown = append(unknown, name)
			return ref
		}
		regex := tv != nil && (tv.Multi || tv.IncludeAll) || m[3] == "regex"
		if len(vals) == 0 || len(vals) == 1 && (vals[0] == AllValue || vals[0] == "All") {
			if tv != nil && tv.AllValue != "" {
				return tv.AllValue
			}
			return ".*"
		}
		if !regex {
			return vals[0]
		}
		esc := make([]string, len(vals))
		for i, s := range vals {
			esc[i] = regexp.QuoteMeta(s)
		}
		if len(esc) == 1 {
			return esc[0]
		}
		return "(" + strings.Join(esc, "|") + ")"
	})
	if len(unknown) > 0 {
		return out, fmt.Errorf("preview: unknown variable(s) %s in %q", strings.Join(unknown, ", "), expr)
	}
	return out, nil
}

// builtin gives the value of one of Grafana's global variables.
func builtin(name string, w Window) (string, bool) {
	switch name {
	case "__interval":
		return PromDuration(w.Step), true
	case "__interval_ms":
		return strconv.FormatInt(w.Step.Milliseconds(), 10), true
	case "__rate_interval":
		return PromDuration(w.RateInterval()), true
	case "__range":
		return PromDuration(w.To.Sub(w.From)), true
	case "__range_s":
		return strconv.FormatInt(int64(w.To.Sub(w.From).Seconds()), 10), true
	case "__range_ms":
		return strconv.FormatInt(w.To.Sub(w.From).Milliseconds(), 10), true
	}
	return "", false
}

func variable(d *Dashboard, name string) *Variable {
	if d == nil {
		return nil
	}
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

// PromDuration writes d as a PromQL duration: whole seconds as "15s",
// anything finer in milliseconds.
func PromDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// legendVar matches {{label}} in a legendFormat.
var legendVar = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// LegendName is a series' name in the legend: legendFormat with
// {{label}} replaced by the series' labels (a missing label is empty), or,
// without a legendFormat, the labels as Prometheus prints them ({a="b"}),
// or expr when the series has none.
func LegendName(format string, labels map[string]string, expr string) string {
	if format != "" && format != "__auto" {
		return legendVar.ReplaceAllStringFunc(format, func(ref string) string {
			return labels[legendVar.FindStringSubmatch(ref)[1]]
		})
	}
	name := labels["__name__"]
	var parts []string
	for _, k := range sortedKeys(labels) {
		if k != "__name__" {
			parts = append(parts, k+"="+strconv.Quote(labels[k]))
		}
	}
	switch {
	case len(parts) > 0:
		return name + "{" + strings.Join(parts, ", ") + "}"
	case name != "":
		return name
	}
	return expr
}

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Dashboard is the part of a Grafana dashboard JSON model the previewer
// draws: its panels with their grid positions, queries and display
// options, and its template variables.
type Dashboard struct {
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Variable is a template variable ($instance, ...).
type Variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	IncludeAll bool   `json:"includeAll"`
	Multi      bool   `json:"multi"`
	AllValue   string `json:"allValue"`
	Current    struct {
		Value any `json:"value"` // a string, or a list of them for a multi-value variable
	} `json:"current"`
}

// Panel is one panel. A collapsed row keeps its panels in Panels;
// Flatten lifts them out.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"` // timeseries, stat, row; others are drawn as time series
	Title       string      `json:"title"`
	Description string      `json:"description"`
	GridPos     GridPos     `json:"gridPos"`
	Targets     []Target    `json:"targets"`
	FieldConfig FieldConfig `json:"fieldConfig"`
	Panels      []Panel     `json:"panels"` // a collapsed row's panels
}

// GridPos is a panel's place on Grafana's 24-column grid; Y and H count
// grid rows (30 px each in Grafana).
type GridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat"`
	Hide         bool   `json:"hide"`
}

// FieldConfig holds the panel-wide field defaults the previewer uses.
type FieldConfig struct {
	Defaults struct {
		Unit       string      `json:"unit"`
		Decimals   *int        `json:"decimals"`
		Min        *float64    `json:"min"`
		Max        *float64    `json:"max"`
		Mappings   []Mapping   `json:"mappings"`
		Thresholds *Thresholds `json:"thresholds"`
		Custom     struct {
			LineWidth   *float64 `json:"lineWidth"`
			FillOpacity *float64 `json:"fillOpacity"`
		} `json:"custom"`
	} `json:"defaults"`
}

// Mapping is a value mapping; only type "value" (exact value → text and
// color) is applied.
type Mapping struct {
	Type    string `json:"type"`
	Options map[string]struct {
		Text  string `json:"text"`
		Color string `json:"color"`
	} `json:"options"`
}

// Thresholds color a stat panel's value: the last step whose value is at
// most the shown value wins; the first step's value is null (-∞).
type Thresholds struct {
	Mode  string          `json:"mode"`
	Steps []ThresholdStep `json:"steps"`
}

// ThresholdStep is one color from Value up; Value is nil for the base.
type ThresholdStep struct {
	Color string   `json:"color"`
	Value *float64 `json:"value"`
}

// defaultThresholds is what Grafana gives a panel whose JSON has none:
// green, red from 80.
var defaultThresholds = Thresholds{Steps: []ThresholdStep{{Color: "green"}, {Color: "red", Value: ptr(80.0)}}}

func ptr[T any](v T) *T { return &v }

// ParseDashboard decodes a dashboard JSON model and returns its panels
// flattened and ordered as Grafana lays them out (by row, then column).
func ParseDashboard(raw []byte) (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("preview: dashboard: %w", err)
	}
	d.Panels = Flatten(d.Panels)
	for i, p := range d.Panels {
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > gridColumns {
			return nil, fmt.Errorf("preview: panel %d %q: gridPos %+v is not on the %d-column grid", p.ID, p.Title, p.GridPos, gridColumns)
		}
		if p.Type == "" {
			d.Panels[i].Type = "timeseries"
		}
	}
	return &d, nil
}

// Flatten lifts the panels of collapsed rows next to the row and sorts
// all by grid position.
func Flatten(panels []Panel) []Panel {
	var out []Panel
	for _, p := range panels {
		inner := p.Panels
		p.Panels = nil
		out = append(out, p)
		out = append(out, Flatten(inner)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].GridPos, out[j].GridPos
		if a.Y != b.Y {
			return a.Y < b.Y
		}
		return a.X < b.X
	})
	return out
}

// GridRows is how many grid rows the panels span.
func GridRows(panels []Panel) int {
	rows := 0
	for _, p := range panels {
		rows = max(rows, p.GridPos.Y+p.GridPos.H)
	}
	return rows
}

// mapValue applies the value mappings to v: the mapped text and color,
// ok=false when none matches.
func (fc FieldConfig) mapValue(v float64) (text, color string, ok bool) {
	key := strconv.FormatFloat(v, 'f', -1, 64)
	for _, m := range fc.Defaults.Mappings {
		if m.Type != "value" {
			continue
		}
		if o, found := m.Options[key]; found {
			return o.Text, o.Color, true
		}
	}
	return "", "", false
}

// thresholdColor is the color of the threshold step v falls in.
func (fc FieldConfig) thresholdColor(v float64) string {
	t := defaultThresholds
	if fc.Defaults.Thresholds != nil && len(fc.Defaults.Thresholds.Steps) > 0 {
		t = *fc.Defaults.Thresholds
	}
	color := t.Steps[0].Color
	for _, s := range t.Steps[1:] {
		if s.Value != nil && !math.IsNaN(v) && v >= *s.Value {
			color = s.Color
		}
	}
	return color
}

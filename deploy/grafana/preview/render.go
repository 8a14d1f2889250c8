package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// PanelData is a panel with the result of its queries.
type PanelData struct {
	Panel  Panel
	Series []Drawn
	Errors []string // queries that failed, with their reason
}

// Drawn is one series as shown: its legend name and color.
type Drawn struct {
	Name   string
	Color  string
	Points []Point
}

// Page is the whole preview.
type Page struct {
	Title    string
	Subtitle string // where the data came from, shown under the title
	Width    float64
	Window   Window
	Panels   []PanelData
}

// Page geometry and Grafana's dark theme.
const (
	pagePad     = 16.0 // around the grid
	headerPx    = 76.0 // title and a provenance line of up to two lines
	panelHeadPx = 32.0 // panel title bar
	legendRowPx = 20.0
	charPx      = 7.0 // average width of a 12 px sans-serif character, for layout estimates

	colorPage   = "#111217"
	colorPanel  = "#181b1f"
	colorBorder = "#2c2f35"
	colorText   = "#ccccdc"
	colorMuted  = "#8e8e96"
	colorGrid   = "rgba(204,204,220,0.08)"
)

// palette is Grafana's classic series palette, in order.
var palette = []string{
	"#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1",
	"#BA43A9", "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17",
}

// namedColors are Grafana's color names as the dark theme draws them.
var namedColors = map[string]string{
	"green": "#73BF69", "red": "#F2495C", "yellow": "#FADE2A", "orange": "#FF9830",
	"blue": "#5794F2", "purple": "#B877D9", "text": colorText, "transparent": "transparent",
}

// ColorOf resolves a Grafana color name; anything else (#rrggbb, rgb())
// is used as given.
func ColorOf(name string) string {
	if c, ok := namedColors[name]; ok {
		return c
	}
	if name == "" {
		return colorText
	}
	return name
}

// Height is the page's height in pixels: what the screenshot needs.
func (pg Page) Height() float64 {
	panels := make([]Panel, len(pg.Panels))
	for i, p := range pg.Panels {
		panels[i] = p.Panel
	}
	return math.Ceil(headerPx + GridHeight(GridRows(panels)) + pagePad)
}

// WriteHTML writes the page: one self-contained HTML document, each panel
// an absolutely placed box with inline SVG.
func (pg Page) WriteHTML(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%s</title>
<style>
html,body{margin:0;background:%s;color:%s;font:12px "DejaVu Sans",Inter,Helvetica,Arial,sans-serif}
.hd{position:absolute;left:%gpx;top:10px;right:%gpx}
.hd h1{margin:0;font-size:18px;font-weight:500}
.hd p{margin:4px 0 0;color:%s;font-size:12px;line-height:16px}
.pn{position:absolute;box-sizing:border-box;background:%s;border:1px solid %s;border-radius:2px;overflow:hidden}
.pt{height:%gpx;line-height:%gpx;padding:0 8px;font-size:14px;font-weight:500;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.row{position:absolute;font-size:14px;font-weight:500;border-bottom:1px solid %s}
.lg{display:flex;flex-wrap:wrap;padding:0 8px;gap:0 16px;line-height:%gpx}
.lg span{white-space:nowrap}
.lg i{display:inline-block;width:14px;height:4px;border-radius:2px;margin:0 6px 2px 0;vertical-align:middle}
.err{color:#F2495C;padding:8px}
svg{display:block}
</style></head><body>
`, html.EscapeString(pg.Title), colorPage, colorText, pagePad, pagePad, colorMuted, colorPanel, colorBorder,
		panelHeadPx, panelHeadPx, colorBorder, legendRowPx)
	fmt.Fprintf(&b, `<div class="hd"><h1>%s</h1><p>%s</p></div>
`, html.EscapeString(pg.Title), html.EscapeString(pg.Subtitle))
	gridW := pg.Width - 2*pagePad
	for _, pd := range pg.Panels {
		r := GridRect(pd.Panel.GridPos, pagePad, headerPx, gridW)
		if pd.Panel.Type == "row" {
			fmt.Fprintf(&b, `<div class="row" style="left:%gpx;top:%gpx;width:%gpx;height:%gpx">%s</div>
`, r.X, r.Y, r.W, r.H, html.EscapeString(pd.Panel.Title))
			continue
		}
		fmt.Fprintf(&b, `<div class="pn" style="left:%s;top:%s;width:%s;height:%s" title="%s"><div class="pt">%s</div>`,
			px(r.X), px(r.Y), px(r.W), px(r.H), html.EscapeString(pd.Panel.Description), html.EscapeString(pd.Panel.Title))
		body := Rect{W: r.W - 2, H: r.H - 2 - panelHeadPx}
		for _, e := range pd.Errors {
			fmt.Fprintf(&b, `<div class="err">%s</div>`, html.EscapeString(e))
		}
		if len(pd.Errors) == 0 {
			if pd.Panel.Type == "stat" {
				pg.writeStat(&b, pd, body)
			} else {
				pg.writeTimeseries(&b, pd, body)
			}
		}
		b.WriteString("</div>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func px(v float64) string { return num(v) + "px" }

// LastNotNull is the stat panels' reduction: the last sample that is not
// NaN, NaN if there is none.
func LastNotNull(points []Point) float64 {
	for i := len(points) - 1; i >= 0; i-- {
		if !math.IsNaN(points[i].V) {
			return points[i].V
		}
	}
	return math.NaN()
}

// writeStat draws a stat panel: each series' last value, large, colored by
// its value mapping or thresholds, over a sparkline (Grafana's default
// graph mode "area").
func (pg Page) writeStat(b *strings.Builder, pd PanelData, body Rect) {
	fc := pd.Panel.FieldConfig
	series := pd.Series
	if len(series) == 0 {
		series = []Drawn{{}}
	}
	w := body.W / float64(len(series))
	fmt.Fprintf(b, `<svg width="%s" height="%s">`, num(body.W), num(body.H))
	for i, s := range series {
		v := LastNotNull(s.Points)
		text, color, mapped := fc.mapValue(v)
		if !mapped {
			text = FormatValue(fc.Defaults.Unit, v, fc.Defaults.Decimals)
			color = fc.thresholdColor(v)
		}
		if math.IsNaN(v) {
			color = colorMuted
		}
		color = ColorOf(color)
		x0 := float64(i) * w
		if len(s.Points) > 1 {
			lo, hi := valueRange(s.Points)
			spark := Plot{Area: Rect{X: x0, Y: body.H * 0.45, W: w, H: body.H * 0.55}, From: pg.Window.From, To: pg.Window.To, Min: math.Min(0, lo), Max: hi}
			if spark.Max <= spark.Min {
				spark.Max = spark.Min + 1
			}
			for _, seg := range Segments(s.Points, gapOf(pg.Window)) {
				fmt.Fprintf(b, `<path d="%s" fill="%s" fill-opacity="0.15" stroke="none"/>`, spark.AreaPath(seg), color)
				fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-opacity="0.6" stroke-width="1"/>`, spark.LinePath(seg), color)
			}
		}
		size := math.Min(body.H*0.42, 1.6*w/math.Max(4, float64(len([]rune(text)))))
		fmt.Fprintf(b, `<text x="%s" y="%s" fill="%s" font-size="%s" font-weight="500" text-anchor="middle" dominant-baseline="middle">%s</text>`,
			num(x0+w/2), num(body.H*0.4), color, num(size), html.EscapeString(text))
		if len(series) > 1 && s.Name != "" {
			fmt.Fprintf(b, `<text x="%s" y="14" fill="%s" font-size="12" text-anchor="middle">%s</text>`,
				num(x0+w/2), colorMuted, html.EscapeString(s.Name))
		}
	}
	b.WriteString("</svg>")
}

// legendRows estimates how many rows a list legend of names wraps to in
// width px.
func legendRows(names []string, width float64) int {
	if len(names) == 0 {
		return 0
	}
	rows, x := 1, 0.0
	avail := width - 16
	for _, n := range names {
		item := 20 + charPx*float64(len([]rune(n)))
		if x > 0 && x+16+item > avail {
			rows++
			x = 0
		}
		if x > 0 {
			x += 16
		}
		x += item
	}
	return rows
}

// writeTimeseries draws a time series panel: gridlines, value and time
// axes, one line (and fill, fieldConfig.custom.fillOpacity) per series,
// and the list legend below.
func (pg Page) writeTimeseries(b *strings.Builder, pd PanelData, body Rect) {
	d := pd.Panel.FieldConfig.Defaults
	names := make([]string, len(pd.Series))
	for i, s := range pd.Series {
		names[i] = s.Name
	}
	legendH := float64(legendRows(names, body.W)) * legendRowPx
	chartH := body.H - legendH - 4
	lo, hi := math.NaN(), math.NaN()
	for _, s := range pd.Series {
		l, h := valueRange(s.Points)
		lo, hi = nanMin(lo, l), nanMax(hi, h)
	}
	if d.Min != nil {
		lo = *d.Min
	}
	if d.Max != nil {
		hi = *d.Max
	}
	axis := NiceAxis(d.Unit, lo, hi, max(2, int(chartH/40)))
	labelW := 0.0
	for _, l := range axis.Labels {
		labelW = math.Max(labelW, charPx*0.95*float64(len([]rune(l))))
	}
	plot := Plot{
		Area: Rect{X: labelW + 14, Y: 6, W: body.W - labelW - 14 - 12, H: chartH - 6 - 22},
		From: pg.Window.From, To: pg.Window.To, Min: axis.Min, Max: axis.Max,
	}
	fmt.Fprintf(b, `<svg width="%s" height="%s" font-size="11" fill="%s">`, num(body.W), num(chartH), colorMuted)
	for i, t := range axis.Ticks {
		y := plot.Y(t)
		fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s"/>`, num(plot.Area.X), num(plot.Area.X+plot.Area.W), num(y), num(y), colorGrid)
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`, num(plot.Area.X-6), num(y), html.EscapeString(axis.Labels[i]))
	}
	ticks, step := TimeTicks(pg.Window.From, pg.Window.To, max(2, int(plot.Area.W/110)))
	for _, t := range ticks {
		x := plot.X(t)
		if x+charPx*4 > body.W { // the label would be cut at the panel's edge
			continue
		}
		fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s"/>`, num(x), num(x), num(plot.Area.Y), num(plot.Area.Y+plot.Area.H), colorGrid)
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`, num(x), num(plot.Area.Y+plot.Area.H+15), TimeLabel(t, step))
	}
	width := 1.0
	if d.Custom.LineWidth != nil {
		width = *d.Custom.LineWidth
	}
	fill := 0.0
	if d.Custom.FillOpacity != nil {
		fill = *d.Custom.FillOpacity / 100
	}
	fmt.Fprintf(b, `<clipPath id="c%d"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath><g clip-path="url(#c%d)">`,
		pd.Panel.ID, num(plot.Area.X), num(plot.Area.Y-1), num(plot.Area.W), num(plot.Area.H+2), pd.Panel.ID)
	for _, s := range pd.Series {
		for _, seg := range Segments(s.Points, gapOf(pg.Window)) {
			if fill > 0 {
				fmt.Fprintf(b, `<path d="%s" fill="%s" fill-opacity="%g" stroke="none"/>`, plot.AreaPath(seg), s.Color, fill)
			}
			if len(seg) == 1 {
				fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="1.5" fill="%s"/>`, num(plot.X(seg[0].T)), num(plot.Y(seg[0].V)), s.Color)
				continue
			}
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="%g" stroke-linejoin="round"/>`, plot.LinePath(seg), s.Color, width)
		}
	}
	b.WriteString("</g>")
	if len(pd.Series) == 0 {
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle" font-size="13">No data</text>`, num(plot.Area.X+plot.Area.W/2), num(plot.Area.Y+plot.Area.H/2))
	}
	b.WriteString("</svg>")
	if len(names) > 0 {
		b.WriteString(`<div class="lg">`)
		for _, s := range pd.Series {
			fmt.Fprintf(b, `<span><i style="background:%s"></i>%s</span>`, s.Color, html.EscapeString(s.Name))
		}
		b.WriteString("</div>")
	}
}

// gapOf is the longest step between samples drawn as connected: a
// missing sample or more breaks the line.
func gapOf(w Window) time.Duration { return w.Step * 3 / 2 }

func valueRange(points []Point) (lo, hi float64) {
	lo, hi = math.NaN(), math.NaN()
	for _, p := range points {
		lo, hi = nanMin(lo, p.V), nanMax(hi, p.V)
	}
	return lo, hi
}

// nanMin and nanMax ignore a NaN operand.
func nanMin(a, b float64) float64 {
	if math.IsNaN(a) || b < a {
		return b
	}
	return a
}

func nanMax(a, b float64) float64 {
	if math.IsNaN(a) || b > a {
		return b
	}
	return a
}

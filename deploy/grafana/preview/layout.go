package main

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Grafana's dashboard grid: 24 columns, rows 30 px high, 8 px between
// panels both ways.
const (
	gridColumns = 24
	gridRowPx   = 30
	gridGapPx   = 8
)

// Rect is a box in CSS pixels.
type Rect struct{ X, Y, W, H float64 }

// GridRect places a panel on a page width px wide whose grid starts at
// (left, top), as Grafana's react-grid-layout does: a column is
// (width - 23 gaps) / 24 wide, a panel of w columns and h rows spans
// w columns and h rows plus the gaps between them.
func GridRect(g GridPos, left, top, width float64) Rect {
	col := (width - (gridColumns-1)*gridGapPx) / gridColumns
	return Rect{
		X: left + float64(g.X)*(col+gridGapPx),
		Y: top + float64(g.Y)*(gridRowPx+gridGapPx),
		W: float64(g.W)*col + float64(g.W-1)*gridGapPx,
		H: float64(g.H)*gridRowPx + float64(g.H-1)*gridGapPx,
	}
}

// GridHeight is the pixel height of rows grid rows.
func GridHeight(rows int) float64 {
	if rows <= 0 {
		return 0
	}
	return float64(rows)*gridRowPx + float64(rows-1)*gridGapPx
}

// Segments splits points into the runs a line is drawn through: a NaN
// value or a step between samples longer than maxGap (a missing sample:
// Grafana does not connect across nulls) starts a new run.
func Segments(points []Point, maxGap time.Duration) [][]Point {
	var out [][]Point
	var cur []Point
	for _, p := range points {
		if math.IsNaN(p.V) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		if len(cur) > 0 && p.T.Sub(cur[len(cur)-1].T) > maxGap {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, p)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// Plot maps samples to pixels inside a chart's plot area.
type Plot struct {
	Area     Rect
	From, To time.Time
	Min, Max float64
}

// X is the pixel column of t.
func (p Plot) X(t time.Time) float64 {
	span := p.To.Sub(p.From).Seconds()
	if span <= 0 {
		return p.Area.X
	}
	return p.Area.X + p.Area.W*t.Sub(p.From).Seconds()/span
}

// Y is the pixel row of v (larger values higher), clamped to the area.
func (p Plot) Y(v float64) float64 {
	if p.Max <= p.Min {
		return p.Area.Y + p.Area.H
	}
	f := (v - p.Min) / (p.Max - p.Min)
	f = math.Max(0, math.Min(1, f))
	return p.Area.Y + p.Area.H*(1-f)
}

// LinePath is the SVG path data of a polyline through seg.
func (p Plot) LinePath(seg []Point) string {
	var b strings.Builder
	for i, pt := range seg {
		if i == 0 {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		b.WriteString(num(p.X(pt.T)))
		b.WriteByte(' ')
		b.WriteString(num(p.Y(pt.V)))
	}
	return b.String()
}

// AreaPath is the SVG path data of the area between seg and the zero line
// (or the axis minimum, when zero is below it), closed.
func (p Plot) AreaPath(seg []Point) string {
	if len(seg) == 0 {
		return ""
	}
	base := p.Y(math.Max(0, p.Min))
	return p.LinePath(seg) + "L" + num(p.X(seg[len(seg)-1].T)) + " " + num(base) +
		"L" + num(p.X(seg[0].T)) + " " + num(base) + "Z"
}

// num writes a pixel coordinate with at most one decimal.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// timeSteps are the tick intervals of a time axis.
var timeSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// TimeTicks returns at most n ticks between from and to, at the smallest
// round interval that keeps them that few, aligned to it.
func TimeTicks(from, to time.Time, n int) (ticks []time.Time, step time.Duration) {
	span := to.Sub(from)
	step = timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= time.Duration(max(n, 1)) {
			step = s
			break
		}
	}
	for t := from.Truncate(step); !t.After(to); t = t.Add(step) {
		if !t.Before(from) {
			ticks = append(ticks, t)
		}
	}
	return ticks, step
}

// TimeLabel formats a time-axis tick: with seconds when the ticks are
// less than a minute apart.
func TimeLabel(t time.Time, step time.Duration) string {
	if step < time.Minute {
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}

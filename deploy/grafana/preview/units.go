package main

import (
	"math"
	"strconv"
	"strings"
)

// scale is how values of a unit are shown at one magnitude: divided by
// factor, followed by suffix.
type scale struct {
	factor float64
	suffix string
}

// Grafana's magnitude steps for the units the dashboard uses.
var (
	shortScales = []scale{{1, ""}, {1e3, " K"}, {1e6, " Mil"}, {1e9, " Bil"}, {1e12, " Tri"}}
	iecScales   = []scale{{1, " B"}, {1 << 10, " KiB"}, {1 << 20, " MiB"}, {1 << 30, " GiB"}, {1 << 40, " TiB"}}
	siScales    = []scale{{1, " B"}, {1e3, " kB"}, {1e6, " MB"}, {1e9, " GB"}, {1e12, " TB"}}
	timeScales  = []scale{{1e-9, " ns"}, {1e-6, " µs"}, {1e-3, " ms"}, {1, " s"}, {60, " min"}, {3600, " hour"}}
)

// unitScale picks the scale Grafana would show values up to maxAbs of unit
// in. The suffix of an unknown unit is the unit itself.
func unitScale(unit string, maxAbs float64) scale {
	pick := func(scales []scale, extra string) scale {
		s := scales[0]
		for _, c := range scales {
			if maxAbs >= c.factor {
				s = c
			}
		}
		s.suffix += extra
		return s
	}
	switch unit {
	case "", "short", "none":
		return pick(shortScales, "")
	case "ops":
		return pick(shortScales, " ops/s")
	case "reqps":
		return pick(shortScales, " req/s")
	case "bytes":
		return pick(iecScales, "")
	case "decbytes":
		return pick(siScales, "")
	case "s":
		if maxAbs == 0 {
			return scale{1, " s"}
		}
		return pick(timeScales, "")
	case "ms":
		s := pick(timeScales, "")
		if maxAbs == 0 {
			s = scale{1, " s"}
		}
		s.factor *= 1e3 // values are milliseconds
		return s
	case "percent":
		return scale{1, "%"}
	case "percentunit":
		return scale{0.01, "%"}
	}
	return scale{1, " " + unit}
}

// unitInput converts a value of unit to the base the scales are in (only
// "ms" differs: the scales are in seconds).
func unitInput(unit string, v float64) float64 {
	if unit == "ms" {
		return v / 1e3
	}
	return v
}

// FormatValue writes v in unit the way a stat panel shows it: scaled to
// its magnitude with about three significant digits (decimals, when set,
// fixes the digits after the point).
func FormatValue(unit string, v float64, decimals *int) string {
	if math.IsNaN(v) {
		return "No data"
	}
	s := unitScale(unit, math.Abs(unitInput(unit, v)))
	x := v / s.factor
	d := 0
	switch ax := math.Abs(x); {
	case decimals != nil:
		d = *decimals
	case ax == 0 || ax >= 100:
		d = 0
	case ax >= 10:
		d = 1
	case ax >= 1:
		d = 2
	default:
		d = 3
	}
	out := strconv.FormatFloat(x, 'f', d, 64)
	if decimals == nil && strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	return out + s.suffix
}

// Axis is a value axis: its range and labelled ticks.
type Axis struct {
	Min, Max float64
	Ticks    []float64
	Labels   []string
}

// NiceAxis spans [lo, hi] with about n ticks at 1, 2 or 5 × 10^k of the
// unit's scale, labelled in that scale. Data that never goes below zero
// gets an axis from zero; a flat or empty range gets a unit-wide one.
func NiceAxis(unit string, lo, hi float64, n int) Axis {
	if math.IsNaN(lo) || math.IsNaN(hi) {
		lo, hi = 0, 1
	}
	if lo >= 0 {
		lo = 0
	}
	if hi <= lo {
		hi = lo + 1
		if unit == "s" || unit == "ms" {
			hi = lo + unitInverse(unit, 1e-3)
		}
	}
	s := unitScale(unit, math.Max(math.Abs(unitInput(unit, lo)), math.Abs(unitInput(unit, hi))))
	slo, shi := lo/s.factor, hi/s.factor
	step := niceStep((shi - slo) / float64(max(n, 1)))
	first, last := math.Floor(slo/step), math.Ceil(shi/step)
	a := Axis{Min: first * step * s.factor, Max: last * step * s.factor}
	for k := first; k <= last; k++ {
		v := k * step * s.factor
		a.Ticks = append(a.Ticks, v)
		if k == 0 { // "0 ops/s", not "0.0 K ops/s"
			a.Labels = append(a.Labels, "0"+unitScale(unit, 0).suffix)
			continue
		}
		// Each tick in its own magnitude, as Grafana labels them
		// ("500", "1.0 K"), with the digits the step needs there.
		ts := unitScale(unit, math.Abs(unitInput(unit, v)))
		decimals := max(0, int(-math.Floor(math.Log10(step*s.factor/ts.factor)+1e-9)))
		a.Labels = append(a.Labels, strconv.FormatFloat(roundTo(v/ts.factor, decimals), 'f', decimals, 64)+ts.suffix)
	}
	return a
}

// unitInverse converts a value in the scales' base back to unit.
func unitInverse(unit string, v float64) float64 {
	if unit == "ms" {
		return v * 1e3
	}
	return v
}

// niceStep rounds raw to the nearest of 1, 2 or 5 × 10^k.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	exp := math.Floor(math.Log10(raw))
	base := math.Pow(10, exp)
	switch f := raw / base; {
	case f < 1.5:
		return base
	case f < 3:
		return 2 * base
	case f < 7:
		return 5 * base
	}
	return 10 * base
}

func roundTo(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

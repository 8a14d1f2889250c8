package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Series is one time series of a query's result.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample; V is NaN where the query had no value (a rate over
// no samples, 0/0), which draws as a gap.
type Point struct {
	T time.Time
	V float64
}

// Prom queries a Prometheus server's HTTP API.
type Prom struct {
	Base   string // e.g. http://127.0.0.1:9090
	Client *http.Client
}

// QueryRange runs expr over w (GET /api/v1/query_range) and returns the
// series sorted by their labels.
func (p Prom) QueryRange(ctx context.Context, expr string, w Window) ([]Series, error) {
	q := url.Values{}
	q.Set("query", expr)
	q.Set("start", strconv.FormatInt(w.From.Unix(), 10))
	q.Set("end", strconv.FormatInt(w.To.Unix(), 10))
	q.Set("step", strconv.FormatFloat(w.Step.Seconds(), 'f', -1, 64))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Base+"/api/v1/query_range?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("preview: query %q: %w", expr, err)
	}
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("preview: query %q: %w", expr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("preview: query %q: read: %w", expr, err)
	}
	series, err := ParseMatrix(body)
	if err != nil {
		return nil, fmt.Errorf("preview: query %q: %w", expr, err)
	}
	return series, nil
}

// ParseMatrix decodes a query_range response body.
func ParseMatrix(body []byte) ([]Series, error) {
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string    `json:"metric"`
				Values [][2]json.RawMessage `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("response is not the Prometheus API's JSON: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("result type %q, want matrix", r.Data.ResultType)
	}
	out := make([]Series, 0, len(r.Data.Result))
	for _, res := range r.Data.Result {
		s := Series{Labels: res.Metric, Points: make([]Point, 0, len(res.Values))}
		for _, v := range res.Values {
			var ts float64
			var val string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return nil, fmt.Errorf("sample time: %w", err)
			}
			if err := json.Unmarshal(v[1], &val); err != nil {
				return nil, fmt.Errorf("sample value: %w", err)
			}
			f, err := strconv.ParseFloat(val, 64) // "NaN", "+Inf" included
			if err != nil {
				return nil, fmt.Errorf("sample value %q: %w", val, err)
			}
			if math.IsInf(f, 0) {
				f = math.NaN()
			}
			sec, frac := math.Modf(ts)
			s.Points = append(s.Points, Point{T: time.Unix(int64(sec), int64(frac*1e9)).UTC(), V: f})
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return labelKey(out[i].Labels) < labelKey(out[j].Labels) })
	return out, nil
}

func labelKey(l map[string]string) string {
	var b []byte
	for _, k := range sortedKeys(l) {
		b = append(b, k...)
		b = append(b, 0)
		b = append(b, l[k]...)
		b = append(b, 0)
	}
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

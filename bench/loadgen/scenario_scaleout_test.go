package loadgen

import (
	"slices"
	"strings"
	"testing"
)

func TestOwnMessages(t *testing.T) {
	got := ownMessages([]int{0, 1, 2, 3, 4, 5, 6, 3}, 3)
	// Users mod 3: 0 1 2 0 1 2 0 0.
	if want := []int64{4, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("ownMessages = %v, want %v", got, want)
	}
}

func TestParseMetricsSumsSeries(t *testing.T) {
	m := parseMetrics(strings.NewReader(`# HELP notify_wss_notifications_received_total x
# TYPE notify_wss_notifications_received_total counter
notify_wss_notifications_received_total{kind="user"} 7
notify_wss_notifications_received_total{kind="global"} 3
notify_wss_deliveries_total 12
garbage
`))
	if m[metricReceived] != 10 || m[metricDeliveries] != 12 || len(m) != 2 {
		t.Errorf("parseMetrics = %v", m)
	}
}

func TestSetInstanceRatios(t *testing.T) {
	own := []int64{100, 50, 50}
	scrape := func(recv, deliv []float64) []map[string]float64 {
		out := make([]map[string]float64, len(recv))
		for i := range recv {
			out[i] = map[string]float64{metricReceived: recv[i], metricDeliveries: deliv[i]}
		}
		return out
	}
	before := scrape([]float64{10, 10, 10}, []float64{5, 5, 5})
	cases := []struct {
		name     string
		after    []map[string]float64
		max, min float64
		want     bool
	}{
		// Every instance gets all 200 messages: ratio 2, 4, 4.
		{"pattern", scrape([]float64{210, 210, 210}, []float64{105, 55, 55}), 4, 2, true},
		// Each gets only its own members' messages.
		{"dynamic", scrape([]float64{110, 60, 60}, []float64{105, 55, 55}), 1, 1, true},
		// A server without these metrics (node, floor) records nothing.
		{"no metrics", []map[string]float64{{}, {}, {}}, 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := newResult("scaleout", Options{})
			setInstanceRatios(res, own, before, tc.after)
			hi, ok := res.Metrics["unicast.recv_ratio_max"]
			if ok != tc.want {
				t.Fatalf("recv_ratio_max recorded = %v, want %v (%v)", ok, tc.want, res.Metrics)
			}
			if !ok {
				return
			}
			if lo := res.Metrics["unicast.recv_ratio_min"]; hi != tc.max || lo != tc.min {
				t.Errorf("ratio max, min = %v, %v; want %v, %v", hi, lo, tc.max, tc.min)
			}
			if d := res.Metrics["unicast.srv_deliveries"]; d != 200 {
				t.Errorf("srv_deliveries = %v, want 200", d)
			}
			if r := res.Metrics["unicast.srv1_recv_ratio"]; r != tc.max {
				t.Errorf("srv1_recv_ratio = %v, want %v", r, tc.max)
			}
		})
	}
}

func TestUnicastPlanCountsPerUser(t *testing.T) {
	to, seq, perUser := unicastPlan(1, 10, 500)
	next := make([]int32, 10)
	for id, u := range to {
		if seq[id] != int64(next[u]) {
			t.Fatalf("message %d to user %d has seq %d, want %d", id, u, seq[id], next[u])
		}
		next[u]++
	}
	for u := range next {
		if next[u] != perUser[u] {
			t.Errorf("user %d: %d messages, perUser says %d", u, next[u], perUser[u])
		}
	}
}

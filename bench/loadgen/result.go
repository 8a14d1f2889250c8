package loadgen

import (
	"time"

	"github.com/notify-wss/notify-wss/bench/internal/hist"
)

// Result is the single JSON line a scenario prints. Metrics is flat so the
// runner can tabulate any of them; names are "<part>.<metric>_<unit>".
type Result struct {
	Scenario string             `json:"scenario"`
	Label    string             `json:"label,omitempty"`
	Start    time.Time          `json:"start"`
	Seconds  float64            `json:"seconds"`
	Params   map[string]any     `json:"params"`
	Metrics  map[string]float64 `json:"metrics"`
	Errors   map[string]int64   `json:"errors,omitempty"`
	Notes    []string           `json:"notes,omitempty"`
	// Failed is set when the scenario could not run to the end; Metrics
	// then holds whatever was measured before.
	Failed string `json:"failed,omitempty"`
}

func newResult(scenario string, opt Options) *Result {
	return &Result{
		Scenario: scenario, Label: opt.Label, Start: time.Now().UTC(),
		Params: map[string]any{}, Metrics: map[string]float64{}, Errors: map[string]int64{},
	}
}

func (r *Result) set(name string, v float64) { r.Metrics[name] = v }

func (r *Result) note(s string) { r.Notes = append(r.Notes, s) }

func (r *Result) addErrors(prefix string, m map[string]int64) {
	for k, v := range m {
		r.Errors[prefix+k] += v
	}
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// setLatency records p50/p99/p999/max/mean of h under prefix, in ms.
func (r *Result) setLatency(prefix string, h *hist.Hist) {
	if h.Count() == 0 {
		return
	}
	r.set(prefix+"_p50_ms", ms(h.Quantile(0.50)))
	r.set(prefix+"_p99_ms", ms(h.Quantile(0.99)))
	r.set(prefix+"_p999_ms", ms(h.Quantile(0.999)))
	r.set(prefix+"_max_ms", ms(h.Max()))
	r.set(prefix+"_mean_ms", ms(h.Mean()))
}

func histFrom(s hist.Snapshot) *hist.Hist {
	h := hist.New()
	h.MergeSnapshot(s)
	return h
}

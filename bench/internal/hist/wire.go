package hist

// Snapshot is the JSON form of a Hist, sparse so it travels cheaply between
// worker processes and the coordinator.
type Snapshot struct {
	// Buckets holds (bucket index, count) pairs for non-empty buckets.
	Buckets [][2]uint64 `json:"b,omitempty"`
	N       uint64      `json:"n"`
	Sum     float64     `json:"sum"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
}

// Snapshot returns the sparse form of h.
func (h *Hist) Snapshot() Snapshot {
	s := Snapshot{N: h.n, Sum: h.sum, Min: h.min, Max: h.max}
	for i, c := range h.counts {
		if c != 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return s
}

// MergeSnapshot adds the values described by s to h. Bucket indexes out of
// range are ignored.
func (h *Hist) MergeSnapshot(s Snapshot) {
	if s.N == 0 {
		return
	}
	o := Hist{n: s.N, sum: s.Sum, min: s.Min, max: s.Max}
	for _, b := range s.Buckets {
		if b[0] < numBuckets {
			o.counts[b[0]] = b[1]
		}
	}
	h.Merge(&o)
}

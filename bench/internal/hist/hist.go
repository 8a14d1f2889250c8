// Package hist is a fixed-size log-linear histogram of durations, in the
// spirit of HdrHistogram: exact below 128 ns, then 64 linear sub-buckets per
// power of two, so any recorded value is reported within 1/128 (0.8 %) of
// its true value. Recording is one bits.Len64, a shift and an increment.
//
// A Hist is not safe for concurrent use: each event loop owns one, and the
// coordinator merges them after the loops report.
package hist

import (
	"math/bits"
	"time"
)

// subBits sets the resolution: 2^(subBits-1) linear sub-buckets per power of
// two above 2^subBits ns.
const subBits = 7

const half = 1 << (subBits - 1)

// numBuckets covers values up to 2^63 ns.
const numBuckets = (64-subBits+1)*half + half

// Hist counts durations in nanoseconds.
type Hist struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

// New returns an empty histogram.
func New() *Hist { return &Hist{} }

func index(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	s := bits.Len64(v) - subBits
	return s*half + int(v>>uint(s))
}

// lowerBound is the smallest value that lands in bucket i.
func lowerBound(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i)
	}
	s := i/half - 1
	return uint64(i-s*half) << uint(s)
}

// bucketMid is the value reported for bucket i.
func bucketMid(i int) int64 {
	lo := lowerBound(i)
	if i < 1<<subBits {
		return int64(lo)
	}
	s := i/half - 1
	return int64(lo + (uint64(1)<<uint(s))/2)
}

// Record adds one duration in nanoseconds; negative values count as 0.
func (h *Hist) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[index(uint64(ns))]++
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	if ns > h.max {
		h.max = ns
	}
	h.n++
	h.sum += float64(ns)
}

// Count returns the number of recorded values.
func (h *Hist) Count() uint64 { return h.n }

// Min and Max return the exact extremes (0 when empty).
func (h *Hist) Min() time.Duration { return time.Duration(h.min) }

// Max returns the largest recorded value.
func (h *Hist) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the arithmetic mean (0 when empty).
func (h *Hist) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at quantile q in [0,1]: the midpoint of the
// bucket holding the ceil(q·n)-th smallest value, clamped to [Min, Max].
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i]
		if seen >= rank {
			v := bucketMid(i)
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// Merge adds every value of o to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Hist) Reset() { *h = Hist{} }

package hist

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestIndexMonotoneAndBounded(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 1<<20 + 1, 1 << 40, 1<<63 - 1} {
		i := index(v)
		if i < prev || i >= numBuckets {
			t.Fatalf("index(%d) = %d (prev %d, buckets %d)", v, i, prev, numBuckets)
		}
		if lo := lowerBound(i); lo > v {
			t.Fatalf("lowerBound(index(%d)) = %d > v", v, lo)
		}
		prev = i
	}
}

func TestQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := New()
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * float64(5*time.Millisecond))
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := float64(vals[int(q*float64(len(vals)))-1])
		got := float64(h.Quantile(q))
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("q%.3f = %v, want ≈ %v", q, time.Duration(got), time.Duration(want))
		}
	}
	if h.Max() != time.Duration(vals[len(vals)-1]) || h.Min() != time.Duration(vals[0]) {
		t.Errorf("min/max %v/%v", h.Min(), h.Max())
	}
}

func TestSnapshotMerge(t *testing.T) {
	a, b := New(), New()
	for i := int64(1); i <= 1000; i++ {
		a.Record(i * 1000)
		b.Record(i * 2000)
	}
	m := New()
	m.MergeSnapshot(a.Snapshot())
	m.MergeSnapshot(b.Snapshot())
	if m.Count() != 2000 || m.Min() != 1000 || m.Max() != 2000000 {
		t.Fatalf("merged count=%d min=%v max=%v", m.Count(), m.Min(), m.Max())
	}
}

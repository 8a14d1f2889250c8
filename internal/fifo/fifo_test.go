package fifo

import "testing"

// TestQueue pushes and pops across the ring's wrap and growth, against a
// slice.
func TestQueue(t *testing.T) {
	var q Queue[int]
	var want []int
	next := 0
	for round := range 200 {
		for range round % 7 {
			q.Push(next)
			want = append(want, next)
			next++
		}
		for i := range q.Len() {
			if *q.At(i) != want[i] {
				t.Fatalf("At(%d) = %d, want %d", i, *q.At(i), want[i])
			}
		}
		for range round % 5 {
			if q.Len() == 0 {
				break
			}
			if q.Peek() != want[0] {
				t.Fatalf("peek %d, want %d", q.Peek(), want[0])
			}
			if v := q.Pop(); v != want[0] {
				t.Fatalf("pop %d, want %d", v, want[0])
			}
			want = want[1:]
		}
		if q.Len() != len(want) {
			t.Fatalf("len %d, want %d", q.Len(), len(want))
		}
	}
	q.Clear()
	if q.Len() != 0 {
		t.Fatal("clear left elements")
	}
}

// Package fifo is a first-in first-out queue on a ring that grows by
// doubling (never shrinking), so a steady stream of pushes and pops costs
// no allocation. The bridge's subscription manager and the recovery
// history use it.
package fifo

// Queue is a FIFO queue. The zero value is empty and ready. Not safe for
// concurrent use.
type Queue[T any] struct {
	buf  []T // len is zero or a power of two
	head int
	n    int
}

// Len returns the number of elements.
func (q *Queue[T]) Len() int { return q.n }

// Push appends v.
func (q *Queue[T]) Push(v T) {
	if q.n == len(q.buf) {
		next := make([]T, max(2*len(q.buf), 16))
		for i := range q.n {
			next[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = next, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = v
	q.n++
}

// At returns the i-th oldest element, 0 ≤ i < Len, in place.
func (q *Queue[T]) At(i int) *T { return &q.buf[(q.head+i)&(len(q.buf)-1)] }

// Peek returns the oldest element; the queue must not be empty.
func (q *Queue[T]) Peek() T { return q.buf[q.head] }

// Pop removes and returns the oldest element; the queue must not be empty.
func (q *Queue[T]) Pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return v
}

// Clear empties the queue, keeping its ring.
func (q *Queue[T]) Clear() {
	clear(q.buf)
	q.head, q.n = 0, 0
}

package bridge

// fifo is a first-in first-out queue on a ring that grows by doubling
// (never shrinking), so a steady stream of pushes and pops costs no
// allocation. Not safe for concurrent use.
type fifo[T any] struct {
	buf  []T // len is zero or a power of two
	head int
	n    int
}

func (q *fifo[T]) len() int { return q.n }

// push appends v.
func (q *fifo[T]) push(v T) {
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

// peek returns the oldest element; the queue must not be empty.
func (q *fifo[T]) peek() T { return q.buf[q.head] }

// pop removes and returns the oldest element; the queue must not be empty.
func (q *fifo[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return v
}

// clear empties the queue, keeping its ring.
func (q *fifo[T]) clear() {
	clear(q.buf)
	q.head, q.n = 0, 0
}

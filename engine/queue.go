package engine

// broadcastQueue is a loop's FIFO of broadcasts and hand-over markers: a
// ring that grows by doubling and never shrinks (its size is bounded by
// MaxQueueMessages plus the few markers in flight). It counts the
// broadcasts it holds and their frame bytes, for the caps. Not safe for
// concurrent use: the shard guards it with qmu.
type broadcastQueue struct {
	buf   []queued // len is zero or a power of two
	head  int      // index of the oldest entry
	n     int      // entries, markers included
	msgs  int      // broadcasts (entries with a message)
	bytes int      // frame bytes of those broadcasts
}

// size is the frame bytes a queued broadcast is counted for.
func (q *queued) size() int {
	if q.msg == nil {
		return 0
	}
	return len(q.msg.Frame())
}

// len returns the number of entries, markers included.
func (bq *broadcastQueue) len() int { return bq.n }

// at returns the i-th oldest entry.
func (bq *broadcastQueue) at(i int) *queued { return &bq.buf[(bq.head+i)&(len(bq.buf)-1)] }

// push appends e.
func (bq *broadcastQueue) push(e queued) {
	if bq.n == len(bq.buf) {
		bq.grow()
	}
	*bq.at(bq.n) = e
	bq.n++
	if e.msg != nil {
		bq.msgs++
		bq.bytes += e.size()
	}
}

func (bq *broadcastQueue) grow() {
	next := make([]queued, max(2*len(bq.buf), 64))
	for i := range bq.n {
		next[i] = *bq.at(i)
	}
	bq.buf, bq.head = next, 0
}

// pop removes and returns the oldest entry; the queue must not be empty.
func (bq *broadcastQueue) pop() queued {
	p := bq.at(0)
	e := *p
	*p = queued{}
	bq.head = (bq.head + 1) & (len(bq.buf) - 1)
	bq.n--
	if e.msg != nil {
		bq.msgs--
		bq.bytes -= e.size()
	}
	return e
}

// shedOldest removes and returns the oldest broadcast, leaving any
// hand-over marker before it in place (markers are never shed: a session
// would be stuck half-way between two loops). ok is false when the queue
// holds no broadcast.
func (bq *broadcastQueue) shedOldest() (e queued, ok bool) {
	if bq.msgs == 0 {
		return queued{}, false
	}
	i := 0
	for bq.at(i).msg == nil {
		i++
	}
	// Move the markers before it one place up, keeping their order, so
	// that the broadcast's place becomes the head.
	e = *bq.at(i)
	for ; i > 0; i-- {
		*bq.at(i) = *bq.at(i - 1)
	}
	*bq.at(0) = e
	return bq.pop(), true
}

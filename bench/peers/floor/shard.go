package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// maxBatchBytes bounds one concatenation of broadcast frames: one write per
// member per drain, but never more than the socket send buffer takes.
const maxBatchBytes = sendBuffer

// entry is one queued write: a frame for every member (to == nil) or for
// one connection.
type entry struct {
	frame []byte
	to    *fconn
}

// shard is one event loop's members and its queue of pending writes. The
// queue is filled from any goroutine; members and buffers belong to the loop.
type shard struct {
	loop gnet.EventLoop

	mu        sync.Mutex
	queue     []entry
	spare     []entry
	scheduled atomic.Bool

	members []*fconn // loop only
	batch   []byte   // loop only: concatenated broadcast frames
}

// join adds f to the broadcast set (loop only).
func (sh *shard) join(f *fconn) {
	f.slot = len(sh.members)
	sh.members = append(sh.members, f)
}

// leave removes f from the broadcast set (loop only).
func (sh *shard) leave(f *fconn) {
	i := f.slot
	if i < 0 {
		return
	}
	last := len(sh.members) - 1
	sh.members[i] = sh.members[last]
	sh.members[i].slot = i
	sh.members[last] = nil
	sh.members = sh.members[:last]
	f.slot = -1
}

// enqueue queues e and makes sure one drain task is scheduled on the loop.
// Safe from any goroutine.
func (sh *shard) enqueue(e entry) {
	sh.mu.Lock()
	sh.queue = append(sh.queue, e)
	sh.mu.Unlock()
	if sh.scheduled.CompareAndSwap(false, true) {
		_ = sh.loop.Execute(context.Background(), gnet.RunnableFunc(sh.drain))
	}
}

// drain writes everything queued: runs of broadcast frames are concatenated
// and written to each member with one Write; unicast frames go to their
// connection if it is still open on this loop.
func (sh *shard) drain(context.Context) error {
	sh.mu.Lock()
	q := sh.queue
	sh.queue = sh.spare[:0]
	sh.scheduled.Store(false)
	sh.mu.Unlock()

	for _, e := range q {
		if e.to != nil {
			sh.flush()
			if e.to.open && e.to.sh == sh {
				write(e.to, e.frame)
			}
			continue
		}
		if len(sh.batch)+len(e.frame) > maxBatchBytes {
			sh.flush()
		}
		sh.batch = append(sh.batch, e.frame...)
	}
	sh.flush()
	clear(q)
	sh.spare = q[:0]
	return nil
}

// flush writes the pending concatenation to every member.
func (sh *shard) flush() {
	if len(sh.batch) == 0 {
		return
	}
	for _, f := range sh.members {
		write(f, sh.batch)
	}
	sh.batch = sh.batch[:0]
}

// write sends p to f unless f is over the outbound cap, in which case f is
// closed as a slow consumer (loop only).
func write(f *fconn, p []byte) {
	if !f.open {
		return
	}
	if f.c.OutboundBuffered() > maxOutbound {
		f.open = false
		_ = f.c.Close()
		return
	}
	_, _ = f.c.Write(p)
}

package engine

import "github.com/notify-wss/notify-wss/rooms"

// Broadcasts to several rooms at once, minus others (the Socket.IO
// emitter's io.to([a, b]).except(c)): Server.BroadcastTo queues one entry
// per loop with members in any of the rooms, and the loop's drain computes
// the members as a bitset over its slots (union of the rooms' sets, minus
// the except rooms' sets) and writes the same frame to each. A single-room
// Broadcast never comes here.

// multiTarget is what a BroadcastTo names; shared read-only by the loops.
type multiTarget struct {
	rooms  []string // empty: every socket of the default namespace
	except []string
}

// BroadcastTo hands m to the members of any of rooms that are in none of
// except; with no rooms, to every socket of the default namespace "/" (but
// those whose CONNECT reply is held) that is in none of except. Room names
// are those of Broadcast: other namespaces' rooms are not reachable. It
// takes over the caller's reference to m, and rooms and except must not be
// changed afterwards. Safe from any goroutine; broadcasts from one
// goroutine, through Broadcast or BroadcastTo, reach each member in the
// order they were made.
func (s *Server) BroadcastTo(rooms, except []string, m Message) {
	t := &multiTarget{rooms: rooms, except: except}
	s.roomMu.RLock()
	defer s.roomMu.RUnlock()
	shards := *s.shards.Load()
	var mask uint64
	if len(rooms) == 0 {
		mask = 1<<uint(len(shards)) - 1
	}
	for _, r := range rooms {
		mask |= s.roomShards[r]
	}
	targets := 0
	for i := range shards {
		if mask&(1<<uint(i)) != 0 {
			targets++
		}
	}
	if targets == 0 {
		m.Release()
		return
	}
	if targets > 1 {
		m.Retain(int32(targets - 1))
	}
	for i, sh := range shards {
		if mask&(1<<uint(i)) != 0 {
			sh.push(queued{msg: m, multi: t})
		}
	}
}

// deliverMulti writes one BroadcastTo entry (run holds just it) to this
// loop's members of its target, and returns the deliveries and bytes
// written. Runs on the loop; allocates nothing once the scratch buffers
// have grown.
func (sh *shard) deliverMulti(run []queued) (delivered, compressed, written uint64) {
	t := run[0].multi
	n := (int(sh.slots.Cap()) + 63) / 64
	if cap(sh.maskBuf) < n {
		sh.maskBuf = make([]uint64, n)
	}
	words := sh.maskBuf[:n]
	clear(words)
	if len(t.rooms) == 0 {
		root, ok := sh.srv.namespaces["/"]
		if !ok {
			return 0, 0, 0
		}
		for slot := range sh.members {
			if s := sh.members[slot].sock; s != nil && s.nsp == root && !s.held {
				words[slot>>6] |= 1 << (uint(slot) & 63)
			}
		}
	}
	for _, r := range t.rooms {
		if set := sh.rooms.Get(r); set != nil {
			set.OrInto(words)
		}
	}
	for _, r := range t.except {
		if set := sh.rooms.Get(r); set != nil {
			set.AndNotInto(words)
		}
	}
	sh.slotsBuf = rooms.AppendBits(sh.slotsBuf[:0], words)
	return sh.writeSlots(sh.slotsBuf, run[0].msg.Frame(), run)
}

package notify

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
	"github.com/notify-wss/notify-wss/internal/fifo"
)

// history keeps the notifications of the last RECOVERY_WINDOW, within
// byte caps, so that a client reconnecting with the offset of the last
// one it received gets every one it missed (connection state recovery).
//
// Offsets. Every message has a position in its input: a partition and an
// id (bridge.Position; pub/sub has one partition, whose ids are this
// server's own arrival numbers). The offset a frame carries is the
// cursor: for every partition, the id of the newest message sequenced so
// far, this one included. Sequence gives offsets and hands messages to the
// loops under one lock, so a client that received the message of cursor V
// has received, of the rooms it was in, every message at or below V in
// every partition, and none above: it missed exactly the messages of its
// rooms whose id is above V in their partition. That rule needs no order
// between partitions, so a client may recover on any server that read the
// same partitions (the streams input).
//
// What the history can vouch for: per partition, everything after floor
// (the newest id evicted, or where reading started, or a gap in pub/sub);
// per room, everything after the newest id its room cap evicted. A
// recovery from an offset below either fails.
type history struct {
	mu sync.Mutex

	maxBytes     int           // RECOVERY_MAX_BYTES: every entry's bytes
	maxRoomBytes int           // per room
	window       time.Duration // entries older than this are evicted
	keep         func(room string) bool

	cursor []bridge.StreamID // per partition: newest sequenced
	floor  []bridge.StreamID // per partition: complete after this
	next   uint64            // pub/sub: id of the next message

	entries fifo.Queue[entry] // by arrival; entries[i] has seq base+i
	base    uint64
	rooms   map[string]*roomLog
	bytes   int

	offBuf []byte
	stats  historyStats
}

// entry is one kept message.
type entry struct {
	msg  *bridge.Message // nil once its room's cap evicted it
	room *roomLog
	part int
	id   bridge.StreamID
	at   time.Time
	size int
}

// roomLog is one room's kept messages.
type roomLog struct {
	name  string
	seqs  fifo.Queue[uint64] // arrival seqs of the room's live entries
	bytes int
	// lost: the room cap evicted a message above lostID in partition
	// lostPart; lostMixed: evictions came from several partitions (a
	// publisher that does not follow the partition rule), so any
	// recovery from before the last one fails.
	lost      bool
	lostPart  int
	lostID    bridge.StreamID
	lostMixed bool
}

// historyStats are the history's gauges and counters.
type historyStats struct {
	Messages, Bytes, Rooms int
	Evicted                uint64
}

// entryOverhead approximates what an entry costs beside its frame: the
// entry, its seq in the room's ring, the Message struct.
const entryOverhead = 160

func newHistory(partitions int, window time.Duration, maxBytes, maxRoomBytes int, keep func(string) bool) *history {
	return &history{
		maxBytes: maxBytes, maxRoomBytes: maxRoomBytes, window: window, keep: keep,
		cursor: make([]bridge.StreamID, partitions),
		floor:  make([]bridge.StreamID, partitions),
		next:   1,
		rooms:  make(map[string]*roomLog),
	}
}

// Sequence implements bridge.Sequencer: it moves the cursor to pos, builds
// the message with the cursor as its offset, keeps it when its room has
// members or recoverable sessions here, and delivers it (unless it is
// backfill).
func (h *history) Sequence(pos bridge.Position, build func([]byte) (*bridge.Message, error), deliver bridge.Deliver) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos.Partition < 0 || pos.Partition >= len(h.cursor) {
		// Not a partition the cursor knows (cannot happen with the
		// bridge's readers): deliver it without an offset or a promise.
		m, err := build(nil)
		if err != nil {
			return err
		}
		if pos.Backfill {
			m.Release()
		} else {
			deliver(m)
		}
		return nil
	}
	id := pos.ID
	if len(h.cursor) == 1 && id.IsZero() { // pub/sub: our own numbering
		id = bridge.StreamID{Seq: h.next}
	}
	prev := h.cursor[pos.Partition]
	if id.Less(prev) || id == prev {
		// Out of order in its partition (a re-read after a reconnect):
		// it was sequenced already.
		return nil
	}
	h.cursor[pos.Partition] = id
	h.offBuf = appendOffset(h.offBuf[:0], h.cursor)
	m, err := build(h.offBuf)
	if err != nil {
		h.cursor[pos.Partition] = prev
		return err
	}
	h.next++
	now := m.Received
	if now.IsZero() {
		now = time.Now()
	}
	h.evict(now)
	if h.keep == nil || h.keep(m.Room) {
		h.add(m, pos.Partition, id, now)
	}
	if pos.Backfill {
		m.Release()
		return nil
	}
	deliver(m)
	return nil
}

// add keeps m (one more reference) at the end of the history.
func (h *history) add(m *bridge.Message, part int, id bridge.StreamID, now time.Time) {
	rl := h.rooms[m.Room]
	if rl == nil {
		rl = &roomLog{name: m.Room}
		h.rooms[m.Room] = rl
	}
	size := len(m.Frame()) + entryOverhead
	m.Keep()
	seq := h.base + uint64(h.entries.Len())
	h.entries.Push(entry{msg: m, room: rl, part: part, id: id, at: now, size: size})
	rl.seqs.Push(seq)
	rl.bytes += size
	h.bytes += size
	for rl.bytes > h.maxRoomBytes && rl.seqs.Len() > 1 {
		e := h.at(rl.seqs.Pop())
		h.dropFromRoom(e)
		e.msg.Unkeep()
		e.msg = nil
		h.bytes -= e.size
		h.stats.Evicted++
	}
	for h.bytes > h.maxBytes && h.entries.Len() > 1 {
		h.evictOldest()
	}
}

// at returns the entry of arrival seq.
func (h *history) at(seq uint64) *entry { return h.entries.At(int(seq - h.base)) }

// dropFromRoom records that e, the oldest of its room, is gone.
func (h *history) dropFromRoom(e *entry) {
	rl := e.room
	rl.bytes -= e.size
	if rl.lost && rl.lostPart != e.part {
		rl.lostMixed = true
	}
	rl.lost, rl.lostPart, rl.lostID = true, e.part, e.id
}

// evictOldest removes the oldest entry.
func (h *history) evictOldest() {
	e := h.entries.At(0)
	if e.msg != nil {
		rl := e.room
		rl.seqs.Pop()
		rl.bytes -= e.size
		if rl.seqs.Len() == 0 {
			delete(h.rooms, rl.name)
		}
		e.msg.Unkeep()
		h.bytes -= e.size
		h.stats.Evicted++
	}
	if h.floor[e.part].Less(e.id) {
		h.floor[e.part] = e.id
	}
	h.entries.Pop()
	h.base++
}

// evict removes entries older than the window.
func (h *history) evict(now time.Time) {
	for h.entries.Len() > 0 && now.Sub(h.entries.At(0).at) > h.window {
		h.evictOldest()
	}
}

// Tick evicts what the window let go of, for a server with no traffic.
func (h *history) Tick(now time.Time) {
	h.mu.Lock()
	h.evict(now)
	h.mu.Unlock()
}

// Gap tells the history that messages may have been lost (a pub/sub
// subscription went down): a client at the cursor or before it cannot be
// vouched for. The floor is one past the cursor (pub/sub ids are
// consecutive), so that a client needs an offset from after the gap.
func (h *history) Gap() {
	h.mu.Lock()
	for p, id := range h.cursor {
		h.floor[p] = bridge.StreamID{Ms: id.Ms, Seq: id.Seq + 1}
	}
	h.mu.Unlock()
}

// Offset returns the cursor as an offset, for a client that has received
// nothing yet: what it is sent next is above it.
func (h *history) Offset() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(appendOffset(nil, h.cursor))
}

// recoverFail says why a recovery cannot be vouched for.
type recoverFail string

const (
	failOffset recoverFail = "invalid offset"
	failTooOld recoverFail = "offset too old"
	failAhead  recoverFail = "offset ahead of this server"
)

// check reports why the history cannot give what a client at offset
// missed of rooms, or "" when it can.
func (h *history) check(offset string, rooms []string) recoverFail {
	v, ok := parseOffset(offset, len(h.cursor))
	if !ok {
		return failOffset
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checkLocked(v, rooms)
}

func (h *history) checkLocked(v []bridge.StreamID, rooms []string) recoverFail {
	for p := range v {
		if v[p].Less(h.floor[p]) {
			return failTooOld
		}
		if h.cursor[p].Less(v[p]) {
			return failAhead
		}
	}
	for _, room := range rooms {
		if rl := h.rooms[room]; rl != nil && rl.lost && (rl.lostMixed || v[rl.lostPart].Less(rl.lostID)) {
			return failTooOld
		}
	}
	return ""
}

// since collects, oldest first, the kept messages of rooms above offset,
// each with a Keep (Unkeep it once written), and hands them to then with the cursor, under
// the lock that orders messages into the loops: then queues a Socket.Later
// that comes before every message sequenced after these, in every loop's
// queue. On failure it returns why, and then is not called.
func (h *history) since(offset string, rooms []string, then func(missed []*bridge.Message, cursor string)) recoverFail {
	v, ok := parseOffset(offset, len(h.cursor))
	if !ok {
		return failOffset
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if fail := h.checkLocked(v, rooms); fail != "" {
		return fail
	}
	var seqs []uint64
	for _, room := range rooms {
		rl := h.rooms[room]
		if rl == nil {
			continue
		}
		for i := range rl.seqs.Len() {
			seq := *rl.seqs.At(i)
			if e := h.at(seq); v[e.part].Less(e.id) {
				seqs = append(seqs, seq)
			}
		}
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	out := make([]*bridge.Message, len(seqs))
	for i, seq := range seqs {
		m := h.at(seq).msg
		m.Keep()
		out[i] = m
	}
	then(out, string(appendOffset(nil, h.cursor)))
	return ""
}

// Stats returns the history's gauges and counters.
func (h *history) Stats() historyStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.Messages, s.Bytes, s.Rooms = h.entries.Len(), h.bytes, len(h.rooms)
	return s
}

// appendOffset encodes a cursor: per partition, its id as base-36 ms and
// seq, "ms-seq", or the seq alone when ms is 0 (pub/sub), joined by '.'.
// Only [0-9a-z.-]: the frame needs no escaping.
func appendOffset(dst []byte, cursor []bridge.StreamID) []byte {
	for i, id := range cursor {
		if i > 0 {
			dst = append(dst, '.')
		}
		if id.Ms != 0 {
			dst = appendBase36(dst, id.Ms)
			dst = append(dst, '-')
		}
		dst = appendBase36(dst, id.Seq)
	}
	return dst
}

func appendBase36(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var buf [13]byte
	i := len(buf)
	for {
		i--
		buf[i] = digits[v%36]
		v /= 36
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// parseOffset decodes appendOffset's output for a cursor of n partitions.
func parseOffset(s string, n int) ([]bridge.StreamID, bool) {
	if s == "" || len(s) > 64*n {
		return nil, false
	}
	out := make([]bridge.StreamID, 0, n)
	for part := range strings.SplitSeq(s, ".") {
		if len(out) == n {
			return nil, false
		}
		var id bridge.StreamID
		ms, seq, two := strings.Cut(part, "-")
		var ok bool
		if two {
			if id.Ms, ok = parseBase36(ms); !ok || id.Ms == 0 {
				return nil, false
			}
		} else {
			seq = ms
		}
		if id.Seq, ok = parseBase36(seq); !ok {
			return nil, false
		}
		out = append(out, id)
	}
	return out, len(out) == n
}

func parseBase36(s string) (uint64, bool) {
	if s == "" || len(s) > 13 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'z':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		next := v*36 + d
		if next/36 != v {
			return 0, false // overflow
		}
		v = next
	}
	return v, true
}

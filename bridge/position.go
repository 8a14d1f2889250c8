package bridge

// Connection state recovery (package notify's history) needs to know where
// each message sits in its input, and to put an offset into its frame; the
// bridge stays ignorant of what the offsets mean.

// StreamID is a Redis stream entry id, <ms>-<seq>.
type StreamID struct {
	Ms, Seq uint64
}

// Less reports whether id comes before o.
func (id StreamID) Less(o StreamID) bool {
	return id.Ms < o.Ms || (id.Ms == o.Ms && id.Seq < o.Seq)
}

// IsZero reports whether id is 0-0, which no entry has.
func (id StreamID) IsZero() bool { return id.Ms == 0 && id.Seq == 0 }

// Position is where a message came from in its input. For pub/sub it is
// zero: messages have no address in Redis. For the streams input it is the
// partition and the entry id.
type Position struct {
	// Partition is the stream partition, 0 to partitions-1.
	Partition int
	// ID is the entry id in that partition's stream.
	ID StreamID
	// Backfill marks an entry read from before the bridge started, to
	// fill recovery history: it must not be delivered to anyone.
	Backfill bool
}

// Sequencer orders messages for connection state recovery (see package
// notify): it gives each message its offset, builds its frame through
// build, keeps it in its history and delivers it. It may be called from
// several goroutines at once (one per input reader) and must not block.
type Sequencer interface {
	// Sequence handles the message at pos. build returns the message with
	// offset as its frame's last argument (nil offset: none), or an error
	// for a payload that is not valid JSON, which Sequence returns as is.
	// Delivered or not, Sequence owns the built message's reference.
	Sequence(pos Position, build func(offset []byte) (*Message, error), deliver Deliver) error
}

// gapper is a Sequencer that wants to know when pub/sub messages may have
// been lost: the bridge calls Gap when a live subscription ends.
type gapper interface {
	Gap()
}

package rooms

// Index maps room names to their member sets. Empty rooms are removed, so
// the index never holds more rooms than have members.
type Index struct {
	sets map[string]*Set
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{sets: make(map[string]*Set)} }

// Join adds slot to room. added reports whether it was not a member yet;
// first reports whether the room had no members before.
func (x *Index) Join(room string, slot int32) (added, first bool) {
	s := x.sets[room]
	if s == nil {
		s = &Set{}
		x.sets[room] = s
		first = true
	}
	return s.Add(slot), first
}

// Leave removes slot from room. removed reports whether it was a member;
// last reports whether the room is now empty (and gone from the index).
func (x *Index) Leave(room string, slot int32) (removed, last bool) {
	s := x.sets[room]
	if s == nil {
		return false, false
	}
	removed = s.Remove(slot)
	if s.Len() == 0 {
		delete(x.sets, room)
		return removed, true
	}
	return removed, false
}

// Get returns the members of room, or nil when it has none. The set must not
// be changed by the caller.
func (x *Index) Get(room string) *Set { return x.sets[room] }

// Len returns the number of rooms with members.
func (x *Index) Len() int { return len(x.sets) }

// Range calls fn for every room with its member count until fn returns false.
func (x *Index) Range(fn func(room string, members int) bool) {
	for name, s := range x.sets {
		if !fn(name, s.Len()) {
			return
		}
	}
}

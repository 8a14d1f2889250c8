package rooms

// Slots hands out dense slot numbers, reusing freed ones first so that
// bitsets stay as short as the peak number of live connections.
type Slots struct {
	free []int32
	next int32
}

// Alloc returns an unused slot.
func (a *Slots) Alloc() int32 {
	if n := len(a.free); n > 0 {
		s := a.free[n-1]
		a.free = a.free[:n-1]
		return s
	}
	s := a.next
	a.next++
	return s
}

// Free returns slot for reuse. Freeing a slot twice corrupts the allocator;
// callers free exactly once, when the connection closes.
func (a *Slots) Free(slot int32) { a.free = append(a.free, slot) }

// InUse returns the number of allocated slots.
func (a *Slots) InUse() int { return int(a.next) - len(a.free) }

// Cap returns one past the highest slot ever handed out.
func (a *Slots) Cap() int32 { return a.next }

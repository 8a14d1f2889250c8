package rooms

import "math/bits"

// smallCap is how many members a Set keeps inline before it turns into a
// bitset. Five covers a user's own room with a few open tabs, and fills a
// 32-byte Set: most rooms are one user's, so the small case is the
// per-connection cost.
const smallCap = 5

// Set is a set of non-negative slot numbers. The zero value is empty and
// ready to use.
type Set struct {
	small [smallCap]int32 // members while n <= smallCap and big == nil
	n     int32           // number of members
	big   *bitset         // once the set has outgrown small
}

// bitset holds a large set's members, bit i of word i/64 for slot i.
type bitset struct{ words []uint64 }

// Len returns the number of members.
func (s *Set) Len() int { return int(s.n) }

// Contains reports whether slot is a member.
func (s *Set) Contains(slot int32) bool {
	if s.big == nil {
		for i := int32(0); i < s.n; i++ {
			if s.small[i] == slot {
				return true
			}
		}
		return false
	}
	w := int(slot >> 6)
	return w < len(s.big.words) && s.big.words[w]&(1<<(uint(slot)&63)) != 0
}

// Add inserts slot and reports whether it was not already a member.
func (s *Set) Add(slot int32) bool {
	if s.Contains(slot) {
		return false
	}
	if s.big == nil {
		if s.n < smallCap {
			s.small[s.n] = slot
			s.n++
			return true
		}
		s.grow()
	}
	b := s.big
	w := int(slot >> 6)
	if w >= len(b.words) {
		words := make([]uint64, w+1, max(w+1, 2*len(b.words)))
		copy(words, b.words)
		b.words = words
	}
	b.words[w] |= 1 << (uint(slot) & 63)
	s.n++
	return true
}

// grow moves the inline members into a bitset.
func (s *Set) grow() {
	var hi int32
	for _, slot := range s.small[:s.n] {
		hi = max(hi, slot)
	}
	b := &bitset{words: make([]uint64, int(hi>>6)+1)}
	for _, slot := range s.small[:s.n] {
		b.words[slot>>6] |= 1 << (uint(slot) & 63)
	}
	s.big = b
}

// Remove deletes slot and reports whether it was a member.
func (s *Set) Remove(slot int32) bool {
	if s.big == nil {
		for i := int32(0); i < s.n; i++ {
			if s.small[i] == slot {
				s.n--
				s.small[i] = s.small[s.n]
				return true
			}
		}
		return false
	}
	w := int(slot >> 6)
	bit := uint64(1) << (uint(slot) & 63)
	if w >= len(s.big.words) || s.big.words[w]&bit == 0 {
		return false
	}
	s.big.words[w] &^= bit
	s.n--
	if s.n == 0 {
		s.big = nil
	}
	return true
}

// ForEach calls fn for every member. fn must not add or remove members of s.
// Members held inline come in no particular order; a bitset yields them in
// ascending order.
func (s *Set) ForEach(fn func(slot int32)) {
	if s.big == nil {
		for _, slot := range s.small[:s.n] {
			fn(slot)
		}
		return
	}
	for w, word := range s.big.words {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			fn(int32(w<<6 | b))
		}
	}
}

// AppendTo appends every member to dst and returns it. It lets a caller take
// a snapshot it may iterate while changing the set.
func (s *Set) AppendTo(dst []int32) []int32 {
	if s.big == nil {
		return append(dst, s.small[:s.n]...)
	}
	for w, word := range s.big.words {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			dst = append(dst, int32(w<<6|b))
		}
	}
	return dst
}

// OrInto sets the bit of every member in words (bit i of word i/64 for
// slot i): words must have a word for every member, for instance
// (Slots.Cap()+63)/64 of them. Together with AndNotInto and AppendBits it
// computes a broadcast's members over several rooms without allocating.
func (s *Set) OrInto(words []uint64) {
	if s.big == nil {
		for _, slot := range s.small[:s.n] {
			words[slot>>6] |= 1 << (uint(slot) & 63)
		}
		return
	}
	for w, word := range s.big.words {
		words[w] |= word
	}
}

// AndNotInto clears the bit of every member in words; members beyond
// words are ignored.
func (s *Set) AndNotInto(words []uint64) {
	if s.big == nil {
		for _, slot := range s.small[:s.n] {
			if w := int(slot >> 6); w < len(words) {
				words[w] &^= 1 << (uint(slot) & 63)
			}
		}
		return
	}
	for w, word := range s.big.words[:min(len(s.big.words), len(words))] {
		words[w] &^= word
	}
}

// AppendBits appends the slot of every bit set in words to dst, in
// ascending order, and returns it.
func AppendBits(dst []int32, words []uint64) []int32 {
	for w, word := range words {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &= word - 1
			dst = append(dst, int32(w<<6|b))
		}
	}
	return dst
}

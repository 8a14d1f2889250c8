package rooms

import (
	"math/rand"
	"slices"
	"testing"
	"unsafe"
)

func members(s *Set) []int32 {
	got := s.AppendTo(nil)
	slices.Sort(got)
	return got
}

func TestSetAgainstMap(t *testing.T) {
	tests := []struct {
		name  string
		slots int32 // slot numbers are drawn from [0, slots)
		ops   int
	}{
		{"stays small", 3, 200},
		{"crosses small cap", 9, 500},
		{"sparse bitset", 100000, 2000},
		{"dense bitset", 300, 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			var s Set
			want := map[int32]bool{}
			for i := 0; i < tt.ops; i++ {
				slot := rng.Int31n(tt.slots)
				if rng.Intn(3) == 0 {
					if got, exp := s.Remove(slot), want[slot]; got != exp {
						t.Fatalf("Remove(%d) = %v, want %v", slot, got, exp)
					}
					delete(want, slot)
				} else {
					if got, exp := s.Add(slot), !want[slot]; got != exp {
						t.Fatalf("Add(%d) = %v, want %v", slot, got, exp)
					}
					want[slot] = true
				}
				if s.Len() != len(want) {
					t.Fatalf("Len = %d, want %d", s.Len(), len(want))
				}
			}
			var exp []int32
			for k := range want {
				exp = append(exp, k)
				if !s.Contains(k) {
					t.Fatalf("Contains(%d) = false", k)
				}
			}
			slices.Sort(exp)
			if got := members(&s); !slices.Equal(got, exp) {
				t.Fatalf("members = %v, want %v", got, exp)
			}
			var seen []int32
			s.ForEach(func(slot int32) { seen = append(seen, slot) })
			slices.Sort(seen)
			if !slices.Equal(seen, exp) {
				t.Fatalf("ForEach = %v, want %v", seen, exp)
			}
		})
	}
}

func TestSetEmptiedBitsetReleasesWords(t *testing.T) {
	var s Set
	for i := int32(0); i < 10; i++ {
		s.Add(i * 1000)
	}
	for i := int32(0); i < 10; i++ {
		s.Remove(i * 1000)
	}
	if s.big != nil || s.Len() != 0 {
		t.Fatalf("empty set still holds a bitset, len %d", s.Len())
	}
	s.Add(7)
	if !s.Contains(7) || s.big != nil {
		t.Fatal("an emptied set must start small again")
	}
}

func TestIndexFirstAndLast(t *testing.T) {
	x := NewIndex()
	steps := []struct {
		join        bool
		room        string
		slot        int32
		changed, fl bool // added/removed, first/last
		rooms       int
	}{
		{true, "a", 1, true, true, 1},
		{true, "a", 2, true, false, 1},
		{true, "a", 2, false, false, 1},
		{true, "b", 1, true, true, 2},
		{false, "a", 1, true, false, 2},
		{false, "a", 9, false, false, 2},
		{false, "a", 2, true, true, 1},
		{false, "zzz", 2, false, false, 1},
		{false, "b", 1, true, true, 0},
	}
	for i, st := range steps {
		var changed, fl bool
		if st.join {
			changed, fl = x.Join(st.room, st.slot)
		} else {
			changed, fl = x.Leave(st.room, st.slot)
		}
		if changed != st.changed || fl != st.fl || x.Len() != st.rooms {
			t.Fatalf("step %d %+v: got changed=%v first/last=%v rooms=%d", i, st, changed, fl, x.Len())
		}
	}
	if x.Get("a") != nil {
		t.Fatal("empty room still indexed")
	}
}

func TestSlotsReuse(t *testing.T) {
	var a Slots
	s0, s1, s2 := a.Alloc(), a.Alloc(), a.Alloc()
	if s0 != 0 || s1 != 1 || s2 != 2 {
		t.Fatalf("got %d %d %d", s0, s1, s2)
	}
	a.Free(s1)
	if got := a.Alloc(); got != 1 {
		t.Fatalf("freed slot not reused: got %d", got)
	}
	if a.InUse() != 3 || a.Cap() != 3 {
		t.Fatalf("InUse %d Cap %d", a.InUse(), a.Cap())
	}
}

func TestSmallRoomsDoNotAllocateBitsets(t *testing.T) {
	x := NewIndex()
	x.Join("user-notifications:u1", 5)
	allocs := testing.AllocsPerRun(100, func() {
		x.Join("user-notifications:u1", 90000)
		x.Leave("user-notifications:u1", 90000)
	})
	if allocs != 0 {
		t.Fatalf("join/leave of a small room allocated %.1f times", allocs)
	}
}

func BenchmarkForEach19K(b *testing.B) {
	var s Set
	for i := int32(0); i < 19000; i++ {
		s.Add(i)
	}
	var sum int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.ForEach(func(slot int32) { sum += int64(slot) })
	}
	_ = sum
}

// Most rooms are one user's: the inline set must stay one 32-byte object.
func TestSetIsSmall(t *testing.T) {
	if size := unsafe.Sizeof(Set{}); size > 32 {
		t.Fatalf("Set is %d bytes, want at most 32", size)
	}
}

// TestUnionMinusExcept checks OrInto, AndNotInto and AppendBits against
// maps: the members of some rooms, minus those of others.
func TestUnionMinusExcept(t *testing.T) {
	const slots = 700
	rng := rand.New(rand.NewSource(2))
	for round := 0; round < 50; round++ {
		sets := make([]Set, 5)
		for i := range sets {
			n := rng.Intn(3) * rng.Intn(40) // many small, some big
			for k := 0; k < n; k++ {
				sets[i].Add(rng.Int31n(slots))
			}
		}
		words := make([]uint64, (slots+63)/64)
		want := map[int32]bool{}
		for _, i := range []int{0, 1, 2} {
			sets[i].OrInto(words)
			sets[i].ForEach(func(s int32) { want[s] = true })
		}
		for _, i := range []int{3, 4} {
			sets[i].AndNotInto(words)
			sets[i].ForEach(func(s int32) { delete(want, s) })
		}
		got := AppendBits(nil, words)
		var exp []int32
		for s := range want {
			exp = append(exp, s)
		}
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Fatalf("round %d: got %v, want %v", round, got, exp)
		}
	}
	// An except set reaching past words is cut, not a panic.
	var big Set
	for i := int32(0); i < 10; i++ {
		big.Add(i * 100)
	}
	words := []uint64{^uint64(0)}
	big.AndNotInto(words)
	if words[0] != ^uint64(1) {
		t.Fatalf("words = %x", words[0])
	}
}

package notify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/bridge"
)

func TestOffsetRoundTrip(t *testing.T) {
	for _, c := range [][]bridge.StreamID{
		{{Seq: 1}},
		{{Seq: 1<<64 - 1}},
		{{Ms: 1764110000123, Seq: 0}, {Seq: 7}, {Ms: 1, Seq: 1<<64 - 1}},
	} {
		s := string(appendOffset(nil, c))
		if strings.Trim(s, "0123456789abcdefghijklmnopqrstuvwxyz.-") != "" {
			t.Errorf("%v: offset %q needs escaping", c, s)
		}
		got, ok := parseOffset(s, len(c))
		if !ok || !slices.Equal(got, c) {
			t.Errorf("%v → %q → %v, %v", c, s, got, ok)
		}
	}
}

func TestParseOffsetRefuses(t *testing.T) {
	for _, c := range []struct {
		s string
		n int
	}{
		{"", 1}, {"A", 1}, {"1.2", 1}, {"1", 2}, {"1..2", 3}, {"0-1", 1}, {"-1", 1}, {"1-", 1},
		{"zzzzzzzzzzzzz", 1}, {"1-2-3", 1}, {strings.Repeat("1", 65), 1}, {"1 ", 1},
	} {
		if v, ok := parseOffset(c.s, c.n); ok {
			t.Errorf("parseOffset(%q, %d) = %v, want refused", c.s, c.n, v)
		}
	}
}

func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"1", "2s", "lbz3k2a0-1.0.5", "1.2.3", "0-0", "zzzzzzzzzzzz", "a-b.c-d"} {
		f.Add(s, 1)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 1 || n > 64 {
			return
		}
		v, ok := parseOffset(s, n)
		if !ok {
			return
		}
		if len(v) != n {
			t.Fatalf("%q: %d ids for %d partitions", s, len(v), n)
		}
		again, ok := parseOffset(string(appendOffset(nil, v)), n)
		if !ok || !slices.Equal(again, v) {
			t.Fatalf("%q → %v does not round-trip", s, v)
		}
	})
}

// sequence publishes payload to room through h, as the bridge would, and
// returns the offset the frame carries.
func sequence(t *testing.T, h *history, room, payload string, at time.Time) string {
	t.Helper()
	var offset string
	err := h.Sequence(bridge.Position{}, func(off []byte) (*bridge.Message, error) {
		offset = string(off)
		m, err := bridge.NewMessageAt(room, bridge.KindUser, []byte(payload), off)
		if m != nil {
			m.Received = at
		}
		return m, err
	}, func(m *bridge.Message) { m.Release() })
	if err != nil {
		t.Fatal(err)
	}
	return offset
}

// missed returns the payloads a client at offset missed in rooms.
func missed(h *history, offset string, rooms ...string) ([]string, recoverFail) {
	var out []string
	fail := h.since(offset, rooms, func(ms []*bridge.Message, _ string) {
		for _, m := range ms {
			p := string(m.Packet())
			p = p[strings.Index(p, ",")+1 : strings.LastIndex(p, ",")]
			out = append(out, p)
			m.Unkeep()
		}
	})
	return out, fail
}

func TestHistoryGivesWhatWasMissed(t *testing.T) {
	now := time.Now()
	h := newHistory(1, time.Minute, 1<<20, 1<<20, nil)
	start := h.Offset()
	var offs []string
	for i := range 6 {
		room := []string{"a", "b", "c"}[i%3]
		offs = append(offs, sequence(t, h, room, fmt.Sprint(i), now))
	}
	cases := []struct {
		offset string
		rooms  []string
		want   []string
	}{
		{start, []string{"a", "b"}, []string{"0", "1", "3", "4"}},
		{offs[0], []string{"a", "c"}, []string{"2", "3", "5"}},
		{offs[3], []string{"a"}, nil},
		{offs[5], []string{"a", "b", "c"}, nil},
		{offs[1], []string{"nobody"}, nil},
	}
	for _, c := range cases {
		got, fail := missed(h, c.offset, c.rooms...)
		if fail != "" || !slices.Equal(got, c.want) {
			t.Errorf("since %s in %v: %v %q, want %v", c.offset, c.rooms, got, fail, c.want)
		}
	}
	if _, fail := missed(h, "zz", "a"); fail != failAhead {
		t.Errorf("an offset from the future: %q, want %q", fail, failAhead)
	}
	if _, fail := missed(h, "x.y", "a"); fail != failOffset {
		t.Errorf("garbage: %q, want %q", fail, failOffset)
	}
}

func TestHistoryCaps(t *testing.T) {
	now := time.Now()
	t.Run("room cap", func(t *testing.T) {
		// Each entry costs its frame plus entryOverhead: a room cap of
		// three entries keeps the newest three of the room.
		h := newHistory(1, time.Minute, 1<<20, 3*(entryOverhead+40), nil)
		first := sequence(t, h, "a", "0", now)
		sequence(t, h, "b", "1", now)
		var offs []string
		for i := range 5 {
			offs = append(offs, sequence(t, h, "a", fmt.Sprint(10+i), now))
		}
		if _, fail := missed(h, first, "a"); fail != failTooOld {
			t.Errorf("room a from before its cap: %q, want %q", fail, failTooOld)
		}
		if got, fail := missed(h, first, "b"); fail != "" || len(got) != 1 {
			t.Errorf("room b untouched by a's cap: %v %q", got, fail)
		}
		if got, fail := missed(h, offs[1], "a"); fail != "" || !slices.Equal(got, []string{"12", "13", "14"}) {
			t.Errorf("room a within its cap: %v %q", got, fail)
		}
	})
	t.Run("global cap", func(t *testing.T) {
		h := newHistory(1, time.Minute, 4*(entryOverhead+40), 1<<20, nil)
		first := sequence(t, h, "a", "0", now)
		for i := range 6 {
			sequence(t, h, "b", fmt.Sprint(i), now)
		}
		if _, fail := missed(h, first, "b"); fail != failTooOld {
			t.Errorf("from before the global cap: %q, want %q", fail, failTooOld)
		}
		if s := h.Stats(); s.Messages > 4 || s.Bytes > 4*(entryOverhead+40) {
			t.Errorf("history holds %+v past its cap", s)
		}
	})
	t.Run("window", func(t *testing.T) {
		h := newHistory(1, time.Minute, 1<<20, 1<<20, nil)
		first := sequence(t, h, "a", "0", now)
		sequence(t, h, "a", "1", now.Add(30*time.Second))
		h.Tick(now.Add(61 * time.Second))
		if _, fail := missed(h, first, "a"); fail != "" {
			// The entry after first is still there; first itself went.
			t.Errorf("after the oldest expired: %q", fail)
		}
		h.Tick(now.Add(2 * time.Minute))
		if s := h.Stats(); s.Messages != 0 || s.Bytes != 0 || s.Rooms != 0 {
			t.Errorf("after the window: %+v, want empty", s)
		}
	})
	t.Run("gap", func(t *testing.T) {
		h := newHistory(1, time.Minute, 1<<20, 1<<20, nil)
		before := sequence(t, h, "a", "0", now)
		h.Gap()
		after := sequence(t, h, "a", "1", now)
		if _, fail := missed(h, before, "a"); fail != failTooOld {
			t.Errorf("from before a gap: %q, want %q", fail, failTooOld)
		}
		if _, fail := missed(h, after, "a"); fail != "" {
			t.Errorf("from after a gap: %q", fail)
		}
	})
}

func TestHistoryKeepsOnlyWantedRooms(t *testing.T) {
	h := newHistory(1, time.Minute, 1<<20, 1<<20, func(room string) bool { return room == "a" })
	sequence(t, h, "a", "0", time.Now())
	sequence(t, h, "b", "1", time.Now())
	if s := h.Stats(); s.Messages != 1 || s.Rooms != 1 {
		t.Errorf("kept %+v, want room a's one message", s)
	}
}

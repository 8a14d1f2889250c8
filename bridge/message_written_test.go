package bridge

import "testing"

// OnWritten sees a message once, at its last Release, and only if some
// owner wrote it to a member.
func TestOnWrittenAtLastRelease(t *testing.T) {
	calls := 0
	hook := func(*Message) { calls++ }
	for _, tt := range []struct {
		name   string
		marks  int
		owners int32
		want   int
	}{
		{"written by two of three loops", 2, 3, 1},
		{"written by none", 0, 3, 0},
		{"single owner", 1, 1, 1},
	} {
		calls = 0
		m, err := NewMessage("r", KindGlobal, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		m.onWritten = hook
		m.Retain(tt.owners - 1)
		for i := int32(0); i < tt.owners; i++ {
			if i < int32(tt.marks) {
				m.MarkWritten()
			}
			if calls != 0 {
				t.Fatalf("%s: hook ran before the last release", tt.name)
			}
			m.Release()
		}
		if calls != tt.want {
			t.Fatalf("%s: hook ran %d times, want %d", tt.name, calls, tt.want)
		}
	}
}

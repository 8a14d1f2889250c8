package engine

import (
	"testing"
	"unsafe"
)

// An idle connection holds one conn, one session and one Socket: each must
// stay within its allocation size class, or every connection pays the next
// class up (BENCHMARKS.md, idle).
func TestPerConnectionStructsFitTheirSizeClass(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, max uintptr
	}{
		{"conn", unsafe.Sizeof(conn{}), 64},
		{"session", unsafe.Sizeof(session{}), 128},
		{"Socket", unsafe.Sizeof(Socket{}), 80},
	} {
		if tc.size > tc.max {
			t.Errorf("%s is %d bytes, want at most %d", tc.name, tc.size, tc.max)
		}
	}
}

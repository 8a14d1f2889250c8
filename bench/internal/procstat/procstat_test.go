package procstat

import (
	"os"
	"testing"
)

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	c, err := ReadCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMem(pid)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Fatalf("mem %+v", m)
	}
	if c.Total() < 0 {
		t.Fatalf("cpu %+v", c)
	}
	if mem, inuse, err := TCPMem(); err != nil || mem < 0 || inuse < 0 {
		t.Fatalf("tcp mem %d inuse %d err %v", mem, inuse, err)
	}
}

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
	if c.Run <= 0 || c.Total() != c.Run {
		t.Fatalf("cpu %+v: want a schedstat run time", c)
	}
	if d := c.Sub(CPU{}); d.Run != 0 || d.Total() != c.User+c.Sys {
		t.Fatalf("Sub from a sample without run time: %+v", d)
	}
	if mem, inuse, err := TCPMem(); err != nil || mem < 0 || inuse < 0 {
		t.Fatalf("tcp mem %d inuse %d err %v", mem, inuse, err)
	}
}

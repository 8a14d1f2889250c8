// Package procstat reads what the benchmark needs about another process and
// the kernel from /proc: CPU time, resident memory and TCP memory. Linux only.
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ: /proc reports utime and stime in 1/100 s on every
// Linux architecture Go supports (getconf CLK_TCK prints 100 here).
const clockTick = 10 * time.Millisecond

// CPU is a process's accumulated CPU time.
type CPU struct {
	User time.Duration `json:"user"` // from /proc/<pid>/stat, 10 ms resolution
	Sys  time.Duration `json:"sys"`  // from /proc/<pid>/stat, 10 ms resolution
	// Run is the sum of the live threads' run time from
	// /proc/<pid>/task/*/schedstat, in ns; zero when unavailable.
	Run time.Duration `json:"run,omitempty"`
}

// Total is the precise run time when known, else user plus system time.
func (c CPU) Total() time.Duration {
	if c.Run > 0 {
		return c.Run
	}
	return c.User + c.Sys
}

// Sub returns c - o, field by field. A negative run-time difference (a
// thread exited between the samples and took its time with it) drops Run,
// so Total falls back to the coarse user + system difference.
func (c CPU) Sub(o CPU) CPU {
	d := CPU{User: c.User - o.User, Sys: c.Sys - o.Sys, Run: c.Run - o.Run}
	if c.Run == 0 || o.Run == 0 || d.Run < 0 {
		d.Run = 0
	}
	return d
}

// Add returns c + o, field by field.
func (c CPU) Add(o CPU) CPU {
	return CPU{User: c.User + o.User, Sys: c.Sys + o.Sys, Run: c.Run + o.Run}
}

// ReadCPU returns the user and system time of every thread of pid so far.
func ReadCPU(pid int) (CPU, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPU{}, fmt.Errorf("procstat: read stat of %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may contain spaces;
	// fields are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return CPU{}, fmt.Errorf("procstat: malformed stat of %d", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state(3) ppid(4) ... utime(14) stime(15) → f[11], f[12].
	if len(f) < 13 {
		return CPU{}, fmt.Errorf("procstat: short stat of %d", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return CPU{}, fmt.Errorf("procstat: bad utime/stime in stat of %d", pid)
	}
	return CPU{User: time.Duration(u) * clockTick, Sys: time.Duration(s) * clockTick, Run: runTime(pid)}, nil
}

// runTime sums the first field (time on CPU, ns) of every thread's
// schedstat. It returns 0 if any of them cannot be read.
func runTime(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var total int64
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		total += v
	}
	return time.Duration(total)
}

// ReadCPUs sums ReadCPU over pids. Run is kept only if every process had it.
func ReadCPUs(pids []int) (CPU, error) {
	var total CPU
	allRun := true
	for _, pid := range pids {
		c, err := ReadCPU(pid)
		if err != nil {
			return total, err
		}
		allRun = allRun && c.Run > 0
		total = total.Add(c)
	}
	if !allRun {
		total.Run = 0
	}
	return total, nil
}

// Mem is a process's memory as /proc/<pid>/status reports it, in bytes.
type Mem struct {
	RSS int64 `json:"rss"` // VmRSS: resident now
	HWM int64 `json:"hwm"` // VmHWM: peak resident since start
}

// ReadMem returns VmRSS and VmHWM of pid.
func ReadMem(pid int) (Mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}, fmt.Errorf("procstat: open status of %d: %w", pid, err)
	}
	defer f.Close()
	var m Mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			m.RSS = kbField(line)
		case strings.HasPrefix(line, "VmHWM:"):
			m.HWM = kbField(line)
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("procstat: read status of %d: %w", pid, err)
	}
	return m, nil
}

// ReadMems sums ReadMem over pids.
func ReadMems(pids []int) (Mem, error) {
	var total Mem
	for _, pid := range pids {
		m, err := ReadMem(pid)
		if err != nil {
			return total, err
		}
		total.RSS += m.RSS
		total.HWM += m.HWM
	}
	return total, nil
}

// kbField parses "VmRSS:	   1234 kB" into bytes.
func kbField(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseInt(f[1], 10, 64)
	return v << 10
}

// TCPMem returns the kernel's TCP buffer memory in bytes (the "mem" pages of
// the TCP line of /proc/net/sockstat) and the number of TCP sockets in use.
func TCPMem() (memBytes, inuse int64, err error) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, 0, fmt.Errorf("procstat: read sockstat: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "TCP:") {
			continue
		}
		f := strings.Fields(line)
		for i := 1; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseInt(f[i+1], 10, 64)
			switch f[i] {
			case "mem":
				memBytes = v * int64(os.Getpagesize())
			case "inuse":
				inuse = v
			}
		}
	}
	return memBytes, inuse, nil
}

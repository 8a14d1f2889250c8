package runner

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes the box for the report.
type machine struct {
	CPU, Kernel, Mem, Go, Node, Redis, Commit, Load string
	Cores                                           int
}

func describeMachine(ctx context.Context, root string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	m.CPU = firstMatch("/proc/cpuinfo", "model name")
	m.Mem = firstMatch("/proc/meminfo", "MemTotal")
	m.Kernel = cmdOut(ctx, root, "uname", "-r")
	m.Node = cmdOut(ctx, root, "node", "--version")
	m.Redis = cmdOut(ctx, root, redisBin, "--version")
	m.Commit = cmdOut(ctx, root, "git", "rev-parse", "--short", "HEAD")
	if dirty := cmdOut(ctx, root, "git", "status", "--porcelain", "--untracked-files=no"); dirty != "" {
		m.Commit += " (with uncommitted changes)"
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// firstMatch returns the value of the first "key: value" line in file.
func firstMatch(file, key string) string {
	f, err := os.Open(file)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func cmdOut(ctx context.Context, dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// pathEnv is the PATH children get.
func pathEnv() string {
	if p := os.Getenv("PATH"); p != "" {
		return p
	}
	return "/usr/local/bin:/usr/bin:/bin"
}

// shellJoin quotes argv for display as a shell command.
func shellJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || strings.ContainsAny(a, " \t\"'$\\*?[]{}()<>|&;") {
			fmt.Fprintf(&b, "'%s'", strings.ReplaceAll(a, "'", `'\''`))
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

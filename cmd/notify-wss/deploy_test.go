package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/notify"
)

// Checks of what ships next to the binary: the Dockerfile, the compose
// file, the systemd unit, the sysctl drop-in and the example settings. They
// cannot run Docker or systemd here, so they check what can be checked: that
// the files agree with the code and with each other, and that the build
// they describe gives a static binary.

// repoFile returns the path of a file at the repository root.
func repoFile(t *testing.T, name string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, name)
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// knownSetting reports whether env is one of the server's settings.
func knownSetting(env string) bool {
	return slices.ContainsFunc(settings, func(s setting) bool { return s.env == env })
}

func settingDefault(t *testing.T, env string) string {
	t.Helper()
	for _, s := range settings {
		if s.env == env {
			return s.def
		}
	}
	t.Fatalf("no setting %s", env)
	return ""
}

// ---- The build command -----------------------------------------------------

// goBuild is one parsed `go build` command line.
type goBuild struct {
	env     []string // leading VAR=value assignments, sorted
	flags   []string // build flags and their values, -o excluded, in order
	output  string   // -o
	pkgs    []string
	command string // the line it came from, for messages
}

// parseGoBuild parses `[VAR=value…] go build [flags] [packages]`.
func parseGoBuild(line string) (goBuild, error) {
	b := goBuild{command: line}
	words, err := shellWords(line)
	if err != nil {
		return b, err
	}
	i := 0
	for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
		b.env = append(b.env, words[i])
	}
	slices.Sort(b.env)
	if i+1 >= len(words) || filepath.Base(words[i]) != "go" || words[i+1] != "build" {
		return b, fmt.Errorf("not a go build command: %q", line)
	}
	// Flags that take a value as the next word.
	valued := map[string]bool{"-o": true, "-ldflags": true, "-gcflags": true, "-tags": true, "-asmflags": true, "-mod": true, "-p": true}
	for i += 2; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-o" && i+1 < len(words):
			b.output = words[i+1]
			i++
		case strings.HasPrefix(w, "-o="):
			b.output = w[3:]
		case valued[w] && i+1 < len(words):
			b.flags = append(b.flags, w+"="+words[i+1])
			i++
		case strings.HasPrefix(w, "-"):
			b.flags = append(b.flags, w)
		default:
			b.pkgs = append(b.pkgs, w)
		}
	}
	return b, nil
}

// shellWords splits a command line the way sh does for plain words,
// single and double quotes (no expansions, no escapes inside quotes).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

var makeVarRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// makefileBuild returns the recipe of the Makefile's build target with its
// variables expanded, except VERSION, which is written ${VERSION} as in the
// Dockerfile (its value is computed by git at build time).
func makefileBuild(t *testing.T) goBuild {
	t.Helper()
	vars := map[string]string{}
	var recipe []string
	inBuild := false
	for _, line := range strings.Split(readRepoFile(t, "Makefile"), "\n") {
		if inBuild {
			if strings.HasPrefix(line, "\t") {
				recipe = append(recipe, strings.TrimSpace(line))
				continue
			}
			inBuild = false
		}
		if strings.HasPrefix(line, "build:") {
			inBuild = true
			continue
		}
		for _, op := range []string{":=", "?=", "="} {
			if name, value, ok := strings.Cut(line, op); ok && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\s*$`).MatchString(name) {
				vars[strings.TrimSpace(name)] = strings.TrimSpace(value)
				break
			}
		}
	}
	vars["VERSION"] = "${VERSION}"
	var expand func(string, int) string
	expand = func(s string, depth int) string {
		if depth > 10 {
			t.Fatalf("Makefile: recursive variable in %q", s)
		}
		return makeVarRef.ReplaceAllStringFunc(s, func(ref string) string {
			name := makeVarRef.FindStringSubmatch(ref)[1]
			v, ok := vars[name]
			if !ok {
				t.Fatalf("Makefile: build uses undefined $(%s)", name)
			}
			return expand(v, depth+1)
		})
	}
	var builds []string
	for _, l := range recipe {
		if strings.Contains(l, " build ") {
			builds = append(builds, expand(l, 0))
		}
	}
	if len(builds) != 1 {
		t.Fatalf("Makefile: want one go build line in the build recipe, found %q", recipe)
	}
	b, err := parseGoBuild(builds[0])
	if err != nil {
		t.Fatalf("Makefile: %v", err)
	}
	return b
}

// dockerInstructions returns the Dockerfile's instructions, continuation
// lines joined and comments dropped, as [keyword, arguments] pairs.
func dockerInstructions(t *testing.T) [][2]string {
	t.Helper()
	var out [][2]string
	var cur strings.Builder
	for _, line := range strings.Split(readRepoFile(t, "Dockerfile"), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			kw, args, _ := strings.Cut(s, " ")
			out = append(out, [2]string{strings.ToUpper(kw), strings.TrimSpace(args)})
		}
		cur.Reset()
	}
	return out
}

// dockerfileBuild returns the Dockerfile's go build command.
func dockerfileBuild(t *testing.T) goBuild {
	t.Helper()
	var builds []string
	for _, in := range dockerInstructions(t) {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			builds = append(builds, in[1])
		}
	}
	if len(builds) != 1 {
		t.Fatalf("Dockerfile: want one RUN with go build, found %q", builds)
	}
	b, err := parseGoBuild(builds[0])
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return b
}

func TestDeployDockerfileBuildMatchesMakefile(t *testing.T) {
	mk, dk := makefileBuild(t), dockerfileBuild(t)
	t.Logf("Makefile:   %s", mk.command)
	t.Logf("Dockerfile: %s", dk.command)
	if !slices.Equal(mk.env, dk.env) {
		t.Errorf("environment: Makefile %q, Dockerfile %q", mk.env, dk.env)
	}
	if !slices.Equal(mk.flags, dk.flags) {
		t.Errorf("flags: Makefile %q, Dockerfile %q", mk.flags, dk.flags)
	}
	if !slices.Equal(mk.pkgs, dk.pkgs) || !slices.Equal(mk.pkgs, []string{"./cmd/notify-wss"}) {
		t.Errorf("packages: Makefile %q, Dockerfile %q", mk.pkgs, dk.pkgs)
	}
	if !slices.Contains(mk.env, "CGO_ENABLED=0") {
		t.Errorf("the build is not CGO_ENABLED=0: %q", mk.env)
	}
	// The version the Dockerfile stamps must be a build argument.
	if strings.Contains(strings.Join(dk.flags, " "), "${VERSION}") &&
		!slices.ContainsFunc(dockerInstructions(t), func(in [2]string) bool {
			return in[0] == "ARG" && (in[1] == "VERSION" || strings.HasPrefix(in[1], "VERSION="))
		}) {
		t.Error("Dockerfile: the build uses ${VERSION} but declares no ARG VERSION")
	}
}

func TestDeployDockerfile(t *testing.T) {
	ins := dockerInstructions(t)
	get := func(kw string) []string {
		var out []string
		for _, in := range ins {
			if in[0] == kw {
				out = append(out, in[1])
			}
		}
		return out
	}
	froms := get("FROM")
	if len(froms) != 2 {
		t.Fatalf("want a two-stage build, FROM %q", froms)
	}
	// The builder's Go is the go.mod's language version.
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod: no go line")
	}
	if want := "golang:" + m[1] + " "; !strings.HasPrefix(froms[0]+" ", want) {
		t.Errorf("builder FROM %q, want %s (go.mod says go %s)", froms[0], strings.TrimSpace(want), m[1])
	}
	if users := get("USER"); len(users) != 1 || strings.HasPrefix(users[0], "root") || strings.HasPrefix(users[0], "0") {
		t.Errorf("USER %q: the runtime stage must not run as root", users)
	}
	if ex := get("EXPOSE"); !slices.Equal(ex, []string{settingDefault(t, "PORT")}) {
		t.Errorf("EXPOSE %q, want the default PORT %s", ex, settingDefault(t, "PORT"))
	}
	hc := get("HEALTHCHECK")
	if len(hc) != 1 || !strings.Contains(hc[0], `"healthcheck"`) || strings.Contains(hc[0], "curl") {
		t.Errorf("HEALTHCHECK %q: want the binary's own healthcheck command", hc)
	}
	env := map[string]string{}
	for _, e := range get("ENV") {
		words, err := shellWords(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				t.Errorf("ENV %q: use KEY=value", e)
			}
			env[k] = v
			if !knownSetting(k) {
				t.Errorf("ENV %s is not a setting", k)
			}
		}
	}
	if env["NODE_ENV"] != "production" {
		t.Errorf("ENV NODE_ENV=%q, want production", env["NODE_ENV"])
	}
	// The entrypoint and the health check run the binary the build copies.
	copied := ""
	for _, c := range get("COPY") {
		if w, _ := shellWords(c); len(w) == 3 && strings.HasPrefix(w[0], "--from=") {
			copied = w[2]
		}
	}
	for _, kw := range []string{"ENTRYPOINT", "HEALTHCHECK"} {
		for _, v := range get(kw) {
			if copied == "" || !strings.Contains(v, `"`+copied+`"`) {
				t.Errorf("%s %s does not run the copied binary %q", kw, v, copied)
			}
		}
	}
	ignore := readRepoFile(t, ".dockerignore")
	for _, must := range []string{".git", ".env", "node_modules"} {
		if !strings.Contains(ignore, must) {
			t.Errorf(".dockerignore does not exclude %s", must)
		}
	}
}

func TestDeployCompose(t *testing.T) {
	compose := readRepoFile(t, "docker-compose.yml")
	// The environment: block of notify-wss: only real settings.
	var keys []string
	inEnv, indent := false, 0
	for _, line := range strings.Split(compose, "\n") {
		trimmed := strings.TrimSpace(line)
		lead := len(line) - len(strings.TrimLeft(line, " "))
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if inEnv && lead <= indent {
			inEnv = false
		}
		if inEnv {
			k, _, _ := strings.Cut(trimmed, ":")
			keys = append(keys, k)
		}
		if trimmed == "environment:" {
			inEnv, indent = true, lead
		}
	}
	for _, k := range keys {
		if !knownSetting(k) {
			t.Errorf("docker-compose.yml sets %s, which is not a setting", k)
		}
	}
	for _, want := range []string{"NODE_ENV", "REDIS_URL", "JWT_SECRET"} {
		if !slices.Contains(keys, want) {
			t.Errorf("docker-compose.yml does not set %s", want)
		}
	}
	for _, want := range []string{"image: redis:7", "REDIS_URL: redis://redis:6379", "JWT_SECRET: ${JWT_SECRET"} {
		if !strings.Contains(compose, want) {
			t.Errorf("docker-compose.yml lacks %q", want)
		}
	}
	limit := unitDirectives(t)["LimitNOFILE"]
	if len(limit) != 1 || !strings.Contains(compose, "soft: "+limit[0]) || !strings.Contains(compose, "hard: "+limit[0]) {
		t.Errorf("docker-compose.yml's nofile ulimit differs from the unit's LimitNOFILE=%v", limit)
	}
}

func TestDeployEnvExample(t *testing.T) {
	listed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(readRepoFile(t, "deploy/env.example")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimPrefix(line, "#")
		if k, _, ok := strings.Cut(line, "="); ok && regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(k) {
			listed[k] = true
			if !knownSetting(k) {
				t.Errorf("env.example has %s, which is not a setting", k)
			}
		}
	}
	for _, s := range settings {
		if !listed[s.env] {
			t.Errorf("env.example does not mention %s (%s)", s.env, s.help)
		}
	}
	// It is a valid settings file for the server.
	values := map[string]string{}
	if err := readDotEnv(repoFile(t, "deploy/env.example"), values); err != nil {
		t.Fatal(err)
	}
	if values["NODE_ENV"] != "production" || values["REDIS_URL"] == "" || values["JWT_SECRET"] == "" {
		t.Errorf("env.example does not set production, REDIS_URL and JWT_SECRET: %v", values)
	}
}

// ---- The binary ------------------------------------------------------------

var (
	staticOnce sync.Once
	staticPath string
	staticErr  error
)

// staticBinary builds ./cmd/notify-wss with the Makefile's own command
// (environment and flags), VERSION=deploy-test.
func staticBinary(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		mk := makefileBuild(t)
		dir, err := os.MkdirTemp("", "notify-wss-static")
		if err != nil {
			staticErr = err
			return
		}
		staticPath = filepath.Join(dir, "notify-wss")
		args := []string{"build"}
		for _, f := range mk.flags {
			args = append(args, strings.ReplaceAll(f, "${VERSION}", "deploy-test"))
		}
		args = append(args, "-o", staticPath)
		args = append(args, mk.pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = repoFile(t, "")
		cmd.Env = append(os.Environ(), mk.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = fmt.Errorf("%s: %v\n%s", cmd, err, out)
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	return staticPath
}

func TestDeployStaticBinary(t *testing.T) {
	bin := staticBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a PT_INTERP program header: it is dynamically linked")
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Error("the binary has a PT_DYNAMIC program header")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("the binary needs shared libraries %q (%v)", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: -s did not apply")
	}
	if path, err := exec.LookPath("file"); err == nil {
		out, _ := exec.Command(path, bin).CombinedOutput()
		t.Logf("file: %s", bytes.TrimSpace(out))
		if !bytes.Contains(out, []byte("statically linked")) {
			t.Errorf("file(1) does not call it statically linked: %s", out)
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "notify-wss deploy-test" {
		t.Errorf("version: %q, %v; want the -X main.version stamp", out, err)
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("static binary: %.1f MiB", float64(fi.Size())/(1<<20))
	}
}

// ---- systemd -----------------------------------------------------------------

// unitDirectives parses deploy/notify-wss.service into key → values.
func unitDirectives(t *testing.T) map[string][]string {
	t.Helper()
	d := map[string][]string{}
	for _, line := range strings.Split(readRepoFile(t, "deploy/notify-wss.service"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("unit: %q is not Key=Value", line)
			continue
		}
		d[k] = append(d[k], v)
	}
	return d
}

func TestDeploySystemdUnitSettings(t *testing.T) {
	d := unitDirectives(t)
	want := map[string]string{
		"ExecStart":             "/usr/local/bin/notify-wss",
		"EnvironmentFile":       "-/etc/notify-wss/env",
		"DynamicUser":           "yes",
		"Restart":               "on-failure",
		"KillSignal":            "SIGTERM",
		"TimeoutStopSec":        "45",
		"LimitNOFILE":           "1048576",
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"PrivateTmp":            "yes",
		"CapabilityBoundingSet": "",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	// Whatever sets the environment: only real settings.
	for _, e := range d["Environment"] {
		k, _, _ := strings.Cut(e, "=")
		if !knownSetting(k) {
			t.Errorf("Environment=%s is not a setting", e)
		}
	}
	// After SIGTERM the server drains for DRAIN_DURATION, then stops
	// within the shutdown grace; the stop timeout must leave it that long.
	if sec, _ := strconv.Atoi(d["TimeoutStopSec"][0]); sec <= int((drainDefault(t) + notify.DefaultShutdownGrace).Seconds()) {
		t.Errorf("TimeoutStopSec=%d is not above the drain (%v) plus the %v shutdown grace", sec, drainDefault(t), notify.DefaultShutdownGrace)
	}
}

// drainDefault is DRAIN_DURATION's default.
func drainDefault(t *testing.T) time.Duration {
	d, err := time.ParseDuration(settingDefault(t, "DRAIN_DURATION"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDeploySystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (apt package systemd): unit not verified")
	}
	// verify insists that ExecStart exists: point it at a real build.
	unit := readRepoFile(t, "deploy/notify-wss.service")
	unit = strings.Replace(unit, "ExecStart=/usr/local/bin/notify-wss", "ExecStart="+staticBinary(t), 1)
	path := filepath.Join(t.TempDir(), "notify-wss.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	// verify exits 0 on unknown keys and bad values and only prints them,
	// so any output is a failure.
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The exposure score of the hardening, where this systemd can rate a
	// unit file offline (systemd 250+). The threshold is in tenths: 20 is
	// 2.0 on the printed 0–10 scale.
	out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if bytes.Contains(out, []byte("Overall exposure level")) {
		last := bytes.TrimSpace(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:])
		t.Logf("%s", last)
		if err != nil {
			t.Errorf("systemd-analyze security: exposure above 2.0: %v\n%s", err, out)
		}
	} else {
		t.Logf("systemd-analyze security --offline unavailable: %v %s", err, bytes.TrimSpace(out))
	}
}

// ---- sysctl ------------------------------------------------------------------

// sysctlEntries parses deploy/sysctl.d/60-notify-wss.conf; optional entries
// (leading "-") may be absent from the running kernel.
func sysctlEntries(t *testing.T) (values map[string]string, optional map[string]bool) {
	t.Helper()
	values, optional = map[string]string{}, map[string]bool{}
	for _, line := range strings.Split(readRepoFile(t, "deploy/sysctl.d/60-notify-wss.conf"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("sysctl: %q is not key = value", line)
			continue
		}
		k, v = strings.TrimSpace(k), strings.Join(strings.Fields(v), " ")
		if strings.HasPrefix(k, "-") {
			k = k[1:]
			optional[k] = true
		}
		if _, dup := values[k]; dup {
			t.Errorf("sysctl: %s set twice", k)
		}
		values[k] = v
	}
	return values, optional
}

func TestDeploySysctl(t *testing.T) {
	values, optional := sysctlEntries(t)
	ints := func(k string) []int64 {
		var out []int64
		for _, f := range strings.Fields(values[k]) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Errorf("%s = %q: not numbers", k, values[k])
			}
			out = append(out, n)
		}
		return out
	}
	for _, k := range []string{"net.core.somaxconn", "fs.nr_open", "fs.file-max", "net.ipv4.tcp_mem",
		"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.ip_local_port_range"} {
		if _, ok := values[k]; !ok {
			t.Errorf("%s is not set", k)
		}
	}
	// Every key names a real tunable (a typo would only be logged at boot).
	if _, err := os.Stat("/proc/sys/net/ipv4"); err != nil {
		t.Logf("no /proc/sys/net/ipv4: tunable names not checked")
	} else {
		for k := range values {
			p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
			if _, err := os.Stat(p); os.IsNotExist(err) && !optional[k] {
				t.Errorf("%s: no such tunable (%s)", k, p)
			}
		}
	}
	limit, _ := strconv.ParseInt(unitDirectives(t)["LimitNOFILE"][0], 10, 64)
	if nr := ints("fs.nr_open"); len(nr) != 1 || nr[0] < limit {
		t.Errorf("fs.nr_open %v is below the unit's LimitNOFILE=%d", nr, limit)
	}
	if fm := ints("fs.file-max"); len(fm) != 1 || fm[0] < limit {
		t.Errorf("fs.file-max %v is below LimitNOFILE=%d", fm, limit)
	}
	const million = 1_000_000
	if mem := ints("net.ipv4.tcp_mem"); len(mem) != 3 || !slices.IsSorted(mem) || mem[0] < million {
		// One page queued per socket for a global notification.
		t.Errorf("net.ipv4.tcp_mem %v: want three ascending page counts, min ≥ one page per socket (%d)", mem, million)
	}
	for _, k := range []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.ip_local_port_range"} {
		if v := ints(k); !slices.IsSorted(v) {
			t.Errorf("%s %v is not ascending", k, v)
		}
	}
	if wm := ints("net.core.wmem_max"); len(wm) == 1 {
		if def, _ := strconv.Atoi(settingDefault(t, "SOCKET_SEND_BUFFER")); wm[0] < int64(def) {
			t.Errorf("net.core.wmem_max %d caps the default SOCKET_SEND_BUFFER %d", wm[0], def)
		}
	}
}

// ---- make install ------------------------------------------------------------

func TestDeployMakeInstall(t *testing.T) {
	if !strings.Contains(readRepoFile(t, "Makefile"), "deploy/notify-wss.service") {
		t.Skip("the Makefile's install target does not install deploy/ yet")
	}
	bin := staticBinary(t)
	for _, prefix := range []string{"/usr/local", "/usr"} {
		dest := t.TempDir()
		// -o build: the binary is already built; BIN points make at it.
		cmd := exec.Command("make", "--no-print-directory", "-o", "build", "install",
			"DESTDIR="+dest, "PREFIX="+prefix, "BIN="+bin)
		cmd.Dir = repoFile(t, "")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
		var files []string
		_ = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, strings.TrimPrefix(p, dest))
			}
			return nil
		})
		slices.Sort(files)
		want := []string{
			"/etc/notify-wss/env",
			prefix + "/bin/notify-wss",
			prefix + "/lib/sysctl.d/60-notify-wss.conf",
			prefix + "/lib/systemd/system/notify-wss.service",
		}
		slices.Sort(want)
		if !slices.Equal(files, want) {
			t.Errorf("PREFIX=%s installs %q, want %q", prefix, files, want)
			continue
		}
		unit, _ := os.ReadFile(filepath.Join(dest, prefix, "lib/systemd/system/notify-wss.service"))
		if !bytes.Contains(unit, []byte("\nExecStart="+prefix+"/bin/notify-wss\n")) {
			t.Errorf("PREFIX=%s: the installed unit does not start %s/bin/notify-wss", prefix, prefix)
		}
		if fi, err := os.Stat(filepath.Join(dest, "etc/notify-wss/env")); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("env installed with mode %v, want 0600 (it holds JWT_SECRET)", fi.Mode().Perm())
		}
	}
}

package loadgen_test

import (
	"strconv"
	"testing"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

// TestRecoveryScenario runs the recovery scenario against notify-wss with
// connection state recovery on (every cut client recovers, nothing lost)
// and off (cut clients lose what was published while they were away).
func TestRecoveryScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs real processes")
	}
	rs := redistest.Start(t)
	dir := t.TempDir()
	build(t, dir, "loadgen", "github.com/notify-wss/notify-wss/bench/cmd/loadgen")
	build(t, dir, "notify-wss", "github.com/notify-wss/notify-wss/cmd/notify-wss")
	for _, c := range []struct {
		name, window string
		recovers     bool
	}{
		{"on", "2m", true},
		{"off", "0", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr, pid := startNotifyWSS(t, dir, rs.URL, "RECOVERY_WINDOW="+c.window)
			r := run(t, dir, []string{"recovery", "-target", addr, "-redis", rs.Addr, "-secret", "e2e",
				"-server-pid", strconv.Itoa(pid), "-settle", "2s",
				"-n", "50", "-paced-rate", "40", "-d", "2s", "-cut-share", "0.2", "-cut-delay", "200ms"})
			cuts := r.Metrics["recovery.cuts"]
			if cuts < 5 {
				t.Fatalf("%v cuts, want some", cuts)
			}
			want(t, r, "recovery.dups", 0)
			if c.recovers {
				want(t, r, "recovery.recovered", cuts)
				want(t, r, "recovery.lost", 0)
				want(t, r, "recovery.complete", 1)
				return
			}
			want(t, r, "recovery.recovered", 0)
			if r.Metrics["recovery.lost"] == 0 {
				t.Error("nothing lost without recovery: the scenario cannot tell")
			}
		})
	}
}

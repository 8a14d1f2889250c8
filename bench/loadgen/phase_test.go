package loadgen

import (
	"testing"

	"github.com/notify-wss/notify-wss/bench/internal/wire"
)

// TestPhaseAccounting feeds deliveries straight into a loop (no sockets) and
// checks the loss, duplicate and per-message bookkeeping.
func TestPhaseAccounting(t *testing.T) {
	l := &loop{}
	a := &conn{l: l, idx: 0, state: stReady}
	b := &conn{l: l, idx: 1, state: stReady}
	slow := &conn{l: l, idx: 2, state: stReady, slow: true}
	failed := &conn{l: l, idx: 3, state: stFailed}
	l.clients = []*conn{a, b, slow, failed}
	if got := l.beginPhase(7, true, 5); got != 2 {
		t.Fatalf("measured = %d, want 2 (a and b)", got)
	}
	d := func(c *conn, phase, id int64, at int64) {
		l.deliver(c, wire.Delivery{Phase: phase, ID: id, Seq: id, SentAt: 1000}, at)
	}
	for id := range int64(5) {
		d(a, 7, id, 2000+id)
	}
	// b: 0, 2, 2, 3 — a gap at 1, a duplicate 2, and 4 never arrives.
	for _, id := range []int64{0, 2, 2, 3} {
		d(b, 7, id, 3000+id)
	}
	d(slow, 7, 0, 4000) // not measured
	d(a, 6, 0, 5000)    // stray: another phase
	d(b, 0, 0, 5000)    // warm-up
	r := l.phaseReport(5, nil, 0)
	if r.Delivered != 9 || r.Lost != 2 || r.Dups != 1 || r.LossClients != 1 {
		t.Errorf("delivered=%d lost=%d dups=%d lossClients=%d, want 9 2 1 1", r.Delivered, r.Lost, r.Dups, r.LossClients)
	}
	if r.Stray != 1 || r.Side != 1 {
		t.Errorf("stray=%d side=%d, want 1 1", r.Stray, r.Side)
	}
	if !b.warm || l.warmed.Load() != 1 {
		t.Errorf("warm-up not recorded")
	}
	if r.Count[2] != 3 || r.First[0] != 2000 || r.Last[0] != 3000 || r.Count[4] != 1 {
		t.Errorf("per-message: count=%v first=%v last=%v", r.Count, r.First, r.Last)
	}
	if r.Hist.N != 9 || r.FirstNs != 2000 || r.LastNs != 3003 {
		t.Errorf("hist n=%d first=%d last=%d", r.Hist.N, r.FirstNs, r.LastNs)
	}

	// Unicast: per-client expectations.
	l.beginPhase(8, false, 0)
	l.deliver(a, wire.Delivery{Phase: 8, ID: 0, Seq: 0, SentAt: 1}, 2)
	r = l.phaseReport(0, []int32{2, 0}, 0) // a expected 2, b expected 0
	if r.Lost != 1 || r.LossClients != 1 || r.Count != nil {
		t.Errorf("unicast: lost=%d lossClients=%d count=%v", r.Lost, r.LossClients, r.Count)
	}
}

func TestPhaseReportMerge(t *testing.T) {
	x := PhaseReport{Delivered: 2, Lost: 1, FirstNs: 50, LastNs: 90,
		First: []int64{50, 0}, Last: []int64{60, 0}, Count: []int64{1, 0}}
	y := PhaseReport{Delivered: 3, Dups: 2, FirstNs: 40, LastNs: 80,
		First: []int64{70, 45, 48}, Last: []int64{75, 80, 49}, Count: []int64{1, 1, 1}}
	x.Merge(y)
	if x.Delivered != 5 || x.Lost != 1 || x.Dups != 2 || x.FirstNs != 40 || x.LastNs != 90 {
		t.Fatalf("totals %+v", x)
	}
	if x.Count[0] != 2 || x.First[0] != 50 || x.Last[0] != 75 || x.Count[2] != 1 || x.First[1] != 45 {
		t.Fatalf("per-message count=%v first=%v last=%v", x.Count, x.First, x.Last)
	}
}

func TestSplitPlan(t *testing.T) {
	cfgs, err := Split{Targets: []string{"127.0.0.1:1"}, Stable: 31000, Churn: 10, Joins: []string{"global"}}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 3 {
		t.Fatalf("%d workers for 31,010 clients, want 3", len(cfgs))
	}
	stable, churn := 0, 0
	for w, c := range cfgs {
		if c.Source != []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}[w] || c.Loops != 1 {
			t.Errorf("worker %d: source %s loops %d", w, c.Source, c.Loops)
		}
		if c.First != stable || c.ChurnFirst != 31000+churn {
			t.Errorf("worker %d: first %d churnFirst %d", w, c.First, c.ChurnFirst)
		}
		if c.Count+c.ChurnCount > DefaultPerWorker {
			t.Errorf("worker %d holds %d clients", w, c.Count+c.ChurnCount)
		}
		stable += c.Count
		churn += c.ChurnCount
	}
	if stable != 31000 || churn != 10 {
		t.Errorf("split %d stable + %d churn", stable, churn)
	}
	one, _ := Split{Targets: []string{"127.0.0.1:1"}, Stable: 10}.Plan()
	if len(one) != 1 || one[0].Loops != 2 {
		t.Errorf("single worker: %+v", one)
	}
	if _, err := (Split{Targets: []string{"127.0.0.1:1"}, Stable: 10, MinWorkers: 300}).Plan(); err == nil {
		t.Error("300 workers: want an error (not enough 127.0.0.x addresses)")
	}
}

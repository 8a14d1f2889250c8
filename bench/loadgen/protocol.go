package loadgen

import (
	"time"

	"github.com/notify-wss/notify-wss/bench/internal/hist"
	"github.com/notify-wss/notify-wss/bench/internal/procstat"
)

// The coordinator talks to each worker over the worker's stdin and stdout,
// one JSON value per line: first a WorkerConfig, answered by an empty Reply
// once the loops run; then Requests, each answered by exactly one Reply.
// A worker exits, closing every connection, on the "close" op or on EOF of
// its stdin (so it never outlives its coordinator).

// WorkerConfig tells a worker which clients it owns and how they behave.
type WorkerConfig struct {
	Worker  int      `json:"worker"`
	Targets []string `json:"targets"` // server ip:port; client i uses Targets[i % len]
	Source  string   `json:"source"`  // local address every socket binds to
	// Stable clients First..First+Count-1 are measured; churn clients
	// ChurnFirst..ChurnFirst+ChurnCount-1 are cycled by the churn op.
	First      int    `json:"first"`
	Count      int    `json:"count"`
	ChurnFirst int    `json:"churnFirst"`
	ChurnCount int    `json:"churnCount"`
	Loops      int    `json:"loops"`
	Secret     string `json:"secret"`
	Deflate    bool   `json:"deflate"` // offer permessage-deflate, inflate what comes compressed
	// Recover keeps every client's recovery offset, for the cut op.
	Recover bool `json:"recover"`
	// Joins lists the rooms every client asks for after CONNECT:
	// "global", "user" (its own, explicitly) or "channel".
	Joins    []string `json:"joins"`
	Channels int      `json:"channels"` // channel ids ch0..ch<Channels-1>
	// SlowEvery makes every SlowEvery-th stable client (by index) a slow
	// consumer that the "slow" op pauses; 0 means none.
	SlowEvery        int           `json:"slowEvery"`
	HandshakeTimeout time.Duration `json:"handshakeTimeout"`
}

// Request is one coordinator command.
type Request struct {
	Op string `json:"op"` // connect, progress, phase, report, slow, churn, cut, status, close

	Concurrency int `json:"concurrency,omitempty"` // connect: handshakes in flight

	Phase     int64   `json:"phase,omitempty"`     // phase
	Broadcast bool    `json:"broadcast,omitempty"` // phase
	Msgs      int     `json:"msgs,omitempty"`      // phase: messages (broadcast)
	ExpectAll int64   `json:"expectAll,omitempty"` // report
	ExpectPer []int32 `json:"expectPer,omitempty"` // report: per stable client, from First

	Pause bool `json:"pause,omitempty"` // slow: pause (true) or resume reading

	Rate float64       `json:"rate,omitempty"` // churn: dials/s on this worker; 0 stops. cut: share of clients per second
	Hold time.Duration `json:"hold,omitempty"` // churn: how long each churn client stays. cut: delay before coming back
	// Until ends the cuts (unix ns).
	Until int64 `json:"until,omitempty"`
}

// Reply answers one Request; only the part for its op is set.
type Reply struct {
	Err      string         `json:"err,omitempty"`
	Progress *Progress      `json:"progress,omitempty"`
	Connect  *ConnectReport `json:"connect,omitempty"`
	Phase    *PhaseReport   `json:"phaseReport,omitempty"`
	Status   *Status        `json:"status,omitempty"`
	// Measured (phase op) is how many clients this phase measures: stable,
	// ready and not slow when the phase began.
	Measured int64 `json:"measured,omitempty"`
}

// Progress is a cheap snapshot of a worker's counters.
type Progress struct {
	Ready      int64 `json:"ready"`      // stable clients that completed CONNECT
	Failed     int64 `json:"failed"`     // stable clients whose handshake failed
	Closed     int64 `json:"closed"`     // stable clients lost after ready
	SlowClosed int64 `json:"slowClosed"` // slow consumers lost after ready
	Warmed     int64 `json:"warmed"`     // stable clients that got a warm-up message
	Delivered  int64 `json:"delivered"`  // measured deliveries this phase
	Pings      int64 `json:"pings"`      // heartbeats answered (all clients)
	ChurnReady int64 `json:"churnReady"` // churn handshakes completed
	ChurnFail  int64 `json:"churnFail"`  // churn handshakes failed
}

// Add sums o into p.
func (p *Progress) Add(o Progress) {
	p.Ready += o.Ready
	p.Failed += o.Failed
	p.Closed += o.Closed
	p.SlowClosed += o.SlowClosed
	p.Warmed += o.Warmed
	p.Delivered += o.Delivered
	p.Pings += o.Pings
	p.ChurnReady += o.ChurnReady
	p.ChurnFail += o.ChurnFail
}

// ConnectReport is the outcome of a connect op.
type ConnectReport struct {
	Ready   int64            `json:"ready"`
	Failed  int64            `json:"failed"`
	Errors  map[string]int64 `json:"errors,omitempty"`
	Hist    hist.Snapshot    `json:"hist"` // dial start → CONNECT reply
	StartNs int64            `json:"startNs"`
	EndNs   int64            `json:"endNs"`
}

// Status is a worker's full account of its connections.
type Status struct {
	Progress
	Errors       map[string]int64 `json:"errors,omitempty"`
	CloseReasons map[string]int64 `json:"closeReasons,omitempty"`
	// Heartbeats answered per ready stable client.
	PingsMin  int64         `json:"pingsMin"`
	PingsMax  int64         `json:"pingsMax"`
	ReadyNow  int64         `json:"readyNow"` // stable clients ready right now
	ChurnHist hist.Snapshot `json:"churnHist"`
	PingFirst hist.Snapshot `json:"pingFirst"` // open packet → first ping
	PingGap   hist.Snapshot `json:"pingGap"`   // ping → next ping
	Starved   int64         `json:"starved"`   // churn dials skipped: no free slot
	Foreign   int64         `json:"foreign"`   // non-benchmark notifications
	// Recovery scenario: clients cut, and how they came back; re-dial →
	// CONNECT reply of those recovered.
	Cuts         int64         `json:"cuts,omitempty"`
	Recovered    int64         `json:"recovered,omitempty"`
	NotRecovered int64         `json:"notRecovered,omitempty"`
	RecoveryHist hist.Snapshot `json:"recoveryHist"`
	CPU          procstat.CPU  `json:"cpu"` // this worker process so far
}

package runner

import "time"

// scenarioPlan is one scenario of the suite: how many server processes it
// needs and the load generator's arguments (besides -target, -redis,
// -secret, -server-pid and -label, which the runner adds).
type scenarioPlan struct {
	name      string
	instances int           // server processes (scale-out uses several)
	args      []string      // loadgen flags
	timeout   time.Duration // for the whole loadgen run
}

// Sizes. A server process, like a load generator process, may open at most
// 20,000 descriptors and holds one per connection, hence 19,000 clients per
// server, and 6 servers × 17,000 for the ≥100K scale-out.
func fullPlan() []scenarioPlan {
	return []scenarioPlan{
		{"connect", 1, []string{"-n", "19000", "-c", "500"}, 5 * time.Minute},
		// 80 s is three heartbeats at the default 25 s ping interval.
		{"idle", 1, []string{"-n", "19000", "-c", "500", "-hold", "80s"}, 6 * time.Minute},
		{"fanout", 1, []string{"-n", "19000", "-c", "500", "-m", "200", "-paced-m", "40", "-paced-rate", "2"}, 10 * time.Minute},
		// The rate: p99 ≤ 5 ms at 500 notifications/s with 19K connected.
		{"unicast", 1, []string{"-n", "19000", "-c", "500", "-rate", "500", "-d", "20s"}, 6 * time.Minute},
		{"churn", 1, []string{"-n", "10000", "-c", "500", "-churn-rate", "200", "-churn-hold", "2s", "-d", "20s", "-paced-rate", "2"}, 6 * time.Minute},
		// 600 messages of 4 KB at 20/s: 2.4 MB per stopped reader, more than
		// the kernel buffers plus notify-wss's default 1 MB outbound cap.
		{"slow", 1, []string{"-n", "1000", "-m", "600", "-slow-rate", "20", "-pad", "4000", "-slow-every", "100"}, 6 * time.Minute},
		// The publisher-flood issue: 5,000 clients, the rate the server
		// sustains measured with 1,000 messages back to back, then 5× that
		// for 20 s.
		{"flood", 1, []string{"-n", "5000", "-c", "500", "-m", "1000", "-flood-factor", "5", "-d", "20s"}, 6 * time.Minute},
		// Connection state recovery: 2% of 10,000 clients cut every second
		// for 30 s, each back after 1 s (socket.io-client's default delay),
		// while 4 broadcasts/s flow.
		{"recovery", 1, []string{"-n", "10000", "-c", "500", "-paced-rate", "4", "-d", "30s", "-cut-share", "0.02", "-cut-delay", "1s"}, 6 * time.Minute},
		// The unicast phase: 1,000 random users/s for 20 s over 6 instances.
		{"scaleout", 6, []string{"-n", "102000", "-c", "600", "-m", "20", "-paced-m", "10", "-paced-rate", "0.5", "-rate", "1000", "-d", "20s", "-phase-max", "300s"}, 20 * time.Minute},
	}
}

// quickPlan is the same suite small enough for one run in under 5 minutes.
func quickPlan() []scenarioPlan {
	return []scenarioPlan{
		{"connect", 1, []string{"-n", "1000", "-c", "100"}, 2 * time.Minute},
		// One heartbeat: the shortest hold that still checks pings.
		{"idle", 1, []string{"-n", "1000", "-c", "100", "-hold", "28s"}, 2 * time.Minute},
		{"fanout", 1, []string{"-n", "2000", "-c", "200", "-m", "100", "-paced-m", "10", "-paced-rate", "5"}, 2 * time.Minute},
		// The rate: p99 ≤ 5 ms at 500 notifications/s with 19K connected.
		{"unicast", 1, []string{"-n", "2000", "-c", "200", "-rate", "500", "-d", "5s"}, 2 * time.Minute},
		{"churn", 1, []string{"-n", "1000", "-c", "100", "-churn-rate", "50", "-churn-hold", "1s", "-d", "5s", "-paced-rate", "5"}, 2 * time.Minute},
		// 240 messages of 8 KB in 6 s: 1.9 MB per stopped reader.
		{"slow", 1, []string{"-n", "500", "-c", "100", "-m", "240", "-slow-rate", "40", "-pad", "8000", "-slow-every", "100", "-settle", "3s"}, 2 * time.Minute},
		{"flood", 1, []string{"-n", "1000", "-c", "100", "-m", "300", "-flood-factor", "5", "-d", "5s"}, 2 * time.Minute},
		{"recovery", 1, []string{"-n", "1000", "-c", "100", "-paced-rate", "10", "-d", "10s", "-cut-share", "0.05", "-cut-delay", "500ms", "-settle", "3s"}, 2 * time.Minute},
		{"scaleout", 3, []string{"-n", "2100", "-c", "200", "-m", "50", "-paced-m", "5", "-paced-rate", "5", "-rate", "300", "-d", "5s"}, 2 * time.Minute},
	}
}

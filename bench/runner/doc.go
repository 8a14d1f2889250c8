// Package runner runs the benchmark suite end to end: it builds the
// binaries, starts redis-server on a free loopback port (and a three-master
// Redis Cluster when a server kind needs one: notify-wss-sharded), starts each server
// under test in turn (notify-wss, the Node.js socket.io peer, the gnet
// floor; fresh processes for every scenario, servers interleaved within each
// run), drives them with the load generator, always stops everything it
// started, and rewrites BENCHMARKS.md from the results.
//
// Files: plan.go (what runs, full and quick sizes), procs.go (child
// processes and their clean-up), servers.go (how each server starts),
// redis.go, machine.go (what the report says about the box), report.go
// (BENCHMARKS.md), run.go (the loop that ties them together).
package runner

// Package redistest starts a real redis-server for one test.
//
// Every test gets its own server on a free loopback port, with persistence
// off and its working directory under t.TempDir(), so tests never touch the
// machine's Redis on 6379 and never see each other's data:
//
//	srv := redistest.Start(t)          // killed by t.Cleanup
//	b, _ := bridge.New(bridge.Config{URL: srv.URL}, deliver)
//	srv.Publish(t, "notifications:all", `{"a":1}`)
//	srv.Stop()                         // Redis goes away (clients see EOF)
//	srv.Restart()                      // same port, empty, ready for PING
//
//	srv := redistest.StartPersistent(t) // AOF on, fsync after every write
//	srv.Stop()                          // SIGKILL: nothing acknowledged is lost
//	srv.Restart()                       // same port and dir, AOF loaded
//
// Two topologies build on it, every process on free ports and killed by
// t.Cleanup like a single server:
//
//	s := redistest.StartSentinel(t)    // master, replica, sentinel (quorum 1)
//	b, _ := bridge.New(bridge.Config{Mode: bridge.ModeSentinel, URL: s.URL}, deliver)
//	s.Master.Stop()                    // the sentinel promotes s.Replica in ~1-2 s
//	s.MasterAddr(t)                    // what the sentinel names as master now
//
//	c := redistest.StartCluster(t)     // three masters, every slot served
//	b, _ := bridge.New(bridge.Config{Mode: bridge.ModeCluster, URL: c.URL}, deliver)
//	c.Nodes[1].Publish(t, ch, payload) // PUBLISH reaches every node's subscribers
//
// The binary is found with exec.LookPath("redis-server"); a missing binary
// fails the test with a hint to run `make deps`. Sentinel and cluster need
// Redis 7 (for --cluster-port) and redis-cli for `--cluster create`.
package redistest

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
// The binary is found with exec.LookPath("redis-server"); a missing binary
// fails the test with a hint to run `make deps`.
package redistest

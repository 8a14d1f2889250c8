//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/notify-wss/notify-wss/internal/redistest"
)

// TestBrowser runs socket.io-client's own browser bundle in headless
// Chromium against the real binary, across origins, so that CORS, the
// polling → WebSocket upgrade, long-polling and keep-alive are those of a
// real browser rather than of Node's XMLHttpRequest and ws.
//
// Two page servers (two origins) serve testdata/browser/index.html and the
// bundle from internal/sioclient/node_modules. notify-wss allows only the
// first origin. The page (spec in its query, see testdata/browser/page.js)
// runs its clients and POSTs everything that happens to /report on its own
// origin; the test waits for those reports. The first origin's page embeds
// an iframe from the second origin, whose client must fail on CORS.
func TestBrowser(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found: run `make deps` (%v)", err)
	}
	bundle := filepath.Join("..", "..", "internal", "sioclient", "node_modules", "socket.io-client", "dist", "socket.io.min.js")
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("socket.io-client browser bundle missing: run `make deps` (%v)", err)
	}

	t0 := time.Now()
	step := func(what string) { t.Logf("%6.2fs %s", time.Since(t0).Seconds(), what) }
	reps := &browserReports{changed: make(chan struct{})}
	allowed := pageServer(t, bundle, reps)
	denied := pageServer(t, bundle, reps)
	rd := redistest.Start(t)
	// A short ping interval, so keep-alive over both transports is seen
	// within the test. Compression on: Chromium always offers
	// permessage-deflate.
	srv := startServer(t, rd.URL, "CORS_ORIGIN="+allowed.URL, "PING_INTERVAL=1000", "PING_TIMEOUT=5000", "COMPRESSION=on")
	tok := userToken(t, "b1")
	step("notify-wss ready")

	deniedSpec := pageSpec{Clients: []pageClient{
		{ID: "denied", URL: srv.URL, Opts: map[string]any{"auth": map[string]any{"token": tok}, "reconnection": false}},
	}}
	spec := pageSpec{
		Clients: []pageClient{
			// Browser defaults: polling first, then the upgrade.
			{ID: "default", URL: srv.URL, Opts: map[string]any{"auth": map[string]any{"token": tok}}},
			// Long-polling only, with a custom header (CORS preflight) and
			// credentialed requests (Access-Control-Allow-Credentials).
			{ID: "polling", URL: srv.URL, Opts: map[string]any{
				"auth":            map[string]any{"token": tok},
				"transports":      []string{"polling"},
				"extraHeaders":    map[string]string{"X-Notify-Test": "browser"},
				"withCredentials": true,
			}},
		},
		Frames: []string{denied.URL + "/?spec=" + deniedSpec.query(t)},
	}
	startChromium(t, chrome, allowed.URL+"/?spec="+spec.query(t), reps)

	const (
		startWait = 20 * time.Second // Chromium's start included
		stepWait  = 10 * time.Second
	)
	loaded := reps.wait(t, "page", "loaded", "", startWait)
	var page struct {
		Origin, IO string
	}
	_ = json.Unmarshal(loaded.Data, &page)
	if page.IO != "function" {
		t.Fatalf("io is %q in the page: socket.io.min.js not loaded", page.IO)
	}
	step("page loaded in chromium")

	// Both clients open over polling, connect and are greeted with their own
	// socket id. (The default client's CONNECT answer may come over polling
	// or, when the upgrade wins the race, over the WebSocket.)
	for _, id := range []string{"default", "polling"} {
		if open := reps.wait(t, id, "open", "", startWait); open.Transport != "polling" {
			t.Errorf("%s opened over %q, want polling", id, open.Transport)
		}
		conn := reps.wait(t, id, "connect", "", stepWait)
		if id == "polling" && conn.Transport != "polling" {
			t.Errorf("polling client connected over %q", conn.Transport)
		}
		var sock struct{ ID string }
		_ = json.Unmarshal(conn.Data, &sock)
		greeting := reps.wait(t, id, "event", "connected", stepWait)
		// The greeting, then the recovery offset (RECOVERY_WINDOW is on).
		var args []any
		if err := json.Unmarshal(greeting.Data, &args); err != nil || len(args) != 2 {
			t.Fatalf("%s: connected args %s", id, greeting.Data)
		}
		first, _ := args[0].(map[string]any)
		if _, ok := args[1].(string); !ok || first == nil {
			t.Fatalf("%s: connected args %s, want the greeting and an offset", id, greeting.Data)
		}
		if first["userId"] != "b1" || first["socketId"] != sock.ID || sock.ID == "" {
			t.Errorf("%s: connected %v, socket.id %q", id, first, sock.ID)
		}
	}
	if up := reps.wait(t, "default", "upgrade", "", stepWait); string(up.Data) != `{"transport":"websocket"}` {
		t.Errorf("default client upgraded: %s", up.Data)
	}
	step("connected; default client upgraded")

	// Notifications reach both, in order, intact, each over its transport.
	payloads := []string{
		`{"type":"TIP","from":{"id":"u2","name":"Ann"},"amount":12.5,"currency":"USD","gift":null,"ok":true}`,
		`{"type":"FOLLOW","message":"héllo ✓ 日本語 🎉 \"quoted\" \\ back \u2028 end","tags":["a","b"]}`,
		`{"type":"SUBSCRIPTION","blob":"` + strings.Repeat("x", 64*1024) + `"}`,
	}
	for _, p := range payloads {
		rd.Publish(t, "user:notifications:b1", p)
	}
	want := map[string]string{"default": "websocket", "polling": "polling"}
	for id, transport := range want {
		for i, p := range payloads {
			n := reps.wait(t, id, "event", "notification", stepWait)
			if n.Transport != transport {
				t.Errorf("%s: notification %d over %q, want %q", id, i, n.Transport, transport)
			}
			var args []any // the payload, then its recovery offset
			if err := json.Unmarshal(n.Data, &args); err != nil || len(args) != 2 {
				t.Fatalf("%s: notification %d args: %.200s", id, i, n.Data)
			}
			if !reflect.DeepEqual(args[0], decode(t, json.RawMessage(p))) {
				t.Errorf("%s: notification %d = %.200s, want %.200s", id, i, n.Data, p)
			}
		}
	}

	// The one notification over COMPRESSION_MIN_BYTES reached the
	// WebSocket client compressed (Chromium negotiated permessage-deflate
	// and inflated it above); the polling client got it plain.
	srv.expectMetrics(map[series]float64{ser("notify_wss_compressed_frames_total"): 1})
	step("notifications received (the large one compressed)")

	// Keep-alive: a ping every second over both transports (a missing one
	// is a server timer that did not fire: the client drops the connection
	// with "ping timeout" after PING_INTERVAL+PING_TIMEOUT), nobody drops.
	for id := range want {
		for i := 0; i < 3; i++ {
			reps.wait(t, id, "ping", "", stepWait)
		}
	}
	rd.Publish(t, "user:notifications:b1", `{"after":"pings"}`)
	for id := range want {
		n := reps.wait(t, id, "event", "notification", stepWait)
		if !strings.HasPrefix(string(n.Data), `[{"after":"pings"},"`) {
			t.Errorf("%s: after pings got %s", id, n.Data)
		}
	}

	step("pings answered")

	// The other origin is refused by the browser: the polling handshake's
	// answer names another origin.
	ce := reps.wait(t, "denied", "connect_error", "", stepWait)
	var cerr struct{ Message string }
	_ = json.Unmarshal(ce.Data, &cerr)
	if cerr.Message != "xhr poll error" {
		t.Errorf("denied origin: connect_error %s, want xhr poll error", ce.Data)
	}

	for _, bad := range []struct{ client, event string }{
		{"denied", "connect"}, {"denied", "event"},
		{"default", "disconnect"}, {"polling", "disconnect"},
		{"default", "connect_error"}, {"polling", "connect_error"},
		{"page", "page_error"},
	} {
		if r, ok := reps.find(bad.client, bad.event, ""); ok {
			t.Errorf("unexpected report %+v", r)
		}
	}
}

// pageSpec is the page's spec query parameter (see testdata/browser/page.js).
type pageSpec struct {
	Clients []pageClient `json:"clients"`
	Frames  []string     `json:"frames,omitempty"`
}

type pageClient struct {
	ID   string         `json:"id"`
	URL  string         `json:"url"`
	Opts map[string]any `json:"opts"`
}

func (s pageSpec) query(t *testing.T) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return url.QueryEscape(string(b))
}

// browserReport is one observation POSTed by the page.
type browserReport struct {
	Client    string          `json:"client"`
	Seq       int             `json:"seq"`
	Event     string          `json:"event"`
	Name      string          `json:"name"`
	Transport string          `json:"transport"`
	Data      json.RawMessage `json:"data"`
}

func (r browserReport) String() string {
	return fmt.Sprintf("%s #%d %s %s [%s] %.300s", r.Client, r.Seq, r.Event, r.Name, r.Transport, r.Data)
}

// browserReports collects the reports of every page server.
type browserReports struct {
	mu      sync.Mutex
	all     []browserReport
	used    []bool
	changed chan struct{} // closed and replaced on every add
}

func (rs *browserReports) add(r browserReport) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.all = append(rs.all, r)
	rs.used = append(rs.used, false)
	close(rs.changed)
	rs.changed = make(chan struct{})
}

// take returns and consumes the first unconsumed report that matches.
func (rs *browserReports) take(client, event, name string) (browserReport, bool, chan struct{}) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i, r := range rs.all {
		if !rs.used[i] && r.Client == client && r.Event == event && (name == "" || r.Name == name) {
			rs.used[i] = true
			return r, true, nil
		}
	}
	return browserReport{}, false, rs.changed
}

// find returns any report that matches, consumed or not.
func (rs *browserReports) find(client, event, name string) (browserReport, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.all {
		if r.Client == client && r.Event == event && (name == "" || r.Name == name) {
			return r, true
		}
	}
	return browserReport{}, false
}

// wait waits for the next matching report (name "" matches any name).
func (rs *browserReports) wait(t *testing.T, client, event, name string, timeout time.Duration) browserReport {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r, ok, changed := rs.take(client, event, name)
		if ok {
			return r
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s %s %s report within %v; reports:\n%s", client, event, name, timeout, rs.dump())
		}
	}
}

func (rs *browserReports) dump() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var b strings.Builder
	for _, r := range rs.all {
		fmt.Fprintf(&b, "  %s\n", r)
	}
	return b.String()
}

// pageServer serves the test page, socket.io-client's browser bundle and
// /report on an origin of its own.
func pageServer(t *testing.T, bundle string, reps *browserReports) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServer(http.Dir(filepath.Join("testdata", "browser"))))
	mux.HandleFunc("GET /socket.io.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, bundle)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var rep browserReport
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&rep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reps.add(rep)
		w.WriteHeader(http.StatusNoContent)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// startChromium opens pageURL in headless Chromium until the test ends.
func startChromium(t *testing.T, chrome, pageURL string, reps *browserReports) {
	t.Helper()
	profile, err := os.MkdirTemp("", "notify-wss-chromium")
	if err != nil {
		t.Fatal(err)
	}
	// Output goes to a file, not a pipe: helpers that outlive the browser
	// by a moment would otherwise hold cmd.Wait up.
	logs, err := os.CreateTemp("", "notify-wss-chromium-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chrome,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		// Without these Chromium dials out at start and the closed network
		// of CI machines refuses its connections.
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile,
		"--enable-logging=stderr", "--v=0", // console messages included
		pageURL)
	cmd.Stdout, cmd.Stderr = logs, logs
	// Own process group, so that cleanup ends the renderers too; the kernel
	// kills the browser if the test binary dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(profile)
		_ = os.Remove(logs.Name())
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		// The renderers are dead too (zombies until init reaps them, which
		// can take seconds here): nothing writes to the profile any more,
		// but a removal racing a dying process's last write is retried.
		for i := 0; os.RemoveAll(profile) != nil && i < 20; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if t.Failed() {
			out, _ := os.ReadFile(logs.Name())
			t.Logf("chromium output (tail):\n%s", tail(string(out), 8192))
			t.Logf("browser reports:\n%s", reps.dump())
		}
		_ = logs.Close()
		_ = os.Remove(logs.Name())
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

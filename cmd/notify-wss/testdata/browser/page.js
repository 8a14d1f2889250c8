// page.js is loaded by index.html in headless Chromium during
// TestBrowser (cmd/notify-wss/browser_test.go).
//
// The page's query carries spec=<JSON>:
//
//   {"clients": [{"id": "main", "url": "http://127.0.0.1:PORT", "opts": {...}}],
//    "frames":  ["http://127.0.0.1:OTHER/?spec=..."]}
//
// Every client is a real io(url, {forceNew: true, ...opts}) socket. What
// happens to it is POSTed, in order, to /report on the page's own origin as
// {client, seq, event, name, transport, data}; transport is the Engine.IO
// transport in use at that moment. Frames are iframes (other origins) that
// run the same page with their own spec.
"use strict";

let queue = Promise.resolve();
let seq = 0;

// report sends one observation; the chained promises keep the order.
function report(client, event, data, name, transport) {
  const body = JSON.stringify({ client, seq: seq++, event, name: name || "", transport: transport || "", data: data === undefined ? null : data });
  queue = queue
    .then(() => fetch("/report", { method: "POST", headers: { "Content-Type": "application/json" }, body }))
    .catch((err) => console.log("report failed: " + err));
}

window.addEventListener("error", (e) => report("page", "page_error", { message: String(e.message), source: String(e.filename), line: e.lineno }));
window.addEventListener("unhandledrejection", (e) => report("page", "page_error", { message: String(e.reason) }));

function transportOf(socket) {
  const engine = socket.io.engine;
  return engine && engine.transport ? engine.transport.name : "";
}

function describeError(err) {
  const d = err.description;
  return {
    message: String(err.message),
    type: err.type === undefined ? "" : String(err.type),
    description: d === undefined || d === null ? "" : typeof d === "object" ? String(d.message || d) : String(d),
    data: err.data === undefined ? null : err.data,
  };
}

function run(c) {
  const socket = io(c.url, Object.assign({ forceNew: true }, c.opts || {}));
  const r = (event, data, name) => report(c.id, event, data, name, transportOf(socket));
  const manager = socket.io;
  manager.on("open", () => {
    r("open", { transport: transportOf(socket) });
    manager.engine.on("upgrade", (t) => r("upgrade", { transport: t.name }));
  });
  manager.on("ping", () => r("ping", null));
  manager.on("error", (err) => r("manager_error", describeError(err)));
  manager.on("reconnect_attempt", (n) => r("reconnect_attempt", n));
  socket.on("connect", () => r("connect", { id: socket.id, recovered: socket.recovered }));
  socket.on("connect_error", (err) => r("connect_error", describeError(err)));
  socket.on("disconnect", (reason, details) => r("disconnect", { reason: String(reason), details: details ? describeError(details) : null }));
  socket.onAny((name, ...args) => r("event", args, name));
}

try {
  const spec = JSON.parse(new URLSearchParams(location.search).get("spec"));
  report("page", "loaded", { origin: location.origin, io: typeof io });
  for (const c of spec.clients || []) run(c);
  for (const src of spec.frames || []) {
    const f = document.createElement("iframe");
    f.src = src;
    document.body.appendChild(f);
  }
} catch (err) {
  report("page", "page_error", { message: String(err && err.stack || err) });
}

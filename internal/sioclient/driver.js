#!/usr/bin/env node
// driver.js runs real socket.io-client sockets on behalf of a Go test
// (see sioclient.go for the protocol and the Go side).
//
// stdin:  one JSON command per line, {"op": "connect"|"emit"|"disconnect"|
//         "close_engine"|"exit", "id": ..., ...}. A connect with
//         "client": "v2" uses socket.io-client 2.5 (Engine.IO protocol 3,
//         npm alias socket.io-client-v2) instead of 4.8.
// stdout: one JSON event per line, always with "id", "ev" and "t"
//         (Date.now()). Nothing else is ever written to stdout;
//         diagnostics go to stderr.
//
// End of stdin is treated like {"op":"exit"}, so a dying Go test never
// leaves this process behind.
"use strict";

const readline = require("node:readline");
const { io } = require("socket.io-client");

// ioV2 is socket.io-client 2.5, loaded when a test first asks for it.
let ioV2;

function clientFor(version) {
  if (version === "v2") {
    if (!ioV2) ioV2 = require("socket.io-client-v2");
    return ioV2;
  }
  return io;
}

// sockets maps a test-chosen id to its socket.io-client Socket.
const sockets = new Map();

// Events are queued and written in one batch per turn of the event loop: a
// burst of thousands of server messages costs a few write(2)s, not one each.
let pending = [];
let flushScheduled = false;

function send(ev) {
  ev.t = Date.now();
  let line;
  try {
    line = JSON.stringify(ev);
  } catch (err) {
    // Circular or BigInt payloads: report the problem instead of the data.
    line = JSON.stringify({
      id: ev.id,
      ev: "error",
      t: ev.t,
      message: `cannot encode ${ev.ev} event as JSON: ${err.message}`,
    });
  }
  pending.push(line, "\n");
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

// flush writes everything queued; done (optional) runs once it reached the pipe.
function flush(done) {
  flushScheduled = false;
  const chunk = pending.join("");
  pending = [];
  if (typeof done === "function") {
    process.stdout.write(chunk, done);
  } else if (chunk !== "") {
    process.stdout.write(chunk);
  }
}

function fail(id, message) {
  process.stderr.write(`sioclient driver: ${id ? id + ": " : ""}${message}\n`);
  send({ id: id || "", ev: "error", message });
}

function errorMessage(e) {
  if (e == null) return "";
  if (typeof e === "string") return e;
  return e.message || String(e);
}

function connect(cmd) {
  const id = cmd.id;
  const old = sockets.get(id);
  if (old && old.active) {
    fail(id, "connect: id already in use by an active socket");
    return;
  }
  // forceNew by default so every id has its own Manager and engine.
  const opts = { forceNew: true, ...(cmd.opts || {}) };
  // authTokens: ["t1", "t2", ...] makes auth a function, as apps that
  // refresh tokens write it: each (re)connection takes the next token (the
  // last one stays), and reports {ev:"auth", n} (n from 0).
  if (Array.isArray(opts.authTokens)) {
    const tokens = opts.authTokens;
    delete opts.authTokens;
    let n = 0;
    opts.auth = (cb) => {
      send({ id, ev: "auth", n });
      cb({ token: tokens[Math.min(n, tokens.length - 1)] });
      n++;
    };
  }
  const socket = clientFor(cmd.client)(cmd.url, opts);
  sockets.set(id, socket);
  const manager = socket.io;
  const v2 = cmd.client === "v2";

  socket.on("connect", () => {
    send({
      id,
      ev: "connect",
      socketId: socket.id,
      transport: manager.engine ? manager.engine.transport.name : "",
      recovered: !!socket.recovered,
    });
  });
  socket.on("connect_error", (err) => {
    send({ id, ev: "connect_error", message: errorMessage(err), data: err && err.data });
  });
  socket.on("disconnect", (reason, details) => {
    const ev = { id, ev: "disconnect", reason };
    if (details && details.description) ev.message = errorMessage(details.description);
    send(ev);
  });
  if (v2) {
    // socket.io-client 2 has no onAny: hook the packet handler. Its
    // CONNECT_ERROR is an "error" event with the server's data.
    const onevent = socket.onevent;
    socket.onevent = function (packet) {
      const [name, ...args] = packet.data || [];
      send({ id, ev: "event", name, args });
      return onevent.call(this, packet);
    };
    socket.on("error", (data) => {
      const message = typeof data === "string" ? data : errorMessage(data) || JSON.stringify(data);
      send({ id, ev: "connect_error", message, data });
    });
  } else {
    socket.onAny((name, ...args) => {
      send({ id, ev: "event", name, args });
    });
  }
  manager.on("reconnect_attempt", (n) => {
    send({ id, ev: "reconnect_attempt", n });
  });
  // The Manager builds a new engine for every (re)connection; hook each one.
  const hookEngine = () => {
    manager.engine.on("upgrade", (transport) => {
      send({ id, ev: "upgrade", transport: transport.name });
    });
  };
  manager.on("open", hookEngine);
}

function emit(cmd) {
  const socket = sockets.get(cmd.id);
  if (!socket) {
    fail(cmd.id, `emit ${cmd.event}: unknown id`);
    return;
  }
  const args = Array.isArray(cmd.args) ? cmd.args : [];
  if (cmd.ack) {
    const seq = cmd.seq;
    socket.emit(cmd.event, ...args, (...ackArgs) => {
      send({ id: cmd.id, ev: "ack", seq, args: ackArgs });
    });
  } else {
    socket.emit(cmd.event, ...args);
  }
}

function withSocket(cmd, fn) {
  const socket = sockets.get(cmd.id);
  if (!socket) {
    fail(cmd.id, `${cmd.op}: unknown id`);
    return;
  }
  fn(socket);
}

let exiting = false;

function exit() {
  if (exiting) return;
  exiting = true;
  for (const socket of sockets.values()) socket.disconnect();
  flush(() => process.exit(0));
}

function handle(line) {
  if (line.trim() === "") return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    fail("", `bad command ${JSON.stringify(line)}: ${err.message}`);
    return;
  }
  switch (cmd.op) {
    case "connect":
      connect(cmd);
      break;
    case "emit":
      emit(cmd);
      break;
    case "disconnect":
      withSocket(cmd, (s) => s.disconnect());
      break;
    case "close_engine":
      withSocket(cmd, (s) => {
        if (s.io.engine) s.io.engine.close();
      });
      break;
    case "exit":
      exit();
      break;
    default:
      fail(cmd.id, `unknown op ${JSON.stringify(cmd.op)}`);
  }
}

process.on("uncaughtException", (err) => {
  fail("", `uncaught exception: ${err && err.stack ? err.stack : err}`);
});

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  try {
    handle(line);
  } catch (err) {
    fail("", `command failed: ${err && err.stack ? err.stack : err}`);
  }
});
rl.on("close", exit);

send({ id: "", ev: "ready" });

#!/usr/bin/env node
// emitter.js publishes through the real @socket.io/redis-emitter on
// behalf of a Go test (see emitter.go for the Go side).
//
// argv[2]: the Redis address, host:port.
// stdin:  one JSON command per line:
//         {"seq", "nsp", "rooms", "except", "volatile", "compress",
//          "event", "args"}; an argument {"$buffer": [bytes]} is sent as a
//         Node Buffer (binary).
// stdout: one JSON line per command, once Redis answered the PUBLISH:
//         {"seq", "channel", "receivers"} or {"seq", "error"}.
//
// The emitter only calls publish(channel, message) on its Redis client;
// this one speaks RESP over a socket to the real redis-server, so the test
// needs no Redis client package.
"use strict";

const net = require("node:net");
const readline = require("node:readline");
const { Emitter } = require("@socket.io/redis-emitter");

const [host, port] = process.argv[2].split(":");
const sock = net.connect(Number(port), host);
const waiting = []; // reply callbacks, in command order
let buf = Buffer.alloc(0);
sock.on("data", (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  for (;;) {
    const end = buf.indexOf("\r\n");
    if (end < 0) return;
    const line = buf.subarray(0, end).toString();
    buf = buf.subarray(end + 2);
    const cb = waiting.shift();
    if (line[0] === ":") cb(null, Number(line.slice(1)));
    else cb(new Error(line));
  }
});
sock.on("error", (err) => {
  process.stderr.write(`emitter.js: redis: ${err.message}\n`);
  process.exit(1);
});

let last = null; // the last PUBLISH: channel and its reply
const client = {
  publish(channel, message) {
    const parts = [Buffer.from("PUBLISH"), Buffer.from(channel), Buffer.from(message)];
    const head = `*${parts.length}\r\n`;
    const chunks = [Buffer.from(head)];
    for (const p of parts) chunks.push(Buffer.from(`$${p.length}\r\n`), p, Buffer.from("\r\n"));
    last = {
      channel,
      reply: new Promise((resolve, reject) => waiting.push((err, n) => (err ? reject(err) : resolve(n)))),
    };
    sock.write(Buffer.concat(chunks));
  },
};
const root = new Emitter(client);

function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (Array.isArray(v.$buffer)) return Buffer.from(v.$buffer);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
}

function out(o) {
  process.stdout.write(JSON.stringify(o) + "\n");
}

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on("line", (line) => {
  chain = chain.then(async () => {
    let c;
    try {
      c = JSON.parse(line);
      let op = c.nsp && c.nsp !== "/" ? root.of(c.nsp) : root;
      if (c.rooms && c.rooms.length) op = op.to(c.rooms);
      if (c.except && c.except.length) op = op.except(c.except);
      if (c.volatile) op = op.volatile;
      if (c.compress !== undefined) op = op.compress(c.compress);
      last = null;
      op.emit(c.event, ...revive(c.args || []));
      const receivers = await last.reply;
      out({ seq: c.seq, channel: last.channel, receivers });
    } catch (err) {
      out({ seq: c && c.seq, error: err.message });
    }
  });
});
rl.on("close", () => chain.then(() => sock.end()));

#!/usr/bin/env node
// clients.js adds what the Go load generator does not do to the preview's
// bench run, with the real socket.io-client (internal/sioclient's
// node_modules, via NODE_PATH):
//
//   - POLLING clients that stay on HTTP long-polling (transports:
//     ["polling"]) and join the global room, for `hold` seconds;
//   - a connection with a wrongly signed token every `badEvery` seconds
//     from `badFrom` to `badTo` seconds, each refused with connect_error
//     (the dashboard's auth failures).
//
// Usage: node clients.js URL SECRET POLLING HOLD BAD_FROM BAD_TO BAD_EVERY
"use strict";

const crypto = require("node:crypto");
const { io } = require("socket.io-client");

const [url, secret, polling, hold, badFrom, badTo, badEvery] = process.argv.slice(2);

// jwt signs HS256 claims as the server expects them.
function jwt(claims, key) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64(claims);
  return body + "." + crypto.createHmac("sha256", key).update(body).digest("base64url");
}

const exp = Math.floor(Date.now() / 1000) + 3600;
const sockets = [];
let connected = 0;
let refused = 0;

for (let i = 0; i < Number(polling); i++) {
  const token = jwt({ userId: `poll-${i}`, displayName: `poll ${i}`, exp }, secret);
  const s = io(url, { auth: { token }, transports: ["polling"], forceNew: true, reconnection: false });
  s.on("connect", () => {
    connected++;
    s.emit("join-global-notifications");
  });
  s.on("connect_error", (e) => process.stderr.write(`clients.js: polling ${i}: ${e.message}\n`));
  sockets.push(s);
}

function badConnect() {
  const token = jwt({ userId: "intruder", exp }, secret + "-wrong");
  const s = io(url, { auth: { token }, forceNew: true, reconnection: false });
  s.on("connect_error", () => {
    refused++;
    s.close();
  });
  s.on("connect", () => {
    process.stderr.write("clients.js: a wrongly signed token was accepted\n");
    s.close();
  });
}

let timer;
setTimeout(() => {
  badConnect();
  timer = setInterval(badConnect, Number(badEvery) * 1000);
}, Number(badFrom) * 1000);
setTimeout(() => clearInterval(timer), Number(badTo) * 1000);

setTimeout(() => {
  for (const s of sockets) s.close();
  process.stderr.write(`clients.js: ${connected} polling clients connected, ${refused} bad tokens refused\n`);
  setTimeout(() => process.exit(0), 500);
}, Number(hold) * 1000);

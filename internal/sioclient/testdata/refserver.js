// refserver.js is a tiny reference socket.io 4.8 server (the real Node
// implementation, from devDependencies) for the sioclient self-test.
//
// Usage: node refserver.js PORT   (0 picks a free port)
// Prints {"port":N} on stdout once listening; exits when stdin closes.
//
// Behaviour:
//   - allowEIO3: socket.io-client 2 connects too;
//   - auth.token "bad" (or, for v2 clients, which have no auth, the query's
//     token) is rejected by middleware: Error("Authentication failed")
//     with data {"code":"bad_token"};
//   - on connection emits "connected" {id};
//   - "echo" (...args, ack) acks with the same args;
//   - "burst" (n) emits "tick" 0..n-1 to the sender;
//   - a query parameter delayUpgradeMs=N holds WebSocket upgrade requests for
//     N ms, so a default-transports client surely connects over polling
//     before it upgrades (without it the upgrade often wins on loopback).
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { allowEIO3: true });

// Wrap engine.io's "upgrade" listeners to honour delayUpgradeMs.
const upgradeListeners = httpServer.listeners("upgrade");
httpServer.removeAllListeners("upgrade");
httpServer.on("upgrade", (req, socket, head) => {
  const delay = Number(new URL(req.url, "http://x").searchParams.get("delayUpgradeMs")) || 0;
  setTimeout(() => {
    for (const fn of upgradeListeners) fn.call(httpServer, req, socket, head);
  }, delay);
});

io.use((socket, next) => {
  const token = (socket.handshake.auth && socket.handshake.auth.token) || socket.handshake.query.token;
  if (token === "bad") {
    const err = new Error("Authentication failed");
    err.data = { code: "bad_token" };
    next(err);
    return;
  }
  next();
});

io.on("connection", (socket) => {
  socket.emit("connected", { id: socket.id });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("burst", (n) => {
    for (let i = 0; i < n; i++) socket.emit("tick", i);
  });
});

httpServer.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

process.stdin.resume();
process.stdin.on("end", () => process.exit(0));

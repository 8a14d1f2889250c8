#!/usr/bin/env node
// gen-emitter.js regenerates emitter.jsonl: what the real
// @socket.io/redis-emitter publishes for a set of emits, captured by a
// stand-in Redis client, one JSON line per message:
// {"name", "channel", "msg" (hex), "node"}, where node is the packet a
// Node socket.io server (redis-adapter) would write for it:
// "42" + JSON.stringify(data) of the decoded packet (notepack.io, the
// emitter's own codec). The refusals expected live in emitter_test.go. Run from the repository root:
//   node bridge/testdata/gen-emitter.js > bridge/testdata/emitter.jsonl
"use strict";
const path = require("node:path");
const modules = path.join(__dirname, "../../internal/sioclient/node_modules");
const { Emitter } = require(path.join(modules, "@socket.io/redis-emitter"));
const notepack = require(path.join(modules, "notepack.io"));

let current = "";
const client = {
  publish(channel, msg) {
    const [, packet, opts] = notepack.decode(msg);
    const node = "4" + packet.type + JSON.stringify(packet.data);
    process.stdout.write(JSON.stringify({ name: current, channel, msg: Buffer.from(msg).toString("hex"), node, rooms: opts.rooms, except: opts.except }) + "\n");
  },
};
const io = new Emitter(client);
const cases = {
  "to user": () => io.to("user-notifications:42").emit("notification", { type: "TIP", amount: 5, message: "thanks!" }),
  "to rooms except": () => io.to(["user-notifications:a", "channel-notifications:c1"]).except("user-notifications:b").emit("notification", { n: 1 }),
  "broadcast": () => io.emit("maintenance", "at 02:00", 3),
  "numbers": () => io.emit("nums", 0, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, 9007199254740991, -9007199254740991, 0.5, -1.25, 1e21, 1e-7, 123.456, 5e-324, 1.7976931348623157e308, -0, NaN, Infinity),
  "strings": () => io.emit("strs", "", "a\"b\\c", "line\nbreak\ttab\u0001\u001f", "héllo wörld ✓ 😀", "\u2028\u2029", "x".repeat(40), "y".repeat(300)),
  "nested": () => io.to("global-notifications").emit("notification", { a: [1, [2, [3, { b: null, c: true, d: false }]]], e: {}, f: [], u: undefined, arr: [undefined, null] }),
  "date": () => io.emit("when", new Date(Date.UTC(2024, 1, 29, 13, 14, 15, 678)), new Date(0), new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999))),
  "volatile compress": () => io.volatile.compress(true).to("user-notifications:7").emit("notification", 1),
  "binary": () => io.to("user-notifications:42").emit("notification", Buffer.from([1, 2, 3])),
  "binary nested": () => io.emit("file", { name: "x", data: new Uint8Array([1, 2]) }),
  "namespace": () => io.of("/admin").emit("notification", { n: 1 }),
  "namespace room": () => io.of("/admin").to("user-notifications:42").emit("notification", { n: 1 }),
  "foreign room": () => io.to("some-room").emit("notification", 1),
  "socket id room": () => io.to("Xf3sk2jd8sS0AAAB").emit("notification", 1),
  "except only": () => io.except("user-notifications:1").emit("notification", 2),
  "many keys": () => io.emit("big", Object.fromEntries(Array.from({ length: 20 }, (_, i) => ["k" + i, i]))),
};
for (const [name, fn] of Object.entries(cases)) {
  current = name;
  fn();
}

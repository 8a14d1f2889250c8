// Decodes Socket.IO packets with the real socket.io-parser 4.2.7 and prints one JSON verdict per line, for
// decode_oracle_test.go. The packets are every Socket.IO message of trace_payloads.txt, then packets generated
// from a grammar of normal and odd parts. Regenerate (needs Node and npm; the Go tests need neither):
//
//   mkdir /tmp/oracle && (cd /tmp/oracle && npm install socket.io-parser@4.2.7)
//   cd eio/testdata && NODE_PATH=/tmp/oracle/node_modules node socketio_parser_oracle.js > socketio_parser_verdicts.jsonl
const fs = require("fs");
const { Decoder } = require("socket.io-parser");

let seed = 20261125;
function rnd(n) { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
}
function pick(a) { return a[rnd(a.length)]; }

// [text, quirk]: quirk marks parts that only Node's loose Number() or leading-space handling accepts.
const types = [["0"], ["1"], ["2"], ["3"], ["4"], ["5"], ["6"], ["2"], ["2"], ["3"], ["7"], ["9"], ["a"], [" ", true], ["/"], [""]];
const atts = [[""], ["1"], ["2"], ["10"], ["11"], ["0"], ["01", true], ["1e0", true], [" 1", true], ["0x1", true], ["-1"], ["a"], ["100"]];
const dashes = [[""], ["-"], ["-"], ["-"]];
const nsps = [[""], [""], ["/"], ["/admin"], ["/a/b"], ["/a,b"], ["admin"], ["/é"]];
const commas = [[""], [","], [","], [","]];
const ids = [[""], [""], ["0"], ["7"], ["007"], ["123"], ["9007199254740991"], ["9007199254740992"], ["99999999999999999999"], [" 1", true], ["1 ", true], ["\t", true]];
const datas = [[""], [""], ["{}"], ['{"token":"x"}'], ["[]"], ['["a"]'], ['["connect"]'], ['["conn\\u0065ct"]'], ['["connected"]'],
  ["[1]"], ["[-1.5e3]"], ["[null]"], ["[true]"], ["[{}]"], ["[[]]"], ['"str"'], ["1"], ["null"], ["false"],
  ['["a",{"_placeholder":true,"num":0}]'], [' ["a"]', true], [' {}', true], ['["a"] '], ["["], ["x"], ['-["a"]'], ['["a"]x'],
  ['["\\ud83d"]'], ['["newListener",1]'], ['["removeListener"]'], ['[ "disconnect" ]'], ['{"a":1'], ['[1,]'], ['"\\u0000"'],
  ['["é✓"]'], ['{"message":"Invalid namespace"}'], ['["a"]["b"]'], ["\n[1]", true]];

const out = [];
const seen = new Set();
function verdict(str, quirk) {
  if (seen.has(str)) return;
  seen.add(str);
  const d = new Decoder();
  let packet = null, err = null;
  d.on("decoded", (p) => { packet = p; });
  try { d.add(str); } catch (e) { err = e.message; }
  let binary = false;
  if (err === null && packet === null && d.reconstructor) {
    // A binary packet waits for its attachments; the decoder has already renamed its type to EVENT or ACK.
    packet = d.reconstructor.reconPack;
    binary = true;
  }
  const v = { in: str, quirk: !!quirk };
  if (err !== null || packet == null) {
    v.ok = false; v.err = err || "no packet";
  } else {
    v.ok = true; v.type = binary ? (packet.type === 2 ? 5 : 6) : packet.type; v.nsp = packet.nsp;
    v.id = packet.id === undefined ? -1 : packet.id;
    v.att = packet.attachments || 0;
    v.data = packet.data === undefined ? null : JSON.stringify(packet.data);
  }
  out.push(JSON.stringify(v));
}

// Every Socket.IO packet of the traces, without the Engine.IO "4", "\x1e" splitting polling bodies.
const tracePackets = [];
for (const line of fs.readFileSync(__dirname + "/trace_payloads.txt", "utf8").split("\n")) {
  const f = line.split("\t");
  if (f.length !== 5 || f[4] === "-" || /^(hex|close):/.test(f[4])) continue;
  for (const pkt of f[4].split("\\x1e")) {
    if (pkt[0] !== "4") continue;
    tracePackets.push(pkt.slice(1));
    verdict(pkt.slice(1), false);
  }
}

for (let n = 0; n < 2500; n++) {
  const parts = [pick(types), pick(atts), pick(dashes), pick(nsps), pick(commas), pick(ids), pick(datas)];
  // Most packets keep the attachment part only for binary types, as real ones do.
  if (!["5", "6"].includes(parts[0][0]) && rnd(4) != 0) { parts[1] = [""]; parts[2] = [""]; }
  if (parts[3][0] === "") parts[4] = [""];
  let str = parts.map((p) => p[0]).join("");
  let quirk = parts.some((p) => p[1]);
  // Some single-byte mutations.
  if (rnd(8) == 0 && str.length > 0) {
    const i = rnd(str.length);
    const c = pick(["", " ", ",", "-", "/", "0", "9", "[", "]", "{", '"', "\\", "x"]);
    str = str.slice(0, i) + c + str.slice(i + 1);
    quirk = true; // anything may happen; only "Go accepts what Node rejects" is checked strictly
  }
  verdict(str, quirk);
}
// Well-formed packets: each type with data of a shape it allows (or one it does not), in every layout.
const shaped = {
  0: ["", "{}", '{"token":"secret-token"}', '{"pid":"x","offset":"Q8KIoNB"}', "[]"],
  1: ["", "{}"],
  2: ['["a"]', '["notification",{"id":1},"Q8KIoIN"]', "[0]", '["caf\\u00e9"]', '["connect"]', "[]"],
  3: ["[]", '[{"size":4}]', '["pong!"]', "{}"],
  4: ['{"message":"Authentication failed"}', '"Authentication failed"', "[]"],
  5: ['["binary-data",{"_placeholder":true,"num":0}]', '["disconnecting"]', '[{"_placeholder":true,"num":0}]'],
  6: ['[{"_placeholder":true,"num":0}]', "[]", '"x"'],
};
for (let n = 0; n < 1500; n++) {
  const type = rnd(7);
  let str = String(type);
  if (type >= 5) str += pick(["1", "2", "3", "10"]) + "-";
  str += pick(["", "", "/admin,", "/a/b,", "/,"]);
  str += pick(["", "", "0", "1", "42", "4294967296"]);
  str += pick(shaped[type]);
  verdict(str, false);
}

// Every proper prefix of every trace packet, cut between code points (TestDecodeSIOEveryPrefix). The empty
// one is a quirk: Node's Number("") is 0, so it reads an empty packet as a CONNECT.
for (const pkt of tracePackets) {
  const cps = Array.from(pkt);
  for (let i = 0; i < cps.length; i++) verdict(cps.slice(0, i).join(""), i === 0);
}

process.stdout.write("# socket.io-parser 4.2.7 verdicts made by socketio_parser_oracle.js; do not edit by hand\n");
process.stdout.write(out.join("\n") + "\n");

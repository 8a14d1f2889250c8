#!/usr/bin/env python3
"""Cut the Engine.IO / Socket.IO payloads out of the protocol traces into trace_payloads.txt.

Run from the repository root when the traces change:

    python3 eio/testdata/cut_traces.py ../shared/protocol/traces > eio/testdata/trace_payloads.txt

(or with the absolute path /work/shared/protocol/traces). The tests only read the generated file; they never
read the traces themselves.

Output: one line per WebSocket frame or polling body, five tab-separated fields:

    source    a§1 = trace file letter + section
    dir       C->S or S->C
    carrier   poll (an HTTP body), or the WebSocket frame as <opcode>,fin=<0|1>,<masked|unmasked>,len=<n>
    labels    the proxy's own decoding of each packet ("eio message -> sio EVENT"), joined by " | "
    payload   as printed in the trace: text with control bytes as \\xNN, "hex:<hex>" for binary frames,
              "close:<code>" for close frames (close: alone = empty payload), "-" when the trace truncated it
"""
import os
import re
import sys

TRACES = "abcdeghij"  # k is EIO3 framing, f only repeats packets of a with CORS headers

section_re = re.compile(r"^==== (\S+)\. ")
http_re = re.compile(r"^\[\+[0-9.]+s\] #\d+ (C->S|S->C) HTTP (request|response)")
ws_re = re.compile(r"^\[\+[0-9.]+s\] #\d+ (C->S|S->C) WS (text|binary|close) frame \[fin=(\d) (masked|unmasked) len=(\d+)\]")
body_re = re.compile(r"^\s+(?:body|payload) \((\d+) bytes(?:, binary)?\): (.*)$")
hex_re = re.compile(r"^\s+payload \((\d+) bytes, binary\) hex: (.*)$")
close_re = re.compile(r"^\s+close (?:code=(\d+) reason=\"(.*)\"|frame with no status code \(empty payload\))")


def wire_len(payload):
    """Length in bytes of a payload printed with \\xNN escapes."""
    return len(re.sub(r"\\x[0-9a-f]{2}", "_", payload).encode("utf-8"))


def main(tracedir):
    names = sorted(n for n in os.listdir(tracedir) if n.endswith(".txt") and n[0] in TRACES)
    print("# Cut from ../shared/protocol/traces by cut_traces.py; see that script for the format. Do not edit by hand.")
    for name in names:
        letter = name[0]
        lines = open(os.path.join(tracedir, name), encoding="utf-8").read().split("\n")
        print("# " + name)
        section = "0"
        direction, carrier = None, None
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            m = section_re.match(line)
            if m:
                section = m.group(1)
                continue
            m = http_re.match(line)
            if m:
                direction, carrier = m.group(1), "poll"
                continue
            m = ws_re.match(line)
            if m:
                direction = m.group(1)
                carrier = "%s,fin=%s,%s,len=%s" % (m.group(2), m.group(3), m.group(4), m.group(5))
                if m.group(2) == "close":
                    c = close_re.match(lines[i])
                    if c:
                        payload = "close:" + (c.group(1) or "")
                        print("%s§%s\t%s\t%s\t%s\t%s" % (letter, section, direction, carrier, "ws close", payload))
                continue
            m = hex_re.match(line)
            if m:
                payload = "hex:" + m.group(2).replace(" ", "")
                print("%s§%s\t%s\t%s\t%s\t%s" % (letter, section, direction, carrier, "binary frame", payload))
                continue
            m = body_re.match(line)
            if not m or carrier is None:
                continue
            payload = m.group(2)
            # Skip the proxy's side notes to reach its decoding ("= ..."); bodies without one are not Engine.IO.
            j = i
            while j < len(lines) and (lines[j].strip().startswith("control bytes") or lines[j].strip().startswith("(")):
                j += 1
            if j >= len(lines) or not lines[j].strip().startswith("= "):
                if carrier.startswith("text,"):
                    # The proxy does not decode frames it truncated (e §14: 1000002 bytes); keep the header.
                    print("%s§%s\t%s\t%s\t%s\t%s" % (letter, section, direction, carrier, "not decoded", "-"))
                continue
            head = lines[j].strip()[2:]
            labels, packets = [], []
            if re.match(r"\d+ Engine\.IO packet", head):
                n = int(head.split()[0])
                for k in range(j + 1, j + 1 + n):
                    packet, label = lines[k].strip().rsplit("<- ", 1)
                    packets.append(packet.strip())
                    labels.append(re.sub(r" \+ \d+ bytes of data", "", label.strip()))
            else:
                labels.append(re.sub(r" \+ \d+ bytes of data", "", head))
            if "[truncated" in payload and packets:
                # The proxy shortens long bodies for display but lists every packet in full.
                payload = "\\x1e".join(packets)
            if wire_len(payload) != int(m.group(1)):
                payload = "-"
            print("%s§%s\t%s\t%s\t%s\t%s" % (letter, section, direction, carrier, " | ".join(labels), payload))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/protocol/traces")

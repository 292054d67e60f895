#!/usr/bin/env python3
"""Builds the seed corpora for the fuzz targets from the Go captures in
memberlist/tests/data. Each target's input starts with selector bytes (see the targets),
so every capture is written once per relevant configuration."""
import glob
import os

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "memberlist", "tests", "data")


def captures():
    for path in sorted(glob.glob(os.path.join(data, "captures", "*.hex"))):
        udp, enc, hexs = False, False, []
        for line in open(path):
            if line.startswith("# transport:"):
                udp = "UDP" in line
            elif line.startswith("# key:"):
                enc = True
            elif not line.startswith("#"):
                hexs.append(line.strip())
        yield os.path.basename(path)[:-4], udp, enc, bytes.fromhex("".join(hexs))
    for path in sorted(glob.glob(os.path.join(data, "v022", "*.txt"))):
        lines = open(path).read().splitlines()
        enc = "encrypted" in path
        for i, line in enumerate(lines):
            if line.startswith(("UDP ", "STREAM-WRITE ")) and i + 1 < len(lines):
                name = f"{os.path.basename(path)[:-4]}_{i}"
                yield name, line.startswith("UDP"), enc, bytes.fromhex(lines[i + 1].strip())


def write(target, name, blob):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)


for name, udp, enc, blob in captures():
    selector = 1 if enc else 0
    if udp:
        write("packet", name, bytes([selector]) + blob)
        if enc:
            write("decrypt", name, bytes([0]) + blob)
        if not enc:
            # machine: [op=datagram][from][len16][payload], then a time step.
            write("machine", name, bytes([0, 1]) + len(blob).to_bytes(2, "big") + blob + bytes([3, 20, 0, 0]))
    else:
        write("stream", name, bytes([selector, 64]) + blob)
        if not enc:
            write("machine", name, bytes([2, 2]) + len(blob).to_bytes(2, "big") + blob + bytes([3, 40, 0, 0]))
        if enc:
            write("decrypt", name, bytes([5]) + blob)
    # LZW payloads: the Buf of every compress message is a good decompress seed.
    idx = blob.find(b"\xa3Buf")
    if idx >= 0 and not enc:
        rest = blob[idx + 4:]
        if rest[0] == 0xDA:
            n = int.from_bytes(rest[1:3], "big")
            write("decompress", name, b"\x00" + rest[3:3 + n])
        elif 0xA0 <= rest[0] <= 0xBF:
            n = rest[0] & 0x1F
            write("decompress", name, b"\x00" + rest[1:1 + n])
print("seed corpora written to", os.path.join(here, "corpus"))

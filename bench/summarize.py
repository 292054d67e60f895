#!/usr/bin/env python3
"""Prints the tables of BENCHMARKS.md (issue 8) from bench/results/*.json (bench/run_all.sh),
or from a subdirectory of it: `bench/summarize.py round4`."""
import json
import os
import sys

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", *sys.argv[1:2])


def load(name):
    try:
        with open(os.path.join(here, name + ".json")) as f:
            return json.load(f)["summary"]
    except (OSError, ValueError, KeyError):
        return None


def fmt(s, key, digits):
    if s is None or key not in s:
        return "—"
    v = s[key]
    return f"{v['median']:,.{digits}f} [{v['min']:,.{digits}f} – {v['max']:,.{digits}f}]"


FIELDS = [
    ("join (all see N alive), s", "join_s", 2),
    ("CPU per node-second, ms", "cpu_ms_per_node_s", 3),
    ("CPU of all nodes, % of one core", "cpu_pct_of_core", 1),
    ("bytes sent per node per second (window)", "bytes_per_node_s", 0),
    ("bytes sent per node per second at the nominal push/pull rate", "bytes_per_node_s_nominal", 0),
    ("bytes of one push/pull exchange (both ways)", "stream_bytes_per_dial", 0),
    ("peak RSS per node, KiB", "rss_kib_per_node", 0),
    ("crash → all survivors see dead, s", "crash_to_dead_s", 2),
    ("streams dialled per node per minute", "dials_per_node_min", 2),
]

print("## in-process Rust")
sizes = [100, 500, 1000]
print("| | " + " | ".join(f"N = {n:,}" for n in sizes) + " |")
print("|---|" + "---|" * len(sizes))
runs = [load(f"rust-{n}") for n in sizes]
print("| runs | " + " | ".join(str(r["runs"]) if r else "—" for r in runs) + " |")
for label, key, d in FIELDS:
    print(f"| {label} | " + " | ".join(fmt(r, key, d) for r in runs) + " |")

print("\n## side by side")
for n in [10, 50, 100]:
    go, rs = load(f"go-{n}"), load(f"rust-procs-{n}")
    print(f"\n### N = {n}\n")
    print("| | Rust (one process per node) | Go (one process per node) | Rust / Go |")
    print("|---|---|---|---|")
    for label, key, d in FIELDS:
        ratio = "—"
        if go and rs and key in go and key in rs and go[key]["median"]:
            ratio = f"{rs[key]['median'] / go[key]['median']:.2f}x"
        print(f"| {label} | {fmt(rs, key, d)} | {fmt(go, key, d)} | {ratio} |")
sys.exit(0)

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# tools/figures-report.py FIGURES.jsonl OUTDIR [PART...]: the figures the
# parts of `make bench` before the side-by-side run printed (mxg-bench
# admission and conns, mirror-bench.sh, lookup-bench.sh, the kernel
# matrix, newsrc-bench.sh, postfix-bench.sh, tuner-bench.sh and
# incident.sh), collected as
# JSON lines in FIGURES.jsonl (see tools/bench-lib.sh and mxg-bench's
# figure()), written to OUTDIR/figures.json and OUTDIR/figures.md: one row
# each with its value, its target (those of docs/design.md, "Numbers") and
# whether the value meets it. PART... names the parts that ran, for the
# header. Called by tools/bench.sh; nothing is asserted.
import json
import os
import sys

from bench_meta import host_meta


PART_TITLES = {
    "admission": "Admission program (BPF_PROG_TEST_RUN, ns above an XDP_PASS program) and map memory",
    "conns": "Connection counter (a listener on loopback, without and with it)",
    "mirror": "Recipient mirror (tools/mirror-bench.sh: slapd with syncprov, mxguardd with syncrepl)",
    "lookup": "Recipient lookups for the MTA (tools/lookup-bench.sh)",
    "failover": "The mirror's directory server killed under a lookup load, the replica taking over (tools/failover-bench.sh)",
    "kernels": "Verified instructions per program on each kernel of the matrix (make test-kernels' probe boot), against the verifier's limit",
    "newsrc": "A new source during a spoofed SYN flood, beside a known one (tools/newsrc-bench.sh)",
    "postfix": "Postfix's throughput without and with the guard (tools/postfix-bench.sh: smtp-source, socketmap, observe)",
    "metrics": "One scrape of mxguardd's /metrics at 0 and 1,000,000 sources, beside mxguardctl -j status, which walks the source map (tools/metrics-bench.sh)",
    "fleet": "The fleet: a ban from one guard to the first dropped SYN on the other, through a real slapd with syncrepl (tools/fleet-bench.sh)",
    "tuner": "The tuner: reaction to a slow directory (tools/tuner-bench.sh), and the 2013 incident without the guard beside the tuner alone (tools/incident.sh)",
}


def met(value, target):
    """True/False when the value meets "OP NUMBER"; None when there is no
    target or no value."""
    if target is None or value is None:
        return None
    op, _, num = target.partition(" ")
    goal = float(num)
    return {"<=": value <= goal, "<": value < goal, ">=": value >= goal,
            ">": value > goal, "==": value == goal}[op]


def fmt(v):
    if v is None:
        return "-"
    if v == int(v):
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}".rstrip("0").rstrip(".")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: figures-report.py FIGURES.jsonl OUTDIR [PART...]")
    path, outdir, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
    figures = []
    with open(path) as f:
        for line in f:
            if line.strip():
                x = json.loads(line)
                x["met"] = met(x["value"], x["target"])
                figures.append(x)
    meta = {
        **host_meta(),
        "parts": parts or sorted({x["part"] for x in figures}),
    }
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "figures.json"), "w") as f:
        json.dump({"meta": meta, "figures": figures}, f, indent=1)
        f.write("\n")

    judged = [x for x in figures if x["met"] is not None]
    md = ["# mxguard's figures from `make bench`", "",
          "Written by `make bench` (tools/bench.sh, tools/figures-report.py); do not edit by hand.",
          "The side-by-side run beside iptables and nftables is in [compare.md](compare.md).", "",
          f"- {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs ({meta['cpu_model']})",
          f"- parts run: {', '.join(meta['parts'])}",
          f"- targets met: {sum(1 for x in judged if x['met'])} of {len(judged)} "
          "(the targets of docs/design.md, \"Numbers\"; figures without one are reported only)", ""]
    for part in [p for p in PART_TITLES if any(x["part"] == p for x in figures)] + \
            sorted({x["part"] for x in figures} - set(PART_TITLES)):
        md += [f"## {PART_TITLES.get(part, part)}", "",
               "| figure | value | target | met |", "|---|---|---|---|"]
        for x in figures:
            if x["part"] != part:
                continue
            unit = x["unit"]
            value = fmt(x["value"]) + ("" if x["value"] is None or unit == "ratio" else f" {unit}")
            if unit == "ratio" and x["value"] is not None:
                value += "x"
            target = "-" if x["target"] is None else (
                x["target"] + ("x" if unit == "ratio" else f" {unit}"))
            ok = {True: "yes", False: "**no**", None: "-"}[x["met"]]
            md.append(f"| {x['figure']} | {value} | {target} | {ok} |")
        md.append("")
    with open(os.path.join(outdir, "figures.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()

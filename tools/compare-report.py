# SPDX-License-Identifier: BSD-2-Clause
#
# The report of tools/compare-bench.sh: turns its raw cells (one JSON line
# each: counter deltas of CPU 1, the generator's and the legitimate
# client's own JSON, mxguard's stats) into figures, ratios and the targets
# of issue 6; prints the table and writes compare.json, compare.md and the
# gnuplot script and data for compare.png into OUTDIR.
#
# Usage: compare-report.py CELLS.jsonl OUTDIR CLK_TCK SECS LEGIT_MS RATE BURST CONNS FLOOD_PPS
import json
import os
import sys

from bench_meta import host_meta


LABELS = {
    "none": "no filter",
    "raw": "ip6tables raw drop",
    "hashlimit": "ip6tables hashlimit+connlimit",
    "nft": "nft meter+ct count",
    "xdp": "mxguard XDP",
    "tc": "mxguard TC",
    "xdp-deny": "mxguard XDP, deny prefix",
}
# Shorter names for the plot's axis.
SHORT = {
    "none": "none", "raw": "ipt raw", "hashlimit": "ipt hashlimit", "nft": "nft meter",
    "xdp": "mxg XDP", "tc": "mxg TC", "xdp-deny": "mxg XDP deny",
}
# What mxguard XDP (rate limits) is compared with; xdp-deny is the
# like-for-like of raw (both drop a known prefix).
ALTERNATIVES = ["none", "raw", "hashlimit", "nft", "tc"]


def figures(c, clk):
    secs = c["seconds"] or 1e-9
    processed = c["processed"]
    ns = c["softirq_ticks"] * 1e9 / clk / processed if processed else None
    legit = c["legit"] or {}
    flood = c["flood"] or {}
    drops = None
    st = c.get("mxguard_stats")
    if isinstance(st, dict):
        drops = st.get("classes", {}).get("smtp", {}).get("dropped")
    return {
        "filter": c["filter"],
        "label": LABELS.get(c["filter"], c["filter"]),
        "sources": c["sources"],
        # The generator's own rate (frames it handed to the veth, refused
        # ones included): the load offered to CPU 1.
        "offered_pps": flood.get("pps"),
        # The sender veth's counters in the window (sent + dropped); they
        # fell short of the generator's count in some cells on this VM, so
        # they are kept for the record, not used.
        "sender_tx_pps": c.get("tx_frames", 0) / secs,
        "pps": processed / secs,
        "backlog_dropped_pps": c["backlog_dropped"] / secs,
        "softirq_ns_per_pkt": ns,
        "cpu1_softirq_pct": c["softirq_ticks"] / clk / secs * 100,
        "cpu1_busy_pct": c["busy_ticks"] / clk / secs * 100,
        # What CPU 1 could process if it did nothing else at this cost.
        "capacity_pps": 1e9 / ns if ns else None,
        "reached_tcp_pct": c["tcp_in_segs"] / processed * 100 if processed else None,
        "legit_attempts": legit.get("attempts"),
        "legit_success": legit.get("success"),
        "legit_p50_ms": legit.get("p50_ms"),
        "legit_p99_ms": legit.get("p99_ms"),
        "legit_max_ms": legit.get("max_ms"),
        "mxguard_dropped": drops,
        "seconds": secs,
    }


def fmt(v, spec="{:.0f}", none="-"):
    return none if v is None else spec.format(v)


def ratio(a, b):
    return a / b if a is not None and b else None


def main():
    cells_path, outdir, clk, secs, legit_ms, rate, burst, conns, flood_pps = sys.argv[1:10]
    new_sources, new_burst, legit_srcs = sys.argv[10:13]
    clk = int(clk)
    with open(cells_path) as f:
        cells = [figures(json.loads(line), clk) for line in f if line.strip()]
    base = next((c for c in cells if c["sources"] == 0), None)
    counts = sorted({c["sources"] for c in cells if c["sources"] > 0})
    by = {(c["sources"], c["filter"]): c for c in cells}

    ratios, targets = [], []
    for n in counts:
        x = by.get((n, "xdp"))
        if not x:
            continue
        for alt in ALTERNATIVES + ["xdp-deny"]:
            o = by.get((n, alt))
            if not o or alt == "xdp":
                continue
            ratios.append({
                "sources": n, "vs": alt,
                "pps_ratio": ratio(x["pps"], o["pps"]),
                # > 1: mxguard XDP spends less softirq time per packet.
                "cost_ratio": ratio(o["softirq_ns_per_pkt"], x["softirq_ns_per_pkt"]),
                "capacity_ratio": ratio(x["capacity_pps"], o["capacity_pps"]),
            })
    rget = {(r["sources"], r["vs"]): r for r in ratios}

    def target(name, value, goal, ok):
        # Judged at the precision printed: 0.998x is "1.00x" and meets >= 1.0x.
        targets.append({"target": name, "value": value, "goal": goal,
                        "met": None if value is None else ok(round(value, 2))})

    if 1000000 in counts:
        r = rget.get((1000000, "hashlimit"))
        target("pps vs ip6tables hashlimit+conntrack, 1M sources",
               r and r["pps_ratio"], ">= 2.5x", lambda v: v >= 2.5)
    for n in counts:
        r = rget.get((n, "raw"))
        target(f"pps vs ip6tables raw drop, {n} sources",
               r and r["pps_ratio"], ">= 1.0x", lambda v: v >= 1.0)
    for n in counts:
        for f in ("xdp", "xdp-deny"):
            x = by.get((n, f))
            if not x:
                continue
            target(f"legit success under flood, {LABELS[f]}, {n} sources",
                   x["legit_success"], ">= 99%", lambda v: v >= 0.99)
            if base and base["legit_p99_ms"]:
                target(f"legit p99 / no-flood p99, {LABELS[f]}, {n} sources",
                       ratio(x["legit_p99_ms"], base["legit_p99_ms"]), "<= 2x",
                       lambda v: v <= 2.0)
    # raw's like-for-like: mxguard dropping the same known prefix.
    for n in counts:
        x, o = by.get((n, "xdp-deny")), by.get((n, "raw"))
        if x and o:
            target(f"pps, mxguard XDP deny prefix vs ip6tables raw drop, {n} sources",
                   ratio(x["pps"], o["pps"]), ">= 1.0x", lambda v: v >= 1.0)

    meta = {
        **host_meta(),
        "window_s": float(secs),
        "flood": "tools/synflood: IPv6 SYNs with an MSS option (78-byte frames), AF_PACKET on "
                 "the sender veth pinned to CPU 0, "
                 + (f"{int(flood_pps):,} per second" if int(flood_pps) else "as fast as it goes")
                 + "; one /64 per source",
        "flood_pps": int(flood_pps),
        "legit": f"tools/legit: one connect every {legit_ms} ms from 8 /64s, timeout 3 s, "
                 "SCHED_FIFO on CPU 0",
        "limits": f"{rate}/s per source, burst {burst}, {conns} connections per /64, "
                  "tables sized for 1,048,576 sources",
        "mxguard_new_sources": f"mxguard cells also: new_sources = {new_sources}/s, "
                               f"new_sources_burst = {new_burst} (smtp's default, divided among the "
                               "possible CPUs: the flood, steered to CPU 1, meets that CPU's "
                               "share), which the other filters have no equivalent of",
        "warm_up": f"every cell, every filter: each of the legitimate client's {legit_srcs} "
                   "sources connects once before the flood begins (a mail host's "
                   "legitimate senders are overwhelmingly repeat senders); a brand-new "
                   "legitimate source during a spoofed flood past mxguard's new-source "
                   "limit waits for a token (its TCP retransmits the SYN), which this "
                   "bench does not measure",
        "receiver": "veth with rps_cpus = CPU 1; figures are CPU 1's (/proc/net/softnet_stat "
                    "processed, /proc/stat softirq)",
        "xdp_mode": "generic (native veth XDP runs on the sender's CPU, before RPS)",
    }
    doc = {"meta": meta, "baseline": base,
           "cells": [c for c in cells if c["sources"] > 0],
           "ratios_mxguard_xdp_vs": ratios, "targets": targets}
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "compare.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    md = ["# mxguard beside iptables and nftables under a spoofed SYN flood", "",
          "Written by `make bench` (tools/compare-bench.sh); do not edit by hand.", "",
          f"- {meta['date']}, kernel {meta['kernel']}, {meta['cpus']} CPUs ({meta['cpu_model']})",
          f"- flood: {meta['flood']}",
          f"- legitimate client: {meta['legit']}",
          f"- every filter: {meta['limits']}",
          f"- {meta['mxguard_new_sources']}",
          f"- warm-up: {meta['warm_up']}",
          f"- receiver: {meta['receiver']}; {meta['window_s']:.0f} s per cell",
          f"- mxguard XDP is {meta['xdp_mode']}", ""]
    if base:
        md += [f"No-flood baseline: legitimate connect p50 {fmt(base['legit_p50_ms'], '{:.2f}')} ms, "
               f"p99 {fmt(base['legit_p99_ms'], '{:.2f}')} ms, success "
               f"{fmt(base['legit_success'] and base['legit_success'] * 100, '{:.1f}')}% "
               f"({base['legit_attempts']} connects).", ""]
    head = ("| filter | offered kpps | CPU 1 kpps | softirq ns/pkt | CPU 1 softirq / busy | "
            "capacity kpps | reached TCP | legit ok | p50 ms | p99 ms |")
    rows = []
    for n in counts:
        md += [f"## {n:,} sources", "", head, "|" + "---|" * 10]
        for f in LABELS:
            c = by.get((n, f))
            if not c:
                continue
            row = (f"| {c['label']} | {fmt(c['offered_pps'] and c['offered_pps'] / 1e3)} | "
                   f"{c['pps'] / 1e3:.0f} | {fmt(c['softirq_ns_per_pkt'])} | "
                   f"{c['cpu1_softirq_pct']:.0f}% / {c['cpu1_busy_pct']:.0f}% | {fmt(c['capacity_pps'] and c['capacity_pps'] / 1e3)} | "
                   f"{fmt(c['reached_tcp_pct'], '{:.1f}%')} | "
                   f"{fmt(c['legit_success'] and c['legit_success'] * 100, '{:.1f}%', '0%')} | "
                   f"{fmt(c['legit_p50_ms'], '{:.2f}')} | {fmt(c['legit_p99_ms'], '{:.2f}')} |")
            md.append(row)
            rows.append((n, row))
        md += ["", "mxguard XDP against each: packets/s processed (x), softirq cost per "
               "packet (alternative's / mxguard's), capacity (x):", ""]
        for r in ratios:
            if r["sources"] == n:
                md.append(f"- vs {LABELS[r['vs']]}: {fmt(r['pps_ratio'], '{:.2f}')}x pps, "
                          f"{fmt(r['cost_ratio'], '{:.2f}')}x cost, "
                          f"{fmt(r['capacity_ratio'], '{:.2f}')}x capacity")
        md.append("")
    md += ["## Targets (printed, not asserted)", "", "| target | value | goal | met |",
           "|---|---|---|---|"]
    for t in targets:
        v = t["value"]
        vs = "-" if v is None else (f"{v * 100:.1f}%" if "success" in t["target"] else f"{v:.2f}x")
        md.append(f"| {t['target']} | {vs} | {t['goal']} | "
                  f"{'-' if t['met'] is None else ('yes' if t['met'] else 'no')} |")
    # Where both kept up with the flood, the pps ratio says only that.
    for n in counts:
        x, o = by.get((n, "xdp")), by.get((n, "raw"))
        kept = [c for c in (x, o) if c and c.get("offered_pps") and
                c["pps"] >= 0.99 * c["offered_pps"]]
        if x and o and len(kept) == 2:
            md += ["", f"At {n:,} sources mxguard XDP and the raw-table drop both processed "
                   "everything the generator offered: their pps ratio is bounded by the "
                   "generator, not by either filter, and only the capacity column compares "
                   f"them ({fmt(ratio(x['capacity_pps'], o['capacity_pps']), '{:.2f}')}x; "
                   "tick-sampled, it varied by about 30% between runs)."]
    md += ["", "Columns: *offered* is the generator's rate; *CPU 1 kpps* the packets CPU 1 "
           "took off its backlog per second (what the receiver sustained); *softirq ns/pkt* "
           "CPU 1's softirq time (tick-sampled) over those packets; *busy* adds CPU 1's user, "
           "system and irq time (the listener, kernel workers, anything else running); "
           "*capacity* 1e9 / the softirq cost: "
           "the rate CPU 1 could sustain doing only this; *reached TCP* the share "
           "of those packets the receiver's TCP counted (InSegs): what the filter let "
           "through.", ""]
    with open(os.path.join(outdir, "compare.md"), "w") as f:
        f.write("\n".join(md))

    # Plot: CPU 1 kpps, softirq ns/pkt and legit p99 per filter, one bar
    # per source count.
    dat = os.path.join(outdir, "compare.dat")
    with open(dat, "w") as f:
        f.write("# filter " + " ".join(f"kpps_{n} ns_{n} p99_{n}" for n in counts) + "\n")
        for k, lab in LABELS.items():
            if not any((n, k) in by for n in counts):
                continue
            vals = []
            for n in counts:
                c = by.get((n, k))
                vals += [fmt(c and c["pps"] / 1e3, "{:.1f}", "0"),
                         fmt(c and c["softirq_ns_per_pkt"], "{:.0f}", "0"),
                         fmt(c and c["legit_p99_ms"], "{:.3f}", "0")]
            f.write(f'"{SHORT[k]}" ' + " ".join(vals) + "\n")
    cols = len(counts)

    def top(key):
        # Room above the tallest bar for the key.
        v = [c[key] for c in cells if c["sources"] > 0 and c[key]]
        return max(v) * 1.3 if v else 1

    def plot(col0, title):
        return "plot " + ", ".join(
            f"'{dat}' using {col0 + 3 * i}:xtic(1) title '{n:,} sources'"
            for i, n in enumerate(counts))

    gp = [
        "set terminal pngcairo size 1500,520 font 'sans,9'",
        f"set output '{os.path.join(outdir, 'compare.png')}'",
        "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set boxwidth 0.9",
        "set xtics rotate by -30 left", "set grid ytics", "set key top center horizontal",
        "set bmargin 5",
        "set multiplot layout 1,3 title 'SYN flood on one veth pair, receiver on one CPU "
        f"({meta['kernel']})'",
        "set title 'packets/s processed by the receiving CPU (k)'",
        f"set yrange [0:{top('pps') / 1e3:.0f}]", plot(2, ""),
        "set title 'softirq ns per packet (lower is better)'",
        f"set yrange [0:{top('softirq_ns_per_pkt'):.0f}]", plot(3, ""),
        "set title 'legitimate connect p99, ms (log; lower is better)'",
        "set logscale y", f"set yrange [0.01:{top('legit_p99_ms') * 10:.0f}]", plot(4, ""),
        "unset multiplot",
    ]
    if cols:
        with open(os.path.join(outdir, "compare.gp"), "w") as f:
            f.write("\n".join(gp) + "\n")

    # The terminal gets the figures; the conditions are in the files.
    first = next((i for i, l in enumerate(md) if l.startswith(("No-flood", "## "))), 0)
    print("\n" + "\n".join(md[first:]))


if __name__ == "__main__":
    main()

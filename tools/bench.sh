#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make bench`: the figures of mxguard's kernel side, each printed beside
# the alternative measured in the same run. Nothing here is asserted; see
# docs/design.md for the targets.
#
#   1. admission: ns per frame beside an XDP_PASS program, and map memory
#      with MXG_BENCH_SOURCES (default 1M) sources tracked;
#   2. conns: connections per second accepted by a real listener with and
#      without the connection counter, in a network namespace of its own
#      (loopback only) so nothing else on the host is counted or disturbed;
#   3. the recipient mirror (tools/mirror-bench.sh): full sync, change
#      latency and lookups against a real slapd with each of
#      MXG_BENCH_MIRROR_SIZES users (default "100000 1000000");
#   4. recipient lookups for the MTA (tools/lookup-bench.sh);
#      failover: the lookups while the mirror's directory server dies and
#      it moves to a replica: time answering TEMP, wrong answers, time to
#      follow the replica (tools/failover-bench.sh);
#   5. kernels: each program's verified instructions on each kernel of the
#      matrix (Debian 12's 6.1 and 6.12, tools/test-kernels.sh -p: a fresh
#      boot under qemu that only runs `mxguardd --probe`) beside the
#      verifier's limit of 1,000,000, with the headroom, so that it is
#      watched as the SMTP reader grows;
#   6. newsrc: a legitimate source the guard has never seen, connecting
#      during a spoofed SYN flood of 1,000,000 sources that shares its
#      receiving CPU, beside a known source (tools/newsrc-bench.sh);
#   7. postfix: Postfix's own throughput (smtp-source against a real
#      Postfix validating through mxguard's socketmap) without the guard
#      and with it on XDP and on TC, runs interleaved
#      (tools/postfix-bench.sh);
#   8. tuner: how fast the tuner scales down when the directory turns
#      slow and back to 1.0 when it is fast again (tools/tuner-bench.sh),
#      then the 2013 incident without the guard and with the tuner alone
#      (tools/incident.sh, MXG_INCIDENT_PHASES="noguard tuner"): the
#      directory's search p99 and slapd's EMFILE lines side by side;
#   9. metrics: one scrape of mxguardd's /metrics (ms, bytes) at 0 and
#      1,000,000 sources tracked, beside `mxguardctl -j status`, which
#      walks the source map (tools/metrics-bench.sh);
#  10. fleet: a ban's propagation from one guard of the fleet to the
#      other's first dropped SYN through a real slapd (syncrepl), p50 and
#      p99 over 100 bans (tools/fleet-bench.sh);
#  11. side by side under a spoofed SYN flood on a veth pair
#      (tools/compare-bench.sh): no filter, iptables raw, hashlimit and
#      connlimit, nftables meter and ct count, mxguard on XDP and on TC, at
#      1,000 and 1,000,000 sources; tables and plot in docs/bench/.
#
# Parts 1-10 print their figures and also append them as JSON lines to a
# file this script passes in MXG_BENCH_FIGURES; before part 11 they are
# written to docs/bench/figures.json and figures.md (tools/figures-report.py:
# each figure with its target from docs/design.md and whether it is met,
# with the date, kernel and CPU), so they are there even when part 11 is
# skipped or fails.
#
# Knobs: MXG_BENCH_PARTS (default "admission conns mirror lookup failover
# kernels newsrc postfix tuner metrics fleet compare": the parts to run, in that
# order), MXG_BENCH_OUT
# (docs/bench), and each part's own (MXG_BENCH_SOURCES, MXG_BENCH_CONN_MS,
# MXG_BENCH_MIRROR_*, MXG_BENCH_USERS/_LOOKUPS/_CONNS/_REPEAT, the kernel
# matrix's MXG_KERNELS/_CACHE/_TIMEOUT, MXG_NEWSRC_*, MXG_BENCH_PF_*,
# MXG_BENCH_TUNER_*, MXG_BENCH_METRICS_*, MXG_BENCH_FAILOVER_*,
# MXG_BENCH_FLEET_*, MXG_COMPARE_*).
set -euo pipefail

build=${1:-build}
tools=$(cd "$(dirname "$0")" && pwd)
all_parts="admission conns mirror lookup failover kernels newsrc postfix tuner metrics fleet compare"
parts=${MXG_BENCH_PARTS:-$all_parts}
outdir=${MXG_BENCH_OUT:-$tools/../docs/bench}
for p in $parts; do
	[[ " $all_parts " == *" $p "* ]] ||
		{ echo "bench: unknown part '$p' in MXG_BENCH_PARTS ($all_parts)" >&2; exit 2; }
done
want() { [[ " $parts " == *" $1 "* ]]; }
# The lab (tools/lab.sh) for the parts run here: root, bpffs, a namespace
# for conns, a temporary directory, and one cleanup at exit. The other
# parts are scripts of their own, each with its own lab.
LAB_PREFIX=mxb
LAB_TOOLS_NEEDED=mxg-bench
. "$tools/lab.sh"
lab_init "$build" bench
figures=$LAB_TMP/figures.jsonl
: >"$figures"
export MXG_BENCH_FIGURES=$figures

# BPF_PROG_TEST_RUN runs on the calling CPU; keep it on one so the per-CPU
# counters and caches behave like one receive queue.
if want admission; then
	taskset -c 0 "$build/tools/mxg-bench" admission "${MXG_BENCH_SOURCES:-1048576}"
fi

if want conns; then
	lab_loopback_up
	in_server_net "$build/tools/mxg-bench" conns "${MXG_BENCH_CONN_MS:-2000}"
fi

if want mirror; then
	MXG_BENCH_MIRROR_SIZES=${MXG_BENCH_MIRROR_SIZES:-100000 1000000} \
		"$tools/mirror-bench.sh" "$build"
fi

# 4. recipient lookups for the MTA: mxguard's socketmap beside Postfix's
#    own ldap: table against the same slapd (exits 77 without postfix-ldap).
if want lookup; then
	"$tools/lookup-bench.sh" "$build" || [[ $? == 77 ]]
fi

# failover: the mirror's directory server killed under a lookup load
#    (exits 77 without slapd).
if want failover; then
	"$tools/failover-bench.sh" "$build" || [[ $? == 77 ]]
fi

# 5. the verifier's count of each program on each kernel of the matrix,
#    from a boot that only probes (the console logs and the probe's lines
#    stay in BUILD/kernels/bench). A rejected program is a figure without
#    a value; a kernel that did not boot has none.
if want kernels; then
	. "$tools/bench-lib.sh"
	kout=$build/kernels/bench
	mkdir -p "$kout"
	rm -f "$kout"/verifier-*.txt
	echo "bench: kernels: booting each kernel of the matrix for mxguardd --probe"
	if ! MXG_KERNEL_OUT=$kout "$tools/test-kernels.sh" -p "$build" >"$kout/run.log" 2>&1; then
		# A rejected program fails the probe too: say so, the table shows it.
		echo "bench: kernels: the matrix reported failures (log: $kout/run.log)"
		grep -E ' FAIL |^kernel-vm: ' "$kout/run.log" | sed 's/^/  /' || true
	fi
	re_loaded='^program ([A-Za-z0-9_]+): loaded, ([0-9]+) instructions verified \(limit ([0-9]+)\)$'
	re_rejected='^program ([A-Za-z0-9_]+): rejected \((.*)\); turns off'
	printf '  %-24s %-16s %11s %11s %9s\n' kernel program verified limit headroom
	for f in "$kout"/verifier-*.txt; do
		[[ -s $f ]] || continue
		kv=${f##*/verifier-}
		kv=${kv%.txt}
		while IFS= read -r line; do
			if [[ $line =~ $re_loaded ]]; then
				prog=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]} limit=${BASH_REMATCH[3]}
				room=$(awk -v n="$n" -v l="$limit" 'BEGIN { printf "%.1f", (l - n) * 100 / l }')
				printf '  %-24s %-16s %11s %11s %8s%%\n' "$kv" "$prog" "$n" "$limit" "$room"
				bench_figure kernels "$prog on $kv: instructions verified" "$n" instructions "<= $limit"
				bench_figure kernels "$prog on $kv: headroom to the verifier's limit" "$room" %
			elif [[ $line =~ $re_rejected ]]; then
				prog=${BASH_REMATCH[1]}
				printf '  %-24s %-16s %11s  (%s)\n' "$kv" "$prog" rejected "${BASH_REMATCH[2]}"
				bench_figure kernels "$prog on $kv: instructions verified (rejected)" - instructions "<= 1000000"
			fi
		done <"$f"
	done
fi

# 6. a new source during a spoofed flood, beside a known one (exits 77
#    without smtp-sink, its listener).
if want newsrc; then
	"$tools/newsrc-bench.sh" "$build" || [[ $? == 77 ]]
fi

# 7. Postfix's throughput without and with the guard (exits 77 without
#    postfix, smtp-source or slapd).
if want postfix; then
	"$tools/postfix-bench.sh" "$build" || [[ $? == 77 ]]
fi

# 8. the tuner's reaction, then the incident without the guard and with
#    the tuner alone, in one run of tools/incident.sh (each exits 77
#    where the lab cannot run).
if want tuner; then
	"$tools/tuner-bench.sh" "$build" || [[ $? == 77 ]]
	echo "bench: tuner: the 2013 incident without the guard and with the tuner alone (tools/incident.sh)"
	MXG_INCIDENT_PHASES="noguard tuner" "$tools/incident.sh" "$build" || [[ $? == 77 ]]
fi

# The figures of parts 1-8, with their targets, before part 9.
if want metrics; then
	"$tools/metrics-bench.sh" "$build" || [[ $? == 77 ]]
fi

# 10. the fleet: a ban from one guard to the other's first dropped SYN
#     (exits 77 without slapd or smtp-sink).
if want fleet; then
	"$tools/fleet-bench.sh" "$build" || [[ $? == 77 ]]
fi

ran=()
for p in $all_parts; do
	[[ $p != compare ]] && want "$p" && ran+=("$p")
done
if ((${#ran[@]})); then
	python3 "$tools/figures-report.py" "$figures" "$outdir" "${ran[@]}"
	echo "bench: figures of ${ran[*]} written to $outdir/figures.json and figures.md"
fi

# 11. the receive path under a spoofed SYN flood, mxguard beside iptables
#    and nftables (writes docs/bench/compare.{json,md,png}).
if want compare; then
	"$tools/compare-bench.sh" "$build"
fi

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
#   5. side by side under a spoofed SYN flood on a veth pair
#      (tools/compare-bench.sh): no filter, iptables raw, hashlimit and
#      connlimit, nftables meter and ct count, mxguard on XDP and on TC, at
#      1,000 and 1,000,000 sources; tables and plot in docs/bench/.
#
# Parts 1-4 print their figures and also append them as JSON lines to a
# file this script passes in MXG_BENCH_FIGURES; before part 5 they are
# written to docs/bench/figures.json and figures.md (tools/figures-report.py:
# each figure with its target from docs/design.md and whether it is met,
# with the date, kernel and CPU), so they are there even when part 5 is
# skipped or fails.
#
# Knobs: MXG_BENCH_PARTS (default "admission conns mirror lookup compare":
# the parts to run, in that order), MXG_BENCH_OUT (docs/bench), and each
# part's own (MXG_BENCH_SOURCES, MXG_BENCH_CONN_MS, MXG_BENCH_MIRROR_*,
# MXG_BENCH_USERS/_LOOKUPS/_CONNS/_REPEAT, MXG_COMPARE_*).
set -euo pipefail

build=${1:-build}
tools=$(cd "$(dirname "$0")" && pwd)
parts=${MXG_BENCH_PARTS:-admission conns mirror lookup compare}
outdir=${MXG_BENCH_OUT:-$tools/../docs/bench}
for p in $parts; do
	case $p in admission | conns | mirror | lookup | compare) ;;
	*) echo "bench: unknown part '$p' in MXG_BENCH_PARTS (admission conns mirror lookup compare)" >&2; exit 2 ;;
	esac
done
want() { [[ " $parts " == *" $1 "* ]]; }
if ((EUID != 0)); then
	echo "bench: needs root (it loads BPF programs)" >&2
	exit 1
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

ns="mxgbench-$$"
figures=$(mktemp "/tmp/mxg-bench-figures-$$.XXXXXX")
export MXG_BENCH_FIGURES=$figures
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	rm -f "$figures"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# BPF_PROG_TEST_RUN runs on the calling CPU; keep it on one so the per-CPU
# counters and caches behave like one receive queue.
if want admission; then
	taskset -c 0 "$build/tools/mxg-bench" admission "${MXG_BENCH_SOURCES:-1048576}"
fi

if want conns; then
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	nsenter --net="/run/netns/$ns" "$build/tools/mxg-bench" conns "${MXG_BENCH_CONN_MS:-2000}"
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

# The figures of parts 1-4, with their targets, before part 5.
ran=()
for p in admission conns mirror lookup; do
	want "$p" && ran+=("$p")
done
if ((${#ran[@]})); then
	python3 "$tools/figures-report.py" "$figures" "$outdir" "${ran[@]}"
	echo "bench: figures of ${ran[*]} written to $outdir/figures.json and figures.md"
fi

# 5. the receive path under a spoofed SYN flood, mxguard beside iptables
#    and nftables (writes docs/bench/compare.{json,md,png}).
if want compare; then
	"$tools/compare-bench.sh" "$build"
fi

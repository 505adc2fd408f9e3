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
set -euo pipefail

build=${1:-build}
if ((EUID != 0)); then
	echo "bench: needs root (it loads BPF programs)" >&2
	exit 1
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

ns="mxgbench-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# BPF_PROG_TEST_RUN runs on the calling CPU; keep it on one so the per-CPU
# counters and caches behave like one receive queue.
taskset -c 0 "$build/tools/mxg-bench" admission "${MXG_BENCH_SOURCES:-1048576}"

ip netns add "$ns"
ip -n "$ns" link set lo up
nsenter --net="/run/netns/$ns" "$build/tools/mxg-bench" conns "${MXG_BENCH_CONN_MS:-2000}"

MXG_BENCH_MIRROR_SIZES=${MXG_BENCH_MIRROR_SIZES:-100000 1000000} \
	"$(dirname "$0")/mirror-bench.sh" "$build"

# 4. recipient lookups for the MTA: mxguard's socketmap beside Postfix's
#    own ldap: table against the same slapd (exits 77 without postfix-ldap).
"$(dirname "$0")/lookup-bench.sh" "$build" || [[ $? == 77 ]]

# 5. the receive path under a spoofed SYN flood, mxguard beside iptables
#    and nftables (writes docs/bench/compare.{json,md,png}).
"$(dirname "$0")/compare-bench.sh" "$build"

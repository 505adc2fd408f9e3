#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make bench`: the figures of mxguard's admission path, printed beside the
# alternatives measured in the same run. Nothing here is asserted; see
# docs/design.md for the targets.
set -euo pipefail

build=${1:-build}
if ((EUID != 0)); then
	echo "bench: needs root (it loads BPF programs)" >&2
	exit 1
fi
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
# BPF_PROG_TEST_RUN runs on the calling CPU; keep it on one so the
# per-CPU counters and caches behave like one receive queue.
taskset -c 0 "$build/tools/mxg-bench" "${MXG_BENCH_SOURCES:-1048576}"

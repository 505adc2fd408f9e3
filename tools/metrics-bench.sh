#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make bench`, part metrics: what one scrape costs (issue 14, "Numbers"):
# mxguardd with [metrics] listen in the lab, scraped with curl from inside
# its namespace, at 0 sources tracked and with MXG_BENCH_METRICS_SOURCES
# (1,000,000) in mxg_sources (max_sources 1048576; filled by
# tools/metrics-fill.c, which counts them as the programs would). Beside
# it, at both sizes, `mxguardctl metrics` (the same renderer) and
# `mxguardctl -j status`, which walks mxg_sources: a scrape that does not
# walk costs the same at both sizes, status does not. Each figure is the
# median of MXG_BENCH_METRICS_RUNS (5) runs, milliseconds of wall time;
# the document's size in bytes. Nothing is asserted.
#
# Usage: tools/metrics-bench.sh BUILD   (root; tools/bench.sh calls it)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB_PREFIX=mxmb
LAB_TOOLS_NEEDED="metrics-fill"
. "$SRC/tools/lab.sh"
. "$SRC/tools/bench-lib.sh"

lab_init "${1:?usage: $0 BUILD}" metrics-bench
sources=$(knob MXG_BENCH_METRICS_SOURCES 1000000)
runs=$(knob MXG_BENCH_METRICS_RUNS 5)
((sources <= 1048576)) || die "MXG_BENCH_METRICS_SOURCES $sources: at most 1048576 (max_sources)"
command -v curl >/dev/null || lab_unavailable "needs curl (tools/deps.sh)"
PORT=9910
URL=http://127.0.0.1:$PORT/metrics

lab_netns_up
conf=$LAB_TMP/mxguard.conf
conf_write "$conf" detach "[metrics]" "listen = 127.0.0.1:$PORT"
sed -i 's/^max_sources = .*/max_sources = 1048576/' "$conf"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"

# median VALUES...: the middle one (the lower of the two middle ones).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ms CMD...: the wall time of CMD in milliseconds (its output dropped).
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null
	t1=$(date +%s%N)
	awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f", d / 1e6 }'
}

# measure LABEL: every figure at the current size, printed and recorded.
measure() {
	local label=$1 i scrape=() bytes=0 ctl_ms=() status_ms=() out
	for ((i = 0; i < runs; i++)); do
		out=$(in_server_net curl -sS --max-time 60 -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "$URL") ||
			die "scrape failed"
		read -r code t bytes <<<"$out"
		[[ $code == 200 ]] || die "scrape answered $code"
		scrape+=("$(awk -v t="$t" 'BEGIN { printf "%.2f", t * 1000 }')")
		ctl_ms+=("$(ms "$MXGCTL" --pin-dir "$LAB_PIN" metrics)")
		status_ms+=("$(ms "$MXGCTL" -j --pin-dir "$LAB_PIN" status)")
	done
	local s c st
	s=$(median "${scrape[@]}") c=$(median "${ctl_ms[@]}") st=$(median "${status_ms[@]}")
	printf '  %-14s %14s %10s %20s %22s\n' "$label" "$s" "$bytes" "$c" "$st"
	bench_figure metrics "GET /metrics with $label: time" "$s" ms
	bench_figure metrics "GET /metrics with $label: size" "$bytes" bytes
	bench_figure metrics "mxguardctl metrics with $label: time" "$c" ms
	bench_figure metrics "mxguardctl -j status (walks mxg_sources) with $label: time" "$st" ms
	last_scrape=$s last_status=$st
}

echo "bench: metrics: one scrape at 0 and $sources sources tracked (median of $runs, ms)"
printf '  %-14s %14s %10s %20s %22s\n' sources "GET /metrics" bytes "mxguardctl metrics" "mxguardctl -j status"
measure "0 sources"
s0=$last_scrape st0=$last_status
"$BUILD/tools/metrics-fill" "$LAB_PIN" "$sources" || die "cannot fill mxg_sources"
tracked=$("$MXGCTL" --pin-dir "$LAB_PIN" metrics | awk '$1 == "mxguard_sources_tracked" { print $2 }')
walked=$("$MXGCTL" -j --pin-dir "$LAB_PIN" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"]["tracked"])')
[[ $tracked == "$sources" && $walked == "$sources" ]] ||
	die "after the fill: metrics say $tracked, status walked $walked, want $sources"
measure "$sources sources"
s1=$last_scrape st1=$last_status
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
echo "  scrape at $sources / at 0: $(ratio "$s1" "$s0")x; status (walks) at $sources / at 0: $(ratio "$st1" "$st0")x; status / scrape at $sources: $(ratio "$st1" "$s1")x"
bench_figure metrics "GET /metrics, $sources sources over 0 sources" "$(ratio "$s1" "$s0")" x
bench_figure metrics "mxguardctl -j status over GET /metrics, $sources sources" "$(ratio "$st1" "$s1")" x
mxgd_stop TERM >/dev/null || true

# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# Sourced by the bench parts written in shell (compare-bench.sh,
# mirror-bench.sh, lookup-bench.sh): bench_figure appends one figure as a
# JSON line to $MXG_BENCH_FIGURES, which tools/bench.sh sets and turns into
# docs/bench/figures.{json,md} (tools/figures-report.py). Unset, it does
# nothing: what a part prints for people never depends on it. knob reads
# a numeric setting; stop_pid ends a background process of the bench.

# bench_figure PART FIGURE VALUE UNIT [TARGET]: VALUE a number (anything
# else, e.g. "-" for a figure not measured, is written as null); TARGET a
# comparison and a number ("<= 96", "== 0"), or empty for a figure that is
# only reported. PART, FIGURE and UNIT are the bench's own words: no
# quotes or backslashes in them.
bench_figure() {
	[[ -n ${MXG_BENCH_FIGURES:-} ]] || return 0
	local part=$1 what=$2 value=$3 unit=$4 target=${5:-}
	[[ $value =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || value=null
	# JSON numbers have no leading zeros ("007") or bare "-0".
	[[ $value == null ]] || value=$(awk -v v="$value" 'BEGIN { print v + 0 }')
	if [[ -n $target ]]; then target="\"$target\""; else target=null; fi
	printf '{"part":"%s","figure":"%s","value":%s,"unit":"%s","target":%s}\n' \
		"$part" "$what" "$value" "$unit" "$target" >>"$MXG_BENCH_FIGURES"
}

# knob VAR DEFAULT: the whole number > 0 in the environment variable VAR,
# or DEFAULT; anything else ends the bench with VAR named (under set -e,
# as in `n=$(knob MXG_X 5)`).
knob() {
	local v=${!1:-$2}
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "$1 '$v' is not a positive whole number"
	printf '%s\n' "$v"
}

# stop_pid PID SECS: TERM, KILL if it is still there after SECS, reap.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

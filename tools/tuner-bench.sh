#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make bench`, part tuner (first half; the second is tools/incident.sh's
# no-guard and tuner phases, which tools/bench.sh runs next): how fast the
# tuner reacts (issue 13, "Numbers"). A real slapd in the netns lab
# (tools/lab.sh), mxguardd with the controller's shipped gains (floor 0.1,
# decrease 0.5, increase 0.05 an interval, cooldown 5 s, recover_at 0.8,
# p90 of the last 10 probes) at MXG_BENCH_TUNER_INTERVAL_MS (1000, the
# default interval), latency_target 100 ms, latency_classes smtp. Each of
# MXG_BENCH_TUNER_RUNS (3) runs:
#   - injection: slapd paused 400 ms of every 500 ms (slapd_slow: ~400 ms
#     a search, against ~1 ms) until smtp's scale is at the floor;
#     measured: to the first scale-down, and to the floor;
#   - removal: slapd fast again; measured: to scale 1.0.
# Each time is wall clock from the change of slapd to the first
# `mxguardctl -j tuner` that shows the new scale (polled every 50 ms), in
# seconds and in intervals. Nothing is asserted.
#
# Usage: tools/tuner-bench.sh BUILD   (root; tools/bench.sh calls it)
# Knobs: MXG_BENCH_TUNER_RUNS (3), MXG_BENCH_TUNER_INTERVAL_MS (1000).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB_PREFIX=mxtb
LAB_TOOLS_NEEDED=""
. "$SRC/tools/lab.sh"
. "$SRC/tools/bench-lib.sh"

lab_init "${1:?usage: $0 BUILD}" tuner-bench
runs=$(knob MXG_BENCH_TUNER_RUNS 3)
interval_ms=$(knob MXG_BENCH_TUNER_INTERVAL_MS 1000)
((runs <= 20 && interval_ms >= 100 && interval_ms <= 5000)) ||
	die "MXG_BENCH_TUNER_RUNS at most 20, MXG_BENCH_TUNER_INTERVAL_MS 100..5000"
for c in ldapsearch slapd; do
	command -v "$c" >/dev/null || lab_unavailable "needs $c (tools/deps.sh)"
done
# Each wait's bound: the slowest path is the climb from the floor, 18
# increases after the window of 10 probes has cleared, with room for a
# loaded machine.
down_max=$((interval_ms * 30 / 1000 + 10))
floor_max=$((interval_ms * 40 / 1000 + 30))
up_max=$((interval_ms * 60 / 1000 + 30))

lab_netns_up
slapd_start 1024 100
conf=$LAB_TMP/mxguard.conf
conf_write "$conf" detach "[class smtp]" "rate = 100/s" "burst = 200" "source_conns = 100" \
	"[ldap]" "uri = ldap://$LAB_DIR4:389/" "base = $SLAPD_PEOPLE" "domains = $LAB_RCPT_DOMAIN" \
	"attributes = mail" "sync = poll" "poll_interval = 1h" "max_age = 2h" \
	"[tuner]" "interval = ${interval_ms}ms" "latency_target = 100ms" "latency_classes = smtp"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"

scale() { tuner_get classes.smtp.scale 2>/dev/null; }
floor=$(tuner_get floor)
below1() { awk -v s="$(scale)" 'BEGIN { exit !(s != "" && s < 1) }'; }
at_floor() { awk -v s="$(scale)" -v f="$floor" 'BEGIN { exit !(s != "" && s <= f) }'; }
at1() {
	awk -v s="$(scale)" 'BEGIN { exit !(s == 1) }' &&
		[[ $(tuner_get signals.latency.reading 2>/dev/null) == under ]]
}
intervals() { awk -v s="$1" -v i="$interval_ms" 'BEGIN { if (s ~ />/) print s; else printf "%.1f", s * 1000 / i }'; }

echo "bench: tuner: reaction to a slow directory (slapd paused 400 ms of every 500 ms),"
echo "  interval ${interval_ms} ms, shipped gains, latency_target 100 ms, $runs runs"
printf '  %-4s %22s %22s %22s\n' run "to first scale-down" "to the floor" "removal to 1.0"
DOWN=() FLOOR=() UP=()
for ((r = 1; r <= runs; r++)); do
	wait_within "$up_max" at1 || die "run $r: the tuner is not at 1.0 before the run: $(ctl_json tuner)"
	slapd_slow 400 500
	wait_within "$down_max" below1 || true
	down=$WAITED
	# The floor is timed from the injection too: the first scale-down's
	# wait is part of it.
	wait_within "$floor_max" at_floor || true
	floor_s=$(awk -v a="$down" -v b="$WAITED" 'BEGIN { if (a ~ />/ || b ~ />/) print ">"; else printf "%.3f", a + b }')
	slapd_fast
	wait_within "$up_max" at1 || true
	up=$WAITED
	printf '  %-4s %11s s %6s iv %11s s %6s iv %11s s %6s iv\n' "$r" "$down" "$(intervals "$down")" \
		"$floor_s" "$(intervals "$floor_s")" "$up" "$(intervals "$up")"
	DOWN+=("$down") FLOOR+=("$floor_s") UP+=("$up")
done
slapd_fast

# median VALUE...: the median (a value with ">" is a wait that ran out: "-").
median() {
	printf '%s\n' "$@" | python3 -c '
import sys
v = [l.strip() for l in sys.stdin if l.strip()]
if any(">" in x for x in v) or not v:
    print("-")
else:
    v = sorted(float(x) for x in v)
    n = len(v)
    print("%.3f" % ((v[n // 2] + v[(n - 1) // 2]) / 2))'
}
m_down=$(median "${DOWN[@]}") m_floor=$(median "${FLOOR[@]}") m_up=$(median "${UP[@]}")
printf '  %-4s %11s s %6s iv %11s s %6s iv %11s s %6s iv\n' median "$m_down" "$(intervals "$m_down")" \
	"$m_floor" "$(intervals "$m_floor")" "$m_up" "$(intervals "$m_up")"
echo "  (iv: the time in intervals of ${interval_ms} ms; the scale goes 1 -> 0.5 -> ... -> $floor, a"
echo "   decrease at most every cooldown; back up by 0.05 an interval once the probes' p90 is under)"
bench_figure tuner "reaction: slow directory to the first scale-down (median of $runs)" "$m_down" s
bench_figure tuner "reaction: slow directory to the first scale-down, in intervals" "$(intervals "$m_down")" intervals "<= 4"
bench_figure tuner "reaction: slow directory to the floor (median of $runs)" "$m_floor" s
bench_figure tuner "reaction: directory fast again to scale 1.0 (median of $runs)" "$m_up" s
bench_figure tuner "reaction: directory fast again to scale 1.0, in intervals" "$(intervals "$m_up")" intervals "<= 30"
guard_down

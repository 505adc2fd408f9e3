#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The tuner beside the operator's own changes (issue 13): with the classes
# scaled down by a slow directory (tools/lab.sh slapd_slow),
#   (a) `mxguardctl limit set` changes the configured limits at once, the
#       limits in force follow them times the scale, and the tuner, over
#       the intervals that follow, neither undoes the change nor resets
#       its scale: the two never fight;
#   (b) a SIGHUP that keeps [tuner] as it was keeps the scales (the
#       file's limits come back, scaled);
#   (c) a restart of mxguardd resumes from the scales in force, not from
#       1.0, and the scales stay in force while no daemon runs;
#   (d) a SIGHUP without [tuner] puts every class back at its configured
#       limits and `status` says the tuner is off.
# Every wait is on state, bounded; the hold check watches a window of
# intervals.
#
# Usage: tests/integration/test_tuner_reload.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" tuner-reload
lab_netns_up
conf=$LAB_TMP/mxguard.conf
INTERVAL=0.2
CLASSES=("[class smtp]" "ports = 25" "rate = 10/s" "burst = 20" "source_conns = 10"
	"[class ldap]" "ports = 389" "rate = off" "source_conns = 20")
LDAP=("[ldap]" "uri = ldap://$LAB_DIR4:389/" "base = $SLAPD_PEOPLE"
	"domains = $LAB_RCPT_DOMAIN" "attributes = mail" "sync = poll"
	"poll_interval = 1h" "max_age = 2h")
# A floor of 0.25: one decrease (0.5) leaves room for a second, so a
# resumed scale is told apart from a fresh one.
TUNER=("[tuner]" "interval = 200ms" "floor = 0.25" "cooldown = 1s"
	"latency_target = 200ms" "latency_timeout = 2s" "latency_window = 5"
	"latency_classes = smtp, ldap")

slapd_start 1024 100

scale_of() { tuner_get "classes.$1.scale" 2>/dev/null; }
below1() { awk -v s="$(scale_of "$1")" 'BEGIN { exit !(s != "" && s < 1) }'; }
at1() { awk -v s="$(scale_of "$1")" 'BEGIN { exit !(s == 1) }'; }
tuner_on() { [[ $(tuner_get enabled 2>/dev/null) == True ]]; }
tuner_off() { [[ $(tuner_get enabled 2>/dev/null) == False ]]; }
tuner_dump() { ctl_json tuner 2>&1 | tr -d '\n' | cut -c1-1500; }
# limit CLASS KEY [effective]: a configured (or effective) limit.
limit() {
	ctl_json limit show "$1" | python3 -c '
import json, sys
c = json.load(sys.stdin)["classes"][0]
print(c["effective"][sys.argv[1]] if sys.argv[2] == "effective" else c[sys.argv[1]])' "$2" "${3:-configured}"
}
# burst_in_force SCALE CONFIGURED: what bpf/tuning.h makes of a burst.
burst_in_force() { awk -v s="$1" -v b="$2" 'BEGIN { v = int(b * s * 1000 / 1000 + 1e-9); print (v < 1 ? 1 : v) }'; }
everything_configured() {
	at1 smtp && at1 ldap &&
		[[ $(limit smtp burst effective) == "$(limit smtp burst)" ]] &&
		[[ $(limit smtp source_conns effective) == "$(limit smtp source_conns)" ]]
}

conf_write "$conf" detach "${CLASSES[@]}" "${LDAP[@]}" "${TUNER[@]}"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"
wait_until 10 tuner_on || die "the tuner is not on: $(tuner_dump)"
check "at start: every class at 1.0" wait_until 10 everything_configured

slapd_slow 400 500
wait_within 20 below1 smtp || die "no scale-down within 20 s of slowing slapd: $(tuner_dump)"
pass "slapd slowed: smtp scaled down to $(scale_of smtp) in ${WAITED}s"

# ======================================================= (a) limit set
ctl limit set smtp burst=40 >/dev/null
s=$(scale_of smtp)
check "(a) limit set: configured burst 40" test "$(limit smtp burst)" -eq 40
# held_set SECS: for SECS seconds (polled each interval) the configured
# burst stays 40, the class stays scaled, and the burst in force is 40
# times the scale of the moment.
held_set() {
	local i sc want
	for ((i = 0; i < $1 * 5; i++)); do
		sc=$(scale_of smtp)
		[[ $(limit smtp burst) == 40 ]] || { log "configured burst $(limit smtp burst)"; return 1; }
		awk -v s="$sc" 'BEGIN { exit !(s < 1) }' || { log "smtp back at $sc"; return 1; }
		want=$(burst_in_force "$sc" 40)
		# The scale may move between the two reads: read it again.
		[[ $(limit smtp burst effective) == "$want" ||
			$(limit smtp burst effective) == "$(burst_in_force "$(scale_of smtp)" 40)" ]] ||
			{ log "burst in force $(limit smtp burst effective), not $want at $sc"; return 1; }
		sleep "$INTERVAL"
	done
}
check "(a) for 3 s after limit set (15 intervals): configured 40 kept, still scaled, in force = 40 x scale (was $s)" held_set 3

# ======================================================= (b) SIGHUP, same [tuner]
before=$(scale_of smtp)
kill -HUP "$MXGD_PID"
wait_until 10 grep -q 'reloaded' "$LAB_TMP/mxguardd.log" || die "(b) no 'reloaded' in the log"
check "(b) SIGHUP: the file's burst 20 again" test "$(limit smtp burst)" -eq 20
check "(b) SIGHUP: smtp still scaled ($(scale_of smtp), was $before)" below1 smtp
check "(b) SIGHUP: the tuner kept running" tuner_on

# ======================================================= (c) restart
# At the floor first, so the scale cannot move while the daemon restarts
# (slapd stays slow: it could only go down, and it is as low as it goes).
at_floor() { awk -v s="$(scale_of smtp)" 'BEGIN { exit !(s == 0.25) }'; }
wait_within 30 at_floor || die "(c) smtp not at the floor 0.25 within 30 s: $(tuner_dump)"
mxgd_stop
check "(c) stopped: the tuner says off" tuner_off
check "(c) stopped: smtp's scale 0.25 stays in force" at_floor
check "(c) stopped: the burst in force stays 20 x 0.25 = 5" test "$(limit smtp burst effective)" -eq 5
mxgd_start "$conf" "$LAB_TMP/mxguardd.2.log"
check "(c) restarted: smtp resumes at 0.25, not 1.0" at_floor
check "(c) restarted: the tuner is on" wait_until 10 tuner_on
# held_floor SECS: smtp at 0.25 at every interval for SECS seconds.
held_floor() {
	local i
	for ((i = 0; i < $1 * 5; i++)); do
		at_floor || { log "smtp at $(scale_of smtp)"; return 1; }
		sleep "$INTERVAL"
	done
}
check "(c) restarted: smtp held at 0.25 for 2 s (10 intervals)" held_floor 2

# ======================================================= (d) SIGHUP without [tuner]
conf_write "$conf" detach "${CLASSES[@]}" "${LDAP[@]}"
kill -HUP "$MXGD_PID"
wait_until 10 grep -q 'reloaded' "$LAB_TMP/mxguardd.2.log" || die "(d) no 'reloaded' in the log"
check "(d) no [tuner]: the tuner says off" wait_until 10 tuner_off
check "(d) no [tuner]: every class at its configured limits" wait_until 10 everything_configured
check "(d) status: tuner off" test "$(ctl_json status | json_get tuner.enabled)" == False

slapd_fast
guard_down
pass "tuner beside limit set, SIGHUP and a restart"

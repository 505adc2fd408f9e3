#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The tuner's directory signals (user/tuner_signals.c) against a real
# OpenLDAP slapd in the lab's server namespace, read through
# tools/tuner-signals as mxguardd's tuner reads them. Two probe sessions
# live through the whole test (one anonymous, one bound as the lab's
# mxguard account), each probing when the test says so:
#   (a) slapd answers: every probe is ok, well under the timeout; the
#       probes of a session share one connection (one ACCEPT, one BIND)
#       and each is a base search for no attribute ("1.1");
#   (b) slapd's descriptors from its pid file: its limit (ulimit -n) and
#       about as many in use as /proc lists; the wrong process name is
#       refused;
#   (c) slapd paused (SIGSTOP): a probe gives the timeout as its latency
#       and returns within it, on a kept session, on a fresh one (the
#       kernel still accepts the connection) and when the bind gets no
#       answer; slapd resumed: the next probe is fast again (the late
#       answers of the dropped sessions are never read);
#   (d) slapd restarted: a kept session it closed is opened again within
#       the probe, which is ok;
#   (e) a base that does not exist and a wrong password: an error naming
#       the cause, not a latency;
#   (f) slapd stopped, and an address where no host answers: an error
#       within the timeout, not a latency.
# Every wait is bounded; the probe's own bound is what is checked.
#
# Usage: tests/integration/test_tuner_probe.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LAB_TOOLS_NEEDED="tuner-signals"
LAB_NEED_MXG=0
lab_init "${1:?usage: $0 BUILD}" tuner-probe
if ! command -v slapd >/dev/null || ! command -v slapadd >/dev/null; then
	skip "needs slapd (Debian package slapd)"
fi
lab_netns_up

SIGNALS=$BUILD/tools/tuner-signals
TIMEOUT_MS=500
# What a probe may block beyond its timeout: process wake-ups on a busy
# two-core machine, never another round trip.
SLACK_MS=250
FDLIMIT=256
URI=ldap://$LAB_DIR4:389/
pwfile=$LAB_TMP/ldap.secret
(
	umask 077
	printf '%s\n' "$SLAPD_BIND_PW" >"$pwfile"
)

slapd_start "$FDLIMIT" 10

# ---------------------------------------------------------------- helpers

# probe_start NAME ARGS...: a `tuner-signals ldap -s` session in the
# server's namespace that probes once per line it is sent (fifos both
# ways, so that two sessions can live side by side).
declare -A PROBE_IN=() PROBE_OUT=()
probe_start() {
	local name=$1 fdin fdout
	shift
	mkfifo "$LAB_TMP/$name.in" "$LAB_TMP/$name.out"
	in_server_net "$SIGNALS" ldap -s -H "$URI" -t "${TIMEOUT_MS}ms" "$@" \
		<"$LAB_TMP/$name.in" >"$LAB_TMP/$name.out" 2>"$LAB_TMP/$name.err" &
	LAB_BG_PIDS+=("$!")
	exec {fdin}>"$LAB_TMP/$name.in"
	exec {fdout}<"$LAB_TMP/$name.out"
	PROBE_IN[$name]=$fdin
	PROBE_OUT[$name]=$fdout
}

# probe NAME: one probe of the session; its line in PROBE_LINE, its
# fields in P_STATUS, P_LATENCY_MS, P_TOOK_MS (integers).
PROBE_LINE=""
probe() {
	local name=$1
	printf 'probe\n' >&"${PROBE_IN[$name]}"
	IFS= read -r -t 10 PROBE_LINE <&"${PROBE_OUT[$name]}" ||
		die "probe $name: no line within 10 s ($(cat "$LAB_TMP/$name.err"))"
	probe_fields "$PROBE_LINE"
}

# probe_once ARGS...: a one-shot probe (its own process and session).
probe_once() {
	PROBE_LINE=$(in_server_net "$SIGNALS" ldap -H "$URI" -t "${TIMEOUT_MS}ms" "$@" 2>&1) || true
	probe_fields "$PROBE_LINE"
}

probe_fields() {
	local f
	P_STATUS=${1%% *} P_LATENCY_MS="" P_TOOK_MS=""
	for f in $1; do
		case $f in
		latency_us=*) P_LATENCY_MS=$((${f#*=} / 1000)) ;;
		took_us=*) P_TOOK_MS=$((${f#*=} / 1000)) ;;
		esac
	done
	log "probe: $1"
}

probe_ok_fast() { [[ $P_STATUS == ok ]] && ((P_LATENCY_MS < TIMEOUT_MS)); }
probe_gave_timeout() { [[ $P_STATUS == ok ]] && ((P_LATENCY_MS == TIMEOUT_MS)); }
probe_within_timeout() { [[ -n $P_TOOK_MS ]] && ((P_TOOK_MS <= TIMEOUT_MS + SLACK_MS)); }
probe_error_says() { [[ $P_STATUS == error ]] && grep -qF -- "$1" <<<"$PROBE_LINE"; }

accepts() { slapd_log_count slapd ' ACCEPT from '; }
binds() { slapd_log_count slapd "BIND dn=\"$SLAPD_BIND_DN\" method="; }
probe_searches() { slapd_log_count slapd "SRCH base=\"$SLAPD_PEOPLE\" scope=0 "; }
slapd_pid() { echo "${SLAPD_PID_OF[slapd]}"; }

# ---------------------------------------------------------------- (a)

accepts0=$(accepts) binds0=$(binds) searches0=$(probe_searches)
probe_start anon -b "$SLAPD_PEOPLE"
probe_start bound -b "$SLAPD_PEOPLE" -D "$SLAPD_BIND_DN" -y "$pwfile"
for i in 1 2 3; do
	probe anon
	check "(a) anonymous probe $i is ok and fast (${P_LATENCY_MS}ms)" probe_ok_fast
	probe bound
	check "(a) bound probe $i is ok and fast (${P_LATENCY_MS}ms)" probe_ok_fast
done
# slapd logs each search as it finishes it: the counts are final now.
check "(a) the two sessions used two connections ($(($(accepts) - accepts0)) ACCEPTs)" \
	test "$(($(accepts) - accepts0))" -eq 2
check "(a) the bound session bound once ($(($(binds) - binds0)) BINDs)" \
	test "$(($(binds) - binds0))" -eq 1
check "(a) six base searches of $SLAPD_PEOPLE" \
	test "$(($(probe_searches) - searches0))" -eq 6
check "(a) each for no attribute (attr=1.1)" \
	test "$(slapd_log_count slapd ' SRCH attr=1\.1$')" -ge 6

# ---------------------------------------------------------------- (b)

fd_line=$("$SIGNALS" fd /proc "$SLAPD_DIR/slapd.pid" slapd) || die "(b) fd: $fd_line"
log "fd: $fd_line"
listed=$(find "/proc/$(slapd_pid)/fd" -mindepth 1 -maxdepth 1 | wc -l)
read -r pid_f in_use_f limit_f <<<"$fd_line"
check "(b) the pid file names slapd's pid" test "${pid_f#pid=}" = "$(slapd_pid)"
check "(b) the limit is slapd's ulimit -n ($FDLIMIT)" test "${limit_f#limit=}" = "$FDLIMIT"
check "(b) in use ${in_use_f#in_use=} ~ $listed listed in /proc (idle: within 2)" \
	test $((${in_use_f#in_use=} - listed)) -ge -2 -a $((${in_use_f#in_use=} - listed)) -le 2
fd_line=$("$SIGNALS" fd /proc "$SLAPD_DIR/slapd.pid" postfix) || true
check "(b) the wrong process name is refused" \
	grep -qF "names $(slapd_pid), which is 'slapd', not postfix" <<<"$fd_line"

# ---------------------------------------------------------------- (c)

kill -STOP "$(slapd_pid)"
probe anon
check "(c) paused: the kept anonymous session gives the timeout" probe_gave_timeout
check "(c) ... within it (${P_TOOK_MS}ms)" probe_within_timeout
probe anon
check "(c) paused: a fresh anonymous session gives the timeout" probe_gave_timeout
check "(c) ... within it (${P_TOOK_MS}ms)" probe_within_timeout
probe bound
check "(c) paused: the kept bound session gives the timeout" probe_gave_timeout
check "(c) ... within it (${P_TOOK_MS}ms)" probe_within_timeout
probe bound
check "(c) paused: a bind without an answer gives the timeout" probe_gave_timeout
check "(c) ... within it (${P_TOOK_MS}ms)" probe_within_timeout
kill -CONT "$(slapd_pid)"
probe anon
check "(c) resumed: the anonymous probe is fast again (${P_LATENCY_MS}ms)" probe_ok_fast
probe bound
check "(c) resumed: the bound probe is fast again (${P_LATENCY_MS}ms)" probe_ok_fast
probe anon
check "(c) resumed: and the next one (${P_LATENCY_MS}ms)" probe_ok_fast

# ---------------------------------------------------------------- (d)

slapd_kill slapd
slapd_run slapd 389 "$FDLIMIT"
probe anon
check "(d) after a restart the kept session is opened again within the probe" probe_ok_fast
probe bound
check "(d) ... the bound one too" probe_ok_fast

# ---------------------------------------------------------------- (e)

probe_once -b "ou=nobody,$SLAPD_SUFFIX"
check "(e) a base that does not exist is an error saying so" \
	probe_error_says "search of ou=nobody,$SLAPD_SUFFIX: No such object"
wrongpw=$LAB_TMP/wrong.secret
(
	umask 077
	printf 'not-the-password\n' >"$wrongpw"
)
probe_once -b "$SLAPD_PEOPLE" -D "$SLAPD_BIND_DN" -y "$wrongpw"
check "(e) a wrong password is an error saying so" \
	probe_error_says "$URI: bind as the bind_dn: Invalid credentials"

# ---------------------------------------------------------------- (f)

slapd_kill slapd
probe anon
check "(f) stopped: the kept session's probe is an error" \
	probe_error_says "Can't contact LDAP server"
check "(f) ... within the timeout (${P_TOOK_MS}ms)" probe_within_timeout
probe anon
check "(f) stopped: and so is the next, fresh one" probe_error_says "$URI: connect: Can't contact LDAP server"
check "(f) ... within the timeout (${P_TOOK_MS}ms)" probe_within_timeout
# No host has this address on the lab's bridge: the connect is what
# waits, bounded by the probe's timeout.
URI=ldap://198.18.0.99:389/ probe_once -b "$SLAPD_PEOPLE"
check "(f) no host at the address: an error" probe_error_says "ldap://198.18.0.99:389/: connect: Can't contact LDAP server"
check "(f) ... within the timeout (${P_TOOK_MS}ms)" probe_within_timeout

log "PASS"

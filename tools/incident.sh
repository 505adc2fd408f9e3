#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The 2013 mail incident (Wikimedia, 2013-06-17: backscatter to random
# local recipients -> one LDAP search per RCPT -> the directory slow and
# out of descriptors -> mail stalls) replayed in one run on the netns lab
# of tools/lab.sh:
#   sender     client 1 (198.18.0.11): backscatter with build/tools/smtpflood,
#              FLOOD_PAR concurrent null-sender sessions to random local
#              recipients; client 2 (198.18.0.12): one legitimate sender
#              (build/tools/legit -s, one mail every LEGIT_EVERY s, each
#              transaction timed) and a directory probe
#              (a timed ldapsearch equality search every 0.5 s);
#   mail host  (198.18.0.1) a private Postfix validating recipients with an
#              ldap: table (one search per RCPT, the 2013 way) while the
#              guard is off, through mxguardd's socketmap while it is on;
#   directory  a host of its own on the lab bridge (198.18.0.3): slapd
#              with 10,000 users and ulimit -n SLAPD_FDLIMIT; the MTA's
#              filter also tests the unindexed mailLocalAddress, as the
#              2013 directory missed its indexes.
# Phases: baseline (legit only), flood without the guard, the same flood
# with mxguardd on the mail host ([ldap] mirror + [lookup] socket +
# [smtp_inspect] mode = penalize). One row each.
#
# Usage: tools/incident.sh BUILD   (root; under 3 minutes; cleans up on exit)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB_PREFIX=mxinc
LAB_TOOLS_NEEDED="smtpflood legit"
. "$SRC/tools/lab.sh"

PHASE_SECS=20      # each phase's measuring window
SLAPD_FDLIMIT=64   # slapd needs ~13 fds itself: ~50 clients fit
SLAPD_USERS=10000
FLOOD_PAR=100      # backscatter sessions open at once
FLOOD_MAX=20000    # at most this many sessions per phase
LEGIT_EVERY=2      # one legitimate mail every 2 s
PROBE_INTERVAL=0.5
BS_THRESHOLD=5     # unknown recipients before the penalty box

lab_init "${1:?usage: $0 BUILD}" incident
T_START=$SECONDS
lab_netns_up
lab_directory_host_up
log "lab: namespaces $LAB_NS_S (mail host), $LAB_NS_D (directory), $LAB_NS_C1 (backscatter), $LAB_NS_C2 (legit)"
log "directory: slapd with $SLAPD_USERS users, ulimit -n $SLAPD_FDLIMIT"
slapd_start "$SLAPD_FDLIMIT" "$SLAPD_USERS"
pf_start
# The 2013 MTA's table: one search per RCPT, on an unindexed attribute too.
pf_use_ldap_table

# probe SECS: the legitimate directory client: one timed equality search
# (the MTA's filter for a known user) every PROBE_INTERVAL s for SECS s
# (at most 200, each bounded at 3 s). One line per search: ms, or "fail".
probe() {
	local end=$((SECONDS + $1)) i u t0 t1
	for ((i = 0; i < 200 && SECONDS < end; i++)); do
		u="user$((RANDOM % SLAPD_USERS + 1))@$LAB_RCPT_DOMAIN"
		t0=${EPOCHREALTIME/[.,]/}
		if ip netns exec "$LAB_NS_C2" timeout 3 ldapsearch -x -LLL -H "ldap://$LAB_DIR4:389/" \
			-o nettimeout=2 -l 2 -b "$SLAPD_PEOPLE" "${LAB_LDAP_RCPT_FILTER//%s/$u}" mail \
			2>/dev/null | grep -q "^mail: $u\$"; then
			t1=${EPOCHREALTIME/[.,]/}
			echo "$(((t1 - t0) / 1000))"
		else
			echo fail
		fi
		sleep "$PROBE_INTERVAL"
	done
}

# legit SECS: the legitimate sender: one mail every LEGIT_EVERY s for SECS
# s to known users (16 picked at random, in turn), through the lab's
# legit_mail (build/tools/legit -s). Prints legit's JSON line.
legit() {
	local rcpts=() i
	for ((i = 0; i < 16; i++)); do
		rcpts+=("user$((RANDOM % SLAPD_USERS + 1))@$LAB_RCPT_DOMAIN")
	done
	legit_mail "$LAB_NS_C2" "$LAB_SERVER4" $(($1 / LEGIT_EVERY)) $((LEGIT_EVERY * 1000)) "${rcpts[@]}"
}

# legit_failures JSON: legit's failures by cause and code, non-zero only,
# and the first one's reply.
legit_failures() {
	python3 -c '
import json, sys
s = json.loads(sys.argv[1] or "{}").get("smtp") or {}
f = dict(s.get("failed", {}))
codes = f.pop("codes", {})
out = ["%s=%d" % kv for kv in sorted(f.items()) if kv[1]] + ["%s=%d" % kv for kv in sorted(codes.items())]
print(" ".join(out) + ("  first: " + s["first_error"] if "first_error" in s else "") if out else "none")' "$1"
}

# pq_size: messages in the instance's queue (incoming/active/deferred/hold/maildrop).
pq_size() {
	find "$LAB_PF_DIR"/queue/{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | wc -l
}

# Phase window of slapd's log: lines FROM..TO.
slog_lines() { wc -l <"$SLAPD_LOG"; }

# window_searches FROM TO: SRCH lines in the log window.
window_searches() { sed -n "$(($1 + 1)),$2p" "$SLAPD_LOG" | grep -c 'SRCH base=' || true; }

# unknown_searches FROM TO: SRCH lines in the log window for an address that
# is not a user's (the backscatter's random local parts).
unknown_searches() {
	sed -n "$(($1 + 1)),$2p" "$SLAPD_LOG" | grep 'SRCH base=' | grep -F 'filter="(|(mail=' |
		grep -vcE 'mail=user[0-9]+@' || true
}

# search_stats FROM TO: the report's line from slapd's own RESULT lines
# (etime, OpenLDAP 2.5) for SRCH ops in the log window.
search_stats() {
	sed -n "$(($1 + 1)),$2p" "$SLAPD_LOG" | python3 -c '
import re, sys
t = [float(m.group(1)) * 1000 for l in sys.stdin if "SEARCH RESULT" in l
     for m in [re.search(r"etime=([0-9.]+)", l)] if m]
n = len(t)
if not n:
    print("Search: 0"); sys.exit()
o1, o2 = sum(x > 100 for x in t), sum(x > 1000 for x in t)
print("Search: %d  Avg: %.3f ms  Max: %d ms  >100ms: %d (%d%%)  >1000ms: %d (%d%%)" %
      (n, sum(t) / n, max(t), o1, 100 * o1 // n, o2, 100 * o2 // n))'
}

# probe_stats FILE: the same line from the probe's client-side timings
# (failed or timed-out searches counted as 3000 ms).
probe_stats() {
	python3 - "$1" <<'EOF'
import sys
v = [l.strip() for l in open(sys.argv[1]) if l.strip()]
f = v.count("fail")
t = [3000.0 if x == "fail" else float(x) for x in v]
n = len(t)
if not n:
    print("Search: 0"); sys.exit()
o1, o2 = sum(x > 100 for x in t), sum(x > 1000 for x in t)
print("Search: %d  Avg: %.1f ms  Max: %d ms  >100ms: %d (%d%%)  >1000ms: %d (%d%%)  failed: %d" %
      (n, sum(t) / n, max(t), o1, 100 * o1 // n, o2, 100 * o2 // n, f))
EOF
}

# guard_counters: "k=v" for every classes.*.dropped.* and rcpt.* counter.
guard_counters() {
	ctl_json stats | python3 -c '
import json, sys
d = json.load(sys.stdin)
for c, v in sorted(d.get("classes", {}).items()):
    for k, n in sorted(v.get("dropped", {}).items()):
        print("dropped.%s.%s=%d" % (c, k, n))
for k, n in sorted(d.get("rcpt", {}).items()):
    if isinstance(n, int):
        print("rcpt.%s=%d" % (k, n))'
}
# guard_delta BEFORE AFTER: the non-zero differences, space-separated.
guard_delta() {
	python3 - "$1" "$2" <<'EOF'
import sys
def p(s): return dict(l.split("=", 1) for l in s.split() if "=" in l)
a, b = p(sys.argv[1]), p(sys.argv[2])
out = ["%s=%d" % (k, int(b[k]) - int(a.get(k, 0))) for k in sorted(b) if int(b[k]) != int(a.get(k, 0))]
print(" ".join(out) or "none")
EOF
}

GUARD=0
ROWS=() LEGIT_LINES=() SEARCH_LINES=() PROBE_LINES=() DROP_LINES=() FLOOD_LINES=()
# run_phase NAME FLOOD: one measuring window of PHASE_SECS.
run_phase() {
	local name=$1 flood=$2 dir=$LAB_TMP/phase.${#ROWS[@]} fpid="" ppid lpid
	local s e0 e1 l0 l1 t0 t1 g0="" g1 sent=0 accepted=0 delivered=0 qid
	mkdir -p "$dir"
	((GUARD)) && g0=$(guard_counters)
	e0=$(slapd_fd_errors) l0=$(slog_lines) t0=${EPOCHREALTIME/[.,]/}
	log "$name: ${PHASE_SECS}s; legit mail every ${LEGIT_EVERY}s, probe search every ${PROBE_INTERVAL}s$( ((flood)) && echo "; backscatter $FLOOD_PAR sessions at once from ${LAB_CLIENT4[0]}")"
	if ((flood)); then
		backscatter "$LAB_NS_C1" "$PHASE_SECS" "$FLOOD_PAR" "$FLOOD_MAX" >"$dir/flood" 2>&1 &
		fpid=$!
		LAB_BG_PIDS+=("$fpid")
	fi
	probe "$PHASE_SECS" >"$dir/probe" &
	ppid=$!
	LAB_BG_PIDS+=("$ppid")
	legit "$PHASE_SECS" >"$dir/legit.json" 2>"$dir/legit.err" &
	lpid=$!
	LAB_BG_PIDS+=("$lpid")
	wait "$ppid" || true
	# The window ends with the probe (PHASE_SECS): searches and the queue
	# are taken now; stragglers finish below.
	l1=$(slog_lines) t1=${EPOCHREALTIME/[.,]/}
	local queue
	queue=$(pq_size)
	# legit ends by itself: its last mail starts before PHASE_SECS and
	# every transaction is bounded at 30 s.
	wait "$lpid" || true
	[[ -n $fpid ]] && { wait "$fpid" || true; }
	# Descriptor errors until the flood's last session ended: slapd runs
	# out as the flood's connections pile up, often after the window.
	e1=$(slapd_fd_errors)
	local p50 p99 qids
	read -r sent accepted p50 p99 qids < <(legit_figures "$(cat "$dir/legit.json")")
	for qid in $qids; do
		wait_until 10 pf_log_has "$qid: .*status=sent" && delivered=$((delivered + 1))
	done
	local secs rate drops=-
	secs=$(((t1 - t0) / 1000))
	s=$(window_searches "$l0" "$l1")
	rate=$(awk -v n="$s" -v ms="$secs" 'BEGIN { printf "%.1f", n * 1000 / ms }')
	if ((GUARD)); then
		g1=$(guard_counters)
		drops=$(guard_delta "$g0" "$g1")
	fi
	ROWS+=("$(printf '%-16s %9s %9s %9s %9s %12s %7s %7s %6s' "$name" "$s" "$rate" \
		"$(unknown_searches "$l0" "$l1")" \
		"$((e1 - e0))" "$sent/$accepted/$delivered" "$p50" "$p99" "$queue")")
	LEGIT_LINES+=("$(printf '%-16s %s' "$name" "$(legit_failures "$(cat "$dir/legit.json")")")")
	SEARCH_LINES+=("$(printf '%-16s slapd: %s' "$name" "$(search_stats "$l0" "$l1")")")
	PROBE_LINES+=("$(printf '%-16s probe: %s' "$name" "$(probe_stats "$dir/probe")")")
	DROP_LINES+=("$(printf '%-16s %s' "$name" "$drops")")
	((flood)) && FLOOD_LINES+=("$(printf '%-16s %s' "$name" "$(tr '\n' ' ' <"$dir/flood")")")
	return 0
}

# Back to a directory that answers between phases (bounded): Postfix's
# idle smtpd processes hold their LDAP connections; a reload ends them.
recover() {
	ip netns exec "$LAB_NS_S" postfix -c "$LAB_PF_DIR" reload >/dev/null 2>&1 || true
	wait_until 20 ldap_search_ok "$LAB_NS_C2" || log "slapd still not answering after 20 s"
}

run_phase "baseline" 0
run_phase "flood, no guard" 1
EMFILE_SAMPLE=$(grep -m1 -E 'Too many open files|errno=2[34]\b|EMFILE' "$SLAPD_LOG" || true)

log "switching on the guard: mxguardd mirror + socketmap + smtp_inspect penalize"
recover
guard_backscatter_start "$LAB_TMP/mxguard.conf" "$LAB_TMP/mxguardd.log" "$BS_THRESHOLD"
GUARD=1
run_phase "flood, guard" 1
BAN=$(ctl ban list 2>&1 | grep -F "${LAB_CLIENT4[0]}" || true)
guard_down

echo
echo "The 2013 incident, replayed: Postfix + slapd ($SLAPD_USERS users, ulimit -n $SLAPD_FDLIMIT), ${PHASE_SECS}s a phase"
printf '%-16s %9s %9s %9s %9s %12s %7s %7s %6s\n' phase "LDAP SRCH" "SRCH/s" "unknown" "EMFILE" "legit s/a/d" "p50 ms" "p99 ms" queue
printf '%s\n' "${ROWS[@]}"
echo
echo "legitimate sender's failed transactions (tools/legit -s from ${LAB_CLIENT4[1]}: by cause and reply code):"
printf '  %s\n' "${LEGIT_LINES[@]}"
echo "search latency, server side (slapd -d 256 RESULT etime of every search in the window):"
printf '  %s\n' "${SEARCH_LINES[@]}"
echo "search latency, client side (timed ldapsearch every ${PROBE_INTERVAL}s from ${LAB_CLIENT4[1]}, incl. process start; fail = 3000 ms):"
printf '  %s\n' "${PROBE_LINES[@]}"
echo "guard drops and rcpt counters during the phase (mxguardctl -j stats deltas, non-zero only):"
printf '  %s\n' "${DROP_LINES[@]}"
echo "backscatter source (smtpflood -P $FLOOD_PAR from ${LAB_CLIENT4[0]}):"
printf '  %s\n' "${FLOOD_LINES[@]}"
echo
echo "LDAP SRCH: slapd's SRCH lines in the window (the probe's and the MTA's); unknown: those"
echo "for addresses no user has (the backscatter's); EMFILE: slapd's EMFILE/ENFILE lines"
echo "until the phase's flood ended (it runs on past the window while its sessions finish);"
echo "legit s/a/d: the legitimate sender's mails (tools/legit -s) sent / accepted (250 after"
echo "the dot) / delivered (status=sent); p50/p99 ms: their transaction latency, connect to the"
echo "250 after the dot; queue: Postfix queue files at window end."
[[ -n $EMFILE_SAMPLE ]] && echo "slapd without the guard logged: ${EMFILE_SAMPLE#* * }"
[[ -n $BAN ]] && echo "mxguardctl ban list: $(xargs <<<"$BAN")"
echo "run time: $((SECONDS - T_START)) s"

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
# [smtp_inspect] mode = penalize), and the same flood with the tuner alone
# (Postfix back on its ldap: table, no hand-set total_conns, no lookup
# socket, no inspection: generous smtp limits that the tuner scales down
# while the directory's latency is over its target, and the directory's
# descriptors watched through its pid file). One row each, and for the
# tuner's phase the scale over time beside the directory's latency.
#
# Usage: tools/incident.sh BUILD   (root; under 3 minutes; cleans up on exit)
# Knobs: MXG_INCIDENT_PHASES (default "baseline noguard guard tuner": the
#        phases to run, in that order; the bench's tuner part runs
#        "noguard tuner"); with MXG_BENCH_FIGURES set (tools/bench.sh),
#        the no-guard and tuner phases' figures are appended to it.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB_PREFIX=mxinc
LAB_TOOLS_NEEDED="smtpflood legit"
. "$SRC/tools/lab.sh"
. "$SRC/tools/bench-lib.sh"
PHASES=${MXG_INCIDENT_PHASES:-baseline noguard guard tuner}
for p in $PHASES; do
	[[ " baseline noguard guard tuner " == *" $p "* ]] ||
		{ echo "incident: unknown phase '$p' in MXG_INCIDENT_PHASES" >&2; exit 2; }
done
want_phase() { [[ " $PHASES " == *" $1 "* ]]; }

PHASE_SECS=20      # each phase's measuring window
SLAPD_FDLIMIT=64   # slapd needs ~13 fds itself: ~50 clients fit
SLAPD_USERS=10000
FLOOD_PAR=100      # backscatter sessions open at once
FLOOD_MAX=20000    # at most this many sessions per phase
LEGIT_EVERY=2      # one legitimate mail every 2 s
PROBE_INTERVAL=0.5
BS_THRESHOLD=5     # unknown recipients before the penalty box
# The tuner's phase: smtp limits generous enough not to bite at scale 1
# (the flood makes ~450 sessions/s), which the tuner scales down to a
# tenth while the directory's latency (p90 of its probe, every 0.5 s) is
# over 20 ms, a few times its baseline.
TUNER_SMTP=("rate = 500/s" "burst = 1000" "source_conns = 100")
TUNER_INTERVAL=500ms
TUNER_TARGET=20ms

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
PHASE_LOG_LINES=()	# per phase, its window of slapd's log: "FROM TO"
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
	PHASE_LOG_LINES+=("$l0 $l1")
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

# tuner_sampler SECS OUT: every second for SECS s, one line of what the
# tuners show: "T SMTP_SCALE LATENCY_MS READING SLAPD_FDS LDAP_CAP"
# (mxguardctl -j tuner of the mail host's guard, and the directory's
# ldap cap from its guard; slapd's descriptors from /proc; "-" for what
# is not there). In the background; bounded by SECS.
tuner_sampler() {
	local end=$((SECONDS + $1)) t0=$SECONDS i mail dir
	for ((i = 0; i < $1 + 5 && SECONDS < end; i++)); do
		mail=$(ctl_json tuner 2>/dev/null) || mail='{}'
		dir=$("$MXGCTL" -j --pin-dir "$DIR_PIN" tuner 2>/dev/null) || dir='{}'
		python3 -c '
import json, sys
def doc(s):
    try:
        return json.loads(s)
    except ValueError:
        return {}
d, dd = doc(sys.argv[3]), doc(sys.argv[4])
lat = d.get("signals", {}).get("latency", {})
v = lat.get("value")
cap = dd.get("classes", {}).get("ldap", {}).get("total_conns_cap")
print(sys.argv[1], d.get("classes", {}).get("smtp", {}).get("scale", "-"),
      "-" if v is None else "%.0f" % (v * 1000), lat.get("reading", "-"), sys.argv[2],
      "-" if cap is None else cap)' "$((SECONDS - t0))" "$(slapd_fds)" "$mail" "$dir" >>"$2" || true
		sleep 1
	done
}

# tuner_plot SAMPLES: the scale over time beside the directory's latency,
# one row a second: # is 0.05 of scale, = is 20 ms (at most 400).
tuner_plot() {
	python3 - "$1" "$SLAPD_FDLIMIT" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 6]
print("   t  smtp scale                  directory latency (tuner's p90)      slapd fds  ldap cap")
for t, scale, lat, reading, fds, cap in rows:
    try:
        sc, sb = "%.2f" % float(scale), "#" * round(float(scale) * 20)
    except ValueError:
        sc, sb = scale, ""
    try:
        lt, lb = "%5s ms" % lat, "=" * min(20, round(float(lat) / 20))
    except ValueError:
        lt, lb = "%8s" % lat, ""
    print("%4s  %4s %-20s  %8s %-10s %-20s %4s/%s %9s" % (t, sc, sb, lt, reading, lb, fds, sys.argv[2], cap))
EOF
}

# tuner_guards_start: the tuner alone, as a site would run it on both
# hosts (no [lookup], no [smtp_inspect], no total_conns anywhere):
#   directory host  mxguardd in front of slapd (its eth0), the ldap class
#                   with no limit of its own: the tuner's descriptor cap
#                   from slapd's pid file keeps its reserve free. Postfix's
#                   lookups are the connections it counts: the mail host's
#                   guard never sees them (on this one machine both hosts
#                   share the pid namespace, but only the directory's guard
#                   stands in front of slapd's port);
#   mail host       mxguardd with generous smtp limits that the tuner
#                   scales by the directory's latency (its probe needs
#                   [ldap], which also loads a recipient mirror that
#                   nothing consults here).
# Sets DIR_PIN and DIR_MXGD_PID; MXGD_PID is the mail host's.
DIR_PIN="" DIR_MXGD_PID=""
tuner_guards_start() {
	local dconf=$LAB_TMP/mxguard.dir.conf
	DIR_PIN=$LAB_PIN-dir
	LAB_PINS_MORE+=("$DIR_PIN")
	cat >"$dconf" <<EOF
# mxguard on the directory host for $LAB_NAME (pid $$)
[global]
interfaces = eth0
attach = ${LAB_ATTACH:-auto}
pin_dir = $DIR_PIN
max_sources = 4096
on_exit = detach
[class ldap]
rate = off
[tuner]
interval = $TUNER_INTERVAL
descriptors_pid_file = $SLAPD_DIR/slapd.pid
EOF
	MXGD_NS=$LAB_NS_D mxgd_start "$dconf" "$LAB_TMP/mxguardd.dir.log"
	DIR_MXGD_PID=$MXGD_PID
	(umask 077 && printf '%s\n' "$SLAPD_BIND_PW" >"$LAB_TMP/ldap.secret")
	conf_write "$LAB_TMP/mxguard.tuner.conf" detach "[class smtp]" "${TUNER_SMTP[@]}" \
		"[ldap]" "uri = ldap://$LAB_DIR4:389/" "base = $SLAPD_PEOPLE" \
		"bind_dn = $SLAPD_BIND_DN" "bind_password_file = $LAB_TMP/ldap.secret" \
		"attributes = mail" "domains = $LAB_RCPT_DOMAIN" \
		"sync = poll" "poll_interval = 1h" "max_age = 2h" \
		"[tuner]" "interval = $TUNER_INTERVAL" "latency_target = $TUNER_TARGET" \
		"latency_classes = smtp"
	mxgd_start "$LAB_TMP/mxguard.tuner.conf" "$LAB_TMP/mxguardd.tuner.log"
}

# tuner_guards_down: both stopped (bounded), their programs and pins gone.
tuner_guards_down() {
	guard_down
	MXGD_PID=$DIR_MXGD_PID
	mxgd_stop TERM || log "the directory host's mxguardd exited with status $? on SIGTERM"
	timeout 20 "$MXGCTL" --pin-dir "$DIR_PIN" unload >/dev/null 2>&1 || log "mxguardctl unload ($DIR_PIN) failed"
	rm -rf "$DIR_PIN"
}

# phase_figures NAME ROW: the bench's figures of the phase whose row is
# ROWS[ROW] (search p99 as slapd times it and as a client sees it, EMFILE,
# legit mails delivered), when MXG_BENCH_FIGURES is set (tools/bench.sh,
# part tuner).
phase_figures() {
	local name=$1 dir=$LAB_TMP/phase.$2 p99 emfile sad l0 l1 srv
	[[ -n ${MXG_BENCH_FIGURES:-} ]] || return 0
	read -r l0 l1 <<<"${PHASE_LOG_LINES[$2]}"
	srv=$(sed -n "$((l0 + 1)),${l1}p" "$SLAPD_LOG" | python3 -c '
import re, sys
t = sorted(float(m.group(1)) * 1000 for l in sys.stdin if "SEARCH RESULT" in l
           for m in [re.search(r"etime=([0-9.]+)", l)] if m)
print("%.1f" % t[min(len(t) - 1, int(0.99 * len(t)))] if t else "-")')
	bench_figure tuner "incident, $name: directory search p99 (slapd etime)" "$srv" ms
	p99=$(python3 - "$dir/probe" <<'EOF'
import sys
v = [l.strip() for l in open(sys.argv[1]) if l.strip()]
t = sorted(3000.0 if x == "fail" else float(x) for x in v)
print("%.0f" % t[min(len(t) - 1, int(0.99 * len(t)))] if t else "-")
EOF
)
	# The row ends "EMFILE s/a/d p50 p99 queue"; the phase's name has spaces.
	read -r emfile sad < <(awk '{ print $(NF - 4), $(NF - 3) }' <<<"${ROWS[$2]}")
	bench_figure tuner "incident, $name: directory search p99 (a client, a new connection each, a failure as 3000)" "$p99" ms
	# The tuner's aim: the directory never runs out of descriptors.
	bench_figure tuner "incident, $name: slapd EMFILE lines" "$emfile" lines \
		"$([[ $name == tuner ]] && echo "== 0")"
	bench_figure tuner "incident, $name: legitimate mails delivered (of ${sad%%/*})" "${sad##*/}" mails
}

EMFILE_SAMPLE="" BAN="" TUNER_SAMPLES=""
if want_phase baseline; then
	run_phase "baseline" 0
fi
if want_phase noguard; then
	run_phase "flood, no guard" 1
	phase_figures "no guard" $((${#ROWS[@]} - 1))
	EMFILE_SAMPLE=$(grep -m1 -E 'Too many open files|errno=2[34]\b|EMFILE' "$SLAPD_LOG" || true)
fi

if want_phase guard; then
	log "switching on the guard: mxguardd mirror + socketmap + smtp_inspect penalize"
	recover
	guard_backscatter_start "$LAB_TMP/mxguard.conf" "$LAB_TMP/mxguardd.log" "$BS_THRESHOLD"
	GUARD=1
	run_phase "flood, guard" 1
	BAN=$(ctl ban list 2>&1 | grep -F "${LAB_CLIENT4[0]}" || true)
	guard_down
	GUARD=0
	# The next phase is the 2013 setup again: Postfix asks slapd.
	want_phase tuner && pf_use_ldap_table
fi

if want_phase tuner; then
	log "switching on the tuner alone: mail host smtp ${TUNER_SMTP[*]}, latency_target $TUNER_TARGET; directory host: slapd's descriptors; Postfix on its ldap: table"
	recover
	tuner_guards_start
	GUARD=1
	TUNER_SAMPLES=$LAB_TMP/tuner.samples
	: >"$TUNER_SAMPLES"
	tuner_sampler $((PHASE_SECS + 2)) "$TUNER_SAMPLES" &
	LAB_BG_PIDS+=($!)
	run_phase "flood, tuner" 1
	phase_figures "tuner" $((${#ROWS[@]} - 1))
	tuner_guards_down
	GUARD=0
fi

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
if [[ -n $TUNER_SAMPLES ]]; then
	echo
	echo "the tuner during \"flood, tuner\" (mxguardctl -j tuner once a second): the mail host's smtp"
	echo "scale (# = 0.05) beside the directory's search latency as its tuner measures it (p90 of"
	echo "its probe, one every $TUNER_INTERVAL; = is 20 ms), slapd's descriptors and the ldap cap the"
	echo "directory host's tuner derives from them:"
	tuner_plot "$TUNER_SAMPLES"
	echo "guards: mail host [class smtp] ${TUNER_SMTP[*]}, [tuner] interval = $TUNER_INTERVAL,"
	echo "latency_target = $TUNER_TARGET, latency_classes = smtp; directory host [class ldap] rate = off,"
	echo "[tuner] descriptors_pid_file = slapd's. No total_conns, no lookup socket, no inspection:"
	echo "Postfix asks slapd through its ldap: table."
	grep -m3 -i 'tuner' "$LAB_TMP/mxguardd.tuner.log" | sed 's/^/mail host mxguardd logged: /' || true
	grep -m3 -i 'tuner' "$LAB_TMP/mxguardd.dir.log" | sed 's/^/directory host mxguardd logged: /' || true
fi
echo "run time: $((SECONDS - T_START)) s"

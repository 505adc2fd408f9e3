#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make demo`: what mxguard does for a mail host under a connection flood,
# both halves of the 2013 incident, in a netns lab:
#   mail       a real Postfix; one client floods port 25 (as many connects
#              as it can for FLOOD_SECS, holding each accepted connection
#              open like a slow spammer), another sends one real mail per
#              second (build/tools/legit -s, each transaction timed);
#   directory  a real OpenLDAP slapd with a low fd limit (ulimit -n
#              SLAPD_FDLIMIT, as the 2013 directory had 1024); one client
#              piles up to LDAP_FLOOD connections on it and holds them
#              (build/tools/connflood -k),
#              another does one search every LDAP_INTERVAL seconds;
#   backscatter  the same Postfix validating recipients at RCPT time; one
#              client sends null-sender bounces to random local recipients
#              (build/tools/smtpflood: BS_MAX sessions, BS_PAR at once, new
#              ones for at most BS_SECS), the other one real mail a
#              second (legit -s again): first through Postfix's own
#              ldap: table (one LDAP search per RCPT, as in 2013), then
#              through mxguard's socketmap with the SMTP inspector
#              penalising the source;
#   fleet      two MX hosts, each with Postfix and mxguardd, sharing the
#              penalty box through a provider and a consumer slapd: a
#              backscatter source moves from mx1 to mx2 once refused, the
#              provider is killed mid-run (tools/demo-fleet.sh).
# The first three parts run twice, without and with mxguardd, and print a
# table; the fleet runs once and prints its timeline.
#
# Usage: tools/demo.sh BUILD   (root; about five minutes; cleans up on exit)
#        DEMO_SCENES="fleet" tools/demo.sh BUILD   runs only those scenes
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
# The demo runs in the lab under its own names.
LAB_PREFIX=mxdemo
LAB_TOOLS_NEEDED="legit connflood smtpflood"
. "$SRC/tools/lab.sh"

FLOOD_SECS=10
LEGIT_MAILS=10
GUARD_RATE=5/s
GUARD_BURST=10
# The directory half. slapd needs ~13 descriptors of its own, so with 64 it
# can hold ~50 clients: total_conns 40 stays below that, and the flooder's
# source_conns 30 leaves 10 connections for every other client.
SLAPD_FDLIMIT=64
SLAPD_USERS=100
LDAP_FLOOD=200
LDAP_FLOOD_SECS=15
LDAP_INTERVAL=0.5
LDAP_TOTAL=40
LDAP_SOURCE=30
# The backscatter part: 200 bounce sessions, 2 at once (new ones for at
# most 10 s); the source goes into the penalty box past BS_THRESHOLD
# unknown recipients.
BS_SECS=10
BS_PAR=2
BS_MAX=200
BS_THRESHOLD=5

# DEMO_SCENES: the scenes to run, in this order (default all of them).
DEMO_SCENES=${DEMO_SCENES:-mail directory backscatter fleet}
scene() { [[ " $DEMO_SCENES " == *" $1 "* ]]; }

lab_init "${1:?usage: $0 BUILD}" demo
log "setting up the lab (namespaces $LAB_NS_S, $LAB_NS_C1, $LAB_NS_C2)"
lab_netns_up
# A small server: 20 smtpd processes, as on a modest MX. The flood's aim
# is to keep them all busy so that legitimate senders wait or time out.
pf_start "default_process_limit = 20"

FLOOD_ADDR=${LAB_CLIENT4[0]}

# flood NS ADDR SECS: connect as fast as possible for SECS with
# build/tools/connflood (at most 64 connects pending, at most 200 accepted
# connections held open for 0.5 s each, at most 500000 attempts). Connect
# timeout 0.5 s, below the 1 s SYN retransmission timeout, so attempts ==
# SYNs sent. Prints "attempts accepted" ("- -" if connflood failed: it
# runs in the background, where die would end only the subshell).
flood() {
	local out
	if ! out=$(ip netns exec "$1" timeout $(($3 + 10)) "$BUILD/tools/connflood" -d "$2" \
		-P 64 -c 500000 -t "${3}s" -T 500ms -H 500ms -M 200); then
		log "connflood failed: $out"
		echo "- -"
		return
	fi
	python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["attempts"], d["established"])' "$out"
}

# postfix_connects ADDR: "connect from" lines for ADDR in Postfix's log.
postfix_connects() { grep -c " connect from [^ ]*\[$1\]" "$PF_LOG" 2>/dev/null || true; }

# Wait (bounded, 30 s) until Postfix has worked through its backlog: the
# count of connections it accepted from the flooder stops changing.
settle_postfix() {
	local last=-1 now i stable=0
	for ((i = 0; i < 60 && stable < 4; i++)); do
		now=$(postfix_connects "$FLOOD_ADDR")
		if [[ $now == "$last" ]]; then stable=$((stable + 1)); else stable=0; fi
		last=$now
		sleep 0.5
	done
}

# run_phase NAME: one flood + legitimate run. Appends a row to ROWS.
ROWS=()
run_phase() {
	local name=$1 pf0 qid sent accepted p50 p99 qids delivered=0 drops=- legit_pid rcpts=()
	pf0=$(postfix_connects "$FLOOD_ADDR")
	local d0=0
	if [[ $name != "no guard" ]]; then
		d0=$(guard_drops)
	fi
	log "$name: flooding from $FLOOD_ADDR for ${FLOOD_SECS}s, one mail/s from ${LAB_CLIENT4[1]}"
	flood "$LAB_NS_C1" "$LAB_SERVER4" "$FLOOD_SECS" >"$LAB_TMP/flood" &
	local flood_pid=$!
	LAB_BG_PIDS+=("$flood_pid")
	rcpts=("${LAB_RCPTS[@]/%/@$LAB_RCPT_DOMAIN}")
	# Its schedule is the sender's, one mail a second; each transaction
	# is bounded at 30 s, so is the wait.
	legit_mail "$LAB_NS_C2" "$LAB_SERVER4" "$LEGIT_MAILS" 1000 "${rcpts[@]}" \
		>"$LAB_TMP/legit.json" 2>"$LAB_TMP/legit.err" &
	legit_pid=$!
	LAB_BG_PIDS+=("$legit_pid")
	wait "$flood_pid" || true
	wait "$legit_pid" || true
	read -r sent accepted p50 p99 qids < <(legit_figures "$(cat "$LAB_TMP/legit.json")")
	for qid in $qids; do
		wait_until 10 pf_log_has "$qid: .*status=sent" && delivered=$((delivered + 1))
	done
	settle_postfix
	local attempts flood_accepted
	read -r attempts flood_accepted <"$LAB_TMP/flood"
	local pf_acc=$(($(postfix_connects "$FLOOD_ADDR") - pf0))
	if [[ $name != "no guard" ]]; then
		drops=$(($(guard_drops) - d0))
	fi
	ROWS+=("$(printf '%-10s %12s %12s %14s %10s %10s %7s %7s %12s' "$name" \
		"$attempts" "$flood_accepted" "$pf_acc" "$sent" "$delivered" "$p50" "$p99" "$drops")")
}

guard_drops() {
	ctl_json stats | python3 -c '
import json, sys
print(sum(json.load(sys.stdin)["classes"]["smtp"]["dropped"].values()))'
}

conf=$LAB_TMP/mxguard.conf
if scene mail; then
	run_phase "no guard"
	conf_write "$conf" detach "[class smtp]" "ports = 25" "rate = $GUARD_RATE" "burst = $GUARD_BURST"
	log "starting mxguardd (smtp: rate $GUARD_RATE, burst $GUARD_BURST per source)"
	mxgd_start "$conf" "$LAB_TMP/mxguardd.log"
	run_phase "mxguardd"
	guard_down
fi

# ---------------------------------------------------------------- directory

# legit_searches NS SECS: one search every LDAP_INTERVAL s for SECS s (at
# most 1000). Prints "ok failed".
legit_searches() { SLAPD_NUSERS=$SLAPD_USERS ldap_search_loop "$1" 1000 "$LDAP_INTERVAL" "$2"; }

# ldap_drops: the ldap class's drops by reason, "source_conns/total_conns/rate".
ldap_drops() {
	ctl_json stats | python3 -c '
import json, sys
d = json.load(sys.stdin)["classes"]["ldap"]["dropped"]
print("%d/%d/%d" % (d["source_conns"], d["total_conns"], d["rate"]))'
}

# flood_held: slapd has accepted LDAP_SIEGE connections from the flooder.
LDAP_SIEGE=20
flood_held() { (($(slapd_accepts "$FLOOD_ADDR") >= LDAP_SIEGE)); }

# run_ldap_phase NAME: a fresh slapd, the flood and the legitimate
# searches at once. Appends a row to LDAP_ROWS.
LDAP_ROWS=()
run_ldap_phase() {
	local name=$1 d0="" drops=- attempts established held ok failed
	slapd_start "$SLAPD_FDLIMIT" "$SLAPD_USERS"
	if [[ $name != "no guard" ]]; then
		d0=$(ldap_drops)
	fi
	log "$name: ${LAB_CLIENT4[0]} piles up to $LDAP_FLOOD connections on slapd (fd limit $SLAPD_FDLIMIT) for ${LDAP_FLOOD_SECS}s; ${LAB_CLIENT4[1]} searches every ${LDAP_INTERVAL}s"
	tcp_hold "$LAB_NS_C1" "$LAB_SERVER4" 389 "$LDAP_FLOOD" "$LDAP_FLOOD_SECS" 0.5 >"$LAB_TMP/ldapflood" &
	local flood_pid=$!
	LAB_BG_PIDS+=("$flood_pid")
	# The searches are meant to run against a directory already under
	# siege: they start once slapd holds LDAP_SIEGE of the flooder's
	# connections (bounded: with the guard, it may hold fewer).
	wait_until 5 flood_held || true
	read -r ok failed < <(legit_searches "$LAB_NS_C2" $((LDAP_FLOOD_SECS - 3)))
	wait "$flood_pid" || true
	read -r attempts established held <"$LAB_TMP/ldapflood"
	if [[ $name != "no guard" ]]; then
		local s0 t0 r0 s1 t1 r1
		IFS=/ read -r s0 t0 r0 <<<"$d0"
		IFS=/ read -r s1 t1 r1 <<<"$(ldap_drops)"
		drops="$((s1 - s0))/$((t1 - t0))/$((r1 - r0))"
	fi
	LDAP_ROWS+=("$(printf '%-10s %10s %10s %8s %8s %10s %12s %18s' "$name" \
		"$attempts" "$established" "$held" "$ok" "$failed" "$(slapd_fd_errors)" "$drops")")
	cp "$SLAPD_LOG" "$LAB_TMP/slapd-$name.log"
	if [[ $name == "no guard" ]]; then
		SLAPD_ERR_SAMPLE=$(grep -m1 -E 'Too many open files|errno=2[34]' "$SLAPD_LOG" || true)
	fi
	slapd_stop
}

SLAPD_ERR_SAMPLE=""
if scene directory; then
	run_ldap_phase "no guard"
	conf_write "$conf" detach "[class ldap]" "source_conns = $LDAP_SOURCE" "total_conns = $LDAP_TOTAL"
	log "starting mxguardd (ldap: total_conns $LDAP_TOTAL, source_conns $LDAP_SOURCE)"
	mxgd_start "$conf" "$LAB_TMP/mxguardd.ldap.log"
	run_ldap_phase "mxguardd"
	guard_down
fi

# -------------------------------------------------------------- backscatter

BS_ADDR=${LAB_CLIENT4[0]}

# legit_mails N: N real mails from client 2 to known users, one a second,
# with legit -s in the background (each transaction bounded at 30 s);
# once it is waited for (wait "$LEGIT_PID", in this shell: a subshell
# cannot wait for it), legit_result prints "sent delivered p50_ms p99_ms".
LEGIT_PID=""
legit_mails() {
	local i rcpts=()
	for ((i = 0; i < $1 && i < 16; i++)); do
		rcpts+=("user$((i % SLAPD_USERS + 1))@$LAB_RCPT_DOMAIN")
	done
	legit_mail "$LAB_NS_C2" "$LAB_SERVER4" "$1" 1000 "${rcpts[@]}" \
		>"$LAB_TMP/bslegit.json" 2>"$LAB_TMP/bslegit.err" &
	LEGIT_PID=$!
	LAB_BG_PIDS+=("$LEGIT_PID")
}
legit_result() {
	local sent accepted p50 p99 qids qid delivered=0
	read -r sent accepted p50 p99 qids < <(legit_figures "$(cat "$LAB_TMP/bslegit.json")")
	for qid in $qids; do
		wait_until 10 pf_log_has "$qid: .*status=sent" && delivered=$((delivered + 1))
	done
	echo "$sent $delivered $p50 $p99"
}

# rcpt_counters: the inspector's counters, "known=N unknown=N ...".
rcpt_counters() {
	ctl_json stats | python3 -c '
import json, sys
r = json.load(sys.stdin)["rcpt"]
print(" ".join("%s=%d" % (k, r[k]) for k in
      ("known", "unknown", "foreign", "null_sender", "not_judged", "penalized")))'
}

# run_bs_phase NAME LOOKUP: the bounce source and the legitimate sender
# at once. Appends a row to BS_ROWS.
BS_ROWS=()
run_bs_phase() {
	local name=$1 lookup=$2 s0 s1 bs_pid
	local sessions completed failed c2 c4 c5 sent delivered p50 p99
	s0=$(slapd_searches)
	log "$name: $BS_ADDR sends $BS_MAX bounces to random local recipients, $BS_PAR sessions at once; ${LAB_CLIENT4[1]} one mail/s"
	backscatter "$LAB_NS_C1" "$BS_SECS" "$BS_PAR" "$BS_MAX" >"$LAB_TMP/bs" &
	bs_pid=$!
	LAB_BG_PIDS+=("$bs_pid")
	legit_mails "$LEGIT_MAILS"
	wait "$bs_pid" || true
	wait "$LEGIT_PID" || true
	read -r sent delivered p50 p99 < <(legit_result)
	read -r sessions completed failed c2 c4 c5 < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(*(d[k] for k in ("sessions", "completed", "failed", "rcpt_ok", "rcpt_temp", "rcpt_perm")))' \
		"$(cat "$LAB_TMP/bs")") || die "the bounce source reported nothing: $(cat "$LAB_TMP/bs")"
	s1=$(slapd_searches)
	BS_ROWS+=("$(printf '%-10s %-10s %9s %9s %9s %6s %6s %6s %14s %6s %9s %7s %7s' "$name" "$lookup" \
		"$sessions" "$completed" "$failed" "$c2" "$c5" "$c4" "$s0 -> $s1" "$sent" "$delivered" "$p50" "$p99")")
}

if scene backscatter; then
	log "backscatter: a fresh slapd with $SLAPD_USERS users; Postfix validates recipients through ldap:"
	slapd_start 1024 "$SLAPD_USERS"
	pf_use_ldap_table
	run_bs_phase "no guard" "ldap:"

	log "starting mxguardd (mirror of slapd, lookup socket, smtp_inspect penalize, threshold $BS_THRESHOLD)"
	guard_backscatter_start "$conf" "$LAB_TMP/mxguardd.bs.log" "$BS_THRESHOLD"
	BS_COUNTERS0=$(rcpt_counters)
	run_bs_phase "mxguardd" "socketmap"
	BS_COUNTERS=$(rcpt_counters)
	BS_BAN=$(ctl ban list 2>&1 | grep -F "$BS_ADDR" || true)
	# The daemon logs penalties aggregated, at most one line per 10 s.
	wait_until 15 grep -q 'penalty box: put' "$LAB_TMP/mxguardd.bs.log" || true
	BS_EVENT=$(grep -m1 'penalty box: put' "$LAB_TMP/mxguardd.bs.log" || true)
	guard_down
	slapd_stop
fi

# -------------------------------------------------------------------- fleet

# The scene and its report are in tools/demo-fleet.sh.
. "$SRC/tools/demo-fleet.sh"
if scene fleet; then
	demo_fleet_scene
fi

if scene mail; then
echo
echo "mail: Postfix (20 smtpd processes) under a connection flood"
printf '%-10s %12s %12s %14s %10s %10s %7s %7s %12s\n' phase "flood SYNs" "flood conns" \
	"Postfix accept" "mails sent" delivered "p50 ms" "p99 ms" "guard drops"
printf '%s\n' "${ROWS[@]}"
echo
echo "flood SYNs: connection attempts by the flooder (one SYN each); flood conns:"
echo "handshakes it completed; Postfix accept: its smtpd 'connect from' lines;"
echo "mails sent/delivered: the legitimate sender's mails (tools/legit -s) / status=sent;"
echo "p50/p99 ms: their transaction latency, connect to the 250 after the dot."
fi
if scene directory; then
echo
echo "directory: slapd (ulimit -n $SLAPD_FDLIMIT) under a connection flood"
printf '%-10s %10s %10s %8s %8s %10s %12s %18s\n' phase "flood SYNs" "flood conns" \
	"held" "legit ok" "legit fail" "slapd EMFILE" "drops src/tot/rate"
printf '%s\n' "${LDAP_ROWS[@]}"
echo
echo "flood SYNs/conns: the flooder's connection attempts / handshakes completed;"
echo "held: most connections it held at once; legit ok/fail: the other client's"
echo "ldapsearch runs (3 s limit each); slapd EMFILE: lines where slapd could not"
echo "accept for lack of descriptors (it then stops listening until one closes);"
echo "drops: SYNs mxguard dropped by reason (source_conns/total_conns/rate)."
echo "guard: [class ldap] total_conns = $LDAP_TOTAL, source_conns = $LDAP_SOURCE."
if [[ -n $SLAPD_ERR_SAMPLE ]]; then
	echo "slapd without the guard logged: ${SLAPD_ERR_SAMPLE#* * }"
fi
fi
if scene backscatter; then
echo
echo "backscatter: bounces (MAIL FROM:<>) to random local recipients; Postfix validates at RCPT"
printf '%-10s %-10s %9s %9s %9s %6s %6s %6s %14s %6s %9s %7s %7s\n' phase lookups sessions \
	completed failed 250s 550s 4xx "LDAP SRCH" legit delivered "p50 ms" "p99 ms"
printf '%s\n' "${BS_ROWS[@]}"
echo
echo "sessions/completed/failed: the bounce source's sessions (tools/smtpflood) / those"
echo "that ended with QUIT / those whose connect or replies did not come within 10 s (in"
echo "the penalty box, a source's SYNs are dropped); 250s/550s/4xx: Postfix's answers to"
echo "their RCPTs (the 550s with the guard: the unknown recipients it took to penalise the"
echo "source); LDAP SRCH: slapd's search count before -> after (the legitimate mails'"
echo "lookups included); legit / delivered: the other client's mails (tools/legit -s) /"
echo "status=sent; p50/p99 ms: their transaction latency, connect to the 250 after the dot."
echo "guard: [smtp_inspect] mode = penalize, unknown_threshold = $BS_THRESHOLD (past it: the"
echo "penalty box); [class smtp] rate = off; Postfix: relay_recipient_maps = socketmap:...:rcpt."
echo "rcpt counters before: $BS_COUNTERS0"
echo "rcpt counters after:  $BS_COUNTERS"
if [[ -n $BS_BAN ]]; then echo "mxguardctl ban list: $(xargs <<<"$BS_BAN")"; fi
if [[ -n $BS_EVENT ]]; then echo "mxguardd logged: $BS_EVENT"; fi
fi
if scene fleet; then
	demo_fleet_report
fi

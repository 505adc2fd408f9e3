#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# tools/failover-bench.sh BUILD: the recipient mirror when its directory
# server dies (issue 15, "Numbers"): how long lookups answered TEMP, how
# many answers were wrong (must be 0), and how long until the mirror
# followed the replica. Part of `make bench`; nothing asserted.
#
# In the netns lab (tools/lab.sh): a provider slapd (syncprov) with
# MXG_BENCH_FAILOVER_USERS people (default 20000) and a consumer that
# replicates it and serves it through its own syncprov (slapd_pair_up);
# mxguardd with `uri = PROVIDER, CONSUMER`, sync = syncrepl, max_age
# MXG_BENCH_FAILOVER_MAX_AGE s (default 30), and the [lookup] socket;
# build/tools/lookup-watch asks MXG_BENCH_FAILOVER_RATE lookups a second
# (default 2000; half known, half unknown) on one connection, as an MTA
# does, and checks every answer. Under that load the provider is
#   1. killed (SIGKILL: a host that dies), then started again, the mirror
#      sent back to it (the consumer stopped and started again);
#   2. stopped cleanly (SIGTERM).
# Each kill gives: the seconds the lookups answered TEMP, the wrong
# answers, and the seconds from the kill to the mirror following the
# consumer with its full refresh swapped in (the log's "following" line).
# With MXG_BENCH_FIGURES set (tools/bench.sh does), the figures are also
# appended to it as JSON lines (tools/bench-lib.sh).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB_PREFIX=mxfo
LAB_TOOLS_NEEDED="lookup-watch"
. "$SRC/tools/lab.sh"
. "$SRC/tools/bench-lib.sh"

lab_init "${1:?usage: $0 BUILD}" failover-bench
for c in slapd slapadd ldapsearch; do
	command -v "$c" >/dev/null || lab_unavailable "needs $c (Debian packages slapd, ldap-utils)"
done
USERS=$(knob MXG_BENCH_FAILOVER_USERS 20000)
RATE=$(knob MXG_BENCH_FAILOVER_RATE 2000)
MAX_AGE=$(knob MXG_BENCH_FAILOVER_MAX_AGE 30)
DOM=$LAB_RCPT_DOMAIN
PPORT=389 CPORT=390
SOCK=$LAB_TMP/lookup.sock
conf=$LAB_TMP/mxguard.conf
MXGD_LOG=$LAB_TMP/mxguardd.log

lab_netns_up
ldif=$LAB_TMP/people.ldif
{
	slapd_base_ldif
	slapd_people_ldif "$USERS" same
} >"$ldif"
t0=${EPOCHREALTIME/[.,]/}
slapd_pair_up prov "$PPORT" cons "$CPORT" "$ldif"
echo "failover: provider and consumer with $USERS people, replicated in $(lab_secs $(((${EPOCHREALTIME/[.,]/} - t0) / 1000))) s"
PROV=$(slapd_uri prov) CONS=$(slapd_uri cons)

(umask 077 && printf '%s\n' "$SLAPD_BIND_PW" >"$LAB_TMP/ldap.secret")
conf_write "$conf" detach \
	"[ldap]" "uri = $PROV, $CONS" "bind_dn = $SLAPD_BIND_DN" \
	"bind_password_file = $LAB_TMP/ldap.secret" "base = $SLAPD_PEOPLE" \
	"attributes = mail, mailLocalAddress" "domains = $DOM" \
	"sync = syncrepl" "max_age = ${MAX_AGE}s" \
	"[lookup]" "socket = $SOCK"
mxgd_start "$conf" "$MXGD_LOG"
mirror_ready() {
	[[ $(ctl_json rcpt check "user1@$DOM" | json_get mirror_ready) == True ]]
}
wait_until 120 mirror_ready || die "the mirror did not become ready: $(tail -5 "$MXGD_LOG")"

# What the lookups must get: known and unknown in turn, over the users.
expect=$LAB_TMP/expect
for ((i = 0; i < 2000; i++)); do
	if ((i % 2)); then
		echo "OK user$((i * 7919 % USERS + 1))@$DOM"
	else
		echo "NOTFOUND nobody$i@$DOM"
	fi
done >"$expect"

follows() { (($(grep -cF "recipient mirror: following $1 with syncrepl" "$MXGD_LOG" || true) > $2)); }
following_count() { grep -cF "recipient mirror: following $1 with syncrepl" "$MXGD_LOG" || true; }

# kill_under_load LABEL SIGNAL: the provider stopped with SIGNAL under
# the load; prints the row, records the figures.
kill_under_load() {
	local label=$1 sig=$2 out=$LAB_TMP/watch.$1 before pid n wrong temp temp_s
	before=$(following_count "$CONS")
	nsenter --net="/run/netns/$LAB_NS_S" "$BUILD/tools/lookup-watch" -r "$RATE" -t 120 \
		"$SOCK" "$expect" >"$out.json" 2>"$out.log" &
	pid=$!
	LAB_BG_PIDS+=("$pid")
	wait_until 10 grep -q 'first answer' "$out.log" || die "lookup-watch: no answer: $(cat "$out.log")"
	# Some load on the provider's mirror first.
	sleep 2
	if [[ $sig == KILL ]]; then
		slapd_crash prov
	else
		slapd_kill prov
	fi
	wait_within 60 follows "$CONS" "$before" ||
		die "$label: the mirror did not follow the consumer: $(tail -5 "$MXGD_LOG")"
	local took=$WAITED
	# The load on the consumer's mirror a while.
	sleep 2
	kill -TERM "$pid"
	wait "$pid" || die "lookup-watch failed: $(cat "$out.log")"
	n=$(json_get lookups <"$out.json")
	wrong=$(json_get wrong <"$out.json")
	temp=$(json_get temp <"$out.json")
	temp_s=$(json_get temp_s <"$out.json")
	printf '  %-34s %7s lookups  %5s wrong  %5s TEMP (%s s)  consumer followed after %s s\n' \
		"$label" "$n" "$wrong" "$temp" "$temp_s" "$took"
	bench_figure failover "lookups answering TEMP, provider $label" "$temp_s" s "== 0"
	bench_figure failover "wrong answers, provider $label" "$wrong" answers "== 0"
	bench_figure failover "time until the mirror follows the consumer, provider $label" "$took" s
}

echo "failover: $RATE lookups/s (half known, half unknown) on one connection, max_age $MAX_AGE s"
kill_under_load "killed (SIGKILL)" KILL

# Back to the start: the provider again, the mirror on it (the consumer
# stopped: the next URI that answers is the provider), the consumer again.
slapd_run prov "$PPORT" 1024
slapd_consumer_wait cons prov 60 || die "the consumer did not resync"
before=$(following_count "$PROV")
slapd_kill cons
wait_until 60 follows "$PROV" "$before" || die "the mirror did not go back to the provider: $(tail -5 "$MXGD_LOG")"
slapd_run cons "$CPORT" 1024
slapd_consumer_wait cons prov 60 || die "the consumer did not resync"

kill_under_load "stopped (SIGTERM)" TERM

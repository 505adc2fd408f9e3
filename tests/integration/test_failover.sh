#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Acceptance test of directory failover for the recipient mirror (issue
# 15, item 2), with real OpenLDAP slapd instances in the netns lab: a
# provider (syncprov) and a consumer that replicates it (syncrepl
# refreshAndPersist) and serves it again through its own syncprov, and
# mxguardd with `uri = PROVIDER, CONSUMER` and the [lookup] socket. Each
# lookup phase runs build/tools/lookup-watch, a steady load that checks
# every answer against what the directory holds:
#   (a) both servers down at the first start: TEMP for known and unknown
#       alike, one log line naming each server with its reason, not ready;
#   (b) provider and consumer up: the mirror follows the provider (log),
#       ready with every address; known -> OK, unknown -> NOTFOUND;
#   (c) a change on the provider (an add, a delete, an address changed)
#       reaches the consumer (same contextCSN) and the mirror;
#   (d) the provider killed (SIGKILL) under load: the mirror switches to
#       the consumer (log names it), refreshes from it, and not one
#       answer is wrong or TEMP; the change of (c) is there after the
#       failover (read from the consumer alone);
#   (e) the provider back: nothing breaks (no wrong answer, the mirror
#       stays on the consumer: failback only at a reconnect), and a change
#       on the provider reaches the mirror through the consumer;
#   (f) clean stops (SIGTERM) under load: the consumer's sends the mirror
#       back to the provider (the first URI), then the provider's to the
#       consumer again: no wrong answer, no TEMP;
#   (g) both down: the last mirror answers right until max_age, TEMP
#       after it and never a wrong answer; (h) the provider back: ready
#       again, right answers;
#   (i) the provider hangs (SIGSTOP: its TCP still acknowledges, the
#       persistent search looks alive): the mirror's liveness search goes
#       unanswered, the session counts as lost, and the mirror switches
#       to the consumer; not one wrong answer.
# Every wait is bounded; nothing sleeps and then asserts.
#
# Usage: tests/integration/test_failover.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
LAB_TOOLS_NEEDED="lookup-watch"
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" failover
for c in slapd slapadd ldapmodify ldapsearch; do
	command -v "$c" >/dev/null || skip "needs $c (Debian packages slapd, ldap-utils)"
done
lab_netns_up

DOM=$LAB_RCPT_DOMAIN
NUSERS=2000
# Long enough for a failover (a 1 s backoff and a refresh of NUSERS from
# the consumer), short enough to see it pass in (g).
MAX_AGE=10
PPORT=389 CPORT=390
SLAPD_PORT_OF[prov]=$PPORT
PROV=ldap://$LAB_DIR4:$PPORT/
CONS=ldap://$LAB_DIR4:$CPORT/
WATCH=$BUILD/tools/lookup-watch
RATE=400
RUN=$LAB_TMP/run
SOCK=$RUN/lookup.sock
conf=$LAB_TMP/mxguard.conf
pwfile=$LAB_TMP/ldap.secret
mkdir -p "$RUN"
(umask 077 && printf '%s\n' "$SLAPD_BIND_PW" >"$pwfile")

# ---------------------------------------------------------------- helpers

# A failure shows what the daemon said last (the lab's die, and more).
die() {
	log "FAIL: $*"
	if [[ -s ${MXGD_LOG:-} ]]; then
		log "mxguardd's last lines:"
		tail -15 "$MXGD_LOG" | sed 's/^/    /' >&2
	fi
	exit 1
}

mstat() {
	local out
	out=$(ctl_json rcpt stats) || { log "rcpt stats failed: $out"; return 1; }
	json_get "$1" <<<"$out"
}
stat_is() { [[ $(mstat "$1") == "$2" ]]; }
generation_above() { local g; g=$(mstat generation) && ((g > $1)); }
# rcpt_is ADDR KNOWN READY: `rcpt check` says so.
rcpt_is() {
	local out got
	out=$(ctl_json rcpt check "$1") || return 1
	got=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["known"], d["mirror_ready"])' <<<"$out") || return 1
	[[ $got == "$2 $3" ]]
}
log_has() { grep -qF -- "$1" "$MXGD_LOG"; }
# lookups_answered: the lookups the daemon answered so far (all results).
lookups_answered() {
	ctl metrics | awk '/^mxguard_lookups_total\{/ { n += $NF } END { print n + 0 }'
}
# load_more N: wait (bounded) until the daemon answered N more lookups:
# the load goes on a while on the mirror as it is now.
load_more() {
	local want=$(($(lookups_answered) + $1))
	wait_until 30 test_answered "$want" || die "the daemon answered no $1 more lookups"
}
test_answered() { (($(lookups_answered) >= $1)); }
log_count() { grep -cF -- "$1" "$MXGD_LOG" || true; }
log_count_above() { (($(log_count "$1") > $2)); }

# The directory's content as the lookups must see it, one "OK ADDR" or
# "NOTFOUND ADDR" a line (lookup-watch's input): 100 users, the last one,
# 100 addresses that never existed, and what (c) changes.
expect_write() {
	local i
	{
		for ((i = 1; i <= 100; i++)); do
			((i == 2 || i == 3)) || echo "OK user$i@$DOM"
		done
		echo "OK user$NUSERS@$DOM"
		for ((i = 1; i <= 100; i++)); do
			echo "NOTFOUND nobody$i@$DOM"
		done
		if ((CHANGED)); then
			echo "NOTFOUND user2@$DOM"
			echo "NOTFOUND user3@$DOM"
			echo "OK moved3@$DOM"
			echo "OK newcomer@$DOM"
		else
			echo "OK user2@$DOM"
			echo "OK user3@$DOM"
			echo "NOTFOUND moved3@$DOM"
			echo "NOTFOUND newcomer@$DOM"
		fi
	} >"$LAB_TMP/expect"
}
CHANGED=0

# watch_start NAME SECS: lookup-watch in the background (stopped by
# watch_stop, or after SECS); returns once it has its first answer.
watch_start() {
	WATCH_OUT=$LAB_TMP/watch.$1.json WATCH_ERR=$LAB_TMP/watch.$1.log
	# nsenter itself (it execs): $! is lookup-watch's pid.
	nsenter --net="/run/netns/$LAB_NS_S" "$WATCH" -r "$RATE" -t "$2" "$SOCK" \
		"$LAB_TMP/expect" >"$WATCH_OUT" 2>"$WATCH_ERR" &
	WATCH_PID=$!
	LAB_BG_PIDS+=("$WATCH_PID")
	wait_until 10 grep -q 'first answer' "$WATCH_ERR" ||
		die "lookup-watch $1 got no answer: $(cat "$WATCH_ERR")"
}
# watch_stop: end the load; its JSON line is in $WATCH_OUT.
watch_stop() {
	kill -TERM "$WATCH_PID" 2>/dev/null || true
	wait "$WATCH_PID" || die "lookup-watch failed: $(cat "$WATCH_ERR")"
	[[ -s $WATCH_OUT ]] || die "lookup-watch printed nothing: $(cat "$WATCH_ERR")"
	log "lookups: $(cat "$WATCH_OUT")"
}
# watch_get FIELD: from the last run's line.
watch_get() { json_get "$1" <"$WATCH_OUT"; }
# watch_clean WHAT: the run had lookups, every one right (no wrong
# answer, no TEMP, no failed connection).
watch_clean() {
	local n
	n=$(watch_get lookups)
	check "$1: $n lookups, every answer right" test "$n" -gt 0 -a "$(watch_get right)" -eq "$n"
	check "$1: no wrong answer ($(watch_get first_wrong))" test "$(watch_get wrong)" -eq 0
	check "$1: no TEMP ($(watch_get temp_s) s)" test "$(watch_get temp)" -eq 0
	check "$1: no failed connection" test "$(watch_get errors)" -eq 0
}

# =========================================== (a) both down at the first start
ldif=$LAB_TMP/people.ldif
{
	slapd_base_ldif
	slapd_people_ldif "$NUSERS" same
} >"$ldif"
slapd_create prov 1 "$ldif"
slapd_consumer_create cons prov
conf_write "$conf" detach \
	"[ldap]" "uri = $PROV, $CONS" "bind_dn = $SLAPD_BIND_DN" \
	"bind_password_file = $pwfile" "base = $SLAPD_PEOPLE" \
	"filter = (objectClass=inetOrgPerson)" "attributes = mail, mailLocalAddress" \
	"domains = $DOM" "sync = syncrepl" "max_age = ${MAX_AGE}s" \
	"[lookup]" "socket = $SOCK"
MXGD_LOG=$LAB_TMP/mxguardd.log
mxgd_start "$conf" "$MXGD_LOG"
expect_write
both_down="recipient mirror: no server answers: $PROV: connect: Can't contact LDAP server; $CONS: connect: Can't contact LDAP server"
check "(a) one line names each server and why" wait_until 10 log_has "$both_down"
watch_start a 30
load_more 200
watch_stop
n=$(watch_get lookups)
check "(a) $n lookups, all TEMP with no server" test "$n" -gt 0 -a "$(watch_get temp)" -eq "$n"
check "(a) not one OK or NOTFOUND" test "$(watch_get right)" -eq 0 -a "$(watch_get wrong)" -eq 0
check "(a) the mirror says not ready" stat_is ready False
check "(a) ... and not connected" stat_is connected False

# ================================================ (b) provider and consumer up
slapd_run prov "$PPORT" 1024
slapd_run cons "$CPORT" 1024
slapd_consumer_wait cons prov 60 || die "(b) the consumer did not replicate the provider"
pass "(b) the consumer holds the provider's contextCSN"
# The backoff grew while both were down (1 s doubling): up to 16 s here.
wait_until 60 stat_is ready True || die "(b) mirror not ready: $(ctl_json rcpt stats); $(tail -5 "$MXGD_LOG")"
check "(b) the mirror follows the provider (log)" log_has "recipient mirror: following $PROV with syncrepl"
check "(b) not the whole list" not log_has "following $PROV $CONS"
check "(b) entries == $NUSERS addresses" stat_is entries "$NUSERS"
check "(b) the failure was logged once" test "$(log_count "$both_down")" -eq 1
watch_start b 30
load_more 1000
watch_stop
watch_clean "(b) provider"

# ====================================================== (c) a change, replicated
ldap_add prov <<EOF || die "(c) add failed"
$(person_ldif newcomer "newcomer@$DOM")
EOF
ldap_delete prov "uid=user2,$SLAPD_PEOPLE" || die "(c) delete failed"
ldap_modify prov <<EOF || die "(c) modify failed"
dn: uid=user3,$SLAPD_PEOPLE
changetype: modify
replace: mail
mail: moved3@$DOM
-
replace: mailLocalAddress
mailLocalAddress: moved3@$DOM

EOF
CHANGED=1
expect_write
slapd_consumer_wait cons prov 30 || die "(c) the change did not reach the consumer"
pass "(c) the change reached the consumer (same contextCSN)"
check "(c) newcomer@ is known" wait_until 10 rcpt_is "newcomer@$DOM" True True
check "(c) user2@ (deleted) is unknown" wait_until 10 rcpt_is "user2@$DOM" False True
check "(c) moved3@ (changed) is known" wait_until 10 rcpt_is "moved3@$DOM" True True
check "(c) user3@ (its old address) is unknown" wait_until 10 rcpt_is "user3@$DOM" False True

# =============================================== (d) the provider killed (SIGKILL)
gen=$(mstat generation)
watch_start d 90
slapd_crash prov
if wait_within 30 log_has "recipient mirror: switched from $PROV to $CONS"; then
	pass "(d) the mirror switched to the consumer ${WAITED} s after the kill (log)"
else
	die "(d) no switch to the consumer: $(tail -5 "$MXGD_LOG")"
fi
check "(d) it follows the consumer with syncrepl (log)" wait_until 20 log_has "recipient mirror: following $CONS with syncrepl"
check "(d) the lost session is logged, naming the provider" \
	log_has "recipient mirror: $PROV: syncrepl session ended"
check "(d) a full refresh from the consumer was swapped in" wait_until 20 generation_above "$gen"
check "(d) ready and connected again" wait_until 10 stat_is connected True
# A little more load on the mirror the consumer gave.
load_more 1000
watch_stop
watch_clean "(d) SIGKILL of the provider"
check "(d) entries == $NUSERS (one added, one deleted)" stat_is entries "$NUSERS"
check "(d) newcomer@ (added on the provider) is known from the consumer" rcpt_is "newcomer@$DOM" True True
check "(d) user2@ (deleted on the provider) stays unknown" rcpt_is "user2@$DOM" False True

# ================================================================ (e) provider back
switches=$(log_count "recipient mirror: switched from")
watch_start e 90
slapd_run prov "$PPORT" 1024
slapd_consumer_wait cons prov 30 || die "(e) the consumer did not resync with the provider"
ldap_add prov <<EOF || die "(e) add failed"
$(person_ldif latecomer "latecomer@$DOM")
EOF
check "(e) latecomer@ (added on the provider) reaches the mirror through the consumer" \
	wait_until 20 rcpt_is "latecomer@$DOM" True True
watch_stop
watch_clean "(e) the provider back"
check "(e) the mirror stays on the consumer (no failback without a reconnect)" \
	test "$(log_count "recipient mirror: switched from")" -eq "$switches"
check "(e) connected" stat_is connected True
echo "OK latecomer@$DOM" >>"$LAB_TMP/expect"

# ==================================================== (f) clean stops (SIGTERM)
slapd_consumer_wait cons prov 30 || die "(f) the consumer is not in sync"
gen=$(mstat generation)
watch_start f1 90
slapd_kill cons
check "(f) the consumer's stop sends the mirror back to the provider (the first URI)" \
	wait_within 30 log_has "recipient mirror: switched from $CONS to $PROV"
log "(f) switched to the provider ${WAITED} s after the consumer's stop"
check "(f) a full refresh from the provider" wait_until 20 generation_above "$gen"
watch_stop
watch_clean "(f) SIGTERM of the consumer"

slapd_run cons "$CPORT" 1024
slapd_consumer_wait cons prov 60 || die "(f) the consumer did not resync"
gen=$(mstat generation)
switches=$(log_count "recipient mirror: switched from $PROV to $CONS")
watch_start f2 90
slapd_kill prov
check "(f) the provider's clean stop sends the mirror to the consumer" \
	wait_within 30 log_count_above "recipient mirror: switched from $PROV to $CONS" "$switches"
log "(f) switched to the consumer ${WAITED} s after the provider's stop"
check "(f) a full refresh from the consumer" wait_until 20 generation_above "$gen"
watch_stop
watch_clean "(f) SIGTERM of the provider"
check "(f) latecomer@ known from the consumer" rcpt_is "latecomer@$DOM" True True

# ================================================================= (g) both down
watch_start g 60
down=${EPOCHREALTIME/,/.}
slapd_crash cons
check "(g) both down: the mirror turns not ready past max_age" \
	wait_until $((MAX_AGE + 10)) stat_is ready False
# A little TEMP after it, then the load's verdict.
wait_until 10 grep -q 'TEMP from here' "$WATCH_ERR" || true
watch_stop
check "(g) no wrong answer, ever ($(watch_get first_wrong))" test "$(watch_get wrong)" -eq 0
check "(g) TEMP once max_age passed" test "$(watch_get temp)" -gt 0
first=$(watch_get first_temp)
# The last confirmation came at most ~1 s before the kill (the
# syncrepl session confirms the mirror every second): 2 s of slack.
check "(g) not one TEMP before max_age ($MAX_AGE s): the first came $(python3 -c "print('%.3f' % ($first - $down))") s after both were down" \
	python3 -c "import sys; sys.exit(0 if $first - $down >= $MAX_AGE - 2 else 1)"
check "(g) right answers until then ($(watch_get right))" test "$(watch_get right)" -gt 0
check "(g) TEMP from then on (the last answer was TEMP)" \
	python3 -c "import sys; sys.exit(0 if $(watch_get end) - $(watch_get last_temp) < 1 else 1)"
check "(g) the daemon says no server answers" wait_until 10 log_has "recipient mirror: no server answers:"

# ========================================================== (h) the provider back
slapd_run prov "$PPORT" 1024
# The backoff may have grown while both were down: up to 16 s.
check "(h) ready again with the provider" wait_until 60 stat_is ready True
watch_start h 30
load_more 1000
watch_stop
watch_clean "(h) the provider back"

# ============================================================ (i) a hung provider
slapd_run cons "$CPORT" 1024
slapd_consumer_wait cons prov 60 || die "(i) the consumer did not resync"
switches=$(log_count "recipient mirror: switched from $PROV to $CONS")
watch_start i 90
kill -STOP "${SLAPD_PID_OF[prov]}"
# 10 s for the liveness search, then up to 30 s for the bind the hung
# provider takes and never answers at the reconnect, before the consumer.
check "(i) a hung provider is left for the consumer" \
	wait_within 70 log_count_above "recipient mirror: switched from $PROV to $CONS" "$switches"
log "(i) switched to the consumer ${WAITED} s after the provider hung"
check "(i) the lost session says why" log_has "$PROV has not answered a search in 10 s"
check "(i) ready again" wait_until 20 stat_is ready True
watch_stop
kill -CONT "${SLAPD_PID_OF[prov]}"
check "(i) no wrong answer while the provider hung ($(watch_get first_wrong))" test "$(watch_get wrong)" -eq 0
check "(i) right answers ($(watch_get right))" test "$(watch_get right)" -gt 0

check "mxguardd still runs" kill -0 "$MXGD_PID"
rc=0
mxgd_stop TERM || rc=$?
check "mxguardd exits 0 on SIGTERM" test "$rc" -eq 0

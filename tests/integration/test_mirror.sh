#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Acceptance test of the LDAP recipient mirror (issue 4), against real
# OpenLDAP slapd instances in the netns lab's server namespace:
#   (a) a config whose bind_password_file others can read is refused;
#   (b) syncrepl from a slapd with the syncprov overlay and 10,000 users
#       (one or two addresses each, plus an entry of junk values and a
#       role entry of 1,000 addresses), bound with a password file of two
#       lines (the first is the password): every distinct address is an
#       entry, junk is counted as skipped and never an entry; known,
#       unknown, alias, +detail, case, brackets, trailing dot, foreign
#       domain, the role's 1,000th address; non-addresses are refused by
#       rcpt check;
#   (c) an add, an address change, a delete and one address taken out of
#       the role entry reach rcpt check within 2 s;
#   (d) SIGHUP with other domains changes local_domain, mirror kept;
#   (e) slapd stopped: the mirror keeps answering, `connected` turns
#       false, and past max_age it is not ready; slapd back: it resyncs
#       and picks up a change made while it was down;
#   (f) a slapd without syncprov: mxguardd says it polls, mode "poll",
#       an add shows up within poll_interval;
#   (g) a wrong password, a password file whose first line is empty, a
#       bad base DN and an unreachable URI: one log line each over several
#       retries, the daemon keeps running, the mirror says not ready.
# Every wait is bounded; nothing sleeps and then asserts.
#
# Usage: tests/integration/test_mirror.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" mirror
if ! command -v slapd >/dev/null || ! command -v slapadd >/dev/null; then
	skip "needs slapd (Debian package slapd)"
fi
command -v ldapmodify >/dev/null || skip "needs ldap-utils"
lab_netns_up

DOM=$LAB_RCPT_DOMAIN
NUSERS=10000
NUSERS_FLAT=1500 # > 1000: the paged search needs a second page
NROLE=1000       # addresses of one entry: far more than the 256 once kept
# Short enough to see it expire within the test; the syncrepl session
# confirms the mirror every second, so it never expires while slapd runs.
MAX_AGE=5
POLL=2
conf=$LAB_TMP/mxguard.conf
pwfile=$LAB_TMP/ldap.secret
# The password is the first line; what follows must never be sent.
(
	umask 077
	printf '%s\n%s\n' "$SLAPD_BIND_PW" "# the line above is the password" >"$pwfile"
)

# ---------------------------------------------------------------- helpers

# mirror_conf KEY=VALUE...: the lab config with an [ldap] section; each
# KEY=VALUE replaces that key's value here (an empty value leaves the key
# out).
mirror_conf() {
	local kv k
	local -A v=(
		[uri]=ldap://$LAB_DIR4:389/ [bind_dn]=$SLAPD_BIND_DN
		[bind_password_file]=$pwfile [base]=$SLAPD_PEOPLE
		[filter]="(objectClass=inetOrgPerson)"
		[attributes]="mail, mailLocalAddress"
		[domains]="$DOM, old.example" [sync]=syncrepl
		[poll_interval]="" [max_age]="${MAX_AGE}s"
	)
	for kv in "$@"; do
		v[${kv%%=*}]=${kv#*=}
	done
	local lines=("[ldap]")
	for k in uri bind_dn bind_password_file base filter attributes domains sync poll_interval max_age; do
		[[ -z ${v[$k]} ]] || lines+=("$k = ${v[$k]}")
	done
	conf_write "$conf" detach "${lines[@]}"
}

# rcpt_get ADDR FIELD: one field of `mxguardctl -j rcpt check ADDR`
# (booleans print as True/False).
rcpt_get() {
	local out
	out=$(ctl_json rcpt check "$1") || { log "rcpt check '$1' failed: $out"; return 1; }
	json_get "$2" <<<"$out"
}
# rcpt_is ADDR KNOWN LOCAL READY: the whole answer at once.
rcpt_is() {
	local out got
	out=$(ctl_json rcpt check "$1") || return 1
	got=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["known"], d["local_domain"], d["mirror_ready"])' <<<"$out") || return 1
	[[ $got == "$2 $3 $4" ]] || {
		RCPT_LAST="$out"
		return 1
	}
}
RCPT_LAST=""
known() { rcpt_is "$1" True True True; }
unknown() { rcpt_is "$1" False True True; }
# check_rcpt WHAT ADDR KNOWN LOCAL READY: one pass/fail line, with the
# answer when it fails.
check_rcpt() {
	if rcpt_is "$2" "$3" "$4" "$5"; then
		pass "$1"
	else
		die "$1: rcpt check '$2': want known=$3 local_domain=$4 mirror_ready=$5, got $RCPT_LAST"
	fi
}
# check_normalised WHAT ADDR NORMALISED: the address field of the answer.
check_normalised() {
	local got
	got=$(rcpt_get "$2" address) || die "$1: rcpt check '$2' failed"
	[[ $got == "$3" ]] || die "$1: '$2' normalised to '$got', want '$3'"
	pass "$1"
}

# mstat FIELD: one field of `mxguardctl -j rcpt stats`.
mstat() {
	local out
	out=$(ctl_json rcpt stats) || { log "rcpt stats failed: $out"; return 1; }
	json_get "$1" <<<"$out"
}
stat_is() { [[ $(mstat "$1") == "$2" ]]; }
stat_ge() { local v; v=$(mstat "$1") && ((v >= $2)); }
check_stat() {
	local got
	got=$(mstat "$2") || die "$1: rcpt stats failed"
	[[ $got == "$3" ]] || die "$1: rcpt stats $2 = '$got', want '$3' ($(ctl_json rcpt stats))"
	pass "$1"
}

# mirror_lines LOG URI: the daemon's failure lines for URI.
mirror_lines() { grep -c "mxguardd: recipient mirror: $2: .*(keeping the last mirror, retrying)" "$1" || true; }

daemon_alive() { kill -0 "$MXGD_PID" 2>/dev/null; }

# stop_daemon: SIGTERM; with on_exit = detach it must exit 0 and leave
# nothing attached. Recorded, not fatal: the next scenario does not
# depend on how this daemon ended.
stop_daemon() {
	local rc=0 p
	mxgd_stop TERM || rc=$?
	soft check "$MXGD_SCENARIO: mxguardd exits 0 on SIGTERM (exit $rc$( ((rc > 128)) && echo ": killed by signal $((rc - 128))"))" test "$rc" -eq 0
	for p in "${LAB_SPORTS[@]}"; do
		soft check "$MXGD_SCENARIO: nothing left attached to $p after the stop (on_exit = detach)" not guard_attached "$p"
	done
	MXGD_PID=""
}

# fresh_daemon LOG KEY=VALUE...: stop the running daemon, drop its pins,
# start a new one with the given [ldap] overrides. Each scenario starts
# from an empty mirror, so "not ready" means what it says.
fresh_daemon() {
	local logf=$1
	shift
	if [[ -n ${MXGD_PID:-} ]]; then
		if daemon_alive; then
			stop_daemon
		else
			# Died on its own (a check said so): reap it, so that
			# cleanup never signals a reused pid.
			local rc=0
			wait "$MXGD_PID" 2>/dev/null || rc=$?
			mxgd_forget "$MXGD_PID"
			log "$MXGD_SCENARIO: mxguardd had already exited (status $rc)"
		fi
		MXGD_PID=""
	fi
	[[ ! -d $LAB_PIN ]] || ctl unload >/dev/null 2>&1 || die "mxguardctl unload failed"
	[[ ! -e $LAB_PIN ]] || rm -rf "$LAB_PIN"
	mirror_conf "$@"
	MXGD_LOG=$logf
	MXGD_SCENARIO=$(basename "$logf" .log)
	mxgd_start "$conf" "$logf"
}

# ====================================================== (a) password file
# Refused before anything is loaded: checked first, with no daemon around.
mirror_conf
chmod 0644 "$pwfile"
line=$(grep -n '^bind_password_file = ' "$conf" | cut -d: -f1)
rc=0
out=$(in_server_net timeout 20 "$MXGD" -c "$conf" -f 2>&1) || rc=$?
log "(a) readable password file: exit $rc: $out"
check "(a) a bind_password_file readable by others is refused (exit $rc)" test "$rc" -ne 0 -a "$rc" -lt 124
check "(a) the message names $(basename "$conf"):$line" grep -qF "$(basename "$conf"):$line" <<<"$out"
check "(a) the message names the key bind_password_file" grep -qF bind_password_file <<<"$out"
check "(a) never became ready" not grep -q 'mxguardd: ready' <<<"$out"
chmod 0640 "$pwfile"
rc=0
out=$(in_server_net timeout 20 "$MXGD" -c "$conf" -f 2>&1) || rc=$?
check "(a) group-readable is refused too (exit $rc)" test "$rc" -ne 0 -a "$rc" -lt 124
chmod 0600 "$pwfile"
[[ ! -e $LAB_PIN ]] || die "(a) a refused config left the pin dir $LAB_PIN"

# ======================================================= (b) syncrepl load
ldif=$LAB_TMP/main.ldif
{
	slapd_base_ldif
	slapd_people_ldif "$NUSERS" alias
	slapd_junk_ldif
	# A role entry: mail role@ and NROLE - 1 more, one of them twice in
	# another case (counted once).
	person_ldif role "role@$DOM" $(seq -f "role-%g@$DOM" 1 $((NROLE - 1))) "ROLE-7@${DOM^^}"
} >"$ldif"
DISTINCT=$(($(slapd_people_distinct "$NUSERS") + NROLE))
slapd_create main 1 "$ldif"
slapd_run main 389 1024
# The directory as the lab built it: syncprov is on.
in_server_net ldapsearch -x -LLL -H "$(slapd_uri main)" -s base -b "" supportedControl |
	grep -q '1.3.6.1.4.1.4203.1.9.1.1' || die "slapd main does not offer syncrepl"

fresh_daemon "$LAB_TMP/mxguardd.main.log"
t0=${EPOCHREALTIME/[.,]/}
wait_until 60 stat_is ready True || die "(b) mirror not ready within 60 s: $(ctl_json rcpt stats); $(tail -5 "$MXGD_LOG")"
log "(b) $DISTINCT addresses mirrored in $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) ms"
check "(b) the daemon follows slapd with syncrepl (log)" grep -q "recipient mirror: following $(slapd_uri main) with syncrepl" "$MXGD_LOG"
check_stat "(b) mode is syncrepl" mode syncrepl
check_stat "(b) connected" connected True
check_stat "(b) entries == $DISTINCT distinct addresses" entries "$DISTINCT"
check_stat "(b) skipped == $SLAPD_JUNK_VALUES junk values" skipped "$SLAPD_JUNK_VALUES"
check_stat "(b) max_age_s == $MAX_AGE" max_age_s "$MAX_AGE"
check_stat "(b) 2 local domains" domains 2
check "(b) the skip is logged once, not per value" test "$(grep -c 'recipient mirror: skipped' "$MXGD_LOG")" -eq 1
check "(b) status shows the mirror" test "$(ctl_json status | json_get mirror.entries)" == "$DISTINCT"

check_rcpt "(b) user1 (mail) is known" "user1@$DOM" True True True
check_rcpt "(b) user$NUSERS (last entry) is known" "user$NUSERS@$DOM" True True True
check_rcpt "(b) alias2 (mailLocalAddress) is known" "alias2@$DOM" True True True
check_rcpt "(b) team@ (shared by two entries) is known" "team@$DOM" True True True
check_rcpt "(b) nobody@ is unknown, local domain" "nobody@$DOM" False True True
check_rcpt "(b) user$((NUSERS + 1)) is unknown" "user$((NUSERS + 1))@$DOM" False True True
check_rcpt "(b) alias1 (odd users have none) is unknown" "alias1@$DOM" False True True
check_rcpt "(b) user1+lists (+detail) is known" "user1+lists@$DOM" True True True
check_rcpt "(b) alias2+a+b (+detail, two delimiters) is known" "alias2+a+b@$DOM" True True True
check_rcpt "(b) nobody+x (+detail of an unknown) is unknown" "nobody+x@$DOM" False True True
check_rcpt "(b) USER1@LAB.EXAMPLE (case) is known" "USER1@${DOM^^}" True True True
check_rcpt "(b) <user1@$DOM> (brackets) is known" "<user1@$DOM>" True True True
check_rcpt "(b) user1@$DOM. (trailing dot) is known" "user1@$DOM." True True True
check_rcpt "(b) <User1+X@Lab.Example.> (all at once) is known" "<User1+X@Lab.Example.>" True True True
check_normalised "(b) <User1+X@Lab.Example.> normalises to user1@$DOM" "<User1+X@Lab.Example.>" "user1@$DOM"
check_rcpt "(b) user1@foreign.example is not a local domain" "user1@foreign.example" False False True
# Every address of the role entry: once only the first 256 were kept and
# the rest got a false 550, logged as "not addresses".
check_rcpt "(b) role@ (the role entry's mail) is known" "role@$DOM" True True True
check_rcpt "(b) role-256@ (the role entry's 257th address) is known" "role-256@$DOM" True True True
check_rcpt "(b) role-$((NROLE - 1))@ (its ${NROLE}th address) is known" "role-$((NROLE - 1))@$DOM" True True True
check "(b) no address of the role entry is logged as skipped" not grep -q "skipped.*role-" "$MXGD_LOG"
check_rcpt "(b) user1@old.example: a listed domain is local" "nobody@old.example" False True True
# The junk values never became keys, not even cut down to something valid.
long=$(printf 'x%.0s' {1..300})
check_rcpt "(b) junk: 300-byte address cut to 254 bytes is unknown" "${long:0:$((254 - ${#DOM} - 1))}@$DOM" False True True
check_rcpt "(b) junk: control byte dropped is unknown" "ctlx@$DOM" False True True
check_rcpt "(b) junk: Latin-1 byte dropped is unknown" "caf@$DOM" False True True
for bad in "no-at-sign" "$long@$DOM" $'ctl\001x@'"$DOM"; do
	rc=0
	out=$(ctl_json rcpt check "$bad" 2>&1) || rc=$?
	check "(b) rcpt check refuses a non-address (${bad:0:12}...): exit $rc, '${out:0:80}'" \
		test "$rc" -ne 0 -a -n "$out"
done

# ================================================= (c) changes within 2 s
gen0=$(mstat generation)
person_ldif new1 "new1@$DOM" "new1-alias@$DOM" | ldap_add main || die "(c) ldapadd failed"
wait_within 2 known "new1@$DOM" || die "(c) added new1@ not known within 2 s: $RCPT_LAST"
pass "(c) an added user is known after ${WAITED}s"
wait_within 1 known "new1-alias@$DOM" || die "(c) added alias not known: $RCPT_LAST"
pass "(c) its second address too"
wait_within 2 stat_is entries $((DISTINCT + 2)) || die "(c) entries after the add: $(mstat entries), want $((DISTINCT + 2))"
pass "(c) entries grew by 2"

printf 'dn: uid=user3,%s\nchangetype: modify\nreplace: mail\nmail: renamed3@%s\n-\ndelete: mailLocalAddress\n\n' "$SLAPD_PEOPLE" "$DOM" |
	ldap_modify main || die "(c) ldapmodify failed"
wait_within 2 known "renamed3@$DOM" || die "(c) changed address renamed3@ not known within 2 s: $RCPT_LAST"
pass "(c) a changed address is known after ${WAITED}s"
wait_within 2 unknown "user3@$DOM" || die "(c) old address user3@ still known 2 s after the change: $RCPT_LAST"
pass "(c) the old address is unknown after ${WAITED}s"

ldap_delete main "uid=user9,$SLAPD_PEOPLE" || die "(c) ldapdelete failed"
wait_within 2 unknown "user9@$DOM" || die "(c) deleted user9@ still known after 2 s: $RCPT_LAST"
pass "(c) a deleted user is unknown after ${WAITED}s"
# team@ belonged to user7 and user9: it stays while user7 has it.
check_rcpt "(c) team@ (still on user7) stays known" "team@$DOM" True True True

printf 'dn: uid=role,%s\nchangetype: modify\ndelete: mailLocalAddress\nmailLocalAddress: role-500@%s\n\n' "$SLAPD_PEOPLE" "$DOM" |
	ldap_modify main || die "(c) ldapmodify of the role entry failed"
wait_within 2 unknown "role-500@$DOM" || die "(c) role-500@ still known 2 s after it was taken out: $RCPT_LAST"
pass "(c) an address taken out of the role entry is unknown after ${WAITED}s"
check_rcpt "(c) the role entry's other addresses stay known (role-$((NROLE - 1))@)" "role-$((NROLE - 1))@$DOM" True True True
check_rcpt "(c) ... and role-7@ (given twice) stays known" "role-7@$DOM" True True True
DISTINCT=$((DISTINCT + 2 - 1 - 1))
wait_within 2 stat_is entries "$DISTINCT" || die "(c) entries after modify+delete: $(mstat entries), want $DISTINCT"
pass "(c) entries == $DISTINCT after add, change, delete"
check "(c) no full refresh for single changes (generation $gen0)" stat_is generation "$gen0"

# ================================================== (d) SIGHUP, new domains
entries=$(mstat entries)
mirror_conf domains="$DOM, new.example"
kill -HUP "$MXGD_PID"
# Sampled throughout the reload: a mirror that blinks out for a moment
# would let mail through unjudged (or refuse it) in that moment.
hup_done() {
	known "user1@$DOM" || die "(d) user1@ not known (or mirror not ready) during the reload: $RCPT_LAST"
	rcpt_is "x@new.example" False True True
}
wait_within 5 hup_done || die "(d) new.example not local 5 s after SIGHUP: $RCPT_LAST; $(tail -3 "$MXGD_LOG")"
pass "(d) SIGHUP: new.example is a local domain after ${WAITED}s, user1 known throughout"
check_rcpt "(d) old.example is no longer local" "x@old.example" False False True
check_stat "(d) 2 local domains" domains 2
check "(d) entries kept ($entries)" stat_is entries "$entries"
check "(d) the daemon logged the reload" grep -q 'reloaded' "$MXGD_LOG"
wait_until 10 stat_is connected True || die "(d) not connected again after the reload"
check_rcpt "(d) renamed3 still known after the reload" "renamed3@$DOM" True True True

# ======================================== (e) slapd stopped, slapd back
gen1=$(mstat generation)
slapd_kill main
wait_within 5 stat_is connected False || die "(e) still connected 5 s after slapd stopped"
pass "(e) slapd stopped: connected false after ${WAITED}s"
# One snapshot: before max_age it must still be ready, after not.
snap=$(ctl_json rcpt stats)
python3 - "$snap" <<'EOF' || die "(e) ready does not follow the age: $snap"
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d["age_s"] is not None and d["ready"] == (d["age_s"] < d["max_age_s"]) else 1)
EOF
pass "(e) ready while younger than max_age ($snap)"
# Known while the directory is down, whether or not max_age has passed
# by now (MAX_AGE is short, and a loaded machine may take seconds between
# two commands): readiness follows the age, as the snapshot above showed.
user1_known() { [[ $(rcpt_get "user1@$DOM" known) == True ]]; }
check "(e) user1 still known while the directory is down" user1_known
wait_within $((MAX_AGE + 3)) stat_is ready False || die "(e) still ready $((MAX_AGE + 3)) s after slapd stopped: $(ctl_json rcpt stats)"
pass "(e) not ready after max_age (${WAITED}s after the disconnect was seen)"
check "(e) age_s >= max_age_s" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["age_s"] >= d["max_age_s"] else 1)' "$(ctl_json rcpt stats)"
check_rcpt "(e) user1 still answered (known, mirror_ready false)" "user1@$DOM" True True False
check_rcpt "(e) nobody@ answered unknown, mirror_ready false" "nobody@$DOM" False True False
check "(e) mxguardd still runs" daemon_alive

# A change while the directory is down, then slapd back.
person_ldif offline1 "offline1@$DOM" >"$LAB_TMP/offline.ldif"
slapd_add_offline main "$LAB_TMP/offline.ldif"
slapd_run main 389 1024
# The backoff has reached a few seconds by now; the next retry is < 60 s.
wait_within 65 stat_is ready True || die "(e) not ready again after slapd came back: $(ctl_json rcpt stats); $(tail -5 "$MXGD_LOG")"
pass "(e) slapd back: ready again after ${WAITED}s"
check "(e) generation grew ($gen1 -> $(mstat generation))" stat_ge generation $((gen1 + 1))
check_stat "(e) connected" connected True
check_rcpt "(e) the user added while slapd was down is known" "offline1@$DOM" True True True
check_stat "(e) entries == $((DISTINCT + 1))" entries $((DISTINCT + 1))
check_rcpt "(e) deleted user9 stays unknown after the resync" "user9@$DOM" False True True
# The resync skipped the junk again; a count that kept growing with every
# refresh would no longer say how many values the directory holds.
soft check_stat "(e) skipped == $SLAPD_JUNK_VALUES after the resync (not summed over refreshes)" skipped "$SLAPD_JUNK_VALUES"
person_ldif after1 "after1@$DOM" | ldap_add main || die "(e) ldapadd after the resync failed"
wait_within 2 known "after1@$DOM" || die "(e) add after the resync not known within 2 s: $RCPT_LAST"
pass "(e) changes follow again after the resync (${WAITED}s)"

# ==================================================== (f) no syncprov: poll
ldif=$LAB_TMP/flat.ldif
{
	slapd_base_ldif
	slapd_people_ldif "$NUSERS_FLAT" alias
	slapd_junk_ldif
} >"$ldif"
slapd_create flat 0 "$ldif"
slapd_run flat 3389 1024
flat_conf=(uri="$(slapd_uri flat)" "poll_interval=${POLL}s" "max_age=$((POLL * 5))s")
fresh_daemon "$LAB_TMP/mxguardd.flat.log" "${flat_conf[@]}"
FLAT=$(slapd_people_distinct "$NUSERS_FLAT")
wait_until 30 stat_is ready True || die "(f) poll mirror not ready within 30 s: $(ctl_json rcpt stats); $(tail -5 "$MXGD_LOG")"
check "(f) mxguardd logs that it polls" grep -q "recipient mirror: $(slapd_uri flat) does not offer syncrepl (RFC 4533): polling every $POLL s" "$MXGD_LOG"
check_stat "(f) entries == $FLAT (two pages of 1000)" entries "$FLAT"
soft check_stat "(f) mode is poll" mode poll
check_rcpt "(f) user$NUSERS_FLAT is known" "user$NUSERS_FLAT@$DOM" True True True
person_ldif polled1 "polled1@$DOM" | ldap_add flat || die "(f) ldapadd failed"
wait_within $((POLL + 2)) known "polled1@$DOM" || die "(f) add not known within poll_interval + 2 s: $RCPT_LAST"
pass "(f) an add shows up after ${WAITED}s (poll_interval ${POLL}s)"
ldap_delete flat "uid=user2,$SLAPD_PEOPLE" || die "(f) ldapdelete failed"
wait_within $((POLL + 2)) unknown "alias2@$DOM" || die "(f) delete not seen within poll_interval + 2 s: $RCPT_LAST"
pass "(f) a delete shows up after ${WAITED}s"
check_stat "(f) entries == $FLAT after one add and one delete of two" entries $((FLAT + 1 - 2))
# Every poll reads the junk entry again; the count is of values in the
# directory, so two more polls must not change it.
gen=$(mstat generation)
wait_within $((POLL * 3)) stat_ge generation $((gen + 2)) || die "(f) no two polls within $((POLL * 3)) s: $(ctl_json rcpt stats)"
soft check_stat "(f) skipped == $SLAPD_JUNK_VALUES after several polls (not summed over polls)" skipped "$SLAPD_JUNK_VALUES"
# Stopped while the directory is up and the poll session is open, as an
# operator would.
stop_daemon

# A reload in poll mode restarts the writer as well (the domains are part
# of [ldap]): the daemon must live through it and poll again.
fresh_daemon "$LAB_TMP/mxguardd.flat-hup.log" "${flat_conf[@]}"
wait_until 30 stat_is ready True || die "(f) poll mirror not ready within 30 s: $(ctl_json rcpt stats)"
mirror_conf "${flat_conf[@]}" domains="$DOM, new.example"
kill -HUP "$MXGD_PID"
polling_again() { (($(grep -c 'does not offer syncrepl' "$MXGD_LOG") >= 2)); }
soft check "(f) SIGHUP in poll mode: the mirror polls again within 5 s" wait_within 5 polling_again
soft check "(f) mxguardd survives a SIGHUP in poll mode" daemon_alive
soft check_rcpt "(f) SIGHUP in poll mode: new.example is local" "x@new.example" False True True

# =================================================== (g) failures, one line
# fail_case WHAT KEY=VALUE...: a daemon against a broken directory setup.
# It retries at 1, 2 (and 4) s: still exactly one line for the one
# distinct cause, the daemon alive, the mirror answering not ready.
fail_case() {
	local what=$1 uri=$2 logf n binds0 binds
	shift 2
	logf="$LAB_TMP/mxguardd.${what// /-}.log"
	binds0=$(slapd_log_count main "BIND dn=\"$SLAPD_BIND_DN\"")
	fresh_daemon "$logf" uri="$uri" "$@"
	wait_within 6 grep -q "recipient mirror: $uri: " "$logf" || die "(g) $what: no log line within 6 s: $(tail -5 "$logf")"
	more_lines() { (($(mirror_lines "$logf" "$uri") > 1)); }
	binds_since() { echo $(($(slapd_log_count main "BIND dn=\"$SLAPD_BIND_DN\"") - binds0)); }
	three_binds() { (($(binds_since) >= 3)); }
	if [[ $uri == "$(slapd_uri main)" && ${EXPECT_BINDS:-1} == 1 ]]; then
		# Where the directory answers, the retries are seen: wait
		# (bounded) for the first bind and two retries (1, 2 s backoff).
		check "(g) $what: it keeps retrying (3 binds within 10 s)" wait_within 10 three_binds
		log "(g) $what: $(binds_since) binds after ${WAITED}s"
	else
		# Nothing outside the daemon sees these retries: watch its log
		# over the first three (1, 2 and 4 s backoff); a second line
		# ends the watch early.
		! wait_within 7 more_lines || true
	fi
	n=$(mirror_lines "$logf" "$uri")
	log "(g) $what: $(grep "recipient mirror: $uri: " "$logf" | head -3)"
	# The one line is the dedup at work, not a daemon that gave up.
	check "(g) $what: exactly one log line over its retries (got $n)" test "$n" -eq 1
	check "(g) $what: the line says why" grep -qE "recipient mirror: $uri: .*$REASON" "$logf"
	check "(g) $what: mxguardd still runs" daemon_alive
	check_stat "(g) $what: rcpt stats works and says not ready" ready False
	check_stat "(g) $what: not connected" connected False
	check_rcpt "(g) $what: rcpt check answers, mirror not ready" "user1@$DOM" False True False
}
wrongpw=$LAB_TMP/wrong.secret
(
	umask 077
	echo "not-the-password" >"$wrongpw"
)
REASON="Invalid credentials" fail_case "wrong password" "$(slapd_uri main)" bind_password_file="$wrongpw"
# A first line that is empty is no password (an unauthenticated bind):
# refused before any bind, whatever the next line holds.
emptypw=$LAB_TMP/empty-first-line.secret
(
	umask 077
	printf '\n%s\n' "$SLAPD_BIND_PW" >"$emptypw"
)
EXPECT_BINDS=0 REASON="bind_password_file $emptypw: its first line is empty" \
	fail_case "empty first line" "$(slapd_uri main)" bind_password_file="$emptypw"
REASON="base does not exist" fail_case "bad base DN" "$(slapd_uri main)" base="ou=nowhere,$SLAPD_SUFFIX"
# No route to 198.19.0.0/16 in the server namespace (it has no default
# route): the connect fails at once, and nothing leaves the lab.
REASON="Can't contact LDAP server" fail_case "unreachable URI" "ldap://198.19.0.1:389/"

stop_daemon
slapd_kill flat
slapd_kill main
soft_verdict
log "all mirror checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The secondary MX of docs/mta.md ("Secondary MX"), for real: the lab's
# second mail host ($LAB_NS_M2, 198.18.0.2) runs its own mxguardd (the
# mirror, with several URIs: a local replica that is not there first, then
# the directory) and a Postfix that relays the lab's domain to the primary
# (relay_domains, relay_recipient_maps through mxguard's socket,
# relay_transport to the first mail host, whose Postfix takes anything):
#   (a) mirror not ready (no directory yet): 4xx for known and unknown
#       recipients alike, never 250 nor 550, nothing queued;
#   (b) ready: 250 for known recipients, 550 for unknown ones at RCPT, no
#       queue file for any session whose recipients were all unknown, the
#       accepted mail relayed to the primary and the queue empty after;
#       slapd sees no search for any RCPT;
#   (c) the same secondary without relay_recipient_maps (the blind accept
#       of 2013): an unknown recipient gets 250 and is queued, which (b)
#       shows the socket prevents;
#   (d) mxguardd stopped: 4xx again (no socket), never 550.
#
# Usage: tests/integration/test_secondary.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" secondary
command -v swaks >/dev/null || skip "needs swaks"
command -v postfix >/dev/null || skip "needs postfix"
command -v slapd >/dev/null || skip "needs slapd"
lab_netns_up
lab_mx2_up

DOM=$LAB_RCPT_DOMAIN
RUN=$LAB_TMP/run
SOCK=$RUN/lookup.sock
conf=$LAB_TMP/mxguard.conf
mkdir -p "$RUN"
chmod 755 "$RUN"
(umask 077 && printf '%s\n' "$SLAPD_BIND_PW" >"$LAB_TMP/ldap.secret")

# The primary: the mail store's stand-in, it takes whatever the secondary
# relays (no recipient table) and discards it.
pf_start "relay_recipient_maps ="
# The secondary, as docs/mta.md configures it (the relay transport of
# Debian's master.cf, to the primary by address: the lab has no DNS).
MAP="socketmap:unix:$SOCK:rcpt"
pf_mx2_start "relay_recipient_maps = $MAP" "relay_transport = relay:[$LAB_SERVER4]:25" \
	"smtpd_reject_unlisted_recipient = yes" "unknown_relay_recipient_reject_code = 550"
pass "postfix on the secondary ($LAB_MX2_4) relays $DOM with relay_recipient_maps = $MAP"

# Its guard: on its own interface, the mirror's URIs in the documented
# order (the host's replica first: none here, so it is refused at once),
# polled once an hour, so that the first sync is the only search.
LAB_CONF_IFACES=eth0 conf_write "$conf" detach \
	"[class smtp]" "rate = off" \
	"[ldap]" "uri = ldap://127.0.0.1:389/, ldap://$LAB_DIR4:389/" "base = $SLAPD_PEOPLE" \
	"bind_dn = $SLAPD_BIND_DN" "bind_password_file = $LAB_TMP/ldap.secret" \
	"attributes = mail, mailLocalAddress" "domains = $DOM" \
	"sync = poll" "poll_interval = 1h" "max_age = 2h" \
	"[lookup]" "socket = $SOCK"
MXGD_NS=$LAB_NS_M2 mxgd_start "$conf" "$LAB_TMP/mxguardd.log"

# shellcheck disable=SC2034 # rcpt_codes reads it
LAB_RCPT_SERVER=$LAB_MX2_4
rcpt_diagnosis() { echo "secondary's log ends: $(tail -3 "$PF2_LOG")"; }
# sessions_queued: queue files the secondary's smtpd created so far (it
# logs "QID: client=" when it opens one, at the first accepted RCPT).
sessions_queued() { grep -cE 'smtpd\[[0-9]+\]: [0-9A-F]+: client=' "$PF2_LOG" || true; }
queue_empty() { (($(pf_queue_files "$LAB_PF2_DIR") == 0)); }

# ---------------------------------------------- (a) mirror not ready

check "(a) the mirror is not ready (no directory yet)" not mxg_mirror_ready
q0=$(sessions_queued)
expect_codes "(a) not ready: 4xx for known and unknown recipients" '4[0-9][0-9]' \
	"user1@$DOM" "nobody@$DOM" "user2@$DOM"
check "(a) postfix logged a temporary lookup failure" grep -q 'Temporary lookup failure' "$PF2_LOG"
check "(a) nothing was queued ($q0 -> $(sessions_queued) queue files)" test "$(sessions_queued)" = "$q0"

# ------------------------------------------- (b) ready: 250/550 at RCPT

slapd_start 1024 5
wait_until 90 mxg_mirror_ready || die "(b) the mirror did not become ready: $(tail -5 "$LAB_TMP/mxguardd.log")"
pass "(b) the mirror is ready (through the second URI)"
s0=$(slapd_searches)

expect_codes "(b) known recipients get 250 from the secondary" 250 \
	"user1@$DOM" "user2+lists@$DOM" "USER3@${DOM^^}"
q1=$(sessions_queued)
unknown=()
for i in $(seq 1 20); do
	unknown+=("nobody$i.$RANDOM@$DOM")
done
expect_codes "(b) 20 unknown recipients get 550 at RCPT" 550 "${unknown[@]}"
for i in 1 2 3; do
	expect_codes "(b) a bounce to an unknown recipient, session $i: 550" 550 "ghost$i.$RANDOM@$DOM"
done
check "(b) no queue file for any of them ($q1 -> $(sessions_queued))" test "$(sessions_queued)" = "$q1"
check "(b) postfix logged them as unknown in its relay recipient table" \
	grep -q 'User unknown in relay recipient table' "$PF2_LOG"
codes=$(rcpt_codes "nobody@$DOM" "user4@$DOM" "ghost@$DOM" | xargs)
check "(b) a mix in one session: 550 250 550 ('$codes')" test "$codes" = "550 250 550"
s1=$(slapd_searches)
check "(b) slapd saw no search for any RCPT ($s0 before, $s1 after)" test "$s1" -eq "$s0"

# What was accepted went on to the primary, and nothing stays queued.
check "(b) the accepted mail was relayed to the primary" \
	wait_until 20 grep -qE "relay=$LAB_SERVER4\[$LAB_SERVER4\]:25,.* status=sent" "$PF2_LOG"
check "(b) the secondary's queue is empty" wait_until 20 queue_empty

# -------------------------------- (c) the blind accept this prevents

pf_mx2_set "relay_recipient_maps ="
q2=$(sessions_queued)
expect_codes "(c) without relay_recipient_maps an unknown recipient gets 250" 250 "blind.$RANDOM@$DOM"
check "(c) and is queued ($q2 -> $(sessions_queued))" test "$(sessions_queued)" -gt "$q2"
pf_mx2_set "relay_recipient_maps = $MAP"
expect_codes "(c) with the socket again: 550" 550 "blind.$RANDOM@$DOM"

# ---------------------------------------------- (d) mxguardd stopped

mxgd_stop TERM || die "(d) mxguardd exited with status $? on SIGTERM"
check "(d) the stopped daemon removed its socket" test ! -e "$SOCK"
q3=$(sessions_queued)
expect_codes "(d) no socket: 4xx for known and unknown recipients" '4[0-9][0-9]' \
	"user1@$DOM" "nobody@$DOM"
check "(d) nothing was queued" test "$(sessions_queued)" = "$q3"
pass "secondary MX: done"

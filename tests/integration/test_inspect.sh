#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Acceptance test of the SMTP inspector and the penalty box (issue 5,
# items 1, 2 and 4) with a real Postfix that validates recipients through
# mxguard's socketmap, a real slapd, and real SMTP clients (swaks; a raw
# python3 client where swaks cannot: pipelined commands in one segment, a
# body that looks like commands, STARTTLS and port 465) in the netns lab:
#   (a) before the first sync nobody is judged: every RCPT counts as
#       not_judged, Postfix answers 4xx, nobody is banned;
#   (b) mirror ready: a known recipient gets 250 and counts known, an
#       unknown one 550 and counts unknown, a bounce counts null_sender;
#       pipelined commands in one segment (any case, a blank after the
#       colon, ESMTP parameters) are each judged; RCPT TO lines in a body
#       are not, the commands after the end of data are; slapd sees not
#       one search for any of it;
#   (c) a source past unknown_threshold is put in the penalty box (ban
#       list, reason inspect), its next SYNs to port 25 are dropped, the
#       other client still delivers, `top --by unknown` shows it first and
#       the daemon logs it, aggregated;
#   (d) STARTTLS (Postfix with a real self-signed certificate) and port
#       465 (a real smtpd in wrapper mode) count as uninspectable; the
#       encrypted RCPTs are never judged;
#   (e) mode observe (SIGHUP) counts but never penalises; the penalty
#       ends after `penalty`;
#   (e2) mode drop: a typo from a source below the threshold gets Postfix's
#       550, is counted once and bans nobody;
#   (f) slapd stopped and max_age passed: not ready again, nobody judged,
#       not even a source already far past the threshold.
#
# Usage: tests/integration/test_inspect.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" inspect
command -v swaks >/dev/null || skip "needs swaks"
command -v postfix >/dev/null || skip "needs postfix"
command -v slapd >/dev/null || skip "needs slapd"
lab_netns_up

C1=$LAB_NS_C1 C2=$LAB_NS_C2 S4=$LAB_SERVER4 DOM=$LAB_RCPT_DOMAIN
A1=${LAB_CLIENT4[0]} A2=${LAB_CLIENT4[1]}
RUN=$LAB_TMP/run
SOCK=$RUN/lookup.sock
conf=$LAB_TMP/mxguard.conf
MXLOG=$LAB_TMP/mxguardd.log
THRESHOLD=3
PENALTY=20
mkdir -p "$RUN"
chmod 755 "$RUN"

# inspect_conf MODE POLL_INTERVAL MAX_AGE: the lab config with [ldap]
# (poll: no syncprov here), [lookup] and [smtp_inspect]. No rate limit on
# smtp: only the penalty box may refuse the test's connections. The window
# spans the whole test, so each source's tally below is exact.
inspect_conf() {
	conf_write "$conf" detach \
		"[class smtp]" "rate = off" \
		"[ldap]" "uri = ldap://$S4:389/" "base = ou=people,$SLAPD_SUFFIX" \
		"attributes = mail, mailLocalAddress" "domains = $DOM" \
		"sync = poll" "poll_interval = $2" "max_age = $3" \
		"[lookup]" "socket = $SOCK" \
		"[smtp_inspect]" "mode = $1" "unknown_threshold = $THRESHOLD" \
		"window = 10m" "penalty = ${PENALTY}s"
}

# reload MODE POLL_INTERVAL MAX_AGE: a changed config through SIGHUP;
# waits for the daemon's "reloaded" line.
reload() {
	local n
	n=$(grep -c '^mxguardd: reloaded' "$MXLOG" || true)
	inspect_conf "$@"
	kill -HUP "$MXGD_PID"
	wait_until 10 reloaded_more_than "$n" || die "mxguardd did not reload: $(tail -5 "$MXLOG")"
}
reloaded_more_than() { (($(grep -c 'reloaded' "$MXLOG" || true) > $1)); }

# rcpt_codes NS FROM TO...: one swaks session with these recipients (and
# the swaks arguments in the array SWAKS_MORE); prints the code Postfix
# gave each envelope RCPT, space-separated. The transcript is read up to
# DATA only: swaks shows the body's lines with "->" too.
SWAKS_MORE=()
rcpt_codes() {
	local ns=$1 from=$2 to out
	shift 2
	to=$(IFS=,; echo "$*")
	out=$(send_mail "$ns" "$S4" "$to" --from "$from" "${SWAKS_MORE[@]}") || true
	awk '/-> DATA/ { exit }
	     /-> RCPT TO:/ { want = 1; next }
	     want && /^ *<(-|\*\*) / { sub(/^ *<(-|\*\*) +/, ""); printf "%s ", substr($0, 1, 3); want = 0 }' <<<"$out" |
		xargs
}

# unknowns N TAG: N random unknown local recipients.
unknowns() {
	local i
	for ((i = 1; i <= $1; i++)); do
		printf '%s%d.%d@%s\n' "$2" "$i" "$RANDOM" "$DOM"
	done
}

# Counter deltas: snap keeps the rcpt counters; deltas_are WHAT
# "FIELD=N ..." compares the change since then for each field named.
RCPT0=""
snap() { RCPT0=$(ctl_json stats) || die "mxguardctl -j stats failed"; }
deltas_are() {
	local now
	now=$(ctl_json stats) || die "mxguardctl -j stats failed"
	python3 - "$RCPT0" "$now" "$2" <<'EOF' || die "$1"
import json, sys
a, b = json.loads(sys.argv[1])["rcpt"], json.loads(sys.argv[2])["rcpt"]
want = dict(kv.split("=") for kv in sys.argv[3].split())
got = {k: b[k] - a[k] for k in want}
print("  rcpt deltas: " + " ".join("%s=%+d" % kv for kv in got.items()), file=sys.stderr)
sys.exit(0 if all(got[k] == int(v) for k, v in want.items()) else 1)
EOF
	pass "$1"
}

# nobody_banned: the ban list is empty.
nobody_banned() { [[ $(ctl_json ban list | json_get bans) == "[]" ]]; }

# delivers NS: a mail to a known recipient is queued and then sent.
delivers() {
	local out qid
	out=$(send_mail "$1" "$S4" "user1@$DOM") || return 1
	qid=$(queue_id_of "$out")
	[[ -n $qid ]] && wait_until 10 pf_log_has "$qid: .*status=sent"
}

# top_first_is ADDR: `top --by unknown` lists ADDR's /32 first, class smtp,
# with at least one penalty.
top_first_is() {
	ctl_json top --by unknown | python3 -c '
import json, sys
s = json.load(sys.stdin)["sources"]
print("  top --by unknown: " + ", ".join("%s %s unknown=%s penalties=%s" % (x["source"], x["class"], x["unknown"], x["penalties"]) for x in s[:3]), file=sys.stderr)
f = s[0]
sys.exit(0 if f["source"] == sys.argv[1] + "/32" and f["class"] == "smtp" and f["penalties"] >= 1 else 1)' "$1"
}

# ------------------------------------------------------------- Postfix

# Real TLS for STARTTLS and 465: a self-signed certificate made here.
TLS=$LAB_TMP/tls
mkdir -p "$TLS"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=mx.$DOM" \
	-keyout "$TLS/key.pem" -out "$TLS/cert.pem" >"$TLS/openssl.log" 2>&1 ||
	die "openssl could not make a certificate: $(cat "$TLS/openssl.log")"
pf_start
# Port 465: smtpd in wrapper mode, the same validation behind it.
ip netns exec "$LAB_NS_S" postconf -c "$LAB_PF_DIR" -M \
	"465/inet=465 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" ||
	die "cannot add the 465 service"
# Edited in place (not appended to pf_start's main.cf): one entry each.
pf_set "relay_recipient_maps = socketmap:unix:$SOCK:rcpt" \
	"smtpd_tls_cert_file = $TLS/cert.pem" "smtpd_tls_key_file = $TLS/key.pem" \
	"smtpd_tls_security_level = may"
pass "postfix runs (25 with STARTTLS, 465 wrapped) with relay_recipient_maps = socketmap:unix:$SOCK:rcpt"

# ------------------------------------------- (a) before the first sync

# slapd is not there yet: the mirror cannot be ready.
inspect_conf penalize 1h 2h
mxgd_start "$conf" "$MXLOG"
# Admission in the mode asked for (test_inspect_tc.sh asks for tc), with
# the SMTP reader behind it on tc in either case.
attached_as() {
	local out
	out=$(ctl_json status) || return 1
	[[ $(json_get attached.0.mode <<<"$out") == "$1" &&
		$(json_get attached.0.smtp_reader <<<"$out") == True ]]
}
if [[ ${LAB_ATTACH:-auto} == tc ]]; then
	check "admission on tc, the SMTP reader behind it" attached_as tc
else
	check "admission on XDP, the SMTP reader on tc" attached_as xdp
fi
check "(a) the mirror is not ready (no directory yet)" not mxg_mirror_ready
snap
mapfile -t u < <(unknowns 5 early)
codes=$(rcpt_codes "$C1" '<>' "${u[@]}" "user1@$DOM")
soft check "(a) postfix answers 4xx to all 6 ('$codes')" \
	grep -qE '^(4[0-9][0-9] ){5}4[0-9][0-9]$' <<<"$codes"
soft deltas_are "(a) 6 RCPTs not judged, none known or unknown, the bounce noted" \
	"not_judged=6 known=0 unknown=0 penalized=0 null_sender=1"
soft check "(a) nobody is banned" nobody_banned
soft check "(a) client 1 still connects" tcp_connects "$C1" "$S4"

# ---------------------------------------------------- (b) mirror ready

slapd_start 1024 5
wait_until 90 mxg_mirror_ready || die "(b) the mirror did not become ready: $(tail -5 "$MXLOG")"
pass "(b) the mirror is ready"
searches0=$(slapd_searches)

snap
codes=$(rcpt_codes "$C2" sender@client.example "user1@$DOM")
soft check "(b) a known recipient: 250 ('$codes')" test "$codes" = 250
soft deltas_are "(b) ... counted known" "known=1 unknown=0 not_judged=0 null_sender=0"

snap
codes=$(rcpt_codes "$C2" sender@client.example "nobody.$RANDOM@$DOM")
soft check "(b) an unknown recipient: 550 from postfix ('$codes')" test "$codes" = 550
soft deltas_are "(b) ... counted unknown" "known=0 unknown=1 not_judged=0"

snap
codes=$(rcpt_codes "$C2" '<>' "user2@$DOM")
soft check "(b) a null-sender bounce to a known recipient: 250 ('$codes')" test "$codes" = 250
soft deltas_are "(b) ... counted null_sender and known" "null_sender=1 known=1 unknown=0"

# One write, one segment: a bounce with a known, two unknown and one
# foreign recipient, in the forms the issue lists.
snap
codes=$(smtp_script "$C1" "$S4" 25 <<EOF
< 1
> b"EHLO pipe.client.example\r\n"
< 1
> b"MAIL FROM:<>\r\nrcpt to:<user3@$DOM> NOTIFY=NEVER\r\nRCPT TO: <ghost-p1@$DOM>\r\nRcpt To:<ghost-p2@$DOM> ORCPT=rfc822;ghost-p2@$DOM\r\nRCPT TO:<someone@elsewhere.example>\r\nRSET\r\nQUIT\r\n"
< 7
EOF
)
soft check "(b) pipelined: postfix answers 220 250, then 250 250 550 550 250 250 221 ('$codes')" \
	test "$codes" = "220 250 250 250 550 550 250 250 221"
soft deltas_are "(b) ... each command of the segment judged" \
	"null_sender=1 known=1 unknown=2 foreign=1 not_judged=0"

# RCPT TO lines in a body (more than the threshold: if they counted, the
# client would be banned), then a transaction after the end of data.
snap
codes=$(smtp_script "$C2" "$S4" 25 <<EOF
< 1
> b"EHLO body.client.example\r\n"
< 1
> b"MAIL FROM:<sender@client.example>\r\n"
< 1
> b"RCPT TO:<user4@$DOM>\r\n"
< 1
> b"DATA\r\n"
< 1
> b"Subject: looks like commands\r\n\r\n" + b"".join(b"RCPT TO:<ghost-b%d@$DOM>\r\n" % i for i in range(6)) + b"MAIL FROM:<>\r\nDATA\r\n.\r\n"
< 1
> b"MAIL FROM:<sender@client.example>\r\n"
< 1
> b"RCPT TO:<after-data.$RANDOM@$DOM>\r\n"
< 1
> b"QUIT\r\n"
< 1
EOF
)
soft check "(b) body: 250 354 250, then 550 after the end of data ('$codes')" \
	test "$codes" = "220 250 250 250 354 250 250 550 221"
soft deltas_are "(b) ... no RCPT TO in the body counted, the one after it is" \
	"known=1 unknown=1 null_sender=0"

snap
body=$(for i in 1 2 3 4 5 6; do printf 'RCPT TO:<ghost-s%d@%s>\n' "$i" "$DOM"; done)
SWAKS_MORE=(--body "$body")
codes=$(rcpt_codes "$C2" sender@client.example "user5@$DOM")
SWAKS_MORE=()
soft check "(b) swaks with RCPT TO lines in its body: 250 ('$codes')" test "$codes" = 250
soft deltas_are "(b) ... only the envelope's recipient counted" "known=1 unknown=0"
soft check "(b) client 2 (2 unknown so far) is not banned" not banned_by_inspect "$A2"

# IPv6 takes the same path (its own source, the client's /64).
snap
codes=$(smtp_script "$C2" "$LAB_SERVER6" 25 <<EOF
< 1
> b"EHLO v6.client.example\r\n"
< 1
> b"MAIL FROM:<>\r\n"
< 1
> b"RCPT TO:<user1@$DOM>\r\n"
< 1
> b"RCPT TO:<ghost-v6.$RANDOM@$DOM>\r\n"
< 1
> b"QUIT\r\n"
< 1
EOF
)
soft check "(b) over IPv6: 250 for the known, 550 for the unknown ('$codes')" \
	test "$codes" = "220 250 250 250 550 221"
soft deltas_are "(b) ... both judged, the bounce noted" "known=1 unknown=1 null_sender=1"

searches1=$(slapd_searches)
soft check "(b) slapd saw no search for any recipient ($searches0 before, $searches1 after)" \
	test "$searches1" -eq "$searches0"

# ------------------------------------------------- (c) the penalty box

# Client 1 has 2 unknown recipients (the pipelined segment). Bounces with
# one unknown recipient each: the third one is past the threshold.
p0=$(mxg_stat smtp dropped.penalty)
snap
codes=$(rcpt_codes "$C1" '<>' "$(unknowns 1 bs)")
soft check "(c) 3rd unknown from client 1: 550, not banned yet ('$codes')" \
	test "$codes" = 550
soft check "(c) ... not banned at the threshold" not banned_by_inspect "$A1"
codes=$(rcpt_codes "$C1" '<>' "$(unknowns 1 bs)")
soft check "(c) 4th unknown: 550 ('$codes')" test "$codes" = 550
soft deltas_are "(c) ... 2 unknown, 1 source penalised" "unknown=2 penalized=1 null_sender=2"
check "(c) client 1 is in the ban list with reason inspect, class smtp" banned_by_inspect "$A1"
read -r _ _ left < <(inspect_ban_of "$A1")
soft check "(c) ... expiring within the penalty ($left s of $PENALTY)" \
	test "$left" -gt 0 -a "$left" -le "$PENALTY"
soft check "(c) client 1's next connection to port 25 fails" not tcp_connects "$C1" "$S4"
r=$(tcp_burst "$C1" "$S4" 25 3 0.5)
soft check "(c) ... and the next 3 too ($r ok/failed)" test "$r" = "0 3"
p1=$(mxg_stat smtp dropped.penalty)
soft check "(c) ... its SYNs dropped by the penalty box ($((p1 - p0)) dropped)" test $((p1 - p0)) -ge 4
soft check "(c) client 2 still delivers" delivers "$C2"
soft check "(c) top --by unknown shows client 1 first" top_first_is "$A1"
soft check "(c) mxguardd logged the penalty, aggregated" \
	wait_until 15 grep -qE "penalty box: put 1 source\(s\) in it .*$A1, [0-9]+ unknown" "$MXLOG"
soft check "(c) ... one line for it, not one per packet" \
	test "$(grep -c 'penalty box: put' "$MXLOG")" -eq 1
searches1=$(slapd_searches)
soft check "(c) slapd still saw no search ($searches0 before, $searches1 now)" \
	test "$searches1" -eq "$searches0"

# --------------------------------------------- (d) encrypted sessions

# Client 2 is at 2 unknown: if any of these encrypted RCPTs were judged,
# it would be banned.
snap
codes=$(smtp_script "$C2" "$S4" 25 <<EOF
< 1
> b"EHLO tls.client.example\r\n"
< 1
> b"STARTTLS\r\n"
< 1
tls
> b"EHLO tls.client.example\r\n"
< 1
> b"MAIL FROM:<>\r\n"
< 1
$(for i in 1 2 3 4 5; do printf '> b"RCPT TO:<ghost-t%d@%s>\\r\\n"\n< 1\n' "$i" "$DOM"; done)
> b"QUIT\r\n"
< 1
EOF
)
soft check "(d) STARTTLS: 220, then 550 for each RCPT inside TLS ('$codes')" \
	test "$codes" = "220 250 220 250 250 550 550 550 550 550 221"
soft deltas_are "(d) ... the session counted uninspectable, nothing judged in it" \
	"uninspectable=1 unknown=0 known=0 null_sender=0 not_judged=0"
snap
codes=$(smtp_script "$C2" "$S4" 465 <<EOF
tls
< 1
> b"EHLO smtps.client.example\r\n"
< 1
> b"MAIL FROM:<>\r\n"
< 1
$(for i in 1 2 3 4 5; do printf '> b"RCPT TO:<ghost-w%d@%s>\\r\\n"\n< 1\n' "$i" "$DOM"; done)
> b"QUIT\r\n"
< 1
EOF
)
soft check "(d) port 465: 550 for each RCPT ('$codes')" \
	test "$codes" = "220 250 250 550 550 550 550 550 221"
soft deltas_are "(d) ... counted uninspectable, nothing judged" \
	"uninspectable=1 unknown=0 known=0 null_sender=0"
soft check "(d) client 2 is not banned" not banned_by_inspect "$A2"

# ------------------------------------------------------- (e) observe

reload observe 1h 2h
snap
mapfile -t u < <(unknowns 6 obs)
codes=$(rcpt_codes "$C2" '<>' "${u[@]}")
soft check "(e) observe: postfix still answers 550 ('$codes')" \
	test "$codes" = "550 550 550 550 550 550"
soft deltas_are "(e) ... 6 unknown counted, nobody penalised" "unknown=6 penalized=0"
soft check "(e) ... client 2 (8 unknown in the window) is not banned" not banned_by_inspect "$A2"
soft check "(e) ... and connects" tcp_connects "$C2" "$S4"
# The penalty given in (c) runs out on its own.
check "(e) client 1's penalty ends within $PENALTY s" \
	wait_until $((PENALTY + 5)) not banned_by_inspect "$A1"
soft check "(e) ... and it connects again" wait_until 5 tcp_connects "$C1" "$S4"
snap
mapfile -t u < <(unknowns 5 obs1)
codes=$(rcpt_codes "$C1" '<>' "${u[@]}")
soft deltas_are "(e) client 1 again past the threshold in observe: counted, not penalised" \
	"unknown=5 penalized=0"
soft check "(e) ... not banned" not banned_by_inspect "$A1"

# ------------------------------------------ (e2) drop: a typo is not a ban

# A source below the threshold keeps the MTA's own answer in mode drop:
# its segment is not dropped, so no retransmission can count it again.
reload drop 1h 2h
A3=198.18.0.23
ip -n "$C2" addr add "$A3/24" dev eth0
snap
SWAKS_MORE=(--local-interface "$A3")
codes=$(rcpt_codes "$C2" "sender@client.example" "typo@$DOM")
SWAKS_MORE=()
soft check "(e2) drop: a typo from a new source gets postfix's 550 ('$codes')" \
	test "$codes" = "550"
soft deltas_are "(e2) ... counted once, nothing dropped, nobody penalised" \
	"unknown=1 dropped_segments=0 penalized=0"
soft check "(e2) ... not banned" not banned_by_inspect "$A3"

# ----------------------------------------------- (f) stale: not ready

slapd_stop
reload penalize 1s 2s
wait_until 30 not mxg_mirror_ready || die "(f) the mirror stayed ready after max_age"
pass "(f) the mirror is not ready (slapd stopped, max_age 2s passed)"
snap
mapfile -t u < <(unknowns 5 stale)
codes=$(rcpt_codes "$C2" '<>' "${u[@]}")
soft check "(f) postfix answers 4xx, never 550 ('$codes')" \
	grep -qE '^(4[0-9][0-9] ){4}4[0-9][0-9]$' <<<"$codes"
soft deltas_are "(f) 5 RCPTs not judged, nobody penalised" "not_judged=5 unknown=0 known=0 penalized=0"
soft check "(f) nobody is banned (client 2 is far past the threshold)" nobody_banned
soft check "(f) client 2 still connects" tcp_connects "$C2" "$S4"

soft_verdict
log "all checks passed"

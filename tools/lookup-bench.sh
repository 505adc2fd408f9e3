#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# tools/lookup-bench.sh BUILD: recipient lookups per second from mxguard's
# socketmap beside Postfix's own ldap: table against the same slapd, in the
# same run (issue 5, "Numbers"). Part of `make bench`; nothing asserted.
#
# In the netns lab (tools/lab.sh): a slapd with
# MXG_BENCH_USERS people (default 1000), mxguardd mirroring it with
# [lookup] on, and MXG_BENCH_LOOKUPS keys (default 20000, half known, half
# unknown at a local domain, as backscatter makes them) looked up by
#   1. Postfix's dict client, `postmap -q - ldap:...` (one process, one
#      LDAP connection, one search per key: what relay_recipient_maps =
#      ldap:... costs the directory);
#   2. the same client, `postmap -q - socketmap:unix:SOCKET:rcpt`;
#   3. build/tools/lookup-bench (C, one request in flight per connection,
#      as an MTA asks) over 1 and MXG_BENCH_CONNS (default 8) connections.
# Each line is the median of MXG_BENCH_REPEAT runs (default 3) and shows
# the LDAP searches slapd logged during all of them. With
# MXG_BENCH_FIGURES set (tools/bench.sh does), the figures are also
# appended to it as JSON lines (tools/bench-lib.sh).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB_PREFIX=mxlb
LAB_TOOLS_NEEDED="lookup-bench"
. "$SRC/tools/lab.sh"
. "$SRC/tools/bench-lib.sh"

lab_init "${1:?usage: $0 BUILD}" lookup-bench
USERS=${MXG_BENCH_USERS:-1000}
LOOKUPS=${MXG_BENCH_LOOKUPS:-20000}
CONNS=${MXG_BENCH_CONNS:-8}
# Each figure is the median of this many runs: the host is shared.
REPEAT=${MXG_BENCH_REPEAT:-3}
DOM=$LAB_RCPT_DOMAIN
CLIENT=$BUILD/tools/lookup-bench
[[ -x $CLIENT ]] || die "$CLIENT not built (make $CLIENT)"
command -v postmap >/dev/null || lab_unavailable "needs postfix (postmap)"

lab_netns_up
slapd_start 4096 "$USERS"

# Postfix's dict layer with no running Postfix: a config dir for postmap.
PF=$LAB_TMP/pfbench
mkdir -p "$PF"
cat >"$PF/main.cf" <<EOF
compatibility_level = 3.6
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
daemon_directory = /usr/lib/postfix/sbin
EOF
if ! postconf -c "$PF" -m 2>/dev/null | grep -qx ldap; then
	lab_unavailable "Postfix has no ldap: table (apt-get install postfix-ldap)"
fi
# What a Postfix site would write for relay_recipient_maps = ldap:...
ldap_rcpt_table "$PF/ldap-rcpt.cf"

SOCK=$LAB_TMP/lookup.sock
conf=$LAB_TMP/mxguard.conf
# The read-only account the lab's slapd has, without slapd's default size
# limit of 500 entries (anonymous binds keep it).
bind=()
if [[ -n ${SLAPD_BIND_DN:-} ]]; then
	printf '%s' "$SLAPD_BIND_PW" >"$LAB_TMP/ldap.secret"
	chmod 600 "$LAB_TMP/ldap.secret"
	bind=("bind_dn = $SLAPD_BIND_DN" "bind_password_file = $LAB_TMP/ldap.secret")
elif ((USERS > 500)); then
	die "this lab's slapd has no bind account: use MXG_BENCH_USERS=500 or fewer"
fi
conf_write "$conf" detach \
	"[ldap]" "uri = ldap://$LAB_DIR4:389/" "base = ou=people,$SLAPD_SUFFIX" "${bind[@]}" \
	"attributes = mail, mailLocalAddress" "domains = $DOM" \
	"sync = poll" "poll_interval = 1h" "max_age = 2h" \
	"[lookup]" "socket = $SOCK"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"
mirror_ready() {
	[[ $(ctl_json rcpt check "user1@$DOM" | json_get mirror_ready) == True ]]
}
wait_until 30 mirror_ready || die "the mirror did not become ready: $(tail -5 "$LAB_TMP/mxguardd.log")"

keys=$LAB_TMP/keys
for ((i = 0; i < LOOKUPS; i++)); do
	if ((i % 2)); then
		echo "user$((i % USERS + 1))@$DOM"
	else
		echo "nobody$i@$DOM"
	fi
done >"$keys"

# once CMD...: one run of CMD (prints "lookups N seconds S per_second R
# found F errors E"), timed here for postmap.
once() {
	if [[ $1 == postmap ]]; then
		local t0 t1 found
		t0=$(date +%s.%N)
		found=$(in_server_net timeout 600 postmap -c "$PF" -q - "$2" <"$keys" 2>/dev/null | wc -l)
		t1=$(date +%s.%N)
		python3 -c 'import sys; n, t0, t1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print("lookups %d seconds %.3f per_second %.0f found %s errors 0" % (n, t1 - t0, n / (t1 - t0), sys.argv[4]))' \
			"$LOOKUPS" "$t0" "$t1" "$found"
	else
		"$CLIENT" "$SOCK" "$keys" "$2" || die "lookup-bench failed"
	fi
}

# measure LABEL FIGURE CMD...: the median of REPEAT runs, as a row, and as
# figures named after FIGURE.
measure() {
	local label=$1 what=$2 s0 r runs=()
	shift 2
	s0=$(slapd_searches)
	for ((r = 0; r < REPEAT; r++)); do
		runs+=("$(once "$@")")
	done
	printf '%s\n' "${runs[@]}" | sort -n -k6 | sed -n "$(((REPEAT + 1) / 2))p" | {
		read -r _ _ _ secs _ rate _ found _ _
		local searches=$(($(slapd_searches) - s0))
		row "$label" "$rate" "$secs" "$found" "$searches"
		echo "$rate" >"$LAB_TMP/rate-${label%% *}"
		bench_figure lookup "lookups/s, $what" "$rate" /s
		# mxguard's side must not cost the directory one search.
		[[ $what == *ldap:* ]] ||
			bench_figure lookup "LDAP searches during $REPEAT x $LOOKUPS lookups, $what" \
				"$searches" searches "== 0"
	}
}

row() { printf '  %-52s %7s lookups/s  %6s s  found %6s  LDAP searches %s\n' "$@"; }

echo "lookup: $LOOKUPS recipient lookups (half known, half unknown at $DOM), slapd with $USERS people, mirror of $(ctl_json rcpt stats 2>/dev/null | json_get entries 2>/dev/null || echo '?') addresses"

measure "ldap: postmap -q - (Postfix's client, LDAP)" "postmap -q, ldap: table" \
	postmap "ldap:$PF/ldap-rcpt.cf"
measure "socketmap: postmap -q - (Postfix's client, mxguard)" "postmap -q, mxguard socketmap" \
	postmap "socketmap:unix:$SOCK:rcpt"
measure "lookup-bench, 1 connection (mxguard)" "lookup-bench, 1 connection" client 1
measure "lookup-bench, $CONNS connections (mxguard)" "lookup-bench, $CONNS connections" \
	client "$CONNS"
x=$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) / float(sys.argv[2])))' \
	"$(cat "$LAB_TMP/rate-socketmap:")" "$(cat "$LAB_TMP/rate-ldap:")")
echo "  socketmap / ldap with the same client: ${x}x the lookups per second, and no LDAP search"
bench_figure lookup "postmap -q lookups/s, socketmap / ldap:" "$x" ratio

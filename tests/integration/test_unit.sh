#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The hardened unit (docs/mxguardd.service) holds what it promises:
#   (a) systemd-analyze security --offline=true rates it at most 3.0;
#   (b) mxguardd run with exactly the capabilities the unit grants (read
#       from the unit file itself, so the two cannot drift; bounding,
#       inheritable, ambient and so effective set, as setpriv sets them
#       for uid 0) loads, attaches in XDP and in tc mode, counts real
#       connections and drops the one over source_conns, mirrors the
#       directory and answers lookups on a socket given to a group,
#       serves /metrics;
#       mxguardctl reads the state with no capability and unloads (tc
#       filters left by on_exit = keep) with CAP_NET_ADMIN alone
#       (docs/operations.md);
#   (c) the same run without CAP_PERFMON fails, naming it.
# PID 1 here is no systemd: the unit itself is not started.
#
# Usage: tests/integration/test_unit.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

UNIT=$(cd "$(dirname "$0")/../.." && pwd)/docs/mxguardd.service
MAX_EXPOSURE=3.0

# ------------------------------------------------ (a) systemd-analyze
command -v systemd-analyze >/dev/null || die "systemd-analyze not found (tools/deps.sh installs systemd)"
out=$(systemd-analyze security --offline=true "$UNIT" 2>&1) ||
	die "systemd-analyze security failed: $(tail -5 <<<"$out")"
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' <<<"$out")
[[ -n $exposure ]] || die "no overall exposure in: $(tail -3 <<<"$out")"
check "systemd-analyze security rates the unit $exposure (at most $MAX_EXPOSURE)" \
	awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'

# unit_caps KEY: the capabilities of KEY= in the unit, as setpriv's
# "+bpf,+net_admin,..." (every line of KEY adds, as systemd reads them).
unit_caps() {
	local caps
	caps=$(sed -n "s/^$1=//p" "$UNIT" | tr ' ' '\n' | sed '/^$/d')
	grep -q '^~' <<<"$caps" && die "$1 in the unit is a deny list: this test reads allow lists only"
	tr 'A-Z' 'a-z' <<<"$caps" | sed 's/^cap_/+/' | paste -sd, -
}
BOUNDING=$(unit_caps CapabilityBoundingSet)
AMBIENT=$(unit_caps AmbientCapabilities)
[[ -n $BOUNDING ]] || die "no CapabilityBoundingSet= in $UNIT"
log "the unit's capabilities: $BOUNDING (ambient: ${AMBIENT:-none})"
for c in ${AMBIENT//,/ }; do
	[[ ,$BOUNDING, == *,$c,* ]] || die "AmbientCapabilities has ${c#+}, which the bounding set lacks"
done

# caps_wrap CAPS: WRAP=(setpriv ...), a command prefix that runs its
# arguments as uid 0 with only CAPS ("+a,+b"; "" for none) in each
# capability set (bounding, inheritable, ambient, hence permitted and
# effective after the exec), as systemd runs the unit's root process.
caps_wrap() {
	local c=$1
	WRAP=(setpriv "--inh-caps=-all${c:+,$c}" "--ambient-caps=-all${c:+,$c}"
		"--bounding-set=-all${c:+,$c}" --)
}
# with_caps CAPS CMD...: CMD so.
with_caps() {
	local WRAP
	caps_wrap "$1"
	shift
	"${WRAP[@]}" "$@"
}

# ------------------------------------------------ the lab
lab_init "${1:?usage: $0 BUILD}" unit
command -v setpriv >/dev/null || die "setpriv not found (tools/deps.sh installs util-linux)"
lab_netns_up
slapd_start 1024 3

C1=$LAB_NS_C1 S4=$LAB_SERVER4 DOM=$LAB_RCPT_DOMAIN
PORT=2525
SOURCE_CONNS=3
SOCK=$LAB_TMP/run/lookup.sock
mkdir -p "$LAB_TMP/run"
chmod 755 "$LAB_TMP/run"
# A group root is not in: giving the socket to it takes CAP_CHOWN.
GROUP=nogroup
getent group "$GROUP" >/dev/null || die "no group $GROUP"
CTL_CAPS=""
CTL_UNLOAD_CAPS=+net_admin
METRICS_PORT=9913
command -v curl >/dev/null || die "curl not installed (tools/deps.sh)"

# A listener that holds each connection until the client closes it, as a
# real server does (the counter uncounts a connection when it closes).
cat >"$LAB_TMP/hold.py" <<'EOF'
import selectors, socket, sys
sel = selectors.DefaultSelector()
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(128)
sel.register(l, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is l:
            c, _ = l.accept()
            sel.register(c, selectors.EVENT_READ)
        else:
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()
EOF
in_server_net /usr/bin/python3 "$LAB_TMP/hold.py" "$S4" "$PORT" &
LAB_BG_PIDS+=("$!")
listening() { in_server_net ss -Hltn "sport = :$PORT" | grep -q .; }
check "the test listener listens on $S4:$PORT" wait_until 10 listening

# lookup ADDR: the socketmap answer for ADDR (Postfix's netstrings).
lookup() {
	/usr/bin/python3 - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
q = ("rcpt " + sys.argv[2]).encode()
s.sendall(str(len(q)).encode() + b":" + q + b",")
r = s.recv(512).decode()
print(r[r.index(":") + 1:-1])
EOF
}

conf=$LAB_TMP/mxguard.conf
# unit_conf MODE ON_EXIT
unit_conf() {
	LAB_ATTACH=$1 conf_write "$conf" "$2" \
		"[class smtp]" "ports = $PORT" "rate = off" "source_conns = $SOURCE_CONNS" \
		"[ldap]" "uri = ldap://$S4:389/" "base = ou=people,$SLAPD_SUFFIX" \
		"attributes = mail" "domains = $DOM" "sync = poll" "poll_interval = 30s" \
		"[lookup]" "socket = $SOCK" "group = $GROUP" \
		"[metrics]" "listen = $S4:$METRICS_PORT"
}
ctl_caps() { with_caps "$CTL_CAPS" "$MXGCTL" -j --pin-dir "$LAB_PIN" "$@"; }
conns() { ctl_caps stats | json_get classes.smtp.conns; }
conns_are() { [[ $(conns) == "$1" ]]; }
mirror_ready() { [[ $(ctl_caps rcpt check "user1@$DOM" | json_get mirror_ready) == True ]]; }

# ------------------------------------------------ (b) XDP, then tc
for mode in xdp tc; do
	# tc keeps its filters at the stop: unload must delete them.
	on_exit=detach
	[[ $mode == xdp ]] || on_exit=keep
	unit_conf "$mode" "$on_exit"
	caps_wrap "$BOUNDING"
	MXGD_WRAP=("${WRAP[@]}")
	mxgd_start "$conf" "$LAB_TMP/mxguardd.$mode.log"
	eff=$(awk '/^CapEff/ { print $2 }' "/proc/$MXGD_PID/status")
	want=$(with_caps "$BOUNDING" awk '/^CapEff/ { print $2 }' /proc/self/status)
	check "($mode) mxguardd runs with the unit's capabilities only (CapEff $eff)" test "$eff" == "$want"

	status=$(ctl_caps status) || die "mxguardctl -j status with $CTL_CAPS failed: $status"
	check "($mode) attached to both ports in $mode mode, the counter attached" \
		/usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
modes = sorted(a["mode"] for a in d["attached"])
ok = modes == [sys.argv[2]] * 2 and d["counter"]["attached"] is True
if not ok: print(modes, d["counter"], file=sys.stderr)
sys.exit(0 if ok else 1)' "$status" "$mode"

	# Real connections, held: the counter sees them, the one over
	# source_conns is dropped at SYN, and they are uncounted on close.
	d0=$(ctl_caps stats | json_get classes.smtp.dropped.source_conns)
	tcp_hold "$C1" "$S4" "$PORT" $((SOURCE_CONNS + 2)) 4 0.5 >"$LAB_TMP/hold.$mode" &
	hold_pid=$!
	LAB_BG_PIDS+=("$hold_pid")
	check "($mode) the counter counts the $SOURCE_CONNS held connections" \
		wait_until 10 conns_are "$SOURCE_CONNS"
	wait "$hold_pid" || die "($mode) connflood failed: $(cat "$LAB_TMP/hold.$mode")"
	read -r attempts established held <"$LAB_TMP/hold.$mode"
	log "($mode) connflood: $attempts attempts, $established established, at most $held held"
	check "($mode) at most source_conns ($SOURCE_CONNS) held at once: $held" test "$held" -eq "$SOURCE_CONNS"
	d1=$(ctl_caps stats | json_get classes.smtp.dropped.source_conns)
	check "($mode) SYNs over source_conns dropped and counted (+$((d1 - d0)))" test "$d1" -gt "$d0"
	check "($mode) the closed connections are uncounted" wait_until 10 conns_are 0

	# The mirror and the lookup socket, with the live map opened by its
	# pin (no CAP_SYS_ADMIN for an id).
	check "($mode) the mirror is ready" wait_until 20 mirror_ready
	check "($mode) the lookup socket belongs to group $GROUP" test "$(stat -c %G "$SOCK")" == "$GROUP"
	ans=$(lookup "user1@$DOM")
	check "($mode) lookup of a known recipient: '$ans'" test "$ans" == "OK user1@$DOM"
	ans=$(lookup "nobody@$DOM")
	check "($mode) lookup of an unknown recipient: '$ans'" test "$ans" == "NOTFOUND "
	metrics=$(in_server_net curl -sS --max-time 10 "http://$S4:$METRICS_PORT/metrics") ||
		die "($mode) GET /metrics failed: $metrics"
	check "($mode) the metrics endpoint serves the held connections' drops" \
		grep -qE "^mxguard_syns_dropped_total\{.*reason=\"source_conns\".*\} [1-9]" <<<"$metrics"
	check "($mode) no error in mxguardd's log" \
		not grep -iE 'error|cannot|not permitted' "$LAB_TMP/mxguardd.$mode.log"

	mxgd_stop TERM || die "($mode) mxguardd exited with status $? on SIGTERM"
	[[ $on_exit == detach ]] || check "($mode) on_exit = keep: still attached" guard_attached "${LAB_SPORTS[0]}"
	if [[ $mode == xdp ]]; then
		# A restart adopts the pins (maps, the mirror's live map)
		# with the same capabilities.
		mxgd_start "$conf" "$LAB_TMP/mxguardd.$mode.2.log"
		check "(restart) attached again" guard_attached "${LAB_SPORTS[0]}"
		ans=$(lookup "user1@$DOM")
		check "(restart) lookup of a known recipient: '$ans'" test "$ans" == "OK user1@$DOM"
		mxgd_stop TERM || die "(restart) mxguardd exited with status $? on SIGTERM"
	fi
	caps_wrap "$CTL_UNLOAD_CAPS"
	out=$(in_server_net "${WRAP[@]}" "$MXGCTL" --pin-dir "$LAB_PIN" unload 2>&1) ||
		die "mxguardctl unload with $CTL_UNLOAD_CAPS failed: $out"
	check "($mode) unload with $CTL_UNLOAD_CAPS removed the pins" test ! -e "$LAB_PIN"
	check "($mode) nothing attached after unload" not guard_attached "${LAB_SPORTS[0]}"
	check "($mode) no cgroup program left" no_cgroup_prog_added
done

# ------------------------------------------------ (c) one capability less
LESS=${BOUNDING//+perfmon/}
LESS=${LESS//,,/,}
LESS=${LESS#,}
LESS=${LESS%,}
[[ $LESS != "$BOUNDING" ]] || die "the unit grants no CAP_PERFMON: (c) has nothing to remove"
unit_conf xdp detach
logf=$LAB_TMP/mxguardd.less.log
rc=0
caps_wrap "$LESS"
in_server_net "${WRAP[@]}" timeout 30 "$MXGD" -c "$conf" -f 2>"$logf" || rc=$?
check "without CAP_PERFMON mxguardd fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "and says CAP_PERFMON is missing: $(tail -1 "$logf")" grep -q 'without CAP_PERFMON' "$logf"
check "and attaches nothing" not guard_attached "${LAB_SPORTS[0]}"
check "and pins nothing" test -z "$(ls -A "$LAB_PIN" 2>/dev/null)"
rm -rf "$LAB_PIN"
log "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Acceptance test of the fleet (issue 15, items 1 and 5, "Tests" and "Bad
# input"): two guards share the penalty box through one real slapd with
# syncprov and slapo-dds (tools/lab.sh, slapd_fleet_*: the ACL of
# docs/fleet.md, one bind account per guard host). Guard A runs in the
# server namespace, attached to bridge port mxs1 only (client 1's); guard
# B on the second mail host ($LAB_NS_M2, 198.18.0.2, its eth0), so
# client 2's SYNs to B cross no port of A's, and A never judges them: a
# drop there is B's own, from a ban it learnt from the directory.
#   (a) both guards follow the subtree: state synced;
#   (b) `ban add` on A: published (A's ban list, the directory's entry
#       under cn=A), on B as origin fleet with peer A, and B drops client
#       2's SYNs to 198.18.0.2:25 (failed connects, B's penalty counter),
#       while client 1 still connects to B;
#   (c) `ban del` on A: gone on B, B lets client 2 in again, the entry
#       leaves the directory;
#   (d) the other way: a ban added on B drops client 1 at A (198.18.0.1);
#       `ban del` on B ends it on A;
#   (e) expiry: a ban with a short TTL reaches B with its time left and
#       ends on both when it runs out, its entry gone from the directory
#       (a dynamicObject with an entryTtl when the guard uses slapo-dds);
#   (f) `ban del` on B of A's ban: fleet-wide (gone on A, on B, in the
#       directory) and B does not take it back meanwhile;
#   (g) a penalty from A's SMTP inspector (Postfix validating through A's
#       socket, client 1 past unknown_threshold) reaches B, which drops
#       SYNs from client 1's address (sent by client 2 with scapy: client
#       1's own cross A's port, where A drops them first); `ban del` on A
#       ends it on B;
#   (h) entries written with ldapadd as the rootdn for a third host: a
#       malformed one (a prefix with host bits), 0.0.0.0/0, and a prefix
#       overlapping B's allow list are refused by B, each counted in its
#       status and logged once; A, without the allow list, takes the
#       third;
#   (i) B reloaded with the lab's read-only account: its local ban still
#       drops, the failed publishing is logged once and pending; reloaded
#       with its own account, it publishes (A takes the ban); the
#       directory down: a ban added on B drops at once, its publishing is
#       retried and reported once; slapd back, B publishes, says so once,
#       and its full refresh does not log (h)'s malformed entry again;
#   (j) B restarted (on_exit = keep) after A changed its bans meanwhile:
#       B's fleet bans equal A's entries, each once, nothing stale;
#   (k) attach = tc on both: (b) and (d)'s drops again.
# The first phases run with attach = $LAB_ATTACH (default xdp).
#
# Usage: tests/integration/test_fleet.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" fleet
for c in slapd ldapadd smtp-sink postfix swaks bpftool; do
	command -v "$c" >/dev/null || skip "needs $c"
done
PY=/usr/bin/python3
$PY -c 'import scapy.all' 2>/dev/null || skip "needs python3-scapy (Debian's, for /usr/bin/python3)"
lab_netns_up
lab_mx2_up

C1=$LAB_NS_C1 C2=$LAB_NS_C2 S4=$LAB_SERVER4 M4=$LAB_MX2_4 DOM=$LAB_RCPT_DOMAIN
A1=${LAB_CLIENT4[0]} A2=${LAB_CLIENT4[1]}
HA=mx1.lab.example HB=mx2.lab.example HC=mx3.lab.example
PIN_A=$LAB_PIN PIN_B=$LAB_PIN-m2
LAB_PINS_MORE+=("$PIN_B")
CONF_A=$LAB_TMP/mxguard-a.conf CONF_B=$LAB_TMP/mxguard-b.conf
# FLEET_LOG_DIR: keep the guards' logs there (a failure's diagnosis).
LOG_A=${FLEET_LOG_DIR:-$LAB_TMP}/mxguardd-a.log LOG_B=${FLEET_LOG_DIR:-$LAB_TMP}/mxguardd-b.log
SOCK=$LAB_TMP/run/lookup.sock
ALLOW_B=198.18.0.70/32	# B's allow list
ATTACH=${LAB_ATTACH:-xdp}
# How long a ban may take from one guard to the other here: the issue
# asks for a second; a loaded CI machine gets some room, and the time
# each took is printed.
PROPAGATE=5
mkdir -p "$LAB_TMP/run"
chmod 755 "$LAB_TMP/run"

# ------------------------------------------------------------- helpers

ctl_at() { "$MXGCTL" --pin-dir "$1" "${@:2}"; }
ctl_json_at() { "$MXGCTL" -j --pin-dir "$1" "${@:2}"; }
pin_of() { [[ $1 == A ]] && echo "$PIN_A" || echo "$PIN_B"; }

# conf_a, conf_b: the guards' configs. A: mxs1 only, the
# recipient mirror of the lab's people, the lookup socket and the SMTP
# inspector (penalize past 3 unknown recipients). B: its eth0, an allow
# list. Both with [fleet] on the same slapd, each as its own account.
conf_a() {
	fleet_conf "$CONF_A" "$PIN_A" "${LAB_SPORTS[0]}" \
		"[ldap]" "uri = $(slapd_uri fleet)" "base = $SLAPD_PEOPLE" \
		"attributes = mail, mailLocalAddress" "domains = $DOM" \
		"sync = poll" "poll_interval = 1h" "max_age = 2h" \
		"[lookup]" "socket = $SOCK" \
		"[smtp_inspect]" "mode = penalize" "unknown_threshold = 3" \
		"window = 10m" "penalty = 10m" \
		"$(fleet_section fleet "$HA")"
}
conf_b() {
	LAB_ON_EXIT=${B_ON_EXIT:-detach} fleet_conf "$CONF_B" "$PIN_B" eth0 "[allow]" "cidr = $ALLOW_B" \
		"$(fleet_section fleet "$HB")"
}
PID_A="" PID_B=""
# A restarted guard's log starts anew; the last one is kept as LOG.N.
LOG_N=0
keep_log() { [[ ! -e $1 ]] || mv "$1" "$1.$((++LOG_N))"; }
start_a() { keep_log "$LOG_A"; MXGD_NS="" mxgd_start "$CONF_A" "$LOG_A"; PID_A=$MXGD_PID; }
start_b() { keep_log "$LOG_B"; MXGD_NS=$LAB_NS_M2 mxgd_start "$CONF_B" "$LOG_B"; PID_B=$MXGD_PID; }
# stop_guard A|B: SIGTERM, bounded.
stop_guard() {
	if [[ $1 == A ]]; then MXGD_PID=$PID_A; else MXGD_PID=$PID_B; fi
	mxgd_stop TERM || log "guard $1 exited with status $?"
}
# unload_guard A|B: its programs detached (in its namespace) and its pins
# removed.
unload_guard() {
	local pin out ns=$LAB_NS_S
	pin=$(pin_of "$1")
	[[ $1 == A ]] || ns=$LAB_NS_M2
	[[ -d $pin ]] || return 0
	out=$(nsenter --net="/run/netns/$ns" timeout 20 "$MXGCTL" --pin-dir "$pin" unload 2>&1) ||
		die "unload of $pin failed: $out"
	rm -rf "$pin"
}
# reload_guard A|B: SIGHUP, wait for the "reloaded" line.
reload_guard() {
	local logf=$LOG_A pid=$PID_A n
	[[ $1 == A ]] || logf=$LOG_B pid=$PID_B
	n=$(grep -c 'reloaded' "$logf" || true)
	kill -HUP "$pid"
	wait_until 10 reloaded_more_than "$logf" "$n" || die "guard $1 did not reload: $(tail -5 "$logf")"
}
reloaded_more_than() { (($(grep -c 'reloaded' "$1" || true) > $2)); }

# fleet_field A|B FIELD: a field of the fleet's sync state, from `status
# -j`'s "fleet" object; from the mxg_fleet map (bpftool) while the CLI
# does not show it yet. state is a name (off connecting refreshing
# synced).
fleet_field() {
	local pin out
	pin=$(pin_of "$1")
	out=$(ctl_json_at "$pin" status 2>/dev/null) || return 1
	python3 - "$2" "$pin" "$out" <<'EOF'
import json, subprocess, struct, sys
field, pin, status = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
f = status.get("fleet")
if f is None:
    raw = json.loads(subprocess.check_output(
        ["bpftool", "-j", "map", "dump", "pinned", pin + "/mxg_fleet"]))
    v = bytes(int(x, 16) for x in raw[0]["value"])
    keys = ["state", "mode", "synced_ns", "peer_entries", "applied", "refused",
            "published", "pending", "publish_errors", "error_s"]
    vals = struct.unpack_from("<IIQQQQQQQQ", v)
    f = dict(zip(keys, vals))
    f["host"] = v[72:136].split(b"\0")[0].decode()
    f["error"] = v[264:424].split(b"\0")[0].decode()
v = f[field]
if field == "state" and isinstance(v, int):
    v = ["off", "connecting", "refreshing", "synced"][v]
print(v)
EOF
}
fleet_synced() { [[ $(fleet_field "$1" state) == synced ]]; }

# ban_info A|B CIDR: "ORIGIN PEER PUBLISHED EXPIRES_IN_S" of the guard's
# ban on CIDR ("-" for no peer or no expiry; PUBLISHED true or false);
# nothing when there is none. The peer and the published mark from `ban
# list -j` ("peer", "published"); from the mxg_fleet_bans map (bpftool)
# while the CLI does not show them yet.
ban_info() {
	local pin out
	pin=$(pin_of "$1")
	out=$(ctl_json_at "$pin" ban list 2>/dev/null) || return 1
	python3 - "$2" "$pin" "$out" <<'EOF'
import ipaddress, json, subprocess, sys
cidr, pin, bans = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])["bans"]
def fleet_record(cidr):
    net = ipaddress.ip_network(cidr)
    plen, addr = net.prefixlen, net.network_address
    if net.version == 4:
        plen, addr = plen + 96, ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + addr.packed)
    key = plen.to_bytes(4, "little") + addr.packed
    raw = json.loads(subprocess.check_output(
        ["bpftool", "-j", "map", "dump", "pinned", pin + "/mxg_fleet_bans"]))
    for e in raw:
        if bytes(int(x, 16) for x in e["key"]) == key:
            v = bytes(int(x, 16) for x in e["value"])
            return v[:64].split(b"\0")[0].decode(), bool(int.from_bytes(v[136:140], "little") & 1)
    return None, False
for b in bans:
    if b["cidr"] != cidr:
        continue
    origin = b.get("origin", b.get("reason"))
    if "peer" in b or "published" in b:
        peer, published = b.get("peer"), bool(b.get("published", False))
    else:
        peer, published = fleet_record(cidr)
        if origin != "fleet":
            peer = None
    exp = b.get("expires_in_s")
    print(origin, peer or "-", "true" if published else "false", "-" if exp is None else exp)
EOF
}
# has_fleet_ban A|B CIDR PEER: a ban of origin fleet from PEER.
has_fleet_ban() {
	local i
	i=$(ban_info "$1" "$2") || return 1
	[[ $i == "fleet $3 "* ]]
}
# has_local_ban A|B CIDR ORIGIN: a local ban (cli, inspect), published.
has_published_ban() {
	local i
	i=$(ban_info "$1" "$2") || return 1
	[[ $i == "$3 - true "* ]]
}
has_no_ban() { [[ -z $(ban_info "$1" "$2") ]]; }
# fleet_bans_of A|B: "CIDR PEER" of every fleet ban, sorted.
fleet_bans_of() {
	ctl_json_at "$(pin_of "$1")" ban list | python3 -c '
import json, sys
for b in json.load(sys.stdin)["bans"]:
    if b.get("origin", b.get("reason")) == "fleet":
        print(b["cidr"])' | sort
}

# penalty_drops A|B: SYNs the guard dropped as banned (class smtp).
penalty_drops() {
	ctl_json_at "$(pin_of "$1")" stats | json_get classes.smtp.dropped.penalty
}

# drops_syns GUARD NS ADDR: 3 connects from NS to ADDR:25 all fail (one
# SYN each), and GUARD counted at least 3 more banned SYNs.
drops_syns() {
	local p0 p1 r
	p0=$(penalty_drops "$1") || return 1
	r=$(tcp_burst "$2" "$3" 25 3 0.5) || return 1
	p1=$(penalty_drops "$1") || return 1
	log "  $2 -> $3:25: $r connected/failed; guard $1 dropped $((p1 - p0)) banned SYNs"
	[[ $r == "0 3" ]] && ((p1 - p0 >= 3))
}
connects() { tcp_connects "$1" "$2"; }

# spoofed_dropped GUARD NS SRC DST: 3 SYNs to DST:25 sent from NS with
# the source address SRC (scapy): GUARD counted at least 3 more banned
# SYNs. For client 1's address at B: client 1's own SYNs cross A's port
# first, where A's ban drops them before B could judge them.
spoofed_dropped() {
	local p0 p1
	p0=$(penalty_drops "$1") || return 1
	nsenter --net="/run/netns/$2" $PY - "$3" "$4" <<'EOF' >/dev/null || return 1
import logging, sys, warnings
warnings.filterwarnings("ignore")
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, TCP, conf, send
conf.verb = 0
for i in range(3):
    send(IP(src=sys.argv[1], dst=sys.argv[2]) / TCP(sport=41000 + i, dport=25, flags="S", seq=7))
EOF
	p1=$(penalty_drops "$1") || return 1
	log "  3 SYNs from $3 (sent by $2) to $4:25: guard $1 dropped $((p1 - p0)) as banned"
	((p1 - p0 >= 3))
}
# in_range V LO HI: V is a whole number in LO..HI.
in_range() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }

# within WHAT SECS CMD...: check that CMD holds within SECS (wall clock),
# saying how long it took.
within() {
	local what=$1 secs=$2
	shift 2
	if wait_within "$secs" "$@"; then pass "$what (${WAITED}s)"; else die "$what (not within ${secs}s)"; fi
}

# log_lines GUARD PATTERN: lines of the guard's log matching the ERE
# (case-insensitive); log_has GUARD TEXT: lines holding TEXT.
log_lines() {
	local logf=$LOG_A
	[[ $1 == A ]] || logf=$LOG_B
	grep -ciE -- "$2" "$logf" || true
}
log_has() {
	local logf=$LOG_A
	[[ $1 == A ]] || logf=$LOG_B
	grep -ciF -- "$2" "$logf" || true
}

# rootdn_add DN LDIF-BODY: an entry written as the rootdn (past the ACL).
rootdn_add() { printf 'dn: %s\n%s\n\n' "$1" "$2" | ldap_add fleet; }

# ----------------------------------------------------------- the lab

slapd_fleet_start fleet 389 5 "$HA" "$HB"
pass "slapd with syncprov and slapo-dds, the fleet's ACL and accounts for $HA and $HB"
if slapd_fleet_offers_refresh fleet; then
	log "slapd lists the refresh operation in supportedExtension"
else
	log "note: slapd lists dynamicSubtrees but not the refresh operation in supportedExtension"
fi
pf_start
pf_set "relay_recipient_maps = socketmap:unix:$SOCK:rcpt"
lab_sink "$LAB_NS_M2" "$M4"

LAB_ATTACH=$ATTACH
conf_a
conf_b
start_a
start_b
# Admission in the mode asked for on both.
attached_as() {
	local out
	out=$(ctl_json_at "$(pin_of "$1")" status) || return 1
	[[ $(json_get attached.0.mode <<<"$out") == "$2" ]]
}
check "guard A attached with $ATTACH to mxs1" attached_as A "$ATTACH"
check "guard B attached with $ATTACH to eth0 of the second mail host" attached_as B "$ATTACH"

# --------------------------------------------------------- (a) synced

within "(a) guard A follows the fleet's subtree: synced" 30 fleet_synced A
within "(a) guard B: synced" 30 fleet_synced B
soft check "(a) B's fleet host is $HB" test "$(fleet_field B host)" = "$HB"
soft check "(a) client 2 reaches B before any ban" connects "$C2" "$M4"
soft check "(a) client 1 reaches A before any ban" connects "$C1" "$S4"

# ------------------------------------------------- (b) a ban from A

ctl_at "$PIN_A" ban add "$A2" --ttl 10m >/dev/null
within "(b) A's ban on $A2 is published (ban list)" "$PROPAGATE" has_published_ban A "$A2/32" cli
within "(b) ... its entry is in the directory under cn=$HA" "$PROPAGATE" slapd_fleet_has fleet "$HA" "$A2/32"
within "(b) B has it: origin fleet, peer $HA" "$PROPAGATE" has_fleet_ban B "$A2/32" "$HA"
left=$(ban_info B "$A2/32" | awk '{ print $4 }')
soft check "(b) ... with the time left ($left s of 600)" in_range "$left" 500 600
soft check "(b) B drops client 2's SYNs to $M4:25" drops_syns B "$C2" "$M4"
soft check "(b) ... client 1 still reaches B" connects "$C1" "$M4"
soft check "(b) A's status: 1 published" test "$(fleet_field A published)" = 1

# ------------------------------------------------ (c) ban del on A

ctl_at "$PIN_A" ban del "$A2" >/dev/null
within "(c) ban del on A: gone on B" "$PROPAGATE" has_no_ban B "$A2/32"
within "(c) ... the entry left the directory" "$PROPAGATE" not slapd_fleet_has fleet "$HA" "$A2/32"
soft check "(c) ... client 2 reaches B again" wait_until 3 connects "$C2" "$M4"

# ----------------------------------------------- (d) from B to A

ctl_at "$PIN_B" ban add "$A1" >/dev/null
within "(d) B's ban on $A1 reaches A: origin fleet, peer $HB" "$PROPAGATE" has_fleet_ban A "$A1/32" "$HB"
soft check "(d) ... B's entry is under cn=$HB" slapd_fleet_has fleet "$HB" "$A1/32"
left=$(ban_info A "$A1/32" | awk '{ print $4 }')
soft check "(d) ... without expiry on A ('$left')" test "$left" = -
soft check "(d) A drops client 1's SYNs to $S4:25" drops_syns A "$C1" "$S4"
ctl_at "$PIN_B" ban del "$A1" >/dev/null
within "(d) ban del on B: gone on A" "$PROPAGATE" has_no_ban A "$A1/32"
soft check "(d) ... client 1 reaches A again" wait_until 3 connects "$C1" "$S4"

# -------------------------------------------------------- (e) expiry

# Long enough for the checks below on a loaded machine; the time left
# first, then the directory, then the drops.
TTL=20
ctl_at "$PIN_A" ban add "$A2" --ttl "${TTL}s" >/dev/null
t_added=$SECONDS
within "(e) a ban with ttl ${TTL}s reaches B" "$PROPAGATE" has_fleet_ban B "$A2/32" "$HA"
left=$(ban_info B "$A2/32" | awk '{ print $4 }')
soft check "(e) ... with its time left ($left s of $TTL, $((SECONDS - t_added)) s after it was added)" \
	in_range "$left" $((TTL - (SECONDS - t_added) - 2)) $((TTL - (SECONDS - t_added) + 2))
ttl_attrs=$(slapd_fleet_search fleet "$(slapd_fleet_ban_dn "$HA" "$A2/32")" "(objectClass=*)" \
	objectClass entryTtl mxgBanExpires 2>/dev/null || true)
log "  A's entry: $(grep -E '^(objectClass|entryTtl|mxgBanExpires):' <<<"$ttl_attrs" | xargs)"
soft check "(e) ... the entry carries mxgBanExpires" grep -q '^mxgBanExpires: ' <<<"$ttl_attrs"
# The directory's TTL is a backstop for a host that died: the guard may
# give it some slack past the ban's own end, not hours.
soft check "(e) ... and is a dynamicObject with an entryTtl, at most 2 minutes past the ban's end (slapo-dds)" \
	python3 -c 'import re, sys
t = re.search(r"^entryTtl: (\d+)$", sys.argv[1], re.M)
sys.exit(0 if re.search(r"^objectClass: dynamicObject$", sys.argv[1], re.M | re.I) and t and 0 < int(t.group(1)) <= int(sys.argv[2]) + 120 else 1)' \
	"$ttl_attrs" "$TTL"
soft check "(e) B drops client 2 while the ban lasts" drops_syns B "$C2" "$M4"
within "(e) the ban ends on A" $((TTL + 5)) has_no_ban A "$A2/32"
within "(e) ... and on B" "$PROPAGATE" has_no_ban B "$A2/32"
within "(e) ... and its entry left the directory" "$PROPAGATE" not slapd_fleet_has fleet "$HA" "$A2/32"
soft check "(e) ... not before the ${TTL}s ($((SECONDS - t_added))s after it was added)" \
	test $((SECONDS - t_added)) -ge $((TTL - 1))
soft check "(e) client 2 reaches B again" wait_until 3 connects "$C2" "$M4"

# -------------------------------------- (f) ban del on B of A's ban

ctl_at "$PIN_A" ban add "$A2" >/dev/null
within "(f) A's ban on $A2 reaches B" "$PROPAGATE" has_fleet_ban B "$A2/32" "$HA"
ctl_at "$PIN_B" ban del "$A2" >/dev/null
within "(f) ban del on B: the entry leaves the directory (fleet-wide)" "$PROPAGATE" \
	not slapd_fleet_has fleet "$HA" "$A2/32"
within "(f) ... A's own ban ends too" "$PROPAGATE" has_no_ban A "$A2/32"
soft check "(f) ... B did not take it back (3 s later)" \
	not wait_until 3 not has_no_ban B "$A2/32"
soft check "(f) ... client 2 reaches B" connects "$C2" "$M4"

# -------------------------------- (g) a penalty from A's SMTP inspector

mxg_mirror_ready_a() {
	local v
	v=$(ctl_json_at "$PIN_A" rcpt check "probe@$DOM" | json_get mirror_ready) || return 1
	[[ $v == True ]]
}
wait_until 30 mxg_mirror_ready_a || die "(g) A's recipient mirror is not ready: $(tail -5 "$LOG_A")"
codes=$(rcpt_codes "user1@$DOM" "ghost1.$RANDOM@$DOM" "ghost2.$RANDOM@$DOM" \
	"ghost3.$RANDOM@$DOM" "ghost4.$RANDOM@$DOM" | xargs)
log "  client 1's RCPTs at A's Postfix: $codes"
within "(g) client 1 past the threshold is in A's penalty box, published" "$PROPAGATE" \
	has_published_ban A "$A1/32" inspect
within "(g) ... and on B: origin fleet, peer $HA" "$PROPAGATE" has_fleet_ban B "$A1/32" "$HA"
soft check "(g) B drops SYNs from client 1's address to $M4:25" spoofed_dropped B "$C2" "$A1" "$M4"
soft check "(g) ... client 2 still reaches B" connects "$C2" "$M4"
ctl_at "$PIN_A" ban del "$A1" >/dev/null
within "(g) ban del on A: gone on B" "$PROPAGATE" has_no_ban B "$A1/32"
soft check "(g) ... client 1 reaches B again" wait_until 3 connects "$C1" "$M4"

# ------------------------------------------ (h) entries B must refuse

BAD=198.18.0.77/24 WIDE=0.0.0.0/0 OVER=198.18.0.64/28
refused0=$(fleet_field B refused)
rootdn_add "cn=$HC,$LAB_FLEET_BASE" $'objectClass: applicationProcess\ncn: '"$HC"
rootdn_add "cn=$BAD,cn=$HC,$LAB_FLEET_BASE" $'objectClass: mxguardBan\ncn: '"$BAD"$'\nmxgBanClasses: smtp'
rootdn_add "cn=$WIDE,cn=$HC,$LAB_FLEET_BASE" $'objectClass: mxguardBan\ncn: '"$WIDE"$'\nmxgBanClasses: smtp'
rootdn_add "cn=$OVER,cn=$HC,$LAB_FLEET_BASE" $'objectClass: mxguardBan\ncn: '"$OVER"$'\nmxgBanClasses: smtp'
refused_3_more() { (($(fleet_field B refused) >= refused0 + 3)); }
within "(h) B counts 3 refused entries in its status" "$PROPAGATE" refused_3_more
soft check "(h) ... exactly 3 ($(fleet_field B refused) - $refused0)" test $(($(fleet_field B refused) - refused0)) -eq 3
soft check "(h) ... none of them applied on B" test -z "$(fleet_bans_of B)"
for what in "$BAD:malformed" "$WIDE:0.0.0.0/0" "$OVER:overlapping the allow list $ALLOW_B"; do
	cidr=${what%%:*}
	soft check "(h) B logged the entry $cidr (${what#*:}) once" \
		test "$(log_has B "$cidr")" -eq 1
done
within "(h) A, without that allow list, takes $OVER from $HC" "$PROPAGATE" has_fleet_ban A "$OVER" "$HC"
soft check "(h) A refuses 0.0.0.0/0 too" has_no_ban A "$WIDE"
ldap_delete fleet "cn=$OVER,cn=$HC,$LAB_FLEET_BASE"
within "(h) the entry deleted in the directory: gone on A" "$PROPAGATE" has_no_ban A "$OVER"

# ------------------------------------- (i) a directory refusing writes

# B bound with the lab's read-only account (it may read the fleet).
pwro=$LAB_TMP/readonly.secret
(umask 077 && printf '%s\n' "$SLAPD_BIND_PW" >"$pwro")
fleet_conf "$CONF_B" "$PIN_B" eth0 "[allow]" "cidr = $ALLOW_B" \
	"[fleet]" "base = $LAB_FLEET_BASE" "host = $HB" "uri = $(slapd_uri fleet)" \
	"bind_dn = $SLAPD_BIND_DN" "bind_password_file = $pwro"
reload_guard B
within "(i) B (read-only account) follows again: synced" 30 fleet_synced B
errs0=$(fleet_field B publish_errors)
ctl_at "$PIN_B" ban add "$A1" >/dev/null
soft check "(i) B's local ban drops client 1 at once" wait_until 2 drops_syns B "$C1" "$M4"
pending_now() { (($(fleet_field B pending) >= 1 && $(fleet_field B publish_errors) > errs0)); }
within "(i) ... publishing it fails: pending, counted" "$PROPAGATE" pending_now
# The backoff retries after 1 s, then 2 s: two retries failed.
retried_twice() { (($(fleet_field B publish_errors) >= errs0 + 3)); }
within "(i) ... retried (3 failed writes)" 10 retried_twice
soft check "(i) ... still not in the directory" not slapd_fleet_has fleet "$HB" "$A1/32"
soft check "(i) ... nor on A" has_no_ban A "$A1/32"
nfail=$(log_lines B 'publish.*(fail|refus|denied|insufficient|cannot|error)|(insufficient access|no write access)')
soft check "(i) ... B reported the failure once ($nfail lines)" test "$nfail" -eq 1
soft check "(i) ... B's status shows the error ('$(fleet_field B error)')" test -n "$(fleet_field B error)"
conf_b
reload_guard B
within "(i) B back on its own account publishes: A has the ban from $HB" 20 has_fleet_ban A "$A1/32" "$HB"
soft check "(i) ... nothing pending on B" wait_until 5 test "$(fleet_field B pending)" = 0
ctl_at "$PIN_B" ban del "$A1" >/dev/null
within "(i) ban del on B: gone on A" "$PROPAGATE" has_no_ban A "$A1/32"

# The directory down: B's sessions are lost; a ban added meanwhile
# works locally and waits; when slapd is back (the same database), B
# reconnects, reads the subtree again and publishes.
bad_lines=$(log_has B "$BAD")
again0=$(log_lines B 'publishing .* works again')
mark=$(wc -l <"$LOG_B")
slapd_kill fleet
errs0=$(fleet_field B publish_errors)
ctl_at "$PIN_B" ban add "$A2" >/dev/null
soft check "(i) directory down: B's local ban drops client 2" drops_syns B "$C2" "$M4"
within "(i) ... publishing it fails, pending" "$PROPAGATE" pending_now
# B's reconnects: the failed connects of its network namespace (nothing
# else there connects out; slapd's host answers with a reset).
attempt_fails() {
	nsenter --net="/run/netns/$LAB_NS_M2" awk '$1 == "Tcp:" {
		if (!n) { for (i = 2; i <= NF; i++) if ($i == "AttemptFails") n = i }
		else print $n }' /proc/net/snmp
}
fails0=$(attempt_fails)
retried() { (($(attempt_fails) >= fails0 + 3)); }
within "(i) ... retried while it is down (3 failed connects of B)" 40 retried
new_fail_lines() { tail -n +$((mark + 1)) "$LOG_B" | grep -i 'cannot publish' || true; }
log "  B's new lines: $(new_fail_lines | sed 's/^mxguardd: //' | paste -sd'|')"
soft check "(i) ... B reported it, each distinct failure once ($(new_fail_lines | wc -l) lines)" \
	test -n "$(new_fail_lines)" -a -z "$(new_fail_lines | sort | uniq -d)"
slapd_run fleet 389 1024
within "(i) slapd back: B publishes, A has the ban from $HB" 70 has_fleet_ban A "$A2/32" "$HB"
within "(i) ... B synced again" 30 fleet_synced B
soft check "(i) ... B said publishing works again, once" \
	test $(($(log_lines B 'publishing .* works again') - again0)) -eq 1
soft check "(h) after the reconnect and its full refresh, B did not log the malformed entry again" \
	test "$(log_has B "$BAD")" -eq "$bad_lines"
ctl_at "$PIN_B" ban del "$A2" >/dev/null
within "(i) ban del on B: gone on A" "$PROPAGATE" has_no_ban A "$A2/32"

# -------------------------------------------------- (j) B restarted

X1=198.18.0.31/32 X2=198.18.0.32/32 X3=198.18.0.33/32
ctl_at "$PIN_A" ban add "$X1" >/dev/null
ctl_at "$PIN_A" ban add "$X2" >/dev/null
within "(j) A's bans on $X1 and $X2 reach B" "$PROPAGATE" eval 'has_fleet_ban B "$X1" "$HA" && has_fleet_ban B "$X2" "$HA"'
# Its maps outlive it: the restart finds the fleet's bans of before.
B_ON_EXIT=keep conf_b
reload_guard B
stop_guard B
ctl_at "$PIN_A" ban del "$X1" >/dev/null
ctl_at "$PIN_A" ban add "$X3" >/dev/null
within "(j) while B is down, A's entries change ($X1 out, $X3 in)" "$PROPAGATE" \
	eval 'slapd_fleet_has fleet "$HA" "$X3" && ! slapd_fleet_has fleet "$HA" "$X1"'
soft check "(j) B's kept maps still hold the stale $X1" has_fleet_ban B "$X1" "$HA"
conf_b
start_b
within "(j) B restarted: synced" 30 fleet_synced B
want=$(printf '%s\n' "$X2" "$X3" | sort | xargs)
fleet_bans_b() { [[ $(fleet_bans_of B | xargs) == "$want" ]]; }
within "(j) ... its fleet bans are A's entries, $want, nothing stale" "$PROPAGATE" fleet_bans_b
soft check "(j) ... applied once each (status: applied $(fleet_field B applied))" \
	test "$(fleet_field B applied)" = 2
soft check "(j) ... A's container holds each once" \
	test "$(slapd_fleet_bans fleet "$HA" | xargs)" = "$(for x in $want; do slapd_fleet_ban_dn "$HA" "$x"; done | xargs)"
ctl_at "$PIN_A" ban del "$X2" >/dev/null
ctl_at "$PIN_A" ban del "$X3" >/dev/null
within "(j) A's bans deleted: gone on B" "$PROPAGATE" eval '[[ -z $(fleet_bans_of B) ]]'

# ------------------------------------------------------ (k) attach = tc

stop_guard A
stop_guard B
unload_guard A
unload_guard B
LAB_ATTACH=tc
conf_a
conf_b
start_a
start_b
check "(k) guard A attached with tc" attached_as A tc
check "(k) guard B attached with tc" attached_as B tc
within "(k) both synced" 30 eval 'fleet_synced A && fleet_synced B'
ctl_at "$PIN_A" ban add "$A2" >/dev/null
within "(k) tc: A's ban reaches B" "$PROPAGATE" has_fleet_ban B "$A2/32" "$HA"
soft check "(k) tc: B drops client 2's SYNs" drops_syns B "$C2" "$M4"
ctl_at "$PIN_B" ban add "$A1" >/dev/null
within "(k) tc: B's ban reaches A" "$PROPAGATE" has_fleet_ban A "$A1/32" "$HB"
soft check "(k) tc: A drops client 1's SYNs" drops_syns A "$C1" "$S4"
ctl_at "$PIN_A" ban del "$A2" >/dev/null
ctl_at "$PIN_B" ban del "$A1" >/dev/null
within "(k) tc: both bans deleted, gone on both" "$PROPAGATE" \
	eval 'has_no_ban B "$A2/32" && has_no_ban A "$A1/32"'

stop_guard A
stop_guard B
unload_guard A
unload_guard B
soft_verdict
log "all checks passed"

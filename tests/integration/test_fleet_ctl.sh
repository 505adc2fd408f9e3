#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# mxguardctl shows the fleet's maps as they are: on a running guard with
# no [fleet], mxg_fleet, mxg_fleet_bans and a peer's ban in mxg_bans are
# written here with bpftool as mxguardd's fleet thread would write them,
# and
#  - `ban list` (-j and text) gives each ban's origin, the fleet ban's
#    peer with the reason and expiry of its entry, and which local ban is
#    published;
#  - `status` (-j and text) gives the fleet's state and figures;
#  - `metrics` has the fleet's families and the fleet ban by origin, and
#    passes promtool when it is installed;
# before the writes the fleet reads as off; and the pins of a guard that
# predates the fleet (no mxg_fleet, no mxg_fleet_bans) read as off, with
# no peers, instead of "nothing pinned".
#
# Usage: tests/integration/test_fleet_ctl.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LAB_TOOLS_NEEDED=""	# no traffic: the maps are all it reads
lab_init "${1:?usage: $0 BUILD}" fleet-ctl
command -v bpftool >/dev/null || skip "needs bpftool"
lab_netns_up

conf=$LAB_TMP/mxguard.conf
conf_write "$conf" detach "[class smtp]" "ports = 25" "rate = 10/s" "burst = 20"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"

# jcheck DESCRIPTION JSON EXPR: EXPR, a Python expression over the
# document d (and b, its bans by cidr), is true.
jcheck() {
	local what=$1 doc=$2 expr=$3
	if python3 -c '
import json, sys
d = json.loads(sys.argv[1])
b = {x["cidr"]: x for x in d.get("bans", [])}
sys.exit(0 if eval(sys.argv[2]) else 1)' "$doc" "$expr"; then
		pass "$what"
	else
		die "$what: not ($expr) in $doc"
	fi
}

# put MAP KIND ARGS...: one record, packed as bpf/mxguard.h lays it out,
# written with bpftool. KIND: ban CIDR4 ORIGIN TTL_S | fleet_ban CIDR4
# HOST REASON EXPIRES_S FLAGS | fleet (the record below).
put() {
	local map=$1 args
	shift
	args=$(python3 - "$@" <<'EOF'
import ipaddress, struct, sys, time
kind, a = sys.argv[1], sys.argv[2:]
now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
S = 1000000000
hexs = lambda b: " ".join("%02x" % x for x in b)

def key(cidr):
    n = ipaddress.ip_network(cidr)
    return struct.pack("<I", 96 + n.prefixlen) + bytes(10) + b"\xff\xff" + n.network_address.packed

if kind == "ban":
    k, v = key(a[0]), struct.pack("<IIQQ", int(a[1]), 0xffffffff, now, now + int(a[2]) * S)
elif kind == "fleet_ban":
    k = key(a[0])
    v = struct.pack("<64s64sQII", a[1].encode(), a[2].encode(), int(a[3]), int(a[4]), 0)
else:
    k = struct.pack("<I", 0)
    SYNCED, SYNCREPL = 3, 1
    v = struct.pack("<IIQQQQQQQQ64s128s160s", SYNCED, SYNCREPL, now - 3 * S,
                    2, 1, 1, 1, 0, 2, int(time.time()) - 60, b"mx1.lab",
                    b"ldap://198.18.0.100/", b"cannot modify cn=198.18.253.78/32: Insufficient access")
assert len(v) in (24, 144, 424), len(v)
print("key hex %s value hex %s" % (hexs(k), hexs(v)))
EOF
) || die "cannot pack $*"
	# shellcheck disable=SC2086 # the bytes are separate arguments
	bpftool map update pinned "$LAB_PIN/$map" $args
}

# ---- before: no [fleet]
doc=$(ctl_json status) || die "status failed: $doc"
jcheck "no [fleet]: status says off, nothing seen" "$doc" \
	'd["fleet"]["state"] == "off" and d["fleet"]["age_s"] is None and d["fleet"]["host"] is None and d["fleet"]["applied"] == 0'
check "no [fleet]: status text says off" grep -qxF 'fleet       off (no [fleet])' <<<"$(ctl status)"
check "no [fleet]: metrics say off" grep -qx 'mxguard_fleet_state{state="off"} 1' <<<"$(ctl metrics)"

# ---- the fleet as mxguardd would write it
FLEET_NET=198.18.253.0/24 PUB=198.18.253.77/32 LOCAL=198.18.253.78/32
expires=$(($(date +%s) + 600))
ctl ban add "${PUB%/32}" --ttl 1h >/dev/null || die "ban add failed"
ctl ban add "${LOCAL%/32}" --ttl 1h >/dev/null || die "ban add failed"
put mxg_bans ban "$FLEET_NET" 4 600 || die "cannot write the peer's ban"
put mxg_fleet_bans fleet_ban "$FLEET_NET" mx2.lab inspect "$expires" 0 ||
	die "cannot write the peer's record"
put mxg_fleet_bans fleet_ban "$PUB" mx1.lab cli 0 1 || die "cannot write the published record"
put mxg_fleet fleet || die "cannot write mxg_fleet"

doc=$(ctl_json ban list) || die "ban list failed: $doc"
jcheck "ban list -j: the peer's ban, origin fleet, from mx2.lab with its reason and expiry" "$doc" \
	"b['$FLEET_NET']['origin'] == 'fleet' and b['$FLEET_NET']['peer'] == 'mx2.lab' and b['$FLEET_NET']['peer_reason'] == 'inspect' and b['$FLEET_NET']['peer_expires'] == $expires and b['$FLEET_NET']['published'] is False"
jcheck "ban list -j: the published local ban" "$doc" \
	"b['$PUB']['origin'] == 'cli' and b['$PUB']['published'] is True and b['$PUB']['peer'] is None and b['$PUB']['peer_reason'] is None"
jcheck "ban list -j: the local ban not published" "$doc" \
	"b['$LOCAL']['origin'] == 'cli' == b['$LOCAL']['reason'] and b['$LOCAL']['published'] is False and b['$LOCAL']['peer'] is None"
text=$(ctl ban list) || die "ban list failed: $text"
log "ban list:"$'\n'"$text"
check "ban list: the fleet column says where the peer's ban came from" \
	grep -qE "^${FLEET_NET} +all +fleet +[0-9]+s from mx2\.lab \(inspect, until 20[0-9-]+T[0-9:]+Z\)$" <<<"$text"
check "ban list: and which local ban is published" grep -qE "^${PUB} +all +cli +[0-9]+s published$" <<<"$text"
check "ban list: a ban the fleet does not know ends with its time left" grep -qE "^${LOCAL} +all +cli +[0-9]+s$" <<<"$text"

doc=$(ctl_json status) || die "status failed: $doc"
jcheck "status -j: the fleet's record" "$doc" \
	'd["fleet"]["state"] == "synced" and d["fleet"]["mode"] == "syncrepl" and d["fleet"]["host"] == "mx1.lab" and d["fleet"]["server"] == "ldap://198.18.0.100/" and 3 <= d["fleet"]["age_s"] < 300 and [d["fleet"][k] for k in ("peer_entries", "applied", "refused", "published", "pending", "publish_errors")] == [2, 1, 1, 1, 0, 2] and "Insufficient access" in d["fleet"]["error"] and d["fleet"]["error_time"] > 0'
text=$(ctl status) || die "status failed: $text"
log "status:"$'\n'"$(grep '^fleet' <<<"$text")"
check "status: the fleet's line" \
	grep -qE '^fleet       synced \(syncrepl\) as mx1\.lab with ldap://198\.18\.0\.100/, confirmed [0-9]+ s ago; peers. entries 2, applied 1, refused 1; published 1, pending 0, publish errors 2$' <<<"$text"
check "status: its last error, with the time" \
	grep -qE '^fleet error 20[0-9-]+T[0-9:]+Z \([0-9]+ s ago\): cannot modify .*Insufficient access$' <<<"$text"

metrics=$(ctl metrics) || die "metrics failed"
for line in 'mxguard_fleet_state{state="synced"} 1' 'mxguard_fleet_state{state="off"} 0' \
	'mxguard_fleet_sync_mode{mode="syncrepl"} 1' 'mxguard_fleet_applied_bans 1' \
	'mxguard_fleet_peer_entries 2' 'mxguard_fleet_refused_total 1' \
	'mxguard_fleet_published_entries 1' 'mxguard_fleet_pending_changes 0' \
	'mxguard_fleet_publish_errors_total 2' 'mxguard_penalty_box_entries{origin="fleet"} 1' \
	'mxguard_penalty_box_entries{origin="cli"} 2'; do
	check "metrics: $line" grep -qxF "$line" <<<"$metrics"
done
check "metrics: the age since the last confirmation" \
	grep -qE '^mxguard_fleet_age_seconds [0-9.]+$' <<<"$metrics"
check "metrics: no host or server in the document" not grep -qE 'mx[12]\.lab|198\.18\.0\.100' <<<"$metrics"
if command -v promtool >/dev/null; then
	check "metrics: promtool check metrics" promtool check metrics <<<"$metrics"
fi

# ---- the pins of a guard before the fleet: the same maps but those two.
# (Never `unload` this copy: its mxg_links are the running guard's.)
old=$LAB_PIN-old
LAB_PINS_MORE+=("$old")
mkdir "$old"
for f in "$LAB_PIN"/mxg_*; do
	case ${f##*/} in
	mxg_fleet | mxg_fleet_bans) ;;
	*) bpftool map pin pinned "$f" "$old/${f##*/}" 2>/dev/null || true ;;
	esac
done
doc=$("$MXGCTL" -j --pin-dir "$old" ban list) || die "ban list on the old pins failed: $doc"
jcheck "old pins: ban list works, the fleet ban with no peer, nothing published" "$doc" \
	"b['$FLEET_NET']['origin'] == 'fleet' and all(x['peer'] is None and x['published'] is False for x in d['bans'])"
doc=$("$MXGCTL" -j --pin-dir "$old" status) || die "status on the old pins failed: $doc"
jcheck "old pins: status says the fleet is off" "$doc" 'd["fleet"]["state"] == "off"'
check "old pins: metrics say the fleet is off" \
	grep -qx 'mxguard_fleet_state{state="off"} 1' <<<"$("$MXGCTL" --pin-dir "$old" metrics)"
rm -rf "$old"

check "mxguardd still runs" kill -0 "$MXGD_PID"
rc=0
mxgd_stop TERM || rc=$?
check "SIGTERM: mxguardd exits 0 (got $rc)" test "$rc" -eq 0
log "all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# mxguardctl shows the tuner's maps as they are: on a running guard whose
# tuner is off, mxg_tuning and mxg_tuner are written here with bpftool as
# the tuner would write them (smtp at scale 0.5 after a latency step, the
# ldap class capped at 7 connections by the descriptors signal, one
# signal unreadable), and
#  - `mxguardctl -j tuner` gives the contract's document: readings, values
#    and targets in seconds, descriptors and percent, the classes each
#    signal acts on, each class's scale, cap, configured and effective
#    limits, and the last change with its age and reason;
#  - `-j limit show` gains each class's scale and effective limits, and
#    its text shows "(tuned: ...)" beside what the tuner changed, and only
#    then;
#  - `-j status` and its text say whether the tuner is on, with the scales;
#  - `limit set` while a class is scaled changes the configured limits and
#    leaves the scale: the limits in force follow both.
# Before the writes and after the tuner is off again, everything reads
# as configured. The effective values are bpf/tuning.h's, the function the
# BPF programs judge by (tests/bpf cover the judging).
#
# Usage: tests/integration/test_tuner_ctl.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LAB_TOOLS_NEEDED=""	# no traffic: the maps are all it reads
lab_init "${1:?usage: $0 BUILD}" tuner-ctl
command -v bpftool >/dev/null || skip "needs bpftool"
lab_netns_up

conf=$LAB_TMP/mxguard.conf
conf_write "$conf" detach \
	"[class smtp]" "ports = 25" "rate = 10/s" "burst = 20" "source_conns = 10" \
	"[class ldap]" "ports = 389" "rate = 50/s" "burst = 100"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"

# jcheck DESCRIPTION JSON EXPR: EXPR, a Python expression over the
# document d, is true.
jcheck() {
	local what=$1 doc=$2 expr=$3
	if python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$doc" "$expr"; then
		pass "$what"
	else
		die "$what: not ($expr) in $doc"
	fi
}

# hex_u32 N: the 4 bytes of N, little-endian, for bpftool's "hex".
hex_u32() { python3 -c 'import struct, sys; print(" ".join("%02x" % b for b in struct.pack("<I", int(sys.argv[1]))))' "$1"; }

# class_slot NAME: the slot of a class in mxg_classes (its name leads the
# record).
class_slot() {
	local i
	for i in 0 1 2 3 4 5 6 7; do
		# shellcheck disable=SC2046 # the bytes are separate arguments
		if bpftool -j map lookup pinned "$LAB_PIN/mxg_classes" key hex $(hex_u32 "$i") |
			python3 -c '
import json, sys
v = json.load(sys.stdin)
raw = v.get("value")
if isinstance(raw, dict):	# with BTF, formatted
	name = raw["name"]
else:
	name = bytes(int(b, 16) for b in raw[:16]).split(b"\0")[0].decode()
sys.exit(0 if name == sys.argv[1] else 1)' "$1"; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

# tuning_write SLOT SCALE_PERMILLE CAP: one class's record of mxg_tuning.
tuning_write() {
	# shellcheck disable=SC2046 # the bytes are separate arguments
	bpftool map update pinned "$LAB_PIN/mxg_tuning" key hex $(hex_u32 "$1") \
		value hex $(hex_u32 "$2") $(hex_u32 "$3")
}

# tuner_write ENABLED: mxg_tuner as a tuner that runs (1) writes it, or
# all zero (0). The layout is struct mxg_tuner_state (bpf/mxguard.h).
tuner_write() {
	local value
	value=$(python3 - "$1" "$smtp" "$ldap" <<'EOF'
import struct, sys, time
enabled, smtp, ldap = (int(a) for a in sys.argv[1:])
now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
MS, TEXT = 1000000, 96
OFF, UNREADABLE, UNDER, NEAR, OVER = range(5)

def signal(reading, mask, value, target, limit, error=b""):
    return struct.pack("<IIQQQQ96s", reading, mask, value, target, limit,
                       now - 400 * MS, error)

def change(age_ms, frm, to, reason):
    return struct.pack("<QII96s", now - age_ms * MS, frm, to, reason)

if not enabled:
    rec = bytes(24 + 136 * 4 + 112 * 8)
else:
    rec = struct.pack("<IIIIQ", 1, 1000, 100, smtp, now - 400 * MS)
    rec += signal(OVER, 1 << smtp | 1 << ldap, 180 * MS, 50 * MS, 0)
    rec += signal(UNDER, 1 << ldap, 40, 58, 64)
    rec += signal(OFF, 0, 0, 0, 0)
    rec += signal(UNREADABLE, 1 << smtp, 0, 2500, 0,
                  b"cannot read /proc/pressure/memory: No such file or directory")
    changes = [bytes(112)] * 8
    changes[smtp] = change(3200, 1000, 500, b"latency 180 ms over 50 ms")
    rec += b"".join(changes)
assert len(rec) == 1464, len(rec)
print(" ".join("%02x" % b for b in rec))
EOF
)
	# shellcheck disable=SC2086 # the bytes are separate arguments
	bpftool map update pinned "$LAB_PIN/mxg_tuner" key hex 00 00 00 00 value hex $value
}

smtp=$(class_slot smtp) || die "no slot of class smtp in mxg_classes"
ldap=$(class_slot ldap) || die "no slot of class ldap in mxg_classes"
log "slots: smtp $smtp, ldap $ldap"

# ---- the tuner off, as mxguardd leaves it without [tuner]
doc=$(ctl_json tuner) || die "tuner failed: $doc"
jcheck "off: tuner says enabled false, no interval yet" "$doc" \
	'd["enabled"] is False and d["age"] is None'
jcheck "off: every signal is listed, and off" "$doc" \
	'list(d["signals"]) == ["latency", "descriptors", "cpu_pressure", "memory_pressure"] and all(s["reading"] == "off" for s in d["signals"].values())'
jcheck "off: each class at scale 1.0, in force as configured, never changed" "$doc" \
	'all(c["scale"] == 1.0 and c["effective"] == c["configured"] and c["last_change"] is None and c["total_conns_cap"] is None for c in d["classes"].values()) and sorted(d["classes"]) == ["ldap", "smtp"]'
jcheck "off: smtp's configured limits" "$doc" \
	'd["classes"]["smtp"]["configured"] == {"rate": 10.0, "burst": 20, "source_conns": 10, "total_conns": 0}'
doc=$(ctl_json status) || die "status failed: $doc"
jcheck "off: status says the tuner is off, scale 1.0" "$doc" \
	'd["tuner"] == {"enabled": False, "scale": 1.0, "scales": {"smtp": 1.0, "ldap": 1.0}}'
check "off: status text says 'tuner       off'" grep -qx 'tuner       off' <<<"$(ctl status)"
text=$(ctl limit show)
check "off: limit show text has nothing tuned" not grep -q tuned <<<"$text"
check "off: limit show text is the configured limits" \
	grep -q '^smtp  *rate 10/s burst 20 source_conns 10 total_conns unlimited ipv4_prefix' <<<"$text"
check "off: tuner text says off" grep -q '^tuner  *off$' <<<"$(ctl tuner)"

# ---- as the tuner writes them: smtp scaled to 0.5, ldap capped at 7
tuning_write "$smtp" 500 0
tuning_write "$ldap" 1000 7
tuner_write 1

doc=$(ctl_json tuner) || die "tuner failed: $doc"
log "tuner: $doc"
jcheck "on: enabled, interval 1 s, floor 0.1, last interval about 0.4 s ago" "$doc" \
	'd["enabled"] is True and d["interval"] == 1.0 and d["floor"] == 0.1 and 0.4 <= d["age"] < 30'
jcheck "on: latency over, 0.18 s against 0.05 s, on smtp and ldap" "$doc" \
	'd["signals"]["latency"] == {"reading": "over", "value": 0.18, "target": 0.05, "unit": "s", "classes": ["smtp", "ldap"] if '"$smtp"' < '"$ldap"' else ["ldap", "smtp"], "error": ""}'
jcheck "on: descriptors under, 40 of 64 against 58, on ldap" "$doc" \
	'd["signals"]["descriptors"] == {"reading": "under", "value": 40, "target": 58, "limit": 64, "unit": "descriptors", "classes": ["ldap"], "error": ""}'
jcheck "on: cpu pressure off, in percent" "$doc" \
	'd["signals"]["cpu_pressure"]["reading"] == "off" and d["signals"]["cpu_pressure"]["unit"] == "%" and "limit" not in d["signals"]["cpu_pressure"]'
jcheck "on: memory pressure unreadable, with its error, target 25%" "$doc" \
	'd["signals"]["memory_pressure"]["reading"] == "unreadable" and d["signals"]["memory_pressure"]["error"].startswith("cannot read /proc/pressure/memory") and d["signals"]["memory_pressure"]["target"] == 25 and d["signals"]["memory_pressure"]["classes"] == ["smtp"]'
jcheck "on: smtp at 0.5, its limits in force halved" "$doc" \
	'd["classes"]["smtp"]["scale"] == 0.5 and d["classes"]["smtp"]["total_conns_cap"] is None and d["classes"]["smtp"]["effective"] == {"rate": 5.0, "burst": 10, "source_conns": 5, "total_conns": 0}'
jcheck "on: smtp's last change, 1.0 to 0.5 about 3.2 s ago, with its reason" "$doc" \
	'd["classes"]["smtp"]["last_change"]["from"] == 1.0 and d["classes"]["smtp"]["last_change"]["to"] == 0.5 and 3.2 <= d["classes"]["smtp"]["last_change"]["age"] < 30 and d["classes"]["smtp"]["last_change"]["reason"] == "latency 180 ms over 50 ms"'
jcheck "on: ldap at 1.0, capped at 7 connections though it sets no total_conns" "$doc" \
	'd["classes"]["ldap"]["scale"] == 1.0 and d["classes"]["ldap"]["total_conns_cap"] == 7 and d["classes"]["ldap"]["configured"]["total_conns"] == 0 and d["classes"]["ldap"]["effective"] == {"rate": 50.0, "burst": 100, "source_conns": 0, "total_conns": 7} and d["classes"]["ldap"]["last_change"] is None'

doc=$(ctl_json limit show) || die "limit show failed: $doc"
jcheck "on: limit show keeps the configured limits and gains scale and effective" "$doc" \
	'{c["name"]: (c["rate"], c["burst"], c["source_conns"], c["total_conns"], c["scale"], c["effective"]) for c in d["classes"]} == {"smtp": (10.0, 20, 10, 0, 0.5, {"rate": 5.0, "burst": 10, "source_conns": 5, "total_conns": 0}), "ldap": (50.0, 100, 0, 0, 1.0, {"rate": 50.0, "burst": 100, "source_conns": 0, "total_conns": 7})}'
text=$(ctl limit show)
log "limit show: $text"
check "on: limit show text shows the tuned smtp limits beside the configured ones" \
	grep -q '^smtp  *rate 10/s (tuned: 5/s) burst 20 (tuned: 10) source_conns 10 (tuned: 5) total_conns unlimited ipv4_prefix' <<<"$text"
check "on: limit show text shows ldap's cap, and only that" \
	grep -q '^ldap  *rate 50/s burst 100 source_conns unlimited total_conns unlimited (tuned: 7) ipv4_prefix' <<<"$text"

doc=$(ctl_json status) || die "status failed: $doc"
jcheck "on: status gives the lowest scale and each class's" "$doc" \
	'd["tuner"] == {"enabled": True, "scale": 0.5, "scales": {"smtp": 0.5, "ldap": 1.0}}'
text=$(ctl status)
check "on: status text lists the scales" \
	grep -qE '^tuner       on: (smtp 0.50, ldap 1.00|ldap 1.00, smtp 0.50)$' <<<"$text"

text=$(ctl tuner)
log "tuner text:"$'\n'"$text"
check "on: tuner text gives latency in ms" grep -qE '^  latency +over: 180.0 ms \(target 50.0 ms\); acts on' <<<"$text"
check "on: tuner text gives descriptors as 40 of 64" grep -qE '^  descriptors +under: 40 of 64 \(target 58\); acts on ldap$' <<<"$text"
check "on: tuner text gives the unreadable signal's error" \
	grep -qE '^  memory_pressure +unreadable: cannot read /proc/pressure/memory' <<<"$text"
check "on: tuner text gives smtp's scale and tuned limits" \
	grep -qE '^  smtp +scale 0.50: rate 10/s \(tuned: 5/s\)' <<<"$text"
check "on: tuner text gives smtp's last change" \
	grep -qE 'last change [0-9.]+s ago: 1.00 -> 0.50, latency 180 ms over 50 ms$' <<<"$text"
check "on: tuner text gives ldap's cap" grep -qE '^  ldap +scale 1.00, cap 7 connections: ' <<<"$text"

# ---- limit set while scaled: the configured limit changes, the scale
# (the tuner's) stays, and the limit in force is the new one scaled.
doc=$(ctl_json limit set smtp rate=20/s burst=40) || die "limit set failed: $doc"
jcheck "limit set: answers with the new configured and the new effective limits" "$doc" \
	'd["rate"] == 20.0 and d["burst"] == 40 and d["scale"] == 0.5 and d["effective"]["rate"] == 10.0 and d["effective"]["burst"] == 20'
doc=$(ctl_json tuner) || die "tuner failed: $doc"
jcheck "limit set: the tuner's scale of smtp is untouched" "$doc" \
	'd["classes"]["smtp"]["scale"] == 0.5 and d["classes"]["smtp"]["configured"]["rate"] == 20.0 and d["classes"]["smtp"]["effective"]["rate"] == 10.0'

# ---- the tuner off again, its scales back to 1
tuning_write "$smtp" 0 0
tuning_write "$ldap" 0 0
tuner_write 0
doc=$(ctl_json status) || die "status failed: $doc"
jcheck "off again: status says off, scale 1.0" "$doc" \
	'd["tuner"] == {"enabled": False, "scale": 1.0, "scales": {"smtp": 1.0, "ldap": 1.0}}'
check "off again: limit show text has nothing tuned" not grep -q tuned <<<"$(ctl limit show)"
check "off again: mxguardd still runs" kill -0 "$MXGD_PID"
log "PASS"

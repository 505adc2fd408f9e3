#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# A reload is a transaction (user/apply.c): a SIGHUP with a valid file that
# cannot be applied leaves the running config in force, whole, and logs why.
#  - An interface that does not exist: refused before anything is written.
#  - A late failure: every step is done (new limits, a new class, new deny
#    entries, the SMTP reader's settings) and then attaching to a bridge
#    interface in native XDP mode fails; all of it is undone.
# In both, `mxguardctl -j limit show` and `deny list` are what they were,
# the attachments too, and the log gives a non-empty reason naming the
# interface. A good reload afterwards does apply (the control).
# At start, pins of another layout of maps the registry says may be made
# anew (mxg_flows, mxg_rcpt_sources) are dropped and logged, not refused.
#
# Usage: tests/integration/test_reload.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" reload
lab_netns_up

conf=$LAB_TMP/mxguard.conf
mxlog=$LAB_TMP/mxguardd.log
noxdp=mxbr9

# write_conf ATTACH IFACES [lines...]: the lab's config with these
# interfaces and attach mode.
write_conf() {
	local attach=$1 ifaces=$2
	shift 2
	LAB_ATTACH=$attach conf_write "$conf" detach "$@"
	sed -i "s/^interfaces = .*/interfaces = $ifaces/" "$conf"
}

good=("[class smtp]" "ports = 25, 587" "rate = 2/s" "burst = 4"
	"source_conns = 3" "[deny]" "cidr = 198.18.99.0/24"
	"[smtp_inspect]" "mode = observe")
# What every bad reload asks for besides its fault: other limits, a
# class more, other deny entries, another inspection mode.
changed=("[class smtp]" "ports = 25, 587, 2525" "rate = 50/s" "burst = 80"
	"source_conns = 9" "[class submission]" "ports = 10587" "rate = 1/s"
	"[deny]" "cidr = 198.18.98.0/24, 2001:db8:98::/48"
	"[smtp_inspect]" "mode = penalize")

write_conf auto "${LAB_SPORTS[0]}, ${LAB_SPORTS[1]}" "${good[@]}"
mxgd_start "$conf" "$mxlog"

limits_before=$(ctl_json limit show) || die "limit show failed: $limits_before"
# The deny list as (CIDR, origin) pairs: an entry's age is not config
# (and a put-back entry is a new one).
deny_rules() {
	ctl_json deny list | python3 -c 'import json, sys
print(sorted((r["cidr"], r["origin"]) for r in next(iter(json.load(sys.stdin).values()))))'
}
deny_before=$(deny_rules) || die "deny list failed"
links() { ctl_json status | json_get attached; }
links_before=$(links) || die "status failed"
log "limits before: $limits_before"
log "attached before: $links_before"
check "the first config is in force (smtp rate 2/s)" test "$(json_get classes.0.rate <<<"$limits_before")" == 2
check "the deny entry of the first config is listed" grep -qF 198.18.99.0/24 <<<"$deny_before"

failed_reloads() { grep -c 'reload failed' "$mxlog" || true; }
reloads() { grep -c 'reloaded ' "$mxlog" || true; }
more_failed_than() { (($(failed_reloads) > $1)); }
more_reloads_than() { (($(reloads) > $1)); }

# bad_reload NAME WHAT: SIGHUP with $conf as written, which must fail;
# the reason must name WHAT; nothing may have changed.
bad_reload() {
	local name=$1 what=$2 n line p
	n=$(failed_reloads)
	kill -HUP "$MXGD_PID"
	wait_until 20 more_failed_than "$n" || die "$name: no 'reload failed' line: $(tail -5 "$mxlog")"
	line=$(grep 'reload failed' "$mxlog" | tail -1)
	log "$name: $line"
	check "$name: the reason is not empty" grep -qE 'reload failed, keeping the running config: .+' <<<"$line"
	check "$name: the reason names $what" grep -qF "$what" <<<"$line"
	check "$name: mxguardd still runs" kill -0 "$MXGD_PID"
	check "$name: the limits are the old ones, whole" test "$(ctl_json limit show)" == "$limits_before"
	check "$name: the deny list is the old one" test "$(deny_rules)" == "$deny_before"
	check "$name: the attachments are the old ones" test "$(links)" == "$links_before"
	for p in "${LAB_SPORTS[@]}"; do
		check "$name: still guarding $p" guard_attached "$p"
	done
}

# 1. An interface that does not exist: found before anything is written.
write_conf auto "${LAB_SPORTS[0]}, ${LAB_SPORTS[1]}, nosuch0" "${changed[@]}"
bad_reload "missing interface" "nosuch0"

# 2. A late failure: a bridge has no native XDP, so attaching to
# it fails after everything else was written (and mxs1, mxs2 were moved
# to attach = xdp).
ip -n "$LAB_NS_S" link add "$noxdp" type bridge || die "cannot add a bridge"
ip -n "$LAB_NS_S" link set "$noxdp" up
write_conf xdp "${LAB_SPORTS[0]}, ${LAB_SPORTS[1]}, $noxdp" "${changed[@]}"
bad_reload "attach refused" "$noxdp"
check "attach refused: nothing left on $noxdp" not guard_attached "$noxdp"
check "attach refused: the log says the attach failed" grep -qE "reload failed.*failed to attach .* to $noxdp" "$mxlog"

# 3. Control: the same change without the fault applies, so the checks
# above could see one.
write_conf auto "${LAB_SPORTS[0]}, ${LAB_SPORTS[1]}" "${changed[@]}"
n=$(reloads)
kill -HUP "$MXGD_PID"
wait_until 20 more_reloads_than "$n" || die "the good reload did not finish: $(tail -5 "$mxlog")"
after=$(ctl_json limit show)
log "limits after the good reload: $after"
check "good reload: the limits changed" test "$after" != "$limits_before"
check "good reload: the new class is there" grep -q '"submission"' <<<"$after"
check "good reload: smtp's new burst" test "$(json_get classes.0.burst <<<"$after")" == 80
check "good reload: the new deny entries" grep -qF 198.18.98.0/24 <<<"$(deny_rules)"
check "good reload: the old deny entry went" not grep -qF 198.18.99.0/24 <<<"$(deny_rules)"

# 4. Pins of another layout that the registry says may go: made anew.
mxgd_stop TERM || die "mxguardd did not exit 0 on SIGTERM"
for m in mxg_flows mxg_rcpt_sources; do
	rm -f "$LAB_PIN/$m"
	bpftool map create "$LAB_PIN/$m" type lru_hash key 4 value 4 entries 8 name "$m" ||
		die "bpftool map create $m failed"
done
mxgd_start "$conf" "$mxlog.2"
for m in mxg_flows mxg_rcpt_sources; do
	check "$m of another layout: dropped and logged" grep -qE "$m: key size changed from 4 to [0-9]+: .* starts anew" "$mxlog.2"
	check "$m is this version's again" not grep -q 'key 4B' <<<"$(bpftool map show pinned "$LAB_PIN/$m")"
done

mxgd_stop TERM || die "mxguardd did not exit 0 on SIGTERM"
out=$(ctl unload 2>&1) || die "mxguardctl unload failed: $out"
log "all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# A bad configuration never half-applies: for each kind of mistake mxguardd
# exits non-zero with a message naming file:line and the key, attaches
# nothing and creates no pin dir. mxguardd -t refuses what the daemon
# refuses (no interfaces). A pin_dir that is the bpffs root, a read-only
# pin dir and pins of another layout each fail the start with a message
# that fits (mxguardctl unload, which wipes the state, only for the last).
# mxguardctl fails clearly on a missing pin dir and rejects malformed
# CIDRs without changing the lists.
#
# Usage: tests/integration/test_config_errors.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" config-errors
lab_netns_up

conf=$LAB_TMP/bad.conf

# bad_config NAME KEY BAD-LINE [SECTION-LINES...]: a valid [global] plus
# the given lines; BAD-LINE is the one the message must point at.
bad_config() {
	local name=$1 key=$2 bad=$3 line rc=0 out
	shift 3
	conf_write "$conf" detach "$@"
	line=$(grep -nxF -- "$bad" "$conf" | tail -1 | cut -d: -f1)
	[[ -n $line ]] || die "$name: test bug: '$bad' not in the config"
	out=$(in_server_net timeout 20 "$MXGD" -c "$conf" -f 2>&1) || rc=$?
	log "$name: exit $rc: $out"
	check "$name: mxguardd exits non-zero" test "$rc" -ne 0
	check "$name: not a timeout or crash (exit $rc)" test "$rc" -lt 124
	check "$name: message names $(basename "$conf"):$line" grep -qF "$(basename "$conf"):$line" <<<"$out"
	check "$name: message names the key '$key'" grep -qF "$key" <<<"$out"
	check "$name: never became ready" not grep -q 'mxguardd: ready' <<<"$out"
	check "$name: no pin dir created" test ! -e "$LAB_PIN"
	local p
	for p in "${LAB_SPORTS[@]}"; do
		check "$name: nothing attached to $p" not guard_attached "$p"
	done
	# The root is shared: another run's daemon may be attaching or
	# detaching right now, a moment before its link is pinned or after
	# it was unpinned. That settles within seconds; a program this failed
	# start had left (its daemon is gone, no pin of ours) would stay.
	check "$name: no program added to the cgroup root" wait_until 5 no_cgroup_prog_added
}

bad_config "unknown key" "no_such_key" "no_such_key = 1" \
	"no_such_key = 1"
bad_config "bad rate" "rate" "rate = fast" \
	"[class smtp]" "ports = 25" "rate = fast" "burst = 5"
bad_config "rate with a bad unit" "rate" "rate = 5/fortnight" \
	"[class smtp]" "ports = 25" "rate = 5/fortnight"
bad_config "port in two classes" "ports" "ports = 2525, 25" \
	"[class smtp]" "ports = 25" "rate = 2/s" \
	"[class submission]" "ports = 2525, 25" "rate = 2/s"
LAB_ATTACH=sideways bad_config "bad attach mode" "attach" "attach = sideways" \
	"# attach is set through LAB_ATTACH"
bad_config "bad CIDR in [deny]" "cidr" "cidr = 198.18.0.0/33" \
	"[deny]" "cidr = 198.18.0.0/33"

# ------------------------------------------------ mxguardd -t
# A file the daemon refuses is not ok for -t either: no interfaces.
printf '[global]\npin_dir = %s\n' "$LAB_PIN" >"$conf"
rc=0
out=$("$MXGD" -t -c "$conf" 2>&1) || rc=$?
log "-t without interfaces: exit $rc: $out"
check "-t refuses a file without interfaces (exit $rc)" test "$rc" -ne 0 -a "$rc" -lt 124
check "-t says why, as the daemon does" grep -qF "$(basename "$conf"): [global] interfaces is empty: nothing to guard" <<<"$out"
check "-t does not say ok" not grep -q ': ok$' <<<"$out"
conf_write "$conf" detach
out=$("$MXGD" -t -c "$conf" 2>&1) || die "-t refuses the lab's own file: $out"
check "-t passes a file with interfaces" grep -qF "$conf: ok" <<<"$out"

# ------------------------------------------------ where the pins go, load errors
# failed_start WHAT: mxguardd on $conf fails before anything is attached;
# its output is in $out.
failed_start() {
	local rc=0 p
	out=$(in_server_net timeout 20 "$MXGD" -c "$conf" -f 2>&1) || rc=$?
	log "$1: exit $rc: $out"
	check "$1: mxguardd exits non-zero (exit $rc)" test "$rc" -ne 0 -a "$rc" -lt 124
	for p in "${LAB_SPORTS[@]}"; do
		check "$1: nothing attached to $p" not guard_attached "$p"
	done
}
# pin_dir = /sys/fs/bpf (with or without its '/'): the bpffs root itself.
# The hint once was to mount bpffs over /sys/fs.
for pd in /sys/fs/bpf /sys/fs/bpf/; do
	LAB_PIN=$pd conf_write "$conf" detach
	failed_start "pin_dir = $pd"
	check "pin_dir = $pd: the message asks for a directory inside it" grep -qF "pin_dir /sys/fs/bpf is where the bpf filesystem is mounted: mxguard needs a directory of its own inside it (e.g. pin_dir = /sys/fs/bpf/mxguard)" <<<"$out"
	check "pin_dir = $pd: no hint to mount anything over /sys/fs" not grep -qF "mount -t bpf bpf /sys/fs" <<<"$out"
	check "pin_dir = $pd: nothing pinned in the bpffs root" test -z "$(find /sys/fs/bpf -maxdepth 1 -name 'mxg_*' -newer "$conf" 2>/dev/null)"
done

# A load that fails for another reason than the pins' layout (a read-only
# bpffs: EROFS) must not send the operator to mxguardctl unload, which
# wipes the state.
robpf=$LAB_TMP/robpf
mkdir -p "$robpf"
mount -t bpf bpf "$robpf" || die "cannot mount a bpffs at $robpf"
mkdir "$robpf/mxguard"
mount -o remount,ro "$robpf" || die "cannot remount $robpf read-only"
LAB_PIN=$robpf/mxguard conf_write "$conf" detach
failed_start "read-only pin dir"
umount "$robpf" || true
check "read-only pin dir: the load error says read-only" grep -qF "cannot load the BPF programs: Read-only file system" <<<"$out"
check "read-only pin dir: no hint to run mxguardctl unload" not grep -q "unload" <<<"$out"

# A pinned map of another layout (another version's): EINVAL, and there
# the hint to unload belongs, with what it costs.
mkdir -p "$LAB_PIN"
bpftool map create "$LAB_PIN/mxg_bans" type hash key 4 value 4 entries 8 name mxg_bans ||
	die "bpftool map create failed"
conf_write "$conf" detach
failed_start "a pinned map of another layout"
check "a pinned map of another layout: the load error names the pins and unload" grep -qF "if the pins under $LAB_PIN are from another version of mxguard, mxguardctl unload removes them" <<<"$out"
rm -rf "$LAB_PIN"

# ------------------------------------------------ mxguardctl, missing pins
missing=/sys/fs/bpf/mxg-test-$$-missing
for verb in stats status; do
	rc=0
	out=$("$MXGCTL" --pin-dir "$missing" "$verb" 2>&1) || rc=$?
	log "mxguardctl --pin-dir $missing $verb: exit $rc: $out"
	check "mxguardctl $verb without pins exits non-zero" test "$rc" -ne 0
	check "mxguardctl $verb without pins names the pin dir" grep -qF "$missing" <<<"$out"
done
check "mxguardctl created no pin dir" test ! -e "$missing"

# ------------------------------------------------ mxguardctl, bad CIDRs
conf_write "$conf" detach "[class smtp]" "ports = 25" "rate = 2/s" "burst = 4"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"
before=$(ctl deny list 2>&1) || die "deny list failed: $before"
for cidr in 198.18.0.0/33 198.18.0.300/32 2001:db8::/129 not-a-cidr "" 198.18.0.0/24x; do
	rc=0
	out=$(ctl deny add "$cidr" 2>&1) || rc=$?
	log "deny add '$cidr': exit $rc: $out"
	check "deny add '$cidr' fails" test "$rc" -ne 0
	check "deny add '$cidr': the message names it and says it is no CIDR" \
		grep -qF "'$cidr' is not an address or CIDR" <<<"$out"
done
check "deny list unchanged by the rejected CIDRs" test "$(ctl deny list 2>&1)" == "$before"
# Control: the same command with a good CIDR works, so the failures above
# were about the CIDRs.
out=$(ctl deny add 198.18.7.0/24 2>&1) || die "deny add of a good CIDR failed: $out"
check "a good CIDR is listed" grep -qF 198.18.7.0/24 <<<"$(ctl deny list)"

mxgd_stop TERM || die "mxguardd did not exit 0 on SIGTERM"
out=$(ctl unload 2>&1) || die "mxguardctl unload failed: $out"
log "all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The Debian package as an operator gets it: `make deb` builds it (or
# reuses a .deb newer than every source file), lintian finds no error, and
# `dpkg -i` installs the binaries in /usr/sbin, the unit in
# /lib/systemd/system, /etc/mxguard/mxguard.conf as a conffile of mode 600,
# the man pages, the docs and the completion; the installed
# `mxguardd -t -c /etc/mxguard/mxguard.conf` passes, and the install neither
# enables nor starts the guard. A reinstall over a running guard leaves
# it running and keeps the edited config. Then the remove: with an mxguardd run by
# hand holding the pin dir it fails and leaves the package (and
# mxguardctl) installed; once that daemon stopped with on_exit = keep, its
# programs still enforcing, the remove unloads them. The purge leaves none
# of the package's files, its conffile or its unit state behind, on
# failure too (the trap purges).
#
# It never touches an mxguard installed another way (a package, make
# install, a guard pinned at the default pin dir): it skips and says why.
# The build dir's binaries are not used (build-san runs the same package).
#
# Usage: tests/integration/test_deb.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
LAB_NAME=deb
((EUID == 0)) || skip "needs root (dpkg -i)"

# What dpkg would overwrite or the purge would take away from someone else.
st=$(dpkg-query -W -f='${db:Status-Status}' mxguard 2>/dev/null || true)
[[ -z $st || $st == not-installed ]] ||
	skip "the mxguard package is on this machine already (status $st): not touching it"
for f in /usr/sbin/mxguardd /usr/sbin/mxguardctl /usr/local/sbin/mxguardd \
	/usr/local/sbin/mxguardctl /etc/mxguard /lib/systemd/system/mxguardd.service \
	/usr/lib/systemd/system/mxguardd.service /usr/local/lib/systemd/system/mxguardd.service \
	/etc/systemd/system/mxguardd.service /sys/fs/bpf/mxguard; do
	[[ -e $f ]] && skip "$f exists: mxguard is installed or running here from another source; not touching it"
done

LAB_TOOLS_NEEDED=""	# no traffic: attachments are all it checks
LAB_NEED_MXG=0 lab_init "${1:?usage: $0 BUILD}" deb
lab_netns_up

INSTALLED=0
# The purge first, then the lab's cleanup with the exit status of the test.
# The package's prerm would refuse while the lab's guard is loaded: the
# daemon is stopped and the guard unloaded (from its namespace) first.
deb_cleanup() {
	local pid
	for pid in "${LAB_MXGD_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null
	done
	LAB_MXGD_PIDS=()
	((INSTALLED)) || return 0
	if [[ -d $LAB_PIN && -x /usr/sbin/mxguardctl ]]; then
		timeout 20 in_server_net /usr/sbin/mxguardctl --pin-dir "$LAB_PIN" unload >/dev/null 2>&1
		[[ -e $LAB_PIN ]] && rm -rf "$LAB_PIN"
	fi
	dpkg --purge mxguard >/dev/null 2>&1 || log "cleanup: dpkg --purge mxguard failed"
}
trap 'rc=$?; set +e; deb_cleanup; (exit $rc); lab_cleanup' EXIT

# The package build must not see this run's make variables (SANITIZE=1
# from `make SANITIZE=1 test-integration` travels in MAKEFLAGS).
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SRC" --no-print-directory deb >"$LAB_TMP/deb.log" 2>&1 ||
	die "make deb failed: $(tail -30 "$LAB_TMP/deb.log")"
debs=("$SRC"/build/deb/mxguard_*.deb)
((${#debs[@]} == 1)) && [[ -f ${debs[0]} ]] || die "make deb left no single build/deb/mxguard_*.deb"
deb=${debs[0]}
log "package: $deb"

rc=0
lintian --fail-on error "$deb" >"$LAB_TMP/lintian.log" 2>&1 || rc=$?
sed 's/^/  lintian: /' "$LAB_TMP/lintian.log" >&2
check "lintian reports no error" test "$rc" -eq 0
check "lintian: no E: line" not grep -q '^E:' "$LAB_TMP/lintian.log"

# No policy-rc.d here: nothing but the package itself keeps the guard from
# starting.
INSTALLED=1
dpkg -i "$deb" >"$LAB_TMP/dpkg-i.log" 2>&1 || die "dpkg -i failed: $(cat "$LAB_TMP/dpkg-i.log")"
check "installed" test "$(dpkg-query -W -f='${db:Status-Status}' mxguard)" = installed

# --------------------------------------------------------------- the files
mode_is() { [[ $(stat -c '%a %U:%G' "$1") == "$2 root:root" ]]; }
for b in mxguardd mxguardctl; do
	check "/usr/sbin/$b: 755 root:root" mode_is "/usr/sbin/$b" 755
	check "/usr/sbin/$b: an ELF executable" grep -q ELF <(head -c 4 "/usr/sbin/$b")
done
conf=/etc/mxguard/mxguard.conf
check "$conf: 600 root:root" mode_is "$conf" 600
check "$conf: a conffile" grep -qx " $conf [0-9a-f]*" <(dpkg-query -W -f='${Conffiles}\n' mxguard)
check "$conf: the example config" cmp -s "$conf" "$SRC/docs/mxguard.conf.example"
unit=/lib/systemd/system/mxguardd.service
check "$unit installed" test -f "$unit"
check "the unit starts /usr/sbin/mxguardd" grep -q '^ExecStart=/usr/sbin/mxguardd ' "$unit"
other_exec() { grep -E '^Exec[A-Za-z]*=.*mxguardd' "$unit" | grep -vq '=/usr/sbin/mxguardd '; }
check "the unit runs no other mxguardd" not other_exec
for m in man5/mxguard.conf.5 man8/mxguardd.8 man8/mxguardctl.8; do
	check "man page $m" gzip -t "/usr/share/man/$m.gz"
done
doc=/usr/share/doc/mxguard
check "$doc/copyright" test -f "$doc/copyright"
for d in mxguard.conf.example operations.md configuration.md; do
	check "$doc/$d" test -f "$doc/$d" -o -f "$doc/$d.gz"
done
if [[ -f $SRC/docs/mxguardctl.bash-completion ]]; then
	comp=$(pkg-config --variable=completionsdir bash-completion)/mxguardctl
	check "completion $comp" cmp -s "$comp" "$SRC/docs/mxguardctl.bash-completion"
else
	log "docs/mxguardctl.bash-completion not in this tree: no completion to check"
fi

out=$(/usr/sbin/mxguardd -t -c "$conf" 2>&1) || die "mxguardd -t -c $conf failed: $out"
pass "mxguardd -t -c $conf: $out"

# ------------------------------------------------ neither enabled nor started
check "the unit is not enabled" test "$(systemctl is-enabled mxguardd.service 2>&1)" = disabled
check "no link to the unit under /etc/systemd/system" \
	test -z "$(find /etc/systemd/system -name mxguardd.service 2>/dev/null)"
running_installed() {
	local p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/exe" 2>/dev/null) == /usr/sbin/mxguardd ]] && return 0
	done
	return 1
}
check "no /usr/sbin/mxguardd runs" not running_installed
check "nothing pinned at the default pin dir" test ! -e /sys/fs/bpf/mxguard
if [[ -d /run/systemd/system ]]; then
	check "the unit is not active" not systemctl -q is-active mxguardd.service
fi

# --------------------------------------------------- remove with a guard up
# The installed daemon, run by hand on the lab's ports with the config the
# prerm reads its pin dir from.
conf_write "$conf" keep
check "$conf still 600 after the edit" mode_is "$conf" 600
MXGD=/usr/sbin/mxguardd
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"
check "the installed guard attached to ${LAB_SPORTS[0]}" guard_attached "${LAB_SPORTS[0]}"
cp -p "$conf" "$LAB_TMP/conf.edited"

# An upgrade (here the same version again: dpkg runs the same prerm
# upgrade and postinst configure steps) stops nothing and keeps the
# operator's config; without systemd nothing is restarted either.
dpkg -i "$deb" >"$LAB_TMP/dpkg-u.log" 2>&1 || die "dpkg -i again failed: $(cat "$LAB_TMP/dpkg-u.log")"
check "the upgrade left mxguardd running" kill -0 "$MXGD_PID"
check "the upgrade left the guard attached" guard_attached "${LAB_SPORTS[0]}"
check "the upgrade kept the edited config" cmp -s "$conf" "$LAB_TMP/conf.edited"
check "$conf still 600 after the upgrade" mode_is "$conf" 600

# dpkg runs in the lab server's network namespace: the guard's own, as the
# host's is for a guard the unit runs (mxguardctl unload detaches there).
rc=0
in_server_net dpkg --remove mxguard >"$LAB_TMP/dpkg-r.log" 2>&1 || rc=$?
sed 's/^/  dpkg --remove: /' "$LAB_TMP/dpkg-r.log" >&2
check "remove refused while an mxguardd holds $LAB_PIN" test "$rc" -ne 0
check "the refusal says how to go on" grep -q "mxguardctl --pin-dir $LAB_PIN unload" "$LAB_TMP/dpkg-r.log"
check "still installed" test "$(dpkg-query -W -f='${db:Status-Status}' mxguard)" = installed
check "mxguardctl still there" test -x /usr/sbin/mxguardctl

mxgd_stop TERM || die "mxguardd exited with status $? on SIGTERM"
check "on_exit = keep: the guard still enforces with no mxguardd" guard_attached "${LAB_SPORTS[0]}"
in_server_net dpkg --remove mxguard >"$LAB_TMP/dpkg-r.log" 2>&1 || die "dpkg --remove failed: $(cat "$LAB_TMP/dpkg-r.log")"
check "removed, config kept" test "$(dpkg-query -W -f='${db:Status-Status}' mxguard)" = config-files
check "$conf kept by the remove" test -f "$conf"
for p in "${LAB_SPORTS[@]}"; do
	check "the remove detached the guard from $p" not guard_attached "$p"
done
check "the remove unpinned $LAB_PIN" test ! -e "$LAB_PIN"
check "no program of ours left on the cgroup root" wait_until 5 no_cgroup_prog_added

# ---------------------------------------------------------------- purge
dpkg --purge mxguard >"$LAB_TMP/dpkg-p.log" 2>&1 || die "dpkg --purge failed: $(cat "$LAB_TMP/dpkg-p.log")"
INSTALLED=0
st=$(dpkg-query -W -f='${db:Status-Status}' mxguard 2>/dev/null || true)
check "purged (status '${st:-unknown}')" test -z "$st" -o "$st" = not-installed
left=()
while read -r f; do
	[[ -e $f || -L $f ]] && left+=("$f")
done < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')
for f in /etc/mxguard /usr/share/doc/mxguard \
	/var/lib/systemd/deb-systemd-helper-enabled/mxguardd.service.dsh-also; do
	[[ -e $f ]] && left+=("$f")
done
check "nothing of the package left (${left[*]:-none})" test "${#left[@]}" -eq 0

log "ok"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The guard can neither be switched off from outside nor be left half
# started (issue 11, items 7 and 8), against a real Postfix:
# - trust: a pin_dir another user owns, one group or others can write, or
#   one under a directory another user owns is refused, with a message
#   that names the path, the owner and mode found and the fix; nothing is
#   attached or pinned. It runs in a bpffs of its own, mounted without
#   mode= (1777, as /sys/fs/bpf often is), where nobody can make one.
# - failed start: a fresh start that fails after the load (the [lookup]
#   socket held by a live listener; an interface that does not exist;
#   another XDP program on the second port, found after the first port and
#   the counter were attached) exits 1 with a message and leaves things as
#   they were before it: no XDP, no tc, no sock_ops, no link pins.
# - lost: while mxguardd runs, an XDP link's pin removed (and `ip link set
#   xdp off`) does not detach the guard and the pin comes back; an XDP link
#   detached behind mxguardd's back (bpftool link detach) and a deleted tc
#   filter are re-attached within a bounded wait, logged, and enforce again;
#   so is the connection counter's sock_ops link.
# - adopted: a failed start over an adopted state (on_exit = keep, then the
#   lookup socket held) leaves it as it was, attached and enforcing.
# Each part runs on its own (soft), so one run shows every failure.
#
# Usage: tests/integration/test_integrity.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" integrity
command -v postfix >/dev/null || skip "needs postfix"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"

# The trust part's bpffs goes at exit too (lab_cleanup's own status is kept: it
# is the test's).
BPFFS=$LAB_TMP/bpffs
integrity_cleanup() {
	local rc=$?
	set +e
	mountpoint -q "$BPFFS" && umount -l "$BPFFS"
	(exit "$rc")
	lab_cleanup
}
trap integrity_cleanup EXIT

lab_netns_up
pf_start

C1=$LAB_NS_C1 C2=$LAB_NS_C2 S4=$LAB_SERVER4
P1=${LAB_SPORTS[0]} P2=${LAB_SPORTS[1]}
conf=$LAB_TMP/mxguard.conf
RUN=$LAB_TMP/run
SOCK=$RUN/lookup.sock
mkdir -p "$RUN"
# The guard's own tc place (user/loader.c: MXG_TC_PRIORITY).
TC_PREF=$((0x6d78))
# The sweep that notices a lost attachment runs every 5 s.
REATTACH_S=12

smtp_class=("[class smtp]" "ports = 25" "rate = off")
# [lookup] needs [ldap]; a directory nobody answers for is fine here.
lookup_lines=("[ldap]" "uri = ldap://127.0.0.1:1/" "base = ou=people,$SLAPD_SUFFIX"
	"domains = $LAB_RCPT_DOMAIN" "[lookup]" "socket = $SOCK")

# our_links: the links pinned in this run's pin dirs (LAB_PIN, the trust
# part's bpffs), "TYPE PROG_ID" each: the counter's sock_ops on the cgroup root
# among them. Other runs' attach and detach at the same time on this
# machine; theirs are pinned elsewhere.
our_links() {
	bpftool -f -j link show 2>/dev/null | python3 -c '
import json, sys
for l in json.load(sys.stdin):
    if any(p.startswith(d + "/") for p in l.get("pinned", []) for d in sys.argv[1:]):
        print(l["type"], l["prog_id"])' "$LAB_PIN" "$BPFFS" | sort
}

# attach_state: what is attached in the server namespace and what this
# run's pins attach; compared before and after a failed start.
attach_state() {
	ip netns exec "$LAB_NS_S" bpftool net show 2>&1
	echo "links pinned by this run:"
	our_links
}

# start_fails NAME CONF MESSAGE: mxguardd exits 1 without becoming ready,
# saying MESSAGE (a fixed string), and what is attached is as before it.
# Its output is in $out.
start_fails() {
	local rc=0 before now
	before=$(attach_state)
	out=$(in_server_net timeout 30 "$MXGD" -c "$2" -f 2>&1) || rc=$?
	now=$(attach_state)
	log "$1: exit $rc: $out"
	check "$1: mxguardd exits 1" test "$rc" -eq 1
	check "$1: never became ready" not grep -q 'mxguardd: ready' <<<"$out"
	check "$1: the message says '$3'" grep -qF -- "$3" <<<"$out"
	[[ $now == "$before" ]] || log "$1: before: $before"$'\n'"after: $now"
	check "$1: attachments as before the start" test "$now" == "$before"
}

# unguarded NAME: no port has a guard.
unguarded() {
	local p
	for p in "${LAB_SPORTS[@]}"; do
		check "$1: nothing attached to $p" not guard_attached "$p"
	done
}

# listen_on PATH: a live listener on a unix socket (python3, background).
listen_on() {
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
time.sleep(3600)' "$1" &
	LAB_BG_PIDS+=("$!")
	wait_until 5 test -S "$1" || die "no listener on $1"
}

# refused_client NS: the client's connect to Postfix fails (it is denied).
refused_client() { not tcp_connects "$1" "$S4"; }

# xdp_link_id IFACE: the id of the XDP link pinned for IFACE.
xdp_link_id() {
	bpftool -j link show pinned "$LAB_PIN/link_xdp_$1" | json_get id
}

# mxgd_logged PATTERN: the running daemon's log has a line matching it.
mxgd_logged() { grep -qE "$1" "$MXGD_LOG"; }

# ------------------------------------------------ trust: untrusted pin dirs
part_trust() {
	local evil=$BPFFS/nobody open=$BPFFS/open
	mkdir "$BPFFS"
	mount -t bpf bpf "$BPFFS" || die "trust: cannot mount a bpffs on $BPFFS"
	check "trust: a bpffs mounted without mode= is 1777" test "$(stat -c %a "$BPFFS")" == 1777

	# An unprivileged user makes the pin dir before the guard starts.
	setpriv --reuid=nobody --regid=nogroup --clear-groups mkdir -m 0755 "$evil" ||
		die "trust: nobody cannot mkdir $evil"
	LAB_PIN=$evil conf_write "$conf" detach "${smtp_class[@]}"
	start_fails "trust: pin dir owned by nobody" "$conf" "pin_dir $evil is owned by uid 65534, mode 0755"
	check "trust: the message says how to fix it" grep -qF "rm -r $evil" <<<"$out"
	check "trust: nothing pinned in $evil" test -z "$(ls -A "$evil")"
	unguarded "trust: pin dir owned by nobody"

	# ... or a directory above it, for mxguardd to make the pin dir in.
	LAB_PIN=$evil/mxguard conf_write "$conf" detach "${smtp_class[@]}"
	start_fails "trust: parent owned by nobody" "$conf" "$evil (above pin_dir) is owned by uid 65534, mode 0755"
	check "trust: no pin dir made inside it" test ! -e "$evil/mxguard"
	unguarded "trust: parent owned by nobody"

	# Root's, but writable by others.
	mkdir -m 0777 "$open"
	LAB_PIN=$open conf_write "$conf" detach "${smtp_class[@]}"
	start_fails "trust: pin dir mode 0777" "$conf" "pin_dir $open is owned by uid 0, mode 0777"
	unguarded "trust: pin dir mode 0777"
}

# ---------------------------------- failed start: a failed fresh start
part_failed_start() {
	check "failed start: no pins yet: the start is a fresh one" test ! -e "$LAB_PIN"
	conf_write "$conf" detach "${smtp_class[@]}" "${lookup_lines[@]}"
	start_fails "failed start: lookup socket held" "$conf" "lookup socket $SOCK"
	unguarded "failed start: lookup socket held"

	conf_write "$conf" detach "${smtp_class[@]}"
	sed -i "s/^interfaces = .*/interfaces = $P1, mxg-nosuch0/" "$conf"
	start_fails "failed start: an interface missing" "$conf" "mxg-nosuch0: no such interface"
	unguarded "failed start: an interface missing"

	# Attaching itself fails on the second port (another XDP program is
	# there) after the first port and the counter were attached: they go
	# again, the other program stays.
	printf '%s\n' '__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; }' \
		'__attribute__((section("license"), used)) char _license[] = "GPL";' >"$LAB_TMP/pass.c"
	clang -O2 -target bpf -c "$LAB_TMP/pass.c" -o "$LAB_TMP/pass.o" || die "failed start: clang failed"
	ip -n "$LAB_NS_S" link set dev "$P2" xdpgeneric obj "$LAB_TMP/pass.o" sec xdp ||
		die "failed start: cannot attach a foreign XDP program to $P2"
	conf_write "$conf" detach "${smtp_class[@]}"
	start_fails "failed start: $P2 taken by another XDP program" "$conf" "to $P2:"
	check "failed start: nothing attached to $P1" not guard_attached "$P1"
	ip -n "$LAB_NS_S" link set dev "$P2" xdpgeneric off
}

# ------------------------------------- lost: lost attachments come back
part_lost() {
	local id
	MXGD_LOG=$LAB_TMP/mxguardd.c.log
	conf_write "$conf" detach "${smtp_class[@]}"
	mxgd_start "$conf" "$MXGD_LOG"
	out=$(ctl deny add "${LAB_CLIENT4[0]}/32" && ctl deny add "${LAB_CLIENT4[1]}/32") ||
		die "lost: deny add failed: $out"
	check "lost: denied client 1 is refused on $P1" refused_client "$C1"
	check "lost: denied client 2 is refused on $P2" refused_client "$C2"

	# A removed pin: mxguardd's own reference keeps the link attached,
	# so `ip link set xdp off` cannot take it either; the pin comes back.
	id=$(xdp_link_id "$P1") || die "lost: no XDP link pinned for $P1"
	rm "$LAB_PIN/link_xdp_$P1"
	ip -n "$LAB_NS_S" link set dev "$P1" xdp off 2>/dev/null || true
	ip -n "$LAB_NS_S" link set dev "$P1" xdpgeneric off 2>/dev/null || true
	check "lost: pin removed, xdp off: still attached to $P1" xdp_attached "$P1"
	check "lost: ... and client 1 still refused" refused_client "$C1"
	check "lost: the pin comes back within $REATTACH_S s" \
		wait_within "$REATTACH_S" test -e "$LAB_PIN/link_xdp_$P1"
	check "lost: ... for the same link ($id)" test "$(xdp_link_id "$P1")" == "$id"
	check "lost: ... and it is logged" mxgd_logged "re-pinned .*link_xdp_$P1"

	# The link detached behind the daemon's back: re-attached.
	bpftool link detach pinned "$LAB_PIN/link_xdp_$P2" || die "lost: bpftool link detach failed"
	guarded_p2() { xdp_attached "$P2" && refused_client "$C2"; }
	check "lost: XDP on $P2 re-attached and enforcing within $REATTACH_S s" \
		wait_within "$REATTACH_S" guarded_p2
	log "lost: re-attached after $WAITED s"
	check "lost: ... and it is logged" \
		wait_until 5 mxgd_logged "lost the guard on $P2 .*re-attached xdp"

	# The connection counter's sock_ops link detached: attached again.
	bpftool link detach pinned "$LAB_PIN/link_sockops" || die "lost: bpftool link detach (sock_ops) failed"
	counter_attached() {
		local cg
		cg=$(bpftool -j link show pinned "$LAB_PIN/link_sockops" | json_get cgroup_id) &&
			((cg != 0))
	}
	check "lost: the counter's sock_ops on the cgroup root again within $REATTACH_S s" \
		wait_within "$REATTACH_S" counter_attached
	check "lost: ... and it is logged" \
		wait_until 5 mxgd_logged "lost the connection counter .*re-attached"
	mxgd_stop TERM || die "lost: mxguardd did not exit 0"

	# tc: the filter deleted.
	MXGD_LOG=$LAB_TMP/mxguardd.c-tc.log
	LAB_ATTACH=tc conf_write "$conf" detach "${smtp_class[@]}"
	mxgd_start "$conf" "$MXGD_LOG"
	check "lost: tc: client 1 refused" refused_client "$C1"
	ip netns exec "$LAB_NS_S" tc filter del dev "$P1" ingress pref "$TC_PREF" ||
		die "lost: tc filter del failed"
	guarded_tc_p1() { tc_attached "$P1" && refused_client "$C1"; }
	check "lost: tc on $P1 re-attached and enforcing within $REATTACH_S s" \
		wait_within "$REATTACH_S" guarded_tc_p1
	log "lost: tc re-attached after $WAITED s"
	check "lost: ... and it is logged" \
		wait_until 5 mxgd_logged "lost the guard on $P1 .*re-attached tc"
	mxgd_stop TERM || die "lost: mxguardd (tc) did not exit 0"
}

# ---------------------- adopted: a failed start over an adopted state
part_adopted() {
	local p
	MXGD_LOG=$LAB_TMP/mxguardd.d.log
	conf_write "$conf" keep "${smtp_class[@]}"
	mxgd_start "$conf" "$MXGD_LOG"
	ctl deny add "${LAB_CLIENT4[0]}/32" >/dev/null 2>&1 || true
	mxgd_stop TERM || die "adopted: mxguardd (keep) did not exit 0"
	conf_write "$conf" keep "${smtp_class[@]}" "${lookup_lines[@]}"
	start_fails "adopted: lookup socket held, adopted state" "$conf" "lookup socket $SOCK"
	for p in "${LAB_SPORTS[@]}"; do
		check "adopted: still attached to $p" guard_attached "$p"
	done
	check "adopted: still enforcing: client 1 refused" refused_client "$C1"
	check "adopted: the connection counter still pinned" test -e "$LAB_PIN/link_sockops"
}

# stop_strays: a part that failed may leave its mxguardd running (it ran
# in the part's subshell); stop it, by its pid, before the next part.
stop_strays() {
	local pid
	for pid in $(ip netns pids "$LAB_NS_S"); do
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$MXGD" ]] || continue
		log "stopping mxguardd $pid left by a failed part"
		kill -TERM "$pid" 2>/dev/null || true
		wait_pid_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
	done
}

# Held for the failed and adopted starts; started here, so that cleanup knows its pid.
listen_on "$SOCK"
for part in part_trust part_failed_start part_lost part_adopted; do
	soft "$part"
	stop_strays
done
soft_verdict
log "all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The checks of the kernel matrix, run inside a guest that
# tools/kernel-vm.sh booted on one of Debian's kernels (make test-kernels,
# tools/test-kernels.sh). It prints one "PASS name" or "FAIL name: why"
# line per check and closes with "N passed, N failed"; it exits 0 only when
# nothing failed.
#
#   kernel-guest.sh [all|probe]     (MXG_BUILD: the build dir, /mxg/build)
#
#   probe  `mxguardd --probe`: each program loaded alone, one check per
#          program with the verifier's count of instructions beside its
#          limit; each probe line is also echoed as "verifier: LINE" for
#          the host (BUILD/kernels/verifier-KVER.txt, make bench);
#   all    the probe, then every tests/bpf suite (cmocka, BPF_PROG_TEST_RUN
#          on this kernel), then mxguardd live with attach = xdp and with
#          attach = tc on a veth pair, the client end in network namespace
#          c1 (198.18.0.2-4; the server, 198.18.0.1, is this namespace):
#          connections held are counted, a rate limit drops, the deny list
#          drops, the SMTP reader counts a recipient of a real session, and
#          SIGTERM detaches.
#
# Every check that depends on a daemon that did not start still prints its
# FAIL line, so every kernel reports the same checks. Every wait is bounded
# and polls a state; nothing sleeps to synchronise.
set -euo pipefail

mode=${1:-all}
case $mode in all | probe) ;; *) echo "usage: $0 [all|probe]" >&2; exit 2 ;; esac
build=${MXG_BUILD:-/mxg/build}
mxgd=$build/mxguardd mxgctl=$build/mxguardctl
flood=$build/tools/connflood sink=$build/kernels/tcp-sink
# Debian's busybox sh runs its own ip and tc ahead of PATH: iproute2's,
# by full path.
ip=/sbin/ip tc=/sbin/tc

pin=/sys/fs/bpf/mxguard-guest
dev=mxs0 peer=mxc0 ns=c1 nspath=/run/netns/c1
server=198.18.0.1
c_conns=198.18.0.2	# also the SMTP session's (the client's first address)
c_deny=198.18.0.3
c_rate=198.18.0.4
# The smtp class: a burst the conns check (5 held) and the SMTP session fit
# in, refilled so slowly (1/min) that the rate check's burst of SYNs from a
# source of its own goes past it.
held=5 burst=8 rate_syns=30

passed=0 failed=0
tmp=$(mktemp -d /tmp/mxg-guest.XXXXXX)
bg_pids=() mxgd_pid=""

pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
note() { echo "  $*"; }
# Where the time goes under emulation.
section() { note "[${SECONDS}s] $*"; }

summary_done=0
cleanup() {
	local rc=$?
	set +e
	trap - EXIT
	# Muted: bash's notice of a killed job is expected here, not news.
	{
		[[ -n $mxgd_pid ]] && kill -KILL "$mxgd_pid"
		for p in "${bg_pids[@]}"; do
			kill -KILL "$p" && wait "$p"
		done
	} 2>/dev/null
	[[ -d $pin ]] && ctl unload >/dev/null 2>&1
	rm -rf "$tmp"
	# Stopped by an error of its own: still a FAIL and a summary.
	if ((!summary_done)); then
		echo "FAIL guest script: stopped early (status $rc)"
		echo "$passed passed, $((failed + 1)) failed"
		((rc)) || rc=1
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds, at
# most SECONDS (by the clock and by count: each CMD may itself be slow
# under emulation).
wait_until() {
	local end=$((SECONDS + $1)) i
	shift
	for ((i = 0; i < 100000 && SECONDS < end; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# tail_of FILE [N]: its last N (3) lines on one line, for a FAIL reason.
tail_of() { tail -n "${2:-3}" "$1" 2>/dev/null | tr '\n' ' ' | sed 's/ *$//'; }

# ================================================================ probe

re_loaded='^program ([A-Za-z0-9_]+): loaded, ([0-9]+) instructions verified \(limit ([0-9]+)\)$'
re_rejected='^program ([A-Za-z0-9_]+): rejected \((.*)\); turns off (.*)$'

check_probe() {
	local out rc=0 line nprog=0 nrej=0
	out=$(timeout 300 "$mxgd" --probe 2>"$tmp/probe.err") || rc=$?
	while IFS= read -r line; do
		[[ $line == program\ * ]] || continue
		echo "verifier: $line"
		nprog=$((nprog + 1))
		if [[ $line =~ $re_loaded ]]; then
			pass "load ${BASH_REMATCH[1]} (${BASH_REMATCH[2]} of ${BASH_REMATCH[3]} instructions)"
		elif [[ $line =~ $re_rejected ]]; then
			nrej=$((nrej + 1))
			fail "load ${BASH_REMATCH[1]}" "rejected (${BASH_REMATCH[2]}); turns off ${BASH_REMATCH[3]}"
		else
			nrej=$((nrej + 1))
			fail "load" "mxguardd --probe printed a line of no known form: $line"
		fi
	done <<<"$out"
	if ((nprog == 0)) && grep -q '^usage: mxguardd' "$tmp/probe.err"; then
		fail "probe" "this mxguardd has no --probe (exit $rc with its usage)"
	elif ((nprog == 0)); then
		fail "probe" "mxguardd --probe printed no program line (exit $rc: $(tail_of "$tmp/probe.err"))"
	elif ((rc == 0 && nrej > 0)); then
		fail "probe exit status" "0 although $nrej of $nprog programs were not loaded"
	elif ((rc != 0 && nrej == 0)); then
		fail "probe exit status" "$rc although all $nprog programs loaded ($(tail_of "$tmp/probe.err"))"
	else
		pass "probe exit status ($rc: $((nprog - nrej)) of $nprog programs loaded)"
	fi
}

# ================================================================ suites

check_suites() {
	local t name rc log n why
	for t in "$build"/tests/bpf/test_*; do
		[[ -x $t ]] || continue
		name=$(basename "$t")
		log=$tmp/$name.log
		rc=0
		timeout -k 10 600 "$t" >"$log" 2>&1 </dev/null || rc=$?
		n=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
		if ((rc == 0)); then
			pass "bpf $name (${n:-0} tests)"
			continue
		fi
		# The failed tests by name; a failed setup by the program the
		# kernel refused and the verifier's last words; else the end.
		why=$(sed -n 's/^\[  FAILED  \] \(test_[A-Za-z0-9_]*\)$/\1/p' "$log" | tr '\n' ' ' | sed 's/ *$//')
		if [[ -n $why ]]; then
			why="failed: $why"
		elif grep -q '^\[  FAILED  \] GROUP SETUP' "$log"; then
			why="setup failed: $(awk '
				/^processed [0-9]+ insns/ { reason = prev }
				/^libbpf: prog .*: failed to load/ && !first { first = $0; why = reason }
				{ prev = $0 }
				END {
					sub(/^libbpf: /, "", first)
					if (first == "") first = "no program named"
					printf "%s%s", first, (why != "" ? " (" why ")" : "")
				}' "$log")"
		else
			why=$(grep -v '^\s*$' "$log" | tail -n 2 | tr '\n' ' ' | sed 's/ *$//')
		fi
		fail "bpf $name" "exit $rc, ${n:-0} passed; $why"
		note "--- $name, last lines:"
		tail -n 25 "$log" | sed 's/^/  | /'
	done
}

# ================================================================ live

net_up() {
	$ip link add "$dev" type veth peer name "$peer"
	$ip netns add "$ns"
	$ip link set "$peer" netns "$ns"
	$ip addr add "$server/24" dev "$dev"
	$ip link set "$dev" up
	$ip -n "$ns" link set lo up
	$ip -n "$ns" addr add "$c_conns/24" dev "$peer"
	$ip -n "$ns" addr add "$c_deny/24" dev "$peer"
	$ip -n "$ns" addr add "$c_rate/24" dev "$peer"
	$ip -n "$ns" link set "$peer" up
}

in_client() { nsenter --net="$nspath" "$@"; }
reachable() { in_client ping -c 1 -W 1 "$server" >/dev/null 2>&1; }
sink_up() { grep -q '^listening$' "$tmp/sink.out" 2>/dev/null; }

ctl() { "$mxgctl" --pin-dir "$pin" "$@"; }

# class_stat CLASS COLUMN: one number of `mxguardctl stats` (text: there is no
# JSON parser in the guest); columns by the header's names (conns, rate,
# deny, ...: the dropped.* counters are named by their reason).
class_stat() {
	ctl stats 2>/dev/null | awk -v c="$1" -v f="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == c && (f in col) { print $(col[f]); found = 1; exit }
		END { exit !found }'
}

# rcpt_seen: the recipients the SMTP reader counted, whatever it judged
# them (the "recipients:" line: known, unknown, foreign, not_judged, ...;
# with no mirror a recipient is not_judged).
rcpt_seen() {
	ctl stats 2>/dev/null | sed -n 's/^recipients: //p' | tr ',' '\n' |
		awk '$1 ~ /^(known|unknown|foreign|not_judged)$/ { n += $2; found = 1 }
		     END { if (found) print n + 0; exit !found }'
}

stat_is() { [[ $(class_stat "$1" "$2") == "$3" ]]; }
# Above a value that could not be read: above 0.
stat_above() {
	local v base=$3
	[[ $base =~ ^[0-9]+$ ]] || base=0
	v=$(class_stat "$1" "$2") && ((v > base))
}
rcpt_above() { local v; v=$(rcpt_seen) && ((v > $1)); }

conf_write() {
	cat >"$tmp/mxguard.conf" <<EOF
# mxguard kernel-matrix guest ($1)
[global]
interfaces = $dev
attach = $1
pin_dir = $pin
max_sources = 4096
on_exit = detach

[class smtp]
ports = 25
rate = 1/min
burst = $burst
new_sources = off
EOF
}

# mxgd_settled LOG: ready, or dead before it (no use waiting on).
mxgd_settled() { grep -q 'mxguardd: ready' "$1" || gone "$mxgd_pid"; }

# flood ARGS...: connflood from the client namespace; prints "ESTABLISHED
# FAILED" from its JSON line.
flood() {
	local out
	out=$(in_client timeout 60 "$flood" -d "$server" -p 25 "$@" 2>&1) || {
		echo "error: $out"
		return 1
	}
	echo "$out" | sed -n 's/.*"established":\([0-9]*\),"failed":\([0-9]*\).*/\1 \2/p'
}

attached_here() {
	# The daemon's own view, and the kernel's: iproute2's.
	case $1 in
	xdp) $ip -d link show dev "$dev" | grep -q 'prog/xdp' ;;
	tc) [[ -n $($tc filter show dev "$dev" ingress 2>/dev/null) ]] ;;
	esac
}
nothing_attached() {
	! $ip -d link show dev "$dev" | grep -q 'prog/xdp' &&
		[[ -z $($tc filter show dev "$dev" ingress 2>/dev/null) ]]
}

# live MODE: the daemon attached with MODE, the traffic checks, the stop.
live() {
	local m=$1 log=$tmp/mxguardd-$1.log why="" st
	local checks=(conns smtp deny rate stop)
	section "$m: mxguardd start"
	conf_write "$m"
	"$mxgd" -c "$tmp/mxguard.conf" -f 2>"$log" &
	mxgd_pid=$!
	wait_until 300 mxgd_settled "$log" || true
	if ! grep -q 'mxguardd: ready' "$log" || gone "$mxgd_pid"; then
		why="mxguardd did not become ready: $(tail_of "$log" 4)"
	elif ! st=$(ctl status 2>&1) || ! grep -q "^attached .* $dev ($m," <<<"$st"; then
		why="mxguardctl status does not show $dev attached with $m: $(grep '^attached\|^kernel' <<<"$st" | tr '\n' ' ')"
	elif ! attached_here "$m"; then
		why="mxguardd is ready but iproute2 shows no $m program on $dev"
	fi
	if [[ -n $why ]]; then
		fail "$m attach" "$why"
		for c in "${checks[@]}"; do
			fail "$m $c" "not run: mxguardd is not attached"
		done
		kill -KILL "$mxgd_pid" 2>/dev/null || true
		wait "$mxgd_pid" 2>/dev/null || true
		mxgd_pid=""
		ctl unload >/dev/null 2>&1 || true
		rm -rf "$pin"
		return 0
	fi
	pass "$m attach ($(sed -n "s/^attached *//p" <<<"$st"))"
	section "$m: traffic"

	live_conns "$m"
	live_smtp "$m"
	live_deny "$m"
	live_rate "$m"
	live_stop "$m"
}

# (i) connections held from one source are counted, and uncounted when
# they close.
live_conns() {
	local m=$1 fpid n0 n1 n2
	n0=$(class_stat smtp conns) || n0=unreadable
	# nsenter itself, not in_client: a backgrounded function is a
	# subshell, and $! would be its pid, not the flooder's.
	nsenter --net="$nspath" "$flood" -d "$server" -p 25 -b "$c_conns" -k -M "$held" -P "$held" \
		-c 1000 -t 120s -T 3s >"$tmp/hold.out" 2>&1 &
	fpid=$!
	bg_pids+=("$fpid")
	wait_until 60 stat_is smtp conns "$held" || true
	n1=$(class_stat smtp conns) || n1=unreadable
	kill -TERM "$fpid" 2>/dev/null || true
	wait "$fpid" 2>/dev/null || true
	wait_until 60 stat_is smtp conns 0 || true
	n2=$(class_stat smtp conns) || n2=unreadable
	if [[ $n0 == 0 && $n1 == "$held" && $n2 == 0 ]]; then
		pass "$m conns ($held held from $c_conns counted as $n1, $n2 after they closed)"
	else
		fail "$m conns" "class smtp conns: $n0 before, $n1 with $held held (expected $held), $n2 after close (expected 0)"
	fi
}

# (iv) a real SMTP session: the reader counts its recipient.
live_smtp() {
	local m=$1 r0 r1 rc=0
	r0=$(rcpt_seen) || { fail "$m smtp" "no recipients line in mxguardctl stats"; return 0; }
	printf 'EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nQUIT\r\n' |
		in_client timeout 30 busybox nc "$server" 25 >/dev/null 2>"$tmp/nc.err" || rc=$?
	if ((rc)); then
		fail "$m smtp" "the session from $ns to $server:25 failed (nc exit $rc: $(tail_of "$tmp/nc.err"))"
		return 0
	fi
	wait_until 30 rcpt_above "$r0" || true
	r1=$(rcpt_seen) || r1=unreadable
	if [[ $r1 =~ ^[0-9]+$ ]] && ((r1 > r0)); then
		pass "$m smtp (RCPT TO counted by the reader: recipients $r0 -> $r1)"
	else
		fail "$m smtp" "recipients counted stayed at $r0 (now $r1) after a session with one RCPT TO ($(ctl stats 2>&1 | sed -n 's/^recipients: //p'))"
		note "--- tc filters on $dev ingress:"
		$tc filter show dev "$dev" ingress 2>&1 | sed 's/^/  | /'
	fi
}

# (iii) a source on the deny list cannot connect; it could just before.
live_deny() {
	local m=$1 before after d0 d1 out
	before=$(flood -b "$c_deny" -c 1 -P 1 -T 3s) || true
	out=$(ctl deny add "$c_deny/32" 2>&1) || {
		fail "$m deny" "mxguardctl deny add $c_deny/32 failed: $out"
		return 0
	}
	d0=$(class_stat smtp deny) || d0=unreadable
	after=$(flood -b "$c_deny" -c 1 -P 1 -T 2s) || true
	wait_until 30 stat_above smtp deny "$d0" || true
	d1=$(class_stat smtp deny) || d1=unreadable
	if [[ $before == "1 0" && $after == "0 1" && $d0 =~ ^[0-9]+$ && $d1 =~ ^[0-9]+$ ]] && ((d1 > d0)); then
		pass "$m deny ($c_deny/32: connects before, refused after; dropped.deny $d0 -> $d1)"
	else
		fail "$m deny" "'established failed' before the rule '$before' (expected 1 0), after '$after' (expected 0 1); dropped.deny $d0 -> $d1"
	fi
}

# (ii) more SYNs at once than the burst: the rest are dropped as rate.
live_rate() {
	local m=$1 r0 r1 res est fl
	r0=$(class_stat smtp rate) || r0=unreadable
	res=$(flood -b "$c_rate" -c "$rate_syns" -P "$rate_syns" -T 500ms) || true
	read -r est fl <<<"$res" || true
	wait_until 30 stat_above smtp rate "$r0" || true
	r1=$(class_stat smtp rate) || r1=unreadable
	if [[ $est =~ ^[0-9]+$ && $r0 =~ ^[0-9]+$ && $r1 =~ ^[0-9]+$ ]] && ((est <= burst && fl > 0 && r1 > r0)); then
		pass "$m rate ($rate_syns SYNs at burst $burst: $est established, $fl refused; dropped.rate $r0 -> $r1)"
	else
		fail "$m rate" "$rate_syns SYNs at burst $burst: 'established failed' '$res' (expected at most $burst established); dropped.rate $r0 -> $r1"
	fi
}

# A clean stop detaches (on_exit = detach) and exits 0.
live_stop() {
	local m=$1 rc=0 left
	kill -TERM "$mxgd_pid"
	if ! wait_until 120 gone "$mxgd_pid"; then
		fail "$m stop" "mxguardd still runs 120 s after SIGTERM"
		kill -KILL "$mxgd_pid" 2>/dev/null || true
	fi
	wait "$mxgd_pid" 2>/dev/null || rc=$?
	mxgd_pid=""
	left="nothing left on $dev"
	nothing_attached || left="a program is still on $dev"
	if [[ $rc == 0 && $left == nothing* ]]; then
		pass "$m stop (SIGTERM: exit 0, $left)"
	else
		fail "$m stop" "exit $rc, $left: $(tail_of "$tmp/mxguardd-$m.log" 2)"
	fi
	# The next mode starts from nothing: no pinned sources, rules, counter.
	ctl unload >/dev/null 2>&1 || true
	rm -rf "$pin"
}

check_live() {
	local why="" m c
	if [[ ! -x $flood ]]; then
		why="$flood is not in the guest (make $build/tools/connflood)"
	elif ! net_up 2>"$tmp/net.err"; then
		why="veth pair and namespace $ns: $(tail_of "$tmp/net.err")"
	elif ! wait_until 30 reachable; then
		why="$server does not answer ping from $ns"
	else
		"$sink" "$server" 25 >"$tmp/sink.out" 2>&1 &
		bg_pids+=($!)
		wait_until 30 sink_up || why="tcp-sink did not listen: $(tail_of "$tmp/sink.out")"
	fi
	for m in xdp tc; do
		if [[ -n $why ]]; then
			for c in attach conns smtp deny rate stop; do
				fail "$m $c" "not run: $why"
			done
		else
			live "$m"
		fi
	done
}

# ================================================================ main

echo "kernel-guest: $(uname -r), $(nproc) CPUs, mode $mode"
section "mxguardd --probe"
check_probe
if [[ $mode == all ]]; then
	section "tests/bpf"
	check_suites
	check_live
fi
section "done"
summary_done=1
echo "$passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make bench`, part postfix: what a mail operator feels of the guard
# (issue 11, "Numbers"): Postfix's own throughput, measured by Postfix's
# own smtp-source, without the guard and with it, in both attach modes.
#
# In the netns lab (tools/lab.sh): a real Postfix (pf_start)
# validating recipients at RCPT time through mxguard's socketmap
# (relay_recipient_maps = socketmap:..., relay_transport = discard:), a
# real slapd with MXG_BENCH_PF_USERS people (default 1000) and the three
# recipients smtp-source writes to (bench@, 2bench@, 3bench@: -r 3
# prepends the number), and client 1 running
#   smtp-source -s SESSIONS -m MESSAGES -l 4096 -r 3
# (defaults 10 sessions, 2000 messages of 4 KiB, 3 recipients each, one
# connection per message: every message is also a judged SYN). Each run
# is one of
#   none  mxguardd serving the same socketmap, its programs on a veth
#         pair that carries nothing and its connection counter on an
#         empty cgroup: Postfix, its table and its lookups are the same,
#         only the guard is off the path;
#   xdp   guarding the server's ports, native XDP, the SMTP reader on tc;
#   tc    the same on tc;
# both guarded modes with [smtp_inspect] mode = observe and a ready
# mirror, and a per-source rate far above the client's (10000/s): the
# one client stands for many senders, every SYN takes the whole judged
# path and none is dropped (checked). The runs are interleaved (none,
# xdp, tc, none, tc, xdp, none, ...) for MXG_BENCH_PF_ROUNDS rounds
# (default 5) and a closing none, after one unmeasured warm-up, each run
# with a fresh mxguardd and an empty queue, so that the machine's drift
# cancels: each guarded run is divided by the unguarded rate at its
# place, interpolated between the none runs before and after it (the
# rate drifted down by ~1% a run in trials), and the median of those
# ratios is the figure. On the 2-core VM a run is CPU-bound (Postfix's
# daemons, smtp-source, the lookups: ~5% idle) and single runs of one
# mode vary by up to ~10%: hence 5 rounds, not 3, for a target of 0.98.
# The machine's CPU time per message (/proc/stat) is reported beside
# it. Nothing is asserted.
#
# Usage: tools/postfix-bench.sh BUILD   (root; tools/bench.sh calls it;
# exits 77 without postfix, smtp-source or slapd)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
LAB_PREFIX=mxpb
LAB_TOOLS_NEEDED=""
. "$SRC/tools/lab.sh"
. "$SRC/tools/bench-lib.sh"

lab_init "${1:?usage: $0 BUILD}" postfix-bench
ROUNDS=$(knob MXG_BENCH_PF_ROUNDS 5)
MSGS=$(knob MXG_BENCH_PF_MESSAGES 2000)
SESSIONS=$(knob MXG_BENCH_PF_SESSIONS 10)
USERS=$(knob MXG_BENCH_PF_USERS 1000)
SIZE=4096 RCPTS=3
MODES=(none xdp tc)
((ROUNDS <= 20 && MSGS <= 100000 && SESSIONS <= 100)) ||
	die "at most 20 rounds of 100000 messages over 100 sessions"
for c in postfix smtp-source slapd slapadd ldapsearch; do
	command -v "$c" >/dev/null || lab_unavailable "needs $c (tools/deps.sh)"
done

C1=$LAB_NS_C1 S4=$LAB_SERVER4 DOM=$LAB_RCPT_DOMAIN
RUN=$LAB_TMP/run
SOCK=$RUN/lookup.sock
conf=$LAB_TMP/mxguard.conf
mkdir -p "$RUN"
chmod 755 "$RUN"

# The unguarded runs' counter goes to a cgroup of our own that no
# process is in. Removed at exit, after the daemon that attached to it.
cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[[ -n $cg_root ]] || lab_unavailable "needs cgroup v2"
CG=$cg_root/mxg-postfix-bench-$$
mkdir "$CG"
bench_cleanup() {
	local rc=$? pid
	set +e
	for pid in "${LAB_MXGD_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait_pid_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null
	done
	rmdir "$CG" 2>/dev/null
	(exit "$rc")
	lab_cleanup
}
trap bench_cleanup EXIT

lab_netns_up
# The idle veth pair the unguarded runs' mxguardd guards.
ip -n "$LAB_NS_S" link add mxidle0 type veth peer name mxidle1
ip -n "$LAB_NS_S" link set mxidle0 up
ip -n "$LAB_NS_S" link set mxidle1 up

ldif=$LAB_TMP/people.ldif
{
	slapd_base_ldif
	slapd_people_ldif "$USERS" same
	for r in bench 2bench 3bench; do
		person_ldif "$r" "$r@$DOM"
	done
} >"$ldif"
slapd_create slapd 0 "$ldif"
slapd_run slapd 389 4096
printf '%s' "$SLAPD_BIND_PW" >"$LAB_TMP/ldap.secret"
chmod 600 "$LAB_TMP/ldap.secret"

pf_start
pf_set "relay_recipient_maps = socketmap:unix:$SOCK:rcpt"

# mode_conf MODE: the config of a run (see the top of this file).
mode_conf() {
	local LAB_ATTACH=$1 LAB_SPORTS=("${LAB_SPORTS[@]}") where=()
	if [[ $1 == none ]]; then
		LAB_ATTACH=xdp-generic LAB_SPORTS=(mxidle0 mxidle1) where=("cgroup = $CG")
	fi
	conf_write "$conf" detach "${where[@]}" \
		"[class smtp]" "rate = 10000/s" "burst = 10000" \
		"[ldap]" "uri = ldap://$LAB_DIR4:389/" "base = ou=people,$SLAPD_SUFFIX" \
		"bind_dn = $SLAPD_BIND_DN" "bind_password_file = $LAB_TMP/ldap.secret" \
		"attributes = mail, mailLocalAddress" "domains = $DOM" \
		"sync = poll" "poll_interval = 1h" "max_age = 2h" \
		"[lookup]" "socket = $SOCK" \
		"[smtp_inspect]" "mode = observe"
}

queue_empty() {
	[[ -z $(find "$LAB_PF_DIR/queue/"{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | head -1) ]]
}

# busy_ticks: the CPU time every CPU has spent not idle, in clock ticks.
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# run_once MODE COUNT: one smtp-source run of COUNT messages under a
# fresh mxguardd in MODE; writes "SECONDS BUSY_TICKS KNOWN DROPPED" (the
# machine's CPU time, the reader's known recipients and the class's
# dropped SYNs during the run) to
# $LAB_TMP/run.out. Not in a subshell: the daemon it starts is the
# cleanup's to stop, and a failure ends the bench.
run_once() {
	local mode=$1 n=$2 t0 t1 s0 s1 b0 b1
	mode_conf "$mode"
	mxgd_start "$conf" "$LAB_TMP/mxguardd-$mode.log"
	wait_until 30 mxg_mirror_ready ||
		die "$mode: the mirror did not become ready: $(tail -5 "$LAB_TMP/mxguardd-$mode.log")"
	s0=$(ctl_json stats) || die "mxguardctl -j stats failed"
	b0=$(busy_ticks)
	t0=$EPOCHREALTIME
	ip netns exec "$C1" timeout 600 smtp-source -s "$SESSIONS" -m "$n" -l "$SIZE" \
		-r "$RCPTS" -f "sender@client.example" -t "bench@$DOM" -M client.example \
		"$S4:25" >"$LAB_TMP/smtp-source.log" 2>&1 ||
		die "$mode: smtp-source failed: $(tail -5 "$LAB_TMP/smtp-source.log")"
	t1=$EPOCHREALTIME
	b1=$(busy_ticks)
	s1=$(ctl_json stats) || die "mxguardctl -j stats failed"
	mxgd_stop || die "$mode: mxguardd exited with status $?: $(tail -5 "$LAB_TMP/mxguardd-$mode.log")"
	ctl unload >/dev/null 2>&1 || true
	rm -rf "$LAB_PIN"
	# The next run must not pay for this one's deliveries.
	wait_until 120 queue_empty || die "$mode: the queue did not drain in 120 s"
	python3 - "$t0" "$t1" "$s0" "$s1" $((b1 - b0)) <<'EOF'
import json, sys
a, b = json.loads(sys.argv[3]), json.loads(sys.argv[4])
drops = sum(b["classes"]["smtp"]["dropped"].values()) - sum(a["classes"]["smtp"]["dropped"].values())
print("%.3f %s %d %d" % (float(sys.argv[2]) - float(sys.argv[1]), sys.argv[5],
                         b["rcpt"]["known"] - a["rcpt"]["known"], drops))
EOF
} >"$LAB_TMP/run.out"

log "$MSGS messages of $SIZE bytes, $RCPTS recipients each, $SESSIONS sessions; $ROUNDS rounds of ${MODES[*]}"
run_once none 200	# warm-up: Postfix's daemons started, caches filled
: >"$LAB_TMP/runs"
# Round r: none, then xdp and tc (tc first in even rounds); one more
# none closes the last round, so that every guarded run lies between two
# unguarded ones.
for ((r = 1; r <= ROUNDS + 1; r++)); do
	order=(none)
	if ((r <= ROUNDS)); then
		((r % 2)) && order+=(xdp tc) || order+=(tc xdp)
	fi
	for ((i = 0; i < ${#order[@]}; i++)); do
		m=${order[i]}
		run_once "$m" "$MSGS"
		read -r secs ticks known drops <"$LAB_TMP/run.out"
		log "round $r, $m: $MSGS messages in ${secs}s, $ticks ticks of CPU"
		echo "$r $i $m $secs $ticks $known $drops" >>"$LAB_TMP/runs"
	done
done
rejects=$(grep -c 'NOQUEUE: reject' "$PF_LOG" || true)
((rejects == 0)) || die "postfix rejected $rejects commands: $(grep 'NOQUEUE: reject' "$PF_LOG" | head -3)"

python3 - "$LAB_TMP/runs" "$MSGS" "$ROUNDS" "$(getconf CLK_TCK)" <<'EOF' >"$LAB_TMP/figures"
import statistics, sys
runs, msgs, rounds, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rate, cpu, pos, known, drops = {}, {}, {}, {}, {}
for line in open(runs):
    r, i, m, secs, ticks, k, d = line.split()
    r = int(r)
    rate[r, m] = msgs / float(secs)
    cpu[r, m] = 1000.0 * int(ticks) / hz / msgs
    pos[r, m] = int(i)
    if m != "none":
        known.setdefault(m, []).append(int(k))
        drops.setdefault(m, []).append(int(d))
R = range(1, rounds + 1)
G = ("xdp", "tc")
# A guarded run against the unguarded rate at its place in the schedule,
# interpolated between the none runs before and after it: a drift that
# is linear over a round cancels.
def rel(v, r, m):
    f = pos[r, m] / 3.0
    return v[r, m] / (v[r, "none"] + (v[r + 1, "none"] - v[r, "none"]) * f)
ratios = {m: [rel(rate, r, m) for r in R] for m in G}
ratio = {m: statistics.median(ratios[m]) for m in G}
cpu_ratio = {m: statistics.median(rel(cpu, r, m) for r in R) for m in G}
med = {m: statistics.median(rate[r, m] for r in R) for m in G}
med["none"] = statistics.median(rate[r, "none"] for r in range(1, rounds + 2))
cpu_none = statistics.median(cpu[r, "none"] for r in range(1, rounds + 2))
drops_all = sum(sum(drops[m]) for m in G)
print("line postfix: %d messages/s without the guard, %d with it on xdp (%.3fx), %d on tc (%.3fx)"
      % (med["none"], med["xdp"], ratio["xdp"], med["tc"], ratio["tc"]))
print("line   ratios: median over %d rounds of each guarded run against the unguarded runs around it; per round"
      " (none xdp tc, messages/s): %s; closing none %d" % (rounds, "; ".join(
          " ".join("%d" % rate[r, m] for m in ("none",) + G) for r in R), rate[rounds + 1, "none"]))
print("line   the rounds' ratios ranged %.3f-%.3f (xdp), %.3f-%.3f (tc): the spread of single runs on this machine"
      % (min(ratios["xdp"]), max(ratios["xdp"]), min(ratios["tc"]), max(ratios["tc"])))
print("line   CPU time of the whole machine per message: %.2f ms without the guard; with it %.3fx on xdp, %.3fx on tc"
      % (cpu_none, cpu_ratio["xdp"], cpu_ratio["tc"]))
print("line   recipients the SMTP reader counted known per run: xdp %s, tc %s (of %d sent); SYNs the guard dropped: %d"
      % ("/".join(map(str, known["xdp"])), "/".join(map(str, known["tc"])), msgs * 3, drops_all))
print("fig messages/s, no guard (median of %d runs)|%.1f|/s|" % (rounds + 1, med["none"]))
for m in G:
    print("fig messages/s, guard on %s, observe, mirror ready (median of %d runs)|%.1f|/s|" % (m, rounds, med[m]))
for m in G:
    print("fig messages/s with / without the guard, %s (median of %d interleaved rounds)|%.3f|ratio|>= 0.98"
          % (m, rounds, ratio[m]))
print("fig CPU time of the machine per message, no guard (median)|%.3f|ms|" % cpu_none)
for m in G:
    print("fig CPU time per message with / without the guard, %s (median of %d rounds)|%.3f|ratio|"
          % (m, rounds, cpu_ratio[m]))
for m in G:
    print("fig recipients the SMTP reader counted known, %s (median per run of %d)|%d|recipients|"
          % (m, msgs * 3, statistics.median(known[m])))
print("fig SYNs the guard dropped during the guarded runs|%d|SYNs|== 0" % drops_all)
EOF
sed -n 's/^line //p' "$LAB_TMP/figures"
while IFS='|' read -r what value unit target; do
	bench_figure postfix "$what" "$value" "$unit" "$target"
done < <(sed -n 's/^fig //p' "$LAB_TMP/figures")

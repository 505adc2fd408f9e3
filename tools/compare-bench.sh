#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make bench`, side-by-side part: one spoofed SYN flood (tools/synflood)
# on one veth pair, received through each filter an operator could use
# instead of mxguard, and through mxguard itself:
#
#   none       no filter (the kernel's SYN cookies only)
#   raw        ip6tables raw PREROUTING drop of the flood's prefix
#   hashlimit  ip6tables INPUT hashlimit (srcip, /64) + connlimit, conntrack on
#   nft        nftables per-source meter (limit rate over) + ct count
#   xdp        mxguard, XDP (generic: see "Why generic XDP" below)
#   tc         mxguard, TC ingress
#   xdp-deny   mxguard, XDP, the flood's prefix in [deny]: what `raw` does
#
# every one at the same per-source limits (10/s, burst 20, 20 connections
# per /64); the mxguard cells also with smtp's shipped limit on new
# sources (new_sources = 200/s, new_sources_burst = 1000, divided among the
# possible CPUs: a flood steered to CPU 1 gets 1/ncpus of it), which the
# other filters have no equivalent of; at 1,000 and at 1,000,000 distinct sources (IPv6, one /64
# each: 198.18.0.0/15 holds only 131,072 IPv4 addresses). For each cell:
# the packets per second the receiving CPU processed, its softirq time per
# packet, and a legitimate client's connect latency and success during the
# flood, beside a baseline without flood. Written to docs/bench/compare.json
# and .md, plotted to compare.png (gnuplot); nothing is asserted.
#
# How the receive path is measured (../shared/LAB-NOTES.md): the sender
# namespace's processes run on CPU 0, the receiving veth steers its packets
# to CPU 1 with rps_cpus, so CPU 1 does all the receive work: its row of
# /proc/net/softnet_stat (processed, dropped) and its softirq ticks in
# /proc/stat, read before and after the legitimate client's window.
#
# Why generic XDP: with native XDP on a veth, the program runs in the veth's
# NAPI poll on the *sender's* CPU, before RPS, so CPU 1 would never see the
# dropped frames and the cell would compare nothing. Generic XDP runs on
# CPU 1 after the steering, where every other filter runs: the figure is
# the pessimistic one (an skb is already built; a real NIC runs native).
#
# Every cell, every filter alike, connects once from each of the
# legitimate client's sources before the flood begins: a mail host's
# legitimate senders are overwhelmingly repeat senders, already in the
# filter's tables when a flood starts. A brand-new legitimate source
# during a spoofed flood past mxguard's new-source limit waits for a token
# (its TCP retransmits the SYN); this bench does not measure that case.
#
# Every cell builds its namespaces afresh (no conntrack entry, hashlimit or
# LRU entry carried from one filter to the next) and removes them; every
# rule lives only inside them. Nothing has a route out of 2001:db8::/32.
#
# Usage: tools/compare-bench.sh BUILD    (root; tools/bench.sh calls it)
# Knobs: MXG_COMPARE_SECS (6: the measured window per cell),
#        MXG_COMPARE_SOURCES ("1000 1000000"), MXG_COMPARE_FILTERS (all),
#        MXG_COMPARE_PPS (400000: the flood's rate, 0 = as fast as it goes),
#        MXG_COMPARE_OUT (docs/bench).
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${MXG_COMPARE_SECS:-6}
counts=${MXG_COMPARE_SOURCES:-1000 1000000}
# The conntrack filters last in each series: tearing down a namespace with a
# million conntrack and meter entries goes on in kernel workers after the
# namespace is gone and after CPU 1 looked idle, and once took 30% of CPU 1
# in the cell after it (its backlog dropped the legitimate client's SYNs).
filters=${MXG_COMPARE_FILTERS:-none raw xdp tc xdp-deny hashlimit nft}
outdir=${MXG_COMPARE_OUT:-$repo/docs/bench}
# The same flood for every cell: uncapped, the generator's rate varied from
# 490 to 890 kpps between cells in trials (how much work CPU 0 gets back
# depends on the receiver), so the cells would not have seen one flood.
# 400 kpps is below its slowest cell and above what every filter but the
# cheapest can process on one CPU here. 0 = uncapped.
flood_pps=${MXG_COMPARE_PPS:-400000}
[[ $flood_pps =~ ^[0-9]+$ ]] || { echo "compare-bench: MXG_COMPARE_PPS '$flood_pps' is not a number" >&2; exit 1; }
rate_opt=()
((flood_pps == 0)) || rate_opt=(-r "$flood_pps")

# The lab's addresses. Flood sources: 2001:db8:8000::/33 (synflood's
# default base, one /64 per source); the legitimate client: eight /64s of
# its own, so that at 25 ms it opens 5 connections/s per source, half the
# per-source rate every filter allows.
RX_ADDR=2001:db8::1 TX_ADDR=2001:db8::2 FLOOD_NET=2001:db8:8000::/33
LEGIT_SRCS=(2001:db8:1:0::2 2001:db8:1:1::2 2001:db8:1:2::2 2001:db8:1:3::2
	2001:db8:1:4::2 2001:db8:1:5::2 2001:db8:1:6::2 2001:db8:1:7::2)
LEGIT_MS=25
# The same per-source limits for every filter.
RATE=10 BURST=20 CONNS=20 TABLE=1048576
# mxguard's limit on new sources: smtp's default (docs/configuration.md).
NEW_SOURCES=200 NEW_BURST=1000

for c in ip6tables nft gnuplot taskset chrt nsenter python3; do
	command -v "$c" >/dev/null || { echo "compare-bench: $c missing (tools/deps.sh)" >&2; exit 1; }
done
if (($(nproc) < 2)); then
	echo "compare-bench: needs 2 CPUs (sender on CPU 0, receiver on CPU 1)" >&2
	exit 1
fi

# The lab (tools/lab.sh) as two hosts on one veth pair, built afresh for
# every cell: the receiver is its server namespace (the listener and the
# filter), the sender client 1's (the flood, the legitimate client).
LAB_PREFIX=mxcmp
LAB_TOOLS_NEEDED="synflood legit"
. "$repo/tools/lab.sh"
. "$repo/tools/bench-lib.sh"
lab_init "$build" compare
ns_tx=$LAB_NS_C1 ns_rx=$LAB_NS_S
tmp=$LAB_TMP

# in_rx CMD: in the receiver's network namespace only (nsenter, not ip
# netns exec, which would hide the global bpffs from mxguardd).
in_rx() { in_server_net "$@"; }

# lab_up: the veth pair, the addresses, the sink and the CPU steering.
lab_up() {
	lab_pair_up mxtx mxrx
	ip -n "$ns_tx" addr add "$TX_ADDR/64" dev mxtx nodad
	local a
	for a in "${LEGIT_SRCS[@]}"; do
		ip -n "$ns_tx" addr add "$a/128" dev mxtx nodad
	done
	ip -n "$ns_rx" addr add "$RX_ADDR/64" dev mxrx nodad
	ip -n "$ns_tx" link set mxtx up
	ip -n "$ns_rx" link set mxrx up
	# Replies to the legitimate client go back over the veth. SYN-ACKs to
	# the spoofed sources leave through a sink, as a real host's leave
	# through its NIC: the receiver pays for building and sending them,
	# and none comes back to slow the generator on CPU 0 (in a trial it
	# lost half its rate to them, more with the filters that let more
	# through: the flood would have differed per filter). The sink is a
	# veth whose peer stays down: it drops in its transmit (the kernel
	# here has no dummy driver), after a static neighbour, so no ND.
	ip -n "$ns_rx" -6 route add 2001:db8::/32 via "$TX_ADDR"
	ip -n "$ns_rx" link add mxsink type veth peer name mxsinkp
	ip -n "$ns_rx" link set mxsink up
	ip -n "$ns_rx" neigh add fe80::1 lladdr 02:00:00:00:00:01 dev mxsink nud permanent
	ip -n "$ns_rx" -6 route add "$FLOOD_NET" via fe80::1 dev mxsink
	# Receive work of the receiver on CPU 1, of the sender on CPU 0.
	ip netns exec "$ns_rx" sh -c 'echo 2 > /sys/class/net/mxrx/queues/rx-0/rps_cpus'
	ip netns exec "$ns_tx" sh -c 'echo 1 > /sys/class/net/mxtx/queues/rx-0/rps_cpus'
	rx_up() { ip -n "$ns_rx" link show mxrx | grep -q 'state UP'; }
	wait_until 5 rx_up || { log "veth did not come up"; return 1; }
}

# filter_on NAME: the filter of a cell, in the receiver namespace.
filter_on() {
	case $1 in
	none) ;;
	raw)
		ip netns exec "$ns_rx" ip6tables -t raw -A PREROUTING -s "$FLOOD_NET" \
			-p tcp --dport 25 -j DROP
		;;
	hashlimit)
		# Sized for the same 1M sources as mxguard's max_sources: with
		# the defaults, a full table drops every new source, good or bad.
		ip netns exec "$ns_rx" ip6tables -A INPUT -p tcp --dport 25 --syn \
			-m connlimit --connlimit-above "$CONNS" --connlimit-mask 64 -j DROP
		ip netns exec "$ns_rx" ip6tables -A INPUT -p tcp --dport 25 --syn \
			-m hashlimit --hashlimit-mode srcip --hashlimit-srcmask 64 \
			--hashlimit-above "$RATE/sec" --hashlimit-burst "$BURST" \
			--hashlimit-name mxgcmp --hashlimit-htable-size 65536 \
			--hashlimit-htable-max "$TABLE" -j DROP
		;;
	nft)
		ip netns exec "$ns_rx" nft -f - <<EOF
table inet mxg_cmp {
	set conns6 { type ipv6_addr; size $TABLE; flags dynamic; }
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 25 tcp flags & (syn|ack) == syn ct state new add @conns6 { ip6 saddr & ffff:ffff:ffff:ffff:: ct count over $CONNS } drop
		tcp dport 25 tcp flags & (syn|ack) == syn ct state new meter rate6 size $TABLE { ip6 saddr & ffff:ffff:ffff:ffff:: limit rate over $RATE/second burst $BURST packets } drop
	}
}
EOF
		;;
	xdp | tc | xdp-deny)
		local mode=xdp-generic
		[[ $1 == tc ]] && mode=tc
		{
			printf '# compare-bench (pid %s), removed at exit\n[global]\n' "$$"
			printf 'interfaces = mxrx\nattach = %s\npin_dir = %s\n' "$mode" "$LAB_PIN"
			printf 'max_sources = %s\n' "$TABLE"
			printf '[class smtp]\nports = 25\nrate = %s/s\nburst = %s\n' "$RATE" "$BURST"
			printf 'source_conns = %s\n' "$CONNS"
			printf 'new_sources = %s/s\nnew_sources_burst = %s\n' "$NEW_SOURCES" "$NEW_BURST"
			[[ $1 == xdp-deny ]] && printf '[deny]\ncidr = %s\n' "$FLOOD_NET"
		} >"$tmp/mxguard.conf"
		mxgd_start "$tmp/mxguard.conf" "$tmp/mxguardd.log"
		;;
	*)
		log "unknown filter $1"
		return 1
		;;
	esac
}

# listener_start SECS: an accept loop on [RX]:25 on CPU 1 (the receiving
# host's CPU), closing each connection at once; exits after SECS.
listener_start() {
	ip netns exec "$ns_rx" taskset -c 1 python3 - "$RX_ADDR" "$1" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 25))
s.listen(4096)
s.settimeout(0.2)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        c, _ = s.accept()
        c.close()
    except socket.timeout:
        pass
EOF
	LAB_BG_PIDS+=($!)
	wait_until 5 listener_answers || { log "listener does not answer"; return 1; }
}
listener_answers() {
	ip netns exec "$ns_tx" "$build/tools/legit" -d "$RX_ADDR" -c 1 -t 1ms -T 500ms |
		grep -q '"ok":1,'
}

# snap: CPU 1's processed and dropped packets, its softirq and busy ticks,
# the time, the segments that reached the receiver's TCP, and the frames
# the sender's veth sent (the offered load within the window).
snap() {
	local row
	read -ra row < <(sed -n 2p /proc/net/softnet_stat)
	printf '%d %d ' "$((16#${row[0]}))" "$((16#${row[1]}))"
	awk '$1 == "cpu1" { printf "%d %d ", $8, $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
	printf '%s ' "${EPOCHREALTIME/[.,]/}"
	in_rx awk '$1 == "Tcp:" { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InSegs") c = i; h = 1 } else printf "%d ", $c }' /proc/net/snmp
	# /proc/net/dev: "mxtx: (8 rx fields) tx_bytes tx_packets tx_errs
	# tx_drop": frames delivered to the receiver's queue plus those its
	# full queue refused.
	tx_frames
}

# tx_frames: what the sender's veth sent, as snap counts it.
tx_frames() {
	nsenter --net="/run/netns/$ns_tx" awk -F'[: ]+' '/mxtx:/ { print $12 + $14 }' /proc/net/dev
}

# settle: wait (bounded) until both CPUs are idle again, for a whole
# second: a namespace's teardown runs in kernel workers and must not bill
# the next cell. After a cell with 1M sources, freeing conntrack entries
# and set elements comes in bursts on either CPU: one idle 0.2 s sample
# on CPU 1 was not enough (the cell after nft at 1M sources lost a third
# of CPU 1 to it, and legitimate SYNs to the backlog drops that caused).
settle() {
	local i quiet=0 a b
	for ((i = 0; i < 100; i++)); do
		read -ra a < <(awk '$1 == "cpu0" || $1 == "cpu1" { printf "%d %d ", $5, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 } END { print "" }' /proc/stat)
		sleep 0.2
		read -ra b < <(awk '$1 == "cpu0" || $1 == "cpu1" { printf "%d %d ", $5, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 } END { print "" }' /proc/stat)
		if (((b[0] - a[0]) * 10 >= (b[1] - a[1]) * 9 &&
			(b[2] - a[2]) * 10 >= (b[3] - a[3]) * 9)); then
			((++quiet >= 5)) && return 0
		else
			quiet=0
		fi
	done
	log "CPUs still busy after 20 s (something else runs?): figures may be noisy"
}

# run_cell SOURCES FILTER: one measurement; SOURCES 0 is the baseline
# without flood. Appends one JSON line to $tmp/cells.jsonl.
run_cell() {
	local n=$1 filter=$2 mac a b flood_pid=""
	lab_up
	filter_on "$filter"
	listener_start $((secs + 30))
	mac=$(ip netns exec "$ns_rx" cat /sys/class/net/mxrx/address)
	# The legitimate sources are known before the flood: one connect
	# each, in every cell, whatever the filter.
	ip netns exec "$ns_tx" taskset -c 0 "$build/tools/legit" -d "$RX_ADDR" \
		"${LEGIT_SRCS[@]/#/-b}" -i 1 -c "${#LEGIT_SRCS[@]}" -T 3s >"$tmp/warm.json"
	grep -q "\"ok\":${#LEGIT_SRCS[@]}," "$tmp/warm.json" ||
		log "warm-up: not every legitimate source connected: $(cat "$tmp/warm.json")"
	: >"$tmp/flood.json"
	if ((n > 0)); then
		# Bounded by its own clock too; stopped when the window ends.
		ip netns exec "$ns_tx" taskset -c 0 "$build/tools/synflood" -i mxtx \
			-d "$RX_ADDR" -m "$mac" -n "$n" -p 25 -t "$((secs + 10))s" \
			"${rate_opt[@]}" \
			>"$tmp/flood.json" 2>"$tmp/flood.err" &
		flood_pid=$!
		LAB_BG_PIDS+=("$flood_pid")
		# Past the ramp-up: the filter's tables filling is part of
		# the cell, the process start is not. The window opens once
		# the sender's veth has carried a second of the flood (at its
		# rate; 100,000 frames uncapped).
		local tx0 ramp=$((flood_pps > 0 ? flood_pps : 100000))
		tx0=$(tx_frames)
		flood_ramped() { (($(tx_frames) >= tx0 + ramp)); }
		wait_until 5 flood_ramped || log "synflood sent under $ramp frames in 5 s"
	fi
	a=$(snap)
	# SCHED_FIFO on CPU 0: the client must not wait behind the busy
	# generator for the CPU, or its latency would measure the scheduler.
	ip netns exec "$ns_tx" chrt -f 10 taskset -c 0 "$build/tools/legit" -d "$RX_ADDR" \
		"${LEGIT_SRCS[@]/#/-b}" -i "$LEGIT_MS" -t "${secs}s" -T 3s >"$tmp/legit.json"
	b=$(snap)
	if [[ -n $flood_pid ]]; then
		kill -TERM "$flood_pid" 2>/dev/null || true
		wait_pid_gone "$flood_pid" 5 || true
		wait "$flood_pid" 2>/dev/null || { log "synflood: $(cat "$tmp/flood.err")"; return 1; }
	fi
	: >"$tmp/stats.json"
	if [[ -d $LAB_PIN ]]; then
		ctl_json stats >"$tmp/stats.json" 2>/dev/null || true
	fi
	python3 - "$filter" "$n" "$a" "$b" "$tmp" >>"$tmp/cells.jsonl" <<'EOF'
import json, sys
filt, n, a, b, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
def load(name):
    try:
        with open(f"{tmp}/{name}") as f:
            return json.loads(f.read().strip() or "null")
    except (OSError, ValueError):
        return None
d = [int(y) - int(x) for x, y in zip(a, b)]
print(json.dumps({"filter": filt, "sources": n, "processed": d[0], "backlog_dropped": d[1],
                  "softirq_ticks": d[2], "busy_ticks": d[3], "seconds": d[4] / 1e6,
                  "tcp_in_segs": d[5], "tx_frames": d[6], "flood": load("flood.json"), "legit": load("legit.json"),
                  "mxguard_stats": load("stats.json")}))
EOF
	lab_netns_down
	settle
}

start=$SECONDS
log "baseline: no flood, no filter (${secs}s)"
run_cell 0 none
for n in $counts; do
	for f in $filters; do
		log "$n sources, $f (${secs}s)"
		run_cell "$n" "$f"
	done
done
log "measured in $((SECONDS - start))s"

mkdir -p "$outdir"
python3 "$repo/tools/compare-report.py" "$tmp/cells.jsonl" "$outdir" \
	"$(getconf CLK_TCK)" "$secs" "$LEGIT_MS" "$RATE" "$BURST" "$CONNS" "$flood_pps" \
	"$NEW_SOURCES" "$NEW_BURST" "${#LEGIT_SRCS[@]}"
gnuplot "$outdir/compare.gp" && rm -f "$outdir/compare.gp" "$outdir/compare.dat" ||
	log "gnuplot failed: compare.png not drawn"

# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# The netns lab, the one place the integration tests, the demo
# (tools/demo.sh, tools/incident.sh) and the benches build their servers
# and clients: private network namespaces (one server, two clients, an
# optional directory host, or a bare namespace of a bench's own), a
# private real Postfix and private real OpenLDAP slapd instances in the
# server namespace, mxguardd/mxguardctl wrappers, the load generators
# (the C tools of tools/, never a second implementation), bounded waits,
# and one cleanup path that removes everything the run created, also on
# failure and on Ctrl-C. What only a test needs (pass/skip/check) is in
# tests/integration/lib.sh, which sources this file.
#
# Source it, then call lab_init BUILD NAME. Everything this file creates is
# named after the caller's PID so that two runs never collide.
#
# Topology: the server namespace holds a bridge (198.18.0.1, 2001:db8::1)
# with one veth port per client; each client namespace holds the other end
# (client N: 198.18.0.1N, 2001:db8::1N). A bridge keeps one server address
# for Postfix while mxguardd attaches to the per-client ports, where each
# client's SYNs arrive. Nothing has a default route, so no packet can leave
# the lab even if a program misbehaves.

LAB_V4_PREFIX=198.18.0.0/24
LAB_V6_PREFIX=2001:db8::/64
LAB_SERVER4=198.18.0.1
LAB_SERVER6=2001:db8::1
LAB_CLIENT4=(198.18.0.11 198.18.0.12)
LAB_CLIENT6=(2001:db8::11 2001:db8::12)
# The directory: on the server by default; on a host of its own on the
# bridge after lab_directory_host_up (tools/incident.sh).
LAB_DIR4=$LAB_SERVER4
LAB_DIR6=$LAB_SERVER6
# Server-side ports of the bridge, one per client; only visible inside the
# server namespace, so they need no per-run suffix.
LAB_SPORTS=(mxs1 mxs2)
LAB_DIR_SPORT=mxs3	# the directory host's, after lab_directory_host_up
LAB_MX2_SPORT=mxs4	# the second mail host's, after lab_mx2_up
LAB_MX2_4=198.18.0.2
LAB_MX2_6=2001:db8::2
LAB_RCPT_DOMAIN=lab.example
LAB_RCPTS=(alice bob carol)

LAB_NS_S="" LAB_NS_C1="" LAB_NS_C2="" LAB_NS_D="" LAB_NS_DIR="" LAB_NS_M2=""
LAB_TMP="" LAB_PIN="" LAB_PF_DIR=""
# Every Postfix instance of the run (pf_start's and pf_mx2_start's), each
# stopped and taken out of alternate_config_directories at cleanup.
LAB_PF_DIRS=()
LAB_MXGD_PIDS=()
LAB_BG_PIDS=()
# Pin dirs of a second mxguardd (the directory host's, in the incident's
# tuner phase), unloaded and removed at cleanup as LAB_PIN is.
LAB_PINS_MORE=()
LAB_SLAPD_PID="" SLAPD_DIR="" SLAPD_LOG="" SLAPD_NUSERS=1
LAB_CGROUP_PROGS_BEFORE=""
PF_MAIN_CF=/etc/postfix/main.cf
PF_LOCK=/run/lock/mxguard-test-postfix.lock

log() { printf '%s: %s\n' "${LAB_NAME:-lab}" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
# lab_unavailable REASON: this machine cannot run the lab or a part of it
# (no root, no namespaces, a package missing): exit 77, which tests/run.sh
# counts as a skip and tools/bench.sh as a part not run.
lab_unavailable() { log "unavailable: $*"; exit 77; }

# lab_require_env: what the lab needs (root, iproute2, bpffs, network
# namespaces); lab_unavailable with the reason when something is missing.
lab_require_env() {
	((EUID == 0)) || lab_unavailable "needs root"
	command -v ip >/dev/null || lab_unavailable "needs iproute2 (ip)"
	ip netns list >/dev/null 2>&1 || lab_unavailable "ip netns unavailable"
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf 2>/dev/null || lab_unavailable "cannot mount bpffs on /sys/fs/bpf"
	fi
	local probe="mxgprobe-$$"
	ip netns add "$probe" 2>/dev/null || lab_unavailable "cannot create network namespaces"
	ip netns del "$probe"
}

# lab_init BUILD NAME: common start of every test. Sets BUILD, the names, the
# temp dir and the cleanup trap.
lab_init() {
	BUILD=$(cd "$1" 2>/dev/null && pwd) || die "build dir '$1' not found"
	LAB_NAME=$2
	lab_require_env
	MXGD="$BUILD/mxguardd"
	MXGCTL="$BUILD/mxguardctl"
	local b
	# The demo's unguarded phase and a lab check can run without them.
	if ((${LAB_NEED_MXG:-1})); then
		for b in "$MXGD" "$MXGCTL"; do
			[[ -x $b ]] || die "$b not built (run make)"
		done
	fi
	for b in $LAB_TOOLS_NEEDED; do
		[[ -x $BUILD/tools/$b ]] || die "$BUILD/tools/$b not built (make $BUILD/tools/$b)"
	done
	# LAB_PREFIX lets the demo use its own names (mxdemo...).
	local pfx=${LAB_PREFIX:-mxg}
	LAB_NS_S="${pfx}s-$$" LAB_NS_C1="${pfx}c1-$$" LAB_NS_C2="${pfx}c2-$$"
	LAB_NS_DIR=$LAB_NS_S	# where slapd runs; LAB_NS_D once created
	LAB_PIN="/sys/fs/bpf/${pfx}-test-$$"
	trap lab_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	LAB_TMP=$(mktemp -d "/tmp/mxg-$LAB_NAME-$$.XXXXXX")
	# The postfix user must reach the instance's queue below it.
	chmod 755 "$LAB_TMP"
	# Programs already on the cgroup root (another run's, maybe): cleanup
	# checks only for ours.
	LAB_CGROUP_PROGS_BEFORE=$(cgroup_prog_ids)
}

# Cleanup runs on every exit: each step on its own, errors ignored, so one
# failed step never leaves the rest behind.
lab_cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	local pid
	for pid in "${LAB_BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	# A slapd that slapd_slow paused when the run ended: resumed, or it
	# would not see the TERM below.
	for pid in "${SLAPD_PID_OF[@]}"; do
		kill -CONT "$pid" 2>/dev/null
	done
	for pid in "${LAB_MXGD_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	# slapd would also go with the namespace sweep below; stopping it by
	# its pid first lets it close its database cleanly.
	for pid in "${SLAPD_PID_OF[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${LAB_MXGD_PIDS[@]}"; do
		wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null
	done
	local pfd
	for pfd in "${LAB_PF_DIRS[@]}"; do
		timeout 20 postfix -c "$pfd" stop >/dev/null 2>&1
		pf_alt_dir_del "$pfd"
	done
	lab_netns_kill
	# Detach and unpin through the CLI first: a sock_ops program attached
	# to the cgroup root outlives the namespaces.
	local pin
	for pin in "$LAB_PIN" "${LAB_PINS_MORE[@]}"; do
		if [[ -n $pin && -d $pin && -x ${MXGCTL:-} ]]; then
			timeout 20 "$MXGCTL" --pin-dir "$pin" unload >/dev/null 2>&1
		fi
	done
	lab_netns_del
	for pin in "$LAB_PIN" "${LAB_PINS_MORE[@]}"; do
		[[ -n $pin && -e $pin ]] && rm -rf "$pin"
	done
	[[ -n $LAB_TMP && -d $LAB_TMP ]] && rm -rf "$LAB_TMP"
	exit "$rc"
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds; false
# after SECONDS. The only way tests wait for something to happen.
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# wait_within SECONDS CMD...: like wait_until, but against the wall clock
# (each CMD may take a while, e.g. an mxguardctl run), for a bound that
# is itself the assertion ("shows up within 2 s"). Sets WAITED to the
# seconds it took (3 decimals).
WAITED=""
wait_within() {
	local secs=$1 start now i
	shift
	start=${EPOCHREALTIME/[.,]/}
	# Also bounded by count: a clock that jumps cannot make it spin.
	for ((i = 0; i < secs * 100 + 10; i++)); do
		if "$@"; then
			now=${EPOCHREALTIME/[.,]/}
			WAITED=$(printf '%d.%03d' $(((now - start) / 1000000)) $(((now - start) / 1000 % 1000)))
			return 0
		fi
		now=${EPOCHREALTIME/[.,]/}
		((now - start < secs * 1000000)) || break
		sleep 0.05
	done
	WAITED=">$secs"
	return 1
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }
wait_pid_gone() { wait_until "$2" pid_gone "$1"; }

# ---------------------------------------------------------------- netns lab

# lab_netns_up: server namespace with a bridge, two clients on veth ports.
lab_netns_up() {
	local s=$LAB_NS_S i c
	ip netns add "$s"
	ip netns add "$LAB_NS_C1"
	ip netns add "$LAB_NS_C2"
	ip -n "$s" link set lo up
	ip -n "$s" link add br0 type bridge
	# Port state goes straight to forwarding; no STP waits.
	ip -n "$s" link set br0 type bridge stp_state 0 forward_delay 0
	ip -n "$s" addr add "$LAB_SERVER4/24" dev br0
	ip -n "$s" addr add "$LAB_SERVER6/64" dev br0 nodad
	ip -n "$s" link set br0 up
	for i in 0 1; do
		c=$LAB_NS_C1
		((i == 1)) && c=$LAB_NS_C2
		# Both ends are created inside the namespaces: the links never
		# exist in the root namespace, so names cannot collide there.
		ip -n "$s" link add "${LAB_SPORTS[i]}" type veth peer name eth0 netns "$c"
		ip -n "$s" link set "${LAB_SPORTS[i]}" master br0 up
		ip -n "$c" link set lo up
		ip -n "$c" addr add "${LAB_CLIENT4[i]}/24" dev eth0
		ip -n "$c" addr add "${LAB_CLIENT6[i]}/64" dev eth0 nodad
		ip -n "$c" link set eth0 up
	done
	wait_until 10 lab_reachable || die "lab network did not come up"
}

# lab_bridge_host_add NS PORT ADDR4 ADDR6: a host namespace NS on the
# server's bridge (bridge port PORT, its own interface eth0 with the two
# addresses). The caller records NS first, so cleanup finds it.
lab_bridge_host_add() {
	local s=$LAB_NS_S ns=$1
	ip netns add "$ns"
	ip -n "$s" link add "$2" type veth peer name eth0 netns "$ns"
	ip -n "$s" link set "$2" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$3/24" dev eth0
	ip -n "$ns" addr add "$4/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
}

# lab_directory_host_up: a third host on the bridge for the directory
# (198.18.0.3, 2001:db8::3): slapd_run starts slapd there from now on, and
# the mail host reaches it over the lab network, as in the 2013 setup.
lab_directory_host_up() {
	local d=${LAB_NS_S%s-*}d-$$
	LAB_NS_D=$d
	lab_bridge_host_add "$d" "$LAB_DIR_SPORT" 198.18.0.3 2001:db8::3
	LAB_NS_DIR=$d LAB_DIR4=198.18.0.3 LAB_DIR6=2001:db8::3
	wait_until 10 addr_reachable "$LAB_NS_S" "$LAB_DIR4" ||
		die "the directory host did not come up"
}

# lab_mx2_up: a second mail host on the bridge (198.18.0.2, 2001:db8::2,
# its interface eth0), for the fleet: a guard there (MXGD_NS=$LAB_NS_M2,
# interfaces = eth0) judges what reaches it. Client 2's traffic to it
# crosses only the bridge port mxs2, so a first guard attached to mxs1
# alone never judges it.
lab_mx2_up() {
	local m=${LAB_NS_S%s-*}m2-$$
	LAB_NS_M2=$m
	lab_bridge_host_add "$m" "$LAB_MX2_SPORT" "$LAB_MX2_4" "$LAB_MX2_6"
	wait_until 10 addr_reachable "$LAB_NS_C2" "$LAB_MX2_4" ||
		die "the second mail host did not come up"
}

# lab_pair_up TX_IF RX_IF: the lab as two hosts on one veth pair, for a
# bench of the receive path: the receiver is the server namespace
# ($LAB_NS_S, RX_IF), the sender client 1's ($LAB_NS_C1, TX_IF). No
# bridge and no addresses (the bench gives its own); IPv6 DAD off, so
# addresses are usable at once.
lab_pair_up() {
	local ns
	ip netns add "$LAB_NS_S"
	ip netns add "$LAB_NS_C1"
	ip link add "$1" netns "$LAB_NS_C1" type veth peer name "$2" netns "$LAB_NS_S"
	for ns in "$LAB_NS_C1" "$LAB_NS_S"; do
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0
	done
}

# lab_loopback_up: the server namespace alone, loopback only: a bench
# whose client and server are one host (nothing else on the host is
# counted or disturbed).
lab_loopback_up() {
	ip netns add "$LAB_NS_S"
	ip -n "$LAB_NS_S" link set lo up
}

# lab_netns_kill: what still runs in the lab's namespaces is killed: the
# namespaces were created by this run, so whatever runs there is ours.
lab_netns_kill() {
	local ns pid
	for ns in "$LAB_NS_C1" "$LAB_NS_C2" "$LAB_NS_D" "$LAB_NS_M2" "$LAB_NS_S"; do
		[[ -n $ns ]] && ip netns list | grep -qw "^$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
}

# lab_netns_del: the lab's namespaces deleted (after lab_netns_kill).
lab_netns_del() {
	local ns
	for ns in "$LAB_NS_C1" "$LAB_NS_C2" "$LAB_NS_D" "$LAB_NS_M2" "$LAB_NS_S"; do
		[[ -n $ns ]] && ip netns del "$ns" 2>/dev/null || true
	done
	LAB_NS_D="" LAB_NS_M2=""
}

# lab_bg_stop: the background processes of LAB_BG_PIDS stopped (TERM,
# KILL after 5 s) and reaped.
lab_bg_stop() {
	local pid
	for pid in "${LAB_BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	LAB_BG_PIDS=()
}

# lab_netns_down: the namespaces' lab taken down, so that the next
# measurement builds it anew (compare-bench: one per cell): background
# processes, the guard and its pins, the namespaces. Postfix and slapd are
# for a lab that lives the whole run: stop them first.
lab_netns_down() {
	lab_bg_stop
	guard_down
	lab_netns_kill
	lab_netns_del
}

lab_reachable() {
	addr_reachable "$LAB_NS_C1" "$LAB_SERVER4" &&
		addr_reachable "$LAB_NS_C2" "$LAB_SERVER4" &&
		addr_reachable "$LAB_NS_C2" "$LAB_SERVER6"
}

# addr_reachable NS ADDR: a TCP connect to the closed port 9 on ADDR is
# refused, i.e. neighbour discovery worked and the server answered. (No
# ping on a minimal Debian; the refusal proves the same.)
addr_reachable() {
	ip netns exec "$1" python3 - "$2" <<'EOF' >/dev/null 2>&1
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9), timeout=1).close()
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    sys.exit(1)
EOF
}

# ------------------------------------------------------------------ Postfix

# The default main.cf must list an instance dir before `postfix -c` accepts
# it. Several runs may edit it at once: serialise with a lock and only add
# or remove our own entry.
pf_alt_dirs_get() { postconf -c /etc/postfix -h alternate_config_directories 2>/dev/null || true; }

pf_alt_dir_add() {
	local dir=$1
	(
		flock -w 30 9 || exit 1
		if [[ ! -e $PF_MAIN_CF ]]; then
			cp /etc/postfix/main.cf.proto "$PF_MAIN_CF"
		fi
		local cur
		cur=$(pf_alt_dirs_get)
		postconf -c /etc/postfix -e "alternate_config_directories = ${cur:+$cur, }$dir"
	) 9>"$PF_LOCK"
}

pf_alt_dir_del() {
	local dir=$1
	(
		flock -w 30 9 || exit 1
		local cur new="" d
		cur=$(pf_alt_dirs_get)
		for d in ${cur//,/ }; do
			[[ $d == "$dir" ]] && continue
			new+="${new:+, }$d"
		done
		postconf -c /etc/postfix -e "alternate_config_directories = $new"
	) 9>"$PF_LOCK"
}

# pf_start [EXTRA main.cf lines...]: a private Postfix in the server
# namespace that relays $LAB_RCPT_DOMAIN to discard: and knows the
# recipients in LAB_RCPTS. Its log is $PF_LOG.
pf_start() {
	LAB_PF_DIR=$LAB_TMP/postfix
	PF_LOG=$LAB_PF_DIR/log/maillog
	pf_instance_start "$LAB_PF_DIR" "$LAB_NS_S" "$LAB_SERVER4" "$LAB_SERVER6" mx "$@"
}

# pf_instance_start DIR NS ADDR4 ADDR6 HOST [EXTRA main.cf lines...]: a
# private Postfix instance in DIR (queue, data, log below it), running in
# namespace NS on ADDR4 and [ADDR6] port 25 as HOST.$LAB_RCPT_DOMAIN, as
# pf_start describes; EXTRA lines come last in main.cf, so they override
# the lab's defaults. Instances in several namespaces run side by side:
# each has its own queue directory (master.pid, private sockets) and its
# own entry in alternate_config_directories.
pf_instance_start() {
	local d=$1 ns=$2 a4=$3 a6=$4 host=$5 r
	shift 5
	mkdir -p "$d/queue" "$d/data" "$d/log"
	chown postfix: "$d/data"
	for r in "${LAB_RCPTS[@]}"; do
		printf '%s@%s OK\n' "$r" "$LAB_RCPT_DOMAIN"
	done >"$d/recipients"
	cat >"$d/main.cf" <<EOF
# Private lab instance for $LAB_NAME (pid $$); removed at exit.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = mxg-postfix-$host-$$
maillog_file = $d/log/maillog
maillog_file_prefixes = /var, /dev/stdout, $d/log
myhostname = $host.$LAB_RCPT_DOMAIN
mydomain = $LAB_RCPT_DOMAIN
mydestination =
inet_protocols = all
inet_interfaces = $a4, [$a6]
mynetworks = 198.18.0.0/15, [2001:db8::]/32
relay_domains = $LAB_RCPT_DOMAIN
relay_recipient_maps = hash:$d/recipients
relay_transport = discard:
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
smtpd_client_connection_count_limit = 0
biff = no
EOF
	# An EXTRA line replaces the lab's line for its key (postconf would
	# take the last one too, with a warning per command).
	local line key
	for line in "$@"; do
		key=${line%%=*}
		key=${key//[[:space:]]/}
		[[ -z $key ]] || sed -i "/^$key[[:space:]]*=/d" "$d/main.cf"
		printf '%s\n' "$line" >>"$d/main.cf"
	done
	cp /etc/postfix/master.cf "$d/master.cf"
	# Debian chroots smtpd into the queue directory; the lab needs none.
	# Postfix commands check inet_interfaces against the local addresses:
	# run them where the server address exists.
	ip netns exec "$ns" postconf -c "$d" -F '*/*/chroot = n'
	ip netns exec "$ns" postmap -c "$d" "hash:$d/recipients" || die "postmap failed"
	pf_alt_dir_add "$d" || die "cannot add $d to alternate_config_directories"
	LAB_PF_DIRS+=("$d")
	ip netns exec "$ns" postfix -c "$d" check >"$d/check.log" 2>&1 || true
	ip netns exec "$ns" postfix -c "$d" start >"$d/start.log" 2>&1 ||
		die "postfix start ($host) failed: $(cat "$d/start.log" "$d/log/maillog" 2>/dev/null)"
	wait_until 30 smtp_banner_ok "$LAB_NS_C1" "$a4" ||
		die "postfix ($host) does not answer on $a4:25: $(tail -20 "$d/log/maillog" 2>/dev/null)"
}

# smtp_banner_ok NS ADDR: Postfix greets with 220 within 2 s.
smtp_banner_ok() {
	ip netns exec "$1" python3 - "$2" <<'EOF' >/dev/null 2>&1
import socket, sys
s = socket.create_connection((sys.argv[1], 25), timeout=2)
s.settimeout(2)
ok = s.recv(512).startswith(b"220 ")
s.sendall(b"QUIT\r\n")
s.close()
sys.exit(0 if ok else 1)
EOF
}

# send_mail NS SERVER RCPT [swaks args...]: deliver one mail with swaks;
# prints swaks' transcript; exit status is swaks'.
send_mail() {
	local ns=$1 server=$2 rcpt=$3
	shift 3
	ip netns exec "$ns" timeout 30 swaks --server "$server" --port 25 \
		--to "$rcpt" --from "sender@client.example" --helo "client.example" \
		--timeout 10 --hide-informational "$@" 2>&1
}

# rcpt_codes TO...: one swaks session from the lab's client 1 to its
# server (LAB_RCPT_SERVER, if set: another mail host) with these
# recipients and a null sender; prints the SMTP code
# each RCPT got, one per line. The transcript is kept in
# $LAB_TMP/swaks.last and appended to $LAB_TMP/swaks.all.
rcpt_codes() {
	local to out
	to=$(IFS=,; echo "$*")
	out=$(send_mail "$LAB_NS_C1" "${LAB_RCPT_SERVER:-$LAB_SERVER4}" "$to" --from '<>') || true
	printf '%s\n' "$out" >"$LAB_TMP/swaks.last"
	printf '%s\n' "$out" >>"$LAB_TMP/swaks.all"
	awk '/-> RCPT TO:/ { want = 1; next }
	     want && /^ *<(-|\*\*) / { sub(/^ *<(-|\*\*) +/, ""); print substr($0, 1, 3); want = 0 }' <<<"$out"
}

# expect_codes WHAT PATTERN TO...: every RCPT's code matches the extended
# regex PATTERN, one per recipient. A test may define rcpt_diagnosis to
# add what its server logged to a failure.
expect_codes() {
	local what=$1 pat=$2 codes n=0 c diag=""
	shift 2
	codes=$(rcpt_codes "$@" | xargs)
	declare -F rcpt_diagnosis >/dev/null && diag="; $(rcpt_diagnosis)"
	for c in $codes; do
		[[ $c =~ ^($pat)$ ]] || die "$what: got SMTP $c (all: $codes), want $pat$diag"
		n=$((n + 1))
	done
	((n == $#)) || die "$what: $n answers for $# recipients: $codes$diag"
	pass "$what: $(tr ' ' '\n' <<<"$codes" | sort | uniq -c | xargs)"
}

# queue_id_of TRANSCRIPT: the "queued as" id from a swaks transcript.
queue_id_of() { sed -n 's/.*250 .*queued as \([0-9A-Za-z]*\).*/\1/p' <<<"$1" | tail -1; }

pf_log_has() { grep -qE "$1" "$PF_LOG" 2>/dev/null; }

# legit_mail NS SERVER COUNT INTERVAL_MS RCPT... : the demo's legitimate
# sender: COUNT mails from NS, one every INTERVAL_MS, to the RCPTs in turn,
# each SMTP transaction timed by $BUILD/tools/legit -s (connect to the 250
# after the dot) and bounded at 30 s. Prints legit's JSON line.
legit_mail() {
	local ns=$1 server=$2 n=$3 ms=$4 r rcpts=()
	shift 4
	for r in "$@"; do
		rcpts+=(-r "$r")
	done
	ip netns exec "$ns" timeout $((n * ms / 1000 + 45)) "$BUILD/tools/legit" -s -d "$server" \
		-i "$ms" -c "$n" -t "$((n * ms))ms" -T 30s "${rcpts[@]}"
}

# legit_figures JSON: "SENT ACCEPTED P50 P99 QUEUE_ID..." from legit's line
# (the latencies "-" when no mail was accepted).
legit_figures() {
	python3 -c '
import json, sys
s = json.loads(sys.argv[1] or "{}").get("smtp") or {}
ok = s.get("ok", 0)
lat = lambda k: "%.0f" % s[k] if ok else "-"
print(s.get("transactions", 0), ok, lat("p50_ms"), lat("p99_ms"), *s.get("queue_ids", []))' "$1"
}

# ---------------------------------------------------------------- mxguard

# conf_write FILE ON_EXIT [extra lines...]: a config for the lab: the two
# server-side ports, a per-run pin dir (LAB_CONF_IFACES and LAB_CONF_PIN,
# if set, name others: a guard on the second mail host).
conf_write() {
	local f=$1 on_exit=$2 line
	shift 2
	{
		printf '# mxguard lab config for %s (pid %s)\n' "$LAB_NAME" "$$"
		printf '[global]\n'
		printf 'interfaces = %s\n' "${LAB_CONF_IFACES:-${LAB_SPORTS[0]}, ${LAB_SPORTS[1]}}"
		printf 'attach = %s\n' "${LAB_ATTACH:-auto}"
		printf 'pin_dir = %s\n' "${LAB_CONF_PIN:-$LAB_PIN}"
		printf 'max_sources = 4096\n'
		printf 'on_exit = %s\n' "$on_exit"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$f"
}

# in_server_net CMD...: run CMD in the server's network namespace only.
# Not `ip netns exec`: that also unshares the mount namespace and remounts
# /sys, which hides the global bpffs at /sys/fs/bpf; mxguardd would then pin
# into a private bpffs that mxguardctl, bpftool and the next daemon never
# see. nsenter --net keeps the real /sys/fs/bpf.
in_server_net() { nsenter --net="/run/netns/$LAB_NS_S" "$@"; }

# mxgd_start CONF LOG: run mxguardd in the server namespace (it attaches to
# interfaces there; MXGD_NS names another, e.g. the directory host's) and
# wait for its ready line. Sets MXGD_PID. MXGD_WRAP, if set, is a command
# that execs its arguments (e.g. unshare -m and a mount, to hide a file
# from the daemon alone): $! must stay the daemon.
MXGD_WRAP=()
mxgd_start() {
	local conf=$1 logf=$2
	# nsenter itself, not in_server_net: a backgrounded function would be
	# a subshell and $! its pid, so signals would miss the daemon.
	nsenter --net="/run/netns/${MXGD_NS:-$LAB_NS_S}" "${MXGD_WRAP[@]}" "$MXGD" -c "$conf" -f 2>"$logf" &
	MXGD_PID=$!
	LAB_MXGD_PIDS+=("$MXGD_PID")
	if ! wait_until 30 mxgd_ready "$logf" "$MXGD_PID"; then
		die "mxguardd did not become ready: $(tail -20 "$logf")"
	fi
	kill -0 "$MXGD_PID" 2>/dev/null || die "mxguardd exited after ready: $(tail -20 "$logf")"
}

# A reaped pid may be reused: cleanup must not signal it any more.
mxgd_forget() {
	local p keep=()
	for p in "${LAB_MXGD_PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	LAB_MXGD_PIDS=("${keep[@]}")
}

mxgd_ready() {
	grep -q 'mxguardd: ready' "$1" 2>/dev/null && return 0
	# Dead before ready: stop polling now (the caller reports the log).
	kill -0 "$2" 2>/dev/null || return 2
	return 1
}

# mxgd_stop [SIGNAL]: signal the daemon and wait for it (bounded); returns
# its exit status.
mxgd_stop() {
	local sig=${1:-TERM} rc=0 gone=0
	# stderr muted from the signal to the reaping: bash prints a "Killed"
	# job notice after kill -9 that is expected here, not news.
	{
		kill "-$sig" "$MXGD_PID"
		if wait_pid_gone "$MXGD_PID" 20; then
			gone=1
			wait "$MXGD_PID" || rc=$?
		fi
	} 2>/dev/null
	((gone)) || die "mxguardd did not exit within 20 s of SIG$sig"
	mxgd_forget "$MXGD_PID"
	return "$rc"
}

# guard_down: the lab without a guard again: mxguardd stopped if it runs
# (SIGTERM, bounded), its programs detached and its pins removed.
guard_down() {
	if [[ -n ${MXGD_PID:-} && " ${LAB_MXGD_PIDS[*]} " == *" $MXGD_PID "* ]]; then
		mxgd_stop TERM || log "mxguardd exited with status $? on SIGTERM"
	fi
	if [[ -d $LAB_PIN ]]; then
		timeout 20 "$MXGCTL" --pin-dir "$LAB_PIN" unload >/dev/null 2>&1 ||
			log "mxguardctl unload failed"
		rm -rf "$LAB_PIN"
	fi
}

ctl() { "$MXGCTL" --pin-dir "$LAB_PIN" "$@"; }
ctl_json() { "$MXGCTL" -j --pin-dir "$LAB_PIN" "$@"; }

# json_get PATH: a value from the JSON on stdin; PATH is dot-separated
# (classes.smtp.dropped.rate). Missing keys are an error, not 0.
json_get() {
	python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
' "$1"
}

# mxg_stat CLASS FIELD: one counter from `mxguardctl -j stats`.
mxg_stat() {
	local out
	out=$(ctl_json stats) || die "mxguardctl -j stats failed: $out"
	json_get "classes.$1.$2" <<<"$out" || die "no classes.$1.$2 in stats: $out"
}

# xdp_attached IFACE: an XDP program (any mode) is on the server-side port.
xdp_attached() { ip -n "$LAB_NS_S" -d link show dev "$1" | grep -qE 'xdp|prog/xdp'; }
# tc_attached IFACE: a tc/bpf program is on the port's ingress.
tc_attached() {
	ip netns exec "$LAB_NS_S" bpftool net show dev "$1" 2>/dev/null |
		sed -n '/^tc:/,/^flow_dissector:/p' | grep -q "$1"
}
guard_attached() { xdp_attached "$1" || tc_attached "$1"; }

# cgroup_prog_ids: ids of the programs on the cgroup v2 root (sock_ops).
cgroup_prog_ids() {
	local root
	root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	[[ -n $root ]] || return 0
	bpftool -j cgroup show "$root" 2>/dev/null |
		python3 -c 'import json,sys
try: d = json.load(sys.stdin)
except Exception: d = []
print(" ".join(str(p["id"]) for p in d))' 2>/dev/null || true
}

# foreign_prog_ids: the programs other mxguard instances (another test, a
# bench, the host's own) hold on the cgroup root through a sock_ops link
# pinned outside this run's pin dir: the root is shared, and they may come
# and go while a test runs.
foreign_prog_ids() {
	local f
	for f in /sys/fs/bpf/*/"link_sockops"; do
		[[ -e $f && $f != "$LAB_PIN"/* ]] || continue
		bpftool -j link show pinned "$f" 2>/dev/null |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])' 2>/dev/null
	done
	return 0
}

# cgroup_progs_added: the programs on the cgroup root now that were not
# there at lab_init, less foreign ones; empty when none.
cgroup_progs_added() {
	local before=" $LAB_CGROUP_PROGS_BEFORE " others id
	others=" $(foreign_prog_ids | xargs) "
	for id in $(cgroup_prog_ids); do
		[[ $before == *" $id "* || $others == *" $id "* ]] || printf '%s ' "$id"
	done
}
no_cgroup_prog_added() { [[ -z $(cgroup_progs_added) ]]; }

# ---------------------------------------------------------------- clients
#
# Load comes from the C generators of tools/ (connflood, smtpflood,
# synflood, legit), built into $BUILD/tools: the lab has no second
# implementation of a flood. These wrappers keep the tests' and the
# demo's one-line results.

# LAB_TOOLS_NEEDED: the generators lab_init checks for (the Makefile's
# test, demo and bench targets build them).
LAB_TOOLS_NEEDED=${LAB_TOOLS_NEEDED-connflood}

# lab_ms SECONDS: a duration in seconds ("0.5", "6") as the generators'
# "500ms".
lab_ms() { awk -v s="$1" 'BEGIN { printf "%dms", s * 1000 + 0.5 }'; }

# connflood_fields JSON FIELD...: the fields of connflood's JSON line,
# space-separated ("- -" when the line is not there: the flood failed).
connflood_fields() {
	python3 -c '
import json, sys
try:
    d = json.loads(sys.argv[1])
    print(*(d[k] for k in sys.argv[2:]))
except (ValueError, KeyError):
    print(*("-" for _ in sys.argv[2:]))' "$@"
}

# tcp_burst NS ADDR PORT COUNT TIMEOUT [SRC]: COUNT sequential connects from
# NS (connflood -P 1), from SRC if given, each with TIMEOUT seconds; closes
# each at once. Prints "OK FAIL". With TIMEOUT below the kernel's 1 s
# initial SYN retransmission timeout, each attempt sends exactly one SYN,
# so a guard's counters can be matched exactly against these numbers.
tcp_burst() {
	local out src=()
	[[ -z ${6:-} ]] || src=(-b "$6")
	out=$(ip netns exec "$1" timeout $(($4 * 2 + 30)) "$BUILD/tools/connflood" -d "$2" -p "$3" \
		"${src[@]}" -P 1 -c "$4" -T "$(lab_ms "$5")" -t "$(($4 * 2 + 10))s") ||
		{ log "connflood failed: $out"; return 1; }
	connflood_fields "$out" established failed
}

# tcp_connects NS ADDR [TIMEOUT]: one connection attempt succeeds.
tcp_connects() {
	local r
	r=$(tcp_burst "$1" "$2" 25 1 "${3:-0.5}") || return 1
	[[ $r == "1 0" ]]
}

# tcp_hold NS ADDR PORT COUNT SECS TMO: a connection flooder (connflood -k)
# that tries to hold COUNT connections open at once for SECS seconds, like
# a client that piles up connections on a directory. At most 32 connects
# are pending at a time, each with a TMO-second connect timeout (below the
# kernel's 1 s SYN retransmission timeout: one SYN per attempt); failed
# attempts are retried until SECS are over, at most COUNT*20 attempts in
# all. Nothing is sent on the connections. Prints "attempts established
# max_held".
tcp_hold() {
	local out
	out=$(ip netns exec "$1" timeout $(($5 + 30)) "$BUILD/tools/connflood" -d "$2" -p "$3" \
		-P 32 -c $(($4 * 20)) -t "$5s" -T "$(lab_ms "$6")" -k -M "$4") || { log "connflood failed: $out"; return 1; }
	connflood_fields "$out" attempts established max_held
}

# ------------------------------------------------------------------ slapd

# Every slapd of a run is an instance with a NAME: its files live in
# $LAB_TMP/NAME (slapd.conf, db/, data.ldif, slapd.log) and its pid, port
# and log are kept by name, so a test can run a directory with the
# syncprov overlay beside one without, stop one and start it again on the
# same database. slapd_start is the one-instance shorthand (name "slapd",
# port 389) that test_admission, test_conns and the demo use.
SLAPD_SUFFIX="dc=lab,dc=example"
SLAPD_PEOPLE="ou=people,$SLAPD_SUFFIX"
SLAPD_ROOTDN="cn=admin,$SLAPD_SUFFIX"
# Lab-only secrets: the directory lives and dies with the run, inside a
# namespace nothing outside can reach.
SLAPD_ROOTPW="lab-root-$$"
# The dedicated read-only account docs/ldap.md recommends for mxguardd,
# with the size limit lifted (the syncrepl refresh is one search).
SLAPD_BIND_DN="cn=mxguard,ou=services,$SLAPD_SUFFIX"
SLAPD_BIND_PW="lab-mxguard-$$"
# The junk entry (slapd_junk_ldif) carries this many values that are not
# addresses.
SLAPD_JUNK_VALUES=4
declare -gA SLAPD_PID_OF=() SLAPD_PORT_OF=()
# What one instance adds to its slapd.conf, set before slapd_create:
# SLAPD_MODULES_OF[NAME] modules to load (e.g. "dds"), SLAPD_EXTRA_OF[NAME]
# lines after the database's suffix and indexes, before the lab's own ACLs
# (overlays, a syncrepl consumer stanza, ACLs: slapd takes the first ACL
# that matches).
declare -gA SLAPD_MODULES_OF=() SLAPD_EXTRA_OF=()
# mxguard's schema (the fleet's entries), included by every lab directory.
LAB_SCHEMA=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/docs/mxguard.schema
# What a bench changes for a directory of a million entries: the mdb map's
# size (sparse: not allocated up front), the attributes indexed for
# equality, and slapd's log level (256: one SRCH line per search, which the
# tests count; 0 for a bench that times searches).
SLAPD_MAXSIZE=${SLAPD_MAXSIZE:-268435456}
SLAPD_INDEX=${SLAPD_INDEX:-uid,mail}
SLAPD_LOGLEVEL=${SLAPD_LOGLEVEL:-256}

# slapd_conf_write NAME SYNCPROV: the instance's slapd.conf, an mdb
# database with the misc schema (mailLocalAddress); SYNCPROV=1 adds the
# syncprov overlay (RFC 4533) and the indexes it needs.
slapd_conf_write() {
	local name=$1 syncprov=$2 d=$LAB_TMP/$1
	{
		cat <<EOF
# Private lab directory "$name" for $LAB_NAME (pid $$); removed at exit.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/misc.schema
include $LAB_SCHEMA
pidfile $d/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
# slapadd indexes with as many threads as there are cores.
tool-threads 2
EOF
		((syncprov)) && echo "moduleload syncprov"
		local m
		for m in ${SLAPD_MODULES_OF[$name]:-}; do
			echo "moduleload $m"
		done
		cat <<EOF
database mdb
suffix "$SLAPD_SUFFIX"
rootdn "$SLAPD_ROOTDN"
rootpw $SLAPD_ROOTPW
directory $d/db
maxsize $SLAPD_MAXSIZE
index objectClass eq
index $SLAPD_INDEX eq
EOF
		[[ -z ${SLAPD_EXTRA_OF[$name]:-} ]] || printf '%s\n' "${SLAPD_EXTRA_OF[$name]}"
		cat <<EOF
# Passwords are for binding only; everything else is readable, as the
# tests' anonymous searches expect.
access to attrs=userPassword by self read by anonymous auth by * none
access to * by * read
limits dn.exact="$SLAPD_BIND_DN" size=unlimited time=unlimited
EOF
		if ((syncprov)); then
			echo "index entryCSN,entryUUID eq"
			echo "overlay syncprov"
		fi
	} >"$d/slapd.conf"
}

# slapd_base_ldif: the suffix, ou=people, and the bind account.
slapd_base_ldif() {
	printf 'dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: lab\ndc: lab\n\n' "$SLAPD_SUFFIX"
	printf 'dn: %s\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n\n' "$SLAPD_PEOPLE"
	printf 'dn: ou=services,%s\nobjectClass: top\nobjectClass: organizationalUnit\nou: services\n\n' "$SLAPD_SUFFIX"
	printf 'dn: %s\nobjectClass: top\nobjectClass: person\ncn: mxguard\nsn: mxguard\nuserPassword: %s\n\n' "$SLAPD_BIND_DN" "$SLAPD_BIND_PW"
}

# person_ldif UID MAIL [LOCAL-ADDRESS...]: one mail user under ou=people.
person_ldif() {
	local uid=$1 mail=$2 a
	shift 2
	printf 'dn: uid=%s,%s\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\nuid: %s\ncn: %s\nsn: %s\nmail: %s\n' \
		"$uid" "$SLAPD_PEOPLE" "$uid" "$uid" "$uid" "$mail"
	for a in "$@"; do
		printf 'mailLocalAddress: %s\n' "$a"
	done
	printf '\n'
}

# slapd_people_ldif NUSERS STYLE: uid user1..userN, mail userI@$LAB_RCPT_DOMAIN.
#   same   mailLocalAddress repeats the mail value (one address each)
#   alias  even users have a second address aliasI@; odd users repeat
#          their mail in upper case (still one address: the mirror must
#          fold case and count it once); user7 and user9 also share
#          team@ (two entries, one address). Distinct addresses:
#          NUSERS + NUSERS/2 + (1 if NUSERS >= 9).
slapd_people_ldif() {
	local n=$1 style=$2 i dom=$LAB_RCPT_DOMAIN
	for ((i = 1; i <= n; i++)); do
		if [[ $style == same ]]; then
			person_ldif "user$i" "user$i@$dom" "user$i@$dom"
		elif ((i % 2 == 0)); then
			person_ldif "user$i" "user$i@$dom" "alias$i@$dom"
		elif ((i == 7 || i == 9)); then
			person_ldif "user$i" "user$i@$dom" "USER$i@${dom^^}" "team@$dom"
		else
			person_ldif "user$i" "user$i@$dom" "USER$i@${dom^^}"
		fi
	done
}

# slapd_people_distinct NUSERS: the distinct addresses of the alias style.
slapd_people_distinct() { echo $(($1 + $1 / 2 + ($1 >= 9 ? 1 : 0))); }

# slapd_junk_ldif: one entry whose SLAPD_JUNK_VALUES address values are
# none: no '@', 300 bytes, a control byte, Latin-1 (not UTF-8). slapd's
# own syntax checks would refuse some of them; slapadd -q takes them as
# they are, which is what a directory fed by another tool can hold.
slapd_junk_ldif() {
	local long ctl latin1
	long=$(printf 'x%.0s' {1..300})
	ctl=$(printf 'ctl\001x@%s' "$LAB_RCPT_DOMAIN" | base64 -w0)
	latin1=$(printf 'caf\351@%s' "$LAB_RCPT_DOMAIN" | base64 -w0)
	printf 'dn: uid=junk,%s\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: inetOrgPerson\nobjectClass: inetLocalMailRecipient\nuid: junk\ncn: junk\nsn: junk\n' "$SLAPD_PEOPLE"
	printf 'mail: no-at-sign\nmail: %s@%s\nmail:: %s\nmailLocalAddress:: %s\n\n' "$long" "$LAB_RCPT_DOMAIN" "$ctl" "$latin1"
}

# slapd_create NAME SYNCPROV LDIF: a fresh instance loaded from the LDIF
# file with slapadd (fast: no server round trips for 10,000 entries).
slapd_create() {
	local name=$1 syncprov=$2 ldif=$3 d=$LAB_TMP/$1
	# A fresh database and log at every create: slapadd refuses entries
	# that exist, and log counts start from zero.
	rm -rf "$d"
	mkdir -p "$d/db"
	slapd_conf_write "$name" "$syncprov"
	slapadd -q -f "$d/slapd.conf" -l "$ldif" >"$d/slapadd.log" 2>&1 ||
		die "slapadd ($name) failed: $(tail -5 "$d/slapadd.log")"
}

# slapd_add_offline NAME LDIF: add entries to a stopped instance's
# database, as a change made while the directory is down.
slapd_add_offline() {
	local d=$LAB_TMP/$1
	[[ -z ${SLAPD_PID_OF[$1]:-} ]] || die "slapd_add_offline: $1 is running"
	slapadd -q -f "$d/slapd.conf" -l "$2" >>"$d/slapadd.log" 2>&1 ||
		die "slapadd ($1, offline) failed: $(tail -5 "$d/slapadd.log")"
}

# slapd_run NAME PORT FDLIMIT: run the instance's slapd on the directory's
# host (the server's namespace unless lab_directory_host_up made one) on
# $LAB_DIR4:PORT and [$LAB_DIR6]:PORT, its descriptors
# limited to FDLIMIT (ulimit -n), logging at -d $SLAPD_LOGLEVEL (256: one
# SRCH line per search; accept failures slapd logs at any level) to
# $LAB_TMP/NAME/slapd.log (appended: a restart keeps the earlier lines).
# Waits until its root DSE answers; cleanup stops it.
slapd_run() {
	local name=$1 port=$2 fdlimit=$3 d=$LAB_TMP/$1
	[[ -z ${SLAPD_PID_OF[$name]:-} ]] || die "slapd_run: $name already runs"
	# ip netns exec and bash both exec: $! is slapd's own pid. The fd
	# limit is set in that shell, so it applies to slapd only.
	ip netns exec "$LAB_NS_DIR" bash -c 'ulimit -n "$1" && exec slapd -f "$2" -h "$3" -d "$4"' \
		_ "$fdlimit" "$d/slapd.conf" "ldap://$LAB_DIR4:$port/ ldap://[$LAB_DIR6]:$port/" \
		"$SLAPD_LOGLEVEL" >>"$d/slapd.log" 2>&1 </dev/null &
	SLAPD_PID_OF[$name]=$!
	SLAPD_PORT_OF[$name]=$port
	wait_until 30 slapd_answers "$name" ||
		die "slapd $name does not answer on $LAB_DIR4:$port: $(tail -20 "$d/slapd.log")"
}

# slapd_uri NAME: where the instance listens.
slapd_uri() { echo "ldap://$LAB_DIR4:${SLAPD_PORT_OF[$1]}/"; }

# slapd_answers NAME: its root DSE can be read within 3 s.
slapd_answers() {
	in_server_net timeout 3 ldapsearch -x -LLL -H "$(slapd_uri "$1")" -o nettimeout=2 \
		-s base -b "" namingContexts >/dev/null 2>&1
}

# slapd_kill NAME: stop one instance (bounded) and reap it.
slapd_kill() {
	local pid=${SLAPD_PID_OF[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "SLAPD_PID_OF[$1]"
	[[ $1 != slapd ]] || LAB_SLAPD_PID=""
}

# slapd_log_count NAME PATTERN: lines of the instance's log matching the
# extended regex (e.g. BIND requests by a DN: retries a client made).
slapd_log_count() { grep -cE -- "$2" "$LAB_TMP/$1/slapd.log" 2>/dev/null || true; }

# ldap_write NAME LDAPMODIFY-ARGS...: ldapmodify as the rootdn against the
# instance, LDIF on stdin; quiet unless it fails.
ldap_write() {
	local name=$1 out
	shift
	out=$(in_server_net timeout 10 ldapmodify -x -H "$(slapd_uri "$name")" -o nettimeout=3 \
		-D "$SLAPD_ROOTDN" -w "$SLAPD_ROOTPW" "$@" 2>&1) || {
		log "ldapmodify ($name $*) failed: $out"
		return 1
	}
}
ldap_add() { ldap_write "$1" -a; }
ldap_modify() { ldap_write "$1"; }
# ldap_delete NAME DN
ldap_delete() {
	printf 'dn: %s\nchangetype: delete\n\n' "$2" | ldap_write "$1"
}

# slapd_start FDLIMIT NUSERS: the one-instance shorthand: a fresh "slapd"
# (no syncprov) with NUSERS people, uid user1..userN with mail
# user1@$LAB_RCPT_DOMAIN..., on port 389, fd limit FDLIMIT (so that a
# connection flood can exhaust it as in the 2013 cascade). Sets
# SLAPD_DIR, SLAPD_LOG and LAB_SLAPD_PID; cleanup stops it.
slapd_start() {
	local fdlimit=$1 nusers=$2 ldif=$LAB_TMP/slapd-data.ldif
	SLAPD_DIR=$LAB_TMP/slapd
	SLAPD_LOG=$SLAPD_DIR/slapd.log
	SLAPD_NUSERS=$nusers
	{
		slapd_base_ldif
		slapd_people_ldif "$nusers" same
	} >"$ldif"
	slapd_create slapd 0 "$ldif"
	slapd_run slapd 389 "$fdlimit"
	LAB_SLAPD_PID=${SLAPD_PID_OF[slapd]}
	# Through the lab network too, as the tests' clients search.
	wait_until 30 ldap_search_ok "$LAB_NS_C2" ||
		die "slapd does not answer on $LAB_DIR4:389 from a client: $(tail -20 "$SLAPD_LOG")"
	local lim
	lim=$(awk '/^Max open files/ { print $4 }' "/proc/$LAB_SLAPD_PID/limits" 2>/dev/null || true)
	[[ $lim == "$fdlimit" ]] || die "slapd's fd limit is '$lim', not $fdlimit"
}

# slapd_stop: stop the lab's slapd (bounded); cleanup does it too.
slapd_stop() { slapd_kill slapd; }

# ldap_search_ok NS [UID [SERVER]]: one anonymous search for uid=UID
# (default user1) from NS finds its entry within 3 s.
ldap_search_ok() {
	local ns=$1 uid=${2:-user1} server=${3:-$LAB_DIR4} out
	out=$(ip netns exec "$ns" timeout 3 ldapsearch -x -LLL -H "ldap://$server:389/" \
		-o nettimeout=2 -l 2 -b "ou=people,$SLAPD_SUFFIX" "(uid=$uid)" mail 2>&1) || return 1
	grep -q "^mail: $uid@$LAB_RCPT_DOMAIN\$" <<<"$out"
}

# ldap_search_loop NS COUNT INTERVAL [SECS]: COUNT searches from NS, one
# every INTERVAL seconds (each bounded at 3 s), ending early once SECS
# seconds have passed. Prints "ok failed".
ldap_search_loop() {
	local ns=$1 n=$2 interval=$3 end=$((SECONDS + ${4:-86400})) i ok=0 failed=0
	for ((i = 0; i < n && SECONDS < end; i++)); do
		if ldap_search_ok "$ns" "user$((i % ${SLAPD_NUSERS:-1} + 1))"; then
			ok=$((ok + 1))
		else
			failed=$((failed + 1))
		fi
		sleep "$interval"
	done
	echo "$ok $failed"
}

# slapd_searches [PATTERN]: SRCH lines in slapd's log (matching PATTERN).
slapd_searches() { grep 'SRCH base=' "$SLAPD_LOG" 2>/dev/null | grep -c -- "${1:-.}" || true; }

# slapd_fd_errors: lines where slapd ran out of descriptors (accept()
# failing with EMFILE/ENFILE, which also mutes its listener).
slapd_fd_errors() {
	grep -cE 'Too many open files|errno=2[34]\b|EMFILE|ENFILE' "$SLAPD_LOG" 2>/dev/null || true
}

# slapd_accepts ADDR: connections slapd accepted from ADDR.
slapd_accepts() { grep -c "ACCEPT from IP=$1:" "$SLAPD_LOG" 2>/dev/null || true; }

# ------------------------------------ a replicated directory: provider and consumer
#
# A provider (syncprov) and a consumer that replicates it with syncrepl
# refreshAndPersist and serves it again through its own syncprov overlay,
# so that a client that follows the directory (mxguardd's mirror, the
# fleet) can fail over to it. Both are ordinary named instances (slapd_run,
# slapd_kill, slapd_uri); run them on other ports of the same directory
# host. SLAPD_MODULES_OF / SLAPD_EXTRA_OF of either still apply (the
# consumer's stanza is added after its own lines).

# slapd_consumer_create NAME PROVIDER [BASE]: a fresh, empty instance
# NAME that replicates BASE (default the lab's suffix, all of it) from
# PROVIDER (an instance name whose port is set, by slapd_run or
# SLAPD_PORT_OF, or a URI), bound as the rootdn, retrying every second
# while the provider is away; with syncprov for its own clients. Start it
# with slapd_run; slapd_consumer_wait tells when it holds the provider's
# state.
slapd_consumer_create() {
	local name=$1 provider=$2 base=${3:-$SLAPD_SUFFIX} uri
	if [[ $provider == *://* ]]; then
		uri=$provider
	else
		[[ -n ${SLAPD_PORT_OF[$provider]:-} ]] ||
			die "slapd_consumer_create: no port for provider $provider (slapd_run it first or set SLAPD_PORT_OF)"
		uri=$(slapd_uri "$provider")
	fi
	local own=${SLAPD_EXTRA_OF[$name]:-}
	# rid: any number unique in this consumer. retry "1 +": every second,
	# forever (a provider that comes back is picked up at once).
	# Everything, operational attributes included, as a replica keeps it.
	SLAPD_EXTRA_OF[$name]="${own:+$own
}# One transaction per replicated entry: no fsync each (a lab directory;
# a killed slapd loses nothing, only a host crash would).
dbnosync
syncrepl rid=001
  provider=$uri
  type=refreshAndPersist
  retry=\"1 +\"
  searchbase=\"$base\"
  scope=sub
  attrs=\"*,+\"
  bindmethod=simple
  binddn=\"$SLAPD_ROOTDN\"
  credentials=$SLAPD_ROOTPW
  timeout=3
  network-timeout=3"
	# Empty: everything it holds comes from the provider (slapadd would
	# give the same entries other entryUUIDs and CSNs).
	: >"$LAB_TMP/$name.empty.ldif"
	slapd_create "$name" 1 "$LAB_TMP/$name.empty.ldif"
	SLAPD_EXTRA_OF[$name]=$own
}

# slapd_context_csn NAME [BASE]: the contextCSN values of BASE (default
# the suffix) on the running instance, sorted, one line; nothing when it
# has none (yet) or does not answer.
slapd_context_csn() {
	in_server_net timeout 3 ldapsearch -x -LLL -H "$(slapd_uri "$1")" -o nettimeout=2 \
		-D "$SLAPD_ROOTDN" -w "$SLAPD_ROOTPW" -s base -b "${2:-$SLAPD_SUFFIX}" contextCSN 2>/dev/null |
		sed -n 's/^contextCSN: //p' | sort | tr '\n' ' '
}

# slapd_consumer_synced CONSUMER PROVIDER [BASE]: the consumer holds the
# provider's state: the same contextCSN (every change replicated).
slapd_consumer_synced() {
	local c p
	p=$(slapd_context_csn "$2" "${3:-}") && [[ -n $p ]] || return 1
	c=$(slapd_context_csn "$1" "${3:-}") && [[ $c == "$p" ]]
}

# slapd_consumer_wait CONSUMER PROVIDER SECS [BASE]: wait (bounded) for
# slapd_consumer_synced; false with both CSNs logged after SECS.
slapd_consumer_wait() {
	wait_until "$3" slapd_consumer_synced "$1" "$2" "${4:-}" && return 0
	log "consumer $1 not in sync with $2 after $3 s: contextCSN '$(slapd_context_csn "$1" "${4:-}")' vs '$(slapd_context_csn "$2" "${4:-}")'"
	return 1
}

# slapd_crash NAME: the instance killed with SIGKILL (no goodbye to its
# clients, as a host that dies), reaped. slapd_run starts it again on the
# same database (mdb survives a crash).
slapd_crash() {
	local pid=${SLAPD_PID_OF[$1]:-}
	[[ -n $pid ]] || return 0
	{
		kill -KILL "$pid"
		wait_pid_gone "$pid" 10
		wait "$pid"
	} 2>/dev/null || true
	unset "SLAPD_PID_OF[$1]"
	[[ $1 != slapd ]] || LAB_SLAPD_PID=""
}

# slapd_pair_up PROVIDER PPORT CONSUMER CPORT LDIF: the pair at once: the
# provider (syncprov) loaded from LDIF on PPORT, the consumer on CPORT,
# and a wait (60 s) until the consumer holds all of it.
slapd_pair_up() {
	local prov=$1 pport=$2 cons=$3 cport=$4 ldif=$5
	slapd_create "$prov" 1 "$ldif"
	slapd_run "$prov" "$pport" 1024
	slapd_consumer_create "$cons" "$prov"
	slapd_run "$cons" "$cport" 1024
	slapd_consumer_wait "$cons" "$prov" 60 ||
		die "consumer $cons did not replicate $prov: $(tail -20 "$LAB_TMP/$cons/slapd.log")"
}

# ------------------------------------------ a directory in trouble, on purpose
#
# The tuner's tests, the demo and the bench make slapd slow and fast
# again, and pile connections on it from several sources. This kernel has
# no sch_netem; of what is left, pausing slapd in a duty cycle is the one
# that gives a steady latency: stopped 400 ms of every 500 ms, ldapsearch
# from a client took 373..417 ms (15 searches) here, where a cgroup v1 cpu
# quota of 1 ms per 100 ms gave anything from 42 to 281 ms (slapd spends
# well under a millisecond of CPU on a search, so a quota bites only now
# and then), and cgroup v2's cpu controller is not enabled on this hybrid
# layout. A pause slows every client alike: the tuner's probe, Postfix's
# lookups and the tests' searches.

LAB_SLOW_PID="" LAB_SLOW_OF=""
# At most this long in one slapd_slow: the loop ends by itself even if
# nobody calls slapd_fast.
LAB_SLOW_MAX_SECS=${LAB_SLOW_MAX_SECS:-300}

# lab_secs MS: milliseconds as sleep's seconds ("0.400").
lab_secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# slapd_slow STOP_MS PERIOD_MS [NAME]: pause the instance (default
# "slapd") for STOP_MS of every PERIOD_MS (SIGSTOP, SIGCONT) in a
# background loop, until slapd_fast, LAB_SLOW_MAX_SECS or the cleanup;
# whichever ends it leaves slapd running (SIGCONT).
slapd_slow() {
	local stop=$1 period=$2 name=${3:-slapd} pid cycles
	pid=${SLAPD_PID_OF[$name]:-}
	[[ -n $pid ]] || die "slapd_slow: $name does not run"
	[[ -z $LAB_SLOW_PID ]] || die "slapd_slow: $LAB_SLOW_OF is already slowed"
	((stop > 0 && stop < period && period <= 10000)) ||
		die "slapd_slow: $stop ms of every $period ms: want 0 < STOP < PERIOD <= 10000"
	cycles=$((LAB_SLOW_MAX_SECS * 1000 / period))
	(
		# TERM waits for the current sleep (at most STOP_MS), then
		# resumes slapd: it is never left stopped.
		trap 'kill -CONT "$pid" 2>/dev/null; exit 0' TERM INT
		for ((i = 0; i < cycles; i++)); do
			kill -STOP "$pid" 2>/dev/null || break
			sleep "$(lab_secs "$stop")"
			kill -CONT "$pid" 2>/dev/null || break
			sleep "$(lab_secs $((period - stop)))"
		done
		kill -CONT "$pid" 2>/dev/null
		exit 0
	) &
	LAB_SLOW_PID=$! LAB_SLOW_OF=$name
	LAB_BG_PIDS+=("$LAB_SLOW_PID")
}

# slapd_fast: end slapd_slow's loop (bounded) and make sure slapd runs.
slapd_fast() {
	[[ -n $LAB_SLOW_PID ]] || return 0
	local pid=$LAB_SLOW_PID p keep=()
	kill -TERM "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[[ -z ${SLAPD_PID_OF[$LAB_SLOW_OF]:-} ]] || kill -CONT "${SLAPD_PID_OF[$LAB_SLOW_OF]}" 2>/dev/null || true
	for p in "${LAB_BG_PIDS[@]}"; do
		[[ $p == "$pid" ]] || keep+=("$p")
	done
	LAB_BG_PIDS=("${keep[@]}")
	LAB_SLOW_PID="" LAB_SLOW_OF=""
}

# ldap_search_ms NS [UID]: one timed search (ldap_search_ok: ldapsearch,
# its process start included): prints the milliseconds, or "fail".
ldap_search_ms() {
	local t0 t1
	t0=${EPOCHREALTIME/[.,]/}
	if ldap_search_ok "$1" "${2:-user1}"; then
		t1=${EPOCHREALTIME/[.,]/}
		echo $(((t1 - t0) / 1000))
	else
		echo fail
	fi
}

# LAB_FLOOD4: the flood's sources, added to client 1 by lab_flood_sources.
LAB_FLOOD4=()
# lab_flood_sources N: N more IPv4 addresses on client 1 (198.18.0.21,
# .22, ...), each a source of its own to the guard (ipv4_prefix 32).
lab_flood_sources() {
	local i a
	((${#LAB_FLOOD4[@]} == 0 && $1 >= 1 && $1 <= 50)) || die "lab_flood_sources: once, 1..50 sources"
	for ((i = 1; i <= $1; i++)); do
		a=198.18.0.$((20 + i))
		ip -n "$LAB_NS_C1" addr add "$a/24" dev eth0
		LAB_FLOOD4+=("$a")
	done
}

# ldap_flood_start SECS PER_SOURCE [PORT]: a connection flood on the
# directory from every address of LAB_FLOOD4 at once, like the MTA's
# lookups piling up in 2013: one connflood -k per source, each trying to
# hold PER_SOURCE connections open for SECS seconds (8 connects pending at
# a time, 0.5 s connect timeout, failed ones retried, at most PER_SOURCE
# x 20 attempts). Nothing is sent on them. ldap_flood_wait reports.
LAB_FLOOD_PIDS=()
ldap_flood_start() {
	local secs=$1 per=$2 port=${3:-389} a i=0
	((${#LAB_FLOOD4[@]})) || die "ldap_flood_start: no sources (lab_flood_sources)"
	LAB_FLOOD_PIDS=()
	for a in "${LAB_FLOOD4[@]}"; do
		ip netns exec "$LAB_NS_C1" timeout $((secs + 30)) "$BUILD/tools/connflood" \
			-d "$LAB_DIR4" -p "$port" -b "$a" -P 8 -c $((per * 20)) -t "${secs}s" \
			-T 500ms -k -M "$per" >"$LAB_TMP/ldapflood.$i" 2>&1 &
		LAB_FLOOD_PIDS+=($!)
		LAB_BG_PIDS+=($!)
		i=$((i + 1))
	done
}

# ldap_flood_wait: wait for the flood to end (each connflood is bounded
# by its SECS) and set LAB_FLOOD_RESULT to its sums, "attempts
# established max_held", where max_held adds each source's most held at
# once. Not in $(...): a subshell cannot wait for this shell's children.
LAB_FLOOD_RESULT=""
ldap_flood_wait() {
	local pid i=0 sum="0 0 0" f
	for pid in "${LAB_FLOOD_PIDS[@]}"; do
		wait "$pid" || log "connflood (flood source $i) failed: $(cat "$LAB_TMP/ldapflood.$i")"
		f=$(connflood_fields "$(tail -1 "$LAB_TMP/ldapflood.$i")" attempts established max_held)
		if [[ $f != *-* ]]; then
			sum=$(awk -v a="$sum" -v b="$f" 'BEGIN {
				split(a, x); split(b, y); print x[1] + y[1], x[2] + y[2], x[3] + y[3] }')
		fi
		i=$((i + 1))
	done
	LAB_FLOOD_PIDS=()
	LAB_FLOOD_RESULT=$sum
}

# slapd_fds: the descriptors the lab's slapd holds now (/proc/PID/fd).
slapd_fds() { find "/proc/$LAB_SLAPD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# ldap_session_start NS SECS INTERVAL OUT: a directory client that keeps
# one connection open, as Postfix's ldap: tables and the mirror do, and
# searches over it (anonymous, uid=userN, mail) every INTERVAL seconds for
# SECS seconds, each bounded at 3 s; a broken connection is opened again
# (1 s connect timeout) at the next search. One line per search in OUT:
# "SECONDS_SINCE_START MS" or "SECONDS_SINCE_START fail", after a line
# "ready" once the first search succeeded (ldap_session_ready). A minimal
# LDAPv3 client (BER by hand): Debian has no python3 LDAP module by
# default, and ldapsearch opens a connection per run.
LAB_SESSION_PID=""
ldap_session_start() {
	local ns=$1 secs=$2 interval=$3 out=$4
	: >"$out"
	ip netns exec "$ns" timeout $((${secs%.*} + 10)) python3 -c '
import socket, sys, time

addr, port, base = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
secs, interval, nusers = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])

def tlv(tag, body):
    n = len(body)
    if n < 128:
        return bytes([tag, n]) + body
    return bytes([tag, 0x82, n >> 8, n & 255]) + body

def integer(tag, v):
    return tlv(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big"))

def request(msgid, uid):
    # SearchRequest: base, scope one, never deref, no size limit, 3 s
    # time limit, types only false, (uid=UID), attributes: mail.
    req = (tlv(4, base) + integer(10, 1) + integer(10, 0) + integer(2, 0) +
           integer(2, 3) + tlv(1, b"\0") +
           tlv(0xA3, tlv(4, b"uid") + tlv(4, uid.encode())) + tlv(0x30, tlv(4, b"mail")))
    return tlv(0x30, integer(2, msgid) + tlv(0x63, req))

def header(b):
    """(header length, content length) of the BER element at b, or None."""
    if len(b) < 2:
        return None
    n = b[1]
    if not n & 0x80:
        return 2, n
    k = n & 0x7F
    if len(b) < 2 + k:
        return None
    return 2 + k, int.from_bytes(b[2:2 + k], "big")

def search(s, msgid, uid):
    s.sendall(request(msgid, uid))
    buf, entries = b"", 0
    while True:
        h = header(buf)
        if h is None or len(buf) < h[0] + h[1]:
            c = s.recv(65536)
            if not c:
                raise EOFError
            buf += c
            continue
        msg, buf = buf[h[0]:h[0] + h[1]], buf[h[0] + h[1]:]
        ih = header(msg)                  # messageID
        op = msg[ih[0] + ih[1]:]
        if op[0] == 0x64:                 # SearchResultEntry
            entries += 1
        elif op[0] == 0x65:               # SearchResultDone
            rc = op[header(op)[0]:]       # resultCode, ENUMERATED
            return rc[2] == 0 and entries == 1

start, s, msgid, ready = time.monotonic(), None, 0, False
while time.monotonic() - start < secs:
    t0 = time.monotonic()
    msgid += 1
    ok = False
    try:
        if s is None:
            s = socket.create_connection((addr, port), timeout=1)
        s.settimeout(3)
        ok = search(s, msgid, "user%d" % (msgid % nusers + 1))
    except (OSError, EOFError, IndexError):
        pass
    if not ok and s is not None:
        s.close()
        s = None
    t1 = time.monotonic()
    if ok and not ready:
        print("ready", flush=True)
        ready = True
    print("%.3f %s" % (t1 - start, "%.1f" % ((t1 - t0) * 1000) if ok else "fail"), flush=True)
    time.sleep(max(0.0, interval - (t1 - t0)))
' "$LAB_DIR4" 389 "$SLAPD_PEOPLE" "$secs" "$interval" "${SLAPD_NUSERS:-1}" >"$out" 2>"$out.err" &
	LAB_SESSION_PID=$!
	LAB_BG_PIDS+=("$LAB_SESSION_PID")
}

# ldap_session_ready OUT: the session's first search succeeded.
ldap_session_ready() { grep -q '^ready$' "$1" 2>/dev/null; }

# ldap_session_result OUT [FROM_S [TO_S]]: "ok failed p50_ms p99_ms max_ms"
# of the session's searches that ended between FROM_S and TO_S seconds
# after it started (a failed one ranks above every success: "-").
ldap_session_result() {
	python3 - "$1" "${2:-0}" "${3:-1e9}" <<'EOF'
import sys
lo, hi = float(sys.argv[2]), float(sys.argv[3])
v = [l.split() for l in open(sys.argv[1]) if l.strip() and l.strip() != "ready"]
v = [x[1] for x in v if lo <= float(x[0]) <= hi]
f = v.count("fail")
t = sorted(float(x) for x in v if x != "fail") + [float("inf")] * f
if not t:
    print(0, 0, "-", "-", "-")
    sys.exit()
pct = lambda p: t[min(len(t) - 1, int(p * len(t)))]
fmt = lambda x: "-" if x == float("inf") else "%.0f" % x
print(len(t) - f, f, fmt(pct(0.5)), fmt(pct(0.99)), fmt(t[-1]))
EOF
}

# ---------------------------------------------------------------- the fleet
#
# The fleet's directory (docs/fleet.md): guards share the penalty box as
# entries below LAB_FLEET_BASE, one container cn=HOST per guard host,
# each written by that host's own bind account cn=HOST,ou=guards. A lab
# slapd for it has syncprov (the guards follow the subtree with
# syncrepl) and slapo-dds (RFC 2589: expiring bans are dynamic objects
# the directory deletes itself when their host stops refreshing them).

LAB_FLEET_BASE="ou=fleet,$SLAPD_SUFFIX"
# The guards' bind accounts (docs/fleet.md).
LAB_FLEET_GUARDS="ou=guards,$SLAPD_SUFFIX"
# slapo-dds's timer: how often it looks for expired entries (its default,
# an hour, would outlive every test). dds-max-ttl cannot go below a day;
# dds-min-ttl 1 s lets a ban of a few seconds keep its own TTL.
LAB_FLEET_DDS_INTERVAL=${LAB_FLEET_DDS_INTERVAL:-1}
# The refresh extended operation of RFC 2589. slapd 2.5's slapo-dds
# serves it but does not list it in the root DSE's supportedExtension;
# what it lists is dynamicSubtrees (RFC 2589 section 5), the naming
# contexts that hold dynamic objects.
LAB_DDS_REFRESH_OID=1.3.6.1.4.1.1466.101.119.1

# slapd_fleet_account_dn HOST, slapd_fleet_password HOST: a guard host's
# bind account under LAB_FLEET_GUARDS, as docs/fleet.md lays them out
# (lab-only passwords, one per host).
slapd_fleet_account_dn() { echo "cn=$1,$LAB_FLEET_GUARDS"; }
slapd_fleet_password() { echo "lab-fleet-$1-$$"; }
# slapd_fleet_secret HOST FILE: the account's password in FILE (0600), as
# bind_password_file reads it.
slapd_fleet_secret() {
	(umask 077 && slapd_fleet_password "$1" >"$2")
}

# slapd_fleet_acl: the ACL of docs/fleet.md ("The ACL: each guard writes
# its own container only"), taken from the page itself with the lab's
# suffix for dc=example,dc=org, so that the tests check what operators
# are told to load: a guard's account may add its container below the
# base and write below it, nothing of another host's but deleting a ban
# (the fleet-wide `ban del`); manage on its entries' entryTtl (slapo-dds's
# refresh); bound users read (the lab's read-only account too: it reads
# the fleet and writes nothing there). Then the size limit the page
# gives the guards. Placed before the lab's own ACLs (slapd takes the
# first that matches); they cover only the fleet's subtree, so the
# accounts still bind through the lab's "anonymous auth".
slapd_fleet_acl() {
	local page acl
	page=$(dirname "$LAB_SCHEMA")/fleet.md
	acl=$(awk '/^### The ACL/ { on = 1 } on && /^```text/ { inb = 1; next } inb && /^```/ { exit } inb' "$page")
	[[ $acl == *"access to"* ]] || die "no ACL found in $page (### The ACL ..., a text block)"
	printf '%s\n' "$acl" | sed "s/dc=example,dc=org/$SLAPD_SUFFIX/g"
	printf 'limits dn.regex="^cn=[^,]+,%s$" size=unlimited time=unlimited\n' "$LAB_FLEET_GUARDS"
}

# slapd_fleet_create NAME NUSERS HOST...: a fresh instance for the fleet
# (not started): syncprov, slapo-dds (small min TTL and timer, see
# above), the ACL of slapd_fleet_acl, the base entries of slapd_base_ldif
# (with the lab's read-only account, which may read the fleet but write
# nothing there), NUSERS people (user1.. as slapd_start's, for a guard's
# recipient mirror; 0 for none), the fleet's base and one bind account
# per HOST. The hosts' containers are not created: each guard creates its
# own.
slapd_fleet_create() {
	local name=$1 nusers=$2 ldif=$LAB_TMP/$1-data.ldif h
	shift 2
	SLAPD_MODULES_OF[$name]="dds"
	SLAPD_EXTRA_OF[$name]="$(slapd_fleet_acl)
overlay dds
dds-max-ttl 1d
dds-min-ttl 1s
dds-default-ttl 1h
dds-interval ${LAB_FLEET_DDS_INTERVAL}s
index entryExpireTimestamp eq"
	{
		slapd_base_ldif
		((nusers == 0)) || slapd_people_ldif "$nusers" same
		printf 'dn: %s\nobjectClass: top\nobjectClass: organizationalUnit\nou: fleet\n\n' "$LAB_FLEET_BASE"
		printf 'dn: %s\nobjectClass: top\nobjectClass: organizationalUnit\nou: guards\n\n' "$LAB_FLEET_GUARDS"
		for h in "$@"; do
			printf 'dn: %s\nobjectClass: top\nobjectClass: person\ncn: %s\nsn: %s\nuserPassword: %s\n\n' \
				"$(slapd_fleet_account_dn "$h")" "$h" "$h" "$(slapd_fleet_password "$h")"
		done
	} >"$ldif"
	slapd_create "$name" 1 "$ldif"
	slaptest -u -f "$LAB_TMP/$name/slapd.conf" >"$LAB_TMP/$name/slaptest.log" 2>&1 ||
		die "slaptest refuses the fleet's slapd.conf ($name): $(cat "$LAB_TMP/$name/slaptest.log")"
}

# slapd_fleet_start NAME PORT NUSERS HOST...: slapd_fleet_create, then run
# it (slapd_run, 1024 descriptors) and check that slapo-dds is live: the
# root DSE offers the refresh operation.
slapd_fleet_start() {
	local name=$1 port=$2
	shift 2
	slapd_fleet_create "$name" "$@"
	slapd_run "$name" "$port" 1024
	slapd_fleet_has_dds "$name" ||
		die "slapd $name has no dynamic subtree (slapo-dds): $(tail -5 "$LAB_TMP/$name/slapd.log")"
}

# slapd_fleet_has_dds NAME: the root DSE names the lab's suffix in
# dynamicSubtrees.
slapd_fleet_has_dds() {
	in_server_net timeout 5 ldapsearch -x -LLL -H "$(slapd_uri "$1")" -o nettimeout=3 \
		-s base -b "" dynamicSubtrees 2>/dev/null |
		grep -qix "dynamicSubtrees: $SLAPD_SUFFIX"
}

# slapd_fleet_offers_refresh NAME: the root DSE lists the refresh
# operation in supportedExtension (what RFC 2589 asks; not slapd 2.5).
slapd_fleet_offers_refresh() {
	in_server_net timeout 5 ldapsearch -x -LLL -H "$(slapd_uri "$1")" -o nettimeout=3 \
		-s base -b "" supportedExtension 2>/dev/null |
		grep -q "^supportedExtension: $LAB_DDS_REFRESH_OID\$"
}

# slapd_fleet_search NAME [BASE [FILTER [ATTR...]]]: a search of the
# fleet's subtree as the rootdn (the ACL lets only bound users read it;
# default: every ban, DNs only), LDIF unwrapped.
slapd_fleet_search() {
	local name=$1 base=${2:-$LAB_FLEET_BASE} filter=${3:-(objectClass=mxguardBan)}
	shift $(($# < 3 ? $# : 3))
	in_server_net timeout 10 ldapsearch -x -LLL -o ldif-wrap=no -H "$(slapd_uri "$name")" \
		-o nettimeout=3 -D "$SLAPD_ROOTDN" -w "$SLAPD_ROOTPW" -b "$base" "$filter" "${@:-1.1}"
}

# slapd_fleet_bans NAME [HOST]: the DNs of the bans in the directory (of
# HOST's container only, if given), one a line, lower-cased; nothing when
# there are none (a missing container included).
slapd_fleet_bans() {
	local base=$LAB_FLEET_BASE out rc=0
	[[ -z ${2:-} ]] || base="cn=$2,$LAB_FLEET_BASE"
	out=$(slapd_fleet_search "$1" "$base") || rc=$?
	# 32: noSuchObject, the host has no container (yet, or any more).
	((rc == 0 || rc == 32)) || { log "ldapsearch of $base failed (rc $rc)"; return 1; }
	sed -n 's/^dn: //p' <<<"$out" | tr 'A-Z' 'a-z'
}

# slapd_fleet_ban_dn HOST CIDR: the DN a guard writes for CIDR
# (user/fleet_entry.h), lower-cased as slapd_fleet_bans prints it.
slapd_fleet_ban_dn() { echo "cn=$2,cn=$1,$LAB_FLEET_BASE" | tr 'A-Z' 'a-z'; }

# slapd_fleet_has NAME HOST CIDR: HOST's entry for CIDR is in the directory.
slapd_fleet_has() {
	local dns
	dns=$(slapd_fleet_bans "$1" "$2") || return 1
	grep -qxF "$(slapd_fleet_ban_dn "$2" "$3")" <<<"$dns"
}

# fleet_conf FILE PIN IFACES [lines...]: a guard's config for the fleet's
# tests and bench: conf_write's [global] with its own pin dir and
# interfaces (two guards run at once), on_exit $LAB_ON_EXIT (default
# detach), and smtp without a rate limit, so that only bans drop its SYNs;
# then the lines given ([fleet] ...).
fleet_conf() {
	local f=$1 pin=$2 ifaces=$3 line
	shift 3
	{
		printf '# mxguard fleet config for %s (pid %s)\n' "$LAB_NAME" "$$"
		printf '[global]\ninterfaces = %s\nattach = %s\npin_dir = %s\n' \
			"$ifaces" "${LAB_ATTACH:-auto}" "$pin"
		printf 'max_sources = 4096\non_exit = %s\n[class smtp]\nrate = off\n' "${LAB_ON_EXIT:-detach}"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$f"
}

# fleet_section NAME HOST [key = value...]: the [fleet] lines of a guard
# HOST following the instance NAME, bound as HOST's account (its password
# file in $LAB_TMP), syncrepl; more keys after.
fleet_section() {
	local name=$1 host=$2 pw=$LAB_TMP/fleet-$2.secret
	shift 2
	[[ -e $pw ]] || slapd_fleet_secret "$host" "$pw"
	printf '%s\n' "[fleet]" "base = $LAB_FLEET_BASE" "host = $host" \
		"uri = $(slapd_uri "$name")" "bind_dn = $(slapd_fleet_account_dn "$host")" \
		"bind_password_file = $pw" "$@"
}

# lab_sink NS ADDR: a listener on ADDR:25 in NS that accepts and answers
# (Postfix's smtp-sink, bounded by the run), where a guard's drops are
# seen from a client as failed connects; waits until it accepts.
lab_sink() {
	ip netns exec "$1" timeout 3600 smtp-sink -u nobody "$2:25" 1024 \
		>"$LAB_TMP/smtp-sink-$2.log" 2>&1 &
	LAB_BG_PIDS+=($!)
	wait_until 10 smtp_banner_ok "$LAB_NS_C1" "$2" ||
		die "smtp-sink does not answer on $2:25: $(cat "$LAB_TMP/smtp-sink-$2.log")"
}

# ---------------------------------------------------------------- the tuner

# tuner_get PATH: a value of `mxguardctl -j tuner` (json_get's PATH:
# classes.ldap.scale, signals.latency.reading, ...).
tuner_get() {
	local out
	out=$(ctl_json tuner) || return 1
	json_get "$1" <<<"$out"
}

# tuner_scales: "smtp=1.0 ldap=0.5 ..." from `mxguardctl -j tuner`.
tuner_scales() {
	ctl_json tuner | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s=%s" % (c, v["scale"]) for c, v in sorted(d["classes"].items())))'
}

# ------------------------------------------------- recipient inspection

# mxg_rcpt FIELD: one counter of the "rcpt" object of `mxguardctl -j stats`
# (known, unknown, null_sender, not_judged, ...).
mxg_rcpt() {
	local out
	out=$(ctl_json stats) || die "mxguardctl -j stats failed: $out"
	json_get "rcpt.$1" <<<"$out" || die "no rcpt.$1 in stats: $out"
}

# mxg_mirror_ready: `rcpt check` says the mirror is ready.
mxg_mirror_ready() {
	local v
	v=$(ctl_json rcpt check "probe@$LAB_RCPT_DOMAIN" | json_get mirror_ready) || return 1
	[[ $v == True ]]
}

# inspect_ban_of ADDR: "REASON CLASSES EXPIRES_IN_S" of the ban on ADDR's
# host prefix (/32 or /128) in `mxguardctl -j ban list`; nothing if none.
inspect_ban_of() {
	local cidr=$1/32
	[[ $1 == *:* ]] && cidr=$1/128
	ctl_json ban list | python3 -c '
import json, sys
for b in json.load(sys.stdin)["bans"]:
    if b["cidr"] == sys.argv[1]:
        print(b["reason"], b["classes"], b.get("expires_in_s", ""))' "$cidr"
}

# banned_by_inspect ADDR: ADDR is in the penalty box, put there by the
# SMTP inspector (reason inspect, class smtp).
banned_by_inspect() {
	local b
	b=$(inspect_ban_of "$1") || return 1
	[[ $b == "inspect smtp "* ]]
}

# ldap_rcpt_table FILE: the ldap: table a Postfix site would write for
# relay_recipient_maps against the lab's slapd, one search per RCPT: the
# filter also tests mailLocalAddress, which slapd_conf_write does not
# index by default, as the 2013 directory missed its indexes; domain =
# keeps it from also searching for bare local parts.
LAB_LDAP_RCPT_FILTER='(|(mail=%s)(mailLocalAddress=%s))'
ldap_rcpt_table() {
	cat >"$1" <<EOF
server_host = ldap://$LAB_DIR4:389/
search_base = $SLAPD_PEOPLE
query_filter = $LAB_LDAP_RCPT_FILTER
result_attribute = mail
domain = $LAB_RCPT_DOMAIN
bind = no
version = 3
timeout = 10
EOF
}

# pf_use_ldap_table: the running lab Postfix validates recipients the 2013
# way from now on: through ldap_rcpt_table.
pf_use_ldap_table() {
	ldap_rcpt_table "$LAB_TMP/ldap-rcpt.cf"
	pf_set "relay_recipient_maps = ldap:$LAB_TMP/ldap-rcpt.cf"
}

# guard_backscatter_start CONF LOG THRESHOLD: mxguardd on the mail host
# as an operator would run it against backscatter: the recipient mirror
# of the lab's slapd (read-only bind account, polled), the lookup socket,
# the SMTP inspector putting a source in the penalty box past THRESHOLD
# unknown recipients, no rate limit (only the inspector acts). Waits for a
# ready mirror; then the lab Postfix validates recipients through the
# socket (LAB_LOOKUP_SOCK). The demo's backscatter scene and the incident
# replay both start the guard so.
LAB_LOOKUP_SOCK=""
guard_backscatter_start() {
	local conf=$1 logf=$2 threshold=$3 sockdir=$LAB_TMP/run
	LAB_LOOKUP_SOCK=$sockdir/lookup.sock
	mkdir -p "$sockdir"
	# Postfix's smtpd (user postfix) must reach the socket below it.
	chmod 755 "$sockdir"
	# The read-only bind account of slapd_base_ldif (a lab-only password).
	(umask 077 && printf '%s\n' "$SLAPD_BIND_PW" >"$LAB_TMP/ldap.secret")
	conf_write "$conf" detach "[class smtp]" "rate = off" \
		"[ldap]" "uri = ldap://$LAB_DIR4:389/" "base = $SLAPD_PEOPLE" \
		"bind_dn = $SLAPD_BIND_DN" "bind_password_file = $LAB_TMP/ldap.secret" \
		"attributes = mail, mailLocalAddress" "domains = $LAB_RCPT_DOMAIN" \
		"sync = poll" "poll_interval = 1h" "max_age = 2h" \
		"[lookup]" "socket = $LAB_LOOKUP_SOCK" \
		"[smtp_inspect]" "mode = penalize" "unknown_threshold = $threshold" \
		"window = 10m" "penalty = 10m"
	mxgd_start "$conf" "$logf"
	wait_until 30 mxg_mirror_ready || die "the mirror did not become ready: $(tail -5 "$logf")"
	pf_use_socketmap "$LAB_LOOKUP_SOCK"
}

# backscatter NS SECS PARALLEL MAX: a backscatter source (smtpflood):
# PARALLEL null-sender sessions at once, each to one random local part of
# $LAB_RCPT_DOMAIN, new ones for SECS seconds, at most MAX in all; a
# session not done within 10 s failed. Prints smtpflood's JSON line
# (nothing if smtpflood failed).
backscatter() {
	ip netns exec "$1" timeout $(($2 + 30)) "$BUILD/tools/smtpflood" -d "$LAB_SERVER4" \
		-D "$LAB_RCPT_DOMAIN" -P "$3" -c "$4" -t "$2s" -T 10s
}

# pf_use_socketmap SOCKET: the running lab Postfix validates recipients
# through mxguard's lookup socket from now on (postconf + reload, so that
# a test or the demo can switch tables without a new instance).
pf_use_socketmap() {
	pf_set "relay_recipient_maps = socketmap:unix:$1:rcpt"
}

# pf_set "KEY = VALUE"...: change the running lab Postfix's main.cf and
# reload it; the reload is done when a new smtpd answers.
pf_set() { pf_instance_set "$LAB_PF_DIR" "$LAB_NS_S" "$LAB_SERVER4" "$@"; }

# pf_instance_set DIR NS ADDR4 "KEY = VALUE"...: pf_set for the instance
# in DIR (pf_instance_start's arguments).
pf_instance_set() {
	local d=$1 ns=$2 a4=$3 kv
	shift 3
	for kv in "$@"; do
		ip netns exec "$ns" postconf -c "$d" -e "$kv" || die "postconf -e '$kv' failed"
	done
	ip netns exec "$ns" postfix -c "$d" reload >/dev/null 2>&1 ||
		die "postfix reload failed: $(tail -5 "$d/log/maillog")"
	wait_until 30 smtp_banner_ok "$LAB_NS_C2" "$a4" ||
		die "postfix does not answer after a reload: $(tail -20 "$d/log/maillog")"
}

# pf_mx2_start [EXTRA main.cf lines...]: a second Postfix, on the second
# mail host (after lab_mx2_up): namespace $LAB_NS_M2, $LAB_MX2_4 port 25,
# mx2.$LAB_RCPT_DOMAIN, instance dir $LAB_PF2_DIR, log $PF2_LOG; otherwise
# as pf_start, beside it. pf_mx2_set changes it as pf_set does the first.
LAB_PF2_DIR="" PF2_LOG=""
pf_mx2_start() {
	[[ -n $LAB_NS_M2 ]] || die "pf_mx2_start: no second mail host (call lab_mx2_up)"
	LAB_PF2_DIR=$LAB_TMP/postfix-mx2
	PF2_LOG=$LAB_PF2_DIR/log/maillog
	pf_instance_start "$LAB_PF2_DIR" "$LAB_NS_M2" "$LAB_MX2_4" "$LAB_MX2_6" mx2 "$@"
}
pf_mx2_set() { pf_instance_set "$LAB_PF2_DIR" "$LAB_NS_M2" "$LAB_MX2_4" "$@"; }

# pf_queue_files DIR: messages in the instance's queue (incoming, active,
# deferred, hold, maildrop): what it accepted and has not delivered yet.
pf_queue_files() {
	find "$1"/queue/{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | wc -l
}

# smtp_script NS ADDR PORT: a raw SMTP client (python3) for what swaks
# cannot do: several commands in one write (one TCP segment: TCP_NODELAY,
# a few hundred bytes), a body that looks like commands, STARTTLS and
# implicit TLS with python's own ssl (the server's real TLS; no
# certificate check, the lab's is self-signed). Reads its script on stdin,
# one step a line:
#   > EXPR     send the Python bytes expression EXPR in one write
#   < N        read N replies (multi-line ones whole)
#   tls        start TLS on the connection (after STARTTLS's 220, or at
#              once for port 465)
# Prints the code of every reply read, space-separated, on one line.
# Every read is bounded (5 s); a missing reply prints "timeout" (a closed
# connection "eof") and stops; a failed connect prints "noconnect".
smtp_script() {
	ip netns exec "$1" timeout 60 python3 -c '
import socket, ssl, sys
addr, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.create_connection((addr, port), timeout=5)
except OSError:
    print("noconnect")
    sys.exit(0)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf, codes = b"", []
def reply():
    global buf
    while True:
        while b"\n" not in buf:
            c = s.recv(4096)
            if not c:
                raise EOFError
            buf += c
        line, buf = buf.split(b"\n", 1)
        if len(line) < 4 or line[3:4] != b"-":
            return line[:3].decode("latin-1")
try:
    for step in sys.stdin:
        step = step.strip()
        if not step:
            continue
        if step.startswith(">"):
            s.sendall(eval(step[1:]))
        elif step.startswith("<"):
            for _ in range(int(step[1:])):
                codes.append(reply())
        elif step == "tls":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
            s.settimeout(5)
except (OSError, EOFError) as e:
    codes.append("timeout" if isinstance(e, socket.timeout) else "eof")
print(" ".join(codes))
s.close()
' "$2" "$3"
}

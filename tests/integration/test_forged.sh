#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Forged traffic must never turn the guard against the host (issue 11,
# items 1 and 4), with real packets crafted by scapy in a client
# namespace, in both attach modes (XDP and tc):
#   (a) a real client's recipients are counted (the control: the reader
#       runs, so the zeros below mean something);
#   (b) a forged SYN and a forged segment of six unknown recipients from a
#       spoofed source, a segment with no SYN at all, and the same from an
#       IPv4-mapped IPv6 source (::ffff:198.18.0.99) count for nothing and
#       ban nobody, and never ::/64; the IPv4-mapped frames are dropped as
#       bogus before the stack;
#   (c) a SYN the parser cannot fully see, from a denied source, never gets
#       through: a first IPv4 fragment of 8 bytes of TCP header, and an
#       IPv6 SYN behind nine extension headers, are counted dropped; a TCP
#       Fast Open SYN whose data the veth leaves in page fragments (client
#       2, denied) is judged, dropped, and never established.
# No Postfix or slapd is needed: a plain listener on port 25 stands in for
# the MTA (the mirror is not ready, so a real recipient counts as
# not_judged), and every "nothing counted" is followed by a real session
# whose count proves the forged frames before it were seen and skipped.
#
# Usage: tests/integration/test_forged.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" forged
PY=/usr/bin/python3
$PY -c 'import scapy.all' 2>/dev/null || skip "needs python3-scapy (Debian's, for /usr/bin/python3)"
lab_netns_up

S4=$LAB_SERVER4 S6=$LAB_SERVER6 C1=$LAB_NS_C1 C2=$LAB_NS_C2 A2=${LAB_CLIENT4[1]}
conf=$LAB_TMP/mxguard.conf
SPOOF4=198.18.0.99 DENY4=198.18.0.77 DENY6=2001:db8::77

# A listener for port 25 in the server namespace that reads and discards.
in_server_net $PY -c '
import socket, threading
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 25)); s.listen(64)
def drain(c):
    with c:
        while c.recv(65536):
            pass
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
' &
LAB_BG_PIDS+=("$!")
listening() { in_server_net ss -Hltn 'sport = :25' | grep -q .; }
wait_until 10 listening || die "the port 25 listener did not start"

# real_rcpts N TAG: one real session from client 1 with N recipients.
real_rcpts() {
	nsenter --net="/run/netns/$C1" $PY - "$S4" "$1" "$2" <<'EOF'
import socket, sys
dst, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = socket.create_connection((dst, 25), timeout=5)
c.sendall(b"EHLO real.example\r\nMAIL FROM:<a@real.example>\r\n" +
          b"".join(b"RCPT TO:<%s%d@lab.example>\r\n" % (tag.encode(), i) for i in range(n)))
c.close()
EOF
}

# forge WHAT...: crafted frames from client 1 (see the cases below).
forge() {
	nsenter --net="/run/netns/$C1" $PY - "$@" <<'EOF' >/dev/null
import logging, sys, warnings
warnings.filterwarnings("ignore")
# Neighbour discovery without a route is expected in the lab: quiet.
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import IP, IPv6, TCP, Raw, IPv6ExtHdrDestOpt, conf, send
conf.verb = 0
what, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
six = b"".join(b"RCPT TO:<forged%d@lab.example>\r\n" % i for i in range(6))
L3 = IPv6 if ":" in dst else IP
if what == "session":
    # A SYN, then the data its ISN says, then data on a 4-tuple that never
    # had a SYN: none of it completed a handshake with the host.
    send(L3(src=src, dst=dst) / TCP(sport=40001, dport=25, flags="S", seq=1000))
    send(L3(src=src, dst=dst) / TCP(sport=40001, dport=25, flags="PA", seq=1001, ack=1) / Raw(six))
    send(L3(src=src, dst=dst) / TCP(sport=40002, dport=25, flags="PA", seq=5000, ack=1) / Raw(six))
elif what == "tiny-fragment":
    # The first 8 bytes of a SYN's TCP header (ports, sequence) in a first
    # fragment; its flags would only come with the next one.
    tcp = bytes(TCP(sport=40003, dport=25, flags="S", seq=7))
    send(IP(src=src, dst=dst, proto=6, flags="MF", frag=0) / Raw(tcp[:8]))
elif what == "ext9":
    pkt = IPv6(src=src, dst=dst)
    for _ in range(9):
        pkt = pkt / IPv6ExtHdrDestOpt()
    send(pkt / TCP(sport=40004, dport=25, flags="S", seq=9))
EOF
}

# TCP Fast Open without cookies on both sides: the SYN carries the data.
in_server_net sysctl -qw net.ipv4.tcp_fastopen=0x203
nsenter --net="/run/netns/$C2" sysctl -qw net.ipv4.tcp_fastopen=0x5

# tfo_syn: client 2 sends a SYN with 1,440 bytes of data; prints
# "established" if the handshake completed within 2 s.
tfo_syn() {
	nsenter --net="/run/netns/$C2" $PY - "$S4" <<'EOF'
import socket, sys, time
c = socket.socket()
c.setblocking(False)
try:
    c.sendto(b"EHLO tfo.example\r\n" * 80, socket.MSG_FASTOPEN, (sys.argv[1], 25))
except (BlockingIOError, OSError):
    pass
deadline = time.time() + 2
while time.time() < deadline:
    try:
        c.getpeername()
        print("established")
        break
    except OSError:
        time.sleep(0.05)
EOF
}
class_field() { ctl_json stats | json_get "classes.smtp.$1"; }
established_from() { in_server_net ss -Htn state established "( sport = :25 and dst $1 )" | grep -q .; }

rcpt_field() { ctl_json stats | json_get "rcpt.$1"; }
global_field() { ctl_json stats | json_get "$1"; }
counter_reaches() { (($(rcpt_field "$1") >= $2)); }
global_reaches() { (($(global_field "$1") >= $2)); }
nobody_banned() { [[ -z $(ctl_json ban list | json_get bans | tr -d '[]') ]]; }

for mode in xdp tc; do
	LAB_ATTACH=$mode conf_write "$conf" detach \
		"[class smtp]" "rate = off" \
		"[deny]" "cidr = $DENY4, $DENY6, $A2" \
		"[smtp_inspect]" "mode = penalize" "unknown_threshold = 3"
	mxgd_start "$conf" "$LAB_TMP/mxguardd-$mode.log"

	# (a) the control.
	base=$(rcpt_field not_judged)
	real_rcpts 2 control
	wait_until 10 counter_reaches not_judged $((base + 2)) ||
		die "$mode: (a) a real session's 2 recipients were not counted"
	pass "$mode: (a) a real session's recipients are counted"

	# (b) forged sessions, IPv4 and IPv4-mapped IPv6.
	base=$(rcpt_field not_judged)
	bogus=$(global_field bogus_dropped)
	forge session "$SPOOF4" "$S4"
	forge session "::ffff:$SPOOF4" "$S6"
	real_rcpts 1 marker
	wait_until 10 counter_reaches not_judged $((base + 1)) ||
		die "$mode: (b) the marker session after the forged ones was not counted"
	check "$mode: (b) forged segments counted nothing (only the marker's 1)" \
		test "$(rcpt_field not_judged)" -eq $((base + 1))
	check "$mode: (b) nobody is banned, ::/64 least of all" nobody_banned
	check "$mode: (b) the IPv4-mapped IPv6 frames were dropped as bogus" \
		global_reaches bogus_dropped $((bogus + 3))

	# (c) SYNs the parser cannot fully see, from denied sources.
	bogus=$(global_field bogus_dropped)
	unseen=$(global_field unseen_dropped)
	forge tiny-fragment "$DENY4" "$S4"
	forge ext9 "$DENY6" "$S6"
	check "$mode: (c) the tiny first fragment was dropped" \
		wait_until 10 global_reaches bogus_dropped $((bogus + 1))
	check "$mode: (c) the SYN behind 9 extension headers was dropped" \
		wait_until 10 global_reaches unseen_dropped $((unseen + 1))
	deny=$(class_field dropped.deny)
	out=$(tfo_syn)
	check "$mode: (c) a Fast Open SYN with data from a denied source is not established ('$out')" \
		test -z "$out"
	check "$mode: (c) ... it was judged and dropped (deny)" \
		test "$(class_field dropped.deny)" -gt "$deny"
	check "$mode: (c) ... and the listener has no connection from it" \
		not established_from "$A2"

	mxgd_stop
done
log "all checks passed"

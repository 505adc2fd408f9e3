#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Acceptance test of the connection counter and the source_conns /
# total_conns caps (issue 3), with real TCP in the netns lab:
#   (a) connections from two clients are counted per class and per source
#       exactly, and uncounted exactly once whichever way they close:
#       client FIN, client RST, server close, a retransmission timeout,
#       the server process killed;
#   (b) 20,000 open/close cycles from both CPUs at once leave no drift;
#   (c) the connection over source_conns / total_conns is dropped at SYN,
#       and admitted again once one closes;
#   (d) the counts stay exact across a clean restart and a kill -9, with
#       connections opened and closed while no daemon runs;
#   (e) connections that exist before the first start are counted;
#   (f) a real slapd with a low fd limit keeps answering a legitimate
#       client through a connection flood once [class ldap] is capped
#       below that limit (and, for contrast, runs out of fds without).
# The test listener is a small Python program holding the server side of
# every connection, so the test decides when and how each one closes.
#
# Usage: tests/integration/test_conns.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" conns
lab_netns_up

C1=$LAB_NS_C1 C2=$LAB_NS_C2 S4=$LAB_SERVER4
A1=${LAB_CLIENT4[0]} A2=${LAB_CLIENT4[1]}
SRC1=$A1/32 SRC2=$A2/32
# A class of our own: Postfix is not needed, and no other traffic of the
# lab lands on it. New classes have no rate limit, so only the caps act.
PORT=2525
TEST_CLASS=("[class test]" "ports = $PORT")
# Connect timeout below the kernel's 1 s initial SYN RTO: one SYN per
# attempt, so a dropped SYN is a failed connect and counted drops match.
TMO=0.5
conf=$LAB_TMP/mxguard.conf

# ---------------------------------------------------------------- agents

# One Python program plays every role, controlled over a unix socket (a
# filesystem socket reaches across network namespaces):
#   server CTL ADDR PORT  listen; hold each accepted connection; close it
#                         when the client closes (as a real server does)
#   client CTL            open and hold connections, close them on command
#   cycle ADDR PORT N     N connect + close cycles, each closed by both sides
#   ctl CTL COMMAND...    send one command, print the one-line answer
AGENT=$LAB_TMP/connagent.py
cat >"$AGENT" <<'EOF'
import os, selectors, socket, struct, sys, time

def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

def wait_eof(s, secs):
    """True when the peer's FIN (or RST) arrives within secs."""
    s.setblocking(True)
    s.settimeout(secs)
    end = time.monotonic() + secs
    try:
        while time.monotonic() < end:
            if not s.recv(4096):
                return True
    except ConnectionResetError:
        return True
    except OSError:
        return False
    return False

class Agent:
    def __init__(self, ctl):
        self.sel = selectors.DefaultSelector()
        self.conns = []          # [(sock, peer address)], oldest first
        self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctl.bind(ctl)
        self.ctl.listen(16)
        self.sel.register(self.ctl, selectors.EVENT_READ, "ctl")

    def hold(self, s, peer):
        s.setblocking(False)
        self.conns.append((s, peer))
        self.sel.register(s, selectors.EVENT_READ, "conn")

    def drop(self, s):
        self.sel.unregister(s)
        self.conns = [c for c in self.conns if c[0] is not s]

    def pick(self, peer, n):
        return [c[0] for c in self.conns if peer in ("*", c[1])][:n]

    def on_conn(self, s):
        # Data is discarded; EOF or an error means the peer closed (or the
        # kernel gave up): close our side too.
        try:
            if s.recv(65536):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.drop(s)
        s.close()

    def run(self):
        while True:
            for key, _ in self.sel.select(timeout=1):
                if key.data == "ctl":
                    c, _ = self.ctl.accept()
                    with c:
                        c.settimeout(30)
                        line = c.makefile().readline().split()
                        try:
                            reply = self.command(line)
                        except Exception as e:  # report, keep serving
                            reply = "error %s" % e
                        c.sendall((reply + "\n").encode())
                        if line and line[0] == "quit":
                            return
                elif key.data == "listen":
                    self.on_listen()
                else:
                    self.on_conn(key.fileobj)

    def command(self, w):
        if w[0] == "held":
            return str(len(self.pick(w[1] if len(w) > 1 else "*", 1 << 30)))
        if w[0] == "quit":
            return "ok"
        return self.verb(w)

class Server(Agent):
    def __init__(self, ctl, addr, port):
        super().__init__(ctl)
        self.ls = socket.socket(family(addr), socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((addr, port))
        self.ls.listen(4096)
        self.ls.setblocking(False)
        self.sel.register(self.ls, selectors.EVENT_READ, "listen")

    def on_listen(self):
        for _ in range(256):
            try:
                s, peer = self.ls.accept()
            except BlockingIOError:
                return
            self.hold(s, peer[0])

    def verb(self, w):
        peer, n = w[1], int(w[2])
        socks = self.pick(peer, n)
        if w[0] == "close":
            # The server closes first: FIN from our side.
            for s in socks:
                self.drop(s)
                s.close()
            return "ok %d" % len(socks)
        if w[0] == "timeout":
            # Unacknowledged data plus TCP_USER_TIMEOUT: once the peer is
            # unreachable the kernel gives up on the connection by itself.
            for s in socks:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(w[3]))
                s.send(b"x" * 1000)
            return "ok %d" % len(socks)
        raise ValueError("unknown command %s" % w[0])

class Client(Agent):
    def verb(self, w):
        if w[0] == "open":
            addr, port, n, tmo = w[1], int(w[2]), int(w[3]), float(w[4])
            ok = fail = 0
            for _ in range(n):
                s = socket.socket(family(addr), socket.SOCK_STREAM)
                s.settimeout(tmo)
                try:
                    s.connect((addr, port))
                except OSError:
                    s.close()
                    fail += 1
                    continue
                ok += 1
                self.hold(s, addr)
            return "%d %d" % (ok, fail)
        n = int(w[1])
        socks = self.pick("*", n)
        done = 0
        for s in socks:
            self.drop(s)
            if w[0] == "fin":
                # Our FIN, then wait for the server's: closed by both sides.
                s.shutdown(socket.SHUT_WR)
                done += wait_eof(s, 5)
            elif w[0] == "rst":
                # SO_LINGER 0: close() sends a RST instead of a FIN.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                done += 1
            else:
                raise ValueError("unknown command %s" % w[0])
            s.close()
        return "ok %d" % done

def cycle(addr, port, n):
    ok = fail = 0
    for _ in range(n):
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((addr, port))
            s.shutdown(socket.SHUT_WR)
            if wait_eof(s, 5):
                ok += 1
            else:
                fail += 1
        except OSError:
            fail += 1
        finally:
            s.close()
    print(ok, fail)

def ctl(path, words):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    s.sendall((" ".join(words) + "\n").encode())
    reply = s.makefile().readline().strip()
    print(reply)
    sys.exit(1 if reply.startswith("error") or not reply else 0)

role = sys.argv[1]
if role == "server":
    Server(sys.argv[2], sys.argv[3], int(sys.argv[4])).run()
elif role == "client":
    Client(sys.argv[2]).run()
elif role == "cycle":
    cycle(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif role == "ctl":
    ctl(sys.argv[2], sys.argv[3:])
EOF

SRV_CTL=$LAB_TMP/server.ctl CL1_CTL=$LAB_TMP/client1.ctl CL2_CTL=$LAB_TMP/client2.ctl
SRV_PID="" AGENT_PID=""

# agent CTL COMMAND...: one command to an agent (bounded); prints its reply.
agent() {
	local ctlsock=$1
	shift
	timeout 90 python3 "$AGENT" ctl "$ctlsock" "$@"
}

agent_up() { [[ $(agent "$1" held 2>/dev/null) =~ ^[0-9]+$ ]]; }

# agent_start NS CTL ROLE ARGS...: start an agent in NS, wait until it
# answers; sets AGENT_PID (cleanup kills it; so does the namespace sweep).
agent_start() {
	local ns=$1 ctlsock=$2 pid
	shift 2
	rm -f "$ctlsock"
	ip netns exec "$ns" python3 "$AGENT" "$@" >>"$LAB_TMP/agents.log" 2>&1 </dev/null &
	pid=$!
	LAB_BG_PIDS+=("$pid")
	wait_until 10 agent_up "$ctlsock" || die "agent $* did not start: $(tail -5 "$LAB_TMP/agents.log")"
	AGENT_PID=$pid
}

server_start() {
	agent_start "$LAB_NS_S" "$SRV_CTL" server "$SRV_CTL" "$S4" "$PORT"
	SRV_PID=$AGENT_PID
}

CL_PIDS=()
start_clients() {
	agent_start "$C1" "$CL1_CTL" client "$CL1_CTL"
	CL_PIDS=("$AGENT_PID")
	agent_start "$C2" "$CL2_CTL" client "$CL2_CTL"
	CL_PIDS+=("$AGENT_PID")
}

# open_conns CTL N: client opens N connections; all must succeed.
open_conns() {
	local r
	r=$(agent "$1" open "$S4" "$PORT" "$2" "$TMO") || die "open from $1 failed: $r"
	[[ $r == "$2 0" ]] || die "client $1: opened 'ok fail' = $r, expected $2 0"
}

# close_conns CTL fin|rst N: the client closes N connections that way;
# each must be closed (for fin: by both sides).
close_conns() {
	local r
	r=$(agent "$1" "$2" "$3") || die "$2 $3 on $1 failed: $r"
	[[ $r == "ok $3" ]] || die "client $1: $2 $3 answered '$r'"
}

# server_do N COMMAND ADDR N [ARG]: the server acts on N connections of
# ADDR; all N must be acted on.
server_do() {
	local want=$1 r
	shift
	r=$(agent "$SRV_CTL" "$@") || die "server $*: $r"
	[[ $r == "ok $want" ]] || die "server $*: answered '$r', expected 'ok $want'"
}

# ---------------------------------------------------------------- counts

# class_conns CLASS: stats' conns of a class.
class_conns() { mxg_stat "$1" conns; }

# src_conns SOURCE [CLASS]: conns of one source in `top --by conns`
# (0 when the source is not listed).
src_conns() {
	local out
	out=$(ctl_json top -n 1000 --by conns) || die "mxguardctl -j top --by conns failed: $out"
	python3 -c '
import json, sys
rows = json.loads(sys.argv[1])["sources"]
print(sum(r["conns"] for r in rows if r["source"] == sys.argv[2] and r["class"] == sys.argv[3]))
' "$out" "$1" "${2:-test}"
}

conns_are() { # TOTAL N1 N2
	[[ $(class_conns test) == "$1" && $(src_conns "$SRC1") == "$2" && $(src_conns "$SRC2") == "$3" ]]
}

conns_now() { echo "class $(class_conns test), $SRC1 $(src_conns "$SRC1"), $SRC2 $(src_conns "$SRC2")"; }

# server_states: the server side of the test port, "COUNT STATE..."
# (listener and TIME-WAIT left out: sock_ops never sees a TIME-WAIT
# minisock, so it has nothing more to count there).
server_states() {
	ip netns exec "$LAB_NS_S" ss -Htan "sport = :$PORT" |
		awk '$1 != "LISTEN" && $1 != "TIME-WAIT" { print $1 }' | sort | uniq -c | xargs
}

# server_settled TOTAL: the server holds exactly TOTAL connections on the
# test port, all established: every close under way has reached its end,
# so the counter has seen every state change it will see for them.
server_settled() {
	local st
	st=$(server_states)
	if (($1 == 0)); then [[ -z $st ]]; else [[ $st == "$1 ESTAB" ]]; fi
}

# expect_conns WHAT TOTAL N1 N2: once the server's side has settled
# (closes finish asynchronously: bounded wait), the class and both sources
# are at exactly these counts. Nothing is left to change them then, so a
# double decrement shows as a count below.
expect_conns() {
	local what=$1
	shift
	wait_until 15 server_settled "$1" ||
		die "$what: the server's side of port $PORT did not settle at $1 established: $(server_states)"
	if conns_are "$@"; then
		pass "$what: conns class $1, $SRC1 $2, $SRC2 $3"
	else
		die "$what: expected class $1, $SRC1 $2, $SRC2 $3; got $(conns_now)"
	fi
}

untracked() { ctl_json stats | json_get conns_untracked; }

# ======================================================= (e) pre-existing
# First, before any mxguardd ever ran with this pin dir: connections that
# already exist are counted by the start's iter/tcp pass.
server_start
start_clients
open_conns "$CL1_CTL" 4
open_conns "$CL2_CTL" 3
check "server holds the 7 connections" test "$(agent "$SRV_CTL" held)" -eq 7
check "no pin dir yet (fresh start)" test ! -e "$LAB_PIN"

conf_write "$conf" detach "${TEST_CLASS[@]}"
mxgd_start "$conf" "$LAB_TMP/mxguardd.1.log"
check "status: counter attached" test "$(ctl_json status | json_get counter.attached)" == True
expect_conns "pre-existing connections counted at first start" 7 4 3
# Both ends of each connection exist, but only the server's (passive, in
# mxguardd's namespace, on the guarded port) is counted.
close_conns "$CL1_CTL" fin 4
close_conns "$CL2_CTL" fin 3
expect_conns "pre-existing connections uncounted when closed" 0 0 0

# ======================================================= (a) every way to close
N=10
open_conns "$CL1_CTL" "$N"
open_conns "$CL2_CTL" "$N"
expect_conns "$N connections from each client" 20 10 10
top=$(ctl top --by conns 2>&1) || die "mxguardctl top --by conns failed: $top"
check "plain top --by conns lists $A1" grep -qF "$A1" <<<"$top"

close_conns "$CL1_CTL" fin 2
close_conns "$CL2_CTL" fin 2
expect_conns "2+2 closed by client FIN, server close" 16 8 8

close_conns "$CL1_CTL" rst 2
close_conns "$CL2_CTL" rst 2
expect_conns "2+2 reset by the clients (SO_LINGER 0)" 12 6 6

server_do 2 close "$A1" 2
server_do 2 close "$A2" 2
expect_conns "2+2 closed by the server first" 8 4 4

# Client 2's link goes away (its bridge port, so its addresses stay); the
# server sends on 2 of its connections with a 1.5 s TCP_USER_TIMEOUT, the
# kernel retransmits into the void and then gives up on them.
ip -n "$LAB_NS_S" link set "${LAB_SPORTS[1]}" down
server_do 2 timeout "$A2" 2 1500
expect_conns "2 of client 2's given up by the kernel (retransmission timeout)" 6 4 2
ip -n "$LAB_NS_S" link set "${LAB_SPORTS[1]}" up
wait_until 15 addr_reachable "$C2" "$S4" || die "client 2 unreachable after its link came back"
# The link down must not have cost the other two connections.
expect_conns "client 2's other connections survive the outage" 6 4 2

# The listener process is killed with its 6 connections: the kernel closes
# them all.
# Muted: bash reports the killed job, which is the point here, not news.
{
	kill -KILL "$SRV_PID"
	wait "$SRV_PID"
} 2>/dev/null || true
wait_pid_gone "$SRV_PID" 10 || die "server agent survived kill -9"
expect_conns "server process killed (kill -9) with 4+2 connections" 0 0 0
# Client 2 still holds the two connections the server gave up on: new
# client agents start from nothing (closing them costs nothing: the
# server's side is gone).
for pid in "${CL_PIDS[@]}"; do
	{
		kill -KILL "$pid"
		wait "$pid"
	} 2>/dev/null || true
done
server_start
start_clients
check "conns_untracked is 0 after (a)" test "$(untracked)" -eq 0

# ======================================================= (b) both CPUs at once
CYCLES=10000
cpu_b=1
(($(nproc) > 1)) || cpu_b=0
log "(b) $CYCLES open/close cycles from each client, pinned to CPU 0 and CPU $cpu_b"
ip netns exec "$C1" timeout 300 taskset -c 0 python3 "$AGENT" cycle "$S4" "$PORT" "$CYCLES" >"$LAB_TMP/cycle1" 2>&1 &
cyc1=$!
ip netns exec "$C2" timeout 300 taskset -c "$cpu_b" python3 "$AGENT" cycle "$S4" "$PORT" "$CYCLES" >"$LAB_TMP/cycle2" 2>&1 &
cyc2=$!
LAB_BG_PIDS+=("$cyc1" "$cyc2")
wait "$cyc1" || die "cycle client 1 failed or timed out: $(cat "$LAB_TMP/cycle1")"
wait "$cyc2" || die "cycle client 2 failed or timed out: $(cat "$LAB_TMP/cycle2")"
read -r ok1 f1 <"$LAB_TMP/cycle1"
read -r ok2 f2 <"$LAB_TMP/cycle2"
log "(b) client 1: $ok1 ok, $f1 failed; client 2: $ok2 ok, $f2 failed"
check "(b) all $((2 * CYCLES)) cycles completed and closed by both sides" \
	test "$((ok1 + ok2))" -eq "$((2 * CYCLES))"
expect_conns "(b) no drift after $((2 * CYCLES)) cycles" 0 0 0
check "(b) conns_untracked is 0" test "$(untracked)" -eq 0
check "(b) server holds nothing" test "$(agent "$SRV_CTL" held)" -eq 0

# ======================================================= (c) caps at SYN time
# source_conns = 3 through the config and a reload.
conf_write "$conf" detach "${TEST_CLASS[@]}" "source_conns = 3"
kill -HUP "$MXGD_PID"
limit_is() { ctl_json limit show test | grep -q "\"$1\": *$2\b"; }
check "(c) SIGHUP applied source_conns = 3" wait_until 10 limit_is source_conns 3

d0=$(mxg_stat test dropped.source_conns)
open_conns "$CL1_CTL" 3
r=$(agent "$CL1_CTL" open "$S4" "$PORT" 1 "$TMO")
check "(c) client 1's 4th concurrent connection fails ($r)" test "$r" == "0 1"
check "(c) dropped.source_conns +1" test "$(mxg_stat test dropped.source_conns)" -eq "$((d0 + 1))"
open_conns "$CL2_CTL" 3
pass "(c) client 2 still connects (3 of its own)"
expect_conns "(c) at the source caps" 6 3 3
close_conns "$CL1_CTL" fin 1
expect_conns "(c) one of client 1's closed" 5 2 3
open_conns "$CL1_CTL" 1
pass "(c) client 1's next connection is admitted after one closed"
check "(c) no further source_conns drop" test "$(mxg_stat test dropped.source_conns)" -eq "$((d0 + 1))"
close_conns "$CL1_CTL" fin 3
close_conns "$CL2_CTL" fin 3
expect_conns "(c) all closed" 0 0 0

# total_conns = 5, per source unlimited, set live with mxguardctl.
out=$(ctl limit set test source_conns=unlimited total_conns=5 2>&1) || die "limit set failed: $out"
t0=$(mxg_stat test dropped.total_conns)
open_conns "$CL1_CTL" 3
open_conns "$CL2_CTL" 2
r=$(agent "$CL2_CTL" open "$S4" "$PORT" 1 "$TMO")
check "(c) the 6th connection overall fails ($r)" test "$r" == "0 1"
r=$(agent "$CL1_CTL" open "$S4" "$PORT" 1 "$TMO")
check "(c) ... from either client ($r)" test "$r" == "0 1"
check "(c) dropped.total_conns +2" test "$(mxg_stat test dropped.total_conns)" -eq "$((t0 + 2))"
close_conns "$CL1_CTL" fin 1
expect_conns "(c) one closed under total_conns" 4 2 2
open_conns "$CL2_CTL" 1
pass "(c) the next connection is admitted after one closed"
expect_conns "(c) at total_conns again" 5 2 3
close_conns "$CL1_CTL" fin 2
close_conns "$CL2_CTL" fin 3
expect_conns "(c) all closed" 0 0 0
out=$(ctl limit set test total_conns=unlimited 2>&1) || die "limit set failed: $out"

# ======================================================= (d) restart, kill -9
# No caps from here: the restarts re-read the file.
conf_write "$conf" detach "${TEST_CLASS[@]}"
open_conns "$CL1_CTL" 5
open_conns "$CL2_CTL" 3
expect_conns "(d) before the restart" 8 5 3
rc=0
mxgd_stop TERM || rc=$?
check "(d) SIGTERM: mxguardd exits 0 (got $rc)" test "$rc" -eq 0
check "(d) the counter stays attached after a clean stop" \
	test "$(ctl_json status | json_get counter.attached)" == True
expect_conns "(d) no daemon: counts unchanged" 8 5 3
# Opened and closed while no daemon runs: the attached counter still sees
# them.
open_conns "$CL1_CTL" 2
close_conns "$CL2_CTL" fin 2
close_conns "$CL1_CTL" rst 1
expect_conns "(d) no daemon: +2 -2 -1" 7 6 1
mxgd_start "$conf" "$LAB_TMP/mxguardd.2.log"
expect_conns "(d) after restart" 7 6 1
close_conns "$CL1_CTL" fin 1
expect_conns "(d) a close after restart" 6 5 1

mxgd_stop KILL || true
open_conns "$CL2_CTL" 4
close_conns "$CL1_CTL" fin 3
server_do 1 close "$A2" 1
expect_conns "(d) after kill -9, no daemon: +4 -3 -1" 6 2 4
mxgd_start "$conf" "$LAB_TMP/mxguardd.3.log"
expect_conns "(d) after kill -9 and start" 6 2 4
close_conns "$CL1_CTL" fin 2
# Client 2 has 5 sockets now, one of them already closed by the server
# (the agent closed it on the server's FIN): fin the 4 live ones.
client2_holds() { test "$(agent "$CL2_CTL" held)" -eq "$1"; }
wait_until 10 client2_holds 4 || die "client 2 should hold 4, holds $(agent "$CL2_CTL" held)"
close_conns "$CL2_CTL" fin 4
expect_conns "(d) all closed after kill -9 and start" 0 0 0
check "(d) conns_untracked is 0" test "$(untracked)" -eq 0

# ======================================================= (f) slapd under a flood
# The fd limit of the directory, and the caps below it: slapd needs ~13
# descriptors of its own, so 40 connections fit; the flooder may hold 30,
# which leaves 10 for everyone else whatever the flooder does.
# The flood outlasts the searches with room to spare on a loaded machine
# (15 searches, each bounded at 3 s, take 3 s on an idle one).
FDLIMIT=64 LDAP_TOTAL=40 LDAP_SOURCE=30 FLOOD=200 FLOOD_SECS=30 SEARCHES=15
slapd_start "$FDLIMIT" 100
# Baseline without mxguard (unload removes every program and pin): the
# same flood must exhaust slapd's descriptors, or the guarded run would
# prove nothing.
mxgd_stop TERM || true
out=$(ctl unload 2>&1) || die "mxguardctl unload failed: $out"
rm -rf "$LAB_PIN"
tcp_hold "$C1" "$S4" 389 "$FLOOD" 6 "$TMO" >"$LAB_TMP/hold0" &
hold=$!
LAB_BG_PIDS+=("$hold")
slapd_exhausted() { (($(slapd_fd_errors) > 0)); }
wait_until 10 slapd_exhausted || true
fails0=$(ldap_search_loop "$C2" 2 0.1)
wait "$hold" || die "flooder failed"
log "(f) without the guard: flood 'attempts established max_held' = $(cat "$LAB_TMP/hold0"), searches 'ok failed' = $fails0, slapd fd errors $(slapd_fd_errors)"
check "(f) without the guard the flood exhausts slapd's descriptors" test "$(slapd_fd_errors)" -gt 0
slapd_stop
slapd_start "$FDLIMIT" 100

conf_write "$conf" detach "${TEST_CLASS[@]}" \
	"[class ldap]" "rate = off" "source_conns = $LDAP_SOURCE" "total_conns = $LDAP_TOTAL"
mxgd_start "$conf" "$LAB_TMP/mxguardd.4.log"
ds0=$(mxg_stat ldap dropped.source_conns)
srch0=$(slapd_searches "uid=user")
tcp_hold "$C1" "$S4" 389 "$FLOOD" "$FLOOD_SECS" "$TMO" >"$LAB_TMP/hold1" &
hold=$!
LAB_BG_PIDS+=("$hold")
flooder_at_cap() { test "$(src_conns "$SRC1" ldap)" -eq "$LDAP_SOURCE"; }
check "(f) the flooder reaches its cap of $LDAP_SOURCE connections" wait_until 10 flooder_at_cap
read -r sok sfail < <(ldap_search_loop "$C2" "$SEARCHES" 0.2)
ldap_now=$(class_conns ldap)
check "(f) the flood still held its $LDAP_SOURCE connections after the searches" flooder_at_cap
wait "$hold" || die "flooder failed"
read -r attempts established max_held <"$LAB_TMP/hold1"
log "(f) with the guard: flood $attempts attempts, $established established (max held $max_held); searches $sok ok, $sfail failed"
check "(f) every legitimate search succeeded during the flood ($sok/$SEARCHES)" test "$sok" -eq "$SEARCHES"
check "(f) slapd logged the legitimate searches" test "$(($(slapd_searches "uid=user") - srch0))" -ge "$SEARCHES"
check "(f) slapd never ran out of descriptors" test "$(slapd_fd_errors)" -eq 0
check "(f) the flooder never held more than source_conns ($max_held)" test "$max_held" -le "$LDAP_SOURCE"
check "(f) ldap conns within total_conns, the flooder's among them ($ldap_now)" \
	test "$ldap_now" -ge "$LDAP_SOURCE" -a "$ldap_now" -le "$LDAP_TOTAL"
check "(f) the flooder's extra SYNs were dropped (source_conns)" \
	test "$(mxg_stat ldap dropped.source_conns)" -gt "$ds0"
ldap_idle() { test "$(class_conns ldap)" -eq 0; }
wait_until 15 ldap_idle || true
check "(f) ldap conns back to 0 after the flood ($(class_conns ldap))" test "$(class_conns ldap)" -eq 0
check "(f) slapd still answers" ldap_search_ok "$C2"

mxgd_stop TERM || true
log "all checks passed"

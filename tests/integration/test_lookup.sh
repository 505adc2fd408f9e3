#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Acceptance test of the MTA lookup socket (issue 5, item 3) with a real
# Postfix that validates recipients through mxguard's socketmap, a real
# slapd, and real SMTP clients (swaks) in the netns lab:
#   (a) before the first sync (slapd not there yet) Postfix answers 4xx
#       for known and unknown recipients alike, never 550; a stale socket
#       file left behind is replaced at start, with the default mode 0660
#       and group postfix (through which Postfix validates from (b) on);
#   (b) once the mirror is ready, known recipients (also +detail and
#       upper case) get 250 and unknown ones 550 from Postfix, and slapd
#       sees not one search more for any of them;
#   (c) malformed socketmap requests (written raw with python3) get PERM
#       and the connection stays usable while the framing is intact;
#       broken framing closes that connection only; the metrics count
#       a known set of answers by result (mxguard_lookups_total); 200
#       clients at once are all answered; Postfix still works afterwards;
#   (c2) a local user (nobody, let into group postfix) opens 1,030 clients
#       that each send one length digit and trickle more: it holds at most
#       512, a fresh smtpd still gets its answers (250, not 451), each slow
#       client is cut within the 5 s deadline (and a sweep) with a PERM
#       reply, and one log line tells of the refusals;
#   (d) slapd stopped and max_age passed (via SIGHUP): 4xx again, never
#       550, and the socket answers TEMP;
#   (e) SIGHUP with a changed [lookup] moves the socket (the old file
#       goes, the new one has the new mode); one whose directory does not
#       exist is refused and the old socket keeps answering;
#   (f) a clean stop removes the socket file; a start with the socket in
#       a missing directory fails before anything is attached, naming it.
#
# Usage: tests/integration/test_lookup.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" lookup
command -v swaks >/dev/null || skip "needs swaks"
command -v postfix >/dev/null || skip "needs postfix"
command -v slapd >/dev/null || skip "needs slapd"
lab_netns_up

C1=$LAB_NS_C1 S4=$LAB_SERVER4 DOM=$LAB_RCPT_DOMAIN
RUN=$LAB_TMP/run
SOCK=$RUN/lookup.sock
SOCK2=$RUN/lookup2.sock
conf=$LAB_TMP/mxguard.conf
mkdir -p "$RUN"
chmod 755 "$RUN"

# lookup_conf FILE SOCKET MODE POLL_INTERVAL MAX_AGE: the lab config with
# [ldap] (poll: slapd here has no syncprov) and [lookup] (MODE "": the
# default mode and group). No rate limit on smtp: the test's own mails must
# never be the ones dropped.
lookup_conf() {
	conf_write "$1" detach \
		"[class smtp]" "rate = off" \
		"[ldap]" "uri = ldap://$S4:389/" "base = ou=people,$SLAPD_SUFFIX" \
		"attributes = mail, mailLocalAddress" "domains = $DOM" \
		"sync = poll" "poll_interval = $4" "max_age = $5" \
		"[lookup]" "socket = $2" ${3:+"mode = $3"}
}

# ---------------------------------------------------------------- helpers

mirror_ready_is() {
	local v
	v=$(ctl_json rcpt check "user1@$DOM" | json_get mirror_ready) || return 1
	[[ $v == "$1" ]]
}

# The socketmap client: requests from a script on stdin, one per line, each
# a Python expression (the test's own input):
#   b"..."                 sent as one netstring; prints the reply
#   ("raw", b"...")        sent as is; prints one reply (or EOF)
#   ("pipe", [b"..", ..])  netstrings in one write; prints the replies
#                          joined by " | "
#   ("split", b"...")      one netstring, a byte at a time
#   #new                   a new connection
#   #eof?                  prints EOF or OPEN for the current one
SMC=$LAB_TMP/smc.py
cat >"$SMC" <<'EOF'
import socket, sys, time

def ns(b):
    return str(len(b)).encode() + b":" + b + b","

def dial(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s

def reply(s):
    """One netstring reply, or 'EOF'."""
    n = b""
    while True:
        c = s.recv(1)
        if not c:
            return "EOF"
        if c == b":":
            break
        n += c
    want, buf = int(n) + 1, b""
    while len(buf) < want:
        c = s.recv(want - len(buf))
        if not c:
            return "EOF"
        buf += c
    assert buf[-1:] == b",", buf
    return buf[:-1].decode("latin-1")

path = sys.argv[1]
s = dial(path)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    if line == "#new":
        s.close()
        s = dial(path)
        continue
    if line == "#eof?":
        s.settimeout(3)
        try:
            print("EOF" if not s.recv(1) else "OPEN")
        except socket.timeout:
            print("OPEN")
        continue
    req = eval(line)
    if isinstance(req, bytes):
        s.sendall(ns(req))
        print(reply(s))
    elif req[0] == "raw":
        s.sendall(req[1])
        print(reply(s))
    elif req[0] == "pipe":
        s.sendall(b"".join(ns(r) for r in req[1]))
        print(" | ".join(reply(s) for _ in req[1]))
    elif req[0] == "split":
        for i in range(len(ns(req[1]))):
            s.sendall(ns(req[1])[i:i + 1])
            time.sleep(0.002)
        print(reply(s))
EOF

# smc SOCKET: run the client on the requests from stdin.
smc() { timeout 60 python3 "$SMC" "$1"; }

# expect_replies WHAT SOCKET EXPECTED <<requests: the replies, in order.
expect_replies() {
	local what=$1 sock=$2 want=$3 got
	got=$(smc "$sock") || die "$what: socketmap client failed: $got; mxguardd $(daemon_state)"
	[[ $got == "$want" ]] || die "$what: replies differ
--- got:
$got
--- want:
$want"
	pass "$what"
}

# many_clients SOCKET N: N connections open at once, each sends one
# request after all are connected; prints how many got the right answer.
many_clients() {
	timeout 60 python3 - "$1" "$2" "user1@$DOM" <<'EOF'
import socket, sys
path, n, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
req = b"rcpt " + addr
req = str(len(req)).encode() + b":" + req + b","
want = b"OK " + addr
want = str(len(want)).encode() + b":" + want + b","
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    socks.append(s)
for s in socks:
    s.sendall(req)
ok = 0
for s in socks:
    buf = b""
    while len(buf) < len(want):
        c = s.recv(len(want) - len(buf))
        if not c:
            break
        buf += c
    ok += buf == want
    s.close()
print(ok)
EOF
}

file_mode() { stat -c %a "$1"; }
file_group() { stat -c %G "$1"; }

# daemon_state: for failure messages: alive or not, and its last lines.
daemon_state() {
	if kill -0 "${MXGD_PID:-0}" 2>/dev/null; then echo -n "runs"; else echo -n "is gone"; fi
	echo "; its log ends: $(tail -8 "$LAB_TMP/mxguardd.log" 2>/dev/null)"
}

# --------------------------------------------- (a) before the first sync

# A socket left by a process that is gone: mxguardd replaces it.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
[[ -S $SOCK ]] || die "could not make a stale socket"

pf_start "relay_recipient_maps = socketmap:unix:$SOCK:rcpt"
pass "postfix runs with relay_recipient_maps = socketmap:unix:$SOCK:rcpt"

# Long poll interval: the initial sync is the only search mxguardd makes
# while (b) counts.
lookup_conf "$conf" "$SOCK" "" 1h 2h
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"
check "(a) the stale socket file was replaced" grep -q "replaced the stale socket $SOCK" "$LAB_TMP/mxguardd.log"
check "(a) the socket has the default mode 660" test "$(file_mode "$SOCK")" = 660
check "(a) the socket belongs to group postfix" test "$(file_group "$SOCK")" = postfix
check "(a) the daemon says so" grep -qF "serving recipient lookups on $SOCK (mode 0660, group postfix)" "$LAB_TMP/mxguardd.log"
check "(a) the mirror is not ready (no directory yet)" mirror_ready_is False
expect_replies "(a) the socket answers TEMP for a local address, NOTFOUND for a foreign one" "$SOCK" \
	"TEMP mirror not ready
NOTFOUND " <<EOF
b"rcpt user1@$DOM"
b"rcpt someone@elsewhere.example"
EOF
expect_codes "(a) not ready: 4xx for known and unknown recipients, never 550" '4[0-9][0-9]' \
	"user1@$DOM" "nobody@$DOM" "user2@$DOM"

# ------------------------------------------ (b) ready: 250/550, no LDAP

slapd_start 1024 5
wait_until 90 mirror_ready_is True || die "(b) the mirror did not become ready: $(tail -5 "$LAB_TMP/mxguardd.log")"
pass "(b) the mirror is ready"
searches_before=$(slapd_searches)

expect_codes "(b) known recipients are accepted" 250 \
	"user1@$DOM" "user2+lists@$DOM" "USER3@${DOM^^}" "user4@$DOM."
unknown=()
for i in $(seq 1 30); do
	unknown+=("nobody$i.$RANDOM@$DOM")
done
expect_codes "(b) 30 unknown recipients get 550 from Postfix" 550 "${unknown[@]}"
codes=$(rcpt_codes "nobody@$DOM" "user5@$DOM" "ghost@$DOM" | xargs)
check "(b) a mix in one session: 550 250 550 ('$codes')" test "$codes" = "550 250 550"
check "(b) postfix logged the 550s as unknown in its relay recipient table" \
	pf_log_has "User unknown in relay recipient table"
searches_after=$(slapd_searches)
check "(b) slapd saw no search for any of them ($searches_before before, $searches_after after)" \
	test "$searches_after" -eq "$searches_before"

# ------------------------------------------------ (c) malformed requests

expect_replies "(c) malformed but framed requests get PERM, the connection stays" "$SOCK" \
	"OK user1@$DOM
PERM request contains a NUL byte
OK user1@$DOM
PERM request is not 'NAME KEY'
PERM request longer than 4096 bytes
OK user2@$DOM
PERM bad address: control byte in address
PERM bad address: address longer than 254 bytes
NOTFOUND 
NOTFOUND 
NOTFOUND 
NOTFOUND 
OK user3@$DOM
NOTFOUND  | OK user1@$DOM | OK user2@$DOM
OK user1@$DOM
PERM bad netstring: no ',' after its payload
EOF" <<EOF
b"rcpt user1@$DOM"
b"rcpt us\x00er1@$DOM"
b"any-map-name user1@$DOM"
b"rcptuser1@$DOM"
b"rcpt " + b"x" * 70000 + b"@$DOM"
b"rcpt user2@$DOM"
b"rcpt us\x01er@$DOM"
b"rcpt " + b"y" * 300 + b"@$DOM"
b"rcpt @$DOM"
b"rcpt user1"
b"rcpt nobody@$DOM"
b"rcpt user1@elsewhere.example"
b"rcpt <User3@${DOM^^}.>"
("pipe", [b"rcpt nobody@$DOM", b"rcpt user1@$DOM", b"rcpt user2@$DOM"])
("split", b"rcpt user1@$DOM")
("raw", b"5:rcpt x;")
#eof?
EOF
expect_replies "(c) broken framing: PERM, then that connection is closed" "$SOCK" \
	"PERM bad netstring: no length at its start
EOF" <<EOF
("raw", b"rcpt user1@$DOM\n")
#eof?
EOF
expect_replies "(c) a non-digit length, a leading zero: closed too" "$SOCK" \
	"PERM bad netstring: non-digit in its length
PERM bad netstring: leading zero in its length
OK user1@$DOM" <<EOF
("raw", b"1x:rcpt user1@$DOM,")
#new
("raw", b"01:x,")
#new
b"rcpt user1@$DOM"
EOF
# The answers by result, as the metrics count them (mxg_daemon): nothing
# but this client asks meanwhile.
lookups_of() { ctl metrics | awk -v r="mxguard_lookups_total{result=\"$1\"}" '$1 == r { print $2 }'; }
declare -A before
for r in ok notfound temp perm; do before[$r]=$(lookups_of "$r"); done
expect_replies "(c) a known set of answers for the metrics" "$SOCK" \
	"OK user1@$DOM
NOTFOUND 
NOTFOUND 
PERM request longer than 4096 bytes" <<EOF
b"rcpt user1@$DOM"
b"rcpt nobody@$DOM"
b"rcpt user1@elsewhere.example"
b"rcpt " + b"x" * 5000 + b"@$DOM"
EOF
for r in ok:1 notfound:2 temp:0 perm:1; do
	got=$(($(lookups_of "${r%:*}") - before[${r%:*}]))
	check "(c) mxguard_lookups_total{result=${r%:*}} +$got, want +${r#*:}" test "$got" = "${r#*:}"
done

n=$(many_clients "$SOCK" 200)
check "(c) 200 clients at once all answered ($n)" test "$n" = 200
expect_codes "(c) postfix still validates through the socket" 250 "user1@$DOM"

# ------------------------ (c2) a local user cannot starve the MTA's lookups

# The issue's attack: 1,030 clients that each send one length digit and
# then another now and then (every 2 s here; it was every 20 s). The user
# is nobody, let into group postfix: with mode 0660 no other user may
# connect at all. Prints READY once all are connected and have sent their
# digit, then one JSON line: how many connected, how many the server
# closed at once (refused), how many it cut with the deadline's reply (and
# the longest time to that from the first digit), how many are still open
# after WAIT seconds.
STARVE=$LAB_TMP/starve.py
cat >"$STARVE" <<'EOF'
import grp, json, os, resource, select, socket, sys, time
path, n, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
os.setgroups([grp.getgrnam("postfix").gr_gid])
os.setgid(65534)
os.setuid(65534)
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
t0 = {}
for s in socks:
    try:
        s.sendall(b"2")
    except OSError:
        pass
    t0[s] = time.monotonic()
print("READY", flush=True)
got = {s: b"" for s in socks}
closed = {}
byfd = {s.fileno(): s for s in socks}
poller = select.poll()  # not select(): descriptors go past 1024
for s in socks:
    poller.register(s, select.POLLIN)
start = last_digit = time.monotonic()
while len(closed) < n and time.monotonic() - start < wait:
    for fd, _ in poller.poll(200):
        s = byfd[fd]
        try:
            b = s.recv(256)
        except OSError:
            b = b""
        if b:
            got[s] += b
        else:
            closed[s] = time.monotonic() - t0[s]
            poller.unregister(s)
    if time.monotonic() - last_digit > 2:
        for s in socks:
            if s not in closed:
                try:
                    s.sendall(b"2")
                except OSError:
                    pass
        last_digit = time.monotonic()
cut = [closed[s] for s in closed if b"PERM request not complete within" in got[s]]
print(json.dumps({
    "connected": n,
    "refused": sum(1 for s in closed if not got[s] and closed[s] < 1),
    "cut": len(cut), "cut_max_s": round(max(cut), 2) if cut else None,
    "open": n - len(closed)}), flush=True)
EOF

# Postfix reloaded first: its smtpd processes from (b) and (c) hold
# connections already; the one that answers below must open its own while
# the attack holds what it can.
ip netns exec "$LAB_NS_S" postfix -c "$LAB_PF_DIR" reload >/dev/null 2>&1 || die "(c2) postfix reload failed"
wait_until 30 smtp_banner_ok "$LAB_NS_C2" "$S4" || die "(c2) postfix does not answer after the reload"
refused_lines0=$(grep -c "lookup: refused" "$LAB_TMP/mxguardd.log" || true)
python3 "$STARVE" "$SOCK" 1030 12 >"$LAB_TMP/starve.out" 2>"$LAB_TMP/starve.err" &
starve_pid=$!
wait_until 30 grep -q READY "$LAB_TMP/starve.out" || die "(c2) the slow clients did not connect: $(cat "$LAB_TMP/starve.err")"
expect_codes "(c2) while a local user holds what it can, a fresh smtpd validates: known 250" 250 \
	"user1@$DOM" "user2@$DOM"
expect_codes "(c2) ... unknown 550, never 451" 550 "nobody$RANDOM@$DOM"
expect_replies "(c2) ... and a fresh client of root is answered" "$SOCK" "OK user1@$DOM" <<EOF
b"rcpt user1@$DOM"
EOF
wait "$starve_pid" || die "(c2) the slow clients failed: $(cat "$LAB_TMP/starve.err")"
starve=$(tail -1 "$LAB_TMP/starve.out")
log "(c2) slow clients: $starve"
starve_get() { json_get "$1" <<<"$starve"; }
held=$((1030 - $(starve_get refused)))
check "(c2) all 1030 slow clients connected" test "$(starve_get connected)" = 1030
check "(c2) user nobody held at most 512 ($held)" test "$held" -le 512
check "(c2) each one held was cut with the deadline's reply ($(starve_get cut) of $held)" \
	test "$(starve_get cut)" -eq "$held"
check "(c2) ... within the 5 s deadline and a sweep of its first digit (longest $(starve_get cut_max_s) s)" \
	python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 7.5 else 1)' "$(starve_get cut_max_s)"
check "(c2) none is open after 12 s of trickling" test "$(starve_get open)" = 0
refused_lines=$(($(grep -c "lookup: refused" "$LAB_TMP/mxguardd.log" || true) - refused_lines0))
check "(c2) the refusals are one log line, not one per client ($refused_lines)" test "$refused_lines" -eq 1
check "(c2) ... naming the cap and the user" grep -q "over the cap of 512 per user (the latest of uid 65534)" "$LAB_TMP/mxguardd.log"
expect_codes "(c2) afterwards postfix still validates" 250 "user3@$DOM"

# -------------------------------- (d) slapd gone and max_age passed: 4xx

slapd_stop
lookup_conf "$conf" "$SOCK" "" 1s 2s
kill -HUP "$MXGD_PID"
wait_until 30 mirror_ready_is False || die "(d) the mirror stayed ready after max_age"
pass "(d) the mirror is not ready (slapd stopped, max_age 2s passed)"
expect_replies "(d) the socket answers TEMP" "$SOCK" "TEMP mirror not ready" <<EOF
b"rcpt user1@$DOM"
EOF
expect_codes "(d) not ready: 4xx for known and unknown recipients, never 550" '4[0-9][0-9]' \
	"user1@$DOM" "nobody@$DOM" "ghost$RANDOM@$DOM"

# -------------------------------------------- (e) SIGHUP moves the socket

lookup_conf "$conf" "$SOCK2" 0600 1s 2s
kill -HUP "$MXGD_PID"
wait_until 10 test -S "$SOCK2" || die "(e) $SOCK2 did not appear: $(tail -5 "$LAB_TMP/mxguardd.log")"
check "(e) the old socket file is gone" wait_until 5 not test -e "$SOCK"
check "(e) the new socket has mode 600" test "$(file_mode "$SOCK2")" = 600
expect_replies "(e) the new socket answers" "$SOCK2" "TEMP mirror not ready" <<EOF
b"rcpt user1@$DOM"
EOF
lookup_conf "$conf" "$RUN/missing/lookup.sock" 0666 1s 2s
kill -HUP "$MXGD_PID"
check "(e) a socket in a missing directory is refused, naming it" \
	wait_until 10 grep -q "directory $RUN/missing does not exist" "$LAB_TMP/mxguardd.log"
check "(e) ... and the old socket is kept" wait_until 10 grep -q "kept the lookup socket $SOCK2" "$LAB_TMP/mxguardd.log"
expect_replies "(e) ... and still answers" "$SOCK2" "TEMP mirror not ready" <<EOF
b"rcpt user1@$DOM"
EOF
check "(e) mxguardd still runs" kill -0 "$MXGD_PID"

# ------------------------------------------------- (f) stop and restart

mxgd_stop TERM || die "(f) mxguardd exited with $? on SIGTERM"
check "(f) a clean stop removes the socket file" not test -e "$SOCK2"

lookup_conf "$conf" "$RUN/missing/lookup.sock" 0666 1h 2h
rc=0
out=$(nsenter --net="/run/netns/$LAB_NS_S" timeout 20 "$MXGD" -c "$conf" -f 2>&1) || rc=$?
check "(f) a start with the socket in a missing directory fails (exit $rc)" test "$rc" -eq 1
check "(f) ... naming the directory: '$out'" grep -q "directory $RUN/missing does not exist" <<<"$out"
check "(f) ... before anything is attached" not guard_attached "${LAB_SPORTS[0]}"

log "all checks passed"

# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# The fleet scene of `make demo` (sourced by tools/demo.sh, which has set
# up the lab and the first mail host's Postfix): two MX hosts sharing the
# penalty box through a replicated directory, as docs/mta.md's "Secondary
# MX" configures them.
#   mx1        the lab's server namespace (198.18.0.1): the Postfix of the
#              other scenes, validating through its mxguardd's socket;
#              mxguardd on br0, so it judges only what is addressed to
#              mx1 itself (traffic to mx2 crosses the bridge, not br0);
#   mx2        the second mail host ($LAB_NS_M2, 198.18.0.2): a Postfix
#              relaying the domain to mx1 (relay_recipient_maps through
#              its own mxguardd's socket), mxguardd on its eth0;
#   directory  a provider slapd (syncprov) and a consumer (syncrepl from
#              the provider, syncprov for its own clients) on a host of
#              their own (198.18.0.3, ports 389 and 390); both guards'
#              mirror and fleet follow "provider, consumer" in that order;
#   clients    a backscatter source (client 1, build/tools/smtpflood:
#              bounces to random local recipients) that sends to mx1 and
#              moves to mx2 once mx1 refuses it; a legitimate sender
#              (client 2, build/tools/legit -s) with one mail every
#              FLEET_LEGIT_MS to each MX the whole time.
# The provider is killed once the source has moved. demo_fleet_report prints
# the timeline and the figures.

FLEET_USERS=100
FLEET_BASE=${LAB_FLEET_BASE:-ou=fleet,$SLAPD_SUFFIX}
FLEET_THRESHOLD=5
FLEET_LEGIT=20
FLEET_LEGIT_MS=2000
# The source's rounds: FLEET_ROUND sessions, 2 at once, each given 2 s;
# after a round with a failed session at mx1 it moves to mx2 and does
# FLEET_ROUNDS_MX2 rounds there.
FLEET_ROUND=4
FLEET_ROUNDS_MX2=3
FLEET_PROV_PORT=389
FLEET_CONS_PORT=390
FLEET_PIN2=""
FLEET_T0=""

# demo_fleet_ms EPOCHREALTIME: milliseconds since FLEET_T0.
demo_fleet_ms() { awk -v t="$1" -v t0="$FLEET_T0" 'BEGIN { printf "%d", (t - t0) * 1000 + 0.5 }'; }
# demo_ctl2: mxguardctl on mx2's pins.
demo_ctl2() { "$MXGCTL" --pin-dir "$FLEET_PIN2" "$@"; }

# demo_fleet_people_on NAME: the instance holds all FLEET_USERS people and
# the fleet's container (a consumer that has replicated the provider).
demo_fleet_people_on() {
	local n
	# As the rootdn: the fleet's ACL may hide its base from anonymous.
	n=$(in_server_net timeout 5 ldapsearch -x -LLL -H "$(slapd_uri "$1")" -o nettimeout=2 \
		-D "$SLAPD_ROOTDN" -w "$SLAPD_ROOTPW" \
		-b "$SLAPD_SUFFIX" '(|(objectClass=inetOrgPerson)(ou=fleet))' dn 2>/dev/null | grep -c '^dn:') || return 1
	((n == FLEET_USERS + 1))
}

# demo_fleet_directory_up: the provider and the consumer, replicated, on a
# directory host of their own. The provider is the lab's fleet directory
# (slapd_fleet_create: syncprov, slapo-dds, docs/fleet.md's ACL, one
# account per guard host) with FLEET_USERS people; the consumer
# (slapd_consumer_create) replicates all of it and has the same ACL and
# slapo-dds with dds-state FALSE (it keeps the provider's dynamic entries
# and their TTLs as replicated; only the provider expires them).
demo_fleet_directory_up() {
	lab_directory_host_up
	slapd_fleet_create prov "$FLEET_USERS" mx1 mx2
	SLAPD_MODULES_OF["cons"]=${SLAPD_MODULES_OF["prov"]}
	SLAPD_EXTRA_OF["cons"]="${SLAPD_EXTRA_OF["prov"]}
dds-state FALSE"
	slapd_run prov "$FLEET_PROV_PORT" 1024
	slapd_consumer_create cons prov
	slapd_run cons "$FLEET_CONS_PORT" 1024
	wait_until 60 demo_fleet_people_on cons ||
		die "the consumer did not replicate the provider: $(tail -5 "$LAB_TMP/cons/slapd.log")"
}

# demo_fleet_conf FILE HOST IFACES PIN SOCKET: a guard of the fleet, as
# docs/mta.md's "Secondary MX" has it: [fleet] binds with HOST's own
# account.
demo_fleet_conf() {
	slapd_fleet_secret "$2" "$LAB_TMP/fleet-$2.secret"
	LAB_CONF_IFACES=$3 LAB_CONF_PIN=$4 conf_write "$1" detach \
		"[class smtp]" "rate = off" \
		"[ldap]" "uri = $(slapd_uri prov), $(slapd_uri cons)" "base = $SLAPD_PEOPLE" \
		"bind_dn = $SLAPD_BIND_DN" "bind_password_file = $LAB_TMP/ldap.secret" \
		"attributes = mail, mailLocalAddress" "domains = $LAB_RCPT_DOMAIN" \
		"sync = syncrepl" "max_age = 1h" \
		"[lookup]" "socket = $5" \
		"[smtp_inspect]" "mode = penalize" "unknown_threshold = $FLEET_THRESHOLD" \
		"window = 10m" "penalty = 10m" \
		"[fleet]" "base = $FLEET_BASE" "host = $2" \
		"bind_dn = $(slapd_fleet_account_dn "$2")" \
		"bind_password_file = $LAB_TMP/fleet-$2.secret"
}

# demo_fleet_ready PIN: that guard's mirror is ready.
demo_fleet_ready() {
	local v
	v=$("$MXGCTL" -j --pin-dir "$1" rcpt check "probe@$LAB_RCPT_DOMAIN" | json_get mirror_ready) || return 1
	[[ $v == True ]]
}

# demo_fleet_guards_up: both guards, their mirrors ready, both Postfix asking
# their sockets.
FLEET_SOCK1="" FLEET_SOCK2=""
demo_fleet_guards_up() {
	local run=$LAB_TMP/run
	mkdir -p "$run"
	chmod 755 "$run"
	FLEET_SOCK1=$run/mx1.sock FLEET_SOCK2=$run/mx2.sock
	FLEET_PIN2=$LAB_PIN-mx2
	LAB_PINS_MORE+=("$FLEET_PIN2")
	(umask 077 && printf '%s\n' "$SLAPD_BIND_PW" >"$LAB_TMP/ldap.secret")
	demo_fleet_conf "$LAB_TMP/fleet-mx1.conf" mx1 br0 "$LAB_PIN" "$FLEET_SOCK1"
	demo_fleet_conf "$LAB_TMP/fleet-mx2.conf" mx2 eth0 "$FLEET_PIN2" "$FLEET_SOCK2"
	mxgd_start "$LAB_TMP/fleet-mx1.conf" "$LAB_TMP/mxguardd.mx1.log"
	FLEET_PID1=$MXGD_PID
	MXGD_NS=$LAB_NS_M2 mxgd_start "$LAB_TMP/fleet-mx2.conf" "$LAB_TMP/mxguardd.mx2.log"
	FLEET_PID2=$MXGD_PID
	wait_until 60 demo_fleet_ready "$LAB_PIN" || die "mx1's mirror is not ready: $(tail -5 "$LAB_TMP/mxguardd.mx1.log")"
	wait_until 60 demo_fleet_ready "$FLEET_PIN2" || die "mx2's mirror is not ready: $(tail -5 "$LAB_TMP/mxguardd.mx2.log")"
	pf_set "relay_recipient_maps = socketmap:unix:$FLEET_SOCK1:rcpt"
	pf_mx2_start "relay_recipient_maps = socketmap:unix:$FLEET_SOCK2:rcpt" \
		"relay_transport = relay:[$LAB_SERVER4]:25"
}

# demo_fleet_watch SECS: one python process that polls both guards every
# 20 ms (mxguardctl -j) and mx2's queue until SECS have passed; prints
# "EVENT EPOCH [DETAIL]" lines as things first happen (mx1's penalty for
# the source, mx2's fleet ban for it, mx2's first SYN dropped for the
# penalty box) and at the end "queue_max N".
demo_fleet_watch() {
	python3 - "$MXGCTL" "$LAB_PIN" "$FLEET_PIN2" "$BS_ADDR/32" "$LAB_PF2_DIR/queue" "$1" <<'EOF'
import json, os, subprocess, sys, time
ctl, pin1, pin2, cidr, queue, secs = sys.argv[1:7]
end = time.time() + float(secs)
def j(pin, *args):
    try:
        out = subprocess.run([ctl, "-j", "--pin-dir", pin, *args], capture_output=True,
                             timeout=5).stdout
        return json.loads(out)
    except Exception:
        return None
def ban(pin):
    d = j(pin, "ban", "list")
    for b in (d or {}).get("bans", []):
        if b.get("cidr") == cidr:
            return b
    return None
# "origin" (mxguardctl since the fleet; "reason" before).
def origin(b):
    return b.get("origin") or b.get("reason")
def penalty_drops(pin):
    d = j(pin, "stats")
    try:
        return d["classes"]["smtp"]["dropped"]["penalty"]
    except Exception:
        return 0
def queued():
    n = 0
    for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _, _, files in os.walk(os.path.join(queue, sub)):
            n += len(files)
    return n
seen, qmax = {}, 0
drops0 = penalty_drops(pin2)
while time.time() < end:
    if "penalty" not in seen:
        b = ban(pin1)
        if b:
            seen["penalty"] = 1
            print("penalty", time.time(), origin(b), flush=True)
    dropped = "drop2" not in seen and penalty_drops(pin2) > drops0
    # After the drops, so that a ban that came meanwhile is printed first.
    if "fleet" not in seen:
        b = ban(pin2)
        if b:
            seen["fleet"] = 1
            print("fleet", time.time(), origin(b), b.get("peer") or "-", flush=True)
    if dropped:
        seen["drop2"] = 1
        print("drop2", time.time(), flush=True)
    qmax = max(qmax, queued())
    time.sleep(0.02)
print("queue_max", qmax, flush=True)
EOF
}

# demo_fleet_source: the backscatter source: rounds at mx1 until one has a
# failed session (mx1 refuses it), then FLEET_ROUNDS_MX2 rounds at mx2.
# Prints "HOST EPOCH JSON" per round and "moved EPOCH".
demo_fleet_source() {
	local host=mx1 addr=$LAB_SERVER4 out failed rounds=0 i
	for ((i = 0; i < 100 && rounds < FLEET_ROUNDS_MX2; i++)); do
		out=$(ip netns exec "$LAB_NS_C1" timeout 30 "$BUILD/tools/smtpflood" -d "$addr" \
			-D "$LAB_RCPT_DOMAIN" -P 2 -c "$FLEET_ROUND" -t 10s -T 2s) || out='{}'
		echo "$host $EPOCHREALTIME $out"
		if [[ $host == mx2 ]]; then
			rounds=$((rounds + 1))
			continue
		fi
		failed=$(json_get failed <<<"$out" 2>/dev/null) || failed=0
		if ((failed > 0)); then
			host=mx2 addr=$LAB_MX2_4
			echo "moved $EPOCHREALTIME"
		fi
	done
}

# demo_fleet_probe SECS: both lookup sockets asked every 100 ms for a known
# and an unknown address, as Postfix asks; prints per MX "MX OK NOTFOUND
# TEMP WRONG OTHER" (WRONG: a known address not OK or an unknown one OK).
demo_fleet_probe() {
	timeout $(($1 + 10)) python3 - "$FLEET_SOCK1" "$FLEET_SOCK2" "$1" "user1@$LAB_RCPT_DOMAIN" \
		"nobody.$$@$LAB_RCPT_DOMAIN" <<'EOF'
import socket, sys, time
socks, secs, known, unknown = sys.argv[1:3], float(sys.argv[3]), sys.argv[4], sys.argv[5]
def ask(path, addr):
    req = ("rcpt " + addr).encode()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(path)
        s.sendall(str(len(req)).encode() + b":" + req + b",")
        buf = b""
        while not buf.endswith(b","):
            c = s.recv(512)
            if not c:
                break
            buf += c
        s.close()
        return buf.split(b":", 1)[1][:-1].decode("latin-1")
    except Exception as e:
        return "ERROR " + str(e)
tally = {p: dict(ok=0, notfound=0, temp=0, wrong=0, other=0) for p in socks}
end = time.time() + secs
while time.time() < end:
    for p in socks:
        for addr, want in ((known, "OK"), (unknown, "NOTFOUND")):
            r = ask(p, addr)
            t = tally[p]
            if r.startswith("TEMP"):
                t["temp"] += 1
            elif r.startswith(want):
                t["ok" if want == "OK" else "notfound"] += 1
            elif r.startswith("OK") or r.startswith("NOTFOUND"):
                t["wrong"] += 1
            else:
                t["other"] += 1
    time.sleep(0.1)
for name, p in zip(("mx1", "mx2"), socks):
    t = tally[p]
    print(name, t["ok"], t["notfound"], t["temp"], t["wrong"], t["other"])
EOF
}

# demo_fleet_consumer_accepts ADDR: connections the consumer accepted from ADDR.
demo_fleet_consumer_accepts() { grep -c "ACCEPT from IP=$1:" "$LAB_TMP/cons/slapd.log" 2>/dev/null || true; }
demo_fleet_consumer_accepted_more() { (($(demo_fleet_consumer_accepts "$1") > $2)); }

# demo_fleet_scene: set up, run, collect (demo_fleet_report prints).
FLEET_EVENTS=() FLEET_SRC=() FLEET_LEGIT_OUT=() FLEET_PROBE="" FLEET_QMAX=-
FLEET_SRC_QUEUED=- FLEET_MIRROR_LINES=()
demo_fleet_scene() {
	lab_mx2_up
	log "fleet: provider and consumer slapd, a second MX ($LAB_NS_M2), a guard on each MX"
	demo_fleet_directory_up
	demo_fleet_guards_up
	local watch_pid legit1 legit2 src_pid probe_pid acc1 acc2 t line
	local rcpts=() i
	for ((i = 1; i <= 8; i++)); do
		rcpts+=("user$i@$LAB_RCPT_DOMAIN")
	done
	local run_secs=$((FLEET_LEGIT * FLEET_LEGIT_MS / 1000 + 5))
	FLEET_T0=$EPOCHREALTIME
	log "fleet: one mail every ${FLEET_LEGIT_MS} ms to each MX from ${LAB_CLIENT4[1]}; the source $BS_ADDR at mx1"
	demo_fleet_watch "$run_secs" >"$LAB_TMP/fleet.watch" &
	watch_pid=$!
	LAB_BG_PIDS+=("$watch_pid")
	legit_mail "$LAB_NS_C2" "$LAB_SERVER4" "$FLEET_LEGIT" "$FLEET_LEGIT_MS" "${rcpts[@]}" \
		>"$LAB_TMP/fleet.legit1" 2>&1 &
	legit1=$!
	legit_mail "$LAB_NS_C2" "$LAB_MX2_4" "$FLEET_LEGIT" "$FLEET_LEGIT_MS" "${rcpts[@]}" \
		>"$LAB_TMP/fleet.legit2" 2>&1 &
	legit2=$!
	LAB_BG_PIDS+=("$legit1" "$legit2")
	FLEET_EVENTS+=("$(demo_fleet_ms "$EPOCHREALTIME") legitimate mail starts: ${LAB_CLIENT4[1]} sends $FLEET_LEGIT mails to each MX, one every ${FLEET_LEGIT_MS} ms")
	sleep 1	# the demo's pacing: the source starts a second into the run
	FLEET_EVENTS+=("$(demo_fleet_ms "$EPOCHREALTIME") the source $BS_ADDR starts: bounces to random recipients at mx1, $FLEET_ROUND sessions a round, 2 at once")
	demo_fleet_source >"$LAB_TMP/fleet.source" &
	src_pid=$!
	LAB_BG_PIDS+=("$src_pid")
	wait "$src_pid" || true

	# The provider dies with both guards following it.
	acc1=$(demo_fleet_consumer_accepts "$LAB_SERVER4")
	acc2=$(demo_fleet_consumer_accepts "$LAB_MX2_4")
	demo_fleet_probe 10 >"$LAB_TMP/fleet.probe" &
	probe_pid=$!
	LAB_BG_PIDS+=("$probe_pid")
	sleep 0.5	# the probe's first answers come from the provider's state
	# The guards' log lines from here on tell of the failover.
	local lines1 lines2
	lines1=$(wc -l <"$LAB_TMP/mxguardd.mx1.log")
	lines2=$(wc -l <"$LAB_TMP/mxguardd.mx2.log")
	t=$EPOCHREALTIME
	slapd_crash prov
	FLEET_EVENTS+=("$(demo_fleet_ms "$t") the provider slapd killed")
	local who addr before
	for who in mx1 mx2; do
		if [[ $who == mx1 ]]; then addr=$LAB_SERVER4 before=$acc1; else addr=$LAB_MX2_4 before=$acc2; fi
		if wait_within 70 demo_fleet_consumer_accepted_more "$addr" "$before"; then
			FLEET_EVENTS+=("$(demo_fleet_ms "$EPOCHREALTIME") the consumer accepts a connection from $who's guard ($addr), $(($(demo_fleet_ms "$EPOCHREALTIME") - $(demo_fleet_ms "$t"))) ms after the kill")
		else
			FLEET_EVENTS+=("- $who's guard did not connect to the consumer within 70 s")
		fi
	done
	wait "$probe_pid" || true
	FLEET_PROBE=$(cat "$LAB_TMP/fleet.probe")
	# After the failover: the bans the consumer holds, and whether mx2
	# still has the source's (its fleet refreshed from the consumer).
	FLEET_CONS_BANS=$(in_server_net timeout 5 ldapsearch -x -LLL -H "$(slapd_uri cons)" -o nettimeout=2 \
		-D "$SLAPD_ROOTDN" -w "$SLAPD_ROOTPW" -b "$FLEET_BASE" '(objectClass=mxguardBan)' 1.1 2>/dev/null | grep -c '^dn:' || true)
	FLEET_END_BAN2=$("$MXGCTL" -j --pin-dir "$FLEET_PIN2" ban list | python3 -c '
import json, sys
for b in json.load(sys.stdin)["bans"]:
    if b["cidr"] == sys.argv[1]:
        print(b.get("origin") or b.get("reason"), b.get("peer") or "-", b.get("expires_in_s", "-"))' "$BS_ADDR/32" || true)
	wait "$legit1" || true
	wait "$legit2" || true
	wait "$watch_pid" || true
	FLEET_LEGIT_OUT=("$(legit_figures "$(tail -1 "$LAB_TMP/fleet.legit1")")" \
		"$(legit_figures "$(tail -1 "$LAB_TMP/fleet.legit2")")")

	# The timeline: the watcher's events and the source's moves.
	while read -r ev t rest; do
		case $ev in
		penalty) FLEET_T_PEN=$t
			FLEET_EVENTS+=("$(demo_fleet_ms "$t") mx1 puts the source in its penalty box (origin $rest)") ;;
		fleet)
			if [[ $rest == fleet* ]]; then
				FLEET_T_FLEET=$t
				FLEET_EVENTS+=("$(demo_fleet_ms "$t") mx2 has the source's ban from the fleet (origin ${rest% *}, peer ${rest#* })")
			else
				FLEET_EVENTS+=("$(demo_fleet_ms "$t") mx2 bans the source itself (origin ${rest% *}): no ban came from the fleet")
			fi ;;
		drop2) FLEET_EVENTS+=("$(demo_fleet_ms "$t") mx2 drops the source's first SYN (penalty box)") ;;
		queue_max) FLEET_QMAX=$t ;;
		esac
	done <"$LAB_TMP/fleet.watch"
	while read -r ev t rest; do
		case $ev in
		moved) FLEET_EVENTS+=("$(demo_fleet_ms "$t") the source, refused at mx1, moves to mx2") ;;
		mx1 | mx2) FLEET_SRC+=("$ev $rest") ;;
		esac
	done <"$LAB_TMP/fleet.source"
	FLEET_SRC_QUEUED=$(grep -cE "smtpd\[[0-9]+\]: [0-9A-F]+: client=[^ ]*\[$BS_ADDR\]" "$PF2_LOG" || true)
	local what from
	for who in mx1 mx2; do
		if [[ $who == mx1 ]]; then from=$lines1; else from=$lines2; fi
		for what in "recipient mirror" fleet; do
			line=$(tail -n +"$((from + 1))" "$LAB_TMP/mxguardd.$who.log" |
				grep -E "$what: .*:$FLEET_CONS_PORT/" | tail -1 || true)
			[[ -z $line ]] || FLEET_MIRROR_LINES+=("$who: ${line#mxguardd: }")
		done
	done
	# Delivered: mx1 discards (status=sent), mx2 relays to mx1 (status=sent).
	FLEET_DELIVERED=()
	local fig qid n log
	for i in 0 1; do
		fig=${FLEET_LEGIT_OUT[i]} n=0 log=$PF_LOG
		((i == 1)) && log=$PF2_LOG
		for qid in $(cut -d' ' -f5- <<<"$fig"); do
			wait_until 20 grep -qE "$qid: .*status=sent" "$log" && n=$((n + 1))
		done
		FLEET_DELIVERED+=("$n")
	done
	# DEMO_KEEP_LOGS=DIR keeps the scene's logs there (the lab's own
	# temp dir goes at exit).
	if [[ -n ${DEMO_KEEP_LOGS:-} ]]; then
		mkdir -p "$DEMO_KEEP_LOGS"
		cp "$LAB_TMP"/mxguardd.mx?.log "$LAB_TMP"/fleet.* "$LAB_TMP"/fleet-mx?.conf "$PF2_LOG" \
			"$LAB_TMP/prov/slapd.log" "$DEMO_KEEP_LOGS/" 2>/dev/null || true
		cp "$LAB_TMP/cons/slapd.log" "$DEMO_KEEP_LOGS/cons-slapd.log" 2>/dev/null || true
	fi
	# Both guards down: mx2's first (guard_down knows one daemon, one pin
	# dir at a time).
	MXGD_PID=$FLEET_PID2 LAB_PIN_SAVED=$LAB_PIN
	LAB_PIN=$FLEET_PIN2
	guard_down
	LAB_PIN=$LAB_PIN_SAVED MXGD_PID=$FLEET_PID1
	guard_down
}

# demo_fleet_report: what demo_fleet_scene saw.
demo_fleet_report() {
	echo
	echo "fleet: two MX hosts sharing the penalty box through a replicated directory"
	echo "mx1 $LAB_SERVER4 (Postfix, mxguardd on br0), mx2 $LAB_MX2_4 (Postfix relaying to mx1,"
	echo "mxguardd on eth0); provider slapd $LAB_DIR4:$FLEET_PROV_PORT (syncprov), consumer"
	echo "$LAB_DIR4:$FLEET_CONS_PORT (syncrepl from the provider, syncprov); both guards:"
	echo "[ldap] and [fleet] uri = provider, consumer; smtp_inspect penalize past $FLEET_THRESHOLD unknown."
	echo "The directory as docs/fleet.md sets it up: slapo-dds, an account per guard host, its ACL."
	printf '%9s  %s\n' "t ms" "event"
	printf '%s\n' "${FLEET_EVENTS[@]}" | sort -n -k1,1 | while read -r t rest; do
		printf '%9s  %s\n' "$t" "$rest"
	done
	if [[ -n ${FLEET_T_PEN:-} && -n ${FLEET_T_FLEET:-} ]]; then
		echo "penalty at mx1 -> ban at mx2: $(awk -v a="$FLEET_T_PEN" -v b="$FLEET_T_FLEET" 'BEGIN { printf "%d", (b - a) * 1000 + 0.5 }') ms (watched every 20 ms)"
	else
		echo "penalty at mx1 -> ban at mx2: none came (mx2 had no fleet ban for $BS_ADDR)"
	fi
	echo
	echo "the source's rounds (smtpflood -P 2 -c $FLEET_ROUND -T 2s), by MX:"
	printf '  %-4s %8s %9s %7s %6s %6s %6s\n' MX sessions completed failed 250s 4xx 550s
	local h
	for h in mx1 mx2; do
		printf '%s\n' "${FLEET_SRC[@]}" | python3 -c '
import json, sys
h = sys.argv[1]
t = dict(sessions=0, completed=0, failed=0, rcpt_ok=0, rcpt_temp=0, rcpt_perm=0)
for line in sys.stdin:
    name, _, js = line.strip().partition(" ")
    if name != h or not js.startswith("{") or js == "{}":
        continue
    d = json.loads(js)
    for k in t:
        t[k] += d.get(k, 0)
print("  %-4s %8d %9d %7d %6d %6d %6d" % (h, t["sessions"], t["completed"], t["failed"],
      t["rcpt_ok"], t["rcpt_temp"], t["rcpt_perm"]))' "$h"
	done
	echo "mx2's queue: at most $FLEET_QMAX message(s) at once (sampled every 20 ms; the"
	echo "legitimate mail on its way to mx1); queue files from the source at mx2: $FLEET_SRC_QUEUED"
	echo
	echo "lookups through both sockets around the provider's death (every 100 ms, a known and"
	echo "an unknown address, from 0.5 s before the kill for 10 s):"
	printf '  %-4s %6s %9s %6s %6s %6s\n' MX OK NOTFOUND TEMP wrong other
	local mx ok nf tp wr ot
	while read -r mx ok nf tp wr ot; do
		printf '  %-4s %6s %9s %6s %6s %6s\n' "$mx" "$ok" "$nf" "$tp" "$wr" "$ot"
	done <<<"$FLEET_PROBE"
	[[ ${#FLEET_MIRROR_LINES[@]} -eq 0 ]] || printf 'guard logged: %s\n' "${FLEET_MIRROR_LINES[@]}"
	echo "after the failover: the consumer holds $FLEET_CONS_BANS ban(s) of the fleet; mx2's ban on"
	local o p e
	read -r o p e <<<"${FLEET_END_BAN2:-none - -}"
	echo "$BS_ADDR: origin $o, peer $p, expires in $e s"
	echo
	echo "legitimate mail (tools/legit -s from ${LAB_CLIENT4[1]}, through the whole run):"
	printf '  %-4s %6s %9s %10s %7s %7s\n' MX sent accepted delivered "p50 ms" "p99 ms"
	local i sent acc p50 p99 rest
	for i in 0 1; do
		read -r sent acc p50 p99 rest <<<"${FLEET_LEGIT_OUT[i]}"
		printf '  %-4s %6s %9s %10s %7s %7s\n' "mx$((i + 1))" "$sent" "$acc" "${FLEET_DELIVERED[i]}" "$p50" "$p99"
	done
	echo "delivered: status=sent in that MX's log (mx1 discards, mx2 relays to mx1)."
}

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The legitimate client's SMTP mode (build/tools/legit -s), which `make
# demo` uses for its legitimate sender, against the lab's real Postfix:
#   (a) mails to known recipients (IPv4): every transaction gets its 250
#       after the dot, the JSON says so with a latency for each, and each
#       queue id it reports is delivered (status=sent) to the right
#       recipient, after a session of EHLO (a multi-line reply), MAIL,
#       RCPT, DATA and QUIT;
#   (b) the same over IPv6;
#   (c) an unknown recipient: each transaction fails with the code
#       Postfix gave (550) at RCPT, nothing is queued;
#   (d) a sender Postfix defers: 451 counted as failure, with its code;
#   (e) a server that accepts and never answers: the transaction times out
#       at -T and legit ends within its bound; a closed port: connect
#       failures.
# No mxguard here: the client is what is tested.
#
# Usage: tests/integration/test_legit.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" legit
command -v postfix >/dev/null || skip "needs postfix"
LEGIT=$BUILD/tools/legit
[[ -x $LEGIT ]] || die "$LEGIT not built (make $LEGIT)"
lab_netns_up
C2=$LAB_NS_C2 S4=$LAB_SERVER4 S6=$LAB_SERVER6 DOM=$LAB_RCPT_DOMAIN
A2=${LAB_CLIENT4[1]}

pf_start
# (d)'s sender is deferred with a 4xx of the test's choosing.
pf_set "smtpd_sender_restrictions = check_sender_access inline:{ { defer@client.example = 451 4.7.1 try again later } }"

# legit_json ARGS...: one legit run from client 2 (bounded by timeout);
# its JSON line.
legit_json() {
	ip netns exec "$C2" timeout 60 "$LEGIT" "$@"
}

# jq_py JSON EXPR: a Python expression over the JSON as `d`; its value.
jq_py() { python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# delivered_to QID RCPT: Postfix logged QID as sent to RCPT (within 10 s).
delivered_to() { wait_until 10 pf_log_has "$1: to=<$2>.*status=sent"; }

# --------------------------------------------------- (a) known, IPv4

out=$(legit_json -s -d "$S4" -b "$A2" -r "alice@$DOM" -r "bob@$DOM" -c 4 -i 200 -t 2s)
log "legit: $out"
soft check "(a) 4 connects, all established" test "$(jq_py "$out" 'd["attempts"], d["ok"]')" = "(4, 4)"
soft check "(a) 4 transactions, 4 delivered, success 1" \
	test "$(jq_py "$out" 'd["smtp"]["transactions"], d["smtp"]["ok"], d["smtp"]["success"]')" = "(4, 4, 1)"
soft check "(a) transaction latency: 0 < p50 <= p99 <= max, each above connect p50" \
	jq_py "$out" 'exit(0 if 0 < d["smtp"]["p50_ms"] <= d["smtp"]["p99_ms"] <= d["smtp"]["max_ms"] and d["smtp"]["p50_ms"] > d["p50_ms"] else 1)'
soft check "(a) no failure counted" \
	test "$(jq_py "$out" 'sum(v for k, v in d["smtp"]["failed"].items() if k != "codes"), d["smtp"]["failed"]["codes"]')" = "(0, {})"
mapfile -t qids < <(jq_py "$out" '"\n".join(d["smtp"]["queue_ids"])')
soft check "(a) 4 queue ids reported (${qids[*]})" test "${#qids[@]}" -eq 4
# Transaction i went to recipient i % 2; they may end in any order, so
# check each id against either.
for q in "${qids[@]}"; do
	soft check "(a) $q delivered to alice or bob" \
		wait_until 10 pf_log_has "$q: to=<(alice|bob)@$DOM>.*status=sent"
done
soft check "(a) alice got 2, bob got 2" \
	test "$(grep -cE "to=<alice@$DOM>.*status=sent" "$PF_LOG"),$(grep -cE "to=<bob@$DOM>.*status=sent" "$PF_LOG")" = "2,2"
sessions_of_a2() { (($(grep -c "disconnect from .*\[$A2\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5" "$PF_LOG") == 4)); }
soft check "(a) Postfix saw whole sessions: ehlo, mail, rcpt, data and quit in each" \
	wait_until 5 sessions_of_a2

# --------------------------------------------------- (b) IPv6

out=$(legit_json -s -d "$S6" -r "carol@$DOM" -c 1 -t 1s)
log "legit: $out"
soft check "(b) over IPv6: delivered" test "$(jq_py "$out" 'd["smtp"]["ok"]')" = 1
q=$(jq_py "$out" 'd["smtp"]["queue_ids"][0]')
soft check "(b) ... and sent to carol ($q)" delivered_to "$q" "carol@$DOM"

# --------------------------------------------------- (c) unknown recipient

out=$(legit_json -s -d "$S4" -r "nobody.$RANDOM@$DOM" -c 2 -i 100 -t 1s)
log "legit: $out"
soft check "(c) unknown recipient: 0 of 2 delivered, both failed with 550" \
	test "$(jq_py "$out" 'd["smtp"]["ok"], d["smtp"]["failed"]["codes"]')" = "(0, {'550': 2})"
soft check "(c) ... at RCPT" jq_py "$out" 'exit(0 if d["smtp"]["first_error"].startswith("rcpt: 550") else 1)'
soft check "(c) ... connects still counted ok" test "$(jq_py "$out" 'd["ok"]')" = 2
soft check "(c) ... no queue id" test "$(jq_py "$out" 'len(d["smtp"]["queue_ids"])')" = 0

# --------------------------------------------------- (d) deferred sender

out=$(legit_json -s -d "$S4" -f defer@client.example -r "alice@$DOM" -c 1 -t 1s)
log "legit: $out"
# Postfix answers sender restrictions at RCPT (smtpd_delay_reject = yes).
soft check "(d) a deferred sender: failed with 451 (at RCPT)" \
	jq_py "$out" 'exit(0 if d["smtp"]["ok"] == 0 and d["smtp"]["failed"]["codes"] == {"451": 1} and d["smtp"]["first_error"].startswith("rcpt: 451") else 1)'

# --------------------------------------------------- (e) silence, refusal

# A listener in the server namespace that accepts and never says a word.
ip netns exec "$LAB_NS_S" timeout 30 python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.1", 2525)); s.listen(8)
held = [s.accept()[0] for _ in range(1)]
time.sleep(25)' &
LAB_BG_PIDS+=("$!")
wait_until 5 bash -c "ip netns exec $LAB_NS_S ss -ltn | grep -q ':2525 '" || die "the silent listener did not start"
t0=$SECONDS
out=$(legit_json -s -d "$S4" -p 2525 -r "alice@$DOM" -c 1 -t 1s -T 2s)
log "legit: $out"
soft check "(e) a silent server: connected, then timed out" \
	test "$(jq_py "$out" 'd["ok"], d["smtp"]["ok"], d["smtp"]["failed"]["timeout"]')" = "(1, 0, 1)"
soft check "(e) ... legit ended within its bound ($((SECONDS - t0)) s, -t 1s -T 2s)" test $((SECONDS - t0)) -le 5
out=$(legit_json -s -d "$S4" -p 2526 -r "alice@$DOM" -c 2 -i 100 -t 1s -T 1s)
log "legit: $out"
soft check "(e) a closed port: 2 connect failures" \
	test "$(jq_py "$out" 'd["ok"], d["smtp"]["failed"]["connect"]')" = "(0, 2)"

soft_verdict
log "all checks passed"

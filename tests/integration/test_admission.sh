#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Acceptance test of the admission guard against a real Postfix smtpd:
# a flooding client is rate-limited at SYN time while a second client still
# delivers mail; the counters match what the clients saw; deny/allow/ban
# take effect live; state and enforcement survive a clean restart
# (on_exit = keep) and a crash (kill -9); a clean stop with on_exit = detach
# leaves nothing attached and `mxguardctl unload` removes the pins; pins of
# another layout (an upgrade) are made anew; IPv6 is
# judged under the same class.
#
# Usage: tests/integration/test_admission.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init "${1:?usage: $0 BUILD}" admission
lab_netns_up
pf_start

C1=$LAB_NS_C1 C2=$LAB_NS_C2 S4=$LAB_SERVER4 S6=$LAB_SERVER6
C2_ADDR=${LAB_CLIENT4[1]}
# Connect timeout for the counted bursts: below the kernel's 1 s initial
# SYN RTO, so each attempt is exactly one SYN (passed or dropped) and the
# guard's counters can be compared exactly with the client's results.
TMO=0.5

conf=$LAB_TMP/mxguard.conf
# 1 new connection/s per source, burst 5: the first 5 of a quick burst pass,
# after that a client that retries at once is dropped; slow enough that a
# loaded 2-core VM still sees drops, and no assertion depends on timing.
smtp_class=("[class smtp]" "ports = 25" "rate = 1/s" "burst = 5")
conf_write "$conf" keep "${smtp_class[@]}"

# sum of all drop reasons of a class
dropped_total() {
	ctl_json stats | python3 -c '
import json, sys
print(sum(json.load(sys.stdin)["classes"][sys.argv[1]]["dropped"].values()))' "$1"
}

# ------------------------------------------------ (a) flood vs. legitimate
# Pins left by another version, with other layouts: maps that hold nothing
# the config does not rewrite are made anew, not a load that fails.
mkdir -p "$LAB_PIN"
bpftool map create "$LAB_PIN/mxg_smtp_scratch" type percpu_array key 4 value 8 \
	entries 1 name mxg_smtp_scratch
bpftool map create "$LAB_PIN/mxg_classes" type array key 4 value 88 \
	entries 8 name mxg_classes
mxgd_start "$conf" "$LAB_TMP/mxguardd.1.log"
check "stale pins of another layout made anew" \
	grep -q "mxg_smtp_scratch: value size changed from 8" "$LAB_TMP/mxguardd.1.log"
for p in "${LAB_SPORTS[@]}"; do
	check "guard attached to $p" guard_attached "$p"
done
ours=$(cgroup_progs_added)
log "cgroup programs added by mxguardd: ${ours:-none}"

p0=$(mxg_stat smtp passed)
r0=$(mxg_stat smtp dropped.rate)

# Client 1 floods in the background while client 2 sends a mail.
tcp_burst "$C1" "$S4" 25 40 "$TMO" >"$LAB_TMP/flood1" &
flood_pid=$!
LAB_BG_PIDS+=("$flood_pid")
mail=$(send_mail "$C2" "$S4" "alice@$LAB_RCPT_DOMAIN") ||
	die "client 2 could not deliver during the flood: $mail"
kill -0 "$flood_pid" 2>/dev/null && log "client 2 delivered while client 1 was still flooding"
wait "$flood_pid" || die "flood client failed: $(cat "$LAB_TMP/flood1")"
read -r ok1 fail1 <"$LAB_TMP/flood1"
log "client 1: $ok1 connects succeeded, $fail1 failed (of 40)"

qid=$(queue_id_of "$mail")
[[ -n $qid ]] || die "no 250 queued-as reply for client 2: $mail"
check "client 2's mail $qid reached Postfix (status=sent)" \
	wait_until 30 pf_log_has "$qid: .*status=sent"
check "client 1 got at least the burst (5) through: $ok1" test "$ok1" -ge 5
check "client 1 had SYNs dropped: $fail1" test "$fail1" -gt 0

# ------------------------------------------------ (b) counters
p1=$(mxg_stat smtp passed)
r1=$(mxg_stat smtp dropped.rate)
# Passed SYNs: client 1's successes + client 2's single swaks connection.
check "smtp passed +$((p1 - p0)) == client 1 successes $ok1 + 1 (client 2)" \
	test "$((p1 - p0))" -eq "$((ok1 + 1))"
check "smtp dropped.rate +$((r1 - r0)) == client 1 failures $fail1" \
	test "$((r1 - r0))" -eq "$fail1"
check "Postfix logged client 1's connections" \
	pf_log_has "connect from [^ ]*\[${LAB_CLIENT4[0]}\]"

# ------------------------------------------------ (c) BTF in the pins
for m in mxg_ports mxg_classes mxg_sources mxg_allow mxg_deny mxg_bans mxg_stats; do
	check "$m pinned" test -e "$LAB_PIN/$m"
done
dump=$(bpftool map dump pinned "$LAB_PIN/mxg_classes" 2>&1) ||
	die "bpftool map dump pinned $LAB_PIN/mxg_classes failed: $dump"
check "bpftool prints mxg_classes with field names (interval_ns)" \
	grep -q 'interval_ns' <<<"$dump"

out=$(ctl_json status) || die "mxguardctl -j status failed: $out"
# status_says JSON: the status of this run: its pin dir, the daemon, the
# guard on both server-side ports, class smtp on port 25, the counter on.
status_says() {
	python3 - "$1" "$LAB_PIN" "${LAB_SPORTS[@]}" <<'EOF'
import json, sys
d, pin, ports = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:]
smtp = [c for c in d["classes"] if c["name"] == "smtp"]
wrong = []
if d["pin_dir"] != pin: wrong.append("pin_dir %r" % d["pin_dir"])
if d["daemon"] is not True: wrong.append("daemon %r" % d["daemon"])
if sorted(a["interface"] for a in d["attached"]) != sorted(ports):
    wrong.append("attached to %r" % [a["interface"] for a in d["attached"]])
if len(smtp) != 1 or smtp[0]["ports"] != [25]: wrong.append("smtp class %r" % smtp)
if d["counter"]["attached"] is not True: wrong.append("counter %r" % d["counter"])
print("; ".join(wrong))
sys.exit(1 if wrong else 0)
EOF
}
check "status -j: this pin dir, the daemon, both ports guarded, smtp on 25, the counter" \
	status_says "$out"
out=$(ctl limit show smtp 2>&1) || die "mxguardctl limit show smtp failed: $out"

# ------------------------------------------------ (d) deny, allow, ban
d0=$(mxg_stat smtp dropped.deny)
out=$(ctl deny add "$C2_ADDR/32" 2>&1) || die "deny add failed: $out"
check "deny list shows $C2_ADDR" grep -qwF "$C2_ADDR" <<<"$(ctl deny list)"
check "denied client 2 cannot connect" not tcp_connects "$C2" "$S4" "$TMO"
check "dropped.deny counted the SYN" test "$(mxg_stat smtp dropped.deny)" -eq "$((d0 + 1))"

p_d=$(mxg_stat smtp passed)
out=$(ctl allow add "$C2_ADDR/32" 2>&1) || die "allow add failed: $out"
check "allow list shows $C2_ADDR" grep -qwF "$C2_ADDR" <<<"$(ctl allow list)"
check "allow wins over deny: client 2 connects" tcp_connects "$C2" "$S4" "$TMO"
check "the allowed SYN counted as passed" test "$(mxg_stat smtp passed)" -eq "$((p_d + 1))"
out=$(ctl allow del "$C2_ADDR/32" 2>&1) || die "allow del failed: $out"
check "without the allow entry the deny applies again" not tcp_connects "$C2" "$S4" "$TMO"
out=$(ctl deny del "$C2_ADDR/32" 2>&1) || die "deny del failed: $out"
check "deny list no longer shows $C2_ADDR" not grep -qwF "$C2_ADDR" <<<"$(ctl deny list)"
check "client 2 connects after deny del" tcp_connects "$C2" "$S4" "$TMO"

t0=$(dropped_total smtp)
out=$(ctl ban add "$C2_ADDR" --ttl 300 2>&1) || die "ban add failed: $out"
check "ban list shows $C2_ADDR" grep -qwF "$C2_ADDR" <<<"$(ctl ban list)"
check "banned client 2 cannot connect" not tcp_connects "$C2" "$S4" "$TMO"
check "the banned SYN counted as dropped" test "$(dropped_total smtp)" -eq "$((t0 + 1))"
out=$(ctl ban del "$C2_ADDR" 2>&1) || die "ban del failed: $out"
check "client 2 connects after ban del" tcp_connects "$C2" "$S4" "$TMO"

# ------------------------------------------------ IPv6
p6=$(mxg_stat smtp passed)
mail=$(send_mail "$C2" "[$S6]" "bob@$LAB_RCPT_DOMAIN" -6) || die "IPv6 mail failed: $mail"
qid=$(queue_id_of "$mail")
check "IPv6 mail $qid delivered" wait_until 30 pf_log_has "$qid: .*status=sent"
check "the IPv6 SYN was judged under smtp (passed +1)" \
	test "$(mxg_stat smtp passed)" -eq "$((p6 + 1))"
r6=$(mxg_stat smtp dropped.rate)
read -r ok6 fail6 < <(tcp_burst "$C1" "$S6" 25 12 "$TMO")
log "client 1 over IPv6: $ok6 ok, $fail6 failed (of 12)"
check "IPv6 flood rate-limited" test "$fail6" -gt 0
check "IPv6 drops counted exactly" test "$(mxg_stat smtp dropped.rate)" -eq "$((r6 + fail6))"

# ------------------------------------------------ (e) restart and crash
# flood_drops LABEL: client 1 bursts again; the guard must still drop and
# count exactly what the client saw fail.
flood_drops() {
	local r_before ok fail
	r_before=$(mxg_stat smtp dropped.rate)
	read -r ok fail < <(tcp_burst "$C1" "$S4" 25 12 "$TMO")
	log "$1: client 1 $ok ok, $fail failed (of 12)"
	check "$1: client 1 still rate-limited" test "$fail" -gt 0
	check "$1: dropped.rate +$fail" test "$(mxg_stat smtp dropped.rate)" -eq "$((r_before + fail))"
}

pk=$(mxg_stat smtp passed)
rk=$(mxg_stat smtp dropped.rate)
rc=0
mxgd_stop TERM || rc=$?
check "SIGTERM: mxguardd exits 0 (got $rc: $(tail -3 "$LAB_TMP/mxguardd.1.log" | tr '\n' ' '))" test "$rc" -eq 0
for p in "${LAB_SPORTS[@]}"; do
	check "on_exit = keep: still attached to $p" guard_attached "$p"
done
check "counters readable without the daemon" test "$(mxg_stat smtp passed)" -eq "$pk"
flood_drops "after SIGTERM (keep), no daemon"

pk=$(mxg_stat smtp passed)
rk=$(mxg_stat smtp dropped.rate)
mxgd_start "$conf" "$LAB_TMP/mxguardd.2.log"
check "restart keeps passed ($pk)" test "$(mxg_stat smtp passed)" -ge "$pk"
check "restart keeps dropped.rate ($rk)" test "$(mxg_stat smtp dropped.rate)" -ge "$rk"
for p in "${LAB_SPORTS[@]}"; do
	# Admission on XDP (one program, not a second one beside the first)
	# unless the lab runs attach = tc; the SMTP reader is on tc anyway.
	n=$(ip -n "$LAB_NS_S" -d link show dev "$p" | grep -c 'prog/xdp' || true)
	want=1
	[[ ${LAB_ATTACH:-auto} != tc ]] || want=0
	check "$want XDP program(s) on $p after restart (got $n)" test "$n" -eq "$want"
	check "the guard is attached to $p after restart" guard_attached "$p"
done
flood_drops "after restart"

mxgd_stop KILL || true
for p in "${LAB_SPORTS[@]}"; do
	check "after kill -9: still attached to $p" guard_attached "$p"
done
flood_drops "after kill -9, no daemon"

pk=$(mxg_stat smtp passed)
rk=$(mxg_stat smtp dropped.rate)
mxgd_start "$conf" "$LAB_TMP/mxguardd.3.log"
check "adoption keeps passed ($pk)" test "$(mxg_stat smtp passed)" -ge "$pk"
check "adoption keeps dropped.rate ($rk)" test "$(mxg_stat smtp dropped.rate)" -ge "$rk"
flood_drops "after adoption"

# SIGHUP reloads without dropping state: the reload is done when the
# daemon says so; it must still run after it.
reloads() { grep -c "reloaded $conf" "$LAB_TMP/mxguardd.3.log" || true; }
pk=$(mxg_stat smtp passed)
n0=$(reloads)
kill -HUP "$MXGD_PID"
reloaded() { (($(reloads) > n0)); }
check "SIGHUP: mxguardd logs the reload" wait_until 10 reloaded
check "SIGHUP: mxguardd still runs after the reload" kill -0 "$MXGD_PID"
check "SIGHUP keeps passed" test "$(mxg_stat smtp passed)" -ge "$pk"

# The new-source limit comes with the other class keys on SIGHUP, and its
# verdict is in the counters.
conf_write "$conf" keep "${smtp_class[@]}" "new_sources = 2/s" "new_sources_burst = 3"
n0=$(reloads)
kill -HUP "$MXGD_PID"
check "SIGHUP with new_sources: mxguardd logs the reload" wait_until 10 reloaded
new_limit_is() {
	local out
	out=$(ctl_json limit show smtp) || return 1
	[[ "$(json_get classes.0.new_sources <<<"$out") $(json_get classes.0.new_sources_burst <<<"$out")" == "$1" ]]
}
check "SIGHUP applies new_sources = 2/s, new_sources_burst = 3" \
	wait_until 5 new_limit_is "2 3"
status_shows_new_limit() { ctl status | grep -q "class       smtp: .*; new sources 2/s burst 3"; }
check "status shows the new-source limit" status_shows_new_limit

# Six sources the guard has never seen, one SYN each, under a limit that
# admits two new sources in all (one per CPU's bucket, no refill to speak
# of): the rest are dropped, each counted as new_source (a new source
# still has its whole per-source burst: nothing else can drop it).
conf_write "$conf" keep "${smtp_class[@]}" "new_sources = 60/h" "new_sources_burst = 2"
n0=$(reloads)
kill -HUP "$MXGD_PID"
check "SIGHUP with new_sources = 60/h: mxguardd logs the reload" wait_until 10 reloaded
n0=$(mxg_stat smtp dropped.new_source)
newok=0 newfail=0
for i in 1 2 3 4 5 6; do
	ip -n "$C1" addr add "198.18.0.3$i/24" dev eth0
	read -r ok fail < <(tcp_burst "$C1" "$S4" 25 1 "$TMO" "198.18.0.3$i")
	newok=$((newok + ok)) newfail=$((newfail + fail))
done
log "six new sources: $newok connected, $newfail failed"
check "the new-source limit dropped at least 4 of six new sources ($newfail)" test "$newfail" -ge 4
check "stats count each as dropped.new_source (+$(($(mxg_stat smtp dropped.new_source) - n0)) == $newfail)" \
	test "$(($(mxg_stat smtp dropped.new_source) - n0))" -eq "$newfail"

# ------------------------------------------------ (f) clean stop, unload
mxgd_stop TERM || die "mxguardd (keep) did not exit 0 on SIGTERM"
conf_write "$conf" detach "${smtp_class[@]}"
mxgd_start "$conf" "$LAB_TMP/mxguardd.4.log"
rc=0
mxgd_stop TERM || rc=$?
check "SIGTERM (detach): mxguardd exits 0 (got $rc: $(tail -3 "$LAB_TMP/mxguardd.4.log" | tr '\n' ' '))" test "$rc" -eq 0
for p in "${LAB_SPORTS[@]}"; do
	check "no XDP program on $p after a detaching stop" not xdp_attached "$p"
	check "no tc program on $p after a detaching stop" not tc_attached "$p"
done
net=$(ip netns exec "$LAB_NS_S" bpftool net show 2>&1)
check "bpftool net in the server namespace lists no program" \
	bash -c '! grep -qE "id [0-9]+" <<<"$1"' _ "$net"
read -r okd faild < <(tcp_burst "$C1" "$S4" 25 12 "$TMO")
check "without the guard client 1 is not limited ($okd/12)" test "$okd" -eq 12

out=$(ctl unload 2>&1) || die "mxguardctl unload failed: $out"
left=$(find "$LAB_PIN" -name 'mxg_*' 2>/dev/null || true)
check "unload removed the pins${left:+ (left: $left)}" test -z "$left"
check "stats fail once the pins are gone" bash -c '! "$@" >/dev/null 2>&1' _ "$MXGCTL" -j --pin-dir "$LAB_PIN" stats
now=" $(cgroup_prog_ids) "
for id in $ours; do
	check "cgroup program $id detached" bash -c '[[ $1 != *" $2 "* ]]' _ "$now" "$id"
done

log "all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The metrics, both ways (docs/metrics.md): a real mxguardd in the lab
# with [metrics] listen, a known burst of SYNs from one client, then
#  - `mxguardctl metrics` and the HTTP endpoint (curl from inside the
#    server's namespace) both pass `promtool check metrics`, and every
#    counter in them equals `mxguardctl -j stats` (and the tracked sources
#    equal `-j status`, which walks the map, as do the rules, bans and the
#    fleet's state and figures), nothing else sending;
#  - --output writes the file atomically, mode 0644; -j is a usage error;
#  - the endpoint: HEAD works, other paths 404, other methods 405;
#  - `mxguardd -t` refuses bad listen addresses, naming the key;
#  - SIGHUP moves the endpoint to another port; a reload to a port that is
#    taken fails, and the old endpoint stays.
# `promtool check rules docs/alerts.yml` too.
#
# Usage: tests/integration/test_metrics.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || skip "promtool not installed (tools/deps.sh: prometheus)"
command -v curl >/dev/null || skip "curl not installed (tools/deps.sh)"
lab_init "${1:?usage: $0 BUILD}" metrics
lab_netns_up
pf_start

C1=$LAB_NS_C1 S4=$LAB_SERVER4
P1=9910 P2=9911 P3=9912
TMO=0.5
REPO=$(cd "$(dirname "$0")/../.." && pwd)

check "promtool check rules docs/alerts.yml" promtool check rules "$REPO/docs/alerts.yml"

conf=$LAB_TMP/mxguard.conf
mxlog=$LAB_TMP/mxguardd.log
smtp_class=("[class smtp]" "ports = 25" "rate = 1/s" "burst = 5")
write_conf() { conf_write "$conf" detach "${smtp_class[@]}" "[metrics]" "listen = $1"; }

# ------------------------------------------------ mxguardd -t refuses
for bad in "127.0.0.1:0" "localhost:$P1" "::1:$P1" "[127.0.0.1]:$P1" "127.0.0.1:70000" "127.0.0.1"; do
	write_conf "$bad"
	out=$("$MXGD" -t -c "$conf" 2>&1) && die "mxguardd -t accepted listen = $bad"
	check "mxguardd -t refuses listen = $bad, naming the key" \
		grep -qF "[metrics] listen: '$bad'" <<<"$out"
done
conf_write "$conf" detach "${smtp_class[@]}" "[metrics]"
out=$("$MXGD" -t -c "$conf" 2>&1) && die "mxguardd -t accepted [metrics] without listen"
check "[metrics] without listen is refused" grep -q "listen is required" <<<"$out"

# ------------------------------------------------ a known burst
write_conf "127.0.0.1:$P1"
mxgd_start "$conf" "$mxlog"
check "the log says where the metrics are" grep -q "metrics: serving http://127.0.0.1:$P1/metrics" "$mxlog"
read -r ok fail < <(tcp_burst "$C1" "$S4" 25 30 "$TMO")
log "burst: $ok connected, $fail failed (of 30)"
check "the burst had SYNs dropped ($fail)" test "$fail" -gt 0

# scrape URL [CURL-ARGS...]: from inside the server's namespace.
scrape() {
	local url=$1
	shift
	in_server_net curl -sS --max-time 10 "$@" "$url"
}

# same_as_stats METRICS STATS STATUS: every counter of `-j stats` under
# its metric, and the tracked sources as `-j status` counts them.
same_as_stats() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, re, sys
samples = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    m = re.match(r'^([a-z_]+)(\{(.*)\})? (\S+)$', line.strip())
    labels = tuple(sorted(re.findall(r'([a-z_]+)="([^"]*)"', m.group(3) or "")))
    samples[(m.group(1), labels)] = float(m.group(4))
stats = json.load(open(sys.argv[2]))
status = json.load(open(sys.argv[3]))
want = {}
for cls, c in stats["classes"].items():
    want[("mxguard_syns_passed_total", (("class", cls),))] = c["passed"]
    want[("mxguard_syns_allowed_total", (("class", cls),))] = c["allowed"]
    want[("mxguard_connections", (("class", cls),))] = c["conns"]
    for reason, n in c["dropped"].items():
        want[("mxguard_syns_dropped_total", (("class", cls), ("reason", reason)))] = n
for key, name in [("malformed", "mxguard_malformed_frames_total"),
                  ("fragments", "mxguard_fragments_total"),
                  ("conns_untracked", "mxguard_conns_untracked_total"),
                  ("bogus_dropped", "mxguard_bogus_dropped_total"),
                  ("unseen_dropped", "mxguard_unseen_dropped_total"),
                  ("new_source_resent", "mxguard_new_source_resent_total")]:
    want[(name, ())] = stats[key]
r = stats["rcpt"]
for res in ("known", "unknown", "foreign", "not_judged", "invalid"):
    want[("mxguard_recipients_total", (("result", res),))] = r[res]
for key, name in [("null_sender", "mxguard_smtp_null_senders_total"),
                  ("uninspectable", "mxguard_smtp_sessions_uninspectable_total"),
                  ("penalized", "mxguard_penalized_total"),
                  ("dropped_segments", "mxguard_smtp_segments_dropped_total"),
                  ("lost_sessions", "mxguard_smtp_sessions_lost_total"),
                  ("over_budget", "mxguard_smtp_sessions_over_budget_total")]:
    want[(name, ())] = r[key]
want[("mxguard_sources_tracked", ())] = status["sources"]["tracked"]
want[("mxguard_map_capacity", (("map", "sources"),))] = status["sources"]["max"]
want[("mxguard_programs_attached", ())] = len(status["attached"])
for m in ("allow", "deny", "bans"):
    want[("mxguard_map_entries", (("map", m),))] = status["rules"][m]
want[("mxguard_penalty_box_entries", (("origin", "cli"),))] = status["rules"]["bans"]
want[("mxguard_penalty_box_entries", (("origin", "fleet"),))] = 0
fleet = status["fleet"]
for state in ("off", "connecting", "refreshing", "synced"):
    want[("mxguard_fleet_state", (("state", state),))] = int(state == fleet["state"])
want[("mxguard_fleet_refused_total", ())] = fleet["refused"]
want[("mxguard_fleet_publish_errors_total", ())] = fleet["publish_errors"]
if fleet["state"] != "off":
    for key, name in [("peer_entries", "mxguard_fleet_peer_entries"),
                      ("applied", "mxguard_fleet_applied_bans"),
                      ("published", "mxguard_fleet_published_entries"),
                      ("pending", "mxguard_fleet_pending_changes")]:
        want[(name, ())] = fleet[key]
wrong = ["%s%s: metrics %s, ctl %s" % (n, dict(l), samples.get((n, l)), v)
         for (n, l), v in want.items() if samples.get((n, l)) != v]
print("; ".join(wrong) or "%d figures equal" % len(want))
sys.exit(1 if wrong else 0)
EOF
}

# Rules and bans the maps' counts must show (none goes near the lab's
# traffic: 198.18.250.0/24 sends nothing).
ctl allow add 198.18.250.0/28 198.18.250.16/28 || die "allow add failed"
ctl ban add 198.18.250.64 --ttl 1h || die "ban add failed"
ctl ban add 198.18.250.65 --ttl 1h || die "ban add failed"
ctl metrics >"$LAB_TMP/ctl.prom" || die "mxguardctl metrics failed"
scrape "http://127.0.0.1:$P1/metrics" -o "$LAB_TMP/http.prom" -D "$LAB_TMP/http.hdr" ||
	die "GET /metrics failed"
ctl_json stats >"$LAB_TMP/stats.json" || die "mxguardctl -j stats failed"
ctl_json status >"$LAB_TMP/status.json" || die "mxguardctl -j status failed"
for f in ctl http; do
	out=$(promtool check metrics <"$LAB_TMP/$f.prom" 2>&1) || die "promtool check metrics ($f): $out"
	pass "promtool check metrics: the $f document"
	check "the $f document's counters equal mxguardctl -j stats and status" \
		same_as_stats "$LAB_TMP/$f.prom" "$LAB_TMP/stats.json" "$LAB_TMP/status.json"
done
check "smtp passed in the metrics is the burst's ($ok)" \
	grep -qx "mxguard_syns_passed_total{class=\"smtp\"} $ok" "$LAB_TMP/ctl.prom"
check "smtp dropped for rate in the metrics is the burst's ($fail)" \
	grep -qx "mxguard_syns_dropped_total{class=\"smtp\",reason=\"rate\"} $fail" "$LAB_TMP/ctl.prom"
check "GET /metrics is 200 with the format's content type" \
	grep -qi "^content-type: text/plain; version=0.0.4" "$LAB_TMP/http.hdr"
check "the programs are attached, per interface" \
	grep -q "^mxguard_program_attached{interface=\"${LAB_SPORTS[0]}\"" "$LAB_TMP/ctl.prom"

# ------------------------------------------------ the endpoint's edges
code() { scrape "$@" -o /dev/null -w '%{http_code}'; }
check "HEAD /metrics is 200" test "$(code "http://127.0.0.1:$P1/metrics" -I)" = 200
check "GET / is 404" test "$(code "http://127.0.0.1:$P1/")" = 404
check "GET /metrics/x is 404" test "$(code "http://127.0.0.1:$P1/metrics/x")" = 404
check "POST /metrics is 405" test "$(code "http://127.0.0.1:$P1/metrics" -X POST -d x)" = 405
check "DELETE /metrics is 405" test "$(code "http://127.0.0.1:$P1/metrics" -X DELETE)" = 405

# ------------------------------------------------ --output and -j
outdir=$LAB_TMP/textfile
mkdir -p "$outdir"
echo stale >"$outdir/mxguard.prom"
(umask 077 && ctl metrics --output "$outdir/mxguard.prom") || die "metrics --output failed"
check "--output wrote mode 0644 whatever the umask" test "$(stat -c %a "$outdir/mxguard.prom")" = 644
out=$(promtool check metrics <"$outdir/mxguard.prom" 2>&1) || die "promtool on --output: $out"
check "--output left no temporary file" test "$(find "$outdir" -type f | wc -l)" = 1
rc=0
out=$(ctl_json metrics 2>/dev/null) || rc=$?
check "-j metrics exits 2 (got $rc)" test "$rc" = 2
check "-j metrics prints one JSON error" \
	python3 -c 'import json,sys; assert "error" in json.loads(sys.argv[1])' "$out"

# ------------------------------------------------ reloads
reloads() { grep -c "reloaded $conf" "$mxlog" || true; }
failed_reloads() { grep -c "reload failed" "$mxlog" || true; }
n0=$(reloads)
write_conf "127.0.0.1:$P2"
kill -HUP "$MXGD_PID"
reloaded() { (($(reloads) > n0)); }
check "SIGHUP with another port: the reload is logged" wait_until 10 reloaded
check "the endpoint answers on the new port $P2" test "$(code "http://127.0.0.1:$P2/metrics")" = 200
check "and no longer on the old port $P1" not scrape "http://127.0.0.1:$P1/metrics" -o /dev/null 2>/dev/null

# A port someone else holds: the reload fails, the endpoint stays.
in_server_net python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("up", flush=True)
time.sleep(120)' "$P3" >"$LAB_TMP/holder" &
LAB_BG_PIDS+=("$!")
holder_up() { grep -q up "$LAB_TMP/holder"; }
check "another listener holds port $P3" wait_until 10 holder_up
f0=$(failed_reloads)
write_conf "127.0.0.1:$P3"
kill -HUP "$MXGD_PID"
reload_failed() { (($(failed_reloads) > f0)); }
check "a reload to a taken port fails" wait_until 10 reload_failed
check "and says why" grep -q "cannot listen on 127.0.0.1:$P3: Address already in use" "$mxlog"
check "the endpoint stays on $P2" test "$(code "http://127.0.0.1:$P2/metrics")" = 200
check "mxguardd still runs" kill -0 "$MXGD_PID"

rc=0
mxgd_stop TERM || rc=$?
check "SIGTERM: mxguardd exits 0 (got $rc)" test "$rc" -eq 0
log "all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# mxguardctl keeps the contract of mxguardctl(8), verb by verb, from a
# table of rows (ROWS below), each run in three states and three modes:
#  - states: nothing pinned (a pin dir that does not exist, and an empty
#    directory on bpffs) and a real mxguardd running in the lab;
#  - modes: text, -j and -p.
# For every run: the exit status is the row's; a failure writes exactly
# one line on stderr (the row's substring in it) and, in text mode,
# nothing on stdout; with -j/-p stdout is exactly one JSON document,
# {"error": LINE} on a failure (LINE as on stderr), and -p's is indented.
# A usage error (exit 2) must be the same, same message, in every state:
# the arguments are checked before the maps are opened. A good call of a
# verb that needs the maps exits 1 saying "nothing pinned" without them.
# Then the list verbs over a pin dir whose maps cannot be listed (bpftool
# pins a ring buffer under their names): exit 1, one error, never a list.
#
# The verbs come from `mxguardctl -j help`: a verb of the table with no
# usage row (exit 2) or no row that gets past the arguments fails the
# test, so a new verb needs its rows here.
#
# Usage: tests/integration/test_cli.sh BUILD   (root; exit 77 = skip)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# ---------------------------------------------------------------- the rows
#
# One row a line: NOPIN DAEMON | SUBSTRING | ARGUMENTS
#   NOPIN, DAEMON: the exit status with nothing pinned, with the daemon.
#   SUBSTRING: what stderr must hold when the run fails; '-' for none.
#     Where NOPIN is 1 the nothing-pinned runs must say "nothing pinned"
#     instead (the substring is then the daemon's), unless the row gives
#     a --pin-dir of its own.
#   ARGUMENTS: shell words after `mxguardctl [-j|-p] --pin-dir DIR`; a
#     later --pin-dir overrides the test's. Rows run in order, all rows
#     in one mode before the next mode, so an add is undone by a del.
# Object and verb names are written in full here (prefix rows are extra
# and count for no verb); the lab's one class is smtp.
ROWS=$(cat <<'EOF'
# global options and what comes before any object
0 0 | - | help
0 0 | - | -h
0 0 | - | --help
0 0 | - | help ban
0 0 | - | help li
2 2 | help: unknown object 'nosuch' | help nosuch
2 2 | help: ambiguous object 't' | help t
2 2 | usage: help [OBJECT] | help ban add
2 2 | unknown option '-x' | -x status
2 2 | unknown option '--colour' | --colour status
2 2 | no value for option '--pin-dir' | --pin-dir
2 2 | no object given | -v
2 2 | unknown object 'nosuch' | nosuch
2 2 | ambiguous object 'stat' | stat
2 2 | ban needs a command | ban
2 2 | unknown command 'ban nosuch' | ban nosuch
1 1 | pin dir /tmp: not on a bpf filesystem | --pin-dir /tmp status
1 1 | pin dir /etc/hostname: not a directory | --pin-dir /etc/hostname status
1 1 | no such directory | --pin-dir /sys/fs/bpf/mxg-cli-nosuch-dir stats
# status
1 0 | - | status
1 0 | - | -v status
2 2 | status takes no arguments | status x
2 2 | status takes no arguments | status --all
# stats
1 0 | - | stats
2 2 | stats takes no arguments | stats x
# metrics (text only: with -j or -p every row is a usage error)
1 0 | - | metrics
1 1 | metrics --output: cannot create a temporary file in /nonexistent-mxg | metrics --output /nonexistent-mxg/m.prom
2 2 | metrics: unexpected argument 'extra' | metrics extra
2 2 | no value for option '--output' | metrics --output
2 2 | unknown option '--nope' | metrics --nope
# top
1 0 | - | top
1 0 | - | top -n 5 --by conns
1 0 | - | top --by unknown --number 1000000
2 2 | top: unexpected argument 'x' | top x
2 2 | top: unknown option '-x' | top -x
2 2 | top: no value for option '-n' | top -n
2 2 | top -n: '0' is not a number from 1 to 1000000 | top -n 0
2 2 | top -n: '1000001' is not a number | top -n 1000001
2 2 | top -n: '5x' is not a number | top -n 5x
2 2 | top --by: 'size' is not one of rate, conns, unknown | top --by size
# limit
1 0 | - | limit show
1 0 | - | limit show smtp
1 1 | limit show: no class 'nope' | limit show nope
2 2 | usage: limit show [CLASS] | limit show smtp ldap
1 0 | - | limit set smtp rate=5/s burst=10 source_conns=unlimited
1 1 | limit set: no class 'nope' | limit set nope rate=5/s
2 2 | usage: limit set CLASS KEY=VALUE... | limit set
2 2 | usage: limit set CLASS KEY=VALUE... | limit set smtp
2 2 | limit set: unknown key 'foo' | limit set smtp foo=1
2 2 | limit set: 'rate' is not KEY=VALUE | limit set smtp rate
2 2 | limit set: [class smtp] rate: 'fast' is not a rate | limit set smtp rate=fast
2 2 | limit set: [class smtp] burst: '0' is not a number in 1..1000000 | limit set smtp burst=0
2 2 | limit set: [class smtp] ipv4_prefix: '33' is not a prefix length | limit set smtp ipv4_prefix=33
# tuner
1 0 | - | tuner
2 2 | tuner takes no arguments | tuner show
# allow / deny
1 0 | - | allow add 198.18.250.0/24 2001:db8:250::/48
1 0 | - | allow list
1 0 | - | allow del 198.18.250.0/24 2001:db8:250::/48
1 1 | 198.18.250.0/24 is not on the allow list | allow del 198.18.250.0/24
2 2 | usage: allow add CIDR... | allow add
2 2 | '198.18.0.0/33' is not an address or CIDR | allow add 198.18.0.0/24 198.18.0.0/33
2 2 | usage: allow del CIDR... | allow del
2 2 | 'x' is not an address or CIDR | allow del x
2 2 | allow list takes no arguments | allow list x
1 0 | - | deny add 198.18.251.7
1 0 | - | deny list
1 0 | - | deny del 198.18.251.7
2 2 | usage: deny add CIDR... | deny add
2 2 | '-5' is not an address or CIDR | deny add -5
2 2 | usage: deny del CIDR... | deny del
2 2 | 'not-a-cidr' is not an address or CIDR | deny del not-a-cidr
2 2 | deny list takes no arguments | deny list x
# ban
1 0 | - | ban add 198.18.252.7 --ttl 1h --class smtp
1 0 | - | ban list
1 0 | - | ban del 198.18.252.7
1 1 | 198.18.252.7 is not banned | ban del 198.18.252.7
1 1 | ban add --class: no class 'nope' | ban add 198.18.252.8 --class nope
2 2 | usage: ban add ADDR|CIDR | ban add
2 2 | usage: ban add ADDR|CIDR | ban add 198.18.0.1 198.18.0.2
2 2 | ban add: unknown option '--color' | ban add 198.18.0.1 --color red
2 2 | ban add: no value for option '--ttl' | ban add 198.18.0.1 --ttl
2 2 | ban add --ttl: '0' is not a duration from 1s to 366d | ban add 198.18.0.1 --ttl 0
2 2 | '198.18.0.1/24' is not an address or CIDR | ban add 198.18.0.1/24
2 2 | usage: ban del ADDR|CIDR | ban del
2 2 | '2001:db8::/129' is not an address or CIDR | ban del 2001:db8::/129
2 2 | ban list takes no arguments | ban list x
# rcpt
1 0 | - | rcpt check '<Alice+lists@Example.ORG>'
1 0 | - | rcpt stats
2 2 | usage: rcpt check ADDRESS | rcpt check
2 2 | usage: rcpt check ADDRESS | rcpt check a@example.org b@example.org
2 2 | rcpt check: 'nobody' is not an address the mirror can hold: no '@' | rcpt check nobody
2 2 | rcpt stats takes no arguments | rcpt stats x
# unload: refused while the daemon runs (the cleanup unloads)
1 1 | mxguardd is running | unload
2 2 | unload takes no arguments | unload now
# prefixes select the entry whose arguments are checked
1 0 | - | b l
2 2 | ban list takes no arguments | b l x
2 2 | usage: limit set CLASS KEY=VALUE... | lim se smtp
EOF
)

LAB_TOOLS_NEEDED=""	# no traffic: the CLI is all it runs
lab_init "${1:?usage: $0 BUILD}" cli

# ---------------------------------------------------------------- checks

# One python3 runs a whole state's rows (a process per run of the checks
# made a state take minutes on a loaded machine): mxguardctl is run
# directly, its outputs checked as above. It prints one FAIL line per
# failed run and exits with their count (at most 100).
# argv: MXGCTL STATE PIN USAGE_FILE; the rows on stdin. USAGE_FILE keeps
# each usage error's stderr from the first state, to compare the others
# with. STATE "coverage" checks the rows against `mxguardctl -j help`.
rows_py() {
	python3 - "$@" 3<<<"$ROWS" <<'PY'
import json, os, shlex, subprocess, sys

ctl, state, pin, usage_file = sys.argv[1:5]
rows = []
for line in os.fdopen(3):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    codes, sub, argv = line.split(" | ", 2)
    nopin, daemon = (int(c) for c in codes.split())
    rows.append((line, nopin, daemon, sub, shlex.split(argv)))

def run(args):
    p = subprocess.run([ctl] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr

table = json.loads(run(["-j", "help"])[1])
verbs = [c["object"] + (" " + c["verb"] if c["verb"] else "")
         for c in table["commands"]]
# Commands whose output has no JSON form: with -j or -p, a usage error.
text_only = {v for v, c in zip(verbs, table["commands"]) if not c["json"]}

def verb_of(args):
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] == "--pin-dir" else 1
    for n in (2, 1):
        if " ".join(args[i:i + n]) in verbs:
            return " ".join(args[i:i + n])

if state == "coverage":
    usage, other = set(), set()
    for _, nopin, daemon, _, args in rows:
        (usage if (nopin, daemon) == (2, 2) else other).add(verb_of(args))
    missing = ["'%s' has no usage row (exit 2)" % v for v in verbs if v not in usage]
    missing += ["'%s' has no row past its arguments" % v for v in verbs if v not in other]
    for m in missing:
        print("FAIL rows missing: %s" % m)
    print("%d commands in mxguardctl -j help, %d rows" % (len(verbs), len(rows)))
    sys.exit(min(len(missing), 100))

try:
    usage_seen = json.load(open(usage_file))
except FileNotFoundError:
    usage_seen = {}
fails = runs = 0
for mode in ("", "-j", "-p"):
    for line, nopin, daemon, sub, args in rows:
        want = daemon if state == "daemon" else nopin
        # Past the arguments, nothing pinned is the error (but for rows
        # that name a pin dir of their own).
        if state != "daemon" and want == 1 and "--pin-dir" not in args:
            sub = "nothing pinned"
        if mode and verb_of(args) in text_only:
            want, sub = 2, "has no JSON form"
        argv = ([mode] if mode else []) + ["--pin-dir", pin] + args
        rc, out, err = run(argv)
        runs += 1
        bad = ""
        if rc != want:
            bad = "exit %d, want %d" % (rc, want)
        elif rc and err.count("\n") != 1 or rc and not err.endswith("\n"):
            bad = "%d lines on stderr, want 1" % err.count("\n")
        elif rc and sub != "-" and sub not in err:
            bad = "stderr lacks %r" % sub
        elif not rc and err and "-v" not in args:
            bad = "something on stderr"
        elif not mode and rc and out:
            bad = "a failure wrote to stdout"
        elif mode:
            try:
                doc = json.loads(out)  # two documents: "Extra data"
            except ValueError as e:
                doc, bad = None, "stdout is not one JSON document (%s)" % e
            is_error = isinstance(doc, dict) and list(doc) == ["error"]
            if bad:
                pass
            elif rc and not is_error:
                bad = "exit %d but stdout is not {\"error\": ...}" % rc
            elif rc and "mxguardctl: " + doc["error"] + "\n" != err:
                bad = "the JSON error is not the stderr line"
            elif not rc and is_error:
                bad = "exit 0 with an error document"
            elif mode == "-p" and doc and isinstance(doc, (dict, list)) \
                    and "\n    " not in out:
                bad = "-p output is not indented"
        # A usage error is the same line in every state.
        key = mode + " " + line
        if not bad and (nopin, daemon) == (2, 2):
            if key in usage_seen and usage_seen[key] != err:
                bad = "not the message of state %s: %r" % (
                    usage_seen[key + " state"], usage_seen[key])
            usage_seen.setdefault(key, err)
            usage_seen.setdefault(key + " state", state)
        if bad:
            fails += 1
            print("FAIL [%s %s] mxguardctl %s: %s; stderr %r; stdout %r" % (
                state, mode or "text", " ".join(argv), bad, err[:300], out[:300]))
json.dump(usage_seen, open(usage_file, "w"))
print("%s: %d runs, %d failed" % (state, runs, fails))
sys.exit(min(fails, 100))
PY
}

# run_rows STATE PIN: every row in every mode with --pin-dir PIN.
run_rows() {
	local out rc=0
	out=$(rows_py "$MXGCTL" "$1" "$2" "$LAB_TMP/usage.json") || rc=$?
	log "$out"
	return "$rc"
}

check "every command of mxguardctl -j help has rows" run_rows coverage -

# ---------------------------------------------------------------- nothing pinned

check "nothing pinned (no pin dir): every row as its table says" \
	run_rows missing "$LAB_PIN"
check "no pin dir was created" test ! -e "$LAB_PIN"

empty=$LAB_PIN-empty
LAB_PINS_MORE+=("$empty")
mkdir "$empty"
check "nothing pinned (an empty dir on bpffs): every row as its table says" \
	run_rows empty "$empty"
rmdir "$empty"

# ---------------------------------------------------------------- the daemon

lab_netns_up
conf=$LAB_TMP/mxguard.conf
conf_write "$conf" detach "[class smtp]" "ports = 25" "rate = 10/s" "burst = 20"
mxgd_start "$conf" "$LAB_TMP/mxguardd.log"
check "with mxguardd running: every row as its table says" \
	run_rows daemon "$LAB_PIN"
check "mxguardd still runs" kill -0 "$MXGD_PID"

# ------------------------------------------------- maps that cannot be listed

# The daemon's pins again in another dir, but the lists' maps replaced by
# a ring buffer, which has no keys to walk: each list verb must fail,
# saying so, and never print an empty list.
if command -v bpftool >/dev/null; then
	broken=$LAB_PIN-broken
	LAB_PINS_MORE+=("$broken")
	mkdir "$broken"
	for f in "$LAB_PIN"/mxg_*; do
		name=${f##*/}
		case $name in
		mxg_allow | mxg_deny | mxg_bans | mxg_sources)
			bpftool map create "$broken/$name" type ringbuf key 0 value 0 \
				entries 4096 name "$name" || die "bpftool map create failed"
			;;
		*)
			# Programs and links are pinned too: only maps matter.
			bpftool map pin pinned "$f" "$broken/$name" 2>/dev/null || true
			;;
		esac
	done
	ROWS=$(printf '1 1 | %s | %s\n' \
		"allow list: cannot read mxg_allow" "allow list" \
		"deny list: cannot read mxg_deny" "deny list" \
		"ban list: cannot read mxg_bans" "ban list" \
		"top: cannot read the sources" "top" \
		"top: cannot read the sources" "top -n 1")
	check "list verbs over maps that cannot be listed: exit 1, one error, no list" \
		run_rows daemon "$broken"
	rm -rf "$broken"
else
	log "no bpftool: the unreadable-maps case is left out"
fi

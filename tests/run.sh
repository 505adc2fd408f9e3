#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Test runner behind `make test`: tests/run.sh BUILD [unit|bpf|integration ...]
# (default: all three, in that order).
#
#   unit         every BUILD/tests/unit/test_* binary (no privileges)
#   bpf          every BUILD/tests/bpf/test_* binary (root, bpffs)
#   integration  every tests/integration/test_*.sh, given BUILD (root,
#                bpffs, ip netns, real Postfix)
#
# Each program is one test: exit 0 passes, 77 skips, anything else fails;
# each is bounded by timeout(1). The bpf and integration suites are skipped,
# with the reason, where root, bpffs or network namespaces are missing,
# unless MXG_REQUIRE_BPF=1 (CI), where every skip counts as a failure: a CI
# run that silently tested nothing must not look green.
set -euo pipefail

usage() { echo "usage: $0 BUILD [unit|bpf|integration ...]" >&2; exit 2; }
(($# >= 1)) || usage
[[ -d $1 ]] || { echo "run.sh: build dir '$1' does not exist (run make)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
export MXG_BUILD=$BUILD
shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
# Tests may open fixtures relative to the source tree.
cd "$SRC"
suites=("$@")
((${#suites[@]})) || suites=(unit bpf integration)
for s in "${suites[@]}"; do
	case $s in unit | bpf | integration) ;; *) usage ;; esac
done

REQUIRE=${MXG_REQUIRE_BPF:-0}
TIMEOUT_UNIT=${MXG_TIMEOUT_UNIT:-120}
TIMEOUT_BPF=${MXG_TIMEOUT_BPF:-120}
TIMEOUT_INTEGRATION=${MXG_TIMEOUT_INTEGRATION:-600}

npass=0 nfail=0 nskip=0
out=$(mktemp /tmp/mxg-run-$$.XXXXXX)
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Show a failing test's output, bounded so a runaway log stays readable.
show_output() {
	local n
	n=$(wc -l <"$out")
	if ((n > 200)); then
		echo "    ... ($((n - 200)) earlier lines omitted)"
	fi
	tail -n 200 "$out" | sed 's/^/    /'
}

record_skip() { # NAME REASON PRIVILEGED
	if [[ $3 == 1 && $REQUIRE == 1 ]]; then
		echo "FAIL $1 (skipped, but MXG_REQUIRE_BPF=1: $2)"
		nfail=$((nfail + 1))
	else
		echo "SKIP $1 ($2)"
		nskip=$((nskip + 1))
	fi
}

# run_one NAME SECONDS PRIVILEGED CMD...
run_one() {
	local name=$1 secs=$2 priv=$3 rc=0
	shift 3
	# --kill-after: a test that ignores SIGTERM still ends; the tests'
	# own TERM trap cleans their namespaces first.
	timeout --kill-after=15 "$secs" "$@" >"$out" 2>&1 </dev/null || rc=$?
	case $rc in
	0)
		echo "PASS $name"
		npass=$((npass + 1))
		;;
	77)
		record_skip "$name" "$(grep -v '^\s*$' "$out" | tail -n 1)" "$priv"
		;;
	*)
		if ((rc == 124 || rc == 137)); then
			echo "FAIL $name (timed out after ${secs} s)"
		else
			echo "FAIL $name (exit $rc)"
		fi
		show_output
		nfail=$((nfail + 1))
		;;
	esac
}

# Why the privileged suites cannot run here; empty when they can.
privileged_missing() {
	if ((EUID != 0)); then
		echo "not root"
		return
	fi
	command -v ip >/dev/null || { echo "ip (iproute2) not installed"; return; }
	if ! mountpoint -q /sys/fs/bpf && ! mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
		echo "bpffs not mountable on /sys/fs/bpf"
		return
	fi
	local ns="mxgrun-$$"
	if ! ip netns add "$ns" 2>/dev/null; then
		echo "cannot create network namespaces"
		return
	fi
	ip netns del "$ns"
}

# list_tests SUITE: the test programs of one suite, one per line.
list_tests() {
	local f
	case $1 in
	unit | bpf)
		for f in "$BUILD/tests/$1"/test_*; do
			[[ -f $f && -x $f ]] && echo "$f"
		done
		;;
	integration)
		for f in "$SRC"/tests/integration/test_*.sh; do
			[[ -f $f ]] && echo "$f"
		done
		;;
	esac
	return 0
}

for suite in "${suites[@]}"; do
	mapfile -t tests < <(list_tests "$suite")
	echo "== $suite (${#tests[@]} tests)"
	priv=0 why=""
	if [[ $suite != unit ]]; then
		priv=1
		why=$(privileged_missing)
	fi
	if ((${#tests[@]} == 0)); then
		# An empty suite is worth a line: a build that produced no tests
		# is not the same as tests that passed.
		record_skip "$suite" "no test programs found" 0
		continue
	fi
	for t in "${tests[@]}"; do
		name="$suite/$(basename "$t")"
		if [[ -n $why ]]; then
			record_skip "$name" "$why" 1
			continue
		fi
		case $suite in
		unit) run_one "$name" "$TIMEOUT_UNIT" 0 "$t" ;;
		bpf) run_one "$name" "$TIMEOUT_BPF" 1 "$t" ;;
		integration) run_one "$name" "$TIMEOUT_INTEGRATION" 1 bash "$t" "$BUILD" ;;
		esac
	done
done

echo "$npass passed, $nfail failed, $nskip skipped"
((nfail == 0))

# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
#
# What only the integration tests need, on top of the lab (tools/lab.sh:
# namespaces, Postfix, slapd, mxguardd, the load generators, waits and
# cleanup): the verdict helpers. A test passes when it reaches its end,
# fails (exit 1) at the first die or at soft_verdict, and skips (exit 77)
# when the machine cannot run the lab.

. "$(dirname "${BASH_SOURCE[0]}")/../../tools/lab.sh"

skip() { log "SKIP: $*"; exit 77; }
lab_unavailable() { skip "$@"; }
pass() { log "ok: $*"; }

# not CMD...: succeeds when CMD fails (usable where `!` is not, e.g. as an
# argument of check or wait_until).
not() { ! "$@"; }

# check COND-DESCRIPTION CMD...: run CMD; fail the test with the description
# when it is false. Keeps the assertions readable in the tests.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else die "$what"; fi
}

# soft CHECK...: run a check (check, or any command that dies on failure)
# in a subshell, so that a failure is logged and recorded but the test
# goes on: one run then shows every independent failure, not just the
# first. soft_verdict at the end fails the test if any was recorded.
LAB_SOFT_FAILED=()
soft() {
	if ("$@"); then :; else LAB_SOFT_FAILED+=("${*:1:2}"); fi
}
soft_verdict() {
	local f
	((${#LAB_SOFT_FAILED[@]} == 0)) && return 0
	for f in "${LAB_SOFT_FAILED[@]}"; do
		log "failed: $f"
	done
	die "${#LAB_SOFT_FAILED[@]} check(s) failed (see above)"
}

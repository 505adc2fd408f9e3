#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The SMTP inspection acceptance test (test_inspect.sh, every case of it)
# with admission attached on tc instead of XDP. The SMTP reader is then the
# second filter on the same tc ingress hook, and it sees a segment only if
# admission's pass verdict lets the chain go on (TC_ACT_UNSPEC, not
# TC_ACT_OK): with the wrong verdict no recipient is ever counted, and
# every check of test_inspect.sh that counts one fails.
#
# Usage: tests/integration/test_inspect_tc.sh BUILD   (root; exit 77 = skip)
LAB_ATTACH=tc exec bash "$(dirname "$0")/test_inspect.sh" "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# `make test-kernels`: the kernel matrix. mxguard is loaded at boot on the
# kernels mail hosts run, not only on the development kernel: for each
# kernel of the matrix this boots it under qemu (tools/kernel-vm.sh) and
# runs tools/kernel-guest.sh in it (every program loaded with its verifier
# statistics, the tests/bpf suites, mxguardd live with attach = xdp and
# attach = tc). Each PASS/FAIL line of the guest is printed with the
# kernel's version in front; a kernel that does not boot or whose guest
# stops early is a FAIL of its own. It ends with one overall "N passed,
# N failed" line and exits non-zero when anything failed.
#
#   tools/test-kernels.sh [-p] [BUILD]      (root; BUILD default build)
#
#   -p   probe only: each kernel runs `mxguardd --probe` and nothing else
#        (make bench's kernels part)
#
# The matrix: MXG_KERNELS ("pkg1 pkg2": linux-image packages, kernel
# versions or .deb files), by default the newest
# linux-image-6.1.0-NN-amd64-unsigned (Debian 12's own kernel) and the
# newest linux-image-6.12.*+deb12-amd64-unsigned that apt-cache knows.
# Written to MXG_KERNEL_OUT (default BUILD/kernels): console-KVER.log, the
# whole serial console of each boot, and verifier-KVER.txt, the probe's
# lines (one per program: instructions verified, or why it was rejected).
# MXG_KERNEL_VERBOSE=1 also streams the consoles; MXG_KERNEL_TIMEOUT and
# MXG_KERNEL_CACHE go to tools/kernel-vm.sh.
set -euo pipefail

tools=$(cd "$(dirname "$0")" && pwd)
guest_mode=all
if [[ ${1:-} == -p ]]; then
	guest_mode=probe
	shift
fi
(($# <= 1)) || { echo "usage: $0 [-p] [BUILD]" >&2; exit 2; }
build=${1:-build}
[[ -d $build ]] || { echo "test-kernels: no build dir '$build' (run make)" >&2; exit 2; }
build=$(cd "$build" && pwd)
out=${MXG_KERNEL_OUT:-$build/kernels}
mkdir -p "$out"

vm_pid=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# kernel-vm.sh kills its qemu on TERM.
	[[ -n $vm_pid ]] && kill -TERM "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# newest REGEX: the newest package apt-cache knows whose name matches.
newest() {
	apt-cache search --names-only "$1" | awk '{ print $1 }' | sort -V | tail -n 1
}

if [[ -n ${MXG_KERNELS:-} ]]; then
	read -r -a kernels <<<"$MXG_KERNELS"
else
	k61=$(newest '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$')
	k612=$(newest '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$')
	# A fresh machine (a container image) may have no package lists.
	if [[ -z $k61 || -z $k612 ]] && ((EUID == 0)); then
		echo "test-kernels: no kernel packages in apt's lists; apt-get update"
		apt-get update -qq
		k61=$(newest '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$')
		k612=$(newest '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$')
	fi
	if [[ -z $k61 || -z $k612 ]]; then
		echo "test-kernels: apt-cache knows no linux-image-6.1.0-NN-amd64-unsigned or linux-image-6.12.*+deb12-amd64-unsigned (apt-get update?)" >&2
		exit 1
	fi
	kernels=("$k61" "$k612")
fi

total_pass=0 total_fail=0 times=()
for k in "${kernels[@]}"; do
	# The label: the kernel's version as uname -r gives it.
	kv=$(basename "$k" .deb)
	kv=${kv#linux-image-}
	kv=${kv%%_*}
	kv=${kv%-unsigned}
	verifier=$out/verifier-$kv.txt
	console=$out/console-$kv.log
	: >"$verifier"
	echo "test-kernels: $kv ($k), $guest_mode"
	npass=0 nfail=0 summary="" start=$SECONDS
	exec {vm_fd}< <(MXG_KERNEL_LOG=$console exec "$tools/kernel-vm.sh" -b "$build" "$k" \
		"$tools/kernel-guest.sh" "$guest_mode" 2>&1)
	vm_pid=$!
	while IFS= read -r line <&"$vm_fd"; do
		line=${line%$'\r'}
		case $line in
		PASS\ * | FAIL\ *)
			echo "$kv $line"
			if [[ $line == PASS* ]]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
			;;
		verifier:\ *) echo "${line#verifier: }" >>"$verifier" ;;
		kernel-vm:\ *) echo "$line" ;;
		*)
			[[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]] && summary=$line
			[[ ${MXG_KERNEL_VERBOSE:-0} == 1 ]] && echo "$kv | $line"
			;;
		esac
	done
	exec {vm_fd}<&-
	rc=0
	wait "$vm_pid" || rc=$?
	vm_pid=""
	# The guest's own count must match the lines read, and its exit
	# status its count: anything else is a boot or a guest that broke.
	if [[ -z $summary ]]; then
		echo "$kv FAIL boot: no summary from the guest (kernel-vm exit $rc; console: $console)"
		nfail=$((nfail + 1))
	elif [[ $summary != "$npass passed, $nfail failed" ]]; then
		echo "$kv FAIL guest: it counted '$summary', the lines read were $npass passed, $nfail failed (console: $console)"
		nfail=$((nfail + 1))
	elif ((rc != 0 && nfail == 0)); then
		echo "$kv FAIL guest: exit $rc with nothing failed (console: $console)"
		nfail=$((nfail + 1))
	fi
	times+=("$kv $((SECONDS - start)) s")
	echo "test-kernels: $kv: $npass passed, $nfail failed in $((SECONDS - start)) s (console: $console)"
	total_pass=$((total_pass + npass))
	total_fail=$((total_fail + nfail))
done

echo "test-kernels: $(IFS=,; echo "${times[*]}" | sed 's/,/, /g')"
echo "$total_pass passed, $total_fail failed"
((total_fail == 0))

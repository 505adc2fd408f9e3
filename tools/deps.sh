#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Install the Debian packages mxguard needs to build, test, demo and bench.
# Idempotent: only what is missing is installed, so it is cheap to run from
# .ci/run and from `make test` on a machine that already has everything.
set -euo pipefail

pkgs=(
	# build
	make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libldap-dev libinih-dev libsystemd-dev uthash-dev
	# mxguardd's /metrics endpoint ([metrics] listen)
	libmicrohttpd-dev
	# make deb: the Debian package, checked with lintian; the completion
	# file's directory comes from bash-completion's pkg-config file
	debhelper lintian bash-completion
	# tests
	libcmocka-dev libsodium-dev iproute2 procps psmisc
	# the real servers and clients the integration tests and the demo run
	postfix postfix-ldap swaks slapd ldap-utils
	# forged frames in tests/integration/test_forged.sh
	python3-scapy
	# promtool checks the metrics and docs/alerts.yml; curl scrapes the
	# endpoint in tests/integration/test_metrics.sh
	prometheus curl
	# the hardened unit: systemd-analyze, setpriv and capsh for the run
	# with exactly the unit's capabilities
	systemd util-linux libcap2-bin
	# the private Exim of tests/integration/test_exim.sh: its binary is
	# unpacked from exim4-daemon-light (it conflicts with postfix), so
	# its libraries are installed here
	libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0
	# swaks needs it for IPv6 (-6, [2001:db8::1])
	libio-socket-inet6-perl
	# make bench: the filters mxguard is compared with, and the plot
	iptables nftables gnuplot-nox
	# make test-kernels: Debian's kernels under qemu with a busybox
	# initramfs (tools/kernel-vm.sh); kmod for depmod/modprobe on the
	# unpacked modules, xz for 6.12's .ko.xz
	qemu-system-x86 busybox-static kmod xz-utils
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
# Exim's binary is unpacked, never installed (tools/exim-unpack.sh): also
# when every package is there already.
unpack_exim() { "$(dirname "$0")/exim-unpack.sh" >/dev/null; }
((${#missing[@]})) || { unpack_exim; exit; }

if ((EUID != 0)); then
	echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix and slapd ask debconf questions; CI has no terminal. The tests run
# private instances, so the system-wide ones stay unconfigured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
# No init scripts may start the packaged daemons during installation.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
fi
trap 'if ((own_policy)); then rm -f "$policy"; fi' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
unpack_exim

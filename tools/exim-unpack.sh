#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Unpack Debian's Exim for tests/integration/test_exim.sh, beside Postfix:
# exim4-daemon-light conflicts with postfix (both provide
# mail-transport-agent), so it is never installed. Its .deb and
# exim4-config's (Debian's configuration: conf.d, update-exim4.conf) are
# fetched with `apt-get download` into a cache outside the tree and
# unpacked there with dpkg-deb -x; nothing of exim4-base is needed. The
# test runs $cache/root/usr/sbin/exim4 with a private configuration and
# with one generated from $cache/root/etc/exim4. The binary's shared
# libraries are installed by tools/deps.sh; this checks with ldd that none
# is missing.
#
# Idempotent: a second run finds the tree and only repeats the ldd check.
# Called at the end of tools/deps.sh; prints the binary's path.
#
# Usage: tools/exim-unpack.sh   (root; MXG_EXIM_CACHE, default
#        /var/cache/mxguard/exim4)
set -euo pipefail
. "$(dirname "$0")/apt-deb.sh"

pkgs=(exim4-daemon-light exim4-config)
cache=${MXG_EXIM_CACHE:-/var/cache/mxguard/exim4}
tree=$cache/root
exim=$tree/usr/sbin/exim4

# unpacked: the tree holds every package of $pkgs (an older run of this
# script unpacked fewer).
unpacked() {
	local p
	[[ -e $tree/.unpacked ]] || return 1
	for p in "${pkgs[@]}"; do
		grep -q "^${p}_" "$tree/.unpacked" || return 1
	done
}

# ldd_missing BINARY: the libraries BINARY needs that are not found.
ldd_missing() { ldd "$1" | awk '/not found/ { print $1 }'; }

if ! unpacked; then
	if ((EUID != 0)); then
		echo "exim-unpack: needs root (apt-get download into $cache)" >&2
		exit 1
	fi
	mkdir -p "$cache"
	# One run at a time; a second waits (bounded) and then finds the tree.
	exec {lock_fd}>"$cache/.lock"
	flock -w 300 "$lock_fd" || { echo "exim-unpack: $cache is locked by another run" >&2; exit 1; }
	if ! unpacked; then
		rm -rf "$tree" "$tree.new"
		for pkg in "${pkgs[@]}"; do
			deb=$(apt_deb exim-unpack "$cache" "$pkg")
			echo "exim-unpack: unpacking $(basename "$deb")" >&2
			dpkg-deb -x "$deb" "$tree.new"
			basename "$deb" >>"$tree.new/.debs"
		done
		for f in usr/sbin/exim4 usr/sbin/update-exim4.conf etc/exim4/conf.d/router; do
			[[ -e $tree.new/$f ]] ||
				{ echo "exim-unpack: no $f in $(xargs <"$tree.new/.debs")" >&2; rm -rf "$tree.new"; exit 1; }
		done
		mv "$tree.new/.debs" "$tree.new/.unpacked"
		mv "$tree.new" "$tree"
	fi
	flock -u "$lock_fd"
fi

missing=$(ldd_missing "$exim" | xargs)
if [[ -n $missing ]]; then
	echo "exim-unpack: $exim needs libraries that are not installed: $missing (add their packages to tools/deps.sh)" >&2
	exit 1
fi
echo "$exim"

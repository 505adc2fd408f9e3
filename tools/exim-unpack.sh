#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Unpack Debian's Exim binary for tests/integration/test_exim.sh, beside
# Postfix: exim4-daemon-light conflicts with postfix (both provide
# mail-transport-agent), so it is never installed. Its .deb is fetched with
# `apt-get download` into a cache outside the tree and unpacked there with
# dpkg-deb -x; the test runs $cache/root/usr/sbin/exim4 with a private
# config and needs nothing from exim4-base or exim4-config. Its shared
# libraries are installed by tools/deps.sh; this checks with ldd that none
# is missing.
#
# Idempotent: a second run finds the tree and only repeats the ldd check.
# Called at the end of tools/deps.sh; prints the binary's path.
#
# Usage: tools/exim-unpack.sh   (root; MXG_EXIM_CACHE, default
#        /var/cache/mxguard/exim4)
set -euo pipefail

pkg=exim4-daemon-light
cache=${MXG_EXIM_CACHE:-/var/cache/mxguard/exim4}
tree=$cache/root
exim=$tree/usr/sbin/exim4

# ldd_missing BINARY: the libraries BINARY needs that are not found.
ldd_missing() { ldd "$1" | awk '/not found/ { print $1 }'; }

if [[ ! -e $tree/.unpacked ]]; then
	if ((EUID != 0)); then
		echo "exim-unpack: needs root (apt-get download into $cache)" >&2
		exit 1
	fi
	mkdir -p "$cache"
	# One run at a time; a second waits (bounded) and then finds the tree.
	exec {lock_fd}>"$cache/.lock"
	flock -w 300 "$lock_fd" || { echo "exim-unpack: $cache is locked by another run" >&2; exit 1; }
	if [[ ! -e $tree/.unpacked ]]; then
		shopt -s nullglob
		debs=("$cache/${pkg}"_*_amd64.deb /var/cache/apt/archives/"${pkg}"_*_amd64.deb)
		shopt -u nullglob
		if ((${#debs[@]} == 0)); then
			echo "exim-unpack: fetching $pkg into $cache" >&2
			# As root into a directory _apt may not write: no sandbox
			# user. Stale lists name a version the mirror no longer
			# has: once more after an update.
			fetch() { (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); }
			fetch || { apt-get update -qq >&2 && fetch; } ||
				{ echo "exim-unpack: apt-get download $pkg failed" >&2; exit 1; }
			shopt -s nullglob
			debs=("$cache/${pkg}"_*_amd64.deb)
			shopt -u nullglob
			((${#debs[@]})) || { echo "exim-unpack: apt-get download left no $pkg .deb in $cache" >&2; exit 1; }
		fi
		deb=$(printf '%s\n' "${debs[@]}" | sort -V | tail -n 1)
		echo "exim-unpack: unpacking $(basename "$deb")" >&2
		rm -rf "$tree" "$tree.new"
		dpkg-deb -x "$deb" "$tree.new"
		[[ -x $tree.new/usr/sbin/exim4 ]] ||
			{ echo "exim-unpack: $deb holds no usr/sbin/exim4" >&2; rm -rf "$tree.new"; exit 1; }
		basename "$deb" >"$tree.new/.unpacked"
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

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

# newest_deb DIR: the newest version of $pkg's .deb in DIR, or nothing.
newest_deb() {
	local f=()
	shopt -s nullglob
	f=("$1/${pkg}"_*_amd64.deb "$1/${pkg}"_*_all.deb)
	shopt -u nullglob
	((${#f[@]})) && printf '%s\n' "${f[@]}" | sort -V | tail -n 1
	return 0
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
			deb=$(newest_deb "$cache")
			[[ -n $deb ]] || deb=$(newest_deb /var/cache/apt/archives)
			if [[ -z $deb ]]; then
				echo "exim-unpack: fetching $pkg into $cache" >&2
				# As root into a directory _apt may not write: no
				# sandbox user. Stale lists name a version the
				# mirror no longer has: once more after an update.
				fetch() { (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); }
				fetch || { apt-get update -qq >&2 && fetch; } ||
					{ echo "exim-unpack: apt-get download $pkg failed" >&2; exit 1; }
				deb=$(newest_deb "$cache")
				[[ -n $deb ]] || { echo "exim-unpack: apt-get download left no $pkg .deb in $cache" >&2; exit 1; }
			fi
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

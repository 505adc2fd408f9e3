# SPDX-License-Identifier: BSD-2-Clause
#
# Sourced by tools/kernel-vm.sh and tools/exim-unpack.sh: the .deb of a
# Debian package that the lab unpacks (dpkg-deb -x) but never installs.

# newest_deb DIR PKG: the newest version of PKG's .deb in DIR, or nothing.
newest_deb() {
	local f=()
	shopt -s nullglob
	f=("$1/$2"_*_amd64.deb "$1/$2"_*_all.deb)
	shopt -u nullglob
	((${#f[@]})) && printf '%s\n' "${f[@]}" | sort -V | tail -n 1
	return 0
}

# apt_deb WHO CACHE PKG [HINT]: prints the path of PKG's newest .deb in
# CACHE: one already there, a copy of apt's own, or one fetched with
# apt-get download. Root. A failure says why, naming WHO (and HINT), and
# exits.
apt_deb() {
	local who=$1 cache=$2 pkg=$3 hint=${4:+ ($4)} deb
	deb=$(newest_deb "$cache" "$pkg")
	if [[ -z $deb ]]; then
		deb=$(newest_deb /var/cache/apt/archives "$pkg")
		if [[ -n $deb ]]; then
			cp "$deb" "$cache/"
			deb=$cache/$(basename "$deb")
		fi
	fi
	if [[ -z $deb ]]; then
		echo "$who: fetching $pkg into $cache" >&2
		# As root into a directory _apt may not write: no sandbox user.
		# Stale lists name a version the mirror no longer has: once more
		# after an update.
		fetch() { (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); }
		fetch || { apt-get update -qq >&2 && fetch; } ||
			{ echo "$who: apt-get download $pkg failed$hint" >&2; exit 1; }
		deb=$(newest_deb "$cache" "$pkg")
		[[ -n $deb ]] || { echo "$who: apt-get download left no $pkg .deb in $cache" >&2; exit 1; }
	fi
	echo "$deb"
}

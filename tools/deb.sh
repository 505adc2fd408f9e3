#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# make deb: build the Debian package (debian/) without touching the tree's
# own build/ and build-san/: dpkg-buildpackage runs `make clean` and builds
# in its source tree, while the tests use build/ at the same time. So the
# tracked files (plus new, not ignored ones: a debian/ change need not be
# committed to be tried) are copied into build/deb/src, the package is
# built there, and mxguard_*.deb, .buildinfo and .changes land in
# build/deb/. A .deb newer than every source file is reused (the tests call
# `make deb` again under build-san); MXG_DEB_REBUILD=1 builds anew.
# No network: Build-Depends are installed by tools/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/deb
src=$out/src

# The source files, NUL-separated: git's list when this is a checkout, or
# every file but the build outputs when it is not (a release tarball).
list_sources() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				# A tracked file deleted in the work tree is not copied.
				[[ -e $f || -L $f ]] && printf '%s\0' "$f"
			done
	else
		find . \( -path ./build -o -path ./build-san -o -path ./.git \) -prune \
			-o \( -type f -o -type l \) -printf '%P\0'
	fi
}

shopt -s nullglob
debs=("$out"/mxguard_*.deb)
if ((${#debs[@]} == 1)) && [[ ${MXG_DEB_REBUILD:-0} != 1 ]]; then
	newer=$(list_sources | while IFS= read -r -d '' f; do
		if [[ $f -nt ${debs[0]} ]]; then echo "$f"; break; fi
	done || true) # the break ends list_sources with SIGPIPE
	# A file added or removed is caught by the list's digest, kept beside
	# the .deb.
	digest=$(list_sources | sha256sum | cut -d' ' -f1)
	if [[ -z $newer && -f $out/sources.sha256 && $(<"$out/sources.sha256") == "$digest" ]]; then
		echo "deb: ${debs[0]} is newer than every source file (MXG_DEB_REBUILD=1 rebuilds)"
		exit 0
	fi
fi

# The package is built as debian/rules says, not with this make's
# variables (`make SANITIZE=1 deb` passes SANITIZE=1 down, in MAKEFLAGS
# and in the environment).
unset MAKEFLAGS MFLAGS MAKELEVEL SANITIZE

rm -rf "$out"
mkdir -p "$src"
list_sources | tar --null -T - -cf - | tar -xf - -C "$src"
(cd "$src" && nice -n 10 dpkg-buildpackage -us -uc -b -J2)
list_sources | sha256sum | cut -d' ' -f1 >"$out/sources.sha256"
debs=("$out"/mxguard_*.deb)
((${#debs[@]} == 1)) || { echo "deb: expected one mxguard_*.deb in $out" >&2; exit 1; }
echo "deb: ${debs[0]}"

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Boot one of the kernels mail hosts run (a Debian linux-image package)
# under qemu with a small initramfs, run a script in it, and exit with that
# script's status. The kernel matrix (tools/test-kernels.sh) runs
# tools/kernel-guest.sh this way; anyone can run their own script:
#
#   tools/kernel-vm.sh [-b BUILD] KERNEL GUEST_SCRIPT [ARGS...]
#
# KERNEL is a package (linux-image-6.1.0-57-amd64-unsigned), a kernel
# version (6.1.0-57-amd64: its -unsigned package) or a .deb file. The
# package is taken from the cache (MXG_KERNEL_CACHE, default
# /var/cache/mxguard/kernels), else from apt's archives, else fetched with
# `apt-get download`; it is unpacked there with dpkg-deb -x and its modules
# indexed with depmod -b. Nothing is installed and nothing goes into /boot.
#
# The initramfs holds busybox (static, every applet linked into /bin),
# bash, iproute2's ip and tc (in /sbin: Debian's busybox sh would run its
# own applets ahead of PATH, so guest scripts call them by full path), the
# modules veth, sch_ingress and cls_bpf with what they depend on
# (decompressed, so busybox insmod loads them), and from BUILD (default
# build/): mxguardd, mxguardctl, tests/bpf/test_*, tools/connflood when it
# is built, and kernels/tcp-sink (compiled here from tools/kernels/); every
# library ldd lists for them. In the guest they are under /mxg/build, and
# the script runs as `bash /mxg/guest ARGS` from /mxg with MXG_BUILD and
# MXG_KVER set, after the init has mounted proc, sysfs, devtmpfs, bpffs,
# cgroup2 and tmpfs on /run and /tmp, turned kernel messages off the
# console (dmesg -n 1) and loaded the modules. Its exit status comes back
# as a sentinel line on the serial console.
#
# The console is streamed to stdout and to MXG_KERNEL_LOG (default a file
# under BUILD/kernels/); the whole run is bounded by MXG_KERNEL_TIMEOUT
# seconds (default 600), and qemu never outlives this script. Exit status:
# the guest script's; 124 on timeout; 125 when the guest ended without the
# sentinel (a panic, a failed boot); 2 on a usage error.
#
# qemu runs with software emulation (-accel tcg): on the nested /dev/kvm of
# the lab machines Debian's kernels hang at early boot.
set -euo pipefail
. "$(dirname "$0")/apt-deb.sh"

tools=$(cd "$(dirname "$0")" && pwd)
build=build
usage() {
	echo "usage: $0 [-b BUILD] KERNEL GUEST_SCRIPT [ARGS...]" >&2
	echo "  KERNEL: linux-image-... package, kernel version, or .deb file" >&2
	exit 2
}
while getopts b:h opt; do
	case $opt in
	b) build=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
(($# >= 2)) || usage
kernel=$1 guest=$2
shift 2
[[ -f $guest ]] || { echo "kernel-vm: no guest script '$guest'" >&2; exit 2; }
build=$(cd "$build" 2>/dev/null && pwd) || { echo "kernel-vm: no build dir '$build' (run make)" >&2; exit 2; }
for b in mxguardd mxguardctl; do
	[[ -x $build/$b ]] || { echo "kernel-vm: $build/$b not built (run make)" >&2; exit 2; }
done
if ((EUID != 0)); then
	echo "kernel-vm: needs root (apt-get download, device nodes in the initramfs)" >&2
	exit 2
fi
cache=${MXG_KERNEL_CACHE:-/var/cache/mxguard/kernels}
timeout_s=${MXG_KERNEL_TIMEOUT:-600}
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || { echo "kernel-vm: MXG_KERNEL_TIMEOUT '$timeout_s' is not a number of seconds" >&2; exit 2; }
for c in qemu-system-x86_64 busybox modprobe depmod dpkg-deb xz ldd; do
	command -v "$c" >/dev/null || { echo "kernel-vm: $c not found (run tools/deps.sh)" >&2; exit 2; }
done
# The static one: the initramfs has no libraries for a dynamic busybox.
busybox=/bin/busybox
ldd "$busybox" >/dev/null 2>&1 && { echo "kernel-vm: $busybox is not static (install busybox-static)" >&2; exit 2; }

tmp="" qemu_pid="" tail_pid=""
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[[ -n $qemu_pid ]] && kill -KILL "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
	[[ -n $tail_pid ]] && kill "$tail_pid" 2>/dev/null && wait "$tail_pid" 2>/dev/null
	[[ -n $tmp && -d $tmp ]] && rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp -d /tmp/mxg-kernel-vm.XXXXXX)

# ---------------------------------------------------------------- kernel

case $kernel in
*.deb) pkg="" deb=$(realpath "$kernel") ;;
linux-image-*) pkg=$kernel deb="" ;;
*) pkg=linux-image-$kernel-unsigned deb="" ;;
esac
mkdir -p "$cache"
# One run at a time fetches and unpacks; a second waits (bounded) and then
# finds the tree ready.
exec {lock_fd}>"$cache/.lock"
flock -w 900 "$lock_fd" || { echo "kernel-vm: $cache is locked by another run" >&2; exit 1; }
if [[ -z $deb ]]; then
	deb=$(apt_deb kernel-vm "$cache" "$pkg" "apt-cache search linux-image: is it there?")
fi
tree=$cache/$(basename "$deb" .deb)
if [[ ! -e $tree/.unpacked ]]; then
	echo "kernel-vm: unpacking $(basename "$deb")" >&2
	rm -rf "$tree" "$tree.new"
	dpkg-deb -x "$deb" "$tree.new"
	kver=""
	for f in "$tree.new"/boot/vmlinuz-*; do
		[[ -e $f ]] && kver=${f##*/vmlinuz-}
	done
	[[ -n $kver && -d $tree.new/lib/modules/$kver ]] ||
		{ echo "kernel-vm: $deb holds no boot/vmlinuz-KVER and lib/modules/KVER" >&2; rm -rf "$tree.new"; exit 1; }
	depmod -b "$tree.new" "$kver"
	echo "$kver" >"$tree.new/.unpacked"
	mv "$tree.new" "$tree"
fi
flock -u "$lock_fd"
kver=$(cat "$tree/.unpacked")
vmlinuz=$tree/boot/vmlinuz-$kver

# ---------------------------------------------------------------- initramfs

root=$tmp/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,etc,lib/modules,mxg/build}
cp "$busybox" "$root/bin/busybox"
for a in $("$busybox" --list); do
	[[ $a == busybox ]] || ln -s busybox "$root/bin/$a"
done
# The kernel opens it for init's stdio before anything is mounted.
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
cp /bin/bash "$root/bin/bash"
cp /sbin/ip /sbin/tc "$root/sbin/"
cp "$guest" "$root/mxg/guest"
echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"

# The project's binaries, as BUILD lays them out.
elves=("$root/bin/bash" "$root/sbin/ip" "$root/sbin/tc")
add_build() {
	mkdir -p "$root/mxg/build/$(dirname "$1")"
	cp "$build/$1" "$root/mxg/build/$1"
	elves+=("$root/mxg/build/$1")
}
add_build mxguardd
add_build mxguardctl
for t in "$build"/tests/bpf/test_*; do
	[[ -x $t ]] && add_build "tests/bpf/$(basename "$t")"
done
[[ -x $build/tools/connflood ]] && add_build tools/connflood
sink_src=$tools/kernels/tcp-sink.c
if [[ ! -x $build/kernels/tcp-sink || $sink_src -nt $build/kernels/tcp-sink ]]; then
	mkdir -p "$build/kernels"
	"${CC:-cc}" -O2 -Wall -Wextra -Werror -o "$build/kernels/tcp-sink" "$sink_src"
fi
add_build kernels/tcp-sink

# Their libraries, at the paths the dynamic linker will look for them.
declare -A libs=()
for e in "${elves[@]}"; do
	while read -r lib; do
		libs[$lib]=1
	done < <(ldd "$e" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done
for lib in "${!libs[@]}"; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

# The modules and what they need, in load order, decompressed.
: >"$root/mxg/modules"
while read -r kind path _; do
	[[ $kind == insmod ]] || continue
	name=$(basename "$path")
	name=${name%.xz}
	name=${name%.zst}
	[[ -e $root/lib/modules/$name ]] && continue
	case $path in
	*.xz) xz -dc "$path" >"$root/lib/modules/$name" ;;
	*.zst) zstd -qdc "$path" >"$root/lib/modules/$name" ;;
	*) cp "$path" "$root/lib/modules/$name" ;;
	esac
	echo "/lib/modules/$name" >>"$root/mxg/modules"
done < <(modprobe -d "$tree" -S "$kver" -a --show-depends veth sch_ingress cls_bpf)

# The guest script with its arguments, quoted by bash for bash.
printf '%s\n' "exec /bin/bash /mxg/guest $(printf '%q ' "$@")" >"$root/mxg/run"

cat >"$root/init" <<'EOF'
#!/bin/sh
# mxguard kernel-matrix guest init (written by tools/kernel-vm.sh).
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
dmesg -n 1
/sbin/ip link set lo up
for m in $(cat /mxg/modules); do
	insmod "$m" || echo "init: insmod $m failed"
done
cd /mxg
export MXG_BUILD=/mxg/build MXG_KVER=$(uname -r)
/bin/bash /mxg/run
echo "@@mxg-guest-exit $?@@"
poweroff -f
EOF
chmod 755 "$root/init"
# Uncompressed: qemu hands it over as it is, and unpacking is cheapest
# for the emulated CPU.
(cd "$root" && find . | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) >"$tmp/initrd.cpio"

# ---------------------------------------------------------------- boot

mkdir -p "$build/kernels"
# No NIC: a guest makes its own veth pairs, and without one there is no
# option ROM to run at boot.
log=${MXG_KERNEL_LOG:-$build/kernels/console-$kver.log}
: >"$log"
echo "kernel-vm: booting $kver ($(du -m "$tmp/initrd.cpio" | cut -f1) MB initramfs), up to $timeout_s s" >&2
qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 2G -nographic -no-reboot -nic none \
	-kernel "$vmlinuz" -initrd "$tmp/initrd.cpio" \
	-append 'console=ttyS0 panic=-1 quiet' </dev/null >"$log" 2>&1 &
qemu_pid=$!
tail -n +1 -f --pid="$qemu_pid" "$log" &
tail_pid=$!
# The bound: poll qemu, the one state this waits for, once a second.
deadline=$((SECONDS + timeout_s))
while kill -0 "$qemu_pid" 2>/dev/null && ((SECONDS < deadline)); do
	sleep 1
done
if kill -0 "$qemu_pid" 2>/dev/null; then
	kill -KILL "$qemu_pid"
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=""
	wait "$tail_pid" || true
	tail_pid=""
	echo "kernel-vm: $kver: no end within $timeout_s s; qemu killed (console: $log)" >&2
	exit 124
fi
wait "$qemu_pid" || true
qemu_pid=""
wait "$tail_pid" || true
tail_pid=""
status=$(tr -d '\r' <"$log" | sed -n 's/^@@mxg-guest-exit \([0-9]\{1,3\}\)@@$/\1/p' | tail -n 1)
if [[ -z $status ]]; then
	echo "kernel-vm: $kver: the guest ended without its exit status (console: $log)" >&2
	exit 125
fi
exit "$status"

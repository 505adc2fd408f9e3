/* SPDX-License-Identifier: BSD-2-Clause */
/* Load, pin, adopt, attach, detach; see loader.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mxguard.skel.h"
#include "loader.h"
#include "log.h"
#include "probe.h"

/* Our tc filter's place in the clsact ingress hook: fixed, so a restart
 * replaces its own filter and never stacks a second one. */
#define MXG_TC_HANDLE 0x6d78	/* "mx" */
#define MXG_TC_PRIORITY 0x6d78

uint64_t mxg_netns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint64_t)st.st_ino;
}

static int ensure_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char parent[256], *slash;
	struct statfs fs;

	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		snprintf(err, errlen, "pin_dir %s must be a directory inside a bpf filesystem (e.g. /sys/fs/bpf/mxguard)",
			 pin_dir);
		return -EINVAL;
	}
	*slash = '\0';
	if (statfs(parent, &fs)) {
		snprintf(err, errlen, "cannot use %s: %s", parent,
			 strerror(errno));
		return -errno;
	}
	if (fs.f_type == BPF_FS_MAGIC)
		return 0;
	/* pin_dir = /sys/fs/bpf: its parent /sys/fs is no bpffs, and the
	 * hint must not be to mount one over it. */
	if (!strcmp(pin_dir, "/sys/fs/bpf") ||
	    (!statfs(pin_dir, &fs) && fs.f_type == BPF_FS_MAGIC)) {
		snprintf(err, errlen, "pin_dir %s is where the bpf filesystem is mounted: mxguard needs a directory of its own inside it (e.g. pin_dir = %s/mxguard)",
			 pin_dir, pin_dir);
		return -EINVAL;
	}
	/* At boot bpffs is often not mounted yet; /sys/fs/bpf is its home. */
	if (!strcmp(parent, "/sys/fs/bpf") &&
	    !mount("bpf", parent, "bpf", 0, "mode=0700")) {
		mxg_info("mounted bpffs at %s", parent);
		return 0;
	}
	snprintf(err, errlen, "%s is not a bpf filesystem (mount -t bpf bpf %s)",
		 parent, parent);
	return -ENOTDIR;
}

/*
 * Whoever else may write the pin dir can swap a pinned map for another
 * (mxg_deny for a link to mxg_allow) or remove a link's pin; whoever may
 * write a directory above it can swap the pin dir itself. So they must be
 * root's and writable by root alone; above the pin dir a sticky directory
 * is fine too (a bpffs mounted without mode= is 1777): there others may
 * add entries but not rename or remove root's.
 */
static int dir_trusted(const char *path, const struct stat *st, bool pin_dir,
		       char *err, size_t errlen)
{
	unsigned mode = st->st_mode & 07777;

	if (S_ISLNK(st->st_mode)) {
		snprintf(err, errlen, "%s, on the way to the pins, is a symbolic link: set pin_dir to the directory it stands for",
			 path);
		return -ELOOP;
	}
	if (st->st_uid == 0 &&
	    (!(mode & (S_IWGRP | S_IWOTH)) || (!pin_dir && (mode & S_ISVTX))))
		return 0;
	if (pin_dir)
		snprintf(err, errlen, "pin_dir %s is owned by uid %u, mode %04o: a user other than root could swap or remove the pins (remove it, rm -r %s, and start again: mxguardd makes it root's, mode 0700)",
			 path, st->st_uid, mode, path);
	else
		snprintf(err, errlen, "%s (above pin_dir) is owned by uid %u, mode %04o: a user other than root could swap the pin dir (make it root's and not writable by group and others, chown root: %s && chmod go-w %s, or choose another pin_dir)",
			 path, st->st_uid, mode, path, path);
	return -EPERM;
}

/* The directories above pin_dir, up to the root of its bpffs. */
static int parents_trusted(const char *pin_dir, char *err, size_t errlen)
{
	char dir[PATH_MAX], *slash;
	struct stat st;
	dev_t bpffs = 0;
	int ret;

	snprintf(dir, sizeof(dir), "%s", pin_dir);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (lstat(dir, &st)) {
			ret = -errno;
			snprintf(err, errlen, "cannot use %s: %s", dir,
				 strerror(errno));
			return ret;
		}
		/* The mount point's own directory is the bpffs root; the
		 * one above it is another filesystem's. */
		if (bpffs && st.st_dev != bpffs)
			break;
		bpffs = st.st_dev;
		ret = dir_trusted(dir, &st, false, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int mxg_pin_dir_prepare(const char *pin_dir, int *lock_fd, char *err,
			size_t errlen)
{
	struct stat st;
	int ret, fd;

	ret = ensure_bpffs(pin_dir, err, errlen);
	if (!ret)
		ret = parents_trusted(pin_dir, err, errlen);
	if (ret)
		return ret;
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", pin_dir,
			 strerror(errno));
		return ret;
	}
	/* Judged by what was opened, not by the name: no symbolic link is
	 * followed, and nothing can be swapped in between. */
	fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (!lstat(pin_dir, &st) && S_ISLNK(st.st_mode))
			dir_trusted(pin_dir, &st, true, err, errlen);
		else
			snprintf(err, errlen, "cannot open %s: %s", pin_dir,
				 strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", pin_dir,
			 strerror(errno));
	} else {
		ret = dir_trusted(pin_dir, &st, true, err, errlen);
	}
	if (ret) {
		close(fd);
		return ret;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		snprintf(err, errlen, "%s is locked: another mxguardd is running on it",
			 pin_dir);
		close(fd);
		return ret;
	}
	*lock_fd = fd;
	return 0;
}

/* The registry (MXG_MAPS in mxguard.h) as a table. */
#define MXG_MAP_ENTRY(field, at_start, what) \
	{ MXG_MAP_NAME(field), MXG_PIN_##at_start, what },
static const struct {
	const char *name;
	enum mxg_pin_stale at_start;
	const char *what;
} registry[] = {
	MXG_MAPS(MXG_MAP_ENTRY)
};
#undef MXG_MAP_ENTRY

static const char *map_type_name(uint32_t type)
{
	const char *name = libbpf_bpf_map_type_str(type);

	return name ? name : "unknown";
}

/* How the map pinned as info differs from map as this version defines it,
 * in the terms libbpf checks before it reuses a pin; false when it does
 * not. */
static bool layout_differs(const struct bpf_map_info *info,
			   const struct bpf_map *map, char *buf, size_t len)
{
	if (info->type != bpf_map__type(map))
		snprintf(buf, len, "type changed from %s to %s",
			 map_type_name(info->type),
			 map_type_name(bpf_map__type(map)));
	else if (info->key_size != bpf_map__key_size(map))
		snprintf(buf, len, "key size changed from %u to %u",
			 info->key_size, bpf_map__key_size(map));
	else if (info->value_size != bpf_map__value_size(map))
		snprintf(buf, len, "value size changed from %u to %u",
			 info->value_size, bpf_map__value_size(map));
	else if (info->max_entries != bpf_map__max_entries(map))
		snprintf(buf, len, "max_entries changed from %u to %u",
			 info->max_entries, bpf_map__max_entries(map));
	else if (info->map_flags != bpf_map__map_flags(map))
		snprintf(buf, len, "flags changed from %#x to %#x",
			 info->map_flags, bpf_map__map_flags(map));
	else
		return false;
	return true;
}

/* mxg_sources starts anew while the pinned mxg_stats may stay: its count
 * of sources created must start anew with it, or the tracked sources
 * (min(created, max_entries)) would count the dropped map's. */
static void sources_created_reset(const char *pin_dir)
{
	char path[PATH_MAX];
	struct mxg_stats *per_cpu;
	__u32 slot = MXG_STATS_GLOBAL;
	int fd, ncpus = libbpf_num_possible_cpus();

	snprintf(path, sizeof(path), "%s/%s", pin_dir, MXG_MAP_NAME(stats));
	fd = bpf_obj_get(path);
	if (fd < 0 || ncpus <= 0)
		goto out;
	per_cpu = calloc((size_t)ncpus, sizeof(*per_cpu));
	/* A pin of another layout is dropped in the same pass: no harm. */
	if (per_cpu && !bpf_map_lookup_elem(fd, &slot, per_cpu)) {
		for (int c = 0; c < ncpus; c++)
			per_cpu[c].count[MXG_GLOBAL_SOURCES_CREATED] = 0;
		bpf_map_update_elem(fd, &slot, per_cpu, BPF_EXIST);
	}
	free(per_cpu);
out:
	if (fd >= 0)
		close(fd);
}

/*
 * A pinned map whose layout no longer matches (another version's, or
 * mxg_sources after max_sources changed) would make the load fail. What
 * the registry says may go is dropped, to be made anew; what it says must
 * stay refuses the start, before anything is dropped, with the way out.
 * A map of the object missing from the registry refuses the start too:
 * nobody decided what happens to it.
 */
static int stale_pins(const struct mxg_loader *l, char *err, size_t errlen)
{
	char path[PATH_MAX], why[128];
	struct bpf_map *map;
	size_t i, n = sizeof(registry) / sizeof(registry[0]);

	bpf_object__for_each_map(map, l->skel->obj) {
		for (i = 0; i < n; i++)
			if (!strcmp(registry[i].name, bpf_map__name(map)))
				break;
		if (i == n) {
			snprintf(err, errlen, "map %s of the BPF object is not in the registry of maps (MXG_MAPS in bpf/mxguard.h)",
				 bpf_map__name(map));
			return -EINVAL;
		}
	}
	for (int pass = MXG_PIN_REFUSE; pass <= MXG_PIN_DROP; pass++) {
		for (i = 0; i < n; i++) {
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);
			bool differs;
			int fd;

			if (registry[i].at_start != (enum mxg_pin_stale)pass)
				continue;
			map = bpf_object__find_map_by_name(l->skel->obj,
							   registry[i].name);
			snprintf(path, sizeof(path), "%s/%s", l->pin_dir,
				 registry[i].name);
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			differs = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
				  layout_differs(&info, map, why, sizeof(why));
			close(fd);
			if (!differs)
				continue;
			if (pass == MXG_PIN_REFUSE) {
				snprintf(err, errlen, "the pinned %s is of another layout (%s) and holds %s: if the pins under %s are from another version of mxguard, mxguardctl unload removes them, with the bans, counters and mirror they hold",
					 registry[i].name, why, registry[i].what,
					 l->pin_dir);
				return -EINVAL;
			}
			mxg_info("%s: %s: %s starts anew", registry[i].name,
				 why, registry[i].what);
			unlink(path);
			if (!strcmp(registry[i].name, MXG_MAP_NAME(sources)))
				sources_created_reset(l->pin_dir);
		}
	}
	return 0;
}

/* Open, adopt the pins, and load everything but the features in off. */
static int load_object(struct mxg_loader *l, const struct mxg_config *cfg,
		       unsigned off, char *err, size_t errlen)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int ret;

	l->skel = mxguard__open();
	if (!l->skel) {
		ret = -errno;
		snprintf(err, errlen, "cannot open the BPF object: %s",
			 strerror(errno));
		return ret;
	}
	mxg_features_disable(l->skel, off);
	ret = bpf_map__set_max_entries(l->skel->maps.mxg_sources,
				       cfg->max_sources);
	if (ret)
		goto fail;
	ret = stale_pins(l, err, errlen);
	if (ret)
		goto out;
	/* With a pin path set, libbpf reuses a compatible pinned map and
	 * pins a new one: adopting the previous state is the default. */
	bpf_object__for_each_map(map, l->skel->obj) {
		snprintf(path, sizeof(path), "%s/%s", l->pin_dir,
			 bpf_map__name(map));
		ret = bpf_map__set_pin_path(map, path);
		if (ret)
			goto fail;
	}
	ret = mxguard__load(l->skel);
	if (ret) {
		/* No program alone is rejected when this message stays
		 * (mxg_load): EINVAL is then libbpf refusing a pinned map of
		 * another layout. Other errors (ENOMEM, EROFS) are not the
		 * pins' fault, and unload would wipe the state for nothing. */
		if (ret == -EINVAL)
			snprintf(err, errlen, "cannot load the BPF programs: %s (if the pins under %s are from another version of mxguard, mxguardctl unload removes them, with the bans, counters and mirror they hold; -v shows libbpf's log)",
				 strerror(-ret), l->pin_dir);
		else
			snprintf(err, errlen, "cannot load the BPF programs: %s (-v shows libbpf's log)",
				 strerror(-ret));
		goto out;
	}
	return 0;

fail:
	snprintf(err, errlen, "cannot prepare the BPF object: %s",
		 strerror(-ret));
out:
	mxguard__destroy(l->skel);
	l->skel = NULL;
	return ret;
}

/*
 * A load that failed: each program alone says which ones this kernel's
 * verifier rejects, and why. Returns the features to leave out, or -errno
 * when admission itself is rejected (err says why) or nothing was.
 */
static int rejected_features(char *err, size_t errlen)
{
	struct mxg_prog_probe probes[MXG_MAX_PROGS];
	struct utsname u = {};
	unsigned off = 0, f;
	int n;

	n = mxg_probe_programs(probes, MXG_MAX_PROGS);
	if (n < 0)
		return n;
	uname(&u);
	for (int i = 0; i < n; i++) {
		if (!probes[i].ret)
			continue;
		f = mxg_prog_feature(probes[i].name);
		if (!f) {
			snprintf(err, errlen, "this kernel (%s) rejects %s, which admission needs: %s (%s)",
				 u.release, probes[i].name, probes[i].reason,
				 strerror(-probes[i].ret));
			return probes[i].ret;
		}
		mxg_err("this kernel (%s) rejects %s: %s (%s); %s is off",
			u.release, probes[i].name, probes[i].reason,
			strerror(-probes[i].ret), mxg_feature_name(f));
		off |= f;
	}
	return off ? (int)off : -ENOENT;
}

/* Which parts of mxguard run, for mxguardctl status. */
static int settings_write(struct mxg_loader *l)
{
	struct mxg_settings settings = {
		.netns_cookie = mxg_netns_cookie(),
		.features_off = l->features_off,
	};
	uint32_t zero = 0;

	return bpf_map_update_elem(l->maps.settings, &zero, &settings, BPF_ANY) ?
		       -errno : 0;
}

/*
 * The capabilities loading needs (docs/operations.md): without one the
 * kernel answers EPERM or the verifier EACCES for a program, which would
 * read as this kernel lacking a feature. CAP_SYS_ADMIN stands in for
 * CAP_BPF and CAP_PERFMON, never for CAP_NET_ADMIN. 0, or -EPERM with the
 * missing ones named in err.
 */
static int caps_check(char *err, size_t errlen)
{
	static const struct { int cap; const char *name; } need[] = {
		{ CAP_BPF, "CAP_BPF" },
		{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
		{ CAP_PERFMON, "CAP_PERFMON" },
	};
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	char missing[64] = "";
	bool admin;

	if (syscall(SYS_capget, &hdr, data))
		return 0;	/* cannot tell: let the kernel say */
#define HAS(c) (data[CAP_TO_INDEX(c)].effective & CAP_TO_MASK(c))
	admin = HAS(CAP_SYS_ADMIN);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!HAS(need[i].cap) && (need[i].cap == CAP_NET_ADMIN || !admin))
			snprintf(missing + strlen(missing),
				 sizeof(missing) - strlen(missing), "%s%s",
				 missing[0] ? " " : "", need[i].name);
#undef HAS
	if (!missing[0])
		return 0;
	snprintf(err, errlen, "cannot load the BPF programs without %s: mxguardd needs CAP_BPF CAP_NET_ADMIN CAP_PERFMON (as in CapabilityBoundingSet of mxguardd.service; see mxguardd(8))",
		 missing);
	return -EPERM;
}

int mxg_load(struct mxg_loader *l, const struct mxg_config *cfg, char *err,
	     size_t errlen)
{
	char why[256];
	unsigned off;
	int ret, rejected;

	snprintf(l->pin_dir, sizeof(l->pin_dir), "%s", cfg->pin_dir);
	ret = caps_check(err, errlen);
	if (ret)
		return ret;

	/* What is known missing before a load is left out at once. */
	off = mxg_probe_kernel(why, sizeof(why));
	if (off)
		mxg_err("%s: %s is off", why, mxg_feature_name(off));

	ret = load_object(l, cfg, off, err, errlen);
	if (ret) {
		/* A verifier that refuses one part leaves the rest to run;
		 * a failure that no program alone shows (pins, memory)
		 * is reported as it was. */
		rejected = rejected_features(err, errlen);
		if (rejected == -ENOENT)
			return ret;
		if (rejected < 0)
			return rejected;
		off |= (unsigned)rejected;
		ret = load_object(l, cfg, off, err, errlen);
		if (ret)
			return ret;
	}
	l->features_off = off;
	mxg_maps_from_skel(l->skel, &l->maps);
	ret = settings_write(l);
	if (ret)
		snprintf(err, errlen, "cannot write %s: %s", MXG_MAP_NAME(settings),
			 strerror(-ret));
	return ret;
}

void mxg_inner_btf_from_skel(const struct mxguard *skel,
			     struct mxg_inner_btf *btf)
{
	const struct bpf_map *t = skel->maps.mxg_rcpt_template;

	btf->btf_fd = bpf_object__btf_fd(skel->obj);
	btf->key_type_id = bpf_map__btf_key_type_id(t);
	btf->value_type_id = bpf_map__btf_value_type_id(t);
}

void mxg_maps_from_skel(const struct mxguard *skel, struct mxg_maps *m)
{
#define MXG_MAP_FROM_SKEL(field, at_start, what) \
	m->field = bpf_map__fd(skel->maps.mxg_##field);
	MXG_MAPS(MXG_MAP_FROM_SKEL)
#undef MXG_MAP_FROM_SKEL
}

void mxg_loader_init(struct mxg_loader *l)
{
	memset(l, 0, sizeof(*l));
	l->lock_fd = -1;
	for (int s = 0; s < MXG_MAX_LINKS; s++)
		l->xdp_link_fds[s] = -1;
}

static void xdp_pin_name(char *buf, size_t len, const char *ifname)
{
	snprintf(buf, len, "link_xdp_%.*s", IFNAMSIZ, ifname);
}

static uint32_t prog_id(int prog_fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(prog_fd, &info, &len) ? 0 : info.id;
}

static int link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return -EBADF;
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* Pin fd as pin_dir/name, atomically replacing what was pinned there (an
 * old link is released, hence detached, only once the new one holds). */
static int pin_replace(int fd, const char *pin_dir, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	/* bpffs refuses names with a dot. */
	snprintf(tmp, sizeof(tmp), "%s/%s_new", pin_dir, name);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp))
		return -errno;
	if (rename(tmp, path)) {
		int ret = -errno;

		unlink(tmp);
		return ret;
	}
	return 0;
}

/* Pin the link fd as pin_dir/name again if that pin was removed or is
 * another object now: 1 when it had to, 0 when it was in place, or
 * -errno. */
static int pin_keep(int fd, const char *pin_dir, const char *name)
{
	struct bpf_link_info ours, pinned;
	char path[PATH_MAX];
	int pin_fd, ret;

	ret = link_info(fd, &ours);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	pin_fd = bpf_obj_get(path);
	ret = link_info(pin_fd, &pinned);
	if (pin_fd >= 0)
		close(pin_fd);
	if (!ret && pinned.id == ours.id)
		return 0;
	return pin_replace(fd, pin_dir, name) ?: 1;
}

/* Our two tc filters: admission first, the SMTP reader after it (a SYN
 * admission drops is never read). */
enum tc_slot { TC_ADMISSION = 0, TC_INSPECTOR = 1 };

/* Where our filter of slot sits in the clsact ingress hook. */
static void tc_place(int ifindex, enum tc_slot slot, struct bpf_tc_hook *hook,
		     struct bpf_tc_opts *opts)
{
	*hook = (struct bpf_tc_hook){ .sz = sizeof(*hook), .ifindex = ifindex,
				      .attach_point = BPF_TC_INGRESS };
	*opts = (struct bpf_tc_opts){ .sz = sizeof(*opts),
				      .handle = MXG_TC_HANDLE + slot,
				      .priority = MXG_TC_PRIORITY + slot };
}

static int tc_attach(int ifindex, int prog_fd, enum tc_slot slot)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;
	int ret;

	tc_place(ifindex, slot, &hook, &opts);
	opts.prog_fd = prog_fd;
	opts.flags = BPF_TC_F_REPLACE;
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

static int tc_detach(int ifindex, enum tc_slot slot)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;

	/* The clsact qdisc stays: other filters may live in it. */
	tc_place(ifindex, slot, &hook, &opts);
	return bpf_tc_detach(&hook, &opts);
}

/* The program in our filter of slot, 0 when there is none. */
static uint32_t tc_prog_id(int ifindex, enum tc_slot slot)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts;

	tc_place(ifindex, slot, &hook, &opts);
	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

/*
 * Attach XDP through a pinned bpf_link: it outlives mxguardd (a crash
 * keeps enforcing) and a restart swaps the program in place. *held is the
 * link's fd this process keeps (-1: none yet, the pinned one is adopted);
 * *created says that there was no live link to update.
 */
static int xdp_attach(const char *pin_dir, const char *ifname, int ifindex,
		      int prog_fd, uint32_t flags, int *held, bool *created)
{
	DECLARE_LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	char name[64], path[PATH_MAX];
	int fd, ret;

	*created = false;
	xdp_pin_name(name, sizeof(name), ifname);
	if (*held < 0) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
		fd = bpf_obj_get(path);
		*held = fd < 0 ? -1 : fd;
	}
	if (*held >= 0) {
		if (!bpf_link_update(*held, prog_fd, NULL)) {
			ret = pin_keep(*held, pin_dir, name);
			return ret < 0 ? ret : 0;
		}
		ret = -errno;
		/* ENOLINK: the link was detached, or the interface went
		 * away under it; attach afresh. */
		if (ret != -ENOLINK)
			return ret;
		close(*held);
		*held = -1;
	}
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0)
		return -errno;
	/* Over a dead link's pin, if there is one. */
	ret = pin_replace(fd, pin_dir, name);
	if (ret) {
		close(fd);	/* not pinned: this detaches it again */
		return ret;
	}
	*held = fd;
	*created = true;
	return 0;
}

static int xdp_detach(const char *pin_dir, const char *ifname)
{
	char name[64], path[PATH_MAX];
	int fd, ret = 0;

	xdp_pin_name(name, sizeof(name), ifname);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* LINK_DETACH works even while a crashed daemon's fd or another
	 * process still holds the link. */
	if (bpf_link_detach(fd) && errno != ENOENT)
		ret = -errno;
	close(fd);
	unlink(path);
	return ret;
}

static int detach_one(const char *pin_dir, const struct mxg_link *link)
{
	bool here = link->netns_ino == mxg_netns_ino();
	int ret = 0;

	if ((link->mode == MXG_LINK_TC || link->inspector) && !here) {
		mxg_err("cannot detach tc from %s: it is in another network namespace (run this there)",
			link->ifname);
		return -EXDEV;
	}
	if (link->inspector) {
		ret = tc_detach(link->ifindex, TC_INSPECTOR);
		if (ret == -ENOENT)
			ret = 0;
	}
	if (link->mode == MXG_LINK_TC)
		return tc_detach(link->ifindex, TC_ADMISSION) ?: ret;
	return xdp_detach(pin_dir, link->ifname) ?: ret;
}

/* detach_one() in mxguardd, which also holds the XDP link: its pin may be
 * gone, and the held fd alone would keep it attached. */
static int detach_slot(struct mxg_loader *l, uint32_t slot,
		       const struct mxg_link *link)
{
	int *held = &l->xdp_link_fds[slot];

	if (*held >= 0) {
		bpf_link_detach(*held);
		close(*held);
		*held = -1;
	}
	l->fresh &= ~(1u << slot);
	l->lost &= ~(1u << slot);
	return detach_one(l->pin_dir, link);
}

static const char *attach_hint(enum mxg_attach_mode mode)
{
	return mode == MXG_ATTACH_TC ? "" : " (try attach = tc)";
}

static int iface_index(const char *ifname, char *err, size_t errlen)
{
	int ifindex = if_nametoindex(ifname);

	if (ifindex)
		return ifindex;
	snprintf(err, errlen, "cannot attach to %s: no such interface", ifname);
	return -ENODEV;
}

int mxg_ifaces_check(const struct mxg_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->nifaces; i++) {
		int ret = iface_index(cfg->ifaces[i], err, errlen);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Attach to one interface in the configured mode, recorded in slot (old:
 * what the slot recorded before, or NULL). *link is what is attached
 * after it, also when the SMTP reader then fails (link->mode is
 * MXG_LINK_NONE when admission did).
 */
static int attach_one(struct mxg_loader *l, const struct mxg_config *cfg,
		      uint32_t slot, const char *ifname,
		      const struct mxg_link *old, struct mxg_link *link,
		      char *err, size_t errlen)
{
	int xdp_fd = bpf_program__fd(l->skel->progs.mxg_xdp);
	int tc_fd = bpf_program__fd(l->skel->progs.mxg_tc);
	bool created, replaced = false;
	uint32_t mode;
	int ifindex, ret;

	memset(link, 0, sizeof(*link));
	ifindex = iface_index(ifname, err, errlen);
	if (ifindex < 0)
		return ifindex;
	switch (cfg->attach) {
	case MXG_ATTACH_TC:
		mode = MXG_LINK_TC;
		break;
	case MXG_ATTACH_XDP_GENERIC:
		mode = MXG_LINK_XDP_GENERIC;
		break;
	case MXG_ATTACH_XDP:
		mode = MXG_LINK_XDP_NATIVE;
		break;
	default:
		/* auto keeps what is attached, else tries native first. */
		mode = old && (old->mode == MXG_LINK_XDP_NATIVE ||
			       old->mode == MXG_LINK_XDP_GENERIC) ?
			       old->mode : MXG_LINK_XDP_NATIVE;
	}
	/* A mode change, or an interface that came back with a new index,
	 * starts from a clean attachment. Only the first replaces one that
	 * enforced. */
	if (old && (old->mode != mode || old->ifindex != (uint32_t)ifindex)) {
		replaced = old->ifindex == (uint32_t)ifindex;
		ret = detach_slot(l, slot, old);
		if (ret && ret != -ENOENT)
			mxg_err("cannot detach %s from %s: %s",
				mxg_link_mode_name(old->mode), old->ifname,
				strerror(-ret));
	}

	if (mode == MXG_LINK_TC) {
		created = !tc_prog_id(ifindex, TC_ADMISSION);
		ret = tc_attach(ifindex, tc_fd, TC_ADMISSION);
	} else {
		ret = xdp_attach(l->pin_dir, ifname, ifindex, xdp_fd,
				 mode == MXG_LINK_XDP_NATIVE ? XDP_FLAGS_DRV_MODE :
							       XDP_FLAGS_SKB_MODE,
				 &l->xdp_link_fds[slot], &created);
		if (ret && cfg->attach == MXG_ATTACH_AUTO &&
		    mode == MXG_LINK_XDP_NATIVE) {
			mxg_info("native XDP on %s failed (%s): using generic XDP",
				 ifname, strerror(-ret));
			mode = MXG_LINK_XDP_GENERIC;
			ret = xdp_attach(l->pin_dir, ifname, ifindex, xdp_fd,
					 XDP_FLAGS_SKB_MODE,
					 &l->xdp_link_fds[slot], &created);
		}
	}
	if (ret) {
		snprintf(err, errlen, "failed to attach %s to %s: %s%s",
			 mxg_link_mode_name(mode), ifname, strerror(-ret),
			 ret == -EBUSY || ret == -EEXIST ?
				 " (another XDP program is attached there)" :
				 attach_hint(cfg->attach));
		return ret;
	}
	if (created && !replaced)
		l->fresh |= 1u << slot;
	snprintf(link->ifname, sizeof(link->ifname), "%s", ifname);
	link->ifindex = ifindex;
	link->mode = mode;
	link->prog_id = prog_id(mode == MXG_LINK_TC ? tc_fd : xdp_fd);
	link->netns_ino = mxg_netns_ino();

	/* The SMTP reader needs the payload: always tc, whatever admission
	 * uses. Off means off: a reader left from a previous config goes. */
	if (cfg->inspect.mode != MXG_INSPECT_OFF &&
	    !(l->features_off & MXG_FEAT_INSPECT)) {
		ret = tc_attach(ifindex, bpf_program__fd(l->skel->progs.mxg_smtp),
				TC_INSPECTOR);
		if (ret) {
			snprintf(err, errlen, "failed to attach the SMTP reader (tc) to %s: %s",
				 ifname, strerror(-ret));
			return ret;
		}
		link->inspector = 1;
	} else if (old && old->inspector) {
		tc_detach(ifindex, TC_INSPECTOR);
	}
	return 0;
}

static bool iface_configured(const struct mxg_config *cfg, const char *ifname)
{
	for (unsigned i = 0; i < cfg->nifaces; i++)
		if (!strncmp(cfg->ifaces[i], ifname, sizeof(cfg->ifaces[i])))
			return true;
	return false;
}

/* A slot whose interface is no longer configured, in this namespace. */
static bool slot_dropped(const struct mxg_config *cfg,
			 const struct mxg_link *link, uint64_t netns)
{
	return link->mode != MXG_LINK_NONE && link->netns_ino == netns &&
	       !iface_configured(cfg, link->ifname);
}

static void drop_slot(struct mxg_loader *l, uint32_t s, struct mxg_link *link)
{
	int ret = detach_slot(l, s, link);

	if (ret && ret != -ENOENT)
		mxg_err("cannot detach from %s: %s", link->ifname,
			strerror(-ret));
	else
		mxg_info("detached from %s", link->ifname);
	memset(link, 0, sizeof(*link));
	mxg_link_write(&l->maps, s, link);
}

int mxg_attach_all(struct mxg_loader *l, const struct mxg_config *cfg,
		   char *err, size_t errlen)
{
	struct mxg_link links[MXG_MAX_LINKS], fresh;
	const struct mxg_link *old;
	uint64_t netns = mxg_netns_ino();
	int ret;

	/* A missing interface fails before anything changes. */
	ret = mxg_ifaces_check(cfg, err, errlen);
	if (ret)
		return ret;
	ret = mxg_links_read(&l->maps, links);
	if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", MXG_MAP_NAME(links),
			 strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < cfg->nifaces; i++) {
		int slot = -1, free_slot = -1, dropped = -1;

		for (int s = 0; s < MXG_MAX_LINKS; s++) {
			if (links[s].mode == MXG_LINK_NONE) {
				if (free_slot < 0)
					free_slot = s;
			} else if (links[s].netns_ino == netns &&
				   !strncmp(links[s].ifname, cfg->ifaces[i],
					    sizeof(links[s].ifname))) {
				slot = s;
			} else if (dropped < 0 &&
				   slot_dropped(cfg, &links[s], netns)) {
				dropped = s;
			}
		}
		old = slot >= 0 ? &links[slot] : NULL;
		if (slot < 0)
			slot = free_slot;
		/* Only when no slot is free does an interface dropped from
		 * the config make room before the end. */
		if (slot < 0 && dropped >= 0) {
			drop_slot(l, dropped, &links[dropped]);
			slot = dropped;
		}
		if (slot < 0) {
			snprintf(err, errlen, "cannot attach to %s: %u attachments recorded already",
				 cfg->ifaces[i], MXG_MAX_LINKS);
			return -ENOSPC;
		}
		ret = attach_one(l, cfg, slot, cfg->ifaces[i], old, &fresh,
				 err, errlen);
		/* What is attached is recorded, also when the SMTP reader
		 * failed: mxg_detach_fresh() and unload find it there. */
		if (fresh.mode != MXG_LINK_NONE) {
			int wret = mxg_link_write(&l->maps, slot, &fresh);

			if (wret && !ret) {
				snprintf(err, errlen, "cannot record the attachment to %s: %s",
					 cfg->ifaces[i], strerror(-wret));
				ret = wret;
			}
		}
		if (ret)
			return ret;
		mxg_info("%s %s on %s", old ? "adopted" : "attached",
			 mxg_link_mode_name(fresh.mode), fresh.ifname);
		links[slot] = fresh;
	}
	/* Interfaces dropped from the config (in this namespace) last, once
	 * every configured one is attached: an attachment that fails has
	 * taken nothing away, and undoing it (mxg_apply) finds them still in
	 * place. */
	for (uint32_t s = 0; s < MXG_MAX_LINKS; s++)
		if (slot_dropped(cfg, &links[s], netns))
			drop_slot(l, s, &links[s]);
	return 0;
}

int mxg_detach_all(const struct mxg_maps *m, const char *pin_dir)
{
	struct mxg_link links[MXG_MAX_LINKS], none = {};
	int failed = 0, ret;

	ret = mxg_links_read(m, links);
	if (ret)
		return ret;
	for (uint32_t s = 0; s < MXG_MAX_LINKS; s++) {
		if (links[s].mode == MXG_LINK_NONE)
			continue;
		ret = detach_one(pin_dir, &links[s]);
		if (ret && ret != -ENOENT) {
			mxg_err("cannot detach %s from %s: %s",
				mxg_link_mode_name(links[s].mode),
				links[s].ifname, strerror(-ret));
			failed++;
			continue;
		}
		mxg_link_write(m, s, &none);
	}
	return failed;
}

int mxg_unpin_all(const char *pin_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	dir = opendir(pin_dir);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		if (unlink(path) && !ret)
			ret = -errno;
	}
	closedir(dir);
	if (rmdir(pin_dir) && !ret)
		ret = -errno;
	return ret;
}

/* ---- the connection counter ---- */


int mxg_find_cgroup2(const char *configured, char *out, size_t len,
		     char *err, size_t errlen)
{
	struct mntent *ent;
	struct statfs fs;
	FILE *mounts;

	if (configured && configured[0]) {
		if (statfs(configured, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC) {
			snprintf(err, errlen, "[global] cgroup = %s is not a cgroup v2 directory (mount -t cgroup2 none %s)",
				 configured, configured);
			return -ENOTDIR;
		}
		snprintf(out, len, "%s", configured);
		return 0;
	}
	mounts = setmntent("/proc/self/mounts", "r");
	if (!mounts) {
		snprintf(err, errlen, "cannot read /proc/self/mounts: %s",
			 strerror(errno));
		return -errno;
	}
	while ((ent = getmntent(mounts))) {
		if (!strcmp(ent->mnt_type, "cgroup2")) {
			snprintf(out, len, "%s", ent->mnt_dir);
			endmntent(mounts);
			return 0;
		}
	}
	endmntent(mounts);
	snprintf(err, errlen, "no cgroup v2 mount found, needed to count connections (mount -t cgroup2 none /sys/fs/cgroup, or set [global] cgroup)");
	return -ENOENT;
}

uint64_t mxg_netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		cookie = 0;
	close(fd);
	return cookie;
}

/* Count the connections that already exist (idempotent: marked sockets
 * are skipped). */
static int seed_counts(struct mxg_loader *l)
{
	struct bpf_link *link;
	char buf[256];
	int fd, ret = 0;
	ssize_t n;

	link = bpf_program__attach_iter(l->skel->progs.mxg_conn_seed, NULL);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		ret = -errno;
	close(fd);
out:
	bpf_link__destroy(link);
	return ret;
}

/* The counter's pins, by enum mxg_counter_link. */
static const char *const counter_pins[MXG_COUNTER_LINKS] = {
	[MXG_COUNTER_CLOSE] = MXG_PIN_CONN_CLOSE,
	[MXG_COUNTER_SOCKOPS] = MXG_PIN_SOCKOPS,
};

static void counter_links_release(struct mxg_loader *l)
{
	for (int i = 0; i < MXG_COUNTER_LINKS; i++) {
		/* Closes our fd; the pin, if any, keeps it attached. */
		bpf_link__destroy(l->counter_links[i]);
		l->counter_links[i] = NULL;
	}
}

int mxg_counter_attach(struct mxg_loader *l, const struct mxg_config *cfg,
		       char *err, size_t errlen)
{
	struct bpf_link *links[MXG_COUNTER_LINKS] = {};
	char cgroup[PATH_MAX], path[PATH_MAX];
	int cg_fd = -1, ret;

	if (l->features_off & MXG_FEAT_COUNTER)
		return 0;	/* said at load */
	ret = mxg_find_cgroup2(cfg->cgroup, cgroup, sizeof(cgroup), err,
			       errlen);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", l->pin_dir, MXG_PIN_SOCKOPS);
	l->counter_fresh = access(path, F_OK) != 0;

	/* Order matters: the close tracepoint first, so that no counted
	 * socket can close unseen; then sock_ops, so that no new connection
	 * is missed; then the pass over the existing ones. A socket seen by
	 * two of them is counted once: the mark says so. */
	links[MXG_COUNTER_CLOSE] = bpf_program__attach(l->skel->progs.mxg_conn_close);
	if (!links[MXG_COUNTER_CLOSE]) {
		ret = -errno;
		snprintf(err, errlen, "cannot attach the connection close tracepoint: %s",
			 strerror(errno));
		goto out;
	}
	ret = pin_replace(bpf_link__fd(links[MXG_COUNTER_CLOSE]), l->pin_dir,
			  MXG_PIN_CONN_CLOSE);
	if (ret) {
		snprintf(err, errlen, "cannot pin the close tracepoint link: %s",
			 strerror(-ret));
		goto out;
	}

	cg_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open cgroup %s: %s", cgroup,
			 strerror(errno));
		goto out;
	}
	links[MXG_COUNTER_SOCKOPS] =
		bpf_program__attach_cgroup(l->skel->progs.mxg_sockops, cg_fd);
	if (!links[MXG_COUNTER_SOCKOPS]) {
		ret = -errno;
		snprintf(err, errlen, "cannot attach sock_ops to cgroup %s: %s",
			 cgroup, strerror(errno));
		goto out;
	}
	ret = pin_replace(bpf_link__fd(links[MXG_COUNTER_SOCKOPS]), l->pin_dir,
			  MXG_PIN_SOCKOPS);
	if (ret) {
		snprintf(err, errlen, "cannot pin the sock_ops link: %s",
			 strerror(-ret));
		goto out;
	}

	ret = seed_counts(l);
	if (ret) {
		snprintf(err, errlen, "cannot count the existing connections: %s",
			 strerror(-ret));
		goto out;
	}
	mxg_info("counting connections: sock_ops on %s", cgroup);
	/* Held from now on (a removed pin then detaches nothing); the
	 * previous ones, no longer pinned, go. */
	counter_links_release(l);
	memcpy(l->counter_links, links, sizeof(links));
	memset(links, 0, sizeof(links));
out:
	/* The pinned links keep them attached after this. */
	for (int i = 0; i < MXG_COUNTER_LINKS; i++)
		bpf_link__destroy(links[i]);
	if (cg_fd >= 0)
		close(cg_fd);
	return ret;
}

int mxg_counter_detach(const char *pin_dir)
{
	static const char *const names[] = { MXG_PIN_SOCKOPS, MXG_PIN_CONN_CLOSE };
	char path[PATH_MAX];
	int ret = 0, fd;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		/* Tracing links have no LINK_DETACH: dropping the pin, the
		 * last reference once no mxguardd runs, detaches them. */
		if (bpf_link_detach(fd) && errno != EOPNOTSUPP && errno != EINVAL &&
		    !ret)
			ret = -errno;
		close(fd);
		unlink(path);
	}
	return ret;
}

/* pin_dir/name is fd's pin again, logged when it was not. */
static void repin(const struct mxg_loader *l, int fd, const char *name)
{
	int ret = pin_keep(fd, l->pin_dir, name);

	if (ret > 0)
		mxg_err("re-pinned %s/%s: the pin was removed or replaced",
			l->pin_dir, name);
	else if (ret < 0)
		mxg_err("cannot pin %s/%s again: %s", l->pin_dir, name,
			strerror(-ret));
}

/* The counter's part of mxg_attach_check(). */
static void counter_check(struct mxg_loader *l, const struct mxg_config *cfg)
{
	struct bpf_link *ops = l->counter_links[MXG_COUNTER_SOCKOPS];
	struct bpf_link_info info;
	char err[256];

	if (!ops)
		return;	/* off on this kernel */
	if (!link_info(bpf_link__fd(ops), &info) && info.cgroup.cgroup_id) {
		l->counter_lost = false;
		for (int i = 0; i < MXG_COUNTER_LINKS; i++)
			repin(l, bpf_link__fd(l->counter_links[i]), counter_pins[i]);
		return;
	}
	if (!mxg_counter_attach(l, cfg, err, sizeof(err))) {
		mxg_err("lost the connection counter (its sock_ops link was detached): re-attached");
		l->counter_lost = false;
	} else if (!l->counter_lost) {
		mxg_err("lost the connection counter (its sock_ops link was detached): %s; trying again at every sweep",
			err);
		l->counter_lost = true;
	}
}

void mxg_detach_fresh(struct mxg_loader *l)
{
	struct mxg_link links[MXG_MAX_LINKS], none = {};
	int ret;

	if (l->fresh && !mxg_links_read(&l->maps, links)) {
		for (uint32_t s = 0; s < MXG_MAX_LINKS; s++) {
			if (!(l->fresh & (1u << s)))
				continue;
			ret = detach_slot(l, s, &links[s]);
			if (ret && ret != -ENOENT) {
				mxg_err("cannot detach %s from %s again: %s",
					mxg_link_mode_name(links[s].mode),
					links[s].ifname, strerror(-ret));
				continue;
			}
			mxg_link_write(&l->maps, s, &none);
			mxg_info("detached %s from %s again (nothing was attached there before)",
				 mxg_link_mode_name(links[s].mode), links[s].ifname);
		}
	}
	if (l->counter_fresh) {
		counter_links_release(l);
		ret = mxg_counter_detach(l->pin_dir);
		if (ret)
			mxg_err("cannot detach the connection counter again: %s",
				strerror(-ret));
		else
			mxg_info("detached the connection counter again (it was not attached before)");
		l->counter_fresh = false;
	}
}

/* Why the attachment recorded in slot is not in place any more, or NULL.
 * A few syscalls (and a netlink query for tc) per interface. */
static const char *attachment_lost(const struct mxg_loader *l, uint32_t slot,
				   const struct mxg_link *link)
{
	struct bpf_link_info info;
	int ifindex = if_nametoindex(link->ifname);

	if (!ifindex)
		return "the interface is gone";
	if ((uint32_t)ifindex != link->ifindex)
		return "the interface was made anew";
	if (link->mode == MXG_LINK_TC) {
		if (tc_prog_id(ifindex, TC_ADMISSION) != link->prog_id)
			return "its tc filter was deleted or replaced";
	} else if (link_info(l->xdp_link_fds[slot], &info) ||
		   info.xdp.ifindex != (uint32_t)ifindex ||
		   info.prog_id != link->prog_id) {
		return "its XDP link was detached";
	}
	if (link->inspector &&
	    tc_prog_id(ifindex, TC_INSPECTOR) !=
		    prog_id(bpf_program__fd(l->skel->progs.mxg_smtp)))
		return "the SMTP reader's tc filter was deleted or replaced";
	return NULL;
}

void mxg_attach_check(struct mxg_loader *l, const struct mxg_config *cfg)
{
	struct mxg_link links[MXG_MAX_LINKS], now;
	uint64_t netns = mxg_netns_ino();
	char err[256], name[64];
	const char *why;
	int ret;

	if (mxg_links_read(&l->maps, links))
		return;
	for (uint32_t s = 0; s < MXG_MAX_LINKS; s++) {
		if (links[s].mode == MXG_LINK_NONE || links[s].netns_ino != netns)
			continue;
		why = attachment_lost(l, s, &links[s]);
		if (!why) {
			l->lost &= ~(1u << s);
			if (links[s].mode == MXG_LINK_TC)
				continue;
			xdp_pin_name(name, sizeof(name), links[s].ifname);
			repin(l, l->xdp_link_fds[s], name);
			continue;
		}
		ret = attach_one(l, cfg, s, links[s].ifname, &links[s], &now,
				 err, sizeof(err));
		if (now.mode != MXG_LINK_NONE)
			mxg_link_write(&l->maps, s, &now);
		if (!ret) {
			mxg_err("lost the guard on %s (%s): re-attached %s",
				links[s].ifname, why, mxg_link_mode_name(now.mode));
			l->lost &= ~(1u << s);
		} else if (!(l->lost & (1u << s))) {
			mxg_err("lost the guard on %s (%s): %s; trying again at every sweep",
				links[s].ifname, why, err);
			l->lost |= 1u << s;
		}
	}
	counter_check(l, cfg);
}

void mxg_loader_close(struct mxg_loader *l)
{
	for (int s = 0; s < MXG_MAX_LINKS; s++) {
		if (l->xdp_link_fds[s] >= 0)
			close(l->xdp_link_fds[s]);
		l->xdp_link_fds[s] = -1;
	}
	counter_links_release(l);
	mxguard__destroy(l->skel);
	l->skel = NULL;
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	l->lock_fd = -1;
}

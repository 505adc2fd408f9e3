/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loading the BPF object over the pinned state and attaching it: the part
 * of mxguardd that must be safe to run at boot, after a crash, and over a
 * previous version's pins.
 */
#ifndef MXG_LOADER_H
#define MXG_LOADER_H

#include <stdint.h>
#include "config.h"
#include "maps.h"

struct mxguard;	/* the skeleton */

/* Links pinned in pin_dir besides the maps. */
#define MXG_PIN_SOCKOPS "link_sockops"
#define MXG_PIN_CONN_CLOSE "link_conn_close"

struct mxg_loader {
	struct mxguard *skel;
	struct mxg_maps maps;	/* the skeleton's map fds (not owned) */
	int lock_fd;		/* flock on the pin directory */
	unsigned features_off;	/* enum mxg_feature: what this kernel lacks */
	char pin_dir[256];
};

/* Make sure bpffs is mounted under the pin dir's parent, create pin_dir
 * (0700) and take its lock so only one mxguardd runs per pin dir. */
int mxg_pin_dir_prepare(const char *pin_dir, int *lock_fd, char *err,
			size_t errlen);

/* Open and load the object, reusing every map already pinned under
 * pin_dir (a restart keeps counters, rate state and bans) and pinning the
 * ones that are new. A part the running kernel cannot load (probe.h) is
 * left out and named in the log and in l->features_off; only admission
 * is required. */
int mxg_load(struct mxg_loader *l, const struct mxg_config *cfg, char *err,
	     size_t errlen);

/* Attach to every configured interface and detach from the ones no longer
 * configured. Existing attachments are adopted by swapping in the new
 * programs, so enforcement never stops during a restart. */
int mxg_attach_all(struct mxg_loader *l, const struct mxg_config *cfg,
		   char *err, size_t errlen);

/* Detach everything recorded in mxg_links (from mxguardd on a clean stop,
 * or from `mxguardctl unload`). Returns the number of attachments that
 * could not be detached, 0 on success. */
int mxg_detach_all(const struct mxg_maps *m, const char *pin_dir);

/* Remove every pin under pin_dir and the directory itself. */
int mxg_unpin_all(const char *pin_dir);

/* The connection counter: the close tracepoint, sock_ops on the cgroup v2
 * root (or [global] cgroup), and a pass over the existing connections. It
 * stays attached across a clean stop (it never drops anything), so the
 * counts are still exact at the next start; unload removes it. */
int mxg_counter_attach(struct mxg_loader *l, const struct mxg_config *cfg,
		       char *err, size_t errlen);
int mxg_counter_detach(const char *pin_dir);

/* The cgroup v2 directory: the configured one, checked, or the first
 * cgroup2 mount. */
int mxg_find_cgroup2(const char *configured, char *out, size_t len,
		     char *err, size_t errlen);

/* The BTF of the recipient mirror's inner map in a loaded skeleton. */
void mxg_inner_btf_from_skel(const struct mxguard *skel,
			     struct mxg_inner_btf *btf);

/* The map fds of a loaded skeleton (not owned). */
void mxg_maps_from_skel(const struct mxguard *skel, struct mxg_maps *m);

void mxg_loader_close(struct mxg_loader *l);

/* This network namespace's cookie (SO_NETNS_COOKIE), 0 if unknown. */
uint64_t mxg_netns_cookie(void);

/* The network namespace this process is in (inode of /proc/self/ns/net). */
uint64_t mxg_netns_ino(void);

#endif

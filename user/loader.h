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

struct mxg_loader {
	struct mxguard *skel;
	struct mxg_maps maps;	/* the skeleton's map fds (not owned) */
	int lock_fd;		/* flock on the pin directory */
	char pin_dir[256];
};

/* Make sure bpffs is mounted under the pin dir's parent, create pin_dir
 * (0700) and take its lock so only one mxguardd runs per pin dir. */
int mxg_pin_dir_prepare(const char *pin_dir, int *lock_fd, char *err,
			size_t errlen);

/* Open and load the object, reusing every map already pinned under
 * pin_dir (a restart keeps counters, rate state and bans) and pinning the
 * ones that are new. */
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

void mxg_loader_close(struct mxg_loader *l);

/* The network namespace this process is in (inode of /proc/self/ns/net). */
uint64_t mxg_netns_ino(void);

#endif

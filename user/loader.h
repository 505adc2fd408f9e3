/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loading the BPF object over the pinned state and attaching it: the part
 * of mxguardd that must be safe to run at boot, after a crash, and over a
 * previous version's pins.
 */
#ifndef MXG_LOADER_H
#define MXG_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "maps.h"

struct mxguard;	/* the skeleton */
struct bpf_link;

/* Links pinned in pin_dir besides the maps. */
#define MXG_PIN_SOCKOPS "link_sockops"
#define MXG_PIN_CONN_CLOSE "link_conn_close"

/* The connection counter's links, as mxg_loader holds them. */
enum mxg_counter_link { MXG_COUNTER_CLOSE, MXG_COUNTER_SOCKOPS, MXG_COUNTER_LINKS };

struct mxg_loader {
	struct mxguard *skel;
	struct mxg_maps maps;	/* the skeleton's map fds (not owned) */
	int lock_fd;		/* flock on the pin directory */
	unsigned features_off;	/* enum mxg_feature: what this kernel lacks */
	/*
	 * Held besides the pins, so that a removed pin detaches nothing
	 * while mxguardd runs: the XDP link of each mxg_links slot (-1 for
	 * none or tc) and the counter's links. Releasing them detaches only
	 * what is no longer pinned.
	 */
	int xdp_link_fds[MXG_MAX_LINKS];
	struct bpf_link *counter_links[MXG_COUNTER_LINKS];
	uint32_t fresh;		/* slots this process attached where nothing was */
	bool counter_fresh;	/* the counter, likewise */
	uint32_t lost;		/* slots that could not be re-attached yet */
	bool counter_lost;	/* the counter, likewise */
	char pin_dir[256];
};

/* Before any other use: nothing held, no lock. */
void mxg_loader_init(struct mxg_loader *l);

/* Make sure bpffs is mounted under the pin dir's parent, create pin_dir
 * (0700) and take its lock so only one mxguardd runs per pin dir. A pin
 * dir, or a directory above it within the bpffs, that a user other than
 * root owns or may write (but for a sticky one, such as a bpffs mounted
 * without mode=) is refused: that user could swap or remove the pins. */
int mxg_pin_dir_prepare(const char *pin_dir, int *lock_fd, char *err,
			size_t errlen);

/* Open and load the object, reusing every map already pinned under
 * pin_dir (a restart keeps counters, rate state and bans) and pinning the
 * ones that are new. A part the running kernel cannot load (probe.h) is
 * left out and named in the log and in l->features_off; only admission
 * is required. */
int mxg_load(struct mxg_loader *l, const struct mxg_config *cfg, char *err,
	     size_t errlen);

/* Every configured interface exists (in this network namespace). */
int mxg_ifaces_check(const struct mxg_config *cfg, char *err, size_t errlen);

/* Attach to every configured interface, then detach from the ones no
 * longer configured (so a failure takes nothing away: mxg_apply() undoes
 * it with the old config). Existing attachments are adopted by swapping
 * in the new programs, so enforcement never stops during a restart. */
int mxg_attach_all(struct mxg_loader *l, const struct mxg_config *cfg,
		   char *err, size_t errlen);

/* For a start that failed: detach what this process attached where
 * nothing was attached before (l->fresh, l->counter_fresh); what it
 * adopted from a previous run keeps enforcing. */
void mxg_detach_fresh(struct mxg_loader *l);

/* Cheap enough to run every few seconds: re-attach what was detached
 * behind mxguardd's back (an XDP link detached, a tc filter deleted, an
 * interface made anew) and pin again a link whose pin was removed; each
 * is logged, a failure once until it changes. */
void mxg_attach_check(struct mxg_loader *l, const struct mxg_config *cfg);

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

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguard's metrics in the Prometheus text exposition format (0.0.4): one
 * reader of the pinned maps and one renderer, used by `mxguardctl metrics`
 * and by mxguardd's /metrics endpoint alike, so the two cannot differ.
 * docs/metrics.md lists every family.
 *
 * A scrape reads the maps first, whole, into a snapshot, then renders it:
 * a map that cannot be read fails the scrape with a reason, never a
 * partial document. It never walks mxg_sources (an LRU of up to
 * millions): its fill is min(sources created, max_entries), a per-CPU
 * counter. It walks only maps whose size the config or the ABI bounds
 * (allow, deny, bans: MXG_MAX_RULES; conns: MXG_MAX_CONN_SOURCES).
 * The fleet's record (mxg_fleet) is read whole; a guard of an earlier
 * version that did not pin it reads as a fleet that is off.
 */
#ifndef MXG_METRICS_H
#define MXG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "maps.h"

#define MXG_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The maps whose fill is shown (mxguard_map_entries / _capacity). */
enum mxg_metrics_map {
	MXG_MM_SOURCES = 0,
	MXG_MM_CONNS,
	MXG_MM_ALLOW,
	MXG_MM_DENY,
	MXG_MM_BANS,
	MXG_MM_COUNT,
};

/* The ban origins counted (enum mxg_origin); slot 0 = any other value. */
#define MXG_METRICS_ORIGINS (MXG_ORIGIN_FLEET + 1)

/* Everything a scrape shows, read before anything is rendered. */
struct mxg_metrics_snap {
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct mxg_stats stats[MXG_MAX_CLASSES + 1];
	uint64_t conns[MXG_MAX_CLASSES];
	struct mxg_rcpt_stats rcpt;
	struct mxg_mirror mirror;
	bool mirror_ready;
	struct mxg_link links[MXG_MAX_LINKS];
	struct mxg_tuning tuning[MXG_MAX_CLASSES];
	struct mxg_tuner_state tuner;
	uint64_t daemon[MXG_DAEMON_COUNTERS];
	uint64_t map_entries[MXG_MM_COUNT];
	uint64_t map_capacity[MXG_MM_COUNT];
	uint64_t bans_by_origin[MXG_METRICS_ORIGINS]; /* index enum mxg_origin */
	struct mxg_fleet fleet;		/* all zero (off) when not pinned */
	/* The clocks at the read: CLOCK_MONOTONIC (the maps' times) and
	 * the wall clock, to turn the first into Unix timestamps. */
	uint64_t mono_ns;
	uint64_t real_ns;
};

/* Read every figure from the pinned maps. 0, or -errno with a one-line
 * reason in err. */
int mxg_metrics_read(const struct mxg_maps *m, struct mxg_metrics_snap *s,
		     char *err, size_t errlen);

/* Write the document for s to out. 0, or -errno (a write failed). */
int mxg_metrics_render(const struct mxg_metrics_snap *s, FILE *out);

/* Read and render into a malloc'd buffer (*text, *len; the caller frees
 * it): the whole document or nothing. 0, or -errno with err. */
int mxg_metrics_collect(const struct mxg_maps *m, char **text, size_t *len,
			char *err, size_t errlen);

/* A label value as the format escapes it (\\, \", \n). Returns the
 * length it needs (as snprintf), writing at most len bytes with a NUL. */
size_t mxg_metrics_escape(const char *in, char *out, size_t len);

#endif

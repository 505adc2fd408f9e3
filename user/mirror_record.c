/* SPDX-License-Identifier: BSD-2-Clause */
/* The readiness record's one writer; see mirror_record.h. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "mirror_record.h"
#include "recipients.h"

/* One lock for the process, not one per writer: the record is one per pin
 * dir, a pin dir has one mxguardd (its lock), and the main thread writes
 * the config part whether a writer thread runs or not. */
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;

typedef void (*record_change_fn)(struct mxg_mirror *rec, const void *arg);

static int record_update(const struct mxg_maps *maps, record_change_fn change,
			 const void *arg)
{
	struct mxg_mirror rec;
	uint32_t zero = 0;
	int ret;

	pthread_mutex_lock(&record_lock);
	ret = mxg_mirror_read(maps, &rec);
	if (!ret) {
		change(&rec, arg);
		ret = bpf_map_update_elem(maps->mirror, &zero, &rec, BPF_ANY) ?
		      -errno : 0;
	}
	pthread_mutex_unlock(&record_lock);
	return ret;
}

static void set_config(struct mxg_mirror *rec, const void *arg)
{
	const struct mxg_config *cfg = arg;

	rec->max_age_ns = cfg->ldap.max_age_ns;
	memcpy(rec->recipient_delimiter, cfg->recipient_delimiter,
	       sizeof(rec->recipient_delimiter));
	if (!cfg->ldap.enabled) {
		rec->mode = MXG_SYNC_NONE;
		rec->connected = 0;
	} else if (rec->mode == MXG_SYNC_NONE) {
		rec->mode = cfg->ldap.sync;
	}
	/* Else the mode stays the writer's: the one in use (poll when the
	 * server lacks syncrepl) while it runs; a writer that starts sets
	 * the configured one first (mxg_mirror_start). */
}

int mxg_mirror_record_config(const struct mxg_maps *maps,
			     const struct mxg_config *cfg)
{
	return record_update(maps, set_config, cfg);
}

static void set_mode(struct mxg_mirror *rec, const void *arg)
{
	rec->mode = *(const uint32_t *)arg;
}

int mxg_mirror_record_mode(const struct mxg_maps *maps, uint32_t mode)
{
	return record_update(maps, set_mode, &mode);
}

struct synced {
	uint64_t entries, skipped;
	bool swapped;
};

static void set_synced(struct mxg_mirror *rec, const void *arg)
{
	const struct synced *s = arg;

	if (s->swapped)
		rec->generation++;
	rec->synced_ns = mxg_now_ns();
	rec->entries = s->entries;
	rec->connected = 1;
	rec->skipped = s->skipped;
}

int mxg_mirror_record_synced(const struct mxg_maps *maps, uint64_t entries,
			     uint64_t skipped, bool swapped)
{
	struct synced s = { entries, skipped, swapped };

	return record_update(maps, set_synced, &s);
}

static void set_disconnected(struct mxg_mirror *rec, const void *arg)
{
	rec->connected = 0;
}

/* The failure counted in mxg_daemon for the metrics, with its wall-clock
 * time (Prometheus compares timestamps with time()). Only the writer
 * thread calls this, so the read and the write cannot race another. */
static void count_error(const struct mxg_maps *maps)
{
	__u32 k = MXG_DAEMON_MIRROR_ERRORS, t = MXG_DAEMON_MIRROR_ERROR_TIME;
	__u64 n = 0, now = (__u64)time(NULL);

	if (maps->daemon < 0)
		return;
	bpf_map_lookup_elem(maps->daemon, &k, &n);
	n++;
	bpf_map_update_elem(maps->daemon, &k, &n, BPF_ANY);
	bpf_map_update_elem(maps->daemon, &t, &now, BPF_ANY);
}

int mxg_mirror_record_disconnected(const struct mxg_maps *maps)
{
	count_error(maps);
	return record_update(maps, set_disconnected, NULL);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* The mirror's inner maps and its entries; see mirror_store.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uthash.h>
#include <bpf/bpf.h>
#include "log.h"
#include "mirror_record.h"
#include "mirror_store.h"
#include "recipients.h"

#define INNER_MIN_ENTRIES 1024
#define GROW_BATCH 4096

/* An entry's id -> the address hashes it contributed, sorted, each once. */
struct mxg_mirror_entry {
	unsigned char id[MXG_MIRROR_ID_LEN];
	uint32_t n;
	uint64_t *hashes;
	UT_hash_handle hh;
};

static void ids_free(struct mxg_mirror_entry **table)
{
	struct mxg_mirror_entry *e, *tmp;

	HASH_ITER(hh, *table, e, tmp) {
		HASH_DEL(*table, e);
		free(e->hashes);
		free(e);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool has_hash(const uint64_t *h, uint32_t n, uint64_t k)
{
	return n && bsearch(&k, h, n, sizeof(*h), cmp_u64);
}

/* Sorted (has_hash bisects), each once; returns the new count. */
static uint32_t hashes_settle(uint64_t **hashes, uint32_t n)
{
	uint64_t *h = *hashes, *tmp;
	uint32_t u = 0;

	if (!n)
		return 0;
	qsort(h, n, sizeof(*h), cmp_u64);
	for (uint32_t i = 0; i < n; i++)
		if (!u || h[u - 1] != h[i])
			h[u++] = h[i];
	/* syncrepl keeps it for as long as the mirror lives. */
	tmp = realloc(h, u * sizeof(*h));
	if (tmp)
		*hashes = tmp;
	return u;
}

/* ---- inner maps --------------------------------------------------------- */

static uint32_t round_pow2(uint64_t n)
{
	uint32_t p = INNER_MIN_ENTRIES;

	while (p < n && p < (1U << 30))
		p <<= 1;
	return p;
}

static int inner_create(struct mxg_mirror_store *st,
			struct mxg_mirror_inner *in, uint64_t hint)
{
	/* Room for a quarter more than expected before the first regrow;
	 * elements are allocated as used, only the buckets are not. */
	in->max_entries = round_pow2(hint + hint / 4);
	in->entries = 0;
	in->fd = mxg_rcpt_inner_create(&st->btf, in->max_entries);
	return in->fd < 0 ? in->fd : 0;
}

static void inner_close(struct mxg_mirror_inner *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	in->entries = 0;
}

static int slot_set(struct mxg_mirror_store *st, int fd)
{
	uint32_t zero = 0;
	int ret;

	if (bpf_map_update_elem(st->maps.rcpt_slot, &zero, &fd, BPF_ANY))
		return -errno;
	/* After the swap, which is what counts: a pin that failed leaves
	 * readers the map id, which only CAP_SYS_ADMIN may open. */
	ret = mxg_rcpt_live_pin(st->pin_dir, fd);
	if (ret)
		mxg_err("recipient mirror: cannot pin the live map as %s/%s: %s (lookups without CAP_SYS_ADMIN answer TEMP)",
			st->pin_dir, MXG_PIN_RCPT_LIVE, strerror(-ret));
	return 0;
}

/* Twice the size, everything copied over in batches (three syscalls per
 * entry one by one made growing the slowest part of a large sync); the
 * live one is swapped. */
static int inner_grow(struct mxg_mirror_store *st, struct mxg_mirror_inner *in,
		      bool live)
{
	uint64_t keys[GROW_BATCH], in_batch = 0, out_batch = 0;
	struct mxg_rcpt vals[GROW_BATCH];
	struct mxg_mirror_inner big;
	bool first = true;
	int ret;

	/* inner_create() adds a quarter and rounds up: twice the size. */
	ret = inner_create(st, &big, in->max_entries);
	if (ret)
		return ret;
	for (;;) {
		__u32 n = GROW_BATCH;
		int rc = bpf_map_lookup_batch(in->fd, first ? NULL : &in_batch,
					      &out_batch, keys, vals, &n, NULL);

		if (rc && errno != ENOENT) {
			ret = -errno;
			goto fail;
		}
		if (n && bpf_map_update_batch(big.fd, keys, vals, &n, NULL)) {
			ret = -errno;
			goto fail;
		}
		if (rc)		/* ENOENT: that was the last batch */
			break;
		in_batch = out_batch;
		first = false;
	}
	big.entries = in->entries;
	if (live) {
		ret = slot_set(st, big.fd);
		if (ret)
			goto fail;
	}
	inner_close(in);
	*in = big;
	return 0;
fail:
	inner_close(&big);
	return ret;
}

static int inner_add(struct mxg_mirror_store *st, struct mxg_mirror_inner *in,
		     bool live, uint64_t h)
{
	struct mxg_rcpt v = { .refs = 1 };

	/* Most addresses are new: try the insert first. */
	if (!bpf_map_update_elem(in->fd, &h, &v, BPF_NOEXIST)) {
		in->entries++;
		return 0;
	}
	if (errno == EEXIST) {
		if (bpf_map_lookup_elem(in->fd, &h, &v))
			return -errno;
		v.refs++;
		return bpf_map_update_elem(in->fd, &h, &v, BPF_EXIST) ? -errno : 0;
	}
	if (errno != E2BIG)
		return -errno;
	if (inner_grow(st, in, live))
		return -ENOMEM;
	return inner_add(st, in, live, h);
}

static int inner_remove(struct mxg_mirror_inner *in, uint64_t h)
{
	struct mxg_rcpt v;

	if (bpf_map_lookup_elem(in->fd, &h, &v))
		return 0;	/* never there: nothing to take back */
	if (v.refs > 1) {
		v.refs--;
		return bpf_map_update_elem(in->fd, &h, &v, BPF_EXIST) ? -errno : 0;
	}
	if (bpf_map_delete_elem(in->fd, &h))
		return -errno;
	in->entries--;
	return 0;
}

/* ---- full refreshes ---------------------------------------------------- */

int mxg_mirror_store_open(struct mxg_mirror_store *st,
			  const struct mxg_maps *maps, const char *pin_dir,
			  const struct mxg_inner_btf *btf)
{
	struct mxg_rcpt_reader src = { .maps = maps, .pin_dir = pin_dir };
	struct mxg_mirror rec;

	memset(st, 0, sizeof(*st));
	st->maps = *maps;
	snprintf(st->pin_dir, sizeof(st->pin_dir), "%s", pin_dir);
	st->btf = *btf;
	st->fresh.fd = -1;
	st->live.fd = mxg_rcpt_inner_fd(&src);
	/* Adopted by id (swapped in by an mxguardd that did not pin it):
	 * pinned from now on. */
	if (st->live.fd >= 0 && mxg_rcpt_live_pin(pin_dir, st->live.fd))
		mxg_err("recipient mirror: cannot pin the live map under %s",
			pin_dir);
	if (st->live.fd >= 0 && !mxg_mirror_read(maps, &rec))
		st->live.entries = rec.entries;
	return 0;
}

void mxg_mirror_store_close(struct mxg_mirror_store *st)
{
	inner_close(&st->live);
	inner_close(&st->fresh);
	ids_free(&st->ids);
	ids_free(&st->fresh_ids);
	st->refreshing = false;
}

int mxg_mirror_store_begin(struct mxg_mirror_store *st)
{
	int ret;

	ids_free(&st->fresh_ids);
	inner_close(&st->fresh);
	/* "skipped" counts the bad values of the mirror being built (and of
	 * the changes after it), not every time they are read again. */
	st->skipped = 0;
	ret = inner_create(st, &st->fresh, st->live.entries);
	if (!ret)
		st->refreshing = true;
	return ret;
}

void mxg_mirror_store_abort(struct mxg_mirror_store *st)
{
	inner_close(&st->fresh);
	ids_free(&st->fresh_ids);
	st->refreshing = false;
}

/* The fresh map becomes the live one. */
int mxg_mirror_store_swap(struct mxg_mirror_store *st)
{
	uint64_t before = st->live.entries;
	bool first = st->swaps++ == 0;
	int ret = slot_set(st, st->fresh.fd);

	if (ret)
		return ret;
	inner_close(&st->live);
	st->live = st->fresh;
	st->fresh.fd = -1;
	st->refreshing = false;
	ids_free(&st->ids);
	st->ids = st->fresh_ids;
	st->fresh_ids = NULL;
	mxg_mirror_record_synced(&st->maps, st->live.entries, st->skipped, true);
	/* Every poll swaps: only a first load or a change is worth a line. */
	if (first || before != st->live.entries)
		mxg_info("recipient mirror: %llu addresses (full refresh)",
			 (unsigned long long)st->live.entries);
	return 0;
}

int mxg_mirror_store_synced(struct mxg_mirror_store *st)
{
	return mxg_mirror_record_synced(&st->maps, st->live.entries,
					st->skipped, false);
}

/* ---- entries ----------------------------------------------------------- */

int mxg_mirror_store_apply(struct mxg_mirror_store *st, const void *id,
			   size_t idlen, uint64_t *hashes, uint32_t n)
{
	struct mxg_mirror_inner *in = st->refreshing ? &st->fresh : &st->live;
	struct mxg_mirror_entry **table = st->refreshing ? &st->fresh_ids : &st->ids;
	bool live = !st->refreshing;
	struct mxg_mirror_entry *e = NULL;
	int ret = 0;

	n = hashes_settle(&hashes, n);
	if (id && idlen == MXG_MIRROR_ID_LEN)
		HASH_FIND(hh, *table, id, MXG_MIRROR_ID_LEN, e);
	/* Add what it has new, then take back what it no longer has. */
	for (uint32_t i = 0; i < n && !ret; i++)
		if (!e || !has_hash(e->hashes, e->n, hashes[i]))
			ret = inner_add(st, in, live, hashes[i]);
	if (e)
		for (uint32_t i = 0; i < e->n && !ret; i++)
			if (!has_hash(hashes, n, e->hashes[i]))
				ret = inner_remove(in, e->hashes[i]);
	if (ret || !id || idlen != MXG_MIRROR_ID_LEN) {
		free(hashes);
		return ret;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			free(hashes);
			return -ENOMEM;
		}
		memcpy(e->id, id, MXG_MIRROR_ID_LEN);
		HASH_ADD(hh, *table, id, MXG_MIRROR_ID_LEN, e);
	}
	free(e->hashes);
	e->hashes = hashes;
	e->n = n;
	return 0;
}

int mxg_mirror_store_delete(struct mxg_mirror_store *st, const void *id,
			    size_t idlen)
{
	struct mxg_mirror_inner *in = st->refreshing ? &st->fresh : &st->live;
	struct mxg_mirror_entry **table = st->refreshing ? &st->fresh_ids : &st->ids;
	struct mxg_mirror_entry *e = NULL;
	int ret = 0;

	if (idlen == MXG_MIRROR_ID_LEN)
		HASH_FIND(hh, *table, id, MXG_MIRROR_ID_LEN, e);
	if (!e)
		return 0;
	for (uint32_t i = 0; i < e->n && !ret; i++)
		ret = inner_remove(in, e->hashes[i]);
	HASH_DEL(*table, e);
	free(e->hashes);
	free(e);
	return ret;
}

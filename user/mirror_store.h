/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The mirror's inner maps, as the writer thread keeps them: the live one
 * in mxg_rcpt_slot, a fresh one while a full refresh fills it, and per
 * directory entry (its entryUUID) the address hashes it contributed, so
 * that a delete or a modify takes back exactly those. Knows nothing of
 * LDAP: entries come in as an id and a set of hashes. Each change that
 * readers should see is stamped in the readiness record (mirror_record.h).
 * Used by the writer thread only.
 */
#ifndef MXG_MIRROR_STORE_H
#define MXG_MIRROR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maps.h"

#define MXG_MIRROR_ID_LEN 16	/* an entryUUID; other ids are not kept */

struct mxg_mirror_inner {
	int fd;
	uint32_t max_entries;
	uint64_t entries;	/* distinct addresses in it */
};

struct mxg_mirror_entry;	/* id -> its hashes */

struct mxg_mirror_store {
	struct mxg_maps maps;
	char pin_dir[256];		/* where the live map is pinned */
	struct mxg_inner_btf btf;
	struct mxg_mirror_inner live;	/* what is in the slot (fd owned) */
	struct mxg_mirror_inner fresh;	/* being filled by a full refresh */
	bool refreshing;		/* changes go to fresh, not live */
	struct mxg_mirror_entry *ids, *fresh_ids;
	uint64_t swaps;			/* full refreshes swapped in */
	/* Directory values refused (not addresses) in the mirror being
	 * built and the changes after it; the session counts them. */
	uint64_t skipped;
};

/* Adopt what is pinned in the slot, so it is served until the first full
 * refresh replaces it; each map swapped in is pinned under pin_dir
 * (MXG_PIN_RCPT_LIVE in recipients.h). */
int mxg_mirror_store_open(struct mxg_mirror_store *st,
			  const struct mxg_maps *maps, const char *pin_dir,
			  const struct mxg_inner_btf *btf);
void mxg_mirror_store_close(struct mxg_mirror_store *st);

/* A full refresh: begin makes an empty fresh map (sized from the live
 * count) that apply and delete then fill; swap puts it in the slot, abort
 * drops it. */
int mxg_mirror_store_begin(struct mxg_mirror_store *st);
int mxg_mirror_store_swap(struct mxg_mirror_store *st);
void mxg_mirror_store_abort(struct mxg_mirror_store *st);

/*
 * An entry as it is now: hashes (n of them, any order, repeats allowed;
 * the store takes the array) replace what the same id gave before. id may be NULL
 * (a paged refresh: no later changes to follow it by). Into the fresh map
 * during a refresh, else into the live one.
 */
int mxg_mirror_store_apply(struct mxg_mirror_store *st, const void *id,
			   size_t idlen, uint64_t *hashes, uint32_t n);
/* The entry with this id is gone: take back what it gave. */
int mxg_mirror_store_delete(struct mxg_mirror_store *st, const void *id,
			    size_t idlen);

/* The live map was confirmed current now (readiness record). */
int mxg_mirror_store_synced(struct mxg_mirror_store *st);

#endif

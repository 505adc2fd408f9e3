/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The readiness record (mxg_mirror) and its one writer in mxguardd.
 *
 * Two threads change the record: the mirror's writer thread (connected,
 * generation, entries, synced, skipped, the mode in use) and the main
 * thread at start and on SIGHUP (max_age, delimiters, and the mode only
 * when [ldap] is off or was, through mxg_mirror_record_config() in
 * mirror.h). Each change is a
 * read-modify-write of the whole record, so every one of them goes
 * through this module under one lock: a reload during a sync no longer
 * writes back a stale copy over `connected`, the sync time or the swap.
 * Nothing else in the process writes the record; mxguardctl only reads
 * it (mxg_mirror_read() in recipients.h).
 */
#ifndef MXG_MIRROR_RECORD_H
#define MXG_MIRROR_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include "mirror.h"

/* The mode in use: poll when syncrepl was asked for but the server does
 * not offer it. */
int mxg_mirror_record_mode(const struct mxg_maps *maps, uint32_t mode);

/* The mirror was confirmed current now, holding entries addresses with
 * skipped values refused; swapped: a full refresh was just swapped in
 * (the generation goes up by one). */
int mxg_mirror_record_synced(const struct mxg_maps *maps, uint64_t entries,
			     uint64_t skipped, bool swapped);

/* The directory does not answer; the last mirror stays and ages. */
int mxg_mirror_record_disconnected(const struct mxg_maps *maps);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The recipient mirror's writer: a thread of mxguardd that reads the valid
 * addresses from the directory (libldap) and keeps them in the BPF maps.
 *
 * A full refresh fills a fresh inner map and swaps it into mxg_rcpt_slot,
 * so readers never see a half-filled mirror. With sync = syncrepl and a
 * server that offers RFC 4533, the refresh is the refresh phase of a
 * refreshAndPersist search (libldap's ldap_sync API) and every later add,
 * modify and delete is applied to the live map as it happens; otherwise it
 * is a paged search every poll_interval. When the directory goes away the
 * last good mirror stays, turns not-ready after max_age, and the thread
 * reconnects with backoff.
 *
 * By role: the thread and its backoff (mirror.c), the directory session,
 * paged search and syncrepl (mirror_ldap.h), the inner maps
 * (mirror_store.h), and the readiness record with its one lock
 * (mirror_record.h).
 */
#ifndef MXG_MIRROR_H
#define MXG_MIRROR_H

#include <stdint.h>
#include "config.h"
#include "maps.h"

struct mxg_mirror_writer;

/* Start the writer thread. cfg is copied; btf types the inner maps it
 * creates, so bpftool shows them with field names like every other map. */
int mxg_mirror_start(struct mxg_mirror_writer **out, const struct mxg_config *cfg,
		     const struct mxg_maps *maps, const struct mxg_inner_btf *btf);

/* Stop it: interrupts a blocking LDAP call, joins the thread. NULL is
 * fine. */
void mxg_mirror_stop(struct mxg_mirror_writer *w);

/* Write the parts of the readiness record that come from the config
 * (max_age, delimiters; without [ldap] mode none and not connected), at
 * start and on every reload. Safe while a writer thread runs: both change
 * the record under one lock, so neither loses what the other wrote, and
 * the mode the writer found in use stays. */
int mxg_mirror_record_config(const struct mxg_maps *maps,
			     const struct mxg_config *cfg);

#endif

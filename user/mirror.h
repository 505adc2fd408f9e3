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
 */
#ifndef MXG_MIRROR_H
#define MXG_MIRROR_H

#include <stdint.h>
#include "config.h"
#include "maps.h"

struct mxg_mirror_writer;

/* BTF for the inner maps the writer creates, so bpftool shows them with
 * field names like every other map. */
/* Start the writer thread. cfg is copied. */
int mxg_mirror_start(struct mxg_mirror_writer **out, const struct mxg_config *cfg,
		     const struct mxg_maps *maps, const struct mxg_inner_btf *btf);

/* Stop it: interrupts a blocking LDAP call, joins the thread. */
void mxg_mirror_stop(struct mxg_mirror_writer *w);

/* Write the parts of the readiness record that come from the config
 * (mode, max_age, delimiters) when no writer runs, e.g. without [ldap]. */
int mxg_mirror_record_config(const struct mxg_maps *maps,
			     const struct mxg_config *cfg);

#endif

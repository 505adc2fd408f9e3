/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The recipient mirror as its readers see it: the installation's hash key,
 * the local domains, one address looked up, the readiness record. Shared
 * by mxguardctl (rcpt check/stats) and mxguardd (the mirror writer and,
 * later, the MTA lookup socket), so that both normalise and hash exactly
 * as the BPF side does (bpf/rcpt.h).
 */
#ifndef MXG_RECIPIENTS_H
#define MXG_RECIPIENTS_H

#include <stdbool.h>
#include <stdint.h>
#include "mxguard.h"
#include "config.h"
#include "maps.h"

/* The pinned key, made on first use from getrandom(): random per
 * installation, so remote senders cannot aim at collisions. */
int mxg_hash_key_ensure(const struct mxg_maps *m, struct mxg_hash_key *key);
int mxg_hash_key_get(const struct mxg_maps *m, struct mxg_hash_key *key);

int mxg_mirror_read(const struct mxg_maps *m, struct mxg_mirror *out);

/* Make mxg_rcpt_domains hold exactly the configured local domains. */
int mxg_domains_sync(const struct mxg_maps *m, const struct mxg_hash_key *key,
		     const struct mxg_ldap_config *ldap);

struct mxg_rcpt_answer {
	char normalized[MXG_RCPT_BUF];
	bool known;		/* in the live mirror */
	bool local_domain;	/* its domain is one of ours */
	bool ready;		/* the mirror may be believed */
};

/* Where readers find the mirror: the pinned maps, and the pin dir that
 * also holds the live inner map's pin (MXG_PIN_RCPT_LIVE). */
struct mxg_rcpt_reader {
	const struct mxg_maps *maps;
	const char *pin_dir;
};

/* Look one address up. -EINVAL (with *why set) when it is not an address
 * the mirror could hold; the delimiters come from the mirror record.
 * Another -errno when the live inner map cannot be opened: the answer
 * would be a guess. */
int mxg_rcpt_check(const struct mxg_rcpt_reader *src, const char *addr,
		   struct mxg_rcpt_answer *ans, const char **why);

/*
 * The inner map now in the slot lives on past any process through the
 * slot; readers open it by its pin in the pin dir, made at every swap.
 * Not by its id: BPF_MAP_GET_FD_BY_ID takes CAP_SYS_ADMIN, which the
 * hardened unit does not grant. The id is the fallback for a mirror
 * swapped in before the pin existed (an older mxguardd).
 */
#define MXG_PIN_RCPT_LIVE "mxg_rcpt_live"

/* Pin fd as the live inner map (atomically over the previous pin). */
int mxg_rcpt_live_pin(const char *pin_dir, int fd);

/* Entries of the inner map now in the slot, or -ENOENT when empty. */
int mxg_rcpt_inner_fd(const struct mxg_rcpt_reader *src);

#endif

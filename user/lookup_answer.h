/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the lookup socket answers: the recipient mirror's verdict on one
 * key, as a socketmap reply for the MTA (docs/mta.md). The server
 * (lookup.h) calls mxg_lookup_answer_rcpt() for every key; it never asks
 * LDAP.
 */
#ifndef MXG_LOOKUP_ANSWER_H
#define MXG_LOOKUP_ANSWER_H

#include <stddef.h>
#include "lookup_codec.h"
#include "recipients.h"

/*
 * The mirror's answer for a key, as the MTA needs it (docs/mta.md):
 * ready and known -> "OK <normalised address>"; not one of our domains,
 * or no "user@domain" at all (Postfix's "@domain" and bare "user"
 * lookups) -> "NOTFOUND "; local domain but the mirror not ready ->
 * "TEMP mirror not ready"; local domain, ready, not known -> "NOTFOUND ";
 * an address no mirror can hold (too long, control bytes) -> PERM.
 * ret/why are mxg_rcpt_check()'s.
 */
void mxg_lookup_rcpt_reply(int ret, const struct mxg_rcpt_answer *ans,
			   const char *why, char *reply);

/* answer() for the daemon (an mxg_lookup_fn): mxg_rcpt_check() on the
 * struct mxg_rcpt_reader in ctx. */
void mxg_lookup_answer_rcpt(void *ctx, const char *key, size_t keylen,
			    char *reply);

#endif

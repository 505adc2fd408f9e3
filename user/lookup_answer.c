/* SPDX-License-Identifier: BSD-2-Clause */
/* What the lookup socket answers; see lookup_answer.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "lookup_answer.h"
#include "rcpt.h"

void mxg_lookup_rcpt_reply(int ret, const struct mxg_rcpt_answer *ans,
			   const char *why, char *reply)
{
	if (ret == -EINVAL) {
		/* Postfix also asks for "@domain" and, for local domains, the
		 * bare local part; neither is in a mirror of addresses, and
		 * PERM would make Postfix defer the recipient instead of
		 * rejecting it. */
		if (!strcmp(why, mxg_rcpt_strerror(MXG_RCPT_ENOAT)) ||
		    !strcmp(why, mxg_rcpt_strerror(MXG_RCPT_EEMPTY)))
			snprintf(reply, MXG_LOOKUP_REPLY_MAX, "NOTFOUND ");
		else
			snprintf(reply, MXG_LOOKUP_REPLY_MAX, "PERM bad address: %s", why);
		return;
	}
	if (ret) {
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "TEMP mirror unavailable: %s",
			 strerror(-ret));
		return;
	}
	if (ans->ready && ans->known)
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "OK %s", ans->normalized);
	else if (!ans->local_domain)
		/* Not ours to validate: relay_domains decides. */
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "NOTFOUND ");
	else if (!ans->ready)
		/* Fail safe: a 4xx the sender retries, never a false 550. */
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "TEMP mirror not ready");
	else
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "NOTFOUND ");
}

void mxg_lookup_answer_rcpt(void *ctx, const char *key, size_t keylen,
			    char *reply)
{
	const struct mxg_rcpt_reader *src = ctx;
	struct mxg_rcpt_answer ans;
	char addr[MXG_LOOKUP_REQ_MAX + 1];
	const char *why = "";
	int ret;

	if (keylen > MXG_RCPT_MAX + 2) {
		/* Saves the copy; the normaliser would say the same. */
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "PERM bad address: %s",
			 mxg_rcpt_strerror(MXG_RCPT_ETOOLONG));
		return;
	}
	memcpy(addr, key, keylen);
	addr[keylen] = '\0';
	ret = mxg_rcpt_check(src, addr, &ans, &why);
	mxg_lookup_rcpt_reply(ret, &ans, why, reply);
}

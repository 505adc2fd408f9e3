/* SPDX-License-Identifier: BSD-2-Clause */
/* The socketmap protocol's codec; see lookup_codec.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "lookup_codec.h"

int mxg_netstring_parse(const char *buf, size_t len, size_t max, size_t *hdr,
			uint64_t *plen, const char **why)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (c == ':')
			break;
		if (c < '0' || c > '9') {
			*why = i ? "bad netstring: non-digit in its length" :
				   "bad netstring: no length at its start";
			return -EPROTO;
		}
		/* djb's netstrings: "0:," only, no "012:". */
		if (i == 1 && buf[0] == '0') {
			*why = "bad netstring: leading zero in its length";
			return -EPROTO;
		}
		if (i == MXG_NETSTRING_DIGITS_MAX) {
			*why = "bad netstring: length of more than 10 digits";
			return -EPROTO;
		}
		n = n * 10 + (uint64_t)(c - '0');
	}
	if (i == len)
		return 0;
	if (i == 0) {
		*why = "bad netstring: no length before ':'";
		return -EPROTO;
	}
	*hdr = i + 1;
	*plen = n;
	if (n > max)
		return -EMSGSIZE;
	if (len - *hdr < n + 1)
		return 0;
	if (buf[*hdr + n] != ',') {
		*why = "bad netstring: no ',' after its payload";
		return -EPROTO;
	}
	return 1;
}

int mxg_netstring_put(char *buf, size_t size, const char *payload, size_t len)
{
	char head[MXG_NETSTRING_DIGITS_MAX + 12];
	int n = snprintf(head, sizeof(head), "%zu:", len);

	if (n < 0 || (size_t)n >= sizeof(head) || len > INT_MAX - 32 ||
	    size < (size_t)n + len + 1)
		return -ENOSPC;
	memcpy(buf, head, (size_t)n);
	memcpy(buf + n, payload, len);
	buf[(size_t)n + len] = ',';
	return n + (int)len + 1;
}

void mxg_lookup_request(const char *req, size_t len, mxg_lookup_fn answer,
			void *ctx, char *reply)
{
	const char *sp;

	/* Framing is intact, so these get an answer and the client stays. */
	if (memchr(req, '\0', len)) {
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "PERM request contains a NUL byte");
		return;
	}
	/* Any map name: Postfix sends the one of its socketmap: table, Exim
	 * whatever its expansion says; the answer is the same. */
	sp = memchr(req, ' ', len);
	if (!sp) {
		snprintf(reply, MXG_LOOKUP_REPLY_MAX, "PERM request is not 'NAME KEY'");
		return;
	}
	sp++;
	answer(ctx, sp, len - (size_t)(sp - req), reply);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The socketmap protocol's codec (Postfix socketmap_table(5)): each
 * request is a netstring "LEN:NAME KEY," and each reply a netstring
 * "OK value", "NOTFOUND ", "TEMP reason", "TIMEOUT reason" or "PERM
 * reason". Pure: bytes in, bytes or a verdict out, no I/O and no state;
 * the server (lookup.h) keeps the buffers and the sockets.
 */
#ifndef MXG_LOOKUP_CODEC_H
#define MXG_LOOKUP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define MXG_LOOKUP_REQ_MAX 4096		/* longest request payload served */
#define MXG_LOOKUP_REPLY_MAX 512	/* longest reply payload written, NUL included */
/* "4096:" is 5 bytes; a length of more digits is refused before it is
 * read (10 digits hold every length a client could mean). */
#define MXG_NETSTRING_DIGITS_MAX 10
/* Room for one reply in its netstring: "511:" + payload + ",". */
#define MXG_LOOKUP_REPLY_NS_MAX (MXG_LOOKUP_REPLY_MAX + 8)

/*
 * Find one netstring at the start of buf[0..len).
 * Returns 1 when it is complete: the payload is buf[*hdr .. *hdr + *plen)
 * and the whole netstring is *hdr + *plen + 1 bytes. Returns 0 when more
 * bytes are needed. Returns -EMSGSIZE when the declared length is over
 * max: *hdr and *plen are set, so the caller may discard the payload and
 * keep the connection. Returns -EPROTO when the framing is broken (no
 * digits, a leading zero, no ':', no ',' after the payload); *why says
 * which, and nothing after it can be trusted.
 */
int mxg_netstring_parse(const char *buf, size_t len, size_t max, size_t *hdr,
			uint64_t *plen, const char **why);

/* Write payload[0..len) as one netstring into buf (no NUL after it).
 * Returns the bytes written, or -ENOSPC when it does not fit in size. */
int mxg_netstring_put(char *buf, size_t size, const char *payload,
		      size_t len);

/*
 * Answer one key: write the reply payload ("OK ...", "NOTFOUND ", ...),
 * NUL-terminated, into reply (MXG_LOOKUP_REPLY_MAX bytes). ctx is the
 * server's.
 */
typedef void (*mxg_lookup_fn)(void *ctx, const char *key, size_t keylen,
			      char *reply);

/*
 * The reply payload for one request payload "NAME KEY" (any NAME): PERM
 * when it is not "NAME KEY" or holds a NUL byte, else answer()'s.
 */
void mxg_lookup_request(const char *req, size_t len, mxg_lookup_fn answer,
			void *ctx, char *reply);

#endif

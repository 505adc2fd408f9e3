/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The client side of a socketmap reply, for the lab's lookup load
 * generators (lookup-bench, lookup-watch): one netstring, "LEN:PAYLOAD,".
 */
#ifndef MXG_TOOLS_SOCKETMAP_H
#define MXG_TOOLS_SOCKETMAP_H

#include <string.h>
#include <unistd.h>

/* One netstring reply into buf (payload NUL-terminated); 0 or -1 (a read
 * error, the peer gone, or not a netstring that fits). With one request
 * in flight the reply is all there is to read, so it is read in as few
 * calls as it arrives in, as an MTA's buffered client does. */
static inline int socketmap_read_reply(int fd, char *buf, size_t size)
{
	size_t got = 0, len, i;

	for (;;) {
		char *colon;
		ssize_t n = read(fd, buf + got, size - 1 - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
		colon = memchr(buf, ':', got);
		if (!colon)
			continue;
		for (len = 0, i = 0; buf + i < colon; i++) {
			if (buf[i] < '0' || buf[i] > '9')
				return -1;
			len = len * 10 + (size_t)(buf[i] - '0');
		}
		if (len > size / 2)
			return -1;
		if (got >= (size_t)(colon - buf) + len + 2) {
			memmove(buf, colon + 1, len);
			buf[len] = '\0';
			return 0;
		}
		if (got >= size - 1)
			return -1;
	}
}

#endif

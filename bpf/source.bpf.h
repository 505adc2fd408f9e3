/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A source as every map sees it: the address masked to its class's prefix
 * (IPv4 /32 and IPv6 /64 by default), plus the class. Admission and the
 * connection counter must build the same key from a SYN and from a socket,
 * so both build it here.
 */
#ifndef MXG_SOURCE_BPF_H
#define MXG_SOURCE_BPF_H

#include "vmlinux.h"
#include "mxguard.h"
#include "parsing.h"

#define MXG_AF_INET 2
#define MXG_AF_INET6 10

/* A socket's address as every map holds it: IPv6, or IPv4 mapped into
 * ::ffff:0:0/96 (the sock_ops, iterator and tracepoint contexts give
 * both forms; family says which is meant). */
static __always_inline void sock_addr(__u8 out[MXG_ADDR_LEN], __u32 family,
				      const __u32 v6[4], __u32 v4)
{
	if (family == MXG_AF_INET) {
		addr_map_v4(out, &v4);
	} else {
		__builtin_memcpy(out, v6, MXG_ADDR_LEN);
	}
}

static __always_inline void source_key(struct mxg_source_key *key,
				       const __u8 addr[MXG_ADDR_LEN], int is_v4,
				       __u32 class_idx,
				       const struct mxg_class *cls)
{
	const __u8 *mask = is_v4 ? cls->mask4 : cls->mask;

	key->class_idx = class_idx;
	key->pad[0] = key->pad[1] = key->pad[2] = 0;
#pragma unroll
	for (int i = 0; i < MXG_ADDR_LEN; i += 4)
		*(__u32 *)&key->addr[i] = *(const __u32 *)&addr[i] &
					  *(const __u32 *)&mask[i];
}

#endif /* MXG_SOURCE_BPF_H */

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

static __always_inline int addr_is_v4_mapped(const __u8 addr[MXG_ADDR_LEN])
{
	const __u32 *w = (const __u32 *)addr;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
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

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Filling mxg_sources as if n sources had been admitted, for the benches
 * (mxg-bench's memory and SYN figures, metrics-fill's scrape with a
 * million sources): batches of bpf_map_update_batch(), a second or two
 * for a million where as many SYNs through BPF_PROG_TEST_RUN would take
 * far longer.
 */
#ifndef MXG_TOOLS_FILL_H
#define MXG_TOOLS_FILL_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <bpf/bpf.h>
#include "mxguard.h"

/* n sources in class slot class_idx: 2001:db8:ffff::/48 plus an index,
 * never one of the lab's or the crafted frames' sources. */
static inline int fill_sources(int fd, uint32_t n, uint32_t class_idx)
{
	enum { B = 8192 };
	static struct mxg_source_key keys[B];
	static struct mxg_source vals[B];

	for (uint32_t done = 0; done < n;) {
		__u32 count = n - done < B ? n - done : B;

		for (__u32 i = 0; i < count; i++) {
			uint32_t v = done + i;

			memset(&keys[i], 0, sizeof(keys[i]));
			memcpy(keys[i].addr, "\x20\x01\x0d\xb8\xff\xff", 6);
			memcpy(&keys[i].addr[8], &v, sizeof(v));
			keys[i].class_idx = class_idx;
			vals[i] = (struct mxg_source){ .tat_ns = 1, .syns = 1 };
		}
		if (bpf_map_update_batch(fd, keys, vals, &count, NULL))
			return -errno;
		done += count;
	}
	return 0;
}

#endif /* MXG_TOOLS_FILL_H */

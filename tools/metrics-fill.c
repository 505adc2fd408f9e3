/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics-fill PIN_DIR N: put N sources into the pinned mxg_sources of a
 * running guard, as if N new sources had been admitted, for `make bench`
 * part metrics (tools/metrics-bench.sh): a scrape with a million sources
 * tracked. The entries go in as tools/fill.h puts them, and the count of sources created goes up by N on CPU
 * 0, as the programs count each insert, so the metrics and `mxguardctl
 * status` agree on what is there. Sources are 2001:db8:ffff::/48 plus an
 * index in class slot 0: never a lab address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"
#include "parse.h"
#include "fill.h"

static int count_created(const struct mxg_maps *m, uint32_t n)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 slot = MXG_STATS_GLOBAL;
	struct mxg_stats *per_cpu;
	int ret = 0;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	per_cpu = calloc((size_t)ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->stats, &slot, per_cpu))
		ret = -errno;
	if (!ret) {
		per_cpu[0].count[MXG_GLOBAL_SOURCES_CREATED] += n;
		if (bpf_map_update_elem(m->stats, &slot, per_cpu, BPF_EXIST))
			ret = -errno;
	}
	free(per_cpu);
	return ret;
}

int main(int argc, char **argv)
{
	struct mxg_maps m;
	char err[512];
	uint32_t n;
	int ret;

	if (argc != 3 || mxg_parse_u32(argv[2], 1, 16777216, &n)) {
		fprintf(stderr, "usage: metrics-fill PIN_DIR N (1..16777216)\n");
		return 2;
	}
	ret = mxg_maps_open(argv[1], &m, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "metrics-fill: %s\n", err);
		return 1;
	}
	ret = fill_sources(m.sources, n, 0);
	if (!ret)
		ret = count_created(&m, n);
	if (ret)
		fprintf(stderr, "metrics-fill: %s\n", strerror(-ret));
	mxg_maps_close(&m);
	return ret ? 1 : 0;
}

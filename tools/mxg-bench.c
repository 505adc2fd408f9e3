/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxg-bench: what one frame costs in mxguard's admission program, beside a
 * program that only returns XDP_PASS, in the same run and on the same
 * frames, with BPF_PROG_TEST_RUN (nothing is attached). Also the kernel
 * memory of the maps once max_sources sources are tracked.
 *
 * Figures are printed, never asserted: they depend on the machine.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mxguard.skel.h"
#include "config.h"
#include "log.h"
#include "parse.h"
#include "loader.h"
#include "maps.h"
#include "bpf/frames.h"

#define ROUNDS 5		/* median of this many runs */
#define REPEAT 1000000		/* in-kernel repetitions per run */
#define NEW_SOURCES 100000	/* distinct frames for the new-source case */

static const char *bench_config =
	"[global]\n"
	"interfaces = lo\n"
	"[class smtp]\n"
	/* High enough that the known source keeps passing: the bench
	 * measures the admitting path, compare-and-swap included. */
	"rate = 1000000/s\n"
	"burst = 1000000\n";

/* r0 = XDP_PASS; exit */
static int load_pass_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "mxg_bench_pass", "GPL", insns,
			     2, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ns per frame: the kernel's own average over `repeat` runs, median of
 * ROUNDS, so syscall overhead is not in the figure. */
static double ns_per_frame(int prog_fd, const uint8_t *frame, int len, int repeat)
{
	double rounds[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
			    .data_size_in = len, .repeat = repeat);

		if (bpf_prog_test_run_opts(prog_fd, &opts)) {
			fprintf(stderr, "mxg-bench: test run failed: %s\n",
				strerror(errno));
			exit(1);
		}
		rounds[r] = opts.duration;
	}
	qsort(rounds, ROUNDS, sizeof(rounds[0]), cmp_double);
	return rounds[ROUNDS / 2];
}

static void source_frame(uint32_t i, uint8_t *frame, int *len)
{
	char addr[32];
	struct frame_spec spec = { .family = 4, .saddr = addr, .dport = 25,
				   .flags = F_SYN };

	/* 198.18.0.0/15 holds 131072 addresses; beyond that, IPv6. */
	if (i < 131072) {
		snprintf(addr, sizeof(addr), "198.%u.%u.%u", 18 + (i >> 16),
			 (i >> 8) & 0xff, i & 0xff);
	} else {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
		spec.family = 6;
	}
	*len = build_frame(&spec, frame);
}

/* One run per distinct frame; the figure is the mean of the kernel's
 * per-run times, for both programs, so the timer's own cost cancels. */
static double ns_new_sources(int prog_fd, uint32_t first, uint32_t n)
{
	uint8_t frame[FRAME_MAX];
	double total = 0;
	int len;

	for (uint32_t i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .repeat = 1);

		source_frame(first + i, frame, &len);
		opts.data_in = frame;
		opts.data_size_in = len;
		if (bpf_prog_test_run_opts(prog_fd, &opts)) {
			fprintf(stderr, "mxg-bench: test run failed: %s\n",
				strerror(errno));
			exit(1);
		}
		total += opts.duration;
	}
	return total / n;
}

/* Fill the LRU with n sources (as if n had been seen), in batches. */
static int fill_sources(int fd, uint32_t n, uint32_t class_idx)
{
	enum { B = 8192 };
	static struct mxg_source_key keys[B];
	static struct mxg_source vals[B];

	for (uint32_t done = 0; done < n;) {
		__u32 count = n - done < B ? n - done : B;

		for (__u32 i = 0; i < count; i++) {
			uint32_t v = done + i;

			memset(&keys[i], 0, sizeof(keys[i]));
			/* 2001:db8:ffff::/48 plus an index: never one of the
			 * frames' sources. */
			keys[i].addr[0] = 0x20;
			keys[i].addr[1] = 0x01;
			keys[i].addr[2] = 0x0d;
			keys[i].addr[3] = 0xb8;
			keys[i].addr[4] = 0xff;
			keys[i].addr[5] = 0xff;
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

/* The kernel's own account of a map's memory (fdinfo "memlock"). */
static unsigned long long map_memory(int fd)
{
	unsigned long long v = 0;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void row(const char *what, double ns, double base, const char *target)
{
	printf("%-44s %9.1f %9.1f %+9.1f   %s\n", what, ns, base, ns - base, target);
}

int main(int argc, char **argv)
{
	uint32_t max_sources = MXG_DEFAULT_MAX_SOURCES;
	struct mxg_config *cfg = calloc(1, sizeof(*cfg));
	struct mxguard *skel = NULL;
	struct mxg_maps m;
	uint8_t frame[FRAME_MAX];
	char err[512];
	int pass_fd = -1, xdp_fd, len, ret = 1;
	uint32_t smtp;
	struct mxg_class cls;
	unsigned long long total = 0;

	mxg_prog_name = "mxg-bench";
	if (argc > 1 && mxg_parse_u32(argv[1], 1024, 16777216, &max_sources)) {
		fprintf(stderr, "usage: mxg-bench [MAX_SOURCES]\n");
		return 2;
	}
	if (!cfg)
		return 1;
	skel = mxguard__open();
	if (!skel || bpf_map__set_max_entries(skel->maps.mxg_sources, max_sources) ||
	    mxguard__load(skel)) {
		fprintf(stderr, "mxg-bench: cannot load the BPF object (root?)\n");
		goto out;
	}
	mxg_maps_from_skel(skel, &m);
	if (mxg_config_load_string("bench", bench_config, cfg, err, sizeof(err)) ||
	    mxg_limits_apply(&m, cfg, err, sizeof(err)) ||
	    mxg_class_find(&m, "smtp", &smtp, &cls)) {
		fprintf(stderr, "mxg-bench: %s\n", err);
		goto out;
	}
	pass_fd = load_pass_prog();
	if (pass_fd < 0) {
		fprintf(stderr, "mxg-bench: cannot load the XDP_PASS program: %s\n",
			strerror(errno));
		goto out;
	}
	xdp_fd = bpf_program__fd(skel->progs.mxg_xdp);

	printf("admission cost per frame, BPF_PROG_TEST_RUN, median of %d runs\n", ROUNDS);
	printf("%-44s %9s %9s %9s   %s\n", "case", "mxg ns", "pass ns", "above",
	       "target");

	{
		struct frame_spec s = { .family = 4, .saddr = "198.18.200.1",
					.dport = 443, .flags = F_ACK };

		len = build_frame(&s, frame);
		row("unguarded: ipv4 ack to 443", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 15 ns above");
		s.flags = F_SYN;
		s.dport = 80;
		len = build_frame(&s, frame);
		row("unguarded: ipv4 syn to 80", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 15 ns above");
		s.family = 6;
		s.saddr = "2001:db8:200::1";
		s.flags = F_ACK;
		s.dport = 25;
		len = build_frame(&s, frame);
		row("unguarded: ipv6 ack to 25", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 15 ns above");
	}
	{
		struct frame_spec s = { .family = 4, .saddr = "198.18.201.1",
					.dport = 25, .flags = F_SYN };

		len = build_frame(&s, frame);
		row("judged syn, known source, ipv4", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 100 ns above");
		s.family = 6;
		s.saddr = "2001:db8:201::1";
		len = build_frame(&s, frame);
		row("judged syn, known source, ipv6", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 100 ns above");
	}

	if (fill_sources(m.sources, max_sources, smtp)) {
		fprintf(stderr, "mxg-bench: cannot fill %s: %s\n", MXG_MAP_SOURCES,
			strerror(errno));
		goto out;
	}
	{
		char what[80];
		double pass = ns_new_sources(pass_fd, 0, NEW_SOURCES);
		double mxg = ns_new_sources(xdp_fd, 0, NEW_SOURCES);

		snprintf(what, sizeof(what), "judged syn, new source, %u tracked",
			 max_sources);
		row(what, mxg, pass, "reported (one run per frame)");
	}

	printf("\nkernel memory of the maps with %u sources tracked (fdinfo memlock)\n",
	       max_sources);
	{
		struct bpf_map *map;

		bpf_object__for_each_map(map, skel->obj) {
			unsigned long long b = map_memory(bpf_map__fd(map));

			total += b;
			printf("  %-16s %10.1f MiB\n", bpf_map__name(map), b / 1048576.0);
		}
		printf("  %-16s %10.1f MiB   target <= 128 MiB at 1M sources (%.0f bytes/source)\n",
		       "total", total / 1048576.0, (double)total / max_sources);
	}
	ret = 0;
out:
	if (pass_fd >= 0)
		close(pass_fd);
	mxguard__destroy(skel);
	free(cfg);
	return ret;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxg-bench: what one frame costs in mxguard's admission program, beside a
 * program that only returns XDP_PASS, in the same run and on the same
 * frames, with BPF_PROG_TEST_RUN (nothing is attached). Also the kernel
 * memory of the maps once max_sources sources are tracked.
 *
 * Figures are printed, never asserted: they depend on the machine. With
 * MXG_BENCH_FIGURES set to a file, each figure is also appended to it as a
 * JSON line (part, figure, value, unit, target) for tools/bench.sh's
 * docs/bench/figures.{json,md}; what is printed stays the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mxguard.skel.h"
#include "apply.h"
#include "config.h"
#include "class_limits.h"
#include "json.h"
#include "log.h"
#include "parse.h"
#include "rcpt.h"
#include "recipients.h"
#include "loader.h"
#include "maps.h"
#include "fill.h"
#include "frames.h"

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
	"burst = 1000000\n"
	/* Off for the new-source row, which measures the insert; the row
	 * after it turns the limit on. */
	"new_sources = off\n";

/* r0 = verdict; exit: the baseline a program is measured against. */
static int load_return_prog(enum bpf_prog_type type, int verdict)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = verdict },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "mxg_bench_pass", "GPL", insns, 2, NULL);
}

static int load_pass_prog(void)
{
	return load_return_prog(BPF_PROG_TYPE_XDP, XDP_PASS);
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

/* One figure as a JSON line into $MXG_BENCH_FIGURES, when it is set.
 * target: a comparison and a number ("<= 15"), or NULL for a figure that
 * is only reported. */
static void figure(const char *part, const char *what, double value, const char *unit,
		   const char *target)
{
	const char *path = getenv("MXG_BENCH_FIGURES");
	struct json j;
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "mxg-bench: cannot append to %s: %s\n", path, strerror(errno));
		return;
	}
	json_init(&j, f);
	json_begin_object(&j);
	json_kv_string(&j, "part", part);
	json_kv_string(&j, "figure", what);
	json_key(&j, "value");
	json_double(&j, value);
	json_kv_string(&j, "unit", unit);
	json_key(&j, "target");
	if (target)
		json_string(&j, target);
	else
		json_null(&j);
	json_end_object(&j);
	json_finish(&j);
	fclose(f);
}

/* A row of the admission table: goal in ns above XDP_PASS ("<= 15"), or
 * NULL and a note for a figure that is only reported. */
static void row(const char *what, double ns, double base, const char *goal, const char *note)
{
	char target[64];

	if (goal)
		snprintf(target, sizeof(target), "%s ns above", goal);
	printf("%-44s %9.1f %9.1f %+9.1f   %s\n", what, ns, base, ns - base,
	       goal ? target : note);
	/* The table's indented rows continue the one above them. */
	while (*what == ' ')
		what++;
	figure("admission", what, ns - base, "ns above XDP_PASS", goal);
}

/* ---- the SMTP reader ---- */

#define SMTP_SEGMENTS 50000

/* One timed segment per fresh session (a SYN and the segments of before
 * first, untimed), beside a TC program that only returns TC_ACT_OK on the
 * same frames; the mean ns of each go to *mxg and *base. */
static void smtp_case(int smtp_fd, int flows_fd, int ok_fd, const char *before,
		      const char *seg, double *mxg, double *base)
{
	uint32_t seq = 1001;

	*mxg = *base = 0;
	for (int i = 0; i < SMTP_SEGMENTS; i++) {
		struct frame_spec syn = { .family = 4, .saddr = "198.18.202.1",
					  .dport = 25, .flags = F_SYN,
					  .sport = 1024 + i % 60000, .seq = 1000 };
		struct frame_spec data = syn;
		uint8_t frame[FRAME_MAX];
		int n;

		data.flags = F_ACK | F_PSH;
		n = build_frame(&syn, frame);
		{
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = n);

			bpf_prog_test_run_opts(smtp_fd, &o);
		}
		seq = 1001;
		flow_establish(flows_fd, &syn, seq);
		if (before) {
			data.seq = seq;
			data.payload = before;
			data.payload_len = strlen(before);
			n = build_frame(&data, frame);
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = n);

			bpf_prog_test_run_opts(smtp_fd, &o);
			seq += data.payload_len;
		}
		data.seq = seq;
		data.payload = seg;
		data.payload_len = strlen(seg);
		n = build_frame(&data, frame);
		{
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = n);
			LIBBPF_OPTS(bpf_test_run_opts, p, .data_in = frame, .data_size_in = n);

			bpf_prog_test_run_opts(smtp_fd, &o);
			bpf_prog_test_run_opts(ok_fd, &p);
			*mxg += o.duration;
			*base += p.duration;
		}
	}
	*mxg /= SMTP_SEGMENTS;
	*base /= SMTP_SEGMENTS;
}

/* The SMTP reader: the segment of MAIL FROM, three RCPT TO
 * (known, unknown, foreign) and DATA, then what it is made of, and a
 * body segment, the bulk of a session's bytes. */
static void bench_smtp(struct mxguard *skel, struct mxg_maps *m)
{
	static const char seg[] = "MAIL FROM:<>\r\n"
				  "RCPT TO:<alice@lab.example>\r\n"
				  "RCPT TO:<nobody@lab.example>\r\n"
				  "RCPT TO:<someone@foreign.example>\r\n"
				  "DATA\r\n";
	struct mxg_inspect in = { .mode = MXG_INSPECT_OBSERVE, .unknown_threshold = 1000000,
				  .window_ns = 1000000000ULL, .penalty_ns = 1000000000ULL };
	struct mxg_ldap_config ldap = { .ndomains = 1, .domains = { "lab.example" } };
	char norm[MXG_RCPT_BUF], delims[MXG_DELIM_MAX] = "+", body[1401], junk[3501];
	struct mxg_mirror rec = { .entries = 1, .max_age_ns = 3600000000000ULL };
	struct mxg_rcpt one = { .refs = 1 };
	struct mxg_inner_btf btf;
	struct mxg_hash_key key;
	double mxg, base;
	uint32_t zero = 0, at;
	int inner, ok_fd, smtp_fd = bpf_program__fd(skel->progs.mxg_smtp), len;
	int flows_fd = bpf_map__fd(skel->maps.mxg_flows);
	uint64_t h;

	ok_fd = load_return_prog(BPF_PROG_TYPE_SCHED_CLS, 0);
	mxg_inner_btf_from_skel(skel, &btf);
	inner = mxg_rcpt_inner_create(&btf, 1024);
	if (ok_fd < 0 || inner < 0 || mxg_hash_key_ensure(m, &key) ||
	    mxg_domains_sync(m, &key, &ldap)) {
		fprintf(stderr, "mxg-bench: cannot set up the SMTP reader bench\n");
		goto out;
	}
	len = mxg_rcpt_normalize("alice@lab.example", 17, norm, delims, &at);
	h = mxg_rcpt_key(&key, norm, len);
	rec.synced_ns = mxg_now_ns();
	strcpy(rec.recipient_delimiter, "+");
	bpf_map_update_elem(inner, &h, &one, BPF_ANY);
	bpf_map_update_elem(m->rcpt_slot, &zero, &inner, BPF_ANY);
	bpf_map_update_elem(m->mirror, &zero, &rec, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(skel->maps.mxg_inspect), &zero, &in, BPF_ANY);

	smtp_case(smtp_fd, flows_fd, ok_fd, NULL, seg, &mxg, &base);
	row("smtp segment: MAIL, 3 RCPT (known, unknown, foreign), DATA", mxg, base,
	    "<= 300", NULL);
	smtp_case(smtp_fd, flows_fd, ok_fd, NULL, "NOOP\r\n", &mxg, &base);
	row("  its fixed part: a segment of one NOOP", mxg, base, NULL, "reported");
	smtp_case(smtp_fd, flows_fd, ok_fd, NULL, "RCPT TO:<alice@lab.example>\r\n", &mxg, &base);
	row("  one RCPT, known", mxg, base, NULL, "reported");
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = 0;
	smtp_case(smtp_fd, flows_fd, ok_fd, "DATA\r\n", body, &mxg, &base);
	row("smtp body segment, 1,400 bytes after DATA", mxg, base, NULL, "reported");
	/* A hostile client's cheapest way to make the reader work: lines as
	 * short as they come, each a near miss of a keyword. */
	for (size_t i = 0; i + 2 <= sizeof(junk) - 1; i += 2)
		memcpy(junk + i, "B\n", 2);
	junk[sizeof(junk) - 1] = 0;
	smtp_case(smtp_fd, flows_fd, ok_fd, NULL, junk, &mxg, &base);
	row("smtp segment of 1,750 junk lines (\"B\", 3,500 bytes)", mxg, base, NULL,
	    "reported");
out:
	if (ok_fd >= 0)
		close(ok_fd);
	if (inner >= 0)
		close(inner);
}

static int bench_admission(struct mxguard *skel, struct mxg_maps *m,
			   uint32_t max_sources)
{
	unsigned long long total = 0;
	uint8_t frame[FRAME_MAX];
	struct mxg_class cls;
	int pass_fd, xdp_fd, len;
	uint32_t smtp;
	struct bpf_map *map;

	if (mxg_class_find(m, "smtp", &smtp, &cls))
		return -ENOENT;
	pass_fd = load_pass_prog();
	if (pass_fd < 0) {
		fprintf(stderr, "mxg-bench: cannot load the XDP_PASS program: %s\n",
			strerror(errno));
		return -errno;
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
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 15", NULL);
		s.flags = F_SYN;
		s.dport = 80;
		len = build_frame(&s, frame);
		row("unguarded: ipv4 syn to 80", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 15", NULL);
		s.family = 6;
		s.saddr = "2001:db8:200::1";
		s.flags = F_ACK;
		s.dport = 25;
		len = build_frame(&s, frame);
		row("unguarded: ipv6 ack to 25", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 15", NULL);
	}
	{
		struct frame_spec s = { .family = 4, .saddr = "198.18.201.1",
					.dport = 25, .flags = F_SYN };

		len = build_frame(&s, frame);
		row("judged syn, known source, ipv4", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 100", NULL);
		s.family = 6;
		s.saddr = "2001:db8:201::1";
		len = build_frame(&s, frame);
		row("judged syn, known source, ipv6", ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), "<= 100", NULL);

		/* The same with both connection caps on (two more lookups). */
		struct mxg_class capped = cls;

		struct mxg_class_conns open = { .conns = 500 };

		capped.source_conns = 100;
		capped.total_conns = 1000;
		mxg_class_write(m, smtp, &capped);
		row("  the same, conn caps on, class idle",
		    ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), NULL, "reported");
		/* With more open than source_conns, the source's own count
		 * is looked up too. */
		bpf_map_update_elem(m->class_conns, &smtp, &open, BPF_ANY);
		row("  the same, conn caps on, class busy",
		    ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), NULL, "reported");
		/* The same, the tuner scaling the class: the limits in force
		 * are computed per SYN (bpf/tuning.h). */
		struct mxg_tuning scaled = { .scale_permille = 800,
					     .total_conns_cap = 900 };
		static const struct mxg_tuning untuned;

		mxg_tuning_write(m, smtp, &scaled);
		row("  the same, class busy, tuner at 0.8 + cap",
		    ns_per_frame(xdp_fd, frame, len, REPEAT),
		    ns_per_frame(pass_fd, frame, len, REPEAT), NULL, "reported");
		mxg_tuning_write(m, smtp, &untuned);
		open.conns = 0;
		bpf_map_update_elem(m->class_conns, &smtp, &open, BPF_ANY);
		mxg_class_write(m, smtp, &cls);
	}

	if (fill_sources(m->sources, max_sources, smtp)) {
		fprintf(stderr, "mxg-bench: cannot fill %s: %s\n", MXG_MAP_NAME(sources),
			strerror(errno));
		close(pass_fd);
		return -errno;
	}
	{
		char what[80];
		double pass = ns_new_sources(pass_fd, 0, NEW_SOURCES);
		double mxg = ns_new_sources(xdp_fd, 0, NEW_SOURCES);

		snprintf(what, sizeof(what), "judged syn, new source, %u tracked",
			 max_sources);
		row(what, mxg, pass, NULL, "reported (one run per frame)");
	}
	{
		/* A spoofed flood past the new-source limit: each CPU's
		 * bucket holds one token and refills at 0.001/s, so all but
		 * the first frame per CPU are dropped, and nothing inserted. */
		struct mxg_class_config c;
		char what[80];

		mxg_class_from_bpf(&cls, &c);
		c.new_sources_milli = 1;
		c.new_sources_burst = 1;
		mxg_class_apply(m, smtp, &c);
		double pass = ns_new_sources(pass_fd, NEW_SOURCES, NEW_SOURCES);
		double mxg = ns_new_sources(xdp_fd, NEW_SOURCES, NEW_SOURCES);

		snprintf(what, sizeof(what), "judged syn, new source, limit hit, %u tracked",
			 max_sources);
		row(what, mxg, pass, NULL, "reported (dropped, nothing inserted)");
		mxg_class_write(m, smtp, &cls);
	}
	close(pass_fd);
	bench_smtp(skel, m);

	printf("\nkernel memory of the maps with %u sources tracked (fdinfo memlock)\n",
	       max_sources);
	bpf_object__for_each_map(map, skel->obj) {
		unsigned long long b = map_memory(bpf_map__fd(map));

		total += b;
		printf("  %-16s %10.1f MiB\n", bpf_map__name(map), b / 1048576.0);
	}
	printf("  %-16s %10.1f MiB   target <= 128 MiB at 1M sources (%.0f bytes/source)\n",
	       "total", total / 1048576.0, (double)total / max_sources);
	{
		char what[96];

		/* The target is for 1M sources (1,048,576 by default). */
		snprintf(what, sizeof(what), "kernel memory of all maps, %u sources tracked",
			 max_sources);
		figure("admission", what, total / 1048576.0, "MiB",
		       max_sources == 1048576 ? "<= 128" : NULL);
		snprintf(what, sizeof(what), "kernel memory per source, %u sources tracked",
			 max_sources);
		figure("admission", what, (double)total / max_sources, "bytes", NULL);
	}
	return 0;
}

/* ---- connections per second with and without the counter ---- */

#define CONN_ROUNDS 3
#define CONN_PORT 25

static volatile int listener_stop;

/* Accept and close at once: the server half of each connection. */
static void *listener(void *arg)
{
	int lfd = *(int *)arg, fd;

	while (!listener_stop) {
		fd = accept(lfd, NULL, NULL);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/* Connections per second a client gets through for `ms` milliseconds. The
 * client resets (SO_LINGER 0) after the server's FIN, so neither side keeps
 * TIME_WAIT sockets and the ephemeral ports never run out. */
static double conns_per_s(unsigned ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(CONN_PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint64_t start = mxg_now_ns(), end = start + ms * 1000000ULL, now = start;
	unsigned long n = 0;
	char c;
	int fd;

	do {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			break;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			(void)!read(fd, &c, 1);	/* the server's FIN */
			n++;
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		now = mxg_now_ns();
	} while (now < end);
	return n * 1e9 / (now - start);
}

static int bench_conns(struct mxguard *skel, struct mxg_maps *m, unsigned ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(CONN_PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct mxg_settings settings = {};
	double without[CONN_ROUNDS], with[CONN_ROUNDS];
	char cgroup[4096], err[512];
	uint64_t conns[MXG_MAX_CLASSES];
	int lfd, cg_fd = -1, one = 1, ret = 0;
	struct bpf_link *ops = NULL, *close_link = NULL;
	uint32_t zero = 0;
	pthread_t t;

	if (mxg_find_cgroup2(NULL, cgroup, sizeof(cgroup), err, sizeof(err))) {
		fprintf(stderr, "mxg-bench: %s\n", err);
		return -ENOENT;
	}
	/* Count only this (private) network namespace's sockets. */
	settings.netns_cookie = mxg_netns_cookie();
	bpf_map_update_elem(m->settings, &zero, &settings, BPF_ANY);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096)) {
		fprintf(stderr, "mxg-bench: cannot listen on 127.0.0.1:%d: %s (run it in a network namespace of its own)\n",
			CONN_PORT, strerror(errno));
		return -errno;
	}
	pthread_create(&t, NULL, listener, &lfd);

	cg_fd = open(cgroup, O_RDONLY | O_DIRECTORY);
	for (int r = 0; r < CONN_ROUNDS; r++) {
		without[r] = conns_per_s(ms);
		close_link = bpf_program__attach(skel->progs.mxg_conn_close);
		ops = bpf_program__attach_cgroup(skel->progs.mxg_sockops, cg_fd);
		if (!ops || !close_link) {
			fprintf(stderr, "mxg-bench: cannot attach the counter: %s\n",
				strerror(errno));
			ret = -errno;
			break;
		}
		with[r] = conns_per_s(ms);
		bpf_link__destroy(ops);
		bpf_link__destroy(close_link);
		ops = close_link = NULL;
	}
	listener_stop = 1;
	shutdown(lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(lfd);
	if (cg_fd >= 0)
		close(cg_fd);
	if (ret)
		return ret;

	qsort(without, CONN_ROUNDS, sizeof(double), cmp_double);
	qsort(with, CONN_ROUNDS, sizeof(double), cmp_double);
	mxg_class_conns_read(m, conns);
	printf("\nconnections per second accepted by a listener on 127.0.0.1:%d, %u ms per round, median of %d, rounds alternating\n",
	       CONN_PORT, ms, CONN_ROUNDS);
	printf("  without the counter  %10.0f /s\n", without[CONN_ROUNDS / 2]);
	printf("  with the counter     %10.0f /s   ratio %.2f   target >= 0.90\n",
	       with[CONN_ROUNDS / 2], with[CONN_ROUNDS / 2] / without[CONN_ROUNDS / 2]);
	printf("  connections counted after the run: %llu (every one was closed)\n",
	       (unsigned long long)conns[0] + conns[1]);
	figure("conns", "connections/s accepted, without the counter",
	       without[CONN_ROUNDS / 2], "/s", NULL);
	figure("conns", "connections/s accepted, with the counter", with[CONN_ROUNDS / 2],
	       "/s", NULL);
	figure("conns", "connections/s with / without the counter",
	       with[CONN_ROUNDS / 2] / without[CONN_ROUNDS / 2], "ratio", ">= 0.9");
	figure("conns", "connections still counted after all closed",
	       (double)(conns[0] + conns[1]), "connections", "== 0");
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: mxg-bench admission [MAX_SOURCES]\n"
			"       mxg-bench conns [MILLISECONDS]\n"
			"       mxg-bench smtp\n");
}

int main(int argc, char **argv)
{
	uint32_t max_sources = MXG_DEFAULT_MAX_SOURCES, ms = 2000;
	struct mxg_config *cfg = calloc(1, sizeof(*cfg));
	struct mxguard *skel = NULL;
	bool conns, smtp_only = false;
	struct mxg_maps m;
	char err[512];
	int ret = 1;

	mxg_prog_name = "mxg-bench";
	if (argc == 2 && !strcmp(argv[1], "smtp")) {
		smtp_only = true;
	} else if (argc < 2 || argc > 3 ||
		   (strcmp(argv[1], "admission") && strcmp(argv[1], "conns"))) {
		usage();
		return 2;
	}
	conns = !strcmp(argv[1], "conns");
	if (argc == 3 && (conns ? mxg_parse_u32(argv[2], 100, 60000, &ms) :
				  mxg_parse_u32(argv[2], 1024, 16777216, &max_sources))) {
		usage();
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
	    mxg_apply(&(struct mxg_apply_target){ .maps = &m }, NULL, cfg, err,
		      sizeof(err))) {
		fprintf(stderr, "mxg-bench: %s\n", err);
		goto out;
	}
	if (smtp_only) {
		bench_smtp(skel, &m);
		ret = 0;
		goto out;
	}
	ret = conns ? bench_conns(skel, &m, ms) : bench_admission(skel, &m, max_sources);
	ret = ret ? 1 : 0;
out:
	mxguard__destroy(skel);
	free(cfg);
	return ret;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The admission programs on crafted frames, through BPF_PROG_TEST_RUN: no
 * interface is attached and nothing is pinned. Every fixture runs on both
 * the XDP and the TC program, and checks the verdicts and the counter
 * deltas it should cause, so a parser that drops what it cannot read, or
 * counts what it should not judge, fails here.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mxguard.skel.h"
#include "apply.h"
#include "config.h"
#include "class_limits.h"
#include "loader.h"
#include "maps.h"
#include "parse.h"
#include "frames.h"
#include "refused.h"

#define XDP_DROP 1
#define XDP_PASS 2
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT 2

/* smtp: one SYN per source, then 1/s. The deny list covers 198.18.66.0/24
 * but the allow list holds one address inside it. */
static const char *policy =
	"[global]\n"
	"interfaces = lo\n"
	"[class smtp]\n"
	"rate = 1/s\n"
	"burst = 1\n"
	"[class ldap]\n"
	"rate = 1/s\n"
	"burst = 2\n"
	"[allow]\n"
	"cidr = 198.18.66.7, 2001:db8:77::/48\n"
	"[deny]\n"
	"cidr = 198.18.66.0/24, 2001:db8:66::/48\n";

struct env {
	struct mxguard *skel;
	struct mxg_maps maps;
	struct mxg_config cfg;
	uint32_t smtp, ldap;	/* class slots */
};

static struct env env;

/* The number of per-CPU new-source buckets, as mxguardd divides by. */
static unsigned ncpus(void)
{
	int n = libbpf_num_possible_cpus();

	assert_true(n > 0);
	return (unsigned)n;
}

/*
 * What the fixtures change besides the rate state reset_state clears: the
 * class records, the connection counts, the port table, the refused SYNs'
 * lines, and the CPU a test is pinned to. Taken once, with the policy applied; put back after
 * every test by restore_state, which cmocka runs also when the test's
 * assert failed, so that one failure never moves the next test's start.
 */
struct array_snapshot {
	int fd;
	uint32_t n, value_size;
	uint32_t *keys;
	uint8_t *values;
};

static struct array_snapshot snap_classes, snap_class_conns, snap_ports, snap_refused;
static bool pinned;

static int snapshot_take(struct array_snapshot *s, int fd)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	s->fd = fd;
	s->n = info.max_entries;
	s->value_size = info.value_size;
	s->keys = calloc(s->n, sizeof(*s->keys));
	s->values = calloc(s->n, s->value_size);
	if (!s->keys || !s->values)
		return -ENOMEM;
	for (uint32_t k = 0; k < s->n; k++) {
		s->keys[k] = k;
		if (bpf_map_lookup_elem(fd, &k, s->values + (size_t)k * s->value_size))
			return -errno;
	}
	return 0;
}

/* One batch update for the whole array (65536 ports, 262144 refused
 * lines); entry by entry
 * where the kernel has no batch operations for arrays. */
static int snapshot_restore(const struct array_snapshot *s)
{
	uint32_t count = s->n;

	if (!bpf_map_update_batch(s->fd, s->keys, s->values, &count, NULL))
		return 0;
	for (uint32_t k = 0; k < s->n; k++)
		if (bpf_map_update_elem(s->fd, &k, s->values + (size_t)k * s->value_size,
					BPF_ANY))
			return -errno;
	return 0;
}

static void snapshot_free(struct array_snapshot *s)
{
	free(s->keys);
	free(s->values);
}

static int setup_all(void **state)
{
	struct mxg_apply_target target = {};
	char err[512];

	if (geteuid() != 0) {
		fprintf(stderr, "tests/bpf need root\n");
		return -1;
	}
	env.skel = mxguard__open();
	if (!env.skel)
		return -1;
	bpf_map__set_max_entries(env.skel->maps.mxg_sources, 4096);
	if (mxguard__load(env.skel)) {
		fprintf(stderr, "cannot load the BPF object\n");
		return -1;
	}
	mxg_maps_from_skel(env.skel, &env.maps);
	target.maps = &env.maps;
	if (mxg_config_load_string("policy", policy, &env.cfg, err, sizeof(err)) ||
	    mxg_apply(&target, NULL, &env.cfg, err, sizeof(err))) {
		fprintf(stderr, "cannot apply the policy: %s\n", err);
		return -1;
	}
	struct mxg_class cls;
	if (mxg_class_find(&env.maps, "smtp", &env.smtp, &cls) ||
	    mxg_class_find(&env.maps, "ldap", &env.ldap, &cls))
		return -1;
	if (snapshot_take(&snap_classes, env.maps.classes) ||
	    snapshot_take(&snap_class_conns, env.maps.class_conns) ||
	    snapshot_take(&snap_ports, env.maps.ports) ||
	    snapshot_take(&snap_refused, bpf_map__fd(env.skel->maps.mxg_refused))) {
		fprintf(stderr, "cannot take the maps' snapshot\n");
		return -1;
	}
	return 0;
}

static int teardown_all(void **state)
{
	snapshot_free(&snap_classes);
	snapshot_free(&snap_class_conns);
	snapshot_free(&snap_ports);
	snapshot_free(&snap_refused);
	mxguard__destroy(env.skel);
	return 0;
}

static void clear_map(int fd, size_t key_size)
{
	unsigned char key[64];

	while (!bpf_map_get_next_key(fd, NULL, key))
		bpf_map_delete_elem(fd, key);
	(void)key_size;
}

/* Every CPU's new-source bucket of every class back to full. */
static void refill_new_sources(void)
{
	struct mxg_new_source_bucket zero[512] = {};

	assert_true(ncpus() <= 512);
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++)
		assert_int_equal(bpf_map_update_elem(env.maps.new_sources, &c,
						     zero, BPF_ANY), 0);
}

static void unpin(void);

/* mxg_tuning back to what a fresh load holds: every class as configured
 * (written by the tuner only, so the snapshot of the policy has none). */
static int tuning_clear(void)
{
	int fd = bpf_map__fd(env.skel->maps.mxg_tuning);
	struct mxg_tuning zero = {};

	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++)
		if (bpf_map_update_elem(fd, &c, &zero, BPF_ANY))
			return -errno;
	return 0;
}

static int restore_state(void **state)
{
	int err = 0;

	if (pinned)
		unpin();
	if (tuning_clear()) {
		fprintf(stderr, "cannot clear mxg_tuning after a test: %s\n", strerror(errno));
		err = -1;
	}
	clear_map(env.maps.conns, sizeof(struct mxg_source_key));
	if (snapshot_restore(&snap_classes) || snapshot_restore(&snap_class_conns) ||
	    snapshot_restore(&snap_ports) || snapshot_restore(&snap_refused)) {
		fprintf(stderr, "cannot restore the maps after a test: %s\n", strerror(errno));
		err = -1;
	}
	return err;
}

/* Each fixture starts with no rate state and no bans. */
static int reset_state(void **state)
{
	clear_map(env.maps.sources, sizeof(struct mxg_source_key));
	clear_map(env.maps.bans, sizeof(struct mxg_lpm_key));
	refill_new_sources();
	return 0;
}

static void stats_now(struct mxg_stats out[MXG_MAX_CLASSES + 1])
{
	assert_int_equal(mxg_stats_read(&env.maps, out), 0);
}

/* Run one frame through a program; returns 1 for drop, 0 for pass. */
static int run_prog(int prog_fd, bool xdp, const uint8_t *frame, int len)
{
	uint8_t out[FRAME_MAX + 256];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	int ret = bpf_prog_test_run_opts(prog_fd, &opts);

	assert_int_equal(ret, 0);
	if (xdp) {
		assert_true(opts.retval == XDP_PASS || opts.retval == XDP_DROP);
		return opts.retval == XDP_DROP;
	}
	/* A pass must be TC_ACT_UNSPEC, never TC_ACT_OK: OK would end the
	 * tc chain before the SMTP reader. */
	assert_true(opts.retval == (uint32_t)TC_ACT_UNSPEC ||
		    opts.retval == TC_ACT_SHOT);
	return opts.retval == TC_ACT_SHOT;
}

enum class_sel { SMTP, LDAP };

/* Expected counter deltas of one fixture. */
struct expect {
	int drops;		/* frames dropped among the sends */
	enum class_sel cls;
	int pass, allow, deny, penalty, rate;
	int malformed, fragment;
	int bogus, unseen;	/* dropped: never legitimate; transport out
				 * of reach from a denied or banned source */
};

struct fixture {
	const char *what;
	struct frame_spec frame;
	int sends;
	struct expect x;
};

#define TCP4(addr, port, fl) .family = 4, .saddr = addr, .dport = port, .flags = fl
#define SYN4(addr, port) TCP4(addr, port, F_SYN)
#define SYN6(addr, port) .family = 6, .saddr = addr, .dport = port, .flags = F_SYN

static const struct fixture fixtures[] = {
	/* Judged SYNs in every encapsulation: first passes, second over rate. */
	{ "ipv4 syn", { SYN4("198.18.1.1", 25) }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv4 syn, port 465", { SYN4("198.18.1.1", 465) }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv4 syn, port 587", { SYN4("198.18.1.1", 587) }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv4 syn with options", { SYN4("198.18.1.2", 25), .ip_opts = 12 }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv4 syn, 40 bytes of options", { SYN4("198.18.1.2", 25), .ip_opts = 40 }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv4 syn with tcp options", { SYN4("198.18.1.2", 25), .tcp_opts = 20 }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv4 syn with ethernet padding", { SYN4("198.18.1.2", 25), .ether_pad = 6 }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "802.1Q syn", { SYN4("198.18.1.3", 25), .vlans = 1 }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "802.1ad QinQ syn", { SYN4("198.18.1.4", 25), .vlans = 2 }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "QinQ ipv6 syn", { SYN6("2001:db8:1::4", 25), .vlans = 2 }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "first ipv4 fragment (MF) with the TCP header", { SYN4("198.18.1.5", 25), .breakage = BREAK_V4_FRAG_FIRST }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv6 syn", { SYN6("2001:db8:1::1", 25) }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv6 syn behind hop-by-hop, routing, dest opts",
	  { SYN6("2001:db8:1::2", 25), .ext = { EXT_HOPOPTS, 43, 60 } }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv6 syn behind AH", { SYN6("2001:db8:1::2", 25), .ext = { 51 } }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv6 first fragment", { SYN6("2001:db8:1::3", 25), .ext = { 44 } }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ipv6 8 extension headers (the bound)",
	  { SYN6("2001:db8:1::5", 25), .ext = { EXT_HOPOPTS, 60, 60, 60, 60, 60, 60, 60 } }, 2, { .drops = 1, .pass = 1, .rate = 1 } },
	{ "ldap class, burst 2", { SYN4("198.18.1.6", 389) }, 3, { .cls = LDAP, .drops = 1, .pass = 2, .rate = 1 } },
	{ "ldap 636", { SYN4("198.18.1.6", 636) }, 3, { .cls = LDAP, .drops = 1, .pass = 2, .rate = 1 } },

	/* Lists: allow beats deny, deny beats everything else. */
	{ "deny list", { SYN4("198.18.66.5", 25) }, 3, { .drops = 3, .deny = 3 } },
	{ "deny list ipv6", { SYN6("2001:db8:66::9", 25) }, 2, { .drops = 2, .deny = 2 } },
	{ "allow inside deny wins", { SYN4("198.18.66.7", 25) }, 4, { .pass = 4, .allow = 4 } },
	{ "allow ipv6 never rate limited", { SYN6("2001:db8:77::1", 25) }, 4, { .pass = 4, .allow = 4 } },

	/* Not judged: passed, and counted nowhere. */
	{ "syn+ack", { TCP4("198.18.2.1", 25, F_SYN | F_ACK) }, 3, {} },
	{ "ack", { TCP4("198.18.2.1", 25, F_ACK) }, 3, {} },
	{ "rst", { TCP4("198.18.2.1", 25, F_RST) }, 3, {} },
	{ "unguarded port 80", { SYN4("198.18.2.1", 80) }, 3, {} },
	{ "unguarded port 0", { SYN4("198.18.2.1", 0) }, 3, {} },
	{ "udp to 25", { SYN4("198.18.2.1", 25), .l4 = 17 }, 3, {} },
	{ "ipv6 udp to 25", { SYN6("2001:db8:2::1", 25), .l4 = 17 }, 3, {} },
	{ "arp", { .family = 0 }, 3, {} },
	{ "vlan arp", { .family = 0, .vlans = 1 }, 3, {} },

	/* Fragments that carry no TCP header. */
	{ "later ipv4 fragment", { SYN4("198.18.3.1", 25), .breakage = BREAK_V4_FRAG_LATER }, 3, { .fragment = 3 } },
	{ "later ipv6 fragment", { SYN6("2001:db8:3::1", 25), .ext = { 44 }, .breakage = BREAK_V4_FRAG_LATER }, 3, { .fragment = 3 } },

	/* Malformed at every layer: never dropped, counted as malformed. */
	/* (A frame shorter than an Ethernet header never reaches either hook:
	 * the kernel, and BPF_PROG_TEST_RUN, refuse it.) */
	{ "ethernet header only", { SYN4("198.18.4.1", 25), .truncate = 14 }, 3, { .malformed = 3 } },
	{ "truncated vlan tag", { SYN4("198.18.4.1", 25), .vlans = 1, .truncate = 15 }, 3, { .malformed = 3 } },
	{ "truncated ipv4 header", { SYN4("198.18.4.1", 25), .truncate = 14 + 12 }, 3, { .malformed = 3 } },
	{ "truncated ipv4 options", { SYN4("198.18.4.1", 25), .ip_opts = 20, .truncate = 14 + 30 }, 3, { .malformed = 3 } },
	{ "truncated tcp header", { SYN4("198.18.4.1", 25), .truncate = 14 + 20 + 12 }, 3, { .malformed = 3 } },
	{ "ipv4 ihl 4", { SYN4("198.18.4.1", 25), .breakage = BREAK_IHL_SMALL }, 3, { .malformed = 3 } },
	{ "ipv6 version behind ipv4 ethertype", { SYN4("198.18.4.1", 25), .breakage = BREAK_IP_VERSION }, 3, { .malformed = 3 } },
	{ "ipv4 total length past the frame", { SYN4("198.18.4.1", 25), .breakage = BREAK_TOTLEN_LONG }, 3, { .malformed = 3 } },
	{ "ipv4 total length below the header", { SYN4("198.18.4.1", 25), .breakage = BREAK_TOTLEN_SHORT }, 3, { .malformed = 3 } },
	{ "ipv4 total length ends inside tcp", { SYN4("198.18.4.1", 25), .breakage = BREAK_TOTLEN_NO_TCP }, 3, { .malformed = 3 } },
	{ "tcp data offset 4", { SYN4("198.18.4.1", 25), .breakage = BREAK_DOFF_SMALL }, 3, { .malformed = 3 } },
	{ "tcp data offset past the segment", { SYN4("198.18.4.1", 25), .breakage = BREAK_DOFF_LONG }, 3, { .malformed = 3 } },
	{ "truncated ipv6 header", { SYN6("2001:db8:4::1", 25), .truncate = 14 + 30 }, 3, { .malformed = 3 } },
	{ "truncated ipv6 extension header", { SYN6("2001:db8:4::1", 25), .ext = { 60 }, .truncate = 14 + 40 + 1 }, 3, { .malformed = 3 } },
	{ "ipv6 payload length past the frame", { SYN6("2001:db8:4::1", 25), .breakage = BREAK_PAYLOAD_LONG }, 3, { .malformed = 3 } },
	{ "ipv6 extension header longer than the payload", { SYN6("2001:db8:4::1", 25), .ext = { 60 }, .breakage = BREAK_EXT_LEN_LONG }, 3, { .malformed = 3 } },
	{ "ipv6 9 extension headers (past the bound)",
	  { SYN6("2001:db8:4::1", 25), .ext = { EXT_HOPOPTS, 60, 60, 60, 60, 60, 60, 60, 60 } }, 3, { .malformed = 3 } },
	{ "truncated ipv6 tcp header", { SYN6("2001:db8:4::1", 25), .truncate = 14 + 40 + 10 }, 3, { .malformed = 3 } },

	/* What no legitimate stack sends and nothing would judge otherwise:
	 * dropped and counted, whatever the port. */
	{ "tiny first ipv4 fragment (8 bytes of tcp)", { SYN4("198.18.5.1", 25), .breakage = BREAK_FRAG_TINY }, 3, { .drops = 3, .bogus = 3 } },
	{ "tiny first ipv4 fragment to port 80", { SYN4("198.18.5.1", 80), .breakage = BREAK_FRAG_TINY }, 3, { .drops = 3, .bogus = 3 } },
	{ "ipv4 fragment over the tcp flags (offset 8)", { SYN4("198.18.5.1", 25), .breakage = BREAK_V4_FRAG_OFF1 }, 3, { .drops = 3, .bogus = 3 } },
	{ "tiny first ipv6 fragment", { SYN6("2001:db8:5::1", 25), .ext = { 44 }, .breakage = BREAK_FRAG_TINY }, 3, { .drops = 3, .bogus = 3 } },
	{ "ipv6 syn from an ipv4-mapped source", { SYN6("::ffff:198.18.0.99", 25) }, 3, { .drops = 3, .bogus = 3 } },
	{ "ipv6 ack from an ipv4-mapped source", { .family = 6, .saddr = "::ffff:198.18.0.99", .dport = 443, .flags = F_ACK }, 3, { .drops = 3, .bogus = 3 } },
	{ "ipv6 syn from an ipv4-compatible source", { SYN6("::198.18.0.99", 25) }, 3, { .drops = 3, .bogus = 3 } },

	/* The transport out of reach: its source is judged all the same. */
	{ "ipv6 9 extension headers from a denied source",
	  { SYN6("2001:db8:66::9", 25), .ext = { EXT_HOPOPTS, 60, 60, 60, 60, 60, 60, 60, 60 } }, 3, { .drops = 3, .unseen = 3 } },
	{ "ipv6 9 extension headers from an allowed source",
	  { SYN6("2001:db8:77::1", 25), .ext = { EXT_HOPOPTS, 60, 60, 60, 60, 60, 60, 60, 60 } }, 3, { .malformed = 3 } },
};

static bool skb_refused(int prog_fd, const uint8_t *frame, int len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .repeat = 1);
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	int ret;

	stats_now(before);
	ret = bpf_prog_test_run_opts(prog_fd, &opts);
	stats_now(after);
	/* A refused frame never ran: nothing may have been counted. */
	if (ret == -EINVAL)
		assert_memory_equal(before, after, sizeof(before));
	return ret == -EINVAL;
}

static uint64_t delta(const struct mxg_stats *after, const struct mxg_stats *before,
		      uint32_t slot, int what)
{
	return after[slot].count[what] - before[slot].count[what];
}

static void run_fixture(const struct fixture *f, bool xdp)
{
	int prog = bpf_program__fd(xdp ? env.skel->progs.mxg_xdp : env.skel->progs.mxg_tc);
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	uint8_t frame[FRAME_MAX];
	uint32_t slot = f->x.cls == LDAP ? env.ldap : env.smtp;
	int len = build_frame(&f->frame, frame), drops = 0;

	/* The skb flavour of BPF_PROG_TEST_RUN refuses some truncated
	 * frames outright (a real skb could still carry them to TC). */
	if (!xdp && f->frame.truncate && skb_refused(prog, frame, len)) {
		print_message("  %-4s %s (refused as an skb by the kernel)\n",
			      "tc", f->what);
		return;
	}
	print_message("  %-4s %s\n", xdp ? "xdp" : "tc", f->what);
	reset_state(NULL);
	stats_now(before);
	for (int i = 0; i < f->sends; i++)
		drops += run_prog(prog, xdp, frame, len);
	stats_now(after);

	assert_int_equal(drops, f->x.drops);
	assert_int_equal(delta(after, before, slot, MXG_PASS) +
			 delta(after, before, slot, MXG_PASS_ALLOW), f->x.pass);
	assert_int_equal(delta(after, before, slot, MXG_PASS_ALLOW), f->x.allow);
	assert_int_equal(delta(after, before, slot, MXG_DROP_DENY), f->x.deny);
	assert_int_equal(delta(after, before, slot, MXG_DROP_PENALTY), f->x.penalty);
	assert_int_equal(delta(after, before, slot, MXG_DROP_RATE), f->x.rate);
	assert_int_equal(delta(after, before, MXG_STATS_GLOBAL, MXG_GLOBAL_MALFORMED),
			 f->x.malformed);
	assert_int_equal(delta(after, before, MXG_STATS_GLOBAL, MXG_GLOBAL_FRAGMENT),
			 f->x.fragment);
	assert_int_equal(delta(after, before, MXG_STATS_GLOBAL, MXG_GLOBAL_BOGUS),
			 f->x.bogus);
	assert_int_equal(delta(after, before, MXG_STATS_GLOBAL, MXG_GLOBAL_UNSEEN_DROPPED),
			 f->x.unseen);
	/* Nothing else moved in any other class. */
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++)
		for (int v = 0; c != slot && v < MXG_VERDICT_COUNT; v++)
			assert_int_equal(delta(after, before, c, v), 0);
}

static void test_fixtures_xdp(void **state)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		run_fixture(&fixtures[i], true);
}

static void test_fixtures_tc(void **state)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		run_fixture(&fixtures[i], false);
}

/* One SYN with this sequence number: the same SYN again, as a TCP
 * retransmits it, when seq is the same. */
static int send_syn_seq(bool xdp, const char *saddr, uint16_t port,
			uint32_t seq)
{
	struct frame_spec spec = { .saddr = saddr, .dport = port, .flags = F_SYN,
				   .family = strchr(saddr, ':') ? 6 : 4,
				   .seq = seq };
	uint8_t frame[FRAME_MAX];
	int len = build_frame(&spec, frame);
	int prog = bpf_program__fd(xdp ? env.skel->progs.mxg_xdp :
				   env.skel->progs.mxg_tc);

	return run_prog(prog, xdp, frame, len);
}

/* A SYN of a new connection: a sequence number never sent before. */
static int send_syn_on(bool xdp, const char *saddr, uint16_t port)
{
	static uint32_t seq;

	return send_syn_seq(xdp, saddr, port, ++seq);
}

static int send_syn(const char *saddr, uint16_t port)
{
	return send_syn_on(true, saddr, port);
}

/* Sources are aggregated by prefix: one /64 is one source. */
static void test_ipv6_prefix_aggregation(void **state)
{
	assert_int_equal(send_syn("2001:db8:5:1::1", 25), 0);
	assert_int_equal(send_syn("2001:db8:5:1:ffff::2", 25), 1);	/* same /64 */
	assert_int_equal(send_syn("2001:db8:5:2::1", 25), 0);	/* next /64 */
	assert_int_equal(send_syn("198.18.5.1", 25), 0);
	assert_int_equal(send_syn("198.18.5.2", 25), 0);	/* IPv4 /32 */
}

/* And the IPv4 prefix follows the class: /24 makes a /24 one source. */
static void test_ipv4_prefix_aggregation(void **state)
{
	struct mxg_class_config c = env.cfg.classes[0];
	struct mxg_class cls, saved;
	uint32_t idx;

	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	c.ipv4_prefix = 24;
	mxg_class_to_bpf(&c, ncpus(), &cls);
	assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);
	assert_int_equal(send_syn("198.18.6.1", 25), 0);
	assert_int_equal(send_syn("198.18.6.200", 25), 1);
	assert_int_equal(send_syn("198.18.7.1", 25), 0);
}

/* A ban drops until it expires, and only in the classes it names. */
static void test_ban_expiry(void **state)
{
	struct mxg_lpm_key key;
	struct mxg_ban ban;

	assert_int_equal(mxg_parse_cidr("198.18.8.0/24", &key), 0);
	assert_int_equal(mxg_ban_add(env.maps.bans, &key, 60ULL * 1000000000ULL,
				     1U << env.smtp, MXG_ORIGIN_CLI), 0);
	assert_int_equal(send_syn("198.18.8.9", 25), 1);
	assert_int_equal(send_syn("198.18.8.9", 389), 0);	/* ldap not banned */

	/* Move the expiry into the past: the ban no longer applies even
	 * before the daemon sweeps it. */
	assert_int_equal(bpf_map_lookup_elem(env.maps.bans, &key, &ban), 0);
	/* (The programs read the coarse clock, up to a tick behind.) */
	ban.expires_ns = mxg_now_ns() - 100 * 1000000ULL;
	assert_int_equal(bpf_map_update_elem(env.maps.bans, &key, &ban, BPF_ANY), 0);
	assert_int_equal(send_syn("198.18.8.9", 25), 0);
	assert_int_equal(mxg_bans_sweep(env.maps.bans, mxg_now_ns()), 1);
	assert_int_not_equal(bpf_map_lookup_elem(env.maps.bans, &key, &ban), 0);

	/* A ban without expiry holds, and the deny list is checked first. */
	assert_int_equal(mxg_ban_add(env.maps.bans, &key, 0, ~0U, MXG_ORIGIN_CLI), 0);
	assert_int_equal(send_syn("198.18.8.10", 25), 1);
	assert_int_equal(send_syn("198.18.8.10", 389), 1);
}

/* A SYN whose TCP header the parser cannot reach (more IPv6 extension
 * headers than it walks) from a source in the penalty box is dropped on
 * both hooks, as its SYN would be; once the ban expires it passes. */
static void test_unseen_from_banned(void **state)
{
	struct frame_spec spec = { SYN6("2001:db8:9::9", 25),
				   .ext = { EXT_HOPOPTS, 60, 60, 60, 60, 60, 60, 60, 60 } };
	uint8_t frame[FRAME_MAX];
	int len = build_frame(&spec, frame);
	struct mxg_lpm_key key;
	struct mxg_ban ban;

	for (int xdp = 0; xdp <= 1; xdp++) {
		int prog = bpf_program__fd(xdp ? env.skel->progs.mxg_xdp :
						 env.skel->progs.mxg_tc);

		reset_state(NULL);
		assert_int_equal(run_prog(prog, xdp, frame, len), 0);
		assert_int_equal(mxg_parse_cidr("2001:db8:9::/64", &key), 0);
		assert_int_equal(mxg_ban_add(env.maps.bans, &key, 60ULL * 1000000000ULL,
					     1U << env.smtp, MXG_ORIGIN_INSPECT), 0);
		assert_int_equal(run_prog(prog, xdp, frame, len), 1);
		assert_int_equal(bpf_map_lookup_elem(env.maps.bans, &key, &ban), 0);
		ban.expires_ns = mxg_now_ns() - 100 * 1000000ULL;
		assert_int_equal(bpf_map_update_elem(env.maps.bans, &key, &ban, BPF_ANY), 0);
		assert_int_equal(run_prog(prog, xdp, frame, len), 0);
	}
}

/* Refill: rewinding a source's TAT by k intervals is k tokens back. */
static void test_bucket_refill_and_burst(void **state)
{
	struct mxg_class_config c;
	struct mxg_class cls, saved;
	struct mxg_source_key key = {};
	struct mxg_source src;
	uint32_t idx;
	bool v4;

	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	c.rate_milli = 1000;
	c.burst = 5;
	mxg_class_to_bpf(&c, ncpus(), &cls);
	assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);

	for (int i = 0; i < 5; i++)
		assert_int_equal(send_syn("198.18.9.1", 25), 0);
	assert_int_equal(send_syn("198.18.9.1", 25), 1);
	assert_int_equal(send_syn("198.18.9.1", 25), 1);

	assert_int_equal(mxg_parse_addr("198.18.9.1", key.addr, &v4), 0);
	key.class_idx = idx;
	assert_int_equal(bpf_map_lookup_elem(env.maps.sources, &key, &src), 0);
	assert_int_equal(src.syns, 7);
	assert_int_equal(src.drops, 2);
	src.tat_ns -= 2 * cls.interval_ns;
	assert_int_equal(bpf_map_update_elem(env.maps.sources, &key, &src, BPF_EXIST), 0);
	assert_int_equal(send_syn("198.18.9.1", 25), 0);
	assert_int_equal(send_syn("198.18.9.1", 25), 0);
	assert_int_equal(send_syn("198.18.9.1", 25), 1);

	/* A long idle source is back to a full burst, not more. */
	assert_int_equal(bpf_map_lookup_elem(env.maps.sources, &key, &src), 0);
	src.tat_ns = 1;	/* long ago */
	assert_int_equal(bpf_map_update_elem(env.maps.sources, &key, &src, BPF_EXIST), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(send_syn("198.18.9.1", 25), 0);
	assert_int_equal(send_syn("198.18.9.1", 25), 1);

	/* rate off: nothing is rate limited, nothing tracked. */
	c.rate_milli = 0;
	mxg_class_to_bpf(&c, ncpus(), &cls);
	assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(send_syn("198.18.9.2", 25), 0);
}

/*
 * Two CPUs judging the same source at once admit exactly `burst` SYNs: each
 * thread is pinned to its own CPU and runs the program `repeat` times in
 * the kernel, so the two loops really interleave on the bucket.
 */
#define RACE_BURST 20000
#define RACE_REPEAT 20000

struct racer {
	int cpu, prog, len;
	uint8_t frame[FRAME_MAX];
	int ret;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	cpu_set_t set;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = r->frame,
		    .data_size_in = r->len, .repeat = RACE_REPEAT);

	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	r->ret = bpf_prog_test_run_opts(r->prog, &opts);
	return NULL;
}

static void test_bucket_two_cpus(void **state)
{
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	struct frame_spec spec = { SYN4("198.18.10.1", 25) };
	struct mxg_class_config c;
	struct mxg_class cls, saved;
	struct racer r[2];
	pthread_t t[2];
	uint32_t idx;
	int cpus = libbpf_num_possible_cpus();

	if (cpus < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	c.rate_milli = 1;	/* 0.001/s: no refill during the test */
	c.burst = RACE_BURST;
	mxg_class_to_bpf(&c, ncpus(), &cls);
	assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);

	stats_now(before);
	for (int i = 0; i < 2; i++) {
		r[i].cpu = i;
		r[i].prog = bpf_program__fd(i ? env.skel->progs.mxg_tc :
					    env.skel->progs.mxg_xdp);
		r[i].len = build_frame(&spec, r[i].frame);
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].ret, 0);
	}
	stats_now(after);
	assert_int_equal(delta(after, before, idx, MXG_PASS), RACE_BURST);
	assert_int_equal(delta(after, before, idx, MXG_DROP_RATE),
			 2 * RACE_REPEAT - RACE_BURST);
}

/* The connection caps read the counts the counter keeps: the class total
 * first, then the source's own; a SYN dropped by a cap takes no token. */
static void test_conn_caps(void **state)
{
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	struct mxg_class_conns total = { .conns = 2 };
	struct mxg_conn conn = { .conns = 1 };
	struct mxg_source_key key = {};
	struct mxg_class_config c;
	struct mxg_class cls, saved;
	struct mxg_source src;
	uint32_t idx;
	bool v4;

	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	c.total_conns = 2;
	c.source_conns = 1;
	c.burst = 10;
	mxg_class_to_bpf(&c, ncpus(), &cls);
	assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);

	stats_now(before);
	assert_int_equal(bpf_map_update_elem(env.maps.class_conns, &idx, &total, BPF_ANY), 0);
	assert_int_equal(send_syn("198.18.12.1", 25), 1);	/* class full */
	assert_int_equal(send_syn("198.18.12.1", 389), 0);	/* other class */

	total.conns = 1;
	assert_int_equal(bpf_map_update_elem(env.maps.class_conns, &idx, &total, BPF_ANY), 0);
	assert_int_equal(mxg_parse_addr("198.18.12.1", key.addr, &v4), 0);
	key.class_idx = idx;
	assert_int_equal(bpf_map_update_elem(env.maps.conns, &key, &conn, BPF_ANY), 0);
	assert_int_equal(send_syn("198.18.12.1", 25), 1);	/* source full */
	assert_int_equal(send_syn("198.18.12.2", 25), 0);	/* another source */

	/* Allowed sources are never capped; denied ones are denied first. */
	assert_int_equal(send_syn("198.18.66.7", 25), 0);
	assert_int_equal(send_syn("198.18.66.8", 25), 1);
	stats_now(after);
	assert_int_equal(delta(after, before, idx, MXG_DROP_TOTAL_CONNS), 1);
	assert_int_equal(delta(after, before, idx, MXG_DROP_SOURCE_CONNS), 1);
	assert_int_equal(delta(after, before, idx, MXG_DROP_DENY), 1);
	/* The capped source took no token from its bucket. */
	assert_int_not_equal(bpf_map_lookup_elem(env.maps.sources, &key, &src), 0);

	conn.conns = 0;
	assert_int_equal(bpf_map_update_elem(env.maps.conns, &key, &conn, BPF_ANY), 0);
	assert_int_equal(send_syn("198.18.12.1", 25), 0);
}

/*
 * The tuner's scale and descriptor cap (mxg_tuning), as both programs
 * judge by them: the class's configured limits (mxg_classes) stay as they
 * are, and the verdicts follow bpf/tuning.h.
 */
static void write_tuning(uint32_t idx, uint32_t scale, uint32_t cap)
{
	struct mxg_tuning t = { .scale_permille = scale, .total_conns_cap = cap };

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(env.skel->maps.mxg_tuning),
					     &idx, &t, BPF_ANY), 0);
}

/* SYNs of new connections from one source until one is dropped (at most
 * 50): how many passed. */
static int passes_before_drop(bool xdp, const char *saddr)
{
	for (int i = 0; i < 50; i++)
		if (send_syn_on(xdp, saddr, 25))
			return i;
	return 50;
}

/* How far the source's TAT is ahead of now, in ms: its spent burst times
 * the interval in force. */
static int64_t tat_ahead_ms(const char *saddr, uint32_t idx)
{
	struct mxg_source_key key = { .class_idx = idx };
	struct mxg_source src;
	bool v4;

	assert_int_equal(mxg_parse_addr(saddr, key.addr, &v4), 0);
	assert_int_equal(bpf_map_lookup_elem(env.maps.sources, &key, &src), 0);
	return ((int64_t)src.tat_ns - (int64_t)mxg_now_ns()) / 1000000;
}

static void test_tuning_scale(void **state)
{
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	struct mxg_class_config c;
	struct mxg_class cls, saved;
	uint32_t idx;

	/* smtp at 1/s, burst 10: no refill while the test runs. */
	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	c.rate_milli = 1000;
	c.burst = 10;
	mxg_class_to_bpf(&c, ncpus(), &cls);
	assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);

	for (int xdp = 0; xdp <= 1; xdp++) {
		print_message("  %s\n", xdp ? "xdp" : "tc");
		reset_state(NULL);
		stats_now(before);
		/* 0.5: half the burst, and each token twice the interval:
		 * 5 passes put the TAT 5 x 2 s ahead. */
		write_tuning(idx, 500, 0);
		assert_int_equal(passes_before_drop(xdp, "198.18.40.1"), 5);
		assert_in_range(tat_ahead_ms("198.18.40.1", idx), 9800, 10000);
		/* 0.1: a burst of 1, an interval of 10 s. */
		write_tuning(idx, 100, 0);
		assert_int_equal(passes_before_drop(xdp, "198.18.40.2"), 1);
		assert_in_range(tat_ahead_ms("198.18.40.2", idx), 9800, 10000);
		/* 0 and 1000: as configured. */
		write_tuning(idx, 0, 0);
		assert_int_equal(passes_before_drop(xdp, "198.18.40.3"), 10);
		assert_in_range(tat_ahead_ms("198.18.40.3", idx), 9800, 10000);
		write_tuning(idx, 1000, 0);
		assert_int_equal(passes_before_drop(xdp, "198.18.40.4"), 10);
		/* Another class's scale does not touch this one. */
		write_tuning(env.ldap, 100, 0);
		assert_int_equal(passes_before_drop(xdp, "198.18.40.5"), 10);
		write_tuning(env.ldap, 0, 0);
		stats_now(after);
		assert_int_equal(delta(after, before, idx, MXG_PASS), 5 + 1 + 10 + 10 + 10);
		assert_int_equal(delta(after, before, idx, MXG_DROP_RATE), 5);
	}
	/* The configured limits are untouched. */
	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	assert_memory_equal(&saved, &cls, sizeof(cls));
}

/* The class at n open connections (mxg_class_conns, as the counter keeps
 * it): does one more SYN pass? */
static bool conn_admitted(bool xdp, uint32_t idx, uint64_t n)
{
	struct mxg_class_conns total = { .conns = n };

	assert_int_equal(bpf_map_update_elem(env.maps.class_conns, &idx, &total, BPF_ANY), 0);
	return !send_syn_on(xdp, "198.18.41.1", 25);
}

static void test_tuning_conns_cap(void **state)
{
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	struct mxg_class_config c;
	struct mxg_class cls, saved;
	uint32_t idx;

	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	c.rate_milli = 1000000;		/* 1000/s, burst 1000: never the rate */
	c.burst = 1000;
	c.total_conns = 0;		/* no cap set by hand */
	c.source_conns = 0;
	mxg_class_to_bpf(&c, ncpus(), &cls);
	assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);

	for (int xdp = 0; xdp <= 1; xdp++) {
		print_message("  %s\n", xdp ? "xdp" : "tc");
		reset_state(NULL);
		stats_now(before);
		/* No total_conns configured: the tuner's cap alone. */
		assert_true(conn_admitted(xdp, idx, 1000));
		write_tuning(idx, 0, 3);
		assert_true(conn_admitted(xdp, idx, 2));
		assert_false(conn_admitted(xdp, idx, 3));
		assert_false(conn_admitted(xdp, idx, 4));
		/* Another class is not capped by it. */
		assert_int_equal(send_syn_on(xdp, "198.18.41.1", 389), 0);

		/* Configured 10, cap 3: the cap. */
		c.total_conns = 10;
		mxg_class_to_bpf(&c, ncpus(), &cls);
		assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);
		assert_false(conn_admitted(xdp, idx, 3));
		/* Configured 4, cap 20: the configured. */
		c.total_conns = 4;
		mxg_class_to_bpf(&c, ncpus(), &cls);
		assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);
		write_tuning(idx, 0, 20);
		assert_true(conn_admitted(xdp, idx, 3));
		assert_false(conn_admitted(xdp, idx, 4));
		/* Scale 0.5 of 4: 2. */
		write_tuning(idx, 500, 0);
		assert_true(conn_admitted(xdp, idx, 1));
		assert_false(conn_admitted(xdp, idx, 2));
		/* Back to as configured. */
		write_tuning(idx, 0, 0);
		assert_true(conn_admitted(xdp, idx, 3));
		assert_false(conn_admitted(xdp, idx, 4));
		c.total_conns = 0;
		mxg_class_to_bpf(&c, ncpus(), &cls);
		assert_int_equal(mxg_class_write(&env.maps, idx, &cls), 0);
		assert_true(conn_admitted(xdp, idx, 1000));
		stats_now(after);
		assert_int_equal(delta(after, before, idx, MXG_DROP_TOTAL_CONNS), 6);
		assert_int_equal(delta(after, before, idx, MXG_PASS), 6);
		assert_int_equal(delta(after, before, env.ldap, MXG_PASS), 1);
	}
}

/* An unused class slot or a port pointing nowhere judges nothing. */
static void test_port_to_empty_class(void **state)
{
	struct mxg_port port = { .guarded = 1, .class_idx = 7 };
	uint32_t p = 2525;

	assert_int_equal(bpf_map_update_elem(env.maps.ports, &p, &port, BPF_ANY), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_syn("198.18.11.1", 2525), 0);
	port.class_idx = 200;	/* out of range */
	assert_int_equal(bpf_map_update_elem(env.maps.ports, &p, &port, BPF_ANY), 0);
	assert_int_equal(send_syn("198.18.11.1", 2525), 0);
}

/*
 * The new-source limit. Its buckets are per CPU, so these tests run pinned
 * to one CPU: BPF_PROG_TEST_RUN judges on the caller's CPU, and a test
 * that migrated would draw from two buckets.
 */
static cpu_set_t saved_affinity;

static void pin_to_cpu0(void)
{
	cpu_set_t one;

	assert_int_equal(sched_getaffinity(0, sizeof(saved_affinity),
					   &saved_affinity), 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	pinned = true;
}

static void unpin(void)
{
	pinned = false;
	if (sched_setaffinity(0, sizeof(saved_affinity), &saved_affinity))
		fprintf(stderr, "cannot restore the CPU affinity: %s\n", strerror(errno));
}

static bool source_tracked(const char *saddr, uint32_t class_idx)
{
	struct mxg_source_key key = { .class_idx = class_idx };
	struct mxg_source src;
	bool v4;

	assert_int_equal(mxg_parse_addr(saddr, key.addr, &v4), 0);
	return !bpf_map_lookup_elem(env.maps.sources, &key, &src);
}

static unsigned sources_tracked(void)
{
	struct mxg_source_key key, next, *prev = NULL;
	unsigned n = 0;

	while (!bpf_map_get_next_key(env.maps.sources, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

/* Past the class's burst of new sources, a new source is dropped with its
 * own verdict and not inserted; known sources keep passing on their own
 * buckets; a changed limit starts with a full bucket. */
#define NEW_BURST_CPU 4

static void test_new_source_burst(void **state)
{
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	struct mxg_class_config c;
	struct mxg_class saved;
	char addr[64];
	uint32_t idx;

	pin_to_cpu0();
	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	c.rate_milli = 1000000;		/* 1000/s, burst 100 per source */
	c.burst = 100;
	c.new_sources_milli = 1;	/* 0.001/s: no refill during the test */
	c.new_sources_burst = NEW_BURST_CPU * ncpus();
	assert_int_equal(mxg_class_apply(&env.maps, idx, &c), 0);

	stats_now(before);
	for (int i = 0; i < NEW_BURST_CPU; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:20:%x::", i);
		assert_int_equal(send_syn(addr, 25), 0);
		assert_true(source_tracked(addr, idx));
	}
	/* The bucket is empty: new sources are dropped, on XDP and TC alike,
	 * and none of them takes a place in mxg_sources. */
	for (int i = NEW_BURST_CPU; i < NEW_BURST_CPU + 6; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:20:%x::", i);
		assert_int_equal(send_syn_on(i % 2, addr, 25), 1);
		assert_false(source_tracked(addr, idx));
	}
	assert_int_equal(send_syn("198.18.20.1", 25), 1);
	assert_false(source_tracked("198.18.20.1", idx));
	assert_int_equal(sources_tracked(), NEW_BURST_CPU);

	/* A known source still passes, up to its own burst, while new ones
	 * keep being dropped. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(send_syn("2001:db8:20:0:ffff::7", 25), 0);
		assert_int_equal(send_syn_on(false, "2001:db8:20:1::1", 25), 0);
		assert_int_equal(send_syn("2001:db8:20:99::1", 25), 1);
	}
	/* Another class has its own bucket. */
	assert_int_equal(send_syn("2001:db8:20:99::1", 389), 0);
	stats_now(after);
	assert_int_equal(delta(after, before, idx, MXG_PASS), NEW_BURST_CPU + 20);
	assert_int_equal(delta(after, before, idx, MXG_DROP_NEW_SOURCE), 6 + 1 + 10);
	assert_int_equal(delta(after, before, idx, MXG_DROP_RATE), 0);
	assert_int_equal(delta(after, before, env.ldap, MXG_PASS), 1);

	/* A changed limit starts full: mxg_class_apply refills. */
	c.new_sources_burst = (NEW_BURST_CPU + 1) * ncpus();
	assert_int_equal(mxg_class_apply(&env.maps, idx, &c), 0);
	for (int i = 0; i < NEW_BURST_CPU + 1; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:21:%x::", i);
		assert_int_equal(send_syn(addr, 25), 0);
	}
	assert_int_equal(send_syn("2001:db8:21:99::1", 25), 1);

	/* off: every new source is tracked and passes. */
	c.new_sources_milli = 0;
	assert_int_equal(mxg_class_apply(&env.maps, idx, &c), 0);
	for (int i = 0; i < 3 * NEW_BURST_CPU; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:22:%x::", i);
		assert_int_equal(send_syn(addr, 25), 0);
		assert_true(source_tracked(addr, idx));
	}
}

/*
 * A SYN refused as new_source and sent again unchanged (a retransmission:
 * same source, ports and sequence number) draws from the second bucket,
 * on XDP and TC alike; a new connection from the same source does not,
 * nor does a SYN from a banned source, and once the second bucket is empty
 * a retransmission waits like any new source.
 */
/* smtp's new-source bucket with a burst of NEW_BURST_CPU on this CPU, no
 * refill, and spent; returns smtp's index, its record in saved. */
static uint32_t spend_new_sources(struct mxg_class *saved)
{
	struct mxg_class_config c;
	char addr[64];
	uint32_t idx;

	pin_to_cpu0();
	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, saved), 0);
	mxg_class_from_bpf(saved, &c);
	c.rate_milli = 1000000;
	c.burst = 100;
	c.new_sources_milli = 1;	/* no refill during the test */
	c.new_sources_burst = NEW_BURST_CPU * ncpus();
	assert_int_equal(mxg_class_apply(&env.maps, idx, &c), 0);
	for (int i = 0; i < NEW_BURST_CPU; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:30:%x::", i);
		assert_int_equal(send_syn(addr, 25), 0);
	}
	return idx;
}

static void test_new_source_resent(void **state)
{
	struct mxg_stats before[MXG_MAX_CLASSES + 1], after[MXG_MAX_CLASSES + 1];
	struct mxg_lpm_key banned;
	struct mxg_class saved;
	uint32_t idx = spend_new_sources(&saved);
	char addr[64];

	stats_now(before);
	/* Refused, then the same SYN again: admitted, and tracked. */
	assert_int_equal(send_syn_seq(true, "198.18.30.1", 25, 7001), 1);
	assert_false(source_tracked("198.18.30.1", idx));
	assert_int_equal(send_syn_seq(false, "198.18.30.1", 25, 7001), 0);
	assert_true(source_tracked("198.18.30.1", idx));
	/* Another connection from a refused source is no retransmission. */
	assert_int_equal(send_syn_seq(false, "2001:db8:31::1", 25, 7002), 1);
	assert_int_equal(send_syn_seq(true, "2001:db8:31::1", 25, 7003), 1);
	assert_int_equal(send_syn_seq(true, "2001:db8:31::1", 25, 7002), 0);
	/* A banned source's retransmission stays banned. */
	assert_int_equal(mxg_parse_cidr("2001:db8:32::/64", &banned), 0);
	assert_int_equal(mxg_ban_add(env.maps.bans, &banned, 60ULL * 1000000000ULL,
				     1U << env.smtp, MXG_ORIGIN_CLI), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(send_syn_seq(i, "2001:db8:32::1", 25, 7004), 1);
	stats_now(after);
	assert_int_equal(delta(after, before, idx, MXG_DROP_NEW_SOURCE), 3);
	assert_int_equal(delta(after, before, idx, MXG_DROP_PENALTY), 2);
	assert_int_equal(delta(after, before, idx, MXG_PASS), 2);
	assert_int_equal(delta(after, before, MXG_STATS_GLOBAL,
			       MXG_GLOBAL_NEW_RESENT), 2);

	/* The second bucket's burst is the first's: NEW_BURST_CPU - 2 left.
	 * Then a retransmission is refused, again and again. */
	for (int i = 0; i < NEW_BURST_CPU - 2; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:33:%x::", i);
		assert_int_equal(send_syn_seq(i % 2, addr, 25, 8000 + i), 1);
		assert_int_equal(send_syn_seq(i % 2, addr, 25, 8000 + i), 0);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_syn_seq(i % 2, "2001:db8:34::1", 25, 9000), 1);
	assert_false(source_tracked("2001:db8:34::1", idx));
}

/* The identity mxg_xdp computes for send_syn_seq's SYN. */
static uint64_t syn_id(const char *saddr, uint32_t seq)
{
	uint8_t a[16];

	flow_key_addr(a, saddr);
	return mxg_syn_identity(a, htons(40000), htonl(seq), 25);
}

static void read_line(uint32_t line, struct mxg_refused_line *out)
{
	int fd = bpf_map__fd(env.skel->maps.mxg_refused);

	assert_int_equal(bpf_map_lookup_elem(fd, &line, out), 0);
}

static int slot_of(const struct mxg_refused_line *l, uint64_t id)
{
	for (int i = 0; i < MXG_REFUSED_WAYS; i++)
		if ((l->slot[i] & ~0xffffffffULL) == mxg_refused_tag(id))
			return i;
	return -1;
}

/*
 * A refused SYN's tag takes the oldest slot of its line, so that a line
 * full of the flood's tags keeps the freshest: here the line of X holds X
 * and 7 older tags, and a new refused SYN Y on the same line replaces the
 * oldest of them, not X, whose retransmission then passes.
 */
static void test_new_source_resent_line(void **state)
{
	const char *x = "2001:db8:35::1", *y = "2001:db8:36::1";
	uint64_t idx_x = syn_id(x, 10000), idx_y = 0;
	uint32_t line = mxg_refused_line_of(idx_x), tx, yseq = 0;
	int fd = bpf_map__fd(env.skel->maps.mxg_refused), sx;
	struct mxg_refused_line l;
	struct mxg_class saved;
	uint32_t idx = spend_new_sources(&saved);

	assert_int_equal(send_syn_seq(true, x, 25, 10000), 1);
	read_line(line, &l);
	sx = slot_of(&l, idx_x);
	assert_true(sx >= 0);
	tx = (uint32_t)l.slot[sx];
	/* The other slots: older than X, the oldest at (sx + 3) % 8. */
	for (int i = 0; i < MXG_REFUSED_WAYS; i++)
		if (i != sx)
			l.slot[i] = (uint64_t)(0x1000 + i) << 32 |
				    (uint32_t)(tx - (i == (sx + 3) % 8 ? 5000 : 100));
	assert_int_equal(bpf_map_update_elem(fd, &line, &l, BPF_ANY), 0);

	/* A SYN from Y that lands on X's line. */
	for (uint32_t seq = 20000; seq < 20000 + 64 * MXG_REFUSED_LINES; seq++) {
		idx_y = syn_id(y, seq);
		if (mxg_refused_line_of(idx_y) == line &&
		    mxg_refused_tag(idx_y) != mxg_refused_tag(idx_x)) {
			yseq = seq;
			break;
		}
	}
	assert_true(yseq != 0);
	assert_int_equal(send_syn_seq(false, y, 25, yseq), 1);
	read_line(line, &l);
	assert_int_equal(slot_of(&l, idx_y), (sx + 3) % 8);
	assert_int_equal(slot_of(&l, idx_x), sx);

	/* X again passes and frees its slot; so does Y. */
	assert_int_equal(send_syn_seq(false, x, 25, 10000), 0);
	assert_int_equal(send_syn_seq(true, y, 25, yseq), 0);
	read_line(line, &l);
	assert_int_equal(slot_of(&l, idx_x), -1);
	assert_int_equal(slot_of(&l, idx_y), -1);
	assert_true(source_tracked("2001:db8:35::", idx));	/* its /64 */
}

/* The bucket refills with time, up to its burst and no further. */
static void test_new_source_refill(void **state)
{
	struct mxg_class_config c;
	struct mxg_class saved, cls;
	uint32_t idx;

	pin_to_cpu0();
	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &saved), 0);
	mxg_class_from_bpf(&saved, &c);
	/* 20/s and a burst of one per CPU: one new source per 50 ms. */
	c.new_sources_milli = 20000 * ncpus();
	c.new_sources_burst = ncpus();
	assert_int_equal(mxg_class_apply(&env.maps, idx, &c), 0);
	assert_int_equal(mxg_class_find(&env.maps, "smtp", &idx, &cls), 0);
	assert_true(cls.new_interval_ns == 50000000ULL);
	assert_true(cls.new_tolerance_ns == 0);

	assert_int_equal(send_syn("198.18.21.1", 25), 0);
	assert_int_equal(send_syn("198.18.21.2", 25), 1);
	/* Two intervals and more (the coarse clock is up to a tick late),
	 * but a burst of one: one new source, not two. */
	usleep(120 * 1000);
	assert_int_equal(send_syn("198.18.21.3", 25), 0);
	assert_int_equal(send_syn("198.18.21.4", 25), 1);
	assert_true(source_tracked("198.18.21.3", idx));
	assert_false(source_tracked("198.18.21.4", idx));

	/* rate off, new_sources on: sources are tracked for the new-source
	 * limit only, and a known one is never limited. */
	c.rate_milli = 0;
	assert_int_equal(mxg_class_apply(&env.maps, idx, &c), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(send_syn("198.18.21.1", 25), 0);
	/* A change of rate alone leaves the new-source bucket as it is. */
	assert_int_equal(send_syn("198.18.21.5", 25), 1);
	usleep(120 * 1000);
	assert_int_equal(send_syn("198.18.21.6", 25), 0);
	assert_int_equal(send_syn("198.18.21.7", 25), 1);
}

static uint64_t sources_created(void)
{
	struct mxg_stats st[MXG_MAX_CLASSES + 1];

	stats_now(st);
	return st[MXG_STATS_GLOBAL].count[MXG_GLOBAL_SOURCES_CREATED];
}

/*
 * The metrics read the tracked sources as min(created, max_entries):
 * created counts exactly the entries inserted into mxg_sources, on XDP and
 * TC alike: once per new source, never for a source already tracked, a
 * denied or allow-listed one (never inserted), or one refused as new.
 */
static void test_sources_created(void **state)
{
	struct mxg_class saved;
	uint64_t n0;
	char addr[64];
	uint32_t idx;

	for (int xdp = 0; xdp <= 1; xdp++) {
		print_message("  %s\n", xdp ? "xdp" : "tc");
		n0 = sources_created();
		for (int i = 0; i < 3; i++) {
			snprintf(addr, sizeof(addr), "198.18.42.%d", 10 * xdp + i);
			assert_int_equal(send_syn_on(xdp, addr, 25), 0);
			/* Tracked now: its next SYN (dropped for rate) adds
			 * nothing. */
			assert_int_equal(send_syn_on(xdp, addr, 25), 1);
		}
		snprintf(addr, sizeof(addr), "2001:db8:42:%d::1", xdp); /* a /64 each */
		assert_int_equal(send_syn_on(xdp, addr, 25), 0);
		assert_int_equal(send_syn_on(xdp, "198.18.66.1", 25), 1); /* denied */
		assert_int_equal(send_syn_on(xdp, "198.18.66.7", 25), 0); /* allowed */
		assert_int_equal(sources_created() - n0, 4);
	}
	/* Refused as a new source: not inserted, not counted. */
	idx = spend_new_sources(&saved);
	n0 = sources_created();
	for (int xdp = 0; xdp <= 1; xdp++)
		assert_int_equal(send_syn_on(xdp, "198.18.43.1", 25), 1);
	assert_false(source_tracked("198.18.43.1", idx));
	assert_int_equal(sources_created(), n0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixtures_xdp, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_fixtures_tc, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_ipv6_prefix_aggregation, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_ipv4_prefix_aggregation, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_ban_expiry, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_unseen_from_banned, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_bucket_refill_and_burst, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_bucket_two_cpus, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_conn_caps, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_port_to_empty_class, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_tuning_scale, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_tuning_conns_cap, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_new_source_burst, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_new_source_resent, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_new_source_resent_line, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_new_source_refill, reset_state, restore_state),
		cmocka_unit_test_setup_teardown(test_sources_created, reset_state, restore_state),
	};

	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The SMTP reader (bpf/smtp.bpf.h) on crafted sessions, through
 * BPF_PROG_TEST_RUN: each test opens a session with a SYN and sends the
 * client's side segment by segment with the right sequence numbers, then
 * checks what was counted, who went into the penalty box, and which
 * segments were dropped. The mirror is filled by the same normaliser and
 * hash userspace uses, so a disagreement between the two sides fails here.
 */
#include <errno.h>
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
#include "loader.h"
#include "maps.h"
#include "parse.h"
#include "rcpt.h"
#include "recipients.h"
#include "frames.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define NSEC 1000000000ULL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *policy =
	"[global]\n"
	"interfaces = lo\n"
	"[class smtp]\n"
	"rate = off\n"
	"[ldap]\n"
	"uri = ldap://198.18.0.1/\n"
	"base = dc=lab,dc=example\n"
	"domains = lab.example\n";

static const char *const known[] = {
	"alice@lab.example", "bob@lab.example", "carol@lab.example",
};

static struct {
	struct mxguard *skel;
	struct mxg_maps maps;
	struct mxg_config cfg;
	struct mxg_hash_key key;
	int inner;
	uint16_t sport;
} env;

static void set_inspect(uint32_t mode, uint32_t threshold)
{
	struct mxg_inspect in = {
		.mode = mode,
		.unknown_threshold = threshold,
		.window_ns = 60 * NSEC,
		.penalty_ns = 600 * NSEC,
	};
	uint32_t zero = 0;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(env.skel->maps.mxg_inspect),
					     &zero, &in, BPF_ANY), 0);
}

static void set_ready(bool ready)
{
	struct mxg_mirror rec = {};
	uint32_t zero = 0;

	assert_int_equal(mxg_mirror_read(&env.maps, &rec), 0);
	rec.entries = ARRAY_SIZE(known);
	rec.synced_ns = ready ? mxg_now_ns() : 0;
	rec.max_age_ns = 3600 * NSEC;
	strcpy(rec.recipient_delimiter, "+");
	assert_int_equal(bpf_map_update_elem(env.maps.mirror, &zero, &rec, BPF_ANY), 0);
}

static int setup_all(void **state)
{
	char err[512], norm[MXG_RCPT_BUF], delims[MXG_DELIM_MAX] = "+";
	struct mxg_rcpt one = { .refs = 1 };
	struct mxg_apply_target target = {};
	struct mxg_inner_btf btf;
	uint32_t zero = 0, at;

	if (geteuid() != 0)
		return -1;
	env.skel = mxguard__open();
	if (!env.skel)
		return -1;
	bpf_map__set_max_entries(env.skel->maps.mxg_sources, 4096);
	if (mxguard__load(env.skel))
		return -1;
	mxg_maps_from_skel(env.skel, &env.maps);
	mxg_inner_btf_from_skel(env.skel, &btf);
	target.maps = &env.maps;
	if (mxg_config_load_string("policy", policy, &env.cfg, err, sizeof(err)) ||
	    mxg_apply(&target, NULL, &env.cfg, err, sizeof(err))) {
		fprintf(stderr, "policy: %s\n", err);
		return -1;
	}
	if (mxg_hash_key_ensure(&env.maps, &env.key) ||
	    mxg_domains_sync(&env.maps, &env.key, &env.cfg.ldap))
		return -1;
	env.inner = mxg_rcpt_inner_create(&btf, 1024);
	if (env.inner < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		int len = mxg_rcpt_normalize(known[i], strlen(known[i]), norm, delims, &at);
		uint64_t h = mxg_rcpt_key(&env.key, norm, len);

		if (len < 0 || bpf_map_update_elem(env.inner, &h, &one, BPF_ANY))
			return -1;
	}
	if (bpf_map_update_elem(env.maps.rcpt_slot, &zero, &env.inner, BPF_ANY))
		return -1;
	return 0;
}

static int teardown_all(void **state)
{
	close(env.inner);
	mxguard__destroy(env.skel);
	return 0;
}

static void clear_map(int fd)
{
	unsigned char key[64];

	while (!bpf_map_get_next_key(fd, NULL, key))
		bpf_map_delete_elem(fd, key);
}

static int reset(void **state)
{
	clear_map(bpf_map__fd(env.skel->maps.mxg_flows));
	clear_map(bpf_map__fd(env.skel->maps.mxg_rcpt_sources));
	clear_map(env.maps.bans);
	set_inspect(MXG_INSPECT_PENALIZE, 3);
	set_ready(true);
	env.sport++;
	return 0;
}

static void counts(struct mxg_rcpt_stats *out)
{
	assert_int_equal(mxg_rcpt_stats_read(&env.maps, out), 0);
}

/* One session's client side. */
struct session {
	const char *saddr;
	uint16_t dport;
	uint32_t seq;		/* next sequence number to send */
};

static int run(const struct frame_spec *spec)
{
	uint8_t frame[FRAME_MAX], out[FRAME_MAX + 256];
	int len = build_frame(spec, frame);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(env.skel->progs.mxg_smtp),
						&opts), 0);
	assert_true(opts.retval == TC_ACT_OK || opts.retval == TC_ACT_SHOT);
	return opts.retval == TC_ACT_SHOT;
}

/* A session's SYN, which the reader ignores, then its handshake as the
 * host's TCP completes it (flow_establish() stands in for mxg_sockops);
 * port 465's sessions are never followed, so they get no flow. */
static void open_session(struct session *s, const char *saddr, uint16_t dport)
{
	struct frame_spec spec = { .family = strchr(saddr, ':') ? 6 : 4,
				   .saddr = saddr, .dport = dport,
				   .flags = F_SYN, .sport = env.sport,
				   .seq = 1000 };

	s->saddr = saddr;
	s->dport = dport;
	s->seq = 1001;
	assert_int_equal(run(&spec), 0);
	if (dport != 465)
		assert_int_equal(flow_establish(bpf_map__fd(env.skel->maps.mxg_flows),
						&spec, s->seq), 0);
}

/* Send bytes as one segment; returns 1 if it was dropped. A segment that
 * passes moves the sequence on. */
static int send_raw(struct session *s, const char *data, int len)
{
	struct frame_spec spec = { .family = strchr(s->saddr, ':') ? 6 : 4,
				   .saddr = s->saddr, .dport = s->dport,
				   .flags = F_ACK | F_PSH, .sport = env.sport,
				   .seq = s->seq, .payload = data,
				   .payload_len = len };
	int dropped = run(&spec);

	if (!dropped)
		s->seq += len;
	return dropped;
}

static int send_str(struct session *s, const char *data)
{
	return send_raw(s, data, strlen(data));
}

/* What a fresh session of n bytes, sent as segments of piece bytes (0:
 * one segment), none dropped, added to each recipient counter. */
static void session_counts(const char *data, size_t n, size_t piece,
			   struct mxg_rcpt_stats *delta)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.30", 25);
	for (size_t off = 0; off < n; off += piece ? piece : n) {
		size_t len = piece && n - off > piece ? piece : n - off;

		assert_int_equal(send_raw(&s, data + off, len), 0);
	}
	counts(&a);
	for (int i = 0; i < MXG_RCPT_COUNTERS; i++)
		delta->count[i] = a.count[i] - b.count[i];
}

#define DELTA(after, before, i) ((after).count[i] - (before).count[i])

/* Pipelined commands in one segment: every kind of recipient. */
static void test_pipelined(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.1", 25);
	assert_int_equal(send_str(&s, "EHLO client.example\r\n"), 0);
	assert_int_equal(send_str(&s,
		"MAIL FROM:<>\r\n"
		"RCPT TO:<alice@lab.example>\r\n"
		"RCPT TO:<nobody1@lab.example>\r\n"
		"RCPT TO:<someone@foreign.example>\r\n"
		"DATA\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_NULL_SENDER), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_KNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_FOREIGN), 1);
}

/* Any case, blanks after the colon or none, ESMTP parameters, brackets
 * missing, +detail, a trailing dot: all the same known address. */
static void test_syntax_variants(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.2", 587);
	assert_int_equal(send_str(&s,
		"mail from:<sender@client.example> SIZE=100\r\n"
		"rcpt to:<Alice@LAB.Example>\r\n"
		"RCPT TO: <bob+lists@lab.example.> NOTIFY=NEVER ORCPT=rfc822;x@y\r\n"
		"Rcpt To:carol@lab.example\r\n"
		"RCPT TO:<nobody2@lab.example> NOTIFY=SUCCESS,FAILURE\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_KNOWN), 3);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_NULL_SENDER), 0);
}

/* A body line that looks like a command is a body line. */
static void test_data_body_not_read(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.3", 25);
	assert_int_equal(send_str(&s, "MAIL FROM:<a@client.example>\r\n"
				      "RCPT TO:<alice@lab.example>\r\nDATA\r\n"), 0);
	assert_int_equal(send_str(&s, "Subject: hi\r\n\r\n"
				      "RCPT TO:<nobody3@lab.example>\r\n"), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody4@lab.example>\r\n"
				      "..leading dot stuffed\r\n"), 0);
	/* The end of the body, split over two segments. */
	assert_int_equal(send_str(&s, "last line\r\n.\r"), 0);
	assert_int_equal(send_str(&s, "\n"), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody5@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_KNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);	/* nobody5 only */
}

/* An empty body: DATA, then "." at once. */
static void test_empty_body(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.4", 25);
	assert_int_equal(send_str(&s, "DATA\r\n"), 0);
	assert_int_equal(send_str(&s, ".\r\n"), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody6@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
}

/* Commands split at odd places, one byte at a time at the worst. */
static void test_split_commands(void **state)
{
	static const char *const parts[] = {
		"R", "CPT T", "O:<no", "body7@lab.", "example", ">", "\r", "\n",
		"RCPT TO:<alice@lab.exa", "mple>\r\nRC", "PT TO:<bob@lab.example>\r\n",
	};
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.5", 25);
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		assert_int_equal(send_str(&s, parts[i]), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_KNOWN), 2);
}

/* Lines of 1,000 bytes and more: a long line of junk, and an address too
 * long to be one, neither counted as a recipient; the next one is. */
static void test_long_lines(void **state)
{
	char *junk = malloc(3000), *rcpt = malloc(1200);
	struct mxg_rcpt_stats b, a;
	struct session s;

	assert_non_null(junk);
	assert_non_null(rcpt);
	memset(junk, 'x', 2998);
	memcpy(junk + 2998, "\r\n", 2);
	strcpy(rcpt, "RCPT TO:<");
	memset(rcpt + 9, 'y', 1000);
	strcpy(rcpt + 1009, "@lab.example>\r\n");
	counts(&b);
	open_session(&s, "198.18.20.6", 25);
	assert_int_equal(send_raw(&s, junk, 1500), 0);
	assert_int_equal(send_raw(&s, junk + 1500, 1500), 0);
	assert_int_equal(send_str(&s, rcpt), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody8@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_INVALID), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
	free(junk);
	free(rcpt);
}

/* BDAT chunks are skipped by their length, even when they hold what looks
 * like a command. */
static void test_bdat(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	const char *chunk1 = "RCPT TO:<nobody9@lab.example>\r\n", *chunk2 = "RCPT TO:<x@y>";
	char seg[128];

	counts(&b);
	open_session(&s, "198.18.20.7", 25);
	snprintf(seg, sizeof(seg), "BDAT %zu\r\n%s", strlen(chunk1), chunk1);
	assert_int_equal(send_str(&s, seg), 0);
	/* A chunk that ends in the middle of the next segment. */
	snprintf(seg, sizeof(seg), "BDAT %zu LAST\r\n%.5s", strlen(chunk2), chunk2);
	assert_int_equal(send_str(&s, seg), 0);
	assert_int_equal(send_str(&s, chunk2 + 5), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody10@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_INVALID), 0);
}

/* After STARTTLS, and on port 465, nothing is read. */
static void test_tls(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.8", 25);
	assert_int_equal(send_str(&s, "EHLO x\r\nSTARTTLS\r\n"), 0);
	assert_int_equal(send_str(&s, "\x16\x03\x01\x02\x00RCPT TO:<nobody11@lab.example>\r\n"), 0);
	open_session(&s, "198.18.20.8", 465);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody12@lab.example>\r\n"), 0);
	counts(&a);
	/* Port 465's session is counted by mxg_sockops at its handshake
	 * (tests/integration/test_inspect.sh sees it): here, STARTTLS. */
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNINSPECTABLE), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 0);
}

static bool banned(const char *cidr, struct mxg_ban *out)
{
	struct mxg_lpm_key key;

	assert_int_equal(mxg_parse_cidr(cidr, &key), 0);
	return !bpf_map_lookup_elem(env.maps.bans, &key, out);
}

/* Past the threshold the source goes into the penalty box, for the SMTP
 * class, for the penalty; observe mode only counts. */
/* Six unknown recipients, sent without a handshake the host's TCP
 * completed: a forged SYN and a forged segment from a spoofed source, a
 * segment on a 4-tuple with no SYN at all, and, on a real session, a
 * segment at a sequence number the stream is not at. None is evidence:
 * nothing counted, nobody banned. */
static void test_forged_segments(void **state)
{
	static const char six[] = "RCPT TO:<forged1@lab.example>\r\n"
				  "RCPT TO:<forged2@lab.example>\r\n"
				  "RCPT TO:<forged3@lab.example>\r\n"
				  "RCPT TO:<forged4@lab.example>\r\n"
				  "RCPT TO:<forged5@lab.example>\r\n"
				  "RCPT TO:<forged6@lab.example>\r\n";
	struct mxg_rcpt_stats b, a;
	struct session s;
	struct mxg_ban ban;
	const char *srcs[] = { "198.18.21.1", "2001:db8:21::1" };

	counts(&b);
	for (size_t i = 0; i < ARRAY_SIZE(srcs); i++) {
		struct frame_spec syn = { .family = strchr(srcs[i], ':') ? 6 : 4,
					  .saddr = srcs[i], .dport = 25,
					  .flags = F_SYN, .sport = env.sport,
					  .seq = 5000 };

		assert_int_equal(run(&syn), 0);
		s = (struct session){ .saddr = srcs[i], .dport = 25, .seq = 5001 };
		assert_int_equal(send_str(&s, six), 0);
		/* No SYN at all on this one. */
		s.seq = 777;
		env.sport++;
		assert_int_equal(send_str(&s, six), 0);
	}
	assert_false(banned("198.18.21.1/32", &ban));
	assert_false(banned("2001:db8:21::/64", &ban));

	/* A real session, then the forger's guess at its sequence. */
	env.sport++;
	open_session(&s, "198.18.21.2", 25);
	assert_int_equal(send_str(&s, "EHLO x\r\n"), 0);
	s.seq += 100000;
	assert_int_equal(send_str(&s, six), 0);
	assert_false(banned("198.18.21.2/32", &ban));
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 0);
	assert_int_equal(DELTA(a, b, MXG_RCPT_NOT_JUDGED), 0);
	assert_int_equal(DELTA(a, b, MXG_RCPT_PENALIZED), 0);
}

static void test_penalty(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;
	struct mxg_ban ban;
	char line[64];

	counts(&b);
	open_session(&s, "198.18.20.9", 25);
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<random%d@lab.example>\r\n", i);
		assert_int_equal(send_str(&s, line), 0);
	}
	assert_false(banned("198.18.20.9/32", &ban));	/* at, not past */
	assert_int_equal(send_str(&s, "RCPT TO:<random3@lab.example>\r\n"), 0);
	assert_true(banned("198.18.20.9/32", &ban));
	assert_int_equal(ban.origin, MXG_ORIGIN_INSPECT);
	assert_true(ban.expires_ns > ban.created_ns + 590 * NSEC);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_PENALIZED), 1);

	/* Known recipients never count towards it; an IPv6 source is boxed
	 * as its /64. */
	open_session(&s, "2001:db8:20::9", 25);
	for (int i = 0; i < 10; i++)
		assert_int_equal(send_str(&s, "RCPT TO:<alice@lab.example>\r\n"), 0);
	assert_false(banned("2001:db8:20::/64", &ban));
	for (int i = 0; i < 4; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<random%d@lab.example>\r\n", i);
		assert_int_equal(send_str(&s, line), 0);
	}
	assert_true(banned("2001:db8:20::/64", &ban));

	/* Observe: counted, nobody boxed. */
	set_inspect(MXG_INSPECT_OBSERVE, 3);
	open_session(&s, "198.18.20.10", 25);
	for (int i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "RCPT TO:<random%d@lab.example>\r\n", i);
		assert_int_equal(send_str(&s, line), 0);
	}
	assert_false(banned("198.18.20.10/32", &ban));
}

/* A mirror that is not ready judges nobody. */
static void test_not_ready(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;
	struct mxg_ban ban;

	set_ready(false);
	counts(&b);
	open_session(&s, "198.18.20.11", 25);
	for (int i = 0; i < 10; i++)
		assert_int_equal(send_str(&s, "RCPT TO:<nobody13@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_NOT_JUDGED), 10);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 0);
	assert_false(banned("198.18.20.11/32", &ban));
}

/* Mode drop: a segment of unknown recipients only is dropped (and read
 * again from the same place when it comes back); one with a known
 * recipient never is. */
/* Mode drop: a typo reaches the MTA (its 550 is the sender's answer);
 * past the threshold, a segment of unknown recipients only is dropped,
 * and its retransmissions, dropped too, never count again; a segment
 * with a known or foreign recipient is never dropped. */
static void test_drop(void **state)
{
	static const char *addr = "198.18.20.12/32";
	struct mxg_rcpt_stats b, a;
	struct mxg_ban ban;
	struct session s;

	set_inspect(MXG_INSPECT_DROP, 2);
	counts(&b);
	open_session(&s, "198.18.20.12", 25);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody14@lab.example>\r\n"), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody15@lab.example>\r\n"), 0);
	assert_false(banned(addr, &ban));
	/* The third crosses the threshold: boxed, and this one dropped. */
	assert_int_equal(send_str(&s, "RCPT TO:<nobody16@lab.example>\r\n"), 1);
	assert_true(banned(addr, &ban));
	/* Its retransmissions: dropped again, evidence once. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(send_str(&s, "RCPT TO:<nobody16@lab.example>\r\n"), 1);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 3);
	assert_int_equal(DELTA(a, b, MXG_RCPT_PENALIZED), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_DROPPED), 6);

	assert_int_equal(send_str(&s, "RCPT TO:<nobody16@lab.example>\r\n"
				      "RCPT TO:<alice@lab.example>\r\n"), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<x@foreign.example>\r\n"), 0);
	assert_int_equal(send_str(&s, "EHLO x\r\nNOOP\r\n"), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody17@lab.example>\r\n"), 1);
}

/* Retransmissions are not counted twice; a gap ends the following; a
 * session without a SYN is never read; NUL bytes and garbage pass. */
static void test_stream_edges(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s, late;
	const char nul_line[] = "RCPT TO:<nob\0dy@lab.example>\r\n";

	counts(&b);
	open_session(&s, "198.18.20.13", 25);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody16@lab.example>\r\n"), 0);
	s.seq -= 32;	/* the same segment again */
	assert_int_equal(send_str(&s, "RCPT TO:<nobody16@lab.example>\r\n"), 0);
	assert_int_equal(send_raw(&s, nul_line, sizeof(nul_line) - 1), 0);
	assert_int_equal(send_raw(&s, "\xff\xfe\x00\x01garbage\r\n", 13), 0);
	s.seq += 100;	/* a gap */
	assert_int_equal(send_str(&s, "RCPT TO:<nobody17@lab.example>\r\n"), 0);

	late.saddr = "198.18.20.14";
	late.dport = 25;
	late.seq = 5000;
	assert_int_equal(send_str(&late, "RCPT TO:<nobody18@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_INVALID), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_LOST), 1);
}

/* Many recipients in one segment (as much as BPF_PROG_TEST_RUN takes in
 * one skb), and a 64 KiB line over many segments: every recipient is
 * counted once, and the line is skipped without losing the session. */
static void test_many_and_huge(void **state)
{
	char *seg = malloc(3600), *line = malloc(2048);
	struct mxg_rcpt_stats b, a;
	struct session s;
	int n = 0, len = 0;

	assert_non_null(seg);
	assert_non_null(line);
	set_inspect(MXG_INSPECT_OBSERVE, 3);
	while (len < 3500) {
		len += snprintf(seg + len, 3600 - len, "RCPT TO:<r%d@lab.example>\r\n", n);
		n++;
	}
	counts(&b);
	open_session(&s, "198.18.20.16", 25);
	assert_int_equal(send_raw(&s, seg, len), 0);
	memset(line, 'z', 2048);
	for (int i = 0; i < 32; i++)	/* 64 KiB without a newline */
		assert_int_equal(send_raw(&s, line, 2048), 0);
	assert_int_equal(send_str(&s, "\r\nRCPT TO:<bob@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), n);
	assert_int_equal(DELTA(a, b, MXG_RCPT_KNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_LOST), 0);
	free(seg);
	free(line);
}

/* The reader's work per flow is bounded: a client streaming junk lines
 * (3,000 empty lines a segment) is followed within the budget of 8,192
 * lines, then no longer (lost, over_budget); its next RCPT is not read. */
static void test_line_budget(void **state)
{
	static char junk[3000];
	struct mxg_rcpt_stats b, a;
	struct session s;

	memset(junk, '\n', sizeof(junk));
	set_inspect(MXG_INSPECT_OBSERVE, 1000);
	counts(&b);
	open_session(&s, "198.18.20.17", 25);
	assert_int_equal(send_raw(&s, junk, sizeof(junk)), 0);
	assert_int_equal(send_raw(&s, junk, sizeof(junk)), 0);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody50@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);	/* inside */
	assert_int_equal(DELTA(a, b, MXG_RCPT_OVER_BUDGET), 0);
	assert_int_equal(send_raw(&s, junk, sizeof(junk)), 0);	/* past it */
	assert_int_equal(send_str(&s, "RCPT TO:<nobody51@lab.example>\r\n"), 0);
	counts(&a);
	assert_int_equal(DELTA(a, b, MXG_RCPT_UNKNOWN), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_OVER_BUDGET), 1);
	assert_int_equal(DELTA(a, b, MXG_RCPT_LOST), 1);
}

/* A port not in the SMTP class is not read at all. */
static void test_other_ports(void **state)
{
	struct mxg_rcpt_stats b, a;
	struct session s;

	counts(&b);
	open_session(&s, "198.18.20.15", 389);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody19@lab.example>\r\n"), 0);
	open_session(&s, "198.18.20.15", 2525);
	assert_int_equal(send_str(&s, "RCPT TO:<nobody19@lab.example>\r\n"), 0);
	counts(&a);
	for (int i = 0; i < MXG_RCPT_COUNTERS; i++)
		assert_int_equal(DELTA(a, b, i), 0);
}


/* ---- the word reader and the byte reader agree ---------------------- */

static void set_delims(const char *delims)
{
	struct mxg_mirror rec;
	uint32_t zero = 0;

	assert_int_equal(mxg_mirror_read(&env.maps, &rec), 0);
	memset(rec.recipient_delimiter, 0, sizeof(rec.recipient_delimiter));
	memcpy(rec.recipient_delimiter, delims, strlen(delims));
	assert_int_equal(bpf_map_update_elem(env.maps.mirror, &zero, &rec, BPF_ANY), 0);
}

/* What the reader must count for "RCPT TO:" arg, by the userspace
 * normaliser: the argument (the line up to its LF, so with its CR) cut as
 * the reader cuts it (blanks, then up to '>' after a '<', or up to a
 * blank), then known, unknown or foreign; a quoted local part or a source
 * route is never judged (the MTA unquotes or strips it, the reader not). */
static int expected(const char *arg, size_t n, const char *delims)
{
	char norm[MXG_RCPT_BUF], d[MXG_DELIM_MAX] = { 0 };
	size_t i = 0, start, end;
	bool bracket;
	uint64_t h, v;
	uint32_t at;
	int len;

	memcpy(d, delims, strlen(delims));
	while (i < n && (arg[i] == ' ' || arg[i] == '\t' || arg[i] == '\r'))
		i++;
	if (i == n)
		return MXG_RCPT_INVALID;
	bracket = arg[i] == '<';
	start = i + bracket;
	for (end = start; end < n; end++)
		if (bracket ? arg[end] == '>' :
			      arg[end] == ' ' || arg[end] == '\t' || arg[end] == '\r')
			break;
	/* The brackets are off already: normalise the bytes as they are. */
	if (end - start > MXG_RCPT_MAX)
		return MXG_RCPT_INVALID;
	{
		char buf[MXG_RCPT_MAX + 1];
		struct mxg_rcpt_norm st;

		memcpy(buf, arg + start, end - start);
		memset(norm, 0, sizeof(norm));
		mxg_norm_init(&st, d);
		for (i = 0; i < end - start; i++)
			mxg_norm_step(&st, norm, (uint8_t)buf[i]);
		len = mxg_norm_finish(&st, norm, &at);
	}
	if (len <= 0 || norm[0] == '"' || norm[0] == '@')
		return MXG_RCPT_INVALID;
	h = mxg_rcpt_key(&env.key, norm, len);
	if (!bpf_map_lookup_elem(env.inner, &h, &v))
		return MXG_RCPT_KNOWN;
	if (len - at - 1 == strlen("lab.example") &&
	    !memcmp(norm + at + 1, "lab.example", len - at - 1))
		return MXG_RCPT_UNKNOWN;
	return MXG_RCPT_FOREIGN;
}

/* Which recipient counter one RCPT line moved, the line sent in the
 * pieces given (0: whole). */
static int judged(const char *line, size_t n, size_t piece)
{
	static const int kinds[] = { MXG_RCPT_KNOWN, MXG_RCPT_UNKNOWN,
				     MXG_RCPT_FOREIGN, MXG_RCPT_INVALID };
	struct mxg_rcpt_stats delta;
	int which = -1;

	session_counts(line, n, piece, &delta);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		uint64_t d = delta.count[kinds[i]];

		assert_true(d <= 1);
		if (d) {
			assert_int_equal(which, -1);
			which = kinds[i];
		}
	}
	assert_int_not_equal(which, -1);
	return which;
}

static void check_arg(const char *arg, size_t n, const char *delims)
{
	char line[600];
	int want, whole, bytes, halves;
	size_t len;

	assert_true(n + 10 < sizeof(line));
	memcpy(line, "RCPT TO:", 8);
	memcpy(line + 8, arg, n);
	memcpy(line + 8 + n, "\r\n", 2);
	len = n + 10;
	want = expected(line + 8, n + 1, delims);
	whole = judged(line, len, 0);	/* the word reader */
	bytes = judged(line, len, 1);	/* the byte reader */
	halves = judged(line, len, len / 2 + 1);
	if (whole != want || bytes != want || halves != want)
		fail_msg("RCPT TO:%.*s (delimiters \"%s\"): expected %d, whole %d, "
			 "bytes %d, halves %d", (int)n, arg, delims, want, whole,
			 bytes, halves);
}

/* Every shape of address, with each kind of delimiter set: one delimiter,
 * two, none, and more than two (the word reader hands those lines to the
 * byte reader). The '@', the delimiters and the case changes land on
 * every position of an 8-byte word. */
static void test_word_and_byte_readers_agree(void **state)
{
	static const char *const delim_sets[] = { "+", "+-", "", "+-=_" };
	static const char *const args[] = {
		"<alice@lab.example>", "<ALICE@LAB.EXAMPLE>", "alice@lab.example",
		" <alice@lab.example>", "  alice@lab.example NOTIFY=NEVER",
		"\r<alice@lab.example>", "<bob+x@lab.example>", "<bob-x@lab.example>",
		"<bob+x-y@lab.example.>", "<+bob@lab.example>", "<-bob+x@lab.example>",
		"<\"bob+x\"@lab.example>", "<a@b@lab.example>", "<carol@lab@example>",
		"<alice@lab.example.>", "<alice@lab.example..>", "<alice@>",
		"<alice@.>", "<@lab.example>", "<>", "<alice@lab.example",
		"<alice\x01@lab.example>", "<ali\x7f" "ce@lab.example>",
		"<nobody@lab.example>", "<x@foreign.example>", "<x@FOREIGN.example.>",
		"<Carol@Lab.Example> ORCPT=rfc822;carol@lab.example",
		"<\xc3\xa9@lab.example>", "<alice@lab.example>x", "<a\r@lab.example>",
		"alice@lab.example\rx", "<<alice@lab.example>>", "<alice@lab.example >",
		"<Bob+@lab.example>", "<bob++@lab.example>", "<b+@lab.example>",
		"   ", "", "<", ">", "@", "<@>", "<a@b>",
		/* Forms the MTA reads as a known recipient once unquoted or
		 * with the source route stripped: never judged unknown. */
		"<\"alice\"@lab.example>", "<@r.example:alice@lab.example>",
		"<@r1.example,@r2.example:alice@lab.example>",
		"\t<alice@lab.example>", "\talice@lab.example\tNOTIFY=NEVER",
	};
	char arg[300];

	set_inspect(MXG_INSPECT_OBSERVE, 1000);
	for (size_t d = 0; d < ARRAY_SIZE(delim_sets); d++) {
		set_delims(delim_sets[d]);
		for (size_t i = 0; i < ARRAY_SIZE(args); i++)
			check_arg(args[i], strlen(args[i]), delim_sets[d]);
		/* The local part's length moves '@' and the delimiter over
		 * every byte of a word; an upper-case letter rides along. */
		for (int k = 1; k <= 20; k++) {
			int n = snprintf(arg, sizeof(arg), "<%.*s%s@lab.example>", k,
					 "bobBbbbbbbbbbbbbbbbbbbb", k % 3 ? "+t" : "");

			check_arg(arg, n, delim_sets[d]);
		}
		/* 254 bytes is the longest address, 255 is refused. */
		for (int k = 253; k <= 256; k++) {
			memset(arg, 'a', sizeof(arg));
			arg[0] = '<';
			memcpy(arg + k - 11, "@lab.example", 12);
			arg[k + 1] = '>';
			check_arg(arg, k + 2, delim_sets[d]);
		}
	}
	set_delims("+");
}

/* Random arguments over the bytes that matter to the reader: both
 * readers agree with the userspace normaliser on every one. A fixed seed:
 * a failure names its argument and comes again. */
static void test_readers_agree_on_random_input(void **state)
{
	static const char alphabet[] = "aAzZ@@@+-.\"<> \r\x01\x7f\xc3lab.example";
	unsigned int seed = 20261128;
	char arg[64];

	set_inspect(MXG_INSPECT_OBSERVE, 1000);
	for (int round = 0; round < 400; round++) {
		int n = rand_r(&seed) % 48;

		for (int i = 0; i < n; i++)
			arg[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		/* Half of them shaped like an address in a local domain. */
		if (round % 2 && n < 36) {
			memcpy(arg + n, "@lab.example>", 13);
			n += 13;
		}
		check_arg(arg, n, round % 3 ? "+" : "+-");
	}
}

/* MAIL FROM:<>, the bounce's null sender, however it is spaced: the word
 * reader and the byte reader count the same. */
static void test_null_sender_shapes(void **state)
{
	static const struct {
		const char *arg;
		int null;
	} cases[] = {
		{ "<>", 1 }, { " <>", 1 }, { "<> SIZE=10 BODY=8BITMIME", 1 },
		{ "       <>", 1 }, { "         <>", 1 }, { "\r<>", 1 }, { "<>>", 1 },
		{ "<x@lab.example>", 0 }, { "<", 0 }, { "", 0 }, { " ", 0 },
		{ "<\r>", 0 }, { "x<>", 0 }, { "< >", 0 },
	};
	char line[64];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int n = snprintf(line, sizeof(line), "MAIL FROM:%s\r\n", cases[i].arg);

		for (size_t piece = 0; piece <= 1; piece++) {
			struct mxg_rcpt_stats d;

			session_counts(line, n, piece, &d);
			if ((int)d.count[MXG_RCPT_NULL_SENDER] != cases[i].null)
				fail_msg("MAIL FROM:%s sent %s: null sender %d, expected %d",
					 cases[i].arg, piece ? "byte by byte" : "whole",
					 (int)d.count[MXG_RCPT_NULL_SENDER], cases[i].null);
		}
	}
}

/* Every command the reader follows, and near misses, then a RCPT to an
 * unknown recipient: read whole (the word reader) and byte by byte (the
 * byte reader), the same counts. Whether the RCPT counts says what the
 * line did: DATA and STARTTLS end the reading, BDAT skips its chunk. */
static void test_commands_agree(void **state)
{
	static const struct {
		const char *line;
		int unknown;	/* the RCPT after it counted */
	} cases[] = {
		{ "DATA\r\n", 0 }, { "DATA \r\n", 0 }, { "data\r\n", 0 },
		{ "DATA\r \r\n", 0 }, { "DATA\n", 0 }, { "DATAX\r\n", 1 },
		{ "DATA x\r\n", 1 }, { "DAT\r\n", 1 }, { "D\r\n", 1 },
		{ "BDAT 5\r\n12345", 1 }, { "BDAT 5 LAST\r\n12345", 1 },
		{ "bdat 7\r\nRCPT TO", 1 }, { "BDAT 0\r\n", 1 }, { "BDAT\r\n", 1 },
		{ "BDAT x\r\n", 1 }, { "BDAT  7\r\nRCPT TO", 1 },
		{ "BDAT\t7\r\nRCPT TO", 1 }, { "BDAT \t 7 LAST\r\nRCPT TO", 1 },
		{ "BDAT 00000000005\r\n12345", 1 },
		/* Chunks larger than the reader counts still come (Postfix
		 * reads 2^31 bytes): the flow is no longer followed. */
		{ "BDAT 99999999999\r\n", 0 }, { "BDAT 2147483648\r\n", 0 },
		{ "BDAT 2147483647\r\n", 0 },
		/* Blanks Postfix skips: DATA after them is DATA. Leading
		 * blanks stop the following altogether. */
		{ "DATA\t\r\n", 0 }, { " DATA\r\n", 0 }, { "\tDATA\r\n", 0 },
		{ " BDAT 7\r\nRCPT TO", 0 }, { " NOOP\r\n", 0 },
		{ "STARTTLS\t\r\n", 0 }, { "RCPT\tTO:\t<nobody41@lab.example>\r\n", 2 },
		{ "B\r\n", 1 }, { "STARTTLS\r\n", 0 }, { "starttls  \r\n", 0 },
		{ "STARTTLSX\r\n", 1 }, { "STARTTLS now\r\n", 1 }, { "S\r\n", 1 },
		{ "MAIL FROM:          <>\r\n", 1 }, { "NOOP\r\n", 1 },
	};
	static const char rcpt[] = "RCPT TO:<nobody40@lab.example>\r\n";
	char seg[128];

	set_inspect(MXG_INSPECT_OBSERVE, 1000);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int n = snprintf(seg, sizeof(seg), "%s%s", cases[i].line, rcpt);
		uint64_t got[2][3];

		for (size_t piece = 0; piece <= 1; piece++) {
			struct mxg_rcpt_stats d;

			session_counts(seg, n, piece, &d);
			got[piece][0] = d.count[MXG_RCPT_UNKNOWN];
			got[piece][1] = d.count[MXG_RCPT_UNINSPECTABLE];
			got[piece][2] = d.count[MXG_RCPT_NULL_SENDER];
		}
		if (memcmp(got[0], got[1], sizeof(got[0])) ||
		    got[0][0] != (uint64_t)cases[i].unknown)
			fail_msg("%.*s: whole unknown %d uninspectable %d null %d, "
				 "bytes %d %d %d, expected unknown %d",
				 (int)strcspn(cases[i].line, "\r\n"), cases[i].line,
				 (int)got[0][0], (int)got[0][1], (int)got[0][2],
				 (int)got[1][0], (int)got[1][1], (int)got[1][2],
				 cases[i].unknown);
	}
}

/* ---- the differential test ---------------------------------------- */

/*
 * Random sessions, their expected counts known by construction: what
 * Postfix takes as a command is counted by what it names, what it takes
 * as message data (a DATA body, a BDAT chunk) never is, and where the
 * reader cannot be sure (leading blanks, a BDAT chunk of 2^31 bytes or
 * more) the session stops being followed. Each session is sent split at
 * random points, with random retransmissions and overlaps, and must count
 * exactly what was built. MXG_FUZZ_SESSIONS (default 1500) and
 * MXG_FUZZ_SEED (default 1) set the run, MXG_FUZZ_RNG replays a failed
 * session from the state its message shows; `make fuzz` runs many more.
 */
struct fuzz {
	uint64_t rng;
	char buf[12288];
	size_t len;
	size_t cuts[64];	/* offsets after which a segment must end */
	int ncuts;
	bool lost, tls;		/* the reader stops following here */
	uint64_t want[MXG_RCPT_COUNTERS];
};

static uint32_t fz_rand(struct fuzz *f, uint32_t n)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return (uint32_t)(f->rng >> 32) % n;
}

static const char *fz_pick(struct fuzz *f, const char *const *v, size_t n)
{
	return v[fz_rand(f, n)];
}

#define FZ_PICK(f, v) fz_pick(f, v, ARRAY_SIZE(v))

static void fz_put(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(f->buf + f->len, sizeof(f->buf) - f->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(f->buf) - f->len);
	f->len += n;
}

/* Counted only while the reader still follows the session. */
static void fz_count(struct fuzz *f, int what)
{
	if (!f->lost && !f->tls)
		f->want[what]++;
}

static void fz_cut(struct fuzz *f)
{
	if (f->ncuts < (int)ARRAY_SIZE(f->cuts))
		f->cuts[f->ncuts++] = f->len;
}

/* Lines of message data: commands in look only. */
static void fz_data_lines(struct fuzz *f, int n)
{
	static const char *const lines[] = {
		"RCPT TO:<nobody@lab.example>", "rcpt to:<x@foreign.example>",
		"MAIL FROM:<>", "DATA", "BDAT 10", "STARTTLS", "..leading dot",
		"Subject: delivery failure", "", "   indented", "\tRCPT TO:<a@lab.example>",
	};

	for (int i = 0; i < n; i++)
		fz_put(f, "%s\r\n", FZ_PICK(f, lines));
}

static void fz_rcpt(struct fuzz *f)
{
	static const char *const verbs[] = {
		"RCPT TO:", "rcpt to:", "Rcpt To: ", "RCPT TO:\t", "RCPT\tTO:",
	};
	static const char *const known_forms[] = {
		"alice@lab.example", "ALICE@LAB.EXAMPLE", "bob+tag@lab.example",
		"carol@lab.example.",
	};
	static const char *const invalid_forms[] = {
		"\"alice\"@lab.example", "@relay.example:bob@lab.example",
		"@r1.example,@r2.example:carol@lab.example", "nobody", "",
	};
	static const char *const params[] = { "", " NOTIFY=NEVER", "\tORCPT=rfc822;x@y" };
	const char *verb = FZ_PICK(f, verbs), *param = FZ_PICK(f, params);

	switch (fz_rand(f, 4)) {
	case 0:
		fz_put(f, "%s<%s>%s\r\n", verb, FZ_PICK(f, known_forms), param);
		fz_count(f, MXG_RCPT_KNOWN);
		break;
	case 1:
		fz_put(f, "%s<nobody%u@lab.example>%s\r\n", verb, fz_rand(f, 100000), param);
		fz_count(f, MXG_RCPT_UNKNOWN);
		break;
	case 2:
		fz_put(f, "%s<someone@foreign%u.example>%s\r\n", verb, fz_rand(f, 100), param);
		fz_count(f, MXG_RCPT_FOREIGN);
		break;
	default:
		fz_put(f, "%s<%s>%s\r\n", verb, FZ_PICK(f, invalid_forms), param);
		fz_count(f, MXG_RCPT_INVALID);
		break;
	}
}

static void fz_session(struct fuzz *f)
{
	static const char *const plain[] = {
		"EHLO client.example", "HELO x", "NOOP", "RSET", "VRFY bob",
		"MAIL FROM:<sender@real.example> SIZE=100", "mail from:<a@b.example>",
	};
	static const char *const nulls[] = {
		"MAIL FROM:<>", "mail from: <>", "MAIL FROM:\t<> SIZE=10",
	};
	static const char *const datas[] = { "DATA", "data", "DATA ", "DATA\t" };
	static const char *const bdats[] = { "BDAT %u", "bdat %u LAST", "BDAT  %u", "BDAT\t%u" };
	int pieces = 2 + fz_rand(f, 24);

	memset(f->want, 0, sizeof(f->want));
	f->len = 0;
	f->ncuts = 0;
	f->lost = f->tls = false;
	for (int p = 0; p < pieces; p++) {
		uint32_t r = fz_rand(f, 100), n;

		if (r < 40) {
			fz_rcpt(f);
		} else if (r < 55) {
			fz_put(f, "%s\r\n", FZ_PICK(f, plain));
		} else if (r < 62) {
			fz_put(f, "%s\r\n", FZ_PICK(f, nulls));
			fz_count(f, MXG_RCPT_NULL_SENDER);
		} else if (r < 74) {
			/* A client waits for 354 after DATA and for the reply
			 * after the dot: both end a segment. */
			fz_put(f, "%s\r\n", FZ_PICK(f, datas));
			fz_cut(f);
			fz_data_lines(f, fz_rand(f, 12));
			fz_put(f, ".\r\n");
			fz_cut(f);
		} else if (r < 86) {
			size_t start;

			n = fz_rand(f, 300);
			fz_put(f, FZ_PICK(f, bdats), n);
			fz_put(f, "\r\n");
			start = f->len;
			while (f->len - start < n)
				fz_data_lines(f, 1);
			f->len = start + n;	/* the chunk is exactly n bytes */
		} else if (r < 92) {
			fz_put(f, "%s\r\n", fz_rand(f, 2) ? " DATA" : "\tNOOP");
			fz_count(f, MXG_RCPT_LOST);
			f->lost = true;
		} else if (r < 96) {
			fz_put(f, "BDAT %u\r\n", 2147483648u + fz_rand(f, 1000));
			fz_count(f, MXG_RCPT_LOST);
			f->lost = true;
		} else if (p == pieces - 1 || r >= 96) {
			fz_put(f, "STARTTLS\r\n");
			fz_count(f, MXG_RCPT_UNINSPECTABLE);
			f->tls = true;
		}
	}
}

/* Send the session in random segments, with retransmissions. */
static void fz_send(struct fuzz *f, struct session *s)
{
	uint32_t base = s->seq;
	size_t off = 0;
	int cut = 0;

	while (off < f->len) {
		size_t end = off + 1 + fz_rand(f, 1400);
		struct session r = *s;

		if (end > f->len)
			end = f->len;
		while (cut < f->ncuts && f->cuts[cut] <= off)
			cut++;
		if (cut < f->ncuts && f->cuts[cut] < end)
			end = f->cuts[cut];
		assert_int_equal(send_raw(s, f->buf + off, end - off), 0);
		/* A retransmission of it, or of a range that overlaps it. */
		switch (fz_rand(f, 10)) {
		case 0:
			r.seq = base + off;
			assert_int_equal(send_raw(&r, f->buf + off, end - off), 0);
			break;
		case 1: {
			size_t from = off - fz_rand(f, off + 1) / 2;
			size_t to = end + fz_rand(f, 40);

			/* Never past a cut: what comes after it is sent only
			 * once the server replied, which acks all before. */
			if (to > f->len)
				to = f->len;
			if (cut < f->ncuts && f->cuts[cut] >= end && to > f->cuts[cut])
				to = f->cuts[cut];
			r.seq = base + from;
			assert_int_equal(send_raw(&r, f->buf + from, to - from), 0);
			s->seq = base + to;
			end = to;
			break;
		}
		}
		off = end;
	}
}

static void test_differential(void **state)
{
	static const int kinds[] = {
		MXG_RCPT_KNOWN, MXG_RCPT_UNKNOWN, MXG_RCPT_FOREIGN,
		MXG_RCPT_INVALID, MXG_RCPT_NULL_SENDER, MXG_RCPT_LOST,
		MXG_RCPT_UNINSPECTABLE, MXG_RCPT_NOT_JUDGED,
	};
	const char *env_n = getenv("MXG_FUZZ_SESSIONS"), *env_seed = getenv("MXG_FUZZ_SEED");
	const char *env_rng = getenv("MXG_FUZZ_RNG");	/* a failure's, to replay it */
	long sessions = env_n ? strtol(env_n, NULL, 10) : 1500;
	struct fuzz *f = calloc(1, sizeof(*f));
	struct mxg_rcpt_stats b, a;
	struct session s;

	assert_non_null(f);
	f->rng = (env_seed ? strtoull(env_seed, NULL, 10) : 1) * 0x9E3779B97F4A7C15ULL | 1;
	if (env_rng)
		f->rng = strtoull(env_rng, NULL, 0);
	set_inspect(MXG_INSPECT_OBSERVE, 1000000);
	for (long i = 0; i < sessions; i++) {
		uint64_t rng = f->rng;

		fz_session(f);
		counts(&b);
		env.sport++;
		open_session(&s, "198.18.22.1", 25);
		fz_send(f, &s);
		counts(&a);
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
			uint64_t got = DELTA(a, b, kinds[k]);

			if (got != f->want[kinds[k]])
				fail_msg("session %ld (rng %#llx): counter %d: %llu, want %llu; the session:\n%.*s",
					 i, (unsigned long long)rng, kinds[k],
					 (unsigned long long)got,
					 (unsigned long long)f->want[kinds[k]],
					 (int)f->len, f->buf);
		}
	}
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_pipelined, reset),
		cmocka_unit_test_setup(test_syntax_variants, reset),
		cmocka_unit_test_setup(test_data_body_not_read, reset),
		cmocka_unit_test_setup(test_empty_body, reset),
		cmocka_unit_test_setup(test_split_commands, reset),
		cmocka_unit_test_setup(test_long_lines, reset),
		cmocka_unit_test_setup(test_bdat, reset),
		cmocka_unit_test_setup(test_tls, reset),
		cmocka_unit_test_setup(test_forged_segments, reset),
		cmocka_unit_test_setup(test_penalty, reset),
		cmocka_unit_test_setup(test_not_ready, reset),
		cmocka_unit_test_setup(test_drop, reset),
		cmocka_unit_test_setup(test_stream_edges, reset),
		cmocka_unit_test_setup(test_many_and_huge, reset),
		cmocka_unit_test_setup(test_line_budget, reset),
		cmocka_unit_test_setup(test_other_ports, reset),
		cmocka_unit_test_setup(test_word_and_byte_readers_agree, reset),
		cmocka_unit_test_setup(test_readers_agree_on_random_input, reset),
		cmocka_unit_test_setup(test_null_sender_shapes, reset),
		cmocka_unit_test_setup(test_commands_agree, reset),
		cmocka_unit_test_setup(test_differential, reset),
	};

	/* make fuzz runs the differential test alone. */
	if (getenv("MXG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MXG_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}

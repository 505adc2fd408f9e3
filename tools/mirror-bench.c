/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mirror-bench: the measuring half of tools/mirror-bench.sh (`make bench`),
 * in C so that what is timed is the mirror and the directory, not process
 * start-up. The script sets up slapd and mxguardd; this program only reads
 * the pinned maps and talks LDAP:
 *
 *   wait PIN_DIR ENTRIES TIMEOUT_S T0_US
 *	poll the readiness record until the mirror is ready with ENTRIES
 *	addresses; print seconds since T0_US (CLOCK_REALTIME, microseconds:
 *	the script's $EPOCHREALTIME just before it started mxguardd).
 *   mem PIN_DIR
 *	the live inner map's kernel memory (fdinfo memlock) and size.
 *   lookups PIN_DIR URI BIND_DN PW_FILE BASE DOMAIN USERS MS
 *	mxg_rcpt_check() per second, then LDAP equality searches per second
 *	on one connection, each for MS ms, on the same mix of known and
 *	unknown addresses; every answer is checked against what it should be.
 *   latency PIN_DIR URI BIND_DN PW_FILE BASE DOMAIN USERS CHANGES
 *	CHANGES times: change one entry's mail with an LDAP modify, then time
 *	from the modify's response (and, beside it, from its request) to
 *	mxg_rcpt_check() answering the new address known.
 *
 * Output is `key=value` lines for the script; figures are never asserted.
 * The directory layout is the script's: uid=userK,ou=... with
 * mail userK@DOMAIN, and aliasK@DOMAIN in mailLocalAddress for odd K.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ldap.h>
#include <bpf/bpf.h>
#include "maps.h"
#include "parse.h"
#include "recipients.h"
#include "rcpt.h"

#define WAIT_POLL_NS 10000000ULL	/* 10 ms: well below the figure's scale */
/* Between two checks of a change. Not a pure spin: on two cores the
 * poller would take a CPU from slapd or mxguardd, the two processes whose
 * delay is being measured. 50 us is far below the 1 s target. */
#define CHANGE_POLL_NS 50000ULL
#define CHANGE_MAX_NS (5ULL * 1000000000ULL)	/* a lost change: give up */
#define MIX_SIZE 65536		/* addresses in the lookup mix */
#define ADDR_LEN 96

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void nap_ns(uint64_t ns)
{
	struct timespec ts = { ns / 1000000000ULL, ns % 1000000000ULL };

	nanosleep(&ts, NULL);
}

/* xorshift64*: the same mix on every run, and no libc lock per number. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static int open_maps(const char *pin_dir, struct mxg_maps *m)
{
	char err[256];
	int ret = mxg_maps_open(pin_dir, m, err, sizeof(err));

	if (ret)
		fprintf(stderr, "mirror-bench: %s\n", err);
	return ret;
}

/* ---- wait ------------------------------------------------------------- */

static int cmd_wait(char **argv)
{
	uint64_t want, timeout_s, t0_us, start = now_ns(CLOCK_MONOTONIC);
	uint64_t maps_at = 0, deadline;
	struct mxg_maps m = MXG_MAPS_INIT;
	struct mxg_mirror rec = { 0 };
	char err[256];

	if (mxg_parse_u64(argv[1], 1, UINT32_MAX, &want) ||
	    mxg_parse_u64(argv[2], 1, 3600, &timeout_s) ||
	    mxg_parse_u64(argv[3], 1, UINT64_MAX, &t0_us)) {
		fprintf(stderr, "mirror-bench: wait PIN_DIR ENTRIES TIMEOUT_S T0_US\n");
		return 2;
	}
	deadline = start + timeout_s * 1000000000ULL;
	/* The pins appear once mxguardd has loaded its programs. */
	while (mxg_maps_open(argv[0], &m, err, sizeof(err))) {
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			fprintf(stderr, "mirror-bench: no maps pinned: %s\n", err);
			return 1;
		}
		nap_ns(WAIT_POLL_NS);
	}
	maps_at = now_ns(CLOCK_REALTIME) / 1000;
	for (;;) {
		if (!mxg_mirror_read(&m, &rec) && rec.entries == want &&
		    mxg_mirror_ready(&rec, now_ns(CLOCK_MONOTONIC)))
			break;
		if (now_ns(CLOCK_MONOTONIC) > deadline) {
			fprintf(stderr, "mirror-bench: not ready with %llu entries after %llu s (entries %llu, generation %llu, connected %u)\n",
				(unsigned long long)want, (unsigned long long)timeout_s,
				(unsigned long long)rec.entries,
				(unsigned long long)rec.generation, rec.connected);
			mxg_maps_close(&m);
			return 1;
		}
		nap_ns(WAIT_POLL_NS);
	}
	printf("maps_s=%.3f\n", (maps_at - t0_us) / 1e6);
	printf("ready_s=%.3f\n", (now_ns(CLOCK_REALTIME) / 1000 - t0_us) / 1e6);
	printf("entries=%llu\n", (unsigned long long)rec.entries);
	printf("generation=%llu\n", (unsigned long long)rec.generation);
	mxg_maps_close(&m);
	return 0;
}

/* ---- mem -------------------------------------------------------------- */

static int cmd_mem(char **argv)
{
	struct mxg_maps m = MXG_MAPS_INIT;
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	unsigned long long memlock = 0;
	struct mxg_mirror rec;
	char path[64], line[256];
	FILE *f;
	int fd;

	if (open_maps(argv[0], &m))
		return 1;
	fd = mxg_rcpt_inner_fd(&(struct mxg_rcpt_reader){ &m, argv[0] });
	if (fd < 0 || mxg_mirror_read(&m, &rec) ||
	    bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "mirror-bench: no live inner map\n");
		mxg_maps_close(&m);
		return 1;
	}
	/* The kernel's own account of the map (htab_map_mem_usage), the
	 * figure bpftool shows as "memlock". */
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &memlock) == 1)
			break;
	if (f)
		fclose(f);
	printf("memlock=%llu\n", memlock);
	printf("max_entries=%u\n", info.max_entries);
	printf("map_flags=0x%x\n", info.map_flags);
	printf("entries=%llu\n", (unsigned long long)rec.entries);
	printf("bytes_per_entry=%.1f\n",
	       rec.entries ? (double)memlock / rec.entries : 0.0);
	close(fd);
	mxg_maps_close(&m);
	return memlock ? 0 : 1;
}

/* ---- LDAP ------------------------------------------------------------- */

struct dir {
	const char *uri, *bind_dn, *pw_file, *base, *domain;
	uint32_t users;
};

static int parse_dir(char **argv, struct dir *d)
{
	d->uri = argv[1];
	d->bind_dn = argv[2];
	d->pw_file = argv[3];
	d->base = argv[4];
	d->domain = argv[5];
	return mxg_parse_u32(argv[6], 1, UINT32_MAX / 4, &d->users);
}

static int ldap_open(const struct dir *d, LDAP **out)
{
	int version = LDAP_VERSION3, rc, fd;
	struct berval pw;
	char buf[256];
	ssize_t n;
	LDAP *ld;

	fd = open(d->pw_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mirror-bench: cannot read %s: %s\n", d->pw_file,
			strerror(errno));
		return -errno;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	pw.bv_val = buf;
	pw.bv_len = n;

	rc = ldap_initialize(&ld, d->uri);
	if (rc != LDAP_SUCCESS) {
		fprintf(stderr, "mirror-bench: %s: %s\n", d->uri, ldap_err2string(rc));
		return -EINVAL;
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	rc = ldap_sasl_bind_s(ld, d->bind_dn, LDAP_SASL_SIMPLE, &pw, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		fprintf(stderr, "mirror-bench: bind to %s: %s\n", d->uri,
			ldap_err2string(rc));
		ldap_unbind_ext_s(ld, NULL, NULL);
		return -EIO;
	}
	*out = ld;
	return 0;
}

/* ---- lookups ---------------------------------------------------------- */

struct probe {
	char addr[ADDR_LEN];
	bool known;
};

/*
 * Half known (a user's mail, or an alias), half unknown: the 2013 traffic
 * was mostly unknown recipients, and an unknown answer is the one an LDAP
 * index cannot shortcut.
 */
static void make_mix(const struct dir *d, struct probe *mix)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	for (uint32_t i = 0; i < MIX_SIZE; i++) {
		uint32_t k = rnd(&s) % d->users + 1;

		switch (rnd(&s) % 4) {
		case 0:
		case 1:
			snprintf(mix[i].addr, ADDR_LEN, "user%u@%s", k, d->domain);
			mix[i].known = true;
			break;
		case 2:
			/* Only odd users have an alias. */
			k |= 1;
			if (k > d->users)
				k = 1;
			snprintf(mix[i].addr, ADDR_LEN, "alias%u@%s", k, d->domain);
			mix[i].known = true;
			break;
		default:
			snprintf(mix[i].addr, ADDR_LEN, "nobody%u@%s", k, d->domain);
			mix[i].known = false;
			break;
		}
		/* Half of each kind with a capital: both sides must fold case. */
		if (rnd(&s) & 1)
			mix[i].addr[0] = toupper((unsigned char)mix[i].addr[0]);
	}
}

static double lookups_mirror(const struct mxg_rcpt_reader *m, const struct probe *mix,
			     uint64_t ms, uint64_t *wrong)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC), end = start + ms * 1000000ULL;
	uint64_t n = 0, t;
	struct mxg_rcpt_answer ans;
	const char *why;

	*wrong = 0;
	do {
		/* The clock every 64 lookups: cheap next to the lookups. */
		for (int i = 0; i < 64; i++, n++) {
			const struct probe *p = &mix[n % MIX_SIZE];

			if (mxg_rcpt_check(m, p->addr, &ans, &why) ||
			    ans.known != p->known || !ans.ready)
				(*wrong)++;
		}
		t = now_ns(CLOCK_MONOTONIC);
	} while (t < end);
	return n / ((t - start) / 1e9);
}

static double lookups_ldap(LDAP *ld, const struct dir *d, const struct probe *mix,
			   uint64_t ms, uint64_t *wrong)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC), end = start + ms * 1000000ULL;
	uint64_t n = 0, t;
	char *attrs[] = { "mail", NULL };
	char filter[2 * ADDR_LEN + 64];

	*wrong = 0;
	do {
		const struct probe *p = &mix[n % MIX_SIZE];
		LDAPMessage *res = NULL;
		int rc;

		/* What an MTA's ldap table asks (Postfix: query_filter with
		 * %s); the mix holds no filter metacharacters to escape. */
		snprintf(filter, sizeof(filter), "(|(mail=%s)(mailLocalAddress=%s))",
			 p->addr, p->addr);
		rc = ldap_search_ext_s(ld, d->base, LDAP_SCOPE_SUBTREE, filter, attrs,
				       0, NULL, NULL, NULL, 2, &res);
		if (rc != LDAP_SUCCESS || (ldap_count_entries(ld, res) == 1) != p->known)
			(*wrong)++;
		ldap_msgfree(res);
		n++;
		t = now_ns(CLOCK_MONOTONIC);
	} while (t < end);
	return n / ((t - start) / 1e9);
}

static int cmd_lookups(char **argv)
{
	struct mxg_maps m = MXG_MAPS_INIT;
	uint64_t ms, wrong_m, wrong_l;
	struct probe *mix;
	double mirror, dir;
	struct dir d;
	LDAP *ld;

	if (parse_dir(argv, &d) || mxg_parse_u64(argv[7], 1, 600000, &ms)) {
		fprintf(stderr, "mirror-bench: lookups PIN_DIR URI BIND_DN PW_FILE BASE DOMAIN USERS MS\n");
		return 2;
	}
	mix = calloc(MIX_SIZE, sizeof(*mix));
	if (!mix || open_maps(argv[0], &m))
		return 1;
	make_mix(&d, mix);
	if (ldap_open(&d, &ld)) {
		mxg_maps_close(&m);
		return 1;
	}
	mirror = lookups_mirror(&(struct mxg_rcpt_reader){ &m, argv[0] }, mix, ms, &wrong_m);
	dir = lookups_ldap(ld, &d, mix, ms, &wrong_l);
	printf("mirror_per_s=%.0f\n", mirror);
	printf("mirror_wrong=%llu\n", (unsigned long long)wrong_m);
	printf("ldap_per_s=%.0f\n", dir);
	printf("ldap_wrong=%llu\n", (unsigned long long)wrong_l);
	ldap_unbind_ext_s(ld, NULL, NULL);
	mxg_maps_close(&m);
	free(mix);
	return 0;
}

/* ---- latency ---------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int change_one(LDAP *ld, const struct dir *d, uint32_t k,
		      const char *addr)
{
	char dn[256], *vals[] = { (char *)addr, NULL };
	LDAPMod mod = { .mod_op = LDAP_MOD_REPLACE, .mod_type = "mail",
			.mod_values = vals };
	LDAPMod *mods[] = { &mod, NULL };
	int rc;

	snprintf(dn, sizeof(dn), "uid=user%u,%s", k, d->base);
	rc = ldap_modify_ext_s(ld, dn, mods, NULL, NULL);
	if (rc != LDAP_SUCCESS)
		fprintf(stderr, "mirror-bench: modify %s: %s\n", dn, ldap_err2string(rc));
	return rc == LDAP_SUCCESS ? 0 : -EIO;
}

static int cmd_latency(char **argv)
{
	struct mxg_maps m = MXG_MAPS_INIT;
	struct mxg_rcpt_answer ans;
	uint64_t s = 0x2545f4914f6cdd1dULL, *lat, *with_rtt;
	uint32_t changes, lost = 0, done = 0;
	const char *why;
	struct dir d;
	LDAP *ld;
	int ret = 1;

	if (parse_dir(argv, &d) || mxg_parse_u32(argv[7], 1, 100000, &changes)) {
		fprintf(stderr, "mirror-bench: latency PIN_DIR URI BIND_DN PW_FILE BASE DOMAIN USERS CHANGES\n");
		return 2;
	}
	lat = calloc(changes, sizeof(*lat));
	with_rtt = calloc(changes, sizeof(*with_rtt));
	if (!lat || !with_rtt || open_maps(argv[0], &m))
		return 1;
	if (ldap_open(&d, &ld))
		goto out;
	for (uint32_t i = 0; i < changes; i++) {
		char addr[ADDR_LEN];
		uint32_t k = rnd(&s) % d.users + 1;
		uint64_t sent, t0, t;

		/* A new address each time, never one the mirror holds. */
		snprintf(addr, sizeof(addr), "moved%u.user%u@%s", i, k, d.domain);
		sent = now_ns(CLOCK_MONOTONIC);
		if (change_one(ld, &d, k, addr))
			goto out;
		t0 = now_ns(CLOCK_MONOTONIC);
		for (;;) {
			bool known = !mxg_rcpt_check(&(struct mxg_rcpt_reader){ &m, argv[0] },
						     addr, &ans, &why) && ans.known;

			/* After the check: a change already applied when the
			 * modify returns costs one check, not zero. */
			t = now_ns(CLOCK_MONOTONIC);
			if (known || t - t0 > CHANGE_MAX_NS)
				break;
			nap_ns(CHANGE_POLL_NS);
		}
		if (t - t0 > CHANGE_MAX_NS) {
			lost++;
			continue;
		}
		lat[done] = t - t0;
		with_rtt[done++] = t - sent;
	}
	qsort(lat, done, sizeof(*lat), cmp_u64);
	qsort(with_rtt, done, sizeof(*with_rtt), cmp_u64);
	printf("changes=%u\n", changes);
	printf("lost=%u\n", lost);
	if (done) {
		/* Nearest rank: p99 of 100 is the 99th smallest. */
		uint32_t i50 = (done * 50 + 99) / 100, i99 = (done * 99 + 99) / 100;

		printf("p50_ms=%.3f\n", lat[i50 - 1] / 1e6);
		printf("p99_ms=%.3f\n", lat[i99 - 1] / 1e6);
		printf("max_ms=%.3f\n", lat[done - 1] / 1e6);
		/* From the modify's request instead of its response: syncprov
		 * may send the change to mxguardd before the modifier hears
		 * back, and this counts the modify's own round trip too. */
		printf("sent_p50_ms=%.3f\n", with_rtt[i50 - 1] / 1e6);
		printf("sent_p99_ms=%.3f\n", with_rtt[i99 - 1] / 1e6);
	}
	ret = lost ? 1 : 0;
	ldap_unbind_ext_s(ld, NULL, NULL);
out:
	mxg_maps_close(&m);
	free(lat);
	free(with_rtt);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int nargs;
		int (*fn)(char **argv);
	} cmds[] = {
		{ "wait", 4, cmd_wait },
		{ "mem", 1, cmd_mem },
		{ "lookups", 8, cmd_lookups },
		{ "latency", 8, cmd_latency },
	};

	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name)) {
			if (argc - 2 != cmds[i].nargs)
				break;
			return cmds[i].fn(argv + 2);
		}
	fprintf(stderr, "usage: mirror-bench wait|mem|lookups|latency ARGS (see the source's top comment)\n");
	return 2;
}

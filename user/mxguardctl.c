/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl: inspect and change mxguard's live state through the pinned
 * maps, with or without mxguardd running.
 *
 *   mxguardctl [-j] [-p] [--pin-dir DIR] OBJECT [COMMAND] [ARGS]
 *
 * Objects and commands are one table; the help is generated from it, any
 * unambiguous prefix selects an entry (bpftool-style), and every command
 * prints either text or, with -j, JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "config.h"
#include "json.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "probe.h"
#include "parse.h"
#include "rcpt.h"
#include "recipients.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define TOP_DEFAULT 20
#define BATCH 4096

struct ctl {
	const char *pin_dir;
	bool json;
	struct json out;
	struct mxg_maps maps;
};

struct command {
	const char *object;
	const char *verb;	/* NULL: the object is the command */
	int (*fn)(struct ctl *ctl, int argc, char **argv);
	const char *args;
	const char *help;
	bool needs_maps;
};

/* Errors go to stderr; with -j also as {"error": ...} on stdout so a
 * monitoring script always gets a JSON document. */
static void __attribute__((format(printf, 2, 3)))
ctl_error(struct ctl *ctl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mxg_err("%s", msg);
	if (ctl->json) {
		json_init(&ctl->out, stdout);
		json_begin_object(&ctl->out);
		json_kv_string(&ctl->out, "error", msg);
		json_end_object(&ctl->out);
		json_finish(&ctl->out);
	}
}

static double rate_per_s(uint32_t rate_milli)
{
	return rate_milli / 1000.0;
}

/* A rate as the config writes it: "10/s", "0.5/s" or "off". */
static void format_rate(uint32_t rate_milli, char *buf, size_t len)
{
	if (rate_milli)
		snprintf(buf, len, "%g/s", rate_per_s(rate_milli));
	else
		snprintf(buf, len, "off");
}

static const char *verdict_key[MXG_VERDICT_COUNT] = {
	[MXG_DROP_DENY] = "deny",
	[MXG_DROP_PENALTY] = "penalty",
	[MXG_DROP_TOTAL_CONNS] = "total_conns",
	[MXG_DROP_SOURCE_CONNS] = "source_conns",
	[MXG_DROP_RATE] = "rate",
	[MXG_DROP_NEW_SOURCE] = "new_source",
};

/* The keys of the "rcpt" object, in enum mxg_rcpt_counter's order (the
 * contract's five first). */
static const char *const rcpt_counter_key[MXG_RCPT_COUNTERS] = {
	[MXG_RCPT_KNOWN] = "known",
	[MXG_RCPT_UNKNOWN] = "unknown",
	[MXG_RCPT_FOREIGN] = "foreign",
	[MXG_RCPT_NULL_SENDER] = "null_sender",
	[MXG_RCPT_UNINSPECTABLE] = "uninspectable",
	[MXG_RCPT_NOT_JUDGED] = "not_judged",
	[MXG_RCPT_INVALID] = "invalid",
	[MXG_RCPT_PENALIZED] = "penalized",
	[MXG_RCPT_DROPPED] = "dropped_segments",
	[MXG_RCPT_LOST] = "lost_sessions",
	[MXG_RCPT_OVER_BUDGET] = "over_budget",
};

/* The contract's order of the "dropped" object; later verdicts after. */
static const enum mxg_verdict drop_order[] = {
	MXG_DROP_RATE, MXG_DROP_SOURCE_CONNS, MXG_DROP_TOTAL_CONNS,
	MXG_DROP_DENY, MXG_DROP_PENALTY, MXG_DROP_NEW_SOURCE,
};
_Static_assert(sizeof(drop_order) / sizeof(drop_order[0]) ==
	       MXG_VERDICT_COUNT - MXG_DROP_DENY, "every drop verdict is printed");
#define NDROPS (sizeof(drop_order) / sizeof(drop_order[0]))

/* The classes, or an error said; every command that names classes. */
static int read_classes(struct ctl *ctl, struct mxg_class classes[MXG_MAX_CLASSES])
{
	int ret = mxg_classes_read(&ctl->maps, classes);

	if (ret)
		ctl_error(ctl, "cannot read %s: %s", MXG_MAP_CLASSES, strerror(-ret));
	return ret;
}

/* {"NAME": [ ... ]}: the shape of every list command's JSON. */
static void json_list_begin(struct ctl *ctl, const char *name)
{
	if (!ctl->json)
		return;
	json_begin_object(&ctl->out);
	json_key(&ctl->out, name);
	json_begin_array(&ctl->out);
}

static void json_list_end(struct ctl *ctl)
{
	if (!ctl->json)
		return;
	json_end_array(&ctl->out);
	json_end_object(&ctl->out);
	json_finish(&ctl->out);
}

/* ---- sources: read in batches, the LRU may hold millions ---- */

/* Every key and value of a hash map whose keys are struct mxg_source_key,
 * read BATCH at a time. */
static int batch_read(int fd, size_t vsize, struct mxg_source_key **keys_out,
		      void **vals_out, size_t *n)
{
	struct mxg_source_key *keys = NULL;
	unsigned char *vals = NULL;
	size_t cap = 0, count = 0;
	__u64 in = 0, next = 0;
	bool first = true;
	int ret;

	for (;;) {
		__u32 got = BATCH;

		if (count + BATCH > cap) {
			void *k, *v;

			cap = (count + BATCH) * 2;
			k = realloc(keys, cap * sizeof(*keys));
			v = k ? realloc(vals, cap * vsize) : NULL;
			if (k)
				keys = k;
			if (!k || !v) {
				ret = -ENOMEM;
				break;
			}
			vals = v;
		}
		ret = bpf_map_lookup_batch(fd, first ? NULL : &in, &next,
					   keys + count, vals + count * vsize,
					   &got, NULL);
		if (ret && errno != ENOENT) {
			ret = -errno;
			break;
		}
		count += got;
		if (ret) {	/* ENOENT: that was the last batch */
			ret = 0;
			break;
		}
		in = next;
		first = false;
	}
	if (ret) {
		free(keys);
		free(vals);
		return ret;
	}
	*keys_out = keys;
	*vals_out = vals;
	*n = count;
	return 0;
}

/* One line of `top`: a source's rate state, connections, recipients. */
struct source_row {
	struct mxg_source_key key;
	struct mxg_source rate;
	struct mxg_rcpt_source rcpt;
	uint32_t conns;
};

enum top_by { TOP_RATE, TOP_CONNS, TOP_UNKNOWN };

/* Rows from the map top ranks by, the other maps' figures looked up for
 * each. */
static int rows_read(const struct mxg_maps *m, enum top_by by,
		     struct source_row **out, size_t *n)
{
	static const struct {
		size_t vsize;
		size_t fd_off;
	} from[] = {
		[TOP_RATE] = { sizeof(struct mxg_source), offsetof(struct mxg_maps, sources) },
		[TOP_CONNS] = { sizeof(struct mxg_conn), offsetof(struct mxg_maps, conns) },
		[TOP_UNKNOWN] = { sizeof(struct mxg_rcpt_source), offsetof(struct mxg_maps, rcpt_sources) },
	};
	int fd = *(const int *)((const char *)m + from[by].fd_off);
	struct mxg_source_key *keys;
	struct source_row *rows;
	void *vals;
	size_t count;
	int ret;

	ret = batch_read(fd, from[by].vsize, &keys, &vals, &count);
	if (ret)
		return ret;
	rows = calloc(count ? count : 1, sizeof(*rows));
	if (!rows) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		const void *v = (const char *)vals + i * from[by].vsize;
		struct mxg_conn c = {};

		rows[i].key = keys[i];
		if (by == TOP_RATE)
			memcpy(&rows[i].rate, v, sizeof(rows[i].rate));
		else
			bpf_map_lookup_elem(m->sources, &keys[i], &rows[i].rate);
		if (by == TOP_CONNS)
			memcpy(&c, v, sizeof(c));
		else
			bpf_map_lookup_elem(m->conns, &keys[i], &c);
		rows[i].conns = c.conns;
		if (by == TOP_UNKNOWN)
			memcpy(&rows[i].rcpt, v, sizeof(rows[i].rcpt));
		else
			bpf_map_lookup_elem(m->rcpt_sources, &keys[i], &rows[i].rcpt);
	}
	*out = rows;
	*n = count;
out:
	free(keys);
	free(vals);
	return ret;
}

static void format_source(const struct mxg_source_key *key,
			  const struct mxg_class *cls, char *buf, size_t len)
{
	struct mxg_lpm_key lpm = { .prefixlen = 128 };
	bool v4 = !memcmp(key->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);

	memcpy(lpm.addr, key->addr, MXG_ADDR_LEN);
	if (cls && cls->name[0])
		lpm.prefixlen = v4 ? MXG_V4_MAPPED_BITS + cls->ipv4_prefix :
				     cls->ipv6_prefix;
	mxg_format_cidr(&lpm, buf, len);
}

/* ---- status ---- */

static int count_entries(int fd, size_t key_size)
{
	unsigned char key[64], next[64];
	void *prev = NULL;
	int n = 0;

	if (key_size > sizeof(key))
		return -EINVAL;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

static void format_ports(const struct mxg_maps *m, uint32_t idx, char *buf,
			 size_t len, uint16_t *ports, unsigned *nports)
{
	struct mxg_port p;
	size_t used = 0;

	buf[0] = '\0';
	*nports = 0;
	for (uint32_t port = 1; port < MXG_PORTS; port++) {
		if (bpf_map_lookup_elem(m->ports, &port, &p) || !p.guarded ||
		    p.class_idx != idx)
			continue;
		if (*nports < MXG_MAX_PORTS_PER_CLASS)
			ports[(*nports)++] = port;
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%u",
					 used ? "," : "", port);
	}
}

static const char *sync_mode_name(uint32_t mode)
{
	switch (mode) {
	case MXG_SYNC_SYNCREPL:
		return "syncrepl";
	case MXG_SYNC_POLL:
		return "poll";
	default:
		return "none";
	}
}

/* The readiness record as JSON members (status and rcpt stats). */
static void print_mirror_json(struct json *j, const struct mxg_mirror *rec,
			      uint64_t now)
{
	json_kv_string(j, "mode", sync_mode_name(rec->mode));
	json_kv_bool(j, "ready", mxg_mirror_ready(rec, now));
	json_kv_bool(j, "connected", rec->connected);
	json_kv_u64(j, "entries", rec->entries);
	json_kv_u64(j, "generation", rec->generation);
	json_key(j, "age_s");
	if (rec->synced_ns)
		json_u64(j, (now > rec->synced_ns ? now - rec->synced_ns : 0) / NSEC_PER_SEC);
	else
		json_null(j);
	json_kv_u64(j, "max_age_s", rec->max_age_ns / NSEC_PER_SEC);
	json_kv_u64(j, "skipped", rec->skipped);
}

/* The id of a pinned link, 0 when there is none. */
static uint32_t pinned_link_id(const char *pin_dir, const char *name)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct mxg_link links[MXG_MAX_LINKS];
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);
	struct json *j = &ctl->out;
	int nallow, ndeny, nbans, ret;
	struct mxg_source_key *keys = NULL;
	struct mxg_mirror mirror;
	void *vals = NULL;
	size_t nsrc = 0;
	struct mxg_settings settings = {};
	uint32_t counting, zero = 0;
	bool daemon_running = false;
	struct utsname u = {};
	int lock_fd;

	if (argc) {
		ctl_error(ctl, "status takes no arguments");
		return -EINVAL;
	}
	ret = mxg_links_read(&ctl->maps, links);
	if (!ret)
		ret = mxg_classes_read(&ctl->maps, classes);
	if (!ret)
		ret = mxg_mirror_read(&ctl->maps, &mirror);
	if (!ret)
		ret = batch_read(ctl->maps.sources, sizeof(struct mxg_source),
				 &keys, &vals, &nsrc);
	if (ret) {
		ctl_error(ctl, "cannot read the maps: %s", strerror(-ret));
		return ret;
	}
	free(keys);
	free(vals);
	/* Absent in pins of a version before it: nothing was off then. */
	bpf_map_lookup_elem(ctl->maps.settings, &zero, &settings);
	uname(&u);
	counting = pinned_link_id(ctl->pin_dir, MXG_PIN_SOCKOPS);
	bpf_obj_get_info_by_fd(ctl->maps.sources, &info, &info_len);
	nallow = count_entries(ctl->maps.allow, sizeof(struct mxg_lpm_key));
	ndeny = count_entries(ctl->maps.deny, sizeof(struct mxg_lpm_key));
	nbans = count_entries(ctl->maps.bans, sizeof(struct mxg_lpm_key));
	/* mxguardd holds an exclusive lock on the pin dir while it runs. */
	lock_fd = open(ctl->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd >= 0) {
		daemon_running = flock(lock_fd, LOCK_SH | LOCK_NB) != 0;
		close(lock_fd);
	}

	if (ctl->json) {
		json_begin_object(j);
		json_kv_string(j, "pin_dir", ctl->pin_dir);
		json_kv_bool(j, "daemon", daemon_running);
		json_key(j, "kernel");
		json_begin_object(j);
		json_kv_string(j, "release", u.release);
		json_key(j, "off");
		json_begin_array(j);
		for (unsigned f = 1; f & MXG_FEAT_ALL; f <<= 1)
			if (settings.features_off & f)
				json_string(j, mxg_feature_id(f));
		json_end_array(j);
		json_end_object(j);
		json_key(j, "attached");
		json_begin_array(j);
		for (int s = 0; s < MXG_MAX_LINKS; s++) {
			if (links[s].mode == MXG_LINK_NONE)
				continue;
			json_begin_object(j);
			json_kv_string(j, "interface", links[s].ifname);
			json_kv_u64(j, "ifindex", links[s].ifindex);
			json_kv_string(j, "mode", mxg_link_mode_name(links[s].mode));
			json_kv_string(j, "program",
				       links[s].mode == MXG_LINK_TC ? "mxg_tc" : "mxg_xdp");
			json_kv_u64(j, "prog_id", links[s].prog_id);
			json_kv_bool(j, "smtp_reader", links[s].inspector);
			json_kv_u64(j, "netns", links[s].netns_ino);
			json_end_object(j);
		}
		json_end_array(j);
		json_key(j, "classes");
		json_begin_array(j);
		for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
			uint16_t ports[MXG_MAX_PORTS_PER_CLASS];
			unsigned nports;
			char buf[512];

			if (!classes[c].name[0])
				continue;
			format_ports(&ctl->maps, c, buf, sizeof(buf), ports, &nports);
			json_begin_object(j);
			json_kv_string(j, "name", classes[c].name);
			json_key(j, "ports");
			json_begin_array(j);
			for (unsigned p = 0; p < nports; p++)
				json_u64(j, ports[p]);
			json_end_array(j);
			json_key(j, "new_sources");
			json_double(j, rate_per_s(classes[c].new_sources_milli));
			json_kv_u64(j, "new_sources_burst",
				    classes[c].new_sources_burst);
			json_end_object(j);
		}
		json_end_array(j);
		json_key(j, "counter");
		json_begin_object(j);
		json_kv_bool(j, "attached", counting != 0);
		json_kv_u64(j, "link_id", counting);
		json_end_object(j);
		json_key(j, "sources");
		json_begin_object(j);
		json_kv_u64(j, "tracked", nsrc);
		json_kv_u64(j, "max", info.max_entries);
		json_end_object(j);
		json_key(j, "rules");
		json_begin_object(j);
		json_kv_u64(j, "allow", nallow);
		json_kv_u64(j, "deny", ndeny);
		json_kv_u64(j, "bans", nbans);
		json_end_object(j);
		json_key(j, "tuner");
		json_begin_object(j);
		json_kv_bool(j, "enabled", false);
		json_key(j, "scale");
		json_double(j, 1.0);
		json_end_object(j);
		json_key(j, "mirror");
		json_begin_object(j);
		print_mirror_json(j, &mirror, mxg_now_ns());
		json_end_object(j);
		json_end_object(j);
		json_finish(j);
		return 0;
	}

	printf("pin dir     %s\n", ctl->pin_dir);
	printf("daemon      %s\n", daemon_running ? "running" : "not running");
	printf("kernel      %s", u.release);
	if (!(settings.features_off & MXG_FEAT_ALL))
		printf(": every part loaded\n");
	if (settings.features_off & MXG_FEAT_ALL)
		printf("; off here: %s",
		       mxg_feature_name(settings.features_off));
	printf("%s", settings.features_off & MXG_FEAT_ALL ?
			     " (mxguardd's log says why)\n" : "");
	printf("attached   ");
	ret = 0;
	for (int s = 0; s < MXG_MAX_LINKS; s++) {
		if (links[s].mode == MXG_LINK_NONE)
			continue;
		printf(" %s (%s, prog id %u%s)", links[s].ifname,
		       mxg_link_mode_name(links[s].mode), links[s].prog_id,
		       links[s].inspector ? ", SMTP reader on tc" : "");
		ret++;
	}
	printf("%s\n", ret ? "" : " nowhere");
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		uint16_t ports[MXG_MAX_PORTS_PER_CLASS];
		unsigned nports;
		char buf[512], rate[32];

		if (!classes[c].name[0])
			continue;
		format_ports(&ctl->maps, c, buf, sizeof(buf), ports, &nports);
		format_rate(classes[c].new_sources_milli, rate, sizeof(rate));
		printf("class       %s: ports %s; new sources %s",
		       classes[c].name, nports ? buf : "none", rate);
		if (classes[c].new_sources_milli)
			printf(" burst %u", classes[c].new_sources_burst);
		printf("\n");
	}
	if (counting)
		printf("counter     sock_ops on the cgroup v2 root (link id %u)\n",
		       counting);
	else
		printf("counter     not attached: connections are not counted\n");
	printf("sources     %zu tracked of %u\n", nsrc, info.max_entries);
	printf("rules       allow %d, deny %d, bans %d\n", nallow, ndeny, nbans);
	printf("tuner       off (scale 1.00)\n");
	if (mirror.mode == MXG_SYNC_NONE)
		printf("mirror      off (no [ldap])\n");
	else
		printf("mirror      %s, %llu addresses, generation %llu, %s\n",
		       sync_mode_name(mirror.mode),
		       (unsigned long long)mirror.entries,
		       (unsigned long long)mirror.generation,
		       mxg_mirror_ready(&mirror, mxg_now_ns()) ? "ready" : "not ready");
	return 0;
}

/* ---- stats ---- */

static int cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	struct mxg_stats stats[MXG_MAX_CLASSES + 1];
	struct mxg_class classes[MXG_MAX_CLASSES];
	uint64_t conns[MXG_MAX_CLASSES];
	struct mxg_rcpt_stats rcpt;
	struct json *j = &ctl->out;
	int ret;

	if (argc) {
		ctl_error(ctl, "stats takes no arguments");
		return -EINVAL;
	}
	ret = mxg_classes_read(&ctl->maps, classes);
	if (!ret)
		ret = mxg_stats_read(&ctl->maps, stats);
	if (!ret)
		ret = mxg_class_conns_read(&ctl->maps, conns);
	if (!ret)
		ret = mxg_rcpt_stats_read(&ctl->maps, &rcpt);
	if (ret) {
		ctl_error(ctl, "cannot read the counters: %s", strerror(-ret));
		return ret;
	}

	if (ctl->json) {
		json_begin_object(j);
		json_key(j, "classes");
		json_begin_object(j);
		for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
			const __u64 *n = stats[c].count;

			if (!classes[c].name[0])
				continue;
			json_key(j, classes[c].name);
			json_begin_object(j);
			json_kv_u64(j, "passed", n[MXG_PASS] + n[MXG_PASS_ALLOW]);
			json_kv_u64(j, "allowed", n[MXG_PASS_ALLOW]);
			json_key(j, "dropped");
			json_begin_object(j);
			for (size_t d = 0; d < NDROPS; d++)
				json_kv_u64(j, verdict_key[drop_order[d]],
					    n[drop_order[d]]);
			json_end_object(j);
			json_kv_u64(j, "conns", conns[c]);
			json_end_object(j);
		}
		json_end_object(j);
		json_kv_u64(j, "malformed",
			    stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_MALFORMED]);
		json_kv_u64(j, "fragments",
			    stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_FRAGMENT]);
		json_kv_u64(j, "conns_untracked",
			    stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_CONNS_UNTRACKED]);
		json_kv_u64(j, "bogus_dropped",
			    stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_BOGUS]);
		json_kv_u64(j, "unseen_dropped",
			    stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_UNSEEN_DROPPED]);
		json_kv_u64(j, "new_source_resent",
			    stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_NEW_RESENT]);
		json_key(j, "rcpt");
		json_begin_object(j);
		for (int i = 0; i < MXG_RCPT_COUNTERS; i++)
			json_kv_u64(j, rcpt_counter_key[i], rcpt.count[i]);
		json_end_object(j);
		json_end_object(j);
		json_finish(j);
		return 0;
	}

	printf("%-12s %8s %12s %10s", "class", "conns", "passed", "allowed");
	for (size_t d = 0; d < NDROPS; d++)
		printf(" %12s", verdict_key[drop_order[d]]);
	printf("\n");
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		const __u64 *n = stats[c].count;

		if (!classes[c].name[0])
			continue;
		printf("%-12s %8" PRIu64 " %12" PRIu64 " %10" PRIu64,
		       classes[c].name, conns[c],
		       (uint64_t)(n[MXG_PASS] + n[MXG_PASS_ALLOW]),
		       (uint64_t)n[MXG_PASS_ALLOW]);
		for (size_t d = 0; d < NDROPS; d++)
			printf(" %12" PRIu64, (uint64_t)n[drop_order[d]]);
		printf("\n");
	}
	printf("(conns: established now; after 'allowed': SYNs dropped by reason)\n");
	printf("recipients: ");
	for (int i = 0; i < MXG_RCPT_COUNTERS; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", rcpt_counter_key[i],
		       (uint64_t)rcpt.count[i]);
	printf("\n");
	printf("malformed frames %" PRIu64 ", non-first fragments %" PRIu64
	       ", connections not counted (map full) %" PRIu64 "\n",
	       (uint64_t)stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_MALFORMED],
	       (uint64_t)stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_FRAGMENT],
	       (uint64_t)stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_CONNS_UNTRACKED]);
	printf("dropped: bogus frames %" PRIu64 ", frames out of reach from denied or banned sources %" PRIu64 "\n",
	       (uint64_t)stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_BOGUS],
	       (uint64_t)stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_UNSEEN_DROPPED]);
	printf("new sources admitted when their TCP sent the refused SYN again %" PRIu64 "\n",
	       (uint64_t)stats[MXG_STATS_GLOBAL].count[MXG_GLOBAL_NEW_RESENT]);
	return 0;
}

/* ---- top ---- */

static int by_rate(const void *a, const void *b)
{
	const struct source_row *x = a, *y = b;

	if (x->rate.syns != y->rate.syns)
		return x->rate.syns < y->rate.syns ? 1 : -1;
	return x->rate.drops < y->rate.drops ? 1 : x->rate.drops > y->rate.drops ? -1 : 0;
}

static int by_conns(const void *a, const void *b)
{
	const struct source_row *x = a, *y = b;

	if (x->conns != y->conns)
		return x->conns < y->conns ? 1 : -1;
	return by_rate(a, b);
}

static int by_unknown(const void *a, const void *b)
{
	const struct source_row *x = a, *y = b;

	if (x->rcpt.unknown_total != y->rcpt.unknown_total)
		return x->rcpt.unknown_total < y->rcpt.unknown_total ? 1 : -1;
	return by_rate(a, b);
}

static int cmd_top(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "by", required_argument, NULL, 'b' },
		{}
	};
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct source_row *rows = NULL;
	struct json *j = &ctl->out;
	uint32_t limit = TOP_DEFAULT;
	uint64_t now = mxg_now_ns();
	enum top_by by = TOP_RATE;
	size_t n = 0;
	int opt, ret;

	optind = 0;
	while ((opt = getopt_long(argc + 1, argv - 1, "n:b:", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (mxg_parse_u32(optarg, 1, 1000000, &limit)) {
				ctl_error(ctl, "top -n: '%s' is not a number from 1 to 1000000",
					  optarg);
				return -EINVAL;
			}
			break;
		case 'b':
			if (!strcmp(optarg, "rate")) {
				by = TOP_RATE;
				break;
			}
			if (!strcmp(optarg, "conns")) {
				by = TOP_CONNS;
				break;
			}
			if (!strcmp(optarg, "unknown")) {
				by = TOP_UNKNOWN;
				break;
			}
			ctl_error(ctl, "top --by: '%s' is not one of rate, conns, unknown",
				  optarg);
			return -EINVAL;
		default:
			ctl_error(ctl, "usage: top [-n N] [--by rate|conns|unknown]");
			return -EINVAL;
		}
	}
	if (optind < argc + 1) {
		ctl_error(ctl, "top: unexpected argument '%s'", argv[optind - 1]);
		return -EINVAL;
	}
	ret = mxg_classes_read(&ctl->maps, classes);
	if (!ret)
		ret = rows_read(&ctl->maps, by, &rows, &n);
	if (ret) {
		ctl_error(ctl, "cannot read the sources: %s", strerror(-ret));
		return ret;
	}
	qsort(rows, n, sizeof(*rows), by == TOP_CONNS ? by_conns :
				      by == TOP_UNKNOWN ? by_unknown : by_rate);
	if (n > limit)
		n = limit;

	json_list_begin(ctl, "sources");
	if (!ctl->json)
		printf("%-44s %-8s %8s %10s %10s %10s %10s %9s\n", "source", "class",
		       "conns", "syns", "dropped", "debt_ms", "unknown", "penalties");
	for (size_t i = 0; i < n; i++) {
		const struct mxg_class *cls = rows[i].key.class_idx < MXG_MAX_CLASSES ?
			&classes[rows[i].key.class_idx] : NULL;
		const char *name = cls && cls->name[0] ? cls->name : "?";
		/* How far ahead of now the bucket's TAT is: the time the
		 * source would have to stay quiet to have a full bucket. */
		uint64_t debt = rows[i].rate.tat_ns > now ? rows[i].rate.tat_ns - now : 0;
		char addr[MXG_CIDR_STRLEN];

		format_source(&rows[i].key, cls, addr, sizeof(addr));
		if (ctl->json) {
			json_begin_object(j);
			json_kv_string(j, "source", addr);
			json_kv_string(j, "class", name);
			json_kv_u64(j, "conns", rows[i].conns);
			json_kv_u64(j, "syns", rows[i].rate.syns);
			json_kv_u64(j, "dropped", rows[i].rate.drops);
			json_kv_u64(j, "debt_ms", debt / NSEC_PER_MSEC);
			json_kv_u64(j, "unknown", rows[i].rcpt.unknown_total);
			json_kv_u64(j, "known", rows[i].rcpt.known);
			json_kv_u64(j, "penalties", rows[i].rcpt.penalties);
			json_end_object(j);
		} else {
			printf("%-44s %-8s %8u %10u %10u %10" PRIu64 " %10u %9u\n", addr,
			       name, rows[i].conns, rows[i].rate.syns, rows[i].rate.drops,
			       (uint64_t)(debt / NSEC_PER_MSEC), rows[i].rcpt.unknown_total,
			       rows[i].rcpt.penalties);
		}
	}
	json_list_end(ctl);
	free(rows);
	return 0;
}

/* ---- limit ---- */

static void format_limit(uint32_t v, char *buf, size_t len)
{
	if (v)
		snprintf(buf, len, "%u", v);
	else
		snprintf(buf, len, "unlimited");
}

static void print_class(struct ctl *ctl, const struct mxg_class *cls)
{
	struct json *j = &ctl->out;

	if (ctl->json) {
		json_begin_object(j);
		json_kv_string(j, "name", cls->name);
		json_key(j, "rate");
		json_double(j, rate_per_s(cls->rate_milli));
		json_kv_u64(j, "burst", cls->burst);
		json_kv_u64(j, "source_conns", cls->source_conns);
		json_kv_u64(j, "total_conns", cls->total_conns);
		json_kv_u64(j, "ipv4_prefix", cls->ipv4_prefix);
		json_kv_u64(j, "ipv6_prefix", cls->ipv6_prefix);
		json_key(j, "new_sources");
		json_double(j, rate_per_s(cls->new_sources_milli));
		json_kv_u64(j, "new_sources_burst", cls->new_sources_burst);
		json_end_object(j);
		return;
	}
	char rate[32], new_rate[32], src[16], total[16];

	format_rate(cls->rate_milli, rate, sizeof(rate));
	format_rate(cls->new_sources_milli, new_rate, sizeof(new_rate));
	format_limit(cls->source_conns, src, sizeof(src));
	format_limit(cls->total_conns, total, sizeof(total));
	printf("%-12s rate %s burst %u source_conns %s total_conns %s ipv4_prefix %u ipv6_prefix %u new_sources %s new_sources_burst %u\n",
	       cls->name, rate, cls->burst, src, total, cls->ipv4_prefix,
	       cls->ipv6_prefix, new_rate, cls->new_sources_burst);
}

static int cmd_limit_show(struct ctl *ctl, int argc, char **argv)
{
	struct mxg_class classes[MXG_MAX_CLASSES];
	bool found = false;
	int ret;

	if (argc > 1) {
		ctl_error(ctl, "usage: limit show [CLASS]");
		return -EINVAL;
	}
	ret = read_classes(ctl, classes);
	if (ret)
		return ret;
	json_list_begin(ctl, "classes");
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		if (!classes[c].name[0] ||
		    (argc && strncmp(classes[c].name, argv[0], MXG_CLASS_NAME_LEN)))
			continue;
		found = true;
		print_class(ctl, &classes[c]);
	}
	json_list_end(ctl);
	if (argc && !found) {
		ctl_error(ctl, "no class '%s'", argv[0]);
		return -ENOENT;
	}
	return 0;
}

/* Apply one KEY=VALUE to a class's limits, with the config's parsers. */
static int limit_set_one(struct ctl *ctl, struct mxg_class_config *c,
			 const char *arg)
{
	const char *eq = strchr(arg, '=');
	const char *val = eq ? eq + 1 : NULL;
	size_t klen = eq ? (size_t)(eq - arg) : 0;
	uint32_t v;

#define KEY_IS(k) (klen == strlen(k) && !strncmp(arg, k, klen))
	if (!eq) {
		ctl_error(ctl, "limit set: '%s' is not KEY=VALUE", arg);
		return -EINVAL;
	}
	if (KEY_IS("rate") || KEY_IS("new_sources")) {
		uint32_t *dst = KEY_IS("rate") ? &c->rate_milli :
						 &c->new_sources_milli;

		if (!strcmp(val, "off") || !strcmp(val, "unlimited"))
			*dst = 0;
		else if (mxg_parse_rate(val, dst))
			goto bad;
		return 0;
	}
	if (KEY_IS("burst") || KEY_IS("new_sources_burst")) {
		if (mxg_parse_u32(val, 1, 1000000, KEY_IS("burst") ? &c->burst :
				  &c->new_sources_burst))
			goto bad;
		return 0;
	}
	if (KEY_IS("source_conns") || KEY_IS("total_conns")) {
		if (!strcmp(val, "unlimited"))
			v = 0;
		else if (mxg_parse_u32(val, 1, 1000000, &v))
			goto bad;
		if (KEY_IS("source_conns"))
			c->source_conns = v;
		else
			c->total_conns = v;
		return 0;
	}
	if (KEY_IS("ipv4_prefix")) {
		if (mxg_parse_u32(val, 8, 32, &v))
			goto bad;
		c->ipv4_prefix = v;
		return 0;
	}
	if (KEY_IS("ipv6_prefix")) {
		if (mxg_parse_u32(val, 16, 128, &v))
			goto bad;
		c->ipv6_prefix = v;
		return 0;
	}
	ctl_error(ctl, "limit set: unknown key '%.*s' (keys: rate, burst, source_conns, total_conns, ipv4_prefix, ipv6_prefix, new_sources, new_sources_burst)",
		  (int)klen, arg);
	return -EINVAL;
bad:
	ctl_error(ctl, "limit set: '%s' is not a valid %.*s (see mxguard.conf(5))",
		  val, (int)klen, arg);
	return -EINVAL;
#undef KEY_IS
}

static int cmd_limit_set(struct ctl *ctl, int argc, char **argv)
{
	struct mxg_class_config c;
	struct mxg_class cls;
	uint32_t idx;
	int ret;

	if (argc < 2) {
		ctl_error(ctl, "usage: limit set CLASS KEY=VALUE...");
		return -EINVAL;
	}
	ret = mxg_class_find(&ctl->maps, argv[0], &idx, &cls);
	if (ret) {
		ctl_error(ctl, ret == -ENOENT ? "no class '%s'" : "cannot read class '%s'",
			  argv[0]);
		return ret;
	}
	mxg_class_from_bpf(&cls, &c);
	/* Every argument is checked before the one write, so a bad one
	 * changes nothing. */
	for (int i = 1; i < argc; i++) {
		ret = limit_set_one(ctl, &c, argv[i]);
		if (ret)
			return ret;
	}
	ret = mxg_class_apply(&ctl->maps, idx, &c);
	if (!ret)
		ret = mxg_class_find(&ctl->maps, argv[0], &idx, &cls);
	if (ret) {
		ctl_error(ctl, "cannot write class '%s': %s", argv[0], strerror(-ret));
		return ret;
	}
	if (ctl->json) {
		print_class(ctl, &cls);
		json_finish(&ctl->out);
	} else {
		print_class(ctl, &cls);
	}
	return 0;
}

/* ---- allow / deny ---- */

static int rules_fd(struct ctl *ctl, const char *object)
{
	return !strcmp(object, "allow") ? ctl->maps.allow : ctl->maps.deny;
}

static const char *origin_name(uint32_t origin)
{
	switch (origin) {
	case MXG_ORIGIN_CONFIG:
		return "config";
	case MXG_ORIGIN_CLI:
		return "cli";
	case MXG_ORIGIN_INSPECT:
		return "inspect";
	default:
		return "unknown";
	}
}

/* Parse every argument before changing anything. */
static int parse_cidrs(struct ctl *ctl, int argc, char **argv,
		       struct mxg_lpm_key *keys)
{
	for (int i = 0; i < argc; i++) {
		if (mxg_parse_cidr(argv[i], &keys[i])) {
			ctl_error(ctl, "'%s' is not an address or CIDR (examples: 198.18.0.0/15, 2001:db8::/32, 198.18.0.7)",
				  argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int rule_change(struct ctl *ctl, const char *object, bool add,
		       int argc, char **argv)
{
	struct mxg_lpm_key *keys;
	int fd = rules_fd(ctl, object), ret;

	if (argc < 1) {
		ctl_error(ctl, "usage: %s %s CIDR...", object, add ? "add" : "del");
		return -EINVAL;
	}
	keys = calloc(argc, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	ret = parse_cidrs(ctl, argc, argv, keys);
	for (int i = 0; !ret && i < argc; i++) {
		ret = add ? mxg_rule_add(fd, &keys[i], MXG_ORIGIN_CLI) :
			    mxg_rule_del(fd, &keys[i]);
		if (ret == -ENOENT)
			ctl_error(ctl, "%s is not on the %s list", argv[i], object);
		else if (ret)
			ctl_error(ctl, "cannot %s %s: %s", add ? "add" : "delete",
				  argv[i], strerror(-ret));
	}
	free(keys);
	if (!ret && ctl->json) {
		json_begin_object(&ctl->out);
		json_kv_bool(&ctl->out, "ok", true);
		json_end_object(&ctl->out);
		json_finish(&ctl->out);
	}
	return ret;
}

static int cmd_allow_add(struct ctl *ctl, int argc, char **argv)
{
	return rule_change(ctl, "allow", true, argc, argv);
}

static int cmd_allow_del(struct ctl *ctl, int argc, char **argv)
{
	return rule_change(ctl, "allow", false, argc, argv);
}

static int cmd_deny_add(struct ctl *ctl, int argc, char **argv)
{
	return rule_change(ctl, "deny", true, argc, argv);
}

static int cmd_deny_del(struct ctl *ctl, int argc, char **argv)
{
	return rule_change(ctl, "deny", false, argc, argv);
}

struct list_ctx {
	struct ctl *ctl;
	uint64_t now;
	const struct mxg_class *classes;
};

static int print_rule(const struct mxg_lpm_key *key, const void *value,
		      void *ctx_)
{
	const struct mxg_rule *rule = value;
	struct list_ctx *ctx = ctx_;
	struct json *j = &ctx->ctl->out;
	char cidr[MXG_CIDR_STRLEN];
	uint64_t age = ctx->now > rule->created_ns ?
			       (ctx->now - rule->created_ns) / NSEC_PER_SEC : 0;

	mxg_format_cidr(key, cidr, sizeof(cidr));
	if (ctx->ctl->json) {
		json_begin_object(j);
		json_kv_string(j, "cidr", cidr);
		json_kv_string(j, "origin", origin_name(rule->origin));
		json_kv_u64(j, "age_s", age);
		json_end_object(j);
	} else {
		printf("%-44s %-8s %10" PRIu64 "\n", cidr,
		       origin_name(rule->origin), age);
	}
	return 0;
}

static int rule_list(struct ctl *ctl, const char *object, int argc)
{
	struct list_ctx ctx = { ctl, mxg_now_ns(), NULL };
	int ret;

	if (argc) {
		ctl_error(ctl, "%s list takes no arguments", object);
		return -EINVAL;
	}
	json_list_begin(ctl, object);
	if (!ctl->json)
		printf("%-44s %-8s %10s\n", "cidr", "origin", "age_s");
	ret = mxg_lpm_foreach(rules_fd(ctl, object), sizeof(struct mxg_rule),
			      print_rule, &ctx);
	json_list_end(ctl);
	return ret;
}

static int cmd_allow_list(struct ctl *ctl, int argc, char **argv)
{
	return rule_list(ctl, "allow", argc);
}

static int cmd_deny_list(struct ctl *ctl, int argc, char **argv)
{
	return rule_list(ctl, "deny", argc);
}

/* ---- ban ---- */

static int cmd_ban_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "class", required_argument, NULL, 'c' },
		{}
	};
	struct mxg_lpm_key key;
	struct mxg_class cls;
	uint32_t mask = 0, idx;
	uint64_t ttl = 0;
	int opt, ret;

	optind = 0;
	while ((opt = getopt_long(argc + 1, argv - 1, "t:c:", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (mxg_parse_duration(optarg, NSEC_PER_SEC,
					       366ULL * 86400 * NSEC_PER_SEC, &ttl)) {
				ctl_error(ctl, "ban add --ttl: '%s' is not a duration from 1s to 366d (examples: 600, 10m, 2h)",
					  optarg);
				return -EINVAL;
			}
			break;
		case 'c':
			ret = mxg_class_find(&ctl->maps, optarg, &idx, &cls);
			if (ret) {
				ctl_error(ctl, "ban add --class: no class '%s'", optarg);
				return -ENOENT;
			}
			mask |= 1U << idx;
			break;
		default:
			ctl_error(ctl, "usage: ban add ADDR|CIDR [--ttl DURATION] [--class CLASS]...");
			return -EINVAL;
		}
	}
	if (optind != argc) {
		ctl_error(ctl, "usage: ban add ADDR|CIDR [--ttl DURATION] [--class CLASS]...");
		return -EINVAL;
	}
	ret = parse_cidrs(ctl, 1, &argv[optind - 1], &key);
	if (ret)
		return ret;
	ret = mxg_ban_add(ctl->maps.bans, &key, ttl, mask ? mask : ~0U,
			  MXG_ORIGIN_CLI);
	if (ret) {
		ctl_error(ctl, "cannot ban %s: %s", argv[optind - 1], strerror(-ret));
		return ret;
	}
	if (ctl->json) {
		json_begin_object(&ctl->out);
		json_kv_bool(&ctl->out, "ok", true);
		json_end_object(&ctl->out);
		json_finish(&ctl->out);
	}
	return 0;
}

static int cmd_ban_del(struct ctl *ctl, int argc, char **argv)
{
	struct mxg_lpm_key key;
	int ret;

	if (argc != 1) {
		ctl_error(ctl, "usage: ban del ADDR|CIDR");
		return -EINVAL;
	}
	ret = parse_cidrs(ctl, 1, argv, &key);
	if (ret)
		return ret;
	ret = mxg_rule_del(ctl->maps.bans, &key);
	if (ret) {
		ctl_error(ctl, ret == -ENOENT ? "%s is not banned" : "cannot unban %s",
			  argv[0]);
		return ret;
	}
	if (ctl->json) {
		json_begin_object(&ctl->out);
		json_kv_bool(&ctl->out, "ok", true);
		json_end_object(&ctl->out);
		json_finish(&ctl->out);
	}
	return 0;
}

static void format_class_mask(uint32_t mask, const struct mxg_class *classes,
			      char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (mask == ~0U) {
		snprintf(buf, len, "all");
		return;
	}
	for (int c = 0; c < MXG_MAX_CLASSES && used < len; c++)
		if ((mask & (1U << c)) && classes[c].name[0])
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? "," : "", classes[c].name);
}

static int print_ban(const struct mxg_lpm_key *key, const void *value,
		     void *ctx_)
{
	const struct mxg_ban *ban = value;
	struct list_ctx *ctx = ctx_;
	struct json *j = &ctx->ctl->out;
	char cidr[MXG_CIDR_STRLEN], classes[256];
	int64_t left = -1;

	/* Expired bans no longer apply; the daemon sweeps them. */
	if (ban->expires_ns && ban->expires_ns <= ctx->now)
		return 0;
	if (ban->expires_ns)
		left = (ban->expires_ns - ctx->now + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
	mxg_format_cidr(key, cidr, sizeof(cidr));
	format_class_mask(ban->class_mask, ctx->classes, classes, sizeof(classes));
	if (ctx->ctl->json) {
		json_begin_object(j);
		json_kv_string(j, "cidr", cidr);
		json_kv_string(j, "classes", classes);
		json_kv_string(j, "reason", origin_name(ban->origin));
		json_key(j, "expires_in_s");
		if (left < 0)
			json_null(j);
		else
			json_i64(j, left);
		json_end_object(j);
	} else if (left < 0) {
		printf("%-44s %-16s %-8s %12s\n", cidr, classes,
		       origin_name(ban->origin), "never");
	} else {
		printf("%-44s %-16s %-8s %11" PRId64 "s\n", cidr, classes,
		       origin_name(ban->origin), left);
	}
	return 0;
}

static int cmd_ban_list(struct ctl *ctl, int argc, char **argv)
{
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct list_ctx ctx = { ctl, mxg_now_ns(), classes };
	int ret;

	if (argc) {
		ctl_error(ctl, "ban list takes no arguments");
		return -EINVAL;
	}
	ret = read_classes(ctl, classes);
	if (ret)
		return ret;
	json_list_begin(ctl, "bans");
	if (!ctl->json)
		printf("%-44s %-16s %-8s %12s\n", "cidr", "classes", "reason",
		       "expires_in");
	ret = mxg_lpm_foreach(ctl->maps.bans, sizeof(struct mxg_ban), print_ban,
			      &ctx);
	json_list_end(ctl);
	return ret;
}

/* ---- rcpt ---- */

static int cmd_rcpt_check(struct ctl *ctl, int argc, char **argv)
{
	struct mxg_rcpt_answer ans;
	struct json *j = &ctl->out;
	const char *why = "";
	int ret;

	if (argc != 1) {
		ctl_error(ctl, "usage: rcpt check ADDRESS");
		return -EINVAL;
	}
	ret = mxg_rcpt_check(&ctl->maps, argv[0], &ans, &why);
	if (ret == -EINVAL) {
		ctl_error(ctl, "'%s' is not an address the mirror can hold: %s",
			  argv[0], why);
		return ret;
	}
	if (ret) {
		ctl_error(ctl, "cannot read the recipient mirror: %s", strerror(-ret));
		return ret;
	}
	if (ctl->json) {
		json_begin_object(j);
		json_kv_string(j, "address", ans.normalized);
		json_kv_bool(j, "known", ans.known);
		json_kv_bool(j, "local_domain", ans.local_domain);
		json_kv_bool(j, "mirror_ready", ans.ready);
		json_end_object(j);
		json_finish(j);
		return 0;
	}
	printf("%s: %s%s%s\n", ans.normalized,
	       ans.known ? "known" : ans.local_domain ? "unknown" : "not a local domain",
	       ans.known && !ans.local_domain ? " (but not in a local domain)" : "",
	       ans.ready ? "" : " (mirror not ready: nobody is judged by it)");
	return 0;
}

static int cmd_rcpt_stats(struct ctl *ctl, int argc, char **argv)
{
	struct json *j = &ctl->out;
	struct mxg_mirror rec;
	uint64_t now = mxg_now_ns();
	bool ready;
	int domains, ret;

	if (argc) {
		ctl_error(ctl, "rcpt stats takes no arguments");
		return -EINVAL;
	}
	ret = mxg_mirror_read(&ctl->maps, &rec);
	if (ret) {
		ctl_error(ctl, "cannot read %s: %s", MXG_MAP_MIRROR, strerror(-ret));
		return ret;
	}
	ready = mxg_mirror_ready(&rec, now);
	domains = count_entries(ctl->maps.rcpt_domains, sizeof(uint64_t));
	if (ctl->json) {
		json_begin_object(j);
		print_mirror_json(j, &rec, now);
		json_kv_u64(j, "domains", domains < 0 ? 0 : domains);
		json_end_object(j);
		json_finish(j);
		return 0;
	}
	printf("mode        %s\n", sync_mode_name(rec.mode));
	printf("ready       %s\n", ready ? "yes" : "no (nobody is judged by it)");
	printf("connected   %s\n", rec.connected ? "yes" : "no");
	printf("entries     %llu\n", (unsigned long long)rec.entries);
	printf("generation  %llu\n", (unsigned long long)rec.generation);
	if (rec.synced_ns)
		printf("synced      %llu s ago (not ready past %llu s)\n",
		       (unsigned long long)((now > rec.synced_ns ? now - rec.synced_ns : 0) / NSEC_PER_SEC),
		       (unsigned long long)(rec.max_age_ns / NSEC_PER_SEC));
	else
		printf("synced      never\n");
	printf("skipped     %llu directory values that are not addresses\n",
	       (unsigned long long)rec.skipped);
	printf("domains     %d local\n", domains);
	return 0;
}

/* ---- unload ---- */

static int cmd_unload(struct ctl *ctl, int argc, char **argv)
{
	int lock_fd, failed, ret;

	if (argc) {
		ctl_error(ctl, "unload takes no arguments");
		return -EINVAL;
	}
	/* A running mxguardd would re-attach on its next reload: stop it
	 * first, so that unload means unloaded. */
	lock_fd = open(ctl->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB)) {
		close(lock_fd);
		ctl_error(ctl, "mxguardd is running on %s: stop it first",
			  ctl->pin_dir);
		return -EBUSY;
	}
	failed = mxg_detach_all(&ctl->maps, ctl->pin_dir);
	if (!failed && mxg_counter_detach(ctl->pin_dir))
		failed = 1;
	if (failed) {
		if (lock_fd >= 0)
			close(lock_fd);
		ctl_error(ctl, "%d attachment(s) could not be detached; pins kept",
			  failed < 0 ? 1 : failed);
		return -EIO;
	}
	mxg_maps_close(&ctl->maps);
	ret = mxg_unpin_all(ctl->pin_dir);
	if (lock_fd >= 0)
		close(lock_fd);
	if (ret) {
		ctl_error(ctl, "cannot remove %s: %s", ctl->pin_dir, strerror(-ret));
		return ret;
	}
	if (ctl->json) {
		json_begin_object(&ctl->out);
		json_kv_bool(&ctl->out, "ok", true);
		json_end_object(&ctl->out);
		json_finish(&ctl->out);
	} else {
		printf("detached and unpinned %s\n", ctl->pin_dir);
	}
	return 0;
}

/* ---- the table ---- */

static int cmd_help(struct ctl *ctl, int argc, char **argv);

static const struct command commands[] = {
	{ "status", NULL, cmd_status, "", "where it is attached, classes, sources, rules", true },
	{ "stats", NULL, cmd_stats, "", "verdicts per class and reason", true },
	{ "top", NULL, cmd_top, "[-n N] [--by rate|conns|unknown]", "the busiest sources", true },
	{ "limit", "show", cmd_limit_show, "[CLASS]", "a class's limits", true },
	{ "limit", "set", cmd_limit_set, "CLASS KEY=VALUE...", "change limits (rate, burst, source_conns, total_conns, ipv4_prefix, ipv6_prefix, new_sources, new_sources_burst)", true },
	{ "allow", "add", cmd_allow_add, "CIDR...", "never limit these sources", true },
	{ "allow", "del", cmd_allow_del, "CIDR...", "remove from the allow list", true },
	{ "allow", "list", cmd_allow_list, "", "the allow list, with each entry's origin", true },
	{ "deny", "add", cmd_deny_add, "CIDR...", "drop every SYN from these sources", true },
	{ "deny", "del", cmd_deny_del, "CIDR...", "remove from the deny list", true },
	{ "deny", "list", cmd_deny_list, "", "the deny list, with each entry's origin", true },
	{ "ban", "add", cmd_ban_add, "ADDR|CIDR [--ttl DURATION] [--class CLASS]...", "put a source in the penalty box", true },
	{ "ban", "del", cmd_ban_del, "ADDR|CIDR", "take a source out of the penalty box", true },
	{ "ban", "list", cmd_ban_list, "", "bans in force, with time left", true },
	{ "rcpt", "check", cmd_rcpt_check, "ADDRESS", "is it a valid recipient, per the mirror", true },
	{ "rcpt", "stats", cmd_rcpt_stats, "", "the recipient mirror: entries, age, sync mode", true },
	{ "unload", NULL, cmd_unload, "", "detach everything and remove the pins", true },
	{ "help", NULL, cmd_help, "", "this help", false },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mxguardctl [-j] [-p] [-v] [--pin-dir DIR] OBJECT [COMMAND] [ARGS]\n"
		"  -j, --json       JSON output\n"
		"  -p, --pretty     JSON output (kept for bpftool habits; same as -j)\n"
		"  --pin-dir DIR    where mxguardd pinned its maps (default %s)\n"
		"  -v, --verbose    also show libbpf's log\n\n",
		MXG_DEFAULT_PIN_DIR);
	/* One line per command, its help on the next: the docs test reads
	 * the command lines (lower-case words are object and verb, the
	 * arguments are upper-case or bracketed). */
	for (size_t i = 0; i < NCOMMANDS; i++) {
		fprintf(out, "  %s%s%s%s%s\n", commands[i].object,
			commands[i].verb ? " " : "",
			commands[i].verb ? commands[i].verb : "",
			commands[i].args[0] ? " " : "", commands[i].args);
		if (commands[i].help[0])
			fprintf(out, "      %s\n", commands[i].help);
	}
}

static int cmd_help(struct ctl *ctl, int argc, char **argv)
{
	usage(stdout);
	return 0;
}

/* Unambiguous prefix match: an exact name wins, else exactly one prefix. */
static int match(const char *word, const char *const *names, size_t n)
{
	int found = -1;

	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(word, names[i]))
			return i;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || strncmp(word, names[i], strlen(word)))
			continue;
		if (found >= 0 && strcmp(names[found], names[i]))
			return -2;	/* ambiguous */
		if (found < 0)
			found = i;
	}
	return found;
}

static const struct command *lookup(struct ctl *ctl, int *argc, char ***argv)
{
	const char *names[NCOMMANDS];
	const char *object;
	int i;

	for (size_t k = 0; k < NCOMMANDS; k++)
		names[k] = commands[k].object;
	i = match((*argv)[0], names, NCOMMANDS);
	if (i < 0) {
		ctl_error(ctl, "%s object '%s' (try mxguardctl help)",
			  i == -2 ? "ambiguous" : "unknown", (*argv)[0]);
		return NULL;
	}
	object = commands[i].object;
	(*argc)--;
	(*argv)++;
	if (!commands[i].verb)
		return &commands[i];
	if (!*argc) {
		ctl_error(ctl, "%s needs a command (try mxguardctl help)", object);
		return NULL;
	}
	for (size_t k = 0; k < NCOMMANDS; k++)
		names[k] = strcmp(commands[k].object, object) ? NULL : commands[k].verb;
	i = match((*argv)[0], names, NCOMMANDS);
	if (i < 0) {
		ctl_error(ctl, "%s command '%s %s' (try mxguardctl help)",
			  i == -2 ? "ambiguous" : "unknown", object, (*argv)[0]);
		return NULL;
	}
	(*argc)--;
	(*argv)++;
	return &commands[i];
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct ctl ctl = { .pin_dir = MXG_DEFAULT_PIN_DIR,
			   .maps = MXG_MAPS_INIT };
	const struct command *cmd;
	char err[512];
	int opt, ret;

	mxg_prog_name = "mxguardctl";
	/* '+': stop at the object, so that command options stay theirs. */
	while ((opt = getopt_long(argc, argv, "+jpvh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
		case 'p':
			ctl.json = true;
			break;
		case 'd':
			ctl.pin_dir = optarg;
			break;
		case 'v':
			mxg_verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	mxg_log_setup_libbpf();
	json_init(&ctl.out, stdout);
	argc -= optind;
	argv += optind;
	if (!argc) {
		usage(stderr);
		return 2;
	}
	cmd = lookup(&ctl, &argc, &argv);
	if (!cmd)
		return 2;
	if (cmd->needs_maps) {
		ret = mxg_maps_open(ctl.pin_dir, &ctl.maps, err, sizeof(err));
		if (ret) {
			ctl_error(&ctl, "%s", err);
			return 1;
		}
	}
	ret = cmd->fn(&ctl, argc, argv);
	mxg_maps_close(&ctl.maps);
	return ret ? 1 : 0;
}

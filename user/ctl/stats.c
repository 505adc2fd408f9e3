/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mxguardctl stats and top: the counters (verdicts per class and reason,
 * frames that could not be judged, what the SMTP reader counted) and the
 * busiest sources.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "ctl/ctl.h"
#include "names.h"
#include "parse.h"

/* ---- stats ---- */

/* Everything stats prints, read before either printer runs. */
struct counters {
	struct mxg_stats stats[MXG_MAX_CLASSES + 1];
	struct mxg_class classes[MXG_MAX_CLASSES];
	uint64_t conns[MXG_MAX_CLASSES];
	struct mxg_rcpt_stats rcpt;
};

static void stats_print_json(struct ctl *ctl, const struct counters *s)
{
	const __u64 *global = s->stats[MXG_STATS_GLOBAL].count;
	struct json *j = &ctl->out;

	json_begin_object(j);
	json_key(j, "classes");
	json_begin_object(j);
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		const __u64 *n = s->stats[c].count;

		if (!s->classes[c].name[0])
			continue;
		json_key(j, s->classes[c].name);
		json_begin_object(j);
		json_kv_u64(j, "passed", n[MXG_PASS] + n[MXG_PASS_ALLOW]);
		json_kv_u64(j, "allowed", n[MXG_PASS_ALLOW]);
		json_key(j, "dropped");
		json_begin_object(j);
		for (size_t d = 0; d < MXG_NDROPS; d++)
			json_kv_u64(j, mxg_verdict_names[mxg_drop_order[d]],
				    n[mxg_drop_order[d]]);
		json_end_object(j);
		json_kv_u64(j, "conns", s->conns[c]);
		json_end_object(j);
	}
	json_end_object(j);
	json_kv_u64(j, "malformed", global[MXG_GLOBAL_MALFORMED]);
	json_kv_u64(j, "fragments", global[MXG_GLOBAL_FRAGMENT]);
	json_kv_u64(j, "conns_untracked", global[MXG_GLOBAL_CONNS_UNTRACKED]);
	json_kv_u64(j, "bogus_dropped", global[MXG_GLOBAL_BOGUS]);
	json_kv_u64(j, "unseen_dropped", global[MXG_GLOBAL_UNSEEN_DROPPED]);
	json_kv_u64(j, "new_source_resent", global[MXG_GLOBAL_NEW_RESENT]);
	json_key(j, "rcpt");
	json_begin_object(j);
	for (int i = 0; i < MXG_RCPT_COUNTERS; i++)
		json_kv_u64(j, mxg_rcpt_counter_names[i], s->rcpt.count[i]);
	json_end_object(j);
	json_end_object(j);
	json_finish(j);
}

static void stats_print_text(struct ctl *ctl, const struct counters *s)
{
	const __u64 *global = s->stats[MXG_STATS_GLOBAL].count;

	printf("%-12s %8s %12s %10s", "class", "conns", "passed", "allowed");
	for (size_t d = 0; d < MXG_NDROPS; d++)
		printf(" %12s", mxg_verdict_names[mxg_drop_order[d]]);
	printf("\n");
	for (uint32_t c = 0; c < MXG_MAX_CLASSES; c++) {
		const __u64 *n = s->stats[c].count;

		if (!s->classes[c].name[0])
			continue;
		printf("%-12s %8" PRIu64 " %12" PRIu64 " %10" PRIu64,
		       s->classes[c].name, s->conns[c],
		       (uint64_t)(n[MXG_PASS] + n[MXG_PASS_ALLOW]),
		       (uint64_t)n[MXG_PASS_ALLOW]);
		for (size_t d = 0; d < MXG_NDROPS; d++)
			printf(" %12" PRIu64, (uint64_t)n[mxg_drop_order[d]]);
		printf("\n");
	}
	printf("(conns: established now; after 'allowed': SYNs dropped by reason)\n");
	printf("recipients: ");
	for (int i = 0; i < MXG_RCPT_COUNTERS; i++)
		printf("%s%s %" PRIu64, i ? ", " : "", mxg_rcpt_counter_names[i],
		       (uint64_t)s->rcpt.count[i]);
	printf("\n");
	printf("malformed frames %" PRIu64 ", non-first fragments %" PRIu64
	       ", connections not counted (map full) %" PRIu64 "\n",
	       (uint64_t)global[MXG_GLOBAL_MALFORMED],
	       (uint64_t)global[MXG_GLOBAL_FRAGMENT],
	       (uint64_t)global[MXG_GLOBAL_CONNS_UNTRACKED]);
	printf("dropped: bogus frames %" PRIu64 ", frames out of reach from denied or banned sources %" PRIu64 "\n",
	       (uint64_t)global[MXG_GLOBAL_BOGUS],
	       (uint64_t)global[MXG_GLOBAL_UNSEEN_DROPPED]);
	printf("new sources admitted when their TCP sent the refused SYN again %" PRIu64 "\n",
	       (uint64_t)global[MXG_GLOBAL_NEW_RESENT]);
}

int ctl_stats(struct ctl *ctl, const struct ctl_args *a)
{
	struct counters s;
	int ret;

	ret = mxg_classes_read(&ctl->maps, s.classes);
	if (!ret)
		ret = mxg_stats_read(&ctl->maps, s.stats);
	if (!ret)
		ret = mxg_class_conns_read(&ctl->maps, s.conns);
	if (!ret)
		ret = mxg_rcpt_stats_read(&ctl->maps, &s.rcpt);
	if (ret) {
		ctl_error(ctl, "stats: cannot read the counters: %s", strerror(-ret));
		return ret;
	}
	(ctl->json ? stats_print_json : stats_print_text)(ctl, &s);
	return 0;
}

/* ---- top ---- */

/* One line of `top`: a source's rate state, connections, recipients. */
struct source_row {
	struct mxg_source_key key;
	struct mxg_source rate;
	struct mxg_rcpt_source rcpt;
	uint32_t conns;
	/* What the printers show, filled once for both. */
	char source[MXG_CIDR_STRLEN];
	const char *class_name;
	uint64_t debt_ms;
};

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

	ret = ctl_batch_read(fd, from[by].vsize, &keys, &vals, &count);
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

/* A source as the prefix its class aggregates by. */
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

static void top_print_json(struct ctl *ctl, const struct source_row *rows,
			   size_t n)
{
	struct json *j = &ctl->out;

	ctl_json_list_begin(ctl, "sources");
	for (size_t i = 0; i < n; i++) {
		const struct source_row *r = &rows[i];

		json_begin_object(j);
		json_kv_string(j, "source", r->source);
		json_kv_string(j, "class", r->class_name);
		json_kv_u64(j, "conns", r->conns);
		json_kv_u64(j, "syns", r->rate.syns);
		json_kv_u64(j, "dropped", r->rate.drops);
		json_kv_u64(j, "debt_ms", r->debt_ms);
		json_kv_u64(j, "unknown", r->rcpt.unknown_total);
		json_kv_u64(j, "known", r->rcpt.known);
		json_kv_u64(j, "penalties", r->rcpt.penalties);
		json_end_object(j);
	}
	ctl_json_list_end(ctl);
}

static void top_print_text(struct ctl *ctl, const struct source_row *rows,
			   size_t n)
{
	printf("%-44s %-8s %8s %10s %10s %10s %10s %9s\n", "source", "class",
	       "conns", "syns", "dropped", "debt_ms", "unknown", "penalties");
	for (size_t i = 0; i < n; i++) {
		const struct source_row *r = &rows[i];

		printf("%-44s %-8s %8u %10u %10u %10" PRIu64 " %10u %9u\n",
		       r->source, r->class_name, r->conns, r->rate.syns,
		       r->rate.drops, r->debt_ms, r->rcpt.unknown_total,
		       r->rcpt.penalties);
	}
}

int ctl_top(struct ctl *ctl, const struct ctl_args *a)
{
	struct mxg_class classes[MXG_MAX_CLASSES];
	struct source_row *rows = NULL;
	uint64_t now = mxg_now_ns();
	size_t n = 0;
	int ret;

	ret = mxg_classes_read(&ctl->maps, classes);
	if (!ret)
		ret = rows_read(&ctl->maps, a->by, &rows, &n);
	if (ret) {
		ctl_error(ctl, "top: cannot read the sources: %s", strerror(-ret));
		return ret;
	}
	qsort(rows, n, sizeof(*rows), a->by == TOP_CONNS ? by_conns :
				      a->by == TOP_UNKNOWN ? by_unknown : by_rate);
	if (n > a->number)
		n = a->number;
	for (size_t i = 0; i < n; i++) {
		struct source_row *r = &rows[i];
		const struct mxg_class *cls = r->key.class_idx < MXG_MAX_CLASSES ?
			&classes[r->key.class_idx] : NULL;

		format_source(&r->key, cls, r->source, sizeof(r->source));
		r->class_name = cls && cls->name[0] ? cls->name : "?";
		/* How far ahead of now the bucket's TAT is: the time the
		 * source would have to stay quiet to have a full bucket. */
		r->debt_ms = (r->rate.tat_ns > now ? r->rate.tat_ns - now : 0) /
			     NSEC_PER_MSEC;
	}
	(ctl->json ? top_print_json : top_print_text)(ctl, rows, n);
	free(rows);
	return 0;
}
